// deepseek2 (multi-head latent attention) with random weights: every
// position's next-token distribution here and in llama.cpp (node-llama-cpp,
// flash attention off) on the same file. DeepSeek-V2-Lite's layout (plain
// attn_q, softmax routing, yarn with mscale) in F16, Q8_0 and Q4_K_M;
// GLM-4.7-Flash's (q through q_lora, sigmoid routing with exp_probs_b,
// renormalised and scaled weights) in F16, with llama.cpp's own spread (its
// batch against its token by token) on the Q8_0 file reported. Broken variants, each missing
// the bound tenfold: rope left off the rope dims, the yarn mscale left out
// of q·k's scale, the shared experts dropped. A batch gives the bits of
// token by token and 1, 2 and 3 threads the same bits; the KV cache holds
// kv_lora_rank + n_rot values per token and layer, and the fit counts that.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeGGUF } from '../formats/gguf/index.js';
import { DEEPSEEK2_SHAPES, deepseek2ModelSpec, type Deepseek2Shape } from '../formats/synthetic/deepseek2.js';
import type { SyntheticOptions } from '../formats/synthetic/tensors.js';
import { DEEPSEEK2, deepseek2Graph, type Deepseek2Options } from '../runtime/arch/deepseek2.js';
import { Context } from '../runtime/context.js';
import { loadModel, ModelError } from '../runtime/index.js';
import { GGMLType } from '../formats/ggml-types.js';
import { compareDistributions, llamaCppProbabilities } from './helpers/compare.js';
import {
  assertBroken, assertMatches, compareFile, mixSpec, OUR_BATCH, randomSequences, statsRow, withLlamaCpp,
} from './helpers/arch-oracle.js';

const SYNTH: SyntheticOptions = { seed: 41, logitStd: 9, blockOutScale: 0.15 };
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-deepseek2-'));
const SEQUENCES = randomSequences(20261206, [64, 100], 512);
const rows: string[] = [];
const paths = new Map<string, string>();

const CASES: { id: string; shape: Deepseek2Shape; mixes: string[]; note: string }[] = [
  { id: 'test-deepseek2', shape: DEEPSEEK2_SHAPES['test-deepseek2']!, mixes: ['F16', 'Q8_0', 'Q4_K_M'], note: 'V2-Lite layout: attn_q, softmax, yarn 40x mscale' },
  // F16 only against llama.cpp: its sigmoid router puts some tokens near a tie between
  // two experts, where Q8_0's requantized activations flip the choice (in llama.cpp
  // too: see its batch vs token-by-token spread below); its Q8_0 file is the
  // batch and threads case
  { id: 'test-deepseek2-glm', shape: DEEPSEEK2_SHAPES['test-deepseek2-glm']!, mixes: ['F16'], note: 'GLM-4.7-Flash layout: q_lora, sigmoid + exp_probs_b, norm, x1.8' },
];

async function write(c: (typeof CASES)[number], mix: string): Promise<string> {
  const path = join(dir, `${c.id}-${mix}.gguf`);
  await writeGGUF(path, mixSpec((t, o) => deepseek2ModelSpec(c.shape, t, o), mix, SYNTH));
  paths.set(`${c.id}:${mix}`, path);
  return path;
}

for (const c of CASES) {
  for (const mix of c.mixes) {
    test(`${c.id} ${mix}: next-token distributions match llama.cpp`, async () => {
      const path = await write(c, mix);
      const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
      rows.push(statsRow(`${c.id} ${mix}`, s, c.note));
      assertMatches(`${c.id} ${mix}`, s);
      if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
    });
  }
}

const BROKEN: { what: string; off: Partial<Deepseek2Options> }[] = [
  { what: 'no rope on the rope dims', off: { rope: false } },
  { what: 'yarn mscale left out of the q·k scale', off: { mscale: false } },
  { what: 'shared experts dropped', off: { sharedExperts: false } },
];

test('broken variants (rope, mscale, shared experts each undone) exceed the KL bound at least tenfold', async () => {
  const path = paths.get('test-deepseek2:F16');
  assert.ok(path, 'the F16 model was written above');
  await withLlamaCpp(path!, async (llama) => {
    for (const b of BROKEN) {
      const s = await compareFile(path!, llama, SEQUENCES, deepseek2Graph({ ...DEEPSEEK2, ...b.off }));
      rows.push(statsRow(`broken: ${b.what}`, s));
      assertBroken(b.what, s);
    }
  });
});

