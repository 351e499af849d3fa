// llama-bench's method on a run-gguf model. Per test: a fresh context of
// n_prompt + n_gen cells; one untimed warm-up run (a whole prompt, or one
// generated token); then each repetition clears the KV cache and times
// - pp: a prompt of random tokens (BOS first when the model adds one) fed in
//   n_batch chunks, each evaluated in graph runs of n_ubatch tokens;
// - tg: n_gen single-token evaluations from an empty cache, each next token random.
// With a depth (-d N) each repetition first fills the cache with N random
// tokens, untimed, as llama-bench does; the test then runs on top of them.
// Throughput is tokens / time per repetition; mean and sample deviation over them.
// With n_parallel > 1 the context holds that many sequences and every step
// evaluates all of them together (context.evaluateBatch: one graph run for
// their rows), and the tokens of all count: aggregate throughput.
import { fileTypeOf, llamaFileTypeName } from '../../formats/gguf/index.js';
import type { Context } from '../context.js';
import type { Sequence } from '../sequence.js';
import { loadModel, type Model } from '../model.js';
import { Xoshiro128 } from '../sample/rng.js';
import { modelDesc } from './model-type.js';
import { testInstances, testName, type BenchParams, type TestInstance } from './params.js';

/** One finished test, under llama-bench's field names. */
export interface BenchResult {
  model_filename: string;
  model_type: string;
  /** Bytes of tensor data. */
  model_size: number;
  model_n_params: number;
  n_batch: number;
  n_ubatch: number;
  n_threads: number;
  /** Sequences evaluated together; absent: 1. */
  n_parallel?: number;
  n_prompt: number;
  n_gen: number;
  /** Tokens in the cache before the timed part (llama-bench's n_depth). */
  n_depth: number;
  /** The K cache's type (llama-bench's type_k); absent: f16. */
  type_k?: string;
  /** The V cache's type (llama-bench's type_v); absent: f16. */
  type_v?: string;
  /** When the test started, RFC 3339 UTC. */
  test_time: string;
  /** Wall time of each repetition, nanoseconds. */
  samples_ns: number[];
}

export interface BenchModelInfo {
  filename: string;
  type: string;
  size: number;
  nParams: number;
}

export function benchModelInfo(model: Model): BenchModelInfo {
  let size = 0;
  let nParams = 0;
  for (const t of model.gguf.tensors) {
    size += t.nBytes;
    nParams += t.nElements;
  }
  const hp = model.hparams;
  const ft = fileTypeOf(model.gguf);
  const fileTypeName = ft.name;
  const type = modelDesc({
    arch: hp.arch, n_layer: hp.n_layer, n_head: hp.n_head, n_head_kv: hp.n_head_kv, n_vocab: hp.n_vocab,
    nParams, fileTypeName,
  });
  return { filename: model.path, type, size, nParams };
}

/** Timestamp as llama-bench writes it: seconds, no fraction, Z. */
export function rfc3339(d = new Date()): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/** One test on one model: warm up once, then time repetitions. */
export class TestRunner {
  private readonly ctx: Context;
  private readonly sequences: Sequence[];
  private readonly rng: Xoshiro128;
  private readonly nVocab: number;
  private readonly bos: number | undefined;

  constructor(model: Model, readonly test: TestInstance, seed: number) {
    this.ctx = model.createContext({
      contextSize: test.nDepth + test.nPrompt + test.nGen, sequences: test.nParallel, batchSize: test.nUBatch, threads: test.nThreads,
      cacheTypeK: test.typeK, cacheTypeV: test.typeV,
    });
    this.sequences = Array.from({ length: test.nParallel }, () => this.ctx.createSequence());
    this.rng = new Xoshiro128(seed);
    this.nVocab = model.hparams.n_vocab;
    this.bos = model.tokenizer.addBos ? model.tokenizer.bosId : undefined;
  }

  get name(): string {
    return testName(this.test);
  }

  /** Tokens in the (first) sequence's cache now (after run(): depth + prompt + generated). */
  get position(): number {
    return this.sequences[0]!.position;
  }

  /** llama-bench's warm-up: the whole prompt, or a single generated token. */
  warmup(): void {
    this.reset();
    if (this.test.nPrompt > 0) this.prompt(this.test.nPrompt);
    if (this.test.nGen > 0) this.generate(1);
  }

