// A model's chat template is code from the file: rendering it is bounded in
// steps, time and output size (runtime/chat/jinja-limits.ts). A template past
// a limit is a ChatTemplateError naming the limit, in the core API, the CLI's
// chat and the worker-hosted API (whose host worker lives on); the chat uses
// a built-in format instead only when asked to.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { loadModel as loadHosted } from '../runtime/api/index.js';
import { ChatSession, ChatTemplateError, JinjaChatTemplate, resolveChatTemplate } from '../runtime/chat/index.js';
import { loadModel } from '../runtime/model.js';
import { LLAMA3_8B_INSTRUCT } from './helpers/chat-templates.js';
import { REPO_ROOT } from './helpers/shared.js';

const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'template-limits-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

// each looks like ChatML (its markers), so the asked-for fallback has a format to fall back to
const RANGE = '{% for i in range(100000000) %}<|im_start|>{{ i }}<|im_end|>{% endfor %}';
const NESTED = '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}<|im_start|>{% endfor %}';
const DOUBLING = '{% set ns = namespace(s="<|im_start|>") %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}';
const TOKENS = { bosToken: '<s>', eosToken: '</s>' };
const CONVERSATION = [{ role: 'user' as const, content: 'hi' }];

function rendering(source: string): { err: unknown; ms: number } {
  const t0 = performance.now();
  try {
    new JinjaChatTemplate(source, TOKENS).render(CONVERSATION);
    return { err: undefined, ms: performance.now() - t0 };
  } catch (err) {
    return { err, ms: performance.now() - t0 };
  }
}

test('core: range(1e8), nested loops and a doubling string each stop at a named limit, quickly', () => {
  // the nested loops reach their 1e6 steps in about a second on a quiet machine; a busy one may reach the 5 s first
  const cases: Array<[string, string, RegExp, RegExp]> = [
    ['range(1e8)', RANGE, /^output$/, /output limit of 1,000,000 list items/],
    ['nested loops', NESTED, /^(steps|time)$/, /limit of 1,000,000 evaluation steps|time limit of 5,000 ms/],
    ['doubling string', DOUBLING, /^output$/, /output limit of 16,777,216 characters/],
  ];
  for (const [what, source, limit, message] of cases) {
    const { err, ms } = rendering(source);
    assert.instance(err, ChatTemplateError, what);
    assert.match(String((err as ChatTemplateError).limit), limit, what);
    assert.match((err as Error).message, message, what);
    // generous: without the limits each runs for minutes or exhausts memory
    assert.ok(ms < 15_000, `${what}: ${ms.toFixed(0)} ms`);
    console.log(`  ${what}: ${(err as Error).message} after ${ms.toFixed(0)} ms`);
  }
  // the time limit: a template within its steps but past its time
  const slow = new JinjaChatTemplate(NESTED, TOKENS, 'slow', { maxSteps: Infinity, maxMs: 200 });
  assert.throws(() => slow.render(CONVERSATION), (e: unknown) => e instanceof ChatTemplateError && e.limit === 'time' && /time limit of 200 ms/.test(e.message));
  // real templates stay far inside the limits: 1000 messages of Llama 3
  const long = Array.from({ length: 1000 }, (_, i) => ({ role: i % 2 ? 'assistant' as const : 'user' as const, content: `message ${i}` }));
  const text = new JinjaChatTemplate(LLAMA3_8B_INSTRUCT, TOKENS).render(long);
  assert.ok(text.includes('message 999<|eot_id|>'));
  // and a lower limit is one they reach
  assert.throws(() => new JinjaChatTemplate(LLAMA3_8B_INSTRUCT, TOKENS, 'x', { maxSteps: 10_000 }).render(long), /10,000 evaluation steps/);
});

