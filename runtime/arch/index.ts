// general.architecture -> its Architecture: the graph builder and the
// tensors its files hold. Adding an architecture is one file in this folder
// and one line here.
import { bert } from './bert.js';
import { deepseek2 } from './deepseek2.js';
import type { Architecture } from './declare.js';
import { ernie4_5, ernie4_5moe } from './ernie4_5.js';
import { falcon } from './falcon.js';
import { gemma, gemma2, gemma3 } from './gemma.js';
import { gemma3n } from './gemma3n.js';
import { glm4moe } from './glm4moe.js';
import { gpt2 } from './gpt2.js';
import { gptneox } from './gptneox.js';
import { gptOss } from './gpt-oss.js';
import { granite, granitemoe } from './granite.js';
import { granitehybrid } from './granitehybrid.js';
import { lfm2 } from './lfm2.js';
import { llama } from './llama.js';
import { llama4 } from './llama4.js';
import { mistral3 } from './mistral3.js';
import { olmo2 } from './olmo2.js';
import { phi2 } from './phi2.js';
import { phi3 } from './phi3.js';
import { qwen2, qwen2moe, qwen3, qwen3moe } from './qwen.js';
import { qwen35, qwen35moe, qwen3next } from './qwen3next.js';
import { smollm3 } from './smollm3.js';
import { stablelm } from './stablelm.js';
import { starcoder2 } from './starcoder2.js';

export type { Architecture } from './declare.js';

export const ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  llama, // Mixtral too: a llama file with expert_count
  qwen2,
  qwen3,
  qwen2moe,
  qwen3moe,
  'gpt-oss': gptOss,
  granite,
  granitemoe,
  gemma,
  gemma2,
  gemma3,
  gemma3n,
  olmo2,
  phi3,
  phi2,
  gpt2,
  stablelm,
  gptneox,
  starcoder2,
  falcon,
  smollm3,
  mistral3,
  ernie4_5,
  'ernie4_5-moe': ernie4_5moe,
  lfm2,
  granitehybrid,
  qwen3next,
  qwen35,
  qwen35moe,
  deepseek2,
  glm4moe,
  llama4,
  bert, // encoders: model.embed(), no LM head
  'nomic-bert': bert,
};

/** The architecture of `name`, if we run it (an own property: "constructor" is not an architecture). */
export function architectureOf(name: unknown): Architecture | undefined {
  return typeof name === 'string' && Object.hasOwn(ARCHITECTURES, name) ? ARCHITECTURES[name] : undefined;
}

export function supportedArchitectures(): string[] {
  return Object.keys(ARCHITECTURES).sort();
}
