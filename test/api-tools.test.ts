// Functions on the worker-hosted API (runtime/api): the handlers run on the
// caller's thread (the host worker sends each call over, the client runs the
// handler and sends the result back), and a reply with a forced call equals
// the in-thread core's token for token: the same arguments, the same history,
// the same KV-cache ids. A handler that throws reaches the model as an error
// text; aborting while a handler runs stops the reply.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isMainThread } from 'node:worker_threads';
import { loadModel, type ChatFunction } from '../runtime/api/index.js';
import { ChatSession, JinjaChatTemplate, templateTokens } from '../runtime/chat/index.js';
import { loadModel as loadCore } from '../runtime/index.js';
import { validate } from './helpers/json-schema-validate.js';
import { TOOL_TEMPLATES } from './helpers/tool-templates.js';
import { writeTinyModel } from './helpers/browser-model.js';

const tiny = await writeTinyModel();
test.after(() => tiny.cleanup());

const QWEN = TOOL_TEMPLATES.find((t) => t.format === 'hermes')!.source;
const SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string', maxLength: 10 }, days: { type: 'integer', minimum: 1, maximum: 7 } },
  required: ['city', 'days'],
};

function weather(log: { args: Record<string, unknown>; main: boolean }[], fail = false): Record<string, ChatFunction> {
  return {
    get_weather: {
      description: 'Weather forecast', parameters: SCHEMA,
      handler: async (args) => {
        log.push({ args, main: isMainThread });
        await new Promise((r) => setTimeout(r, 5));
        if (fail) throw new Error('the weather service is down');
        return { temperature: 21 };
      },
    },
  };
}

const CHOICE = { type: 'function', function: { name: 'get_weather' } } as const;

test("a forced call through the worker: the handler runs on the caller's thread; arguments, history and cache equal the core's", async () => {
  const core = await loadCore(tiny.path);
  const ctx = core.createContext({ contextSize: 2048, threads: 1 });
  const coreLog: { args: Record<string, unknown>; main: boolean }[] = [];
  const template = new JinjaChatTemplate(QWEN, templateTokens(core.tokenizer));
  const s = new ChatSession(core, ctx, { template, functions: weather(coreLog), temp: 0.8, seed: 21, maxTokens: 120 });
  const coreReply = await s.reply('Weather in Rome?', { toolChoice: CHOICE, maxToolRounds: 1 });
  const coreTokens = s.cachedTokens;
  const coreHistory = s.messages;
  ctx.dispose();
  core.dispose();

  const model = await loadModel(tiny.path, { threads: 1 });
  try {
    const log: { args: Record<string, unknown>; main: boolean }[] = [];
    const chat = await model.createChat({ chatTemplate: QWEN, functions: weather(log), contextSize: 2048, temperature: 0.8, seed: 21, maxTokens: 120 });
    const reply = chat.send('Weather in Rome?', { toolChoice: CHOICE, maxToolRounds: 1 });
    let streamed = '';
    for await (const piece of reply) streamed += piece;
    const r = await reply.result;
    assert.is(log.length, 1, 'the handler ran once');
    assert.ok(log[0]!.main, "the handler ran on the caller's thread");
    assert.is(validate(SCHEMA, log[0]!.args), '', JSON.stringify(log[0]!.args));
    assert.equal(log[0]!.args, coreLog[0]!.args, 'the same arguments as the core');
    assert.equal(r.toolCalls, [{ name: 'get_weather', arguments: log[0]!.args, result: '{"temperature":21}' }]);
    assert.is(r.text, coreReply.text);
    assert.is(streamed, r.text, 'the text answer streamed');
    const strip = (h: readonly { role: string; tool_calls?: unknown; tool_call_id?: string }[]) => h.map((m) => ({ ...m, tool_calls: m.tool_calls ? 'calls' : undefined, tool_call_id: m.tool_call_id ? 'id' : undefined }));
    assert.equal(strip(chat.history), strip(coreHistory), 'the same conversation (call ids are random)');
    assert.equal(chat.history.map((m) => m.role), ['user', 'assistant', 'tool', 'assistant']);
    const tokens = await chat.contextTokens();
    // Qwen's template does not print call ids, so the random ids leave the cache's ids equal
    assert.ok(tokens.length > 100);
    assert.equal(tokens, coreTokens, "the KV cache holds the core's ids");
    await chat.dispose();
  } finally {
    await model.dispose();
  }
});

test('a handler that throws: the model reads the error text, the caller gets a notice; aborting during a handler stops the reply', async () => {
  const model = await loadModel(tiny.path, { threads: 1 });
  try {
    const log: { args: Record<string, unknown>; main: boolean }[] = [];
    const chat = await model.createChat({ chatTemplate: QWEN, functions: weather(log, true), contextSize: 2048, temperature: 0.8, seed: 5, maxTokens: 150 });
    const r = await chat.send('Weather?', { toolChoice: CHOICE, maxToolRounds: 1 }).result;
    assert.is(log.length, 1);
    assert.equal(r.toolCalls.map((c) => c.result), ['Error: the weather service is down']);
    assert.ok(r.notices.some((n) => n.includes('the weather service is down')), r.notices.join('; '));
    assert.is(chat.history.find((m) => m.role === 'tool')!.content, 'Error: the weather service is down');
    await chat.dispose();

    const ac = new AbortController();
    let started!: () => void;
    const called = new Promise<void>((r) => (started = r));
    const hang = await model.createChat({
      chatTemplate: QWEN, contextSize: 2048, temperature: 0.8, seed: 5, maxTokens: 150,
      functions: { get_weather: { parameters: SCHEMA, handler: () => { started(); return new Promise(() => {}); } } },
    });
    const pending = hang.send('Weather?', { toolChoice: CHOICE, signal: ac.signal });
    await called;
    ac.abort();
    const res = await pending.result;
    assert.is(res.stop, 'aborted');
    await hang.dispose();
  } finally {
    await model.dispose();
  }
});

test.run();
