// What a benchmark run measures, as llama-bench's command line describes it:
// lists of prompt lengths, generation lengths and thread counts, each
// combination one test.
import { defaultThreads, type KvCacheType } from '../context.js';

export interface BenchParams {
  /** Prompt lengths (pp tests); 0 entries are skipped. llama-bench: -p, default 512. */
  nPrompt: number[];
  /** Generation lengths (tg tests); 0 entries are skipped. llama-bench: -n, default 128. */
  nGen: number[];
  /**
   * llama-bench's -d: tokens already in the KV cache when each timed run
   * starts (filled untimed), so a test measures speed deep into a long chat.
   * Default 0.
   */
  nDepth: number[];
  /** llama-bench: -t, default the machine's cores. */
  nThreads: number[];
  /**
   * Sequences evaluated together (continuous batching, context.evaluateBatch):
   * each test runs its depth, prompt and generation in every one of them at
   * once, and t/s counts the tokens of all (llama-batched-bench's -npl). Default [1].
   */
  nParallel: number[];
  /** Tokens per evaluate() call during pp (llama.cpp's n_batch). Default 2048. */
  nBatch: number;
  /** Tokens per graph run (the context's batchSize; llama.cpp's n_ubatch). Default 512. */
  nUBatch: number;
  /** The K cache's type (llama-bench -ctk). Default 'f16'. */
  typeK: KvCacheType;
  /** The V cache's type (llama-bench -ctv). Default 'f16'. */
  typeV: KvCacheType;
  /** Timed runs per test. Default 5. */
  reps: number;
  /** One untimed run first, so graphs are built and pages touched. Default true. */
  warmup: boolean;
  /** Seed of the random tokens. */
  seed: number;
}

export const BENCH_DEFAULTS: Readonly<Omit<BenchParams, 'nThreads'>> = {
  nPrompt: [512], nGen: [128], nDepth: [0], nParallel: [1], typeK: 'f16', typeV: 'f16', nBatch: 2048, nUBatch: 512, reps: 5, warmup: true, seed: 1234,
};

export { defaultThreads } from '../context.js';

export function benchParams(p: Partial<BenchParams> = {}): BenchParams {
  return {
    ...BENCH_DEFAULTS,
    nThreads: [defaultThreads()],
    ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)),
  } as BenchParams;
}

/** One test: a prompt of nPrompt tokens or a generation of nGen (the other is 0), after nDepth cached tokens. */
export interface TestInstance {
  nPrompt: number;
  nGen: number;
  nDepth: number;
  nThreads: number;
  /** Sequences evaluated together (1: one sequence, as llama-bench). */
  nParallel: number;
  nBatch: number;
  nUBatch: number;
  /** The K cache's type. Default 'f16'. */
  typeK?: KvCacheType;
  /** The V cache's type. Default 'f16'. */
  typeV?: KvCacheType;
}

/** The tests in llama-bench's order: per thread count and depth, every pp test, then every tg test; each for every parallel count. */
export function testInstances(p: BenchParams): TestInstance[] {
  const out: TestInstance[] = [];
  for (const nThreads of p.nThreads) {
    for (const nDepth of p.nDepth) {
      const common = { nThreads, nDepth, nBatch: p.nBatch, nUBatch: p.nUBatch, typeK: p.typeK, typeV: p.typeV };
      for (const n of p.nPrompt) if (n > 0) for (const nParallel of p.nParallel) out.push({ nPrompt: n, nGen: 0, nParallel, ...common });
      for (const n of p.nGen) if (n > 0) for (const nParallel of p.nParallel) out.push({ nPrompt: 0, nGen: n, nParallel, ...common });
    }
  }
  return out;
}

/** "pp512", "tg128", "pp512+tg128", and " @ d2048" after a depth, as llama-bench names a test. */
export function testName(t: { nPrompt: number; nGen: number; nDepth?: number }): string {
  const base = t.nPrompt > 0 && t.nGen === 0 ? `pp${t.nPrompt}` : t.nGen > 0 && t.nPrompt === 0 ? `tg${t.nGen}` : `pp${t.nPrompt}+tg${t.nGen}`;
  return t.nDepth ? `${base} @ d${t.nDepth}` : base;
}

/**
 * llama-bench's integer lists: comma-separated items, each N, or
 * FIRST-LAST with an optional +STEP or *STEP ("1-8*2" is 1,2,4,8).
 */
export function parseIntList(s: string, what = 'value'): number[] {
  const out: number[] = [];
  for (const item of s.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?:([+*])(\d+))?)?$/.exec(item.trim());
    if (!m) throw new RangeError(`${what}: "${s}" is not a list of integers (N, FIRST-LAST, FIRST-LAST+STEP or FIRST-LAST*STEP)`);
    const first = Number(m[1]);
    const last = m[2] !== undefined ? Number(m[2]) : first;
    const op = m[3] ?? '+';
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    for (let i = first; i <= last;) {
      out.push(i);
      const next = op === '+' ? i + step : i * step;
      if (next <= i) throw new RangeError(`${what}: "${item}" never reaches ${last}`);
      i = next;
    }
  }
  return out;
}
