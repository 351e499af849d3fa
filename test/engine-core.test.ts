// The engine core's contracts: any thread count gives the bits of one thread;
// sequences of one context behave as separate contexts and reuse their
// prefixes; a long chat keeps the plan cache and the WebAssembly memory
// bounded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { BuiltinChatTemplate, ChatSession } from '../runtime/chat/index.js';
import { loadModel, UnsupportedError, type Context, type Model } from '../runtime/index.js';
import { mulberry32 } from './helpers/rng.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-core-'));
const shape = LLAMA_SHAPES['test-tiny']!;
// Q4_K: the matmuls run the relaxed four-row kernels on repacked weights,
// the path where a thread's share of rows is most intricate.
const path = join(dir, 'tiny-q4_k.gguf');
await writeGGUF(path, llamaModelSpec(shape, GGMLType.Q4_K, { seed: 5 }));
const model: Model = await loadModel(path);
test.after(() => {
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const rng = mulberry32(1234);
const randomTokens = (n: number) => Array.from({ length: n }, () => 1 + Math.floor(rng() * (shape.n_vocab - 1)));

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.is(a.length, b.length, `${what}: lengths`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) assert.unreachable(`${what}: element ${i} differs (${a[i]} vs ${b[i]})`);
  }
}

/** Every position's logits of a prompt longer than one batch, then four decoded tokens' logits. */
function run(threads: number, prompt: number[], decode: number[]): Float32Array[] {
  const ctx = model.createContext({ contextSize: 128, batchSize: 32, threads });
  try {
    const out = [ctx.evaluate(prompt, { allLogits: true })];
    for (const t of decode) out.push(ctx.evaluate([t]));
    return out;
  } finally {
    ctx.dispose();
  }
}

test('17, 33 and 64 threads give the logits of 1 thread, for a prompt (two batches) and for decode', async () => {
  const prompt = randomTokens(45);
  const decode = randomTokens(4);
  const one = run(1, prompt, decode);
  for (const threads of [17, 33, 64]) {
    const many = run(threads, prompt, decode);
    one.forEach((l, i) => sameBits(many[i]!, l, `${threads} threads, ${i === 0 ? 'prompt' : `decode ${i}`}`));
  }
});

test('threads outside 1..256 are a RangeError before anything is allocated', () => {
  for (const threads of [0, 257, 1.5]) assert.throws(() => model.createContext({ threads }), (e: unknown) => e instanceof RangeError && /threads/.test((e as Error).message));
});

test('two sequences of one context, used alternately, give the logits of two contexts; reused counts the shared prefix', () => {
  const shared = model.createContext({ contextSize: 96, sequences: 2, threads: 2 });
  const refA = model.createContext({ contextSize: 96, threads: 2 });
  const refB = model.createContext({ contextSize: 96, threads: 2 });
  try {
    const a = shared.createSequence();
    const b = shared.createSequence();
    assert.throws(() => shared.createSequence(), /all 2 sequences/);
    const sa = refA.sequence;
    const sb = refB.sequence;
    const pa = randomTokens(30);
    const pb = [...pa.slice(0, 10), ...randomTokens(25)]; // the same first 10 tokens: nothing leaks across sequences
    const steps: { seq: 'a' | 'b'; tokens: number[]; reused: number }[] = [
      { seq: 'a', tokens: pa, reused: 0 },
      { seq: 'b', tokens: pb, reused: 0 },
      { seq: 'a', tokens: [...pa, ...randomTokens(5)], reused: 30 },
      { seq: 'b', tokens: [...pb.slice(0, 20), ...randomTokens(3)], reused: 20 },
      // the whole list again: all but the last token reused (its logits are the answer)
      { seq: 'b', tokens: [...pb.slice(0, 20)], reused: 19 },
      { seq: 'a', tokens: [...pa.slice(0, 12), ...randomTokens(40)], reused: 12 },
    ];
    const last = { a: [] as number[], b: [] as number[] };
    steps.forEach((s, i) => {
      const [mine, ref] = s.seq === 'a' ? [a, sa] : [b, sb];
      const got = mine.evaluate(s.tokens, { allLogits: true });
      const want = ref.evaluate(s.tokens, { allLogits: true });
      assert.is(got.reused, s.reused, `step ${i}: reused`);
      assert.is(want.reused, s.reused, `step ${i}: reused (own context)`);
      sameBits(got.logits, want.logits, `step ${i} (${s.seq})`);
      assert.equal(mine.tokens, s.tokens, `step ${i}: the sequence holds the list`);
      last[s.seq] = s.tokens;
    });
    assert.equal(a.tokens, last.a);
    // a disposed sequence gives its cells back
    b.dispose();
    assert.throws(() => b.evaluate([1]), RangeError);
    const c = shared.createSequence();
    assert.is(c.position, 0);
    assert.is(c.slot, 1);
  } finally {
    shared.dispose();
    refA.dispose();
    refB.dispose();
  }
});

