// The worker-hosted API keeps the caller's thread free: its event loop stays
// responsive while a chat generates, an abort returns at once and the chat
// goes on, and disposed models give their memory back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadModel } from '../runtime/api/index.js';
import { writeTinyModel } from './helpers/browser-model.js';

const tiny = await writeTinyModel();
test.after(() => tiny.cleanup());

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects garbage until RSS stops falling (terminated workers' memory is freed as their threads end). */
async function settle(): Promise<void> {
  let last = Infinity;
  for (let i = 0; i < 20; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
    const rss = process.memoryUsage().rss;
    if (i >= 3 && rss >= last - 256 * 1024) return;
    last = rss;
  }
}

test('the caller\'s event loop delay stays under 20 ms at p99 while a chat generates 200 tokens', async () => {
  const model = await loadModel(tiny.path, { threads: 2 });
  try {
    const chat = await model.createChat({ chatTemplate: 'completion', contextSize: 512, ignoreEos: true, seed: 5 });
    const h = monitorEventLoopDelay({ resolution: 1 });
    // the caller keeps doing its own work meanwhile: it must not be starved
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    h.enable();
    const t0 = performance.now();
    const reply = chat.send('Once upon a time', { maxTokens: 200 });
    let pieces = 0;
    for await (const _ of reply) pieces++;
    const ms = performance.now() - t0;
    h.disable();
    clearInterval(timer);
    const r = await reply.result;
    assert.is(r.usage.generatedTokens, 200);
    const p99 = h.percentile(99) / 1e6;
    const max = h.max / 1e6;
    console.log(`  200 tokens in ${ms.toFixed(0)} ms (${r.usage.tokensPerSecond.toFixed(0)} tokens/s, ${pieces} text pieces); ` +
      `caller's event loop delay p50 ${(h.percentile(50) / 1e6).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${max.toFixed(2)} ms; ${ticks} timer ticks`);
    assert.ok(p99 < 20, `p99 event loop delay ${p99.toFixed(2)} ms`);
    assert.ok(ticks >= Math.floor(ms / 5 / 3), `the caller's 5 ms timer ran ${ticks} times in ${ms.toFixed(0)} ms`);
  } finally {
    await model.dispose();
  }
});

test('aborting mid-reply returns within 100 ms, keeps the partial reply, and the next send works', async () => {
  // one thread: an abort lands between tokens, and on a busy 2-core machine two spinning threads
  // make a token of this tiny model take tens of ms, which is not what is measured here
  const model = await loadModel(tiny.path, { threads: 1 });
  try {
    const chat = await model.createChat({ chatTemplate: 'chatml', contextSize: 2048, ignoreEos: true, seed: 9 });
    const ac = new AbortController();
    const reply = chat.send('Tell me a long story', { maxTokens: 1500, signal: ac.signal });
    let pieces = 0;
    let t0 = 0;
    let loopEnded = 0;
    for await (const _ of reply) {
      if (++pieces === 10) {
        t0 = performance.now();
        ac.abort();
      }
    }
    loopEnded = performance.now() - t0;
    const r = await reply.result;
    const ms = performance.now() - t0;
    assert.is(r.stop, 'aborted');
    assert.ok(r.usage.generatedTokens >= 10 && r.usage.generatedTokens < 1500, `stopped early: ${r.usage.generatedTokens} tokens`);
    assert.ok(ms < 100, `result after the abort in ${ms.toFixed(1)} ms`);
    console.log(`  abort after 10 pieces: the stream ended in ${loopEnded.toFixed(1)} ms, the result came in ${ms.toFixed(1)} ms (${r.usage.generatedTokens} tokens kept)`);
    assert.is(chat.history.at(-1)?.content, r.text, 'the partial reply is in the history');

    const next = chat.send('Go on', { maxTokens: 8 });
    let text = '';
    for await (const piece of next) text += piece;
    const r2 = await next.result;
    assert.is(r2.stop, 'max-tokens');
    assert.is(r2.usage.generatedTokens, 8);
    assert.ok(r2.usage.reusedTokens > r.usage.generatedTokens, 'the next turn reuses the aborted one from the KV cache');
    assert.is(text, r2.text);
    assert.is(chat.history.length, 4);

    // leaving the loop early (break) stops the reply too
    const third = chat.send('More', { maxTokens: 1000 });
    for await (const _ of third) break;
    assert.is((await third.result).stop, 'aborted');
    // a signal aborted before sending: nothing is generated
    const pre = new AbortController();
    pre.abort();
    assert.is((await chat.send('ignored', { signal: pre.signal }).result).stop, 'aborted');
    await chat.reset();
    assert.is(chat.history.length, 0);
  } finally {
    await model.dispose();
  }
});

test('loading, chatting with and disposing 20 models in a row leaves memory flat', async () => {
  const mb = (n: number) => n / 1024 ** 2;
  const usage = () => {
    const u = process.memoryUsage();
    return { rss: mb(u.rss), external: mb(u.external) };
  };
  const samples: { rss: number; external: number }[] = [];
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) {
    const model = await loadModel(tiny.path, { threads: 2 });
    const chat = await model.createChat({ chatTemplate: 'completion', contextSize: 4096 });
    await chat.send('Hi', { maxTokens: 4 }).result;
    await model.dispose();
    assert.ok(model.disposed);
    if (i === 4 || i === 19) {
      await settle();
      samples.push(usage());
    }
  }
  const [after5, after20] = samples as [{ rss: number; external: number }, { rss: number; external: number }];
  const grew = { rss: after20.rss - after5.rss, external: after20.external - after5.external };
  console.log(`  20 models in ${((performance.now() - t0) / 1000).toFixed(1)} s; after 5: rss ${after5.rss.toFixed(0)} MB, external ${after5.external.toFixed(1)} MB; ` +
    `after 20: rss ${after20.rss.toFixed(0)} MB, external ${after20.external.toFixed(1)} MB (each model: 2 workers, ${(1.5 + 4).toFixed(1)} MB of weights + KV cache)`);
  // a model kept alive costs ~23 MB here (2 isolates + its WASM memory): a leak of 15 would be hundreds of MB
  assert.ok(grew.rss < 64, `rss grew ${grew.rss.toFixed(1)} MB over 15 models`);
  assert.ok(grew.external < 8, `external memory grew ${grew.external.toFixed(1)} MB over 15 models`);
});

test.run();
