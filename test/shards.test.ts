// Models spread over several WebAssembly memories give the bits of one
// memory. Real models spread only past 4 GiB; `memoryBytes` forces small
// memories so tiny models spread over 3 or more, one family at a time: dense
// llama (with rope_freqs, a small weight every layer reads, and a tied head,
// whose token_embd lives in the first memory), Mixtral's experts, the
// LayerNorm family, gemma2 (sliding window, soft-caps) and bert.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF, type GGUFWriteSpec } from '../formats/gguf/index.js';
import { BERT_SHAPES, bertModelSpec } from '../formats/synthetic/bert.js';
import { GEMMA_SHAPES, gemmaModelSpec } from '../formats/synthetic/gemma.js';
import { LAYERNORM_SHAPES, layerNormModelSpec } from '../formats/synthetic/layernorm.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { MOE_SHAPES, moeModelSpec } from '../formats/synthetic/moe.js';
import { loadModel, type Model } from '../runtime/index.js';
import { planShards } from '../runtime/shards.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-shards-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const CONTEXT = 64;
const tokens = Array.from({ length: 40 }, (_, i) => 1 + ((i * 131) % 500));

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** A memory size that holds about one layer (with its KV cache and the reserve), so every layer gets its own. */
function oneLayerPerMemory(model: Model): number {
  const layer0 = model.gguf.tensors.filter((t) => t.name.startsWith('blk.0.')).reduce((n, t) => n + t.nBytes + 64, 0);
  const hp = model.hparams;
  const kv = hp.n_head_kv * CONTEXT * (hp.n_embd_head_k + hp.n_embd_head_v) * 2;
  // the reserve is a quarter of a memory this small
  return Math.ceil(((layer0 + kv) * 4) / 3) + 4096;
}

/** Every position's logits of a prompt in batches of 16, then two decoded tokens', on 2 threads. */
function logits(model: Model): Float32Array[] {
  const ctx = model.createContext({ contextSize: CONTEXT, batchSize: 16, threads: 2 });
  try {
    return [ctx.evaluate(tokens, { allLogits: true }), ctx.evaluate([3]), ctx.evaluate([9])];
  } finally {
    ctx.dispose();
  }
}

const CASES: { name: string; spec: GGUFWriteSpec; embed?: boolean }[] = [
  { name: 'llama Q4_K (rope_freqs, tied head)', spec: llamaModelSpec({ ...LLAMA_SHAPES['test-tiny']!, n_layer: 4, tied: true, ropeFreqs: true }, GGMLType.Q4_K, { seed: 11 }) },
  { name: 'mixtral Q8_0', spec: moeModelSpec({ ...MOE_SHAPES['mixtral-tiny']!, n_layer: 4 }, GGMLType.Q8_0, { seed: 12 }) },
  { name: 'phi2 F16 (LayerNorm, parallel block)', spec: layerNormModelSpec({ ...LAYERNORM_SHAPES['phi2-tiny']!, n_layer: 4 }, GGMLType.F16, { seed: 13 }) },
  { name: 'gemma2 Q8_0 (sliding window)', spec: gemmaModelSpec({ ...GEMMA_SHAPES['gemma2-tiny']!, n_layer: 4 }, GGMLType.Q8_0, { seed: 14 }) },
  { name: 'bert Q8_0', spec: bertModelSpec({ ...BERT_SHAPES['bert-tiny']!, n_layer: 4 }, GGMLType.Q8_0, { seed: 15 }), embed: true },
];

for (const c of CASES) {
  test(`${c.name}: spread over 3+ memories, the same bits as one memory`, async () => {
    const path = join(dir, `${c.name.split(' ')[0]}.gguf`);
    await writeGGUF(path, c.spec);
    const one = await loadModel(path, { contextSize: CONTEXT });
    const memoryBytes = oneLayerPerMemory(one);
    const spread = await loadModel(path, { contextSize: CONTEXT, memoryBytes });
    try {
      assert.is(one.memories.length, 1);
      assert.ok(spread.memories.length >= 3, `${spread.memories.length} memories of ${memoryBytes} bytes`);
      assert.ok(spread.layerMemory(0) !== spread.layerMemory(spread.hparams.n_layer - 1), 'the first and last layers live apart');
      if (c.embed) {
        const texts = ['a short text', 'another, somewhat longer text with more tokens in it', 'x'];
        const [a, b] = [one.embed(texts, { threads: 2 }), spread.embed(texts, { threads: 2 })];
        a.forEach((v, i) => assert.ok(sameBits(v, b[i]!), `text ${i}: embeddings differ`));
      } else {
        const [a, b] = [logits(one), logits(spread)];
        a.forEach((v, i) => assert.ok(sameBits(v, b[i]!), `${['prompt', 'decode 1', 'decode 2'][i]}: logits differ`));
      }
      console.log(`  ${c.name}: ${spread.memories.length} memories of ${(memoryBytes / 1024).toFixed(0)} KiB, layers in ${[...Array(spread.hparams.n_layer).keys()].map((il) => spread.layerMemory(il)).join(',')}`);
    } finally {
      one.dispose();
      spread.dispose();
    }
  });
}

test('the split: whole layers in order, inputs first, head last; a group larger than a memory is refused by name', () => {
  const t = (name: string, bytes: number) => ({ name, bytes });
  const tensors = [t('token_embd.weight', 30), t('output.weight', 29), t('output_norm.weight', 1),
    ...[0, 1, 2].flatMap((il) => [t(`blk.${il}.attn_q.weight`, 20), t(`blk.${il}.ffn_up.weight`, 20)])];
  const plan = planShards(tensors, { n_layer: 3, kvBytesPerLayer: 10, reserveBytes: 20, memoryBytes: 100 });
  // memory 0: reserve 20 + inputs 30 + layer 0 (50) = 100; layer 1 next; layer 2 + head (31) after
  assert.equal(plan.layerMemory, [0, 1, 2]);
  assert.is(plan.memoryOf.get('token_embd.weight'), 0);
  assert.is(plan.memoryOf.get('blk.1.ffn_up.weight'), 1);
  assert.is(plan.memoryOf.get('output.weight'), 2);
  assert.is(plan.count, 3);
  assert.throws(() => planShards(tensors, { n_layer: 3, kvBytesPerLayer: 10, reserveBytes: 60, memoryBytes: 100 }), /layer 0 needs/);
});

test.run();