test('llama.cpp\'s own spread: its batch vs its token by token (GLM layout, Q8_0), reported beside the bound', async () => {
  const path = await write(CASES[1]!, 'Q8_0');
  const seq = SEQUENCES[1]!;
  const nV = DEEPSEEK2_SHAPES['test-deepseek2-glm']!.n_vocab;
  const [batch, single] = await withLlamaCpp(path, async (llama) => [
    await llamaCppProbabilities(llama, seq, 512),
    await llamaCppProbabilities(llama, seq, 512, { batchSize: 1 }),
  ]);
  // token by token's probabilities as log-probability rows
  const rowsOf = new Float32Array(seq.length * nV).fill(-1e30);
  single.forEach((m, i) => m.forEach((p, id) => { if (p > 0) rowsOf[i * nV + id] = Math.log(p); }));
  const s = compareDistributions(rowsOf, nV, batch);
  rows.push(statsRow('llama.cpp spread', s, 'its n_batch 512 vs token by token, GLM layout Q8_0'));
  assert.ok(s.positions === seq.length);
});

test('a batch gives the bits of token by token; 1, 2 and 3 threads give the same bits (GLM layout, Q8_0)', async () => {
  const path = paths.get('test-deepseek2-glm:Q8_0');
  assert.ok(path, 'the Q8_0 model was written above');
  const model = await loadModel(path!);
  try {
    const tokens = SEQUENCES[1]!.slice(0, 70);
    const nV = model.hparams.n_vocab;
    const byThreads: Float32Array[] = [];
    for (const threads of [1, 2, 3]) {
      const ctx = model.createContext({ contextSize: 128, batchSize: OUR_BATCH, threads });
      byThreads.push(ctx.evaluate(tokens, { allLogits: true }));
      ctx.dispose();
    }
    for (const [i, l] of byThreads.entries()) assert.ok(Buffer.from(l.buffer).equals(Buffer.from(byThreads[0]!.buffer)), `${i + 1} threads differ from 1`);
    const one = model.createContext({ contextSize: 128, batchSize: 1, threads: 2 });
    for (let i = 0; i < tokens.length; i++) {
      const l = one.evaluate([tokens[i]!]);
      const batch = byThreads[0]!.subarray(i * nV, (i + 1) * nV);
      assert.ok(Buffer.from(l.buffer, l.byteOffset, l.byteLength).equals(Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength)), `token ${i}: token-by-token logits differ from the batch's`);
    }
    one.dispose();
    rows.push(`  batch (n_batch ${OUR_BATCH}) vs token by token and 1/2/3 threads, ${tokens.length} tokens: identical bits`);
  } finally {
    model.dispose();
  }
});

test('the KV cache is the compressed latent and rope key: (kv_lora_rank + n_rot) f16 per token and layer', async () => {
  const path = paths.get('test-deepseek2:F16')!;
  const model = await loadModel(path);
  try {
    const s = DEEPSEEK2_SHAPES['test-deepseek2']!;
    const hp = model.hparams;
    assert.is(Context.kvBytes(hp, 1000), s.n_layer * 1000 * (s.kv_lora_rank + s.n_rot) * 2);
    // the expanded K and V of every head would be n_head * (nope + n_rot + v_head) per token
    assert.ok(Context.kvBytes(hp, 1000) < s.n_layer * 1000 * s.n_head * (s.nope + s.n_rot + s.v_head) * 2);
  } finally {
    model.dispose();
  }
});

test('a deepseek2 file without the split MLA layout (no key_length_mla) is refused with a ModelError naming the key', async () => {
  const spec = deepseek2ModelSpec(DEEPSEEK2_SHAPES['test-deepseek2']!, GGMLType.F32);
  const path = join(dir, 'legacy.gguf');
  await writeGGUF(path, { ...spec, kv: spec.kv.filter((e) => !e.key.endsWith('_mla')) });
  try {
    (await loadModel(path)).dispose();
    assert.unreachable('loaded');
  } catch (e) {
    assert.instance(e, ModelError);
    assert.is((e as ModelError).key, 'deepseek2.attention.key_length_mla');
    assert.match((e as Error).message, /re-convert/);
  }
});

test.after(() => {
  console.log(`\n  deepseek2 next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join(' and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