test("sequence.truncate keeps a prefix; evaluating after it equals a fresh evaluation", () => {
  const ctx = model.createContext({ contextSize: 64, sequences: 2, threads: 1 });
  try {
    const s = ctx.createSequence();
    const fresh = ctx.createSequence();
    const p = randomTokens(20);
    s.evaluate(p);
    s.truncate(8);
    assert.is(s.position, 8);
    const tail = randomTokens(6);
    const got = s.append(tail, { allLogits: true });
    const want = fresh.evaluate([...p.slice(0, 8), ...tail], { allLogits: true }).logits;
    sameBits(got, want.subarray(want.length - got.length), 'after truncate');
    assert.throws(() => s.truncate(99), RangeError);
  } finally {
    ctx.dispose();
  }
});

/** A chat of `turns` turns of varied lengths; returns the context's plan stats and memory at a few points. */
async function longChat(turns: number, maxPlans?: number): Promise<{ plans: number[]; memory: number[]; builds: number; planBytes: number[] }> {
  const ctx: Context = model.createContext({ contextSize: 256, batchSize: 64, threads: 1, maxPlans });
  const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'then', 'ran', 'far', 'away', 'home'];
  const r = mulberry32(99);
  const say = () => Array.from({ length: 1 + Math.floor(r() * 30) }, () => words[Math.floor(r() * words.length)]).join(' ');
  const out = { plans: [] as number[], memory: [] as number[], builds: 0, planBytes: [] as number[] };
  try {
    const session = new ChatSession(model, ctx, { template: new BuiltinChatTemplate('chatml', 'test'), maxTokens: 1 + Math.floor(r() * 24), temp: 1, seed: 7 });
    for (let t = 1; t <= turns; t++) {
      await session.reply(say());
      if (t % (turns / 4) === 0) {
        out.plans.push(ctx.planStats.plans);
        out.planBytes.push(ctx.planStats.bytes);
        out.memory.push(model.kernels.memory.buffer.byteLength);
      }
    }
    out.builds = ctx.planStats.builds;
    return out;
  } finally {
    ctx.dispose();
  }
}

test('a chat of 2,000 turns keeps the plan cache (4 plans) and the WebAssembly memory bounded', async () => {
  const before = model.kernels.memory.buffer.byteLength;
  const s = await longChat(2000);
  console.log(`  2,000 turns: ${s.builds} plans built, ${s.plans.join('/')} held at each quarter (${s.planBytes.map((b) => (b / 1024).toFixed(0)).join('/')} KiB); ` +
    `memory ${(before / 2 ** 20).toFixed(1)} MiB before, ${s.memory.map((m) => (m / 2 ** 20).toFixed(1)).join('/')} MiB at each quarter`);
  assert.ok(s.builds > 20, `the chat met many batch shapes (else this proves nothing): ${s.builds}`);
  for (const n of s.plans) assert.ok(n <= 4, `at most 4 plans held: ${n}`);
  // memory reaches its ceiling early and stays there
  assert.is(s.memory[3], s.memory[1], 'no growth over the second half');
});

test('broken variant: without eviction the same chat keeps a plan per shape', async () => {
  const s = await longChat(200, 1_000_000);
  assert.ok(s.plans[3]! > 4 * 2, `an unbounded cache keeps many plans: ${s.plans[3]}`);
});

test('a file with a Q8_1 weight is refused at load with UnsupportedError, before tensor data is read', async () => {
  const spec = llamaModelSpec(shape, GGMLType.Q8_0, { seed: 5 });
  const tensors = spec.tensors!.map((t) => t.name === 'blk.1.ffn_down.weight' ? { name: t.name, type: GGMLType.Q8_1, shape: t.shape } : t);
  const bad = join(dir, 'q8_1.gguf');
  await writeGGUF(bad, { ...spec, tensors });
  let loaded = 0;
  const err = await loadModel(bad, { onProgress: (p) => (loaded = p.loadedBytes) }).then(() => null, (e: unknown) => e);
  assert.is(loaded, 0, 'no tensor bytes were read');
  assert.ok(err instanceof UnsupportedError, `UnsupportedError, got ${String(err)}`);
  assert.is(err.tensor, 'blk.1.ffn_down.weight');
  assert.is(err.type, 'Q8_1');
  assert.match(err.message, /blk\.1\.ffn_down\.weight is Q8_1, a weight type run-gguf cannot run yet \(it runs F32, F16, BF16, Q4_0/);
});

test.run();
