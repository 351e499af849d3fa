// gpt-oss with random weights (formats/synthetic/gpt-oss.ts): every
// position's next-token distribution here and in llama.cpp (node-llama-cpp,
// flash attention off) on the same file, in F16, Q8_0 and Q4_K_M (the
// released files' MXFP4 experts come with the MXFP4 kernels). Each thing
// that makes gpt-oss differ from the MoE decoders before it is switched off
// in a broken variant that must miss the bound tenfold: the attention sinks,
// the sliding window of alternate layers (a 300-token sequence passes the
// 128-token window), swiglu_oai, and the top-k-then-softmax gating. A batch
// gives the bits of token by token, and 1, 2 and 3 threads the same bits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { GPT_OSS_SHAPES, gptOssModelSpec } from '../formats/synthetic/gpt-oss.js';
import { quantMixFor } from '../formats/synthetic/mix.js';
import type { SyntheticOptions } from '../formats/synthetic/tensors.js';
import { GPT_OSS, gptOssGraph, type GptOssOptions } from '../runtime/arch/gpt-oss.js';
import { loadModel } from '../runtime/index.js';
import { assertBroken, assertMatches, compareFile, OUR_BATCH, randomSequences, statsRow, withLlamaCpp } from './helpers/arch-oracle.js';

const SHAPE = GPT_OSS_SHAPES['gpt-oss-tiny']!;
const SYNTH: SyntheticOptions = { seed: 11, logitStd: 9, blockOutScale: 0.25 };
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-gpt-oss-'));
// one sequence inside the window, one well past it (positions 128..299 see only the last 128 on sliding layers)
const SEQUENCES = randomSequences(20261127, [64, 300], SHAPE.n_vocab);
const rows: string[] = [];
const paths = new Map<string, string>();

/** Writes the model in `mix` (a llama-quantize file type, typed as llama-quantize would type it). */
async function write(mix: string): Promise<string> {
  const m = quantMixFor(mix, gptOssModelSpec(SHAPE, GGMLType.F32));
  const path = join(dir, `gpt-oss-tiny-${mix}.gguf`);
  await writeGGUF(path, gptOssModelSpec(SHAPE, m.base, { ...SYNTH, matrixType: m.matrixType, fileType: m.fileType }));
  paths.set(mix, path);
  return path;
}

for (const mix of ['F16', 'Q8_0', 'Q4_K_M']) {
  test(`gpt-oss ${mix}: next-token distributions match llama.cpp`, async () => {
    const path = await write(mix);
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`gpt-oss ${mix}`, s, `${SHAPE.n_expert_used} of ${SHAPE.n_expert} experts, window ${SHAPE.n_swa}`));
    assertMatches(`gpt-oss ${mix}`, s);
    // F16 leaves only float rounding between the two: a wrong sink, mask or gate would show
    if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
  });
}

const BROKEN: { what: string; off: Partial<GptOssOptions> }[] = [
  { what: 'no attention sinks', off: { sinks: false } },
  { what: 'no sliding window', off: { slidingWindow: false } },
  { what: 'plain SwiGLU for swiglu_oai', off: { swigluOai: false } },
  { what: 'softmax then top-k gating', off: { softmaxWeight: false } },
];

test('broken variants (sinks, window, swiglu_oai, gating each undone) exceed the KL bound at least tenfold', async () => {
  const path = paths.get('F16');
  assert.ok(path, 'the F16 model was written above');
  await withLlamaCpp(path!, async (llama) => {
    for (const b of BROKEN) {
      const s = await compareFile(path!, llama, SEQUENCES, gptOssGraph({ ...GPT_OSS, ...b.off }));
      rows.push(statsRow(`broken: ${b.what}`, s));
      assertBroken(b.what, s);
    }
  });
});

test('a batch gives the bits of token by token, past the window; 1, 2 and 3 threads give the same bits (Q4_K_M)', async () => {
  const path = paths.get('Q4_K_M');
  assert.ok(path, 'the Q4_K_M model was written above');
  const model = await loadModel(path!);
  try {
    const tokens = SEQUENCES[1]!.slice(0, 150);
    const nV = model.hparams.n_vocab;
    const byThreads: Float32Array[] = [];
    for (const threads of [1, 2, 3]) {
      const ctx = model.createContext({ contextSize: 256, batchSize: OUR_BATCH, threads });
      byThreads.push(ctx.evaluate(tokens, { allLogits: true }));
      ctx.dispose();
    }
    for (const [i, l] of byThreads.entries()) assert.ok(Buffer.from(l.buffer).equals(Buffer.from(byThreads[0]!.buffer)), `${i + 1} threads differ from 1`);
    const one = model.createContext({ contextSize: 256, batchSize: 1, threads: 2 });
    for (let i = 0; i < tokens.length; i++) {
      const l = one.evaluate([tokens[i]!]);
      const batch = byThreads[0]!.subarray(i * nV, (i + 1) * nV);
      assert.ok(Buffer.from(l.buffer, l.byteOffset, l.byteLength).equals(Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength)), `token ${i}: token-by-token logits differ from the batch's`);
    }
    one.dispose();
  } finally {
    model.dispose();
  }
});

test.after(() => {
  console.log(`\n  gpt-oss next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join('- and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
