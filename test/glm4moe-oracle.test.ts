// glm4moe (GLM-4.5 / 4.5-Air / 4.6) with random weights: every position's
// next-token distribution here and in llama.cpp (node-llama-cpp, flash
// attention off) on the same file, in F16, Q8_0 and Q4_K_M; the file carries
// a nextn (multi-token prediction) block, which neither runs for the next
// token. Broken variants, each missing the bound tenfold: rope over the
// whole head instead of its first half, softmax routing instead of sigmoid,
// the nextn block run as one more layer. A batch gives the bits of token by
// token and 1, 2 and 3 threads the same bits. (helpers/arch-oracle.ts runs them.)
import { GLM4MOE_SHAPES, glm4moeModelSpec } from '../formats/synthetic/glm4moe.js';
import { GLM4MOE, glm4moeGraph } from '../runtime/arch/glm4moe.js';
import { test } from 'uvu';
import { declareArchOracle, randomSequences } from './helpers/arch-oracle.js';

const SHAPE = GLM4MOE_SHAPES['test-glm4moe']!;
const SEQUENCES = randomSequences(20261207, [64, 100], SHAPE.n_vocab);

declareArchOracle({
  title: 'glm4moe',
  synth: { seed: 43, logitStd: 9, blockOutScale: 0.15 },
  sequences: SEQUENCES,
  cases: [{
    id: 'glm4moe', spec: (t, o) => glm4moeModelSpec(SHAPE, t, o), mixes: ['F16', 'Q8_0', 'Q4_K_M'],
    note: `${SHAPE.n_expert_used} of ${SHAPE.n_expert} experts + shared, rope ${SHAPE.n_rot}/${SHAPE.head_dim}, nextn block`,
  }],
  // on the 64-token sequence: each misses by far more than tenfold there
  broken: [
    { what: 'rope over the whole head', build: glm4moeGraph({ ...GLM4MOE, partialRope: false }), sequences: [SEQUENCES[0]!] },
    { what: 'softmax routing for sigmoid', build: glm4moeGraph({ ...GLM4MOE, sigmoid: false }), sequences: [SEQUENCES[0]!] },
    { what: 'nextn block run as a layer', build: glm4moeGraph({ ...GLM4MOE, skipNextn: false }), sequences: [SEQUENCES[0]!] },
  ],
  bitExact: { on: 'glm4moe:Q4_K_M', tokens: 40 },
});

test.run();