test('core: the file\'s template past a limit is an error; the built-in format only when asked (fallback)', () => {
  const tokenizer = { tokenToPiece: () => '', bosId: undefined, eosId: undefined, vocab: { tokenToId: new Map() }, type: 'spm' };
  const info = { get: (k: string) => (k === 'tokenizer.chat_template' ? RANGE : undefined), tokenizer: tokenizer as never };
  assert.throws(() => resolveChatTemplate(info), (e: unknown) => e instanceof ChatTemplateError && e.limit === 'output' && /the model's template: .*output limit/.test(e.message));
  const fb = resolveChatTemplate(info, { fallback: true });
  assert.is(fb.kind, 'builtin');
  assert.is(fb.name, 'chatml');
  assert.match(fb.origin, 'ran into a limit');
  // a template that merely fails to render still falls back as before (not a limit)
  const broken = resolveChatTemplate({ ...info, get: (k: string) => (k === 'tokenizer.chat_template' ? '{{ raise_exception("no") }}<|im_start|>' : undefined) });
  assert.is(broken.name, 'chatml');
});

test('a chat whose template runs into a limit as the conversation grows: the error, and the conversation as it was', async () => {
  const path = await modelWith('session.gguf', '{{ messages[-1].content }}');
  const model = await loadModel(path);
  const ctx = model.createContext({ contextSize: 256, threads: 1 });
  try {
    // cheap for one message, past 10,000 steps from the second
    const source = '{% if messages|length > 1 %}{% for i in range(100000) %}{% endfor %}{% endif %}{{ messages[-1].content }}';
    const template = new JinjaChatTemplate(source, TOKENS, 'test', { maxSteps: 10_000 });
    const s = new ChatSession(model, ctx, { template, maxTokens: 2, seed: 1 });
    await s.reply('hello');
    const before = s.messages;
    const tokens = s.cachedTokens;
    const err = await s.reply('again').then(() => undefined, (e: unknown) => e);
    assert.instance(err, ChatTemplateError);
    assert.is((err as ChatTemplateError).limit, 'steps');
    assert.equal(s.messages, before);
    assert.equal(s.cachedTokens, tokens);
  } finally {
    ctx.dispose();
    model.dispose();
  }
});

const modelWith = async (name: string, template: string): Promise<string> => {
  const path = join(tmp, name);
  await writeGGUF(path, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q8_0, {
    seed: 3, extraKV: [{ key: 'tokenizer.chat_template', value: template }],
  }));
  return path;
};

test('core API: loadModel + resolveChatTemplate on a file whose template loops 1e8 times', async () => {
  const path = await modelWith('core.gguf', RANGE);
  const model = await loadModel(path);
  try {
    const info = { get: (k: string) => model.gguf.metadata.get(k), tokenizer: model.tokenizer };
    assert.throws(() => resolveChatTemplate(info), (e: unknown) => e instanceof ChatTemplateError && e.limit === 'output');
  } finally {
    model.dispose();
  }
});

test('CLI chat, piped: a template that fails only on a longer conversation costs that message, not the chat', async () => {
  // ChatML, until the conversation holds a third user message (past the probe resolving it renders): then range(1e8)
  const LATE = '{% if messages|length > 3 %}{% for i in range(100000000) %}{{ i }}{% endfor %}{% endif %}'
    + '{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n';
  const path = await modelWith('late.gguf', LATE);
  const r = spawnSync(process.execPath, [CLI, path, '-n', '3', '-t', '1', '--seed', '1'], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' }, input: 'first\nsecond\nthird\n/stats\n',
  });
  assert.is(r.signal, null, 'ended by itself');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /message not sent: .*output limit of 1,000,000 list items.*conversation so far is kept/);
  // the first two exchanges stay; the failed message did not join them, and /stats still ran after it
  assert.match(r.stderr, /context: \d+\/\d+ tokens · 4 messages/);
});

test('CLI chat: the file\'s range(1e8) template ends with the limit named; --chat-template-fallback chats in ChatML', async () => {
  const path = await modelWith('cli.gguf', RANGE);
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' }, input: '',
  });
  const r = run([path, '-p', 'hi', '-n', '4', '-t', '1']);
  assert.is(r.signal, null, 'ended by itself');
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /output limit of 1,000,000 list items/);
  const fb = run([path, '-p', 'hi', '-n', '4', '-t', '1', '--seed', '1', '--chat-template-fallback']);
  assert.is(fb.status, 0, fb.stderr);
  assert.match(fb.stderr, /chat template: chatml \(built-in; the model's template ran into a limit/);
});

test('worker API: createChat rejects with a ChatTemplateError naming the limit, and the host worker chats on', async () => {
  const path = await modelWith('hosted.gguf', RANGE);
  const model = await loadHosted(path, { threads: 1 });
  try {
    const err = await model.createChat().then(() => undefined, (e: unknown) => e);
    assert.instance(err, ChatTemplateError);
    assert.is((err as ChatTemplateError).limit, 'output');
    assert.match((err as Error).message, /output limit of 1,000,000 list items/);
    const err2 = await model.createChat({ chatTemplate: DOUBLING }).then(() => undefined, (e: unknown) => e);
    assert.is((err2 as ChatTemplateError).limit, 'output');
    assert.match((err2 as Error).message, /16,777,216 characters/);
    // the same worker: a chat with the fallback asked for, then one with a built-in template
    const fb = await model.createChat({ chatTemplateFallback: true, maxTokens: 3, seed: 1 });
    assert.match(fb.template, /^chatml \(.*ran into a limit/);
    const reply = fb.send('hello');
    for await (const _ of reply) { /* stream */ }
    assert.ok((await reply.result).usage.promptTokens > 0);
  } finally {
    await model.dispose();
  }
});

test.run();
