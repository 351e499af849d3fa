// Next-token distributions of random-weight Llama-family models (llama,
// qwen2, qwen3), here and in
// llama.cpp (node-llama-cpp) on the very same GGUF file, for every weight
// type. Also proves the comparison can fail: a broken graph exceeds the bound.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaModel } from 'node-llama-cpp';
import { GGMLType, ggmlTypeInfo } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec, type LlamaShape } from '../formats/synthetic/llama.js';
import type { BuildGraph } from '../runtime/arch/context.js';
import { buildLlama } from '../runtime/arch/llama.js';
import { loadModel } from '../runtime/index.js';
import { compareDistributions, llamaCppProbabilities, poolStats, type DistributionStats } from './helpers/compare.js';
import { oracle } from './helpers/oracle.js';
import { mulberry32 } from './helpers/rng.js';

const KL_BOUND = 1e-3;
const ARGMAX_BOUND = 0.98;
// Logit spread and block-output scale of the random models: distributions
// are peaked (mean entropy about 3 nats against ln(512) = 6.2 for uniform),
// and each layer moves the residual stream by half the embedding's scale.
const SYNTH = { logitStd: 9, blockOutScale: 0.35 };
// With a tied head, each token's own embedding would dominate its logits
// unless the blocks' outputs outweigh it in the residual stream.
const TIED = { logitStd: 3, blockOutScale: 4 };

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-llama-'));
const base = LLAMA_SHAPES['test-tiny']!; // n_embd 256, GQA 4 heads / 2 kv heads, 2 layers, n_ff 512

/** One model per weight type; a few carry the variants the issue asks for. */
const CASES: { type: GGMLType; shape: LlamaShape; note: string; synth?: Partial<typeof SYNTH> }[] = [
  { type: GGMLType.F32, shape: base, note: '' },
  { type: GGMLType.F16, shape: { ...base, tied: true }, note: 'tied output', synth: TIED },
  { type: GGMLType.BF16, shape: base, note: '' },
  { type: GGMLType.Q4_0, shape: base, note: '' },
  { type: GGMLType.Q4_1, shape: { ...base, tied: true }, note: 'tied output', synth: TIED },
  { type: GGMLType.Q5_0, shape: base, note: '' },
  { type: GGMLType.Q5_1, shape: base, note: '' },
  { type: GGMLType.Q8_0, shape: { ...base, ropeScaling: { type: 'linear', factor: 4 } }, note: 'rope scaling linear x4' },
  { type: GGMLType.Q2_K, shape: base, note: '' },
  { type: GGMLType.Q3_K, shape: base, note: '' },
  { type: GGMLType.Q4_K, shape: { ...base, ropeFreqs: true, rope_freq_base: 500000 }, note: 'llama3 rope_freqs, base 5e5' },
  { type: GGMLType.Q5_K, shape: { ...base, ropeScaling: { type: 'yarn', factor: 2, originalContext: 256 } }, note: 'rope scaling yarn x2' },
  { type: GGMLType.Q6_K, shape: base, note: '' },
  // qwen2: the llama stack with q/k/v biases and NEOX rope
  { type: GGMLType.F16, shape: { ...base, arch: 'qwen2' }, note: 'qwen2' },
  { type: GGMLType.Q8_0, shape: { ...base, arch: 'qwen2' }, note: 'qwen2' },
  { type: GGMLType.Q4_K, shape: { ...base, arch: 'qwen2' }, note: 'qwen2' },
  // qwen3: no biases, RMSNorm on each head of q and k before rope
  { type: GGMLType.F16, shape: { ...base, arch: 'qwen3' }, note: 'qwen3' },
  { type: GGMLType.Q8_0, shape: { ...base, arch: 'qwen3' }, note: 'qwen3' },
  { type: GGMLType.Q4_K, shape: { ...base, arch: 'qwen3' }, note: 'qwen3' },
];

