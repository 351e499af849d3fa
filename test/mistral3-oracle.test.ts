// Mistral 3 (llama.cpp's "mistral3": Ministral 3, Mistral Small 3.x) with
// random weights: next-token distributions here and in llama.cpp
// (node-llama-cpp) on the very same GGUF file, in F16, Q8_0 and Q4_K_M, with
// what distinguishes it from llama switched on: llama 4's attention
// temperature (original context 32, so it steps up three times within 100
// positions) and yarn x16 with yarn_log_multiplier 1. One batch gives the
// bits of token by token; graphs without the temperature, or without the
// log multiplier's attention factor, miss the bound by far.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec, type LlamaShape } from '../formats/synthetic/llama.js';
import type { BuildContext, BuildGraph } from '../runtime/arch/context.js';
import { buildMistral3 } from '../runtime/arch/mistral3.js';
import {
  assertBroken, assertMatches, batchVsTokenByToken, compareFile, mixSpec, OUR_BATCH, randomSequences, statsRow, withLlamaCpp,
} from './helpers/arch-oracle.js';

// As llama-oracle: peaked distributions, blocks moving the residual stream by a third of the embedding's scale
const SYNTH = { seed: 31, logitStd: 9, blockOutScale: 0.35 };
const MIXES = ['F16', 'Q8_0', 'Q4_K_M'];
// Untied here (the tied head is the shared outputHead llama-oracle tests), and a
// temperature of 0.6 instead of the real 0.1: random q and k have far smaller
// dot products than trained ones, so 0.1's sharpening would hardly show.
const real = LLAMA_SHAPES['test-mistral3']!;
const shape: LlamaShape = { ...real, tied: false, mistral3: { ...real.mistral3, temperatureScale: 0.6 } };
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-mistral3-'));
const SEQUENCES = randomSequences(20261202, [64, 100], shape.n_vocab);
const rows: string[] = [];
const paths = new Map<string, string>();

for (const mix of MIXES) {
  test(`mistral3 ${mix}: next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `mistral3-${mix}.gguf`);
    await writeGGUF(path, mixSpec((t, o) => llamaModelSpec(shape, t, o), mix, SYNTH));
    paths.set(mix, path);
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`mistral3 ${mix}`, s, 'temperature 0.6 / 32, yarn x16 log_mul 1'));
    assertMatches(`mistral3 ${mix}`, s);
    if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
  });
}

test('mistral3 Q4_K_M: one batch gives the bits of token by token', async () => {
  const diff = await batchVsTokenByToken(paths.get('Q4_K_M')!, SEQUENCES[1]!.slice(0, 80));
  rows.push(`  batch (n_batch ${OUR_BATCH}) vs token by token, 80 tokens: max |logit difference| ${diff}`);
  assert.is(diff, 0);
});

const hp = (change: Partial<BuildContext['hp']>): BuildGraph => (c) => buildMistral3({ ...c, hp: { ...c.hp, ...change } });
const BROKEN: { what: string; build: BuildGraph }[] = [
  { what: 'no attention temperature', build: hp({ f_attn_temp_scale: 0 }) },
  { what: 'yarn_log_multiplier ignored', build: hp({ yarn_attn_factor: 1 }) },
];
for (const b of BROKEN) {
  test(`broken mistral3 (${b.what}) exceeds the KL bound at least tenfold`, async () => {
    const path = paths.get('Q8_0')!;
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES, b.build));
    rows.push(statsRow('broken mistral3', s, b.what));
    assertBroken(b.what, s);
  });
}

test.after(() => {
  console.log(`\n  mistral3 next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join(' and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
