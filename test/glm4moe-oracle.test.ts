// glm4moe (GLM-4.5 / 4.5-Air / 4.6) with random weights: every position's
// next-token distribution here and in llama.cpp (node-llama-cpp, flash
// attention off) on the same file, in F16, Q8_0 and Q4_K_M; the file carries
// a nextn (multi-token prediction) block, which neither runs for the next
// token. Broken variants, each missing the bound tenfold: rope over the
// whole head instead of its first half, softmax routing instead of sigmoid,
// the nextn block run as one more layer. A batch gives the bits of token by
// token and 1, 2 and 3 threads the same bits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeGGUF } from '../formats/gguf/index.js';
import { GLM4MOE_SHAPES, glm4moeModelSpec } from '../formats/synthetic/glm4moe.js';
import type { SyntheticOptions } from '../formats/synthetic/tensors.js';
import { GLM4MOE, glm4moeGraph, type Glm4MoeOptions } from '../runtime/arch/glm4moe.js';
import { loadModel } from '../runtime/index.js';
import {
  assertBroken, assertMatches, compareFile, mixSpec, OUR_BATCH, randomSequences, statsRow, withLlamaCpp,
} from './helpers/arch-oracle.js';

const SHAPE = GLM4MOE_SHAPES['test-glm4moe']!;
const SYNTH: SyntheticOptions = { seed: 43, logitStd: 9, blockOutScale: 0.15 };
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-glm4moe-'));
const SEQUENCES = randomSequences(20261207, [64, 100], SHAPE.n_vocab);
const rows: string[] = [];
const paths = new Map<string, string>();

for (const mix of ['F16', 'Q8_0', 'Q4_K_M']) {
  test(`glm4moe ${mix}: next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `glm4moe-${mix}.gguf`);
    await writeGGUF(path, mixSpec((t, o) => glm4moeModelSpec(SHAPE, t, o), mix, SYNTH));
    paths.set(mix, path);
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`glm4moe ${mix}`, s, `${SHAPE.n_expert_used} of ${SHAPE.n_expert} experts + shared, rope ${SHAPE.n_rot}/${SHAPE.head_dim}, nextn block`));
    assertMatches(`glm4moe ${mix}`, s);
    if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
  });
}

const BROKEN: { what: string; off: Partial<Glm4MoeOptions> }[] = [
  { what: 'rope over the whole head', off: { partialRope: false } },
  { what: 'softmax routing for sigmoid', off: { sigmoid: false } },
  { what: 'nextn block run as a layer', off: { skipNextn: false } },
];

test('broken variants (partial rope, sigmoid routing, nextn skipping each undone) exceed the KL bound at least tenfold', async () => {
  const path = paths.get('F16');
  assert.ok(path, 'the F16 model was written above');
  await withLlamaCpp(path!, async (llama) => {
    for (const b of BROKEN) {
      const s = await compareFile(path!, llama, SEQUENCES, glm4moeGraph({ ...GLM4MOE, ...b.off }));
      rows.push(statsRow(`broken: ${b.what}`, s));
      assertBroken(b.what, s);
    }
  });
});

test('a batch gives the bits of token by token; 1, 2 and 3 threads give the same bits (Q4_K_M)', async () => {
  const path = paths.get('Q4_K_M');
  assert.ok(path, 'the Q4_K_M model was written above');
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

test.after(() => {
  console.log(`\n  glm4moe next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join(' and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
