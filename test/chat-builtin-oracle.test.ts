// The built-in chat formats against llama.cpp's own llm_chat_apply_template
// (llama_chat_apply_template in node-llama-cpp's libllama, through koffi):
// every format by its llama.cpp name renders the same text for the same
// messages, with and without the assistant's opening, with and without a
// system message, with a tool's result; and a template's text (the published
// ones, gpt-oss's harmony, Granite 3.x / 4.0 markers) detects as the format
// llama.cpp picks for that text. Skips with a message when the library or
// koffi is missing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_TEMPLATES, detectTemplate } from '../runtime/chat/builtin.js';
import type { ChatMessage } from '../runtime/chat/index.js';
import { openNodeLlamaCppLibrary } from './helpers/native-lib.js';
import { PUBLISHED_TEMPLATES } from './helpers/chat-templates.js';
import { REPO_ROOT } from './helpers/shared.js';

const opened = await openNodeLlamaCppLibrary('llama');

function conversation(withSystem: boolean): ChatMessage[] {
  const turns: ChatMessage[] = [
    { role: 'user', content: 'What is the capital of France?' },
    { role: 'assistant', content: '  Paris. ' },
    { role: 'user', content: 'And of Italy?\nAnswer in one word.' },
  ];
  return withSystem ? [{ role: 'system', content: 'You are terse.' }, ...turns] : turns;
}

/** A turn with a tool's result (the C API carries role and content only; the call itself is the assistant's text). */
const WITH_TOOL: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Weather in Paris?' },
  { role: 'assistant', content: '{"name": "get_weather", "arguments": {"city": "Paris"}}' },
  { role: 'tool', tool_call_id: 'abc123XYZ', content: '{"temperature": 21}' },
  { role: 'assistant', content: 'It is 21 degrees.' },
  { role: 'user', content: '' },
];

if (typeof opened === 'string') {
  test('built-in chat formats vs llama.cpp (skipped)', () => {
    console.log(`  skipped: ${opened}`);
  });
} else {
  const { koffi, library } = opened;
  const lib = koffi.load(library);
  const Message = koffi.struct('llama_chat_message_oracle', { role: 'const char *', content: 'const char *' });
  const apply = lib.func('llama_chat_apply_template', 'int32_t', ['const char *', koffi.pointer(Message), 'size_t', 'bool', 'uint8_t *', 'int32_t']);

  /** llama.cpp's rendering of `messages` in its built-in format `name`. */
  function llamaCpp(name: string, messages: ChatMessage[], addAss: boolean): string {
    const chat = messages.map((m) => ({ role: m.role, content: m.content }));
    let buf = new Uint8Array(4096);
    let n = apply(name, chat, chat.length, addAss, buf, buf.length) as number;
    if (n > buf.length) {
      buf = new Uint8Array(n);
      n = apply(name, chat, chat.length, addAss, buf, buf.length) as number;
    }
    if (n < 0) throw new Error(`llama.cpp does not know the template "${name}"`);
    return new TextDecoder().decode(buf.subarray(0, n));
  }

  // the formats this file was written for; the others are compared too, in the loop below
  for (const name of ['deepseek2', 'chatglm4', 'llama4', 'gpt-oss', 'granite', 'granite-4.0']) {
    test(`${name}: a built-in format here`, () => {
      assert.ok(BUILTIN_TEMPLATES[name], `${name} is built in`);
    });
  }

  for (const name of Object.keys(BUILTIN_TEMPLATES)) {
    test(`built-in "${name}" renders as llama.cpp's llm_chat_apply_template`, () => {
      for (const withSystem of [false, true]) {
        for (const addAss of [false, true]) {
          const msgs = conversation(withSystem);
          assert.is(BUILTIN_TEMPLATES[name]!(msgs, addAss), llamaCpp(name, msgs, addAss), `system: ${withSystem}, assistant opening: ${addAss}`);
        }
      }
    });
  }

  // a tool's result: written as a role of its own, or left out, as llama.cpp does per format
  for (const name of Object.keys(BUILTIN_TEMPLATES)) {
    test(`built-in "${name}": a conversation with a tool result renders as llama.cpp's`, () => {
      for (const addAss of [false, true]) assert.is(BUILTIN_TEMPLATES[name]!(WITH_TOOL, addAss), llamaCpp(name, WITH_TOOL, addAss), `assistant opening: ${addAss}`);
    });
  }

  test("a template's text detects as the format llama.cpp detects it as (its markers)", () => {
    const gptOss = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'chat-templates', 'openai-gpt-oss-120b.jinja'), 'utf8');
    const sources = [
      ...PUBLISHED_TEMPLATES.map((t) => t.source), gptOss,
      // Granite 3.x and 4.0 templates, cut to the markers llama.cpp tells them apart by
      "{{ '<|start_of_role|>' + message['role'] + '<|end_of_role|>' + message['content'] + '<|end_of_text|>' }}",
      "{{ '<|start_of_role|>system<|end_of_role|>You may call tools:\\n<tools>' }}{{ '<|start_of_role|>' + message['role'] + '<|end_of_role|>' }}",
    ];
    const seen = new Set<string>();
    for (const source of sources) {
      const name = detectTemplate(source);
      assert.ok(name, source.slice(0, 60));
      seen.add(name!);
      // llama.cpp given the template text itself picks its format by the same markers
      for (const msgs of [conversation(true), WITH_TOOL]) assert.is(BUILTIN_TEMPLATES[name!]!(msgs, true), llamaCpp(source, msgs, true), `${name}: ${source.slice(0, 60)}`);
    }
    for (const name of ['gpt-oss', 'granite', 'granite-4.0']) assert.ok(seen.has(name), name);
  });
}

test.run();
