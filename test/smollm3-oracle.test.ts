// SmolLM3 with random weights: next-token distributions here and in
// llama.cpp (node-llama-cpp) on the very same GGUF file, in F16, Q8_0 and
// Q4_K_M; one batch gives the bits of token by token; and a graph that ropes
// every layer (missing SmolLM3's NoPE layers) misses the bound by far.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec, type LlamaShape } from '../formats/synthetic/llama.js';
import { ROPE_NORM, ropeParams } from '../runtime/arch/blocks.js';
import type { BuildGraph } from '../runtime/arch/context.js';
import { buildDecoder } from '../runtime/arch/decoder.js';
import { smollm3UsesRope } from '../runtime/arch/smollm3.js';
import {
  assertBroken, assertMatches, batchVsTokenByToken, compareFile, mixSpec, OUR_BATCH, randomSequences, statsRow, withLlamaCpp,
} from './helpers/arch-oracle.js';

// Four layers amplify the activation-rounding flips of quantized types
// more than llama-oracle's two: blocks move the residual stream by a quarter
// of the embedding's scale (as moe-oracle). An untied head and rope base
// 1e4 (SmolLM3's 5e6 barely turns most of a 32-wide head over 100
// positions) make the NoPE layer's absence show; the tied head, as the real
// model has it, is its own case (it needs the blocks to outweigh each
// token's own embedding, as llama-oracle's tied cases).
const SYNTH = { seed: 23, logitStd: 6, blockOutScale: 0.25 };
const TIED = { seed: 23, logitStd: 3, blockOutScale: 4 };
const MIXES = ['F16', 'Q8_0', 'Q4_K_M'];
const real = LLAMA_SHAPES['test-smollm3']!;
const shape: LlamaShape = { ...real, tied: false, rope_freq_base: 10000 };
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-smollm3-'));
const SEQUENCES = randomSequences(20261201, [64, 100], shape.n_vocab);
const rows: string[] = [];
const paths = new Map<string, string>();

test('the test shape has a NoPE layer (layer 3 of 4) beside roped ones', () => {
  assert.equal([0, 1, 2, 3].map((il) => smollm3UsesRope(il)), [true, true, true, false]);
});

for (const mix of MIXES) {
  test(`smollm3 ${mix}: next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `smollm3-${mix}.gguf`);
    await writeGGUF(path, mixSpec((t, o) => llamaModelSpec(shape, t, o), mix, SYNTH));
    paths.set(mix, path);
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`smollm3 ${mix}`, s, 'GQA 8/2, no rope on layer 3'));
    assertMatches(`smollm3 ${mix}`, s);
    // F16 weights leave only float rounding between the two
    if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
  });
}

test('smollm3 F16 with its tied head and rope base 5e6 (the real model\'s): matches llama.cpp', async () => {
  const path = join(dir, 'smollm3-tied-F16.gguf');
  await writeGGUF(path, mixSpec((t, o) => llamaModelSpec(real, t, o), 'F16', TIED));
  const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
  rows.push(statsRow('smollm3 F16', s, 'tied head, rope base 5e6'));
  assertMatches('smollm3 tied F16', s);
  assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
});

test('smollm3 Q4_K_M: one batch gives the bits of token by token', async () => {
  const diff = await batchVsTokenByToken(paths.get('Q4_K_M')!, SEQUENCES[0]!.slice(0, 40));
  rows.push(`  batch (n_batch ${OUR_BATCH}) vs token by token, 40 tokens: max |logit difference| ${diff}`);
  assert.is(diff, 0);
});

/** SmolLM3 as plain llama: rope on every layer. */
const ropeEveryLayer: BuildGraph = (c) => {
  const rope = ropeParams(c, ROPE_NORM);
  return buildDecoder(c, { attention: () => ({ rope }) });
};

test('broken smollm3 (rope on every layer) exceeds the KL bound at least tenfold', async () => {
  const path = paths.get('Q8_0')!;
  const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES, ropeEveryLayer));
  rows.push(statsRow('broken smollm3', s, 'rope on every layer'));
  assertBroken('rope on every layer', s);
});

test.after(() => {
  console.log(`\n  smollm3 next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join(' and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