  /** One timed repetition from an empty KV cache; nanoseconds. */
  run(): number {
    this.reset();
    if (this.test.nDepth > 0) this.prompt(this.test.nDepth);
    const t0 = process.hrtime.bigint();
    if (this.test.nPrompt > 0) this.prompt(this.test.nPrompt);
    if (this.test.nGen > 0) this.generate(this.test.nGen);
    return Number(process.hrtime.bigint() - t0);
  }

  dispose(): void {
    this.ctx.dispose();
  }

  private reset(): void {
    for (const s of this.sequences) s.reset();
  }

  /** One step: each sequence's own tokens, all in one evaluateBatch (one sequence: a plain evaluate). */
  private step(tokens: (i: number) => ArrayLike<number>): void {
    this.ctx.evaluateBatch(this.sequences.map((sequence, i) => ({ sequence, tokens: tokens(i) })));
  }

  private randomToken(): number {
    return this.rng.nextU32() % this.nVocab;
  }

  private prompt(n: number): void {
    const { nBatch } = this.test;
    const tokens = this.sequences.map(() => new Int32Array(Math.min(n, nBatch)));
    for (let done = 0; done < n;) {
      const nt = Math.min(n - done, nBatch);
      for (const t of tokens) {
        t[0] = done === 0 && this.position === 0 && this.bos !== undefined ? this.bos : this.randomToken();
        for (let i = 1; i < nt; i++) t[i] = this.randomToken();
      }
      this.step((s) => tokens[s]!.subarray(0, nt));
      done += nt;
    }
  }

  private generate(n: number): void {
    const tokens = this.sequences.map(() => new Int32Array([this.position === 0 && this.bos !== undefined ? this.bos : this.randomToken()]));
    for (let i = 0; i < n; i++) {
      this.step((s) => tokens[s]!);
      for (const t of tokens) t[0] = this.randomToken();
    }
  }
}

export interface BenchHooks {
  /** Each test as it finishes (print rows as they come, as llama-bench does). */
  onResult?: (r: BenchResult) => void;
  /** Progress lines ("pp512 t=2: run 3/5"). */
  onProgress?: (message: string) => void;
}

/** Runs every test of `params` on a loaded model. */
export async function benchModel(model: Model, params: BenchParams, hooks: BenchHooks = {}): Promise<BenchResult[]> {
  const info = benchModelInfo(model);
  const results: BenchResult[] = [];
  const tests = testInstances(params);
  for (const [i, test] of tests.entries()) {
    const runner = new TestRunner(model, test, params.seed + i);
    const label = `${i + 1}/${tests.length} ${runner.name} t=${test.nThreads}${test.nParallel > 1 ? ` x${test.nParallel}` : ''}`;
    const testTime = rfc3339();
    const samples: number[] = [];
    try {
      if (params.warmup) {
        hooks.onProgress?.(`${label}: warm-up`);
        runner.warmup();
      }
      for (let r = 0; r < params.reps; r++) {
        hooks.onProgress?.(`${label}: run ${r + 1}/${params.reps}`);
        samples.push(runner.run());
        // between runs, not during them: lets signals and output through
        await new Promise((res) => setImmediate(res));
      }
    } finally {
      runner.dispose();
    }
    const result: BenchResult = {
      model_filename: info.filename, model_type: info.type, model_size: info.size, model_n_params: info.nParams,
      n_batch: test.nBatch, n_ubatch: test.nUBatch, n_threads: test.nThreads, n_prompt: test.nPrompt, n_gen: test.nGen, n_depth: test.nDepth, type_k: test.typeK ?? 'f16', type_v: test.typeV ?? 'f16',
      ...(test.nParallel > 1 ? { n_parallel: test.nParallel } : {}),
      test_time: testTime, samples_ns: samples,
    };
    results.push(result);
    hooks.onResult?.(result);
  }
  return results;
}

/** The KV cells the largest test needs, over all its sequences (for loadModel's fit check). */
export function largestContext(params: BenchParams): number {
  return Math.max(1, ...testInstances(params).map((t) => (t.nDepth + t.nPrompt + t.nGen) * t.nParallel));
}

/** Loads `path` (memoryBytes: see LoadModelOptions), runs every test, frees the model. */
export async function benchFile(path: string, params: BenchParams, hooks: BenchHooks = {}, memoryBytes?: number): Promise<BenchResult[]> {
  const model = await loadModel(path, { contextSize: largestContext(params), memoryBytes, cacheTypeK: params.typeK, cacheTypeV: params.typeV });
  if (model.memories.length > 1) hooks.onProgress?.(`${path}: spread over ${model.memories.length} WebAssembly memories`);
  try {
    return await benchModel(model, params, hooks);
  } finally {
    model.dispose();
  }
}
