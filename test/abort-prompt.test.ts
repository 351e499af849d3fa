// Abort reaches a prompt: it is evaluated in ubatches with the event loop free
// between them (Sequence.appendAsync), so an abort lands before the next
// ubatch instead of after the whole batch; an already-aborted signal runs
// nothing; an aborted turn leaves the conversation as it was. The mechanism
// is asserted (ubatches run after the abort: none); the latency is printed,
// not asserted, as a busy machine makes any time bound flaky.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModel as loadHosted } from '../runtime/api/index.js';
import { CompletionTemplate } from '../runtime/chat/index.js';
import { ChatSession } from '../runtime/chat/session.js';
import type { Context } from '../runtime/context.js';
import { loadModel, type Model } from '../runtime/model.js';
import { writeTinyModel } from './helpers/browser-model.js';

const tiny = await writeTinyModel();
test.after(() => tiny.cleanup());
const model: Model = await loadModel(tiny.path);
test.after(() => model.dispose());

/** Text of at least n tokens (one extra word per missing token until it is). */
function promptOf(n: number): string {
  let words = 100;
  for (;;) {
    const text = Array.from({ length: words }, (_, i) => ['the', 'cat', 'sat', 'on', 'a', 'mat'][i % 6]).join(' ');
    if (model.tokenize(text).length >= n) return text;
    words += 4;
  }
}
const PROMPT = promptOf(400);

/** Counts the graph runs of a context (its ubatches) and lets a test act after each. */
function spy(ctx: Context, after?: (calls: number, tokens: number) => void): { calls: number; sizes: number[] } {
  const seen = { calls: 0, sizes: [] as number[] };
  // every graph run of the context goes through runRows (runtime/batch.ts)
  const c = ctx as unknown as { runRows: (rows: { tokens: Int32Array }) => Float32Array };
  const run = c.runRows.bind(ctx);
  c.runRows = (rows) => {
    const out = run(rows);
    seen.calls++;
    seen.sizes.push(rows.tokens.length);
    after?.(seen.calls, rows.tokens.length);
    return out;
  };
  return seen;
}

test('chat session: an abort during a 400-token prompt stops it after the ubatch in flight; the conversation is as it was', async () => {
  const ctx = model.createContext({ contextSize: 1024, threads: 1 });
  try {
    const s = new ChatSession(model, ctx, { template: new CompletionTemplate('test'), maxTokens: 4, seed: 2, temp: 0 });
    await s.reply('Hello');
    const before = s.messages;
    const cached = s.cachedTokens;
    const ac = new AbortController();
    let abortedAt = 0;
    const seen = spy(ctx, (calls) => {
      if (calls === 1) {
        abortedAt = performance.now();
        ac.abort();
      }
    });
    const stats = await s.reply(PROMPT, { signal: ac.signal });
    const latency = performance.now() - abortedAt;
    assert.is(stats.stop, 'aborted');
    assert.is(seen.calls, 1, 'no ubatch runs after the abort');
    assert.ok(seen.sizes[0]! < 400, `the prompt was split: its first ubatch held ${seen.sizes[0]} tokens`);
    assert.is(stats.generatedTokens, 0);
    assert.equal(s.messages, before, 'the conversation is as it was');
    assert.equal(s.cachedTokens.slice(0, cached.length), cached, 'the cache still starts with the previous turns');
    console.log(`  abort during the prompt: ${seen.sizes[0]} of ${model.tokenize(PROMPT).length} tokens ran; the reply ended ${latency.toFixed(1)} ms after the abort`);

    // the conversation goes on as if the aborted turn never was: the same reply a fresh session gives
    const calls = seen.calls;
    const next = await s.reply(PROMPT);
    assert.is(next.stop, 'max-tokens');
    assert.ok(seen.calls - calls >= 2, `a whole prompt runs in several ubatches (${seen.sizes.slice(calls).join(', ')})`);
    const ctx2 = model.createContext({ contextSize: 1024, threads: 1 });
    try {
      const fresh = new ChatSession(model, ctx2, { template: new CompletionTemplate('test'), maxTokens: 4, seed: 2, temp: 0 });
      await fresh.reply('Hello');
      const again = await fresh.reply(PROMPT);
      assert.is(next.text, again.text);
      assert.equal(s.messages, fresh.messages);
    } finally {
      ctx2.dispose();
    }

    // an already-aborted signal: nothing runs, nothing is recorded
    const runs = seen.calls;
    const msgs = s.messages;
    const done = new AbortController();
    done.abort();
    const none = await s.reply('ignored', { signal: done.signal });
    assert.is(none.stop, 'aborted');
    assert.is(none.generatedTokens + none.promptTokens, 0);
    assert.is(seen.calls, runs, 'no graph ran');
    assert.equal(s.messages, msgs);
  } finally {
    ctx.dispose();
  }
});

test('completion (context.generate): an already-aborted signal evaluates nothing; an abort during the prompt yields no text', async () => {
  const ctx = model.createContext({ contextSize: 1024, threads: 1 });
  try {
    const done = new AbortController();
    done.abort();
    const seen = spy(ctx);
    let text = '';
    for await (const piece of ctx.generate(PROMPT, { signal: done.signal, maxTokens: 4 })) text += piece;
    assert.is(text, '');
    assert.is(seen.calls, 0);
    assert.is(ctx.position, 0);

    const ac = new AbortController();
    const seen2 = spy(ctx, (calls) => calls === 2 && ac.abort());
    for await (const piece of ctx.generate(PROMPT, { signal: ac.signal, maxTokens: 4 })) text += piece;
    assert.is(text, '');
    assert.is(seen2.calls, 2, 'no ubatch after the abort');
    assert.is(ctx.position, seen2.sizes[0]! + seen2.sizes[1]!);
  } finally {
    ctx.dispose();
  }
});

test('worker API: an already-aborted send generates nothing and records no turn; an abort during a long prompt keeps the history', async () => {
  const hosted = await loadHosted(tiny.path, { threads: 1 });
  try {
    const chat = await hosted.createChat({ chatTemplate: 'chatml', contextSize: 1024, seed: 1, maxTokens: 3 });
    const first = chat.send('Hello');
    for await (const _ of first) { /* stream */ }
    const history = chat.history;
    const tokens = await chat.contextTokens();
    const pre = new AbortController();
    pre.abort();
    const r = await chat.send('ignored', { signal: pre.signal }).result;
    assert.is(r.stop, 'aborted');
    assert.is(r.usage.generatedTokens, 0);
    assert.is(r.text, '');
    assert.equal(chat.history, history, 'no turn recorded');
    assert.equal(await chat.contextTokens(), tokens, 'nothing evaluated');

    // abort as soon as the prompt starts: the caller's thread is free, the host sees it between ubatches
    const ac = new AbortController();
    const reply = chat.send(PROMPT, { signal: ac.signal, maxTokens: 50 });
    setTimeout(() => ac.abort(), 1);
    const t0 = performance.now();
    const r2 = await reply.result;
    if (r2.usage.generatedTokens === 0) {
      assert.is(r2.stop, 'aborted');
      assert.equal(chat.history, history, 'an abort during the prompt leaves the history as it was');
    }
    console.log(`  worker API: abort 1 ms into a ${PROMPT.split(' ').length}-word prompt: ${r2.stop}, ${r2.usage.generatedTokens} tokens, result ${(performance.now() - t0).toFixed(0)} ms after sending`);
  } finally {
    await hosted.dispose();
  }
});

test.run();
