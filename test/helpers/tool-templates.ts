// Chat templates with tool support, as models publish them (tokenizer_config.json's
// chat_template; copies in test/fixtures/chat-templates, taken from llama.cpp's
// models/templates collection), with each model's special-token strings and
// the call format llama.cpp's chat layer detects for it.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PHI35_MINI_INSTRUCT } from './chat-templates.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'chat-templates');

export interface ToolTemplate {
  model: string;
  source: string;
  bos: string;
  eos: string;
  format: 'hermes' | 'llama3' | 'mistral' | 'mistral-args' | 'gpt-oss' | 'generic';
}

const read = (f: string) => readFileSync(join(dir, f), 'utf8');

export const TOOL_TEMPLATES: readonly ToolTemplate[] = [
  { model: 'Qwen/Qwen2.5-7B-Instruct', source: read('Qwen-Qwen2.5-7B-Instruct.jinja'), bos: '', eos: '<|im_end|>', format: 'hermes' },
  { model: 'meta-llama/Llama-3.2-3B-Instruct', source: read('meta-llama-Llama-3.2-3B-Instruct.jinja'), bos: '<|begin_of_text|>', eos: '<|eot_id|>', format: 'llama3' },
  { model: 'mistralai/Mistral-Nemo-Instruct-2407', source: read('mistralai-Mistral-Nemo-Instruct-2407.jinja'), bos: '<s>', eos: '</s>', format: 'mistral' },
  { model: 'mistralai/Devstral-Small-2507', source: read('unsloth-mistral-Devstral-Small-2507.jinja'), bos: '<s>', eos: '</s>', format: 'mistral-args' },
  { model: 'openai/gpt-oss-120b', source: read('openai-gpt-oss-120b.jinja'), bos: '<|startoftext|>', eos: '<|return|>', format: 'gpt-oss' },
  { model: 'microsoft/Phi-3.5-mini-instruct (no tool support)', source: PHI35_MINI_INSTRUCT, bos: '<s>', eos: '<|endoftext|>', format: 'generic' },
];
