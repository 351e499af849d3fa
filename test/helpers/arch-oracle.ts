// The comparison every architecture's oracle test makes: write a random
// model, evaluate token sequences here and in llama.cpp (node-llama-cpp) on
// that same file, and bound the per-position KL divergence and argmax
// agreement. Architecture tests (llama-oracle, qwen, gemma, phi...) share it.
import * as assert from 'uvu/assert';
import type { LlamaModel } from 'node-llama-cpp';
import { GGMLType } from '../../formats/ggml-types.js';
import type { GGUFWriteSpec } from '../../formats/gguf/index.js';
import { quantMixFor } from '../../formats/synthetic/mix.js';
import type { SyntheticOptions } from '../../formats/synthetic/tensors.js';
import type { BuildGraph } from '../../runtime/arch/context.js';
import { loadModel } from '../../runtime/index.js';
import { compareDistributions, llamaCppProbabilities, poolStats, type DistributionStats } from './compare.js';
import { oracle } from './oracle.js';
import { mulberry32 } from './rng.js';

/** The bounds: mean KL(llama.cpp || ours) and argmax agreement over all positions. */
export const KL_BOUND = 1e-3;
export const ARGMAX_BOUND = 0.98;
/** Our n_batch in these comparisons: longer sequences are evaluated in several batches. */
export const OUR_BATCH = 32;

/** Sequences of the given lengths: BOS (id 1), then ids in [3, nVocab) drawn from one seeded stream. */
export function randomSequences(seed: number, lengths: number[], nVocab: number, bos = 1): number[][] {
  const rand = mulberry32(seed);
  return lengths.map((n) => [bos, ...Array.from({ length: n - 1 }, () => 3 + Math.floor(rand() * (nVocab - 3)))]);
}

/** Our logits at every position of `tokens` (one row of n_vocab per token). */
export async function ourLogits(path: string, tokens: number[], build?: BuildGraph, contextSize = 512): Promise<{ logits: Float32Array; nVocab: number }> {
  const model = await loadModel(path, build ? { buildGraph: build } : {});
  try {
    const ctx = model.createContext({ contextSize, batchSize: OUR_BATCH });
    const logits = ctx.evaluate(tokens, { allLogits: true });
    ctx.dispose();
    return { logits, nVocab: model.hparams.n_vocab };
  } finally {
    model.dispose();
  }
}

/** Pooled stats over `sequences`, our graph (or `build`) against llama.cpp's on the file at `path`. */
export async function compareFile(path: string, llama: LlamaModel, sequences: number[][], build?: BuildGraph): Promise<DistributionStats> {
  const stats: DistributionStats[] = [];
  const contextSize = Math.max(512, ...sequences.map((s) => s.length));
  for (const seq of sequences) {
    const theirs = await llamaCppProbabilities(llama, seq, contextSize);
    const { logits, nVocab } = await ourLogits(path, seq, build, contextSize);
    stats.push(compareDistributions(logits, nVocab, theirs));
  }
  return poolStats(stats);
}

/** Loads `path` in llama.cpp, runs fn, disposes. */
export async function withLlamaCpp<T>(path: string, fn: (llama: LlamaModel) => Promise<T>): Promise<T> {
  const llama = await (await oracle()).loadModel({ modelPath: path });
  try {
    return await fn(llama);
  } finally {
    await llama.dispose();
  }
}

/** One line of the summary table a test prints after its cases. */
export function statsRow(label: string, s: DistributionStats, note = ''): string {
  return `  ${label.padEnd(16)} KL mean ${s.meanKL.toExponential(2)} max ${s.maxKL.toExponential(2)}  argmax ${(100 * s.argmaxAgreement).toFixed(1)}%  entropy ${s.meanEntropy.toFixed(2)}  ${note}`;
}

/** The acceptance: within the bounds, on distributions peaked enough to mean something. */
export function assertMatches(label: string, s: DistributionStats, maxEntropy = 4): void {
  assert.ok(s.meanKL <= KL_BOUND, `${label}: mean KL ${s.meanKL} > ${KL_BOUND}`);
  assert.ok(s.argmaxAgreement >= ARGMAX_BOUND, `${label}: argmax agreement ${s.argmaxAgreement} < ${ARGMAX_BOUND}`);
  assert.ok(s.meanEntropy < maxEntropy, `${label}: distributions are not peaked (entropy ${s.meanEntropy})`);
}

/** A broken graph must miss by far: proves the comparison can fail. */
export function assertBroken(label: string, s: DistributionStats): void {
  assert.ok(s.meanKL >= 10 * KL_BOUND, `${label}: mean KL ${s.meanKL} is not 10x the bound`);
}

/**
 * The write spec of `model` in a llama-quantize file type ("F16", "Q8_0",
 * "Q4_K_M": each tensor in the type llama-quantize would give it) or a bare
 * ggml type name, with the given synthetic options.
 */
export function mixSpec(model: (type: GGMLType, o: SyntheticOptions) => GGUFWriteSpec, mixName: string, o: SyntheticOptions): GGUFWriteSpec {
  const mix = quantMixFor(mixName, model(GGMLType.F32, {}));
  return model(mix.base, { ...o, matrixType: mix.matrixType, fileType: mix.fileType });
}

/**
 * The largest difference between the logits of `tokens` evaluated in one
 * batch and token by token (batch size 1), over every position; 0 when a
 * batch gives the bits of token by token, as the numerics contract says.
 */
export async function batchVsTokenByToken(path: string, tokens: number[], build?: BuildGraph): Promise<number> {
  const model = await loadModel(path, build ? { buildGraph: build } : {});
  try {
    const batch = model.createContext({ contextSize: 128, batchSize: OUR_BATCH });
    const all = batch.evaluate(tokens, { allLogits: true });
    batch.dispose();
    const one = model.createContext({ contextSize: 128, batchSize: 1 });
    const nV = model.hparams.n_vocab;
    let maxDiff = 0;
    for (let i = 0; i < tokens.length; i++) {
      const l = one.evaluate([tokens[i]!]);
      for (let j = 0; j < nV; j++) maxDiff = Math.max(maxDiff, Math.abs(l[j]! - all[i * nV + j]!));
    }
    one.dispose();
    return maxDiff;
  } finally {
    model.dispose();
  }
}

/**
 * Asserts the numerics contract on `tokens`: the logits of every position
 * evaluated in batches of OUR_BATCH are the same bits on 1, 2 and 3 threads,
 * and the same bits as evaluating token by token (batch size 1).
 */
export async function assertIdenticalAcrossBatchAndThreads(path: string, tokens: number[], build?: BuildGraph): Promise<void> {
  const model = await loadModel(path, build ? { buildGraph: build } : {});
  const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  try {
    const nV = model.hparams.n_vocab;
    const byThreads: Float32Array[] = [];
    for (const threads of [1, 2, 3]) {
      const ctx = model.createContext({ contextSize: 128, batchSize: OUR_BATCH, threads });
      byThreads.push(ctx.evaluate(tokens, { allLogits: true }));
      ctx.dispose();
    }
    for (const [i, l] of byThreads.entries()) assert.ok(bits(l).equals(bits(byThreads[0]!)), `${i + 1} threads differ from 1`);
    const one = model.createContext({ contextSize: 128, batchSize: 1, threads: 2 });
    for (let i = 0; i < tokens.length; i++) {
      const l = one.evaluate([tokens[i]!]);
      assert.ok(bits(l).equals(bits(byThreads[0]!.subarray(i * nV, (i + 1) * nV))), `token ${i}: token-by-token logits differ from the batch's`);
    }
    one.dispose();
  } finally {
    model.dispose();
  }
}
