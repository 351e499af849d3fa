// Next-token distributions of random-weight Llama-family models (llama,
// with and without its optional biases, qwen2, qwen3), here and in
// llama.cpp (node-llama-cpp) on the very same GGUF file, for every weight
// type. Also proves the comparison can fail: a broken graph exceeds the bound.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec, type LlamaShape } from '../formats/synthetic/llama.js';
import type { BuildGraph } from '../runtime/arch/context.js';
import { buildLlama } from '../runtime/arch/llama.js';
import { assertBroken, assertMatches, compareFile, OUR_BATCH, randomSequences, statsRow, withLlamaCpp } from './helpers/arch-oracle.js';

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
  // optional biases on the FFN (gate, up, down) and on q, k, v and the attention output
  { type: GGMLType.F16, shape: { ...base, biases: true }, note: 'ffn + attention biases' },
  { type: GGMLType.Q8_0, shape: { ...base, biases: true }, note: 'ffn + attention biases' },
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
const SEQUENCES = randomSequences(20261126, [64, 100], base.n_vocab);

const rows: string[] = [];
const paths = new Map<GGMLType, string>();
const biased = new Map<GGMLType, string>();

for (const c of CASES) {
  const name = ggmlTypeInfo(c.type)!.name.toUpperCase();
  const arch = c.shape.arch ?? 'llama';
  test(`${arch} ${name}${c.note ? ` (${c.note})` : ''}: next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `${arch}-${name}.gguf`);
    await writeGGUF(path, llamaModelSpec(c.shape, c.type, { seed: 7, ...SYNTH, ...c.synth }));
    if (arch === 'llama' && !c.shape.biases) paths.set(c.type, path);
    if (c.shape.biases) biased.set(c.type, path);
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`${arch} ${name}`, s, c.note));
    assertMatches(`${arch} ${name}`, s);
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
    const s = await withLlamaCpp(path!, (llama) => compareFile(path!, llama, SEQUENCES, b.build));
    rows.push(statsRow(`broken: ${b.what}`, s));
    assertBroken(b.what, s);
  });
}

// Llama with its biases left out (the graph as if the file had none) must miss too.
test('broken variant (FFN biases ignored) exceeds the KL bound at least tenfold', async () => {
  const path = biased.get(GGMLType.Q8_0);
  assert.ok(path, 'the biased Q8_0 model was written by the tests above');
  const noFfnBias: BuildGraph = (c) => buildLlama({ ...c, wOpt: (n) => (/^blk\.\d+\.ffn_\w+\.bias$/.test(n) ? undefined : c.wOpt(n)) });
  const s = await withLlamaCpp(path!, (llama) => compareFile(path!, llama, SEQUENCES, noFfnBias));
  rows.push(statsRow('broken: no ffn bias', s));
  assertBroken('FFN biases ignored', s);
});

test.after(() => {
  console.log(`\n  next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join('- and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
