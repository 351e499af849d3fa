// ERNIE 4.5, dense (ernie4_5) and MoE (ernie4_5-moe), with random weights:
// next-token distributions here and in llama.cpp (node-llama-cpp) on the
// very same GGUF file, in F16, Q8_0 and Q4_K_M; one batch gives the bits of
// token by token; broken graphs miss the bound by far: the dense file's
// attn_output.bias added (llama.cpp loads it and never adds it), the MoE
// model's shared expert dropped, its selection bias (exp_probs_b) ignored.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeGGUF } from '../formats/gguf/index.js';
import { ERNIE_SHAPES, ernieModelSpec, type ErnieShape } from '../formats/synthetic/ernie.js';
import { ROPE_NORM, ropeParams } from '../runtime/arch/blocks.js';
import type { BuildGraph } from '../runtime/arch/context.js';
import { buildDecoder } from '../runtime/arch/decoder.js';
import { buildErnie45Moe } from '../runtime/arch/ernie4_5.js';
import { moeOrDense } from '../runtime/arch/ffn.js';
import {
  assertBroken, assertMatches, batchVsTokenByToken, compareFile, mixSpec, OUR_BATCH, randomSequences, statsRow, withLlamaCpp,
} from './helpers/arch-oracle.js';

// Blocks moving the residual stream by 0.15 of the embedding's scale: less than
// moe-oracle's 0.25, as the selection bias puts more tokens near a tie between
// two experts, where quantized types' rounding flips the choice.
const SYNTH = { seed: 37, logitStd: 9, blockOutScale: 0.15 };
const MIXES = ['F16', 'Q8_0', 'Q4_K_M'];
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-ernie-'));
const SEQUENCES = randomSequences(20261203, [64, 100], 512);
const rows: string[] = [];
const paths = new Map<string, string>();

// untied (the tied head is the shared outputHead llama-oracle tests); the dense
// file carries the attn_output.bias llama.cpp loads and leaves out
const CASES: { id: string; shape: ErnieShape; note: string }[] = [
  { id: 'ernie4_5', shape: { ...ERNIE_SHAPES['test-ernie4_5']!, tied: false, outputBias: true }, note: 'attn_output.bias in the file, unused' },
  { id: 'ernie4_5-moe', shape: ERNIE_SHAPES['test-ernie4_5-moe']!, note: '1 dense layer, then 2 of 8 experts + shared, selection bias' },
];

for (const c of CASES) {
  for (const mix of MIXES) {
    test(`${c.id} ${mix}: next-token distributions match llama.cpp`, async () => {
      const path = join(dir, `${c.id}-${mix}.gguf`);
      await writeGGUF(path, mixSpec((t, o) => ernieModelSpec(c.shape, t, o), mix, SYNTH));
      paths.set(`${c.id}:${mix}`, path);
      const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
      rows.push(statsRow(`${c.id} ${mix}`, s, c.note));
      assertMatches(`${c.id} ${mix}`, s);
      if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
    });
  }
}

test('ernie4_5-moe Q4_K_M: one batch gives the bits of token by token', async () => {
  const diff = await batchVsTokenByToken(paths.get('ernie4_5-moe:Q4_K_M')!, SEQUENCES[1]!.slice(0, 40));
  rows.push(`  batch (n_batch ${OUR_BATCH}) vs token by token, 40 tokens: max |logit difference| ${diff}`);
  assert.is(diff, 0);
});

const BROKEN: { id: string; what: string; build: BuildGraph }[] = [
  // llama's stack as is: linear() adds every bias the file has
  { id: 'ernie4_5', what: 'attn_output.bias added', build: (c) => buildDecoder(c, { attention: () => ({ rope: ropeParams(c, ROPE_NORM) }) }) },
  {
    id: 'ernie4_5-moe', what: 'shared expert dropped',
    build: (c) => buildDecoder(c, { attention: () => ({ rope: ropeParams(c, ROPE_NORM) }), ffn: moeOrDense({ normWeights: true }) }),
  },
  {
    id: 'ernie4_5-moe', what: 'exp_probs_b ignored',
    build: (c) => buildErnie45Moe({ ...c, wOpt: (name) => (name.endsWith('.exp_probs_b.bias') ? undefined : c.wOpt(name)) }),
  },
];
for (const b of BROKEN) {
  test(`broken ${b.id} (${b.what}) exceeds the KL bound at least tenfold`, async () => {
    const path = paths.get(`${b.id}:Q8_0`)!;
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES, b.build));
    rows.push(statsRow(`broken ${b.id}`, s, b.what));
    assertBroken(b.what, s);
  });
}

test.after(() => {
  console.log(`\n  ERNIE 4.5 next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join(' and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
