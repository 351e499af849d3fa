// LoRA adapters (runtime/lora.ts) against llama.cpp's: random-weight adapters
// written by our GGUF writer, applied to a random-weight llama, one and two at
// once, compared position by position with node-llama-cpp's `lora` option on
// the same files. Scale 0 is the base model bit for bit; an adapter for
// another model is refused before anything runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF, GGUFValueType, type GGUFKVInput } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { RandomTensors } from '../formats/synthetic/tensors.js';
import { loadModel, ModelError } from '../runtime/index.js';
import type { LoraAdapterOptions } from '../runtime/lora.js';
import { assertBroken, assertMatches, randomSequences, statsRow, withLlamaCpp } from './helpers/arch-oracle.js';
import { compareDistributions, llamaCppProbabilities, poolStats } from './helpers/compare.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-lora-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const shape = LLAMA_SHAPES['test-tiny']!;
const base = join(dir, 'base-f16.gguf');
await writeGGUF(base, llamaModelSpec(shape, GGMLType.F16, { seed: 11 }));

/** A LoRA adapter for the test-tiny llama: rank r on attn_q, attn_v, ffn_up and ffn_down of every layer. */
async function writeAdapter(path: string, seed: number, r: number, alpha: number, type = GGMLType.F16, arch = 'llama'): Promise<void> {
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.type', value: 'adapter' },
    { key: 'adapter.type', value: 'lora' },
    { key: 'adapter.lora.alpha', value: alpha, type: GGUFValueType.FLOAT32 },
  ];
  const t = new RandomTensors(type, { seed });
  const nEmbdKv = (shape.n_embd / shape.n_head) * shape.n_head_kv;
  const targets: [string, number, number][] = [['attn_q', shape.n_embd, shape.n_embd], ['attn_v', shape.n_embd, nEmbdKv],
    ['ffn_up', shape.n_embd, shape.n_ff], ['ffn_down', shape.n_ff, shape.n_embd]];
  for (let il = 0; il < shape.n_layer; il++) {
    for (const [name, nIn, nOut] of targets) {
      // large enough that an adapter moves the distributions far past the bound
      t.matrix(`blk.${il}.${name}.weight.lora_a`, nIn, r, 1 / Math.sqrt(nIn));
      t.matrix(`blk.${il}.${name}.weight.lora_b`, r, nOut, 2 / Math.sqrt(r));
    }
  }
  await writeGGUF(path, { kv, tensors: t.tensors });
}

const adapterA = join(dir, 'lora-a.gguf');
const adapterB = join(dir, 'lora-b.gguf');
await writeAdapter(adapterA, 21, 4, 8);
await writeAdapter(adapterB, 22, 8, 0, GGMLType.F32); // alpha 0: the user scale alone

const sequences = randomSequences(3, [24, 40], shape.n_vocab);

async function ours(lora: LoraAdapterOptions[], tokens: number[]): Promise<Float32Array> {
  const model = await loadModel(base, { lora });
  try {
    const ctx = model.createContext({ contextSize: 64, batchSize: 16 });
    return ctx.evaluate(tokens, { allLogits: true });
  } finally {
    model.dispose();
  }
}

async function compare(lora: LoraAdapterOptions[], theirsLora: LoraAdapterOptions[]) {
  return withLlamaCpp(base, async (llama) => {
    const stats = [];
    for (const seq of sequences) {
      const theirs = await llamaCppProbabilities(llama, seq, 64,
        theirsLora.length ? { lora: { adapters: theirsLora.map((l) => ({ filePath: l.path, scale: l.scale })) } } : {});
      stats.push(compareDistributions(await ours(lora, seq), shape.n_vocab, theirs));
    }
    return poolStats(stats);
  });
}

test('one adapter (rank 4, alpha 8) and two at once (scales 0.5 and 1.5) match llama.cpp; without the adapter they miss', async () => {
  const one = await compare([{ path: adapterA }], [{ path: adapterA }]);
  console.log(statsRow('lora A', one));
  assertMatches('lora A', one, 6);
  const two = [{ path: adapterA, scale: 0.5 }, { path: adapterB, scale: 1.5 }];
  const both = await compare(two, two);
  console.log(statsRow('lora A+B', both));
  assertMatches('lora A+B', both, 6);
  // the comparison can fail: ours with the adapters, llama.cpp's base model
  assertBroken('lora A+B vs base', await compare(two, []));
  // and the adapters are applied with their scales (B alone at 1.5 is not A 0.5 + B 1.5)
  assertBroken('scales', await compare([{ path: adapterB, scale: 1.5 }], two));
});

test('scale 0 is the base model, bit for bit', async () => {
  const tokens = sequences[0]!;
  const a = await ours([], tokens);
  const b = await ours([{ path: adapterA, scale: 0 }], tokens);
  assert.ok(new Uint32Array(a.buffer).every((x, i) => x === new Uint32Array(b.buffer)[i]), 'logits differ');
});

test('an adapter for another model, or not an adapter, is a ModelError naming the file and key', async () => {
  const other = join(dir, 'other-arch.gguf');
  const t = new RandomTensors(GGMLType.F32, { seed: 1 });
  t.matrix('blk.0.attn_q.weight.lora_a', 128, 4, 0.1);
  t.matrix('blk.0.attn_q.weight.lora_b', 4, 128, 0.1);
  await writeGGUF(other, { kv: [{ key: 'general.architecture', value: 'llama' }, { key: 'general.type', value: 'adapter' }, { key: 'adapter.type', value: 'lora' }], tensors: t.tensors });
  const wrongArch = join(dir, 'qwen-adapter.gguf');
  await writeAdapter(wrongArch, 23, 4, 8, GGMLType.F16, 'qwen2');
  const cases: [LoraAdapterOptions, (e: unknown) => boolean][] = [
    [{ path: other }, (e) => e instanceof ModelError && /\[128,4\]/.test((e as Error).message) && (e as Error).message.includes(other)],
    [{ path: base }, (e) => e instanceof ModelError && /general\.type/.test((e as Error).message)],
    [{ path: wrongArch }, (e) => e instanceof ModelError && /qwen2/.test((e as Error).message)],
    [{ path: adapterA, scale: Number.NaN }, (e) => e instanceof RangeError && /scale/.test((e as Error).message)],
  ];
  for (const [lora, check] of cases) {
    let err: unknown;
    try {
      (await loadModel(base, { lora: [lora] })).dispose();
    } catch (e) {
      err = e;
    }
    assert.ok(err !== undefined && check(err), `${lora.path} scale ${lora.scale}: ${err}`);
  }
});

test.run();
