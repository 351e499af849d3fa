// End to end for the grid i-quants: random-weight models whose every matrix
// (token embeddings, attention, feed-forward, output head; a MoE model's
// experts) is IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S or IQ1_M,
// quantized with an imatrix of ones by the C quantizers `run-gguf quantize`
// uses (whose bytes are ggml's: quant-iq-grid-quantize.test.ts; ggml's own
// would first spend seconds building its grid tables), run here and in
// llama.cpp (node-llama-cpp) on the same file: next-token distributions
// within the bounds (mean KL, argmax agreement).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import { GGMLType, ggmlTypeInfo } from '../formats/ggml-types.js';
import { LlamaFileType, writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { MOE_SHAPES, moeModelSpec } from '../formats/synthetic/moe.js';
import { assertMatches, compareFile, randomSequences, statsRow, withLlamaCpp } from './helpers/arch-oracle.js';
import { WasmQuantizer } from '../runtime/quantize/wasm-quantizer.js';
import { requantizeSpec, type ChunkQuantizer } from './helpers/ggml-requantize.js';

const T = GGMLType;
const F = LlamaFileType;
// llama-oracle.test.ts's settings for the same shape
const SYNTH = { logitStd: 9, blockOutScale: 0.35 };
const CASES: [GGMLType, LlamaFileType][] = [
  [T.IQ2_XXS, F.MOSTLY_IQ2_XXS], [T.IQ2_XS, F.MOSTLY_IQ2_XS], [T.IQ2_S, F.MOSTLY_IQ2_S],
  [T.IQ3_XXS, F.MOSTLY_IQ3_XXS], [T.IQ3_S, F.MOSTLY_IQ3_S], [T.IQ1_S, F.MOSTLY_IQ1_S], [T.IQ1_M, F.MOSTLY_IQ1_M],
];
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-iq-grid-'));
const base = LLAMA_SHAPES['test-tiny']!;
// a 40-token sequence and one longer than our n_batch (32): batches and single tokens
const SEQUENCES = randomSequences(20261201, [40, 70], base.n_vocab);
const rows: string[] = [];

let quantizer: ChunkQuantizer;
test.before(async () => {
  const fast = await WasmQuantizer.load();
  quantizer = { quantizeChunk: (t, x, n, w) => fast.quantize(t, x, n, w) };
});

for (const [type, fileType] of CASES) {
  const name = ggmlTypeInfo(type)!.name.toUpperCase();
  test(`llama ${name} (every matrix, embeddings and head included): next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `llama-${name}.gguf`);
    await writeGGUF(path, await requantizeSpec(llamaModelSpec(base, T.F32, { seed: 7, ...SYNTH, fileType }), type, quantizer));
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`llama ${name}`, s));
    assertMatches(`llama ${name}`, s);
  });
}

// one MoE model: the experts' kernels (mat_rows_id) are the same macro for every type
for (const [type, fileType] of [[T.IQ2_XXS, F.MOSTLY_IQ2_XXS]] as const) {
  const name = ggmlTypeInfo(type)!.name.toUpperCase();
  test(`mixtral ${name} experts: next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `mixtral-${name}.gguf`);
    const spec = moeModelSpec(MOE_SHAPES['mixtral-tiny']!, T.F32, { seed: 11, logitStd: 9, blockOutScale: 0.25, fileType });
    await writeGGUF(path, await requantizeSpec(spec, type, quantizer));
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`mixtral ${name}`, s));
    assertMatches(`mixtral ${name}`, s);
  });
}

test.after(() => {
  if (rows.length) console.log(`\n  grid i-quants vs llama.cpp (${SEQUENCES.map((q) => q.length).join('- and ')}-token sequences):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
