// The comparison every architecture's oracle test makes: write a random
// model, evaluate token sequences here and in llama.cpp (node-llama-cpp) on
// that same file, and bound the per-position KL divergence and argmax
// agreement. Architecture tests (llama-oracle, qwen, gemma, phi...) share it;
// declareArchOracle() registers the tests most of them make (each file
// declares its architecture's files, broken variants and bit-exact check).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaModel } from 'node-llama-cpp';
import { GGMLType } from '../../formats/ggml-types.js';
import { writeGGUF, type GGUFWriteSpec } from '../../formats/gguf/index.js';
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

// llama.cpp's distributions per file (as written: path, size and time) and
// sequence: a file's broken variants are compared with the same
// distributions its correct graph was, without running llama.cpp again
const theirCache = new Map<string, Map<number, number>[]>();

/** Pooled stats over `sequences`, our graph (or `build`) against llama.cpp's on the file at `path`. */
export async function compareFile(path: string, llama: LlamaModel | undefined, sequences: number[][], build?: BuildGraph): Promise<DistributionStats> {
  const stats: DistributionStats[] = [];
  const contextSize = Math.max(512, ...sequences.map((s) => s.length));
  const model = await loadModel(path, build ? { buildGraph: build } : {});
  try {
    for (const seq of sequences) {
      const st = statSync(path);
      const key = `${path}\0${st.size}\0${st.mtimeMs}\0${contextSize}\0${seq.join(',')}`;
      let theirs = theirCache.get(key);
      if (!theirs) {
        theirs = llama ? await llamaCppProbabilities(llama, seq, contextSize) : await withLlamaCpp(path, (l) => llamaCppProbabilities(l, seq, contextSize));
        theirCache.set(key, theirs);
      }
      const ctx = model.createContext({ contextSize, batchSize: OUR_BATCH });
      const logits = ctx.evaluate(seq, { allLogits: true });
      ctx.dispose();
      stats.push(compareDistributions(logits, model.hparams.n_vocab, theirs));
    }
  } finally {
    model.dispose();
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

const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Asserts 1, 2 and 3 threads give the same bits over `tokens` (batches of OUR_BATCH); returns the logits. */
export async function assertThreadsAgree(path: string, tokens: number[], contextSize = 128): Promise<Float32Array> {
  const model = await loadModel(path);
  try {
    const byThreads: Float32Array[] = [];
    for (const threads of [1, 2, 3]) {
      const ctx = model.createContext({ contextSize, batchSize: OUR_BATCH, threads });
      byThreads.push(ctx.evaluate(tokens, { allLogits: true }));
      ctx.dispose();
    }
    for (const [i, l] of byThreads.entries()) assert.ok(same(l, byThreads[0]!), `${i + 1} threads differ from 1`);
    return byThreads[0]!;
  } finally {
    model.dispose();
  }
}

/**
 * Asserts the numerics contract on `tokens`: 1, 2 and 3 threads give the
 * same bits for a batch (n_batch OUR_BATCH), and token by token (2 threads)
 * gives the batch's bits at every position.
 */
export async function assertBitExact(path: string, tokens: number[], contextSize = 128): Promise<void> {
  const batch = await assertThreadsAgree(path, tokens, contextSize);
  const model = await loadModel(path);
  try {
    const nV = model.hparams.n_vocab;
    const one = model.createContext({ contextSize, batchSize: 1, threads: 2 });
    try {
      for (let i = 0; i < tokens.length; i++) {
        assert.ok(same(one.evaluate([tokens[i]!]), batch.subarray(i * nV, (i + 1) * nV)), `token ${i}: token-by-token logits differ from the batch's`);
      }
    } finally {
      one.dispose();
    }
  } finally {
    model.dispose();
  }
}

/** One random-weight file family of an architecture (a synthetic generator with its shape bound). */
export interface OracleCase {
  id: string;
  spec: (type: GGMLType, o: SyntheticOptions) => GGUFWriteSpec;
  /** File types compared with llama.cpp (F16 is held to rounding level, KL < 1e-5). */
  mixes: readonly string[];
  note?: string;
  /** This case's synthetic options, if not the declaration's. */
  synth?: SyntheticOptions;
}

/** A graph with one defining feature removed: it must miss the KL bound tenfold. */
export interface BrokenVariant {
  what: string;
  build: BuildGraph;
  /** The file it runs on ('id:MIX'); default the first case's first mix. */
  on?: string;
  /** Default: all of the declaration's sequences. */
  sequences?: number[][];
}

export interface ArchOracleDecl {
  /** The summary table's title. */
  title: string;
  synth: SyntheticOptions;
  sequences: number[][];
  cases: readonly OracleCase[];
  broken?: readonly BrokenVariant[];
  /** Batch equals token by token and 1/2/3 threads agree, on file `on` ('id:MIX', written if not compared) over `tokens` tokens of the last sequence. */
  bitExact?: { on: string; tokens: number; contextSize?: number };
}

export interface ArchOracle {
  rows: string[];
  dir: string;
  /** The file of case `id` in `mix` ('id:MIX'), written on first use. */
  file(key: string): Promise<string>;
}

/**
 * Registers an architecture's oracle tests: each case in each mix against
 * llama.cpp, the broken variants, the bit-exact check, and (after every test,
 * the file's own included) the summary table. Returns what the file's own
 * tests need.
 */
export function declareArchOracle(d: ArchOracleDecl): ArchOracle {
  const dir = mkdtempSync(join(tmpdir(), 'run-gguf-oracle-'));
  const rows: string[] = [];
  const written = new Map<string, Promise<string>>();
  const file = (key: string): Promise<string> => {
    let p = written.get(key);
    if (!p) {
      const [id, mix] = key.split(':') as [string, string];
      const c = d.cases.find((x) => x.id === id);
      if (!c || !mix) throw new Error(`no case ${key}`);
      const path = join(dir, `${id}-${mix}.gguf`);
      p = writeGGUF(path, mixSpec(c.spec, mix, c.synth ?? d.synth)).then(() => path);
      written.set(key, p);
    }
    return p;
  };

  for (const c of d.cases) {
    for (const mix of c.mixes) {
      test(`${c.id} ${mix}: next-token distributions match llama.cpp`, async () => {
        const path = await file(`${c.id}:${mix}`);
        const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, d.sequences));
        rows.push(statsRow(`${c.id} ${mix}`, s, c.note ?? ''));
        assertMatches(`${c.id} ${mix}`, s);
        if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
      });
    }
  }

  if (d.broken?.length) {
    const first = `${d.cases[0]!.id}:${d.cases[0]!.mixes[0]}`;
    test(`broken variants (${d.broken.map((b) => b.what).join('; ')}) exceed the KL bound at least tenfold`, async () => {
      for (const b of d.broken!) {
        const path = await file(b.on ?? first);
        const s = await compareFile(path, undefined, b.sequences ?? d.sequences, b.build);
        rows.push(statsRow(`broken: ${b.what}`, s, b.on ?? first));
        assertBroken(b.what, s);
      }
    });
  }

  if (d.bitExact) {
    const { on, tokens, contextSize } = d.bitExact;
    test(`a batch gives the bits of token by token; 1, 2 and 3 threads give the same bits (${on}, ${tokens} tokens)`, async () => {
      await assertBitExact(await file(on), d.sequences[d.sequences.length - 1]!.slice(0, tokens), contextSize);
      rows.push(`  batch (n_batch ${OUR_BATCH}) vs token by token and 1/2/3 threads, ${tokens} tokens (${on}): identical bits`);
    });
  }

  test.after(() => {
    console.log(`\n  ${d.title} next-token distributions vs llama.cpp (${d.sequences.map((q) => q.length).join(' and ')}-token sequences, n_batch ${OUR_BATCH}):`);
    for (const r of rows) console.log(r);
    rmSync(dir, { recursive: true, force: true });
  });
  return { rows, dir, file };
}
