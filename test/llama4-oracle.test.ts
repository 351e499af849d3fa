// llama4 with random weights: every position's next-token distribution here
// and in llama.cpp (node-llama-cpp, flash attention off) on the same file, in
// F16, Q8_0 and Q4_K_M over 64- and 100-token sequences (no-rope global
// layer, q/k norm after rope, interleaved MoE weighting the experts' input,
// shared expert, rope_freqs); then one sequence past llama.cpp's fixed
// 8192-token chunk, compared on the positions around the chunk boundary,
// where chunked attention and the attention temperature act (a narrower
// model, for time). Broken variants
// miss the bound tenfold: rope on every layer, the experts' output weighted
// instead of their input (short sequences); no chunking (past the
// boundary). Without the temperature the tail misses the correct graph's KL
// tenfold (it is 1.07 there, on one layer of four: under the bound). A batch gives the bits of token by token and 1, 2 and
// 3 threads the same bits. (helpers/arch-oracle.ts runs the short comparisons, broken variants and bit-exact check.)
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA4_SHAPES, llama4ModelSpec } from '../formats/synthetic/llama4.js';
import type { SyntheticOptions } from '../formats/synthetic/tensors.js';
import type { BuildGraph } from '../runtime/arch/context.js';
import { LLAMA4, LLAMA4_CHUNK, llama4Graph } from '../runtime/arch/llama4.js';
import { loadModel } from '../runtime/index.js';
import { compareDistributions, llamaCppProbabilities, type DistributionStats } from './helpers/compare.js';
import { assertBroken, assertMatches, declareArchOracle, mixSpec, randomSequences, statsRow, withLlamaCpp } from './helpers/arch-oracle.js';

const SHAPE = LLAMA4_SHAPES['test-llama4']!;
const SYNTH: SyntheticOptions = { seed: 47, logitStd: 9, blockOutScale: 0.15 };
const SEQUENCES = randomSequences(20261208, [64, 100], SHAPE.n_vocab);
// past the chunk: the compared tail holds 64 positions before the boundary and 64 after
const LONG = randomSequences(20261209, [LLAMA4_CHUNK + 64], SHAPE.n_vocab)[0]!;
const TAIL = LLAMA4_CHUNK - 64;

const oracle = declareArchOracle({
  title: 'llama4',
  synth: SYNTH,
  sequences: SEQUENCES,
  cases: [{
    id: 'llama4', spec: (t, o) => llama4ModelSpec(SHAPE, t, o), mixes: ['F16', 'Q8_0', 'Q4_K_M'],
    note: `${SHAPE.n_expert_used} of ${SHAPE.n_expert} experts + shared every ${SHAPE.moe_step} layers, no rope on layer 3`,
  }],
  // on the 64-token sequence: each misses by far more than tenfold there
  broken: [
    { what: 'rope on every layer', build: llama4Graph({ ...LLAMA4, noRopeLayers: false }), sequences: [SEQUENCES[0]!] },
    { what: 'experts\' output weighted', build: llama4Graph({ ...LLAMA4, weightBeforeFfn: false }), sequences: [SEQUENCES[0]!] },
  ],
  bitExact: { on: 'llama4:Q4_K_M', tokens: 40 },
});
const rows = oracle.rows;

// the long sequence runs on a narrower model (8k positions three times), whose
// global layer attends sharply enough for the temperature to show
const LONG_SHAPE = { ...SHAPE, n_embd: 64, n_head: 2, n_head_kv: 1, head_dim: 16, n_ff: 128, n_ff_exp: 64, globalQScale: 6 };

/** Stats over positions TAIL..end of the long sequence. */
async function tailStats(path: string, theirs: Map<number, number>[], build?: BuildGraph): Promise<DistributionStats> {
  const model = await loadModel(path, build ? { buildGraph: build } : {});
  try {
    // batches of 256: a quarter of the graph runs of n_batch 32 over 8k tokens (a batch gives the bits of token by token)
    const ctx = model.createContext({ contextSize: LONG.length, batchSize: 256 });
    const nVocab = model.hparams.n_vocab;
    const logits = ctx.evaluate(LONG, { allLogits: true });
    ctx.dispose();
    return compareDistributions(logits.subarray(TAIL * nVocab), nVocab, theirs);
  } finally {
    model.dispose();
  }
}

test(`past the ${LLAMA4_CHUNK}-token chunk (F16): chunked attention and the temperature match llama.cpp; without them, tenfold off`, async () => {
  const path = join(oracle.dir, 'llama4-long-F16.gguf');
  await writeGGUF(path, mixSpec((t, o) => llama4ModelSpec(LONG_SHAPE, t, o), 'F16', SYNTH));
  await withLlamaCpp(path, async (llama) => {
    const theirs = await llamaCppProbabilities(llama, LONG, LONG.length, {}, TAIL);
    const s = await tailStats(path, theirs);
    rows.push(statsRow('llama4 long F16', s, `positions ${TAIL}..${LONG.length - 1}`));
    assertMatches('llama4 past the chunk', s);
    assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
    const noChunks = await tailStats(path, theirs, llama4Graph({ ...LLAMA4, chunked: false }));
    rows.push(statsRow('broken: no chunking', noChunks, `positions ${TAIL}..${LONG.length - 1}`));
    assertBroken('no chunking', noChunks);
    // below 16k positions the temperature is 1 + 0.1 ln 2 on one layer in four: without it
    // the tail misses by far more than rounding, but stays under the quantized types' bound
    const noTemp = await tailStats(path, theirs, llama4Graph({ ...LLAMA4, temperature: false }));
    rows.push(statsRow('broken: no temperature', noTemp, `positions ${TAIL}..${LONG.length - 1}, vs ${s.meanKL.toExponential(1)} with it`));
    assert.ok(noTemp.meanKL >= 10 * Math.max(s.meanKL, 1e-6), `no temperature: mean KL ${noTemp.meanKL} is not 10x the correct graph's ${s.meanKL}`);
  });
});

test.run();