// A 64-token sequence, and a prompt longer than our n_batch (evaluated in batches of 32).
const rand = mulberry32(20261126);
const randomTokens = (n: number) => [1, ...Array.from({ length: n - 1 }, () => 3 + Math.floor(rand() * (base.n_vocab - 3)))];
const SEQ_64 = randomTokens(64);
const SEQ_LONG = randomTokens(100);
const OUR_BATCH = 32;

async function ourLogits(path: string, tokens: number[], build?: BuildGraph): Promise<{ logits: Float32Array; nVocab: number }> {
  const model = await loadModel(path, build ? { buildGraph: build } : {});
  try {
    const ctx = model.createContext({ contextSize: 512, batchSize: OUR_BATCH });
    const logits = ctx.evaluate(tokens, { allLogits: true });
    ctx.dispose();
    return { logits, nVocab: model.hparams.n_vocab };
  } finally {
    model.dispose();
  }
}

async function compareFile(path: string, llama: LlamaModel, build?: BuildGraph): Promise<DistributionStats> {
  const stats: DistributionStats[] = [];
  for (const seq of [SEQ_64, SEQ_LONG]) {
    const theirs = await llamaCppProbabilities(llama, seq);
    const { logits, nVocab } = await ourLogits(path, seq, build);
    stats.push(compareDistributions(logits, nVocab, theirs));
  }
  return poolStats(stats);
}

const rows: string[] = [];
const paths = new Map<GGMLType, string>();

for (const c of CASES) {
  const name = ggmlTypeInfo(c.type)!.name.toUpperCase();
  const arch = c.shape.arch ?? 'llama';
  test(`${arch} ${name}${c.note ? ` (${c.note})` : ''}: next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `${arch}-${name}.gguf`);
    await writeGGUF(path, llamaModelSpec(c.shape, c.type, { seed: 7, ...SYNTH, ...c.synth }));
    if (arch === 'llama') paths.set(c.type, path);
    const llama = await (await oracle()).loadModel({ modelPath: path });
    try {
      const s = await compareFile(path, llama);
      rows.push(`  ${`${arch} ${name}`.padEnd(11)} KL mean ${s.meanKL.toExponential(2)} max ${s.maxKL.toExponential(2)}  argmax ${(100 * s.argmaxAgreement).toFixed(1)}%  entropy ${s.meanEntropy.toFixed(2)}  ${c.note}`);
      assert.ok(s.meanKL <= KL_BOUND, `${name}: mean KL ${s.meanKL} > ${KL_BOUND}`);
      assert.ok(s.argmaxAgreement >= ARGMAX_BOUND, `${name}: argmax agreement ${s.argmaxAgreement} < ${ARGMAX_BOUND}`);
      assert.ok(s.meanEntropy < 4, `${name}: distributions are not peaked (entropy ${s.meanEntropy})`);
    } finally {
      await llama.dispose();
    }
  });
}

// The same comparison against deliberately broken graphs must fail by far.
const BROKEN: { what: string; build: BuildGraph }[] = [
  { what: 'rope off', build: (c) => buildLlama({ ...c, hp: { ...c.hp, n_rot: 0 } }) },
  { what: 'last layer skipped', build: (c) => buildLlama({ ...c, hp: { ...c.hp, n_layer: c.hp.n_layer - 1 } }) },
];
for (const b of BROKEN) {
  test(`broken variant (${b.what}) exceeds the KL bound at least tenfold`, async () => {
    const path = paths.get(GGMLType.Q8_0) ?? paths.get(GGMLType.F16);
    assert.ok(path, 'the Q8_0 model was written by the tests above');
    const llama = await (await oracle()).loadModel({ modelPath: path! });
    try {
      const s = await compareFile(path!, llama, b.build);
      rows.push(`  broken (${b.what}): KL mean ${s.meanKL.toExponential(2)}  argmax ${(100 * s.argmaxAgreement).toFixed(1)}%`);
      assert.ok(s.meanKL >= 10 * KL_BOUND, `${b.what}: mean KL ${s.meanKL} is not 10x the bound`);
    } finally {
      await llama.dispose();
    }
  });
}

test.after(() => {
  console.log(`\n  next-token distributions vs llama.cpp (${SEQ_64.length}- and ${SEQ_LONG.length}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
