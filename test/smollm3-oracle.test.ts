// SmolLM3 with random weights: next-token distributions here and in
// llama.cpp (node-llama-cpp) on the very same GGUF file, in F16, Q8_0 and
// Q4_K_M; one batch gives the bits of token by token, 1/2/3 threads the
// same bits; and a graph that ropes every layer (missing SmolLM3's NoPE
// layers) misses the bound by far. (helpers/arch-oracle.ts runs them.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LLAMA_SHAPES, llamaModelSpec, type LlamaShape } from '../formats/synthetic/llama.js';
import { ROPE_NORM, ropeParams } from '../runtime/arch/blocks.js';
import type { BuildGraph } from '../runtime/arch/context.js';
import { buildDecoder } from '../runtime/arch/decoder.js';
import { smollm3UsesRope } from '../runtime/arch/smollm3.js';
import { declareArchOracle, randomSequences } from './helpers/arch-oracle.js';

// Four layers amplify the activation-rounding flips of quantized types
// more than llama-oracle's two: blocks move the residual stream by a quarter
// of the embedding's scale (as moe-oracle). An untied head and rope base
// 1e4 (SmolLM3's 5e6 barely turns most of a 32-wide head over 100
// positions) make the NoPE layer's absence show; the tied head, as the real
// model has it, is its own case (it needs the blocks to outweigh each
// token's own embedding, as llama-oracle's tied cases).
const real = LLAMA_SHAPES['test-smollm3']!;
const shape: LlamaShape = { ...real, tied: false, rope_freq_base: 10000 };

test('the test shape has a NoPE layer (layer 3 of 4) beside roped ones', () => {
  assert.equal([0, 1, 2, 3].map((il) => smollm3UsesRope(il)), [true, true, true, false]);
});

/** SmolLM3 as plain llama: rope on every layer. */
const ropeEveryLayer: BuildGraph = (c) => {
  const rope = ropeParams(c, ROPE_NORM);
  return buildDecoder(c, { attention: () => ({ rope }) });
};

declareArchOracle({
  title: 'smollm3',
  synth: { seed: 23, logitStd: 6, blockOutScale: 0.25 },
  sequences: randomSequences(20261201, [64, 100], shape.n_vocab),
  cases: [
    { id: 'smollm3', spec: (t, o) => llamaModelSpec(shape, t, o), mixes: ['F16', 'Q8_0', 'Q4_K_M'], note: 'GQA 8/2, no rope on layer 3' },
    { id: 'smollm3-tied', spec: (t, o) => llamaModelSpec(real, t, o), mixes: ['F16'], note: 'tied head, rope base 5e6 (the real model\'s)', synth: { seed: 23, logitStd: 3, blockOutScale: 4 } },
  ],
  broken: [{ what: 'rope on every layer', build: ropeEveryLayer, on: 'smollm3:Q8_0' }],
  bitExact: { on: 'smollm3:Q4_K_M', tokens: 40 },
});

test.run();
