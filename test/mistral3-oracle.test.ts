// Mistral 3 (llama.cpp's "mistral3": Ministral 3, Mistral Small 3.x) with
// random weights: next-token distributions here and in llama.cpp
// (node-llama-cpp) on the very same GGUF file, in F16, Q8_0 and Q4_K_M, with
// what distinguishes it from llama switched on: llama 4's attention
// temperature (original context 32, so it steps up three times within 100
// positions) and yarn x16 with yarn_log_multiplier 1. One batch gives the
// bits of token by token, 1/2/3 threads the same bits; graphs without the temperature, or without the
// log multiplier's attention factor, miss the bound by far. (helpers/arch-oracle.ts runs them.)
import { test } from 'uvu';
import { LLAMA_SHAPES, llamaModelSpec, type LlamaShape } from '../formats/synthetic/llama.js';
import type { BuildContext, BuildGraph } from '../runtime/arch/context.js';
import { buildMistral3 } from '../runtime/arch/mistral3.js';
import { declareArchOracle, randomSequences } from './helpers/arch-oracle.js';

// Untied here (the tied head is the shared outputHead llama-oracle tests), and a
// temperature of 0.6 instead of the real 0.1: random q and k have far smaller
// dot products than trained ones, so 0.1's sharpening would hardly show.
const real = LLAMA_SHAPES['test-mistral3']!;
const shape: LlamaShape = { ...real, tied: false, mistral3: { ...real.mistral3, temperatureScale: 0.6 } };
const hp = (change: Partial<BuildContext['hp']>): BuildGraph => (c) => buildMistral3({ ...c, hp: { ...c.hp, ...change } });

declareArchOracle({
  title: 'mistral3',
  // As llama-oracle: peaked distributions, blocks moving the residual stream by a third of the embedding's scale
  synth: { seed: 31, logitStd: 9, blockOutScale: 0.35 },
  sequences: randomSequences(20261202, [64, 100], shape.n_vocab),
  cases: [{ id: 'mistral3', spec: (t, o) => llamaModelSpec(shape, t, o), mixes: ['F16', 'Q8_0', 'Q4_K_M'], note: 'temperature 0.6 / 32, yarn x16 log_mul 1' }],
  // on both sequences: the temperature steps up at positions 32, 64 and 96
  broken: [
    { what: 'no attention temperature', build: hp({ f_attn_temp_scale: 0 }), on: 'mistral3:Q8_0' },
    { what: 'yarn_log_multiplier ignored', build: hp({ yarn_attn_factor: 1 }), on: 'mistral3:Q8_0' },
  ],
  // past two of the temperature's steps
  bitExact: { on: 'mistral3:Q4_K_M', tokens: 80 },
});

test.run();
