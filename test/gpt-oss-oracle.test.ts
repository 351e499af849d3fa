// gpt-oss with random weights (formats/synthetic/gpt-oss.ts): every
// position's next-token distribution here and in llama.cpp (node-llama-cpp,
// flash attention off) on the same file, in F16, Q8_0 and Q4_K_M (the
// released files' MXFP4 experts come with the MXFP4 kernels). Each thing
// that makes gpt-oss differ from the MoE decoders before it is switched off
// in a broken variant that must miss the bound tenfold: the attention sinks,
// the sliding window of alternate layers (a 300-token sequence passes the
// 128-token window), swiglu_oai, and the top-k-then-softmax gating. A batch
// gives the bits of token by token, and 1, 2 and 3 threads the same bits.
// (helpers/arch-oracle.ts runs them.)
import { test } from 'uvu';
import { GPT_OSS_SHAPES, gptOssModelSpec } from '../formats/synthetic/gpt-oss.js';
import { GPT_OSS, gptOssGraph } from '../runtime/arch/gpt-oss.js';
import { declareArchOracle, randomSequences } from './helpers/arch-oracle.js';

const SHAPE = GPT_OSS_SHAPES['gpt-oss-tiny']!;
// one sequence inside the window, one well past it (positions 128..299 see only the last 128 on sliding layers)
const SEQUENCES = randomSequences(20261127, [64, 300], SHAPE.n_vocab);
const [SHORT, LONG] = [[SEQUENCES[0]!], [SEQUENCES[1]!]];

declareArchOracle({
  title: 'gpt-oss',
  synth: { seed: 11, logitStd: 9, blockOutScale: 0.25 },
  sequences: SEQUENCES,
  cases: [{ id: 'gpt-oss', spec: (t, o) => gptOssModelSpec(SHAPE, t, o), mixes: ['F16', 'Q8_0', 'Q4_K_M'], note: `${SHAPE.n_expert_used} of ${SHAPE.n_expert} experts, window ${SHAPE.n_swa}` }],
  // each on the sequence where its feature acts: the window only past 128 tokens
  broken: [
    { what: 'no attention sinks', build: gptOssGraph({ ...GPT_OSS, sinks: false }), sequences: SHORT },
    { what: 'no sliding window', build: gptOssGraph({ ...GPT_OSS, slidingWindow: false }), sequences: LONG },
    { what: 'plain SwiGLU for swiglu_oai', build: gptOssGraph({ ...GPT_OSS, swigluOai: false }), sequences: SHORT },
    { what: 'softmax then top-k gating', build: gptOssGraph({ ...GPT_OSS, softmaxWeight: false }), sequences: SHORT },
  ],
  // past the window
  bitExact: { on: 'gpt-oss:Q4_K_M', tokens: 150, contextSize: 256 },
});

test.run();
