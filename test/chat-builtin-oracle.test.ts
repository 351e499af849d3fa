// The built-in chat formats against llama.cpp's own llm_chat_apply_template
// (llama_chat_apply_template in node-llama-cpp's libllama, through koffi):
// every format by its llama.cpp name renders the same text for the same
// messages, with and without the assistant's opening, with and without a
// system message. Skips with a message when the library or koffi is missing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILTIN_TEMPLATES } from '../runtime/chat/builtin.js';
import type { ChatMessage } from '../runtime/chat/index.js';
import { openNodeLlamaCppLibrary } from './helpers/native-lib.js';

const opened = await openNodeLlamaCppLibrary('llama');

function conversation(withSystem: boolean): ChatMessage[] {
  const turns: ChatMessage[] = [
    { role: 'user', content: 'What is the capital of France?' },
    { role: 'assistant', content: '  Paris. ' },
    { role: 'user', content: 'And of Italy?\nAnswer in one word.' },
  ];
  return withSystem ? [{ role: 'system', content: 'You are terse.' }, ...turns] : turns;
}

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
  for (const name of ['deepseek2', 'chatglm4', 'llama4']) {
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
}

test.run();
