// ERNIE 4.5, dense (ernie4_5) and MoE (ernie4_5-moe), with random weights:
// next-token distributions here and in llama.cpp (node-llama-cpp) on the
// very same GGUF file, in F16, Q8_0 and Q4_K_M; one batch gives the bits of
// token by token, 1/2/3 threads the same bits; broken graphs miss the bound by far: the dense file's
// attn_output.bias added (llama.cpp loads it and never adds it), the MoE
// model's shared expert dropped, its selection bias (exp_probs_b) ignored.
// (helpers/arch-oracle.ts runs them.)
import { test } from 'uvu';
import { ERNIE_SHAPES, ernieModelSpec, type ErnieShape } from '../formats/synthetic/ernie.js';
import { ROPE_NORM, ropeParams } from '../runtime/arch/blocks.js';
import { buildDecoder } from '../runtime/arch/decoder.js';
import { buildErnie45Moe } from '../runtime/arch/ernie4_5.js';
import { moeOrDense } from '../runtime/arch/ffn.js';
import { declareArchOracle, randomSequences } from './helpers/arch-oracle.js';

const MIXES = ['F16', 'Q8_0', 'Q4_K_M'];
// untied (the tied head is the shared outputHead llama-oracle tests); the dense
// file carries the attn_output.bias llama.cpp loads and leaves out
const dense: ErnieShape = { ...ERNIE_SHAPES['test-ernie4_5']!, tied: false, outputBias: true };
const moe: ErnieShape = ERNIE_SHAPES['test-ernie4_5-moe']!;

declareArchOracle({
  title: 'ERNIE 4.5',
  // Blocks moving the residual stream by 0.15 of the embedding's scale: less than
  // moe-oracle's 0.25, as the selection bias puts more tokens near a tie between
  // two experts, where quantized types' rounding flips the choice.
  synth: { seed: 37, logitStd: 9, blockOutScale: 0.15 },
  sequences: randomSequences(20261203, [64, 100], 512),
  cases: [
    { id: 'ernie4_5', spec: (t, o) => ernieModelSpec(dense, t, o), mixes: MIXES, note: 'attn_output.bias in the file, unused' },
    { id: 'ernie4_5-moe', spec: (t, o) => ernieModelSpec(moe, t, o), mixes: MIXES, note: '1 dense layer, then 2 of 8 experts + shared, selection bias' },
  ],
  broken: [
    // llama's stack as is: linear() adds every bias the file has
    { what: 'attn_output.bias added', on: 'ernie4_5:Q8_0', build: (c) => buildDecoder(c, { attention: () => ({ rope: ropeParams(c, ROPE_NORM) }) }) },
    {
      what: 'shared expert dropped', on: 'ernie4_5-moe:Q8_0',
      build: (c) => buildDecoder(c, { attention: () => ({ rope: ropeParams(c, ROPE_NORM) }), ffn: moeOrDense({ normWeights: true }) }),
    },
    {
      what: 'exp_probs_b ignored', on: 'ernie4_5-moe:Q8_0',
      build: (c) => buildErnie45Moe({ ...c, wOpt: (name) => (name.endsWith('.exp_probs_b.bias') ? undefined : c.wOpt(name)) }),
    },
  ],
  bitExact: { on: 'ernie4_5-moe:Q4_K_M', tokens: 40 },
});

test.run();
