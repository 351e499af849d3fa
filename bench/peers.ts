// The sides of bench:compare. Each runs one test (pp, tg, at a depth) with
// llama-bench's method: warm up once, then timed repetitions from an empty
// cache. compare.ts alternates them repetition by repetition, so a change in
// the machine's load hits every side alike.
//
// - OurSide: run-gguf's TestRunner (the same code as `run-gguf bench`).
// - NodeLlamaCppSide: llama.cpp through node-llama-cpp's prebuilt binary
//   (its defaults except threads and context size, flash attention off).
// - NativeBenchSide: native llama-bench built from the llama.cpp source that
//   node-llama-cpp ships (README, Develop); one process per repetition
//   (`-r 1 --no-warmup`), its own samples_ns read from its JSON output, so
//   process start and model load are not timed.
import { spawnSync } from 'node:child_process';
import type { LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import type { TestInstance, TestRunner } from '../runtime/bench/index.js';
import { Xoshiro128 } from '../runtime/sample/rng.js';

export interface Side {
  warmup(): Promise<void>;
  /** One timed repetition, nanoseconds. */
  run(): Promise<number>;
  dispose(): Promise<void>;
}

export class OurSide implements Side {
  constructor(private readonly runner: TestRunner) {}
  async warmup() { this.runner.warmup(); }
  async run() { return this.runner.run(); }
  async dispose() { this.runner.dispose(); }
}

export class NodeLlamaCppSide implements Side {
  private readonly rng: Xoshiro128;

  private constructor(
    private readonly ctx: LlamaContext,
    private readonly seq: LlamaContextSequence,
    private readonly test: TestInstance,
    private readonly nVocab: number,
    private readonly bos: number | undefined,
    seed: number,
  ) {
    this.rng = new Xoshiro128(seed);
  }

  static async create(model: LlamaModel, test: TestInstance, seed: number, bos: number | undefined, nVocab: number): Promise<NodeLlamaCppSide> {
    const ctx = await model.createContext({
      contextSize: test.nDepth + test.nPrompt + test.nGen,
      threads: { ideal: test.nThreads, min: test.nThreads },
      // llama.cpp quantizes V only with flash attention
      flashAttention: test.typeV === 'q8_0',
      ...(test.typeK === 'q8_0' ? { experimentalKvCacheKeyType: 'Q8_0' as const } : {}),
      ...(test.typeV === 'q8_0' ? { experimentalKvCacheValueType: 'Q8_0' as const } : {}),
    });
    return new NodeLlamaCppSide(ctx, ctx.getSequence(), test, nVocab, bos, seed);
  }

  private randomTokens(n: number, first: boolean): number[] {
    const out = Array.from({ length: n }, () => this.rng.nextU32() % this.nVocab);
    if (first && this.bos !== undefined && n > 0) out[0] = this.bos;
    return out;
  }

  private async prompt(n: number, first: boolean) {
    await this.seq.evaluateWithoutGeneratingNewTokens(this.randomTokens(n, first) as never);
  }

  /**
   * n decodes, as llama-bench's tg decodes n tokens whatever they are. Each
   * token evaluate() yields cost one decode; a sampled end-of-generation
   * token ends it early, after one decode that yields nothing, and the
   * generation goes on from another token. (Stopping there instead timed a
   * random model that greedily says EOS after a few tokens as if it had
   * generated all n: 42 t/s for 11 measured on one file.)
   */
  private async generate(n: number, first: boolean) {
    let decodes = 0;
    while (decodes < n) {
      let stopped = false;
      for await (const _ of this.seq.evaluate(this.randomTokens(1, first && decodes === 0) as never, { temperature: 0 })) {
        if (++decodes >= n) {
          stopped = true;
          break;
        }
      }
      if (!stopped) decodes++;
    }
  }

  async warmup() {
    await this.seq.clearHistory();
    if (this.test.nPrompt > 0) await this.prompt(this.test.nPrompt, true);
    if (this.test.nGen > 0) await this.generate(1, true);
  }

  async run() {
    await this.seq.clearHistory();
    if (this.test.nDepth > 0) await this.prompt(this.test.nDepth, true);
    const first = this.test.nDepth === 0;
    const t0 = process.hrtime.bigint();
    if (this.test.nPrompt > 0) await this.prompt(this.test.nPrompt, first);
    if (this.test.nGen > 0) await this.generate(this.test.nGen, first);
    return Number(process.hrtime.bigint() - t0);
  }

  async dispose() {
    await this.ctx.dispose();
  }
}

/** What llama-bench's `-o json` prints per test (the fields read here). */
interface LlamaBenchRow {
  samples_ns: number[];
  model_type: string;
  model_size: number;
  n_threads: number;
  build_commit: string;
  cpu_info: string;
}

export class NativeBenchSide implements Side {
  /** From the first run: llama.cpp's own model description, size and build. */
  info: LlamaBenchRow | undefined;

  constructor(
    private readonly bin: string,
    private readonly modelPath: string,
    private readonly test: TestInstance,
  ) {}

  private spawn(warmup: boolean): LlamaBenchRow {
    const t = this.test;
    const args = [
      '-m', this.modelPath, '-t', String(t.nThreads), '-p', String(t.nPrompt), '-n', String(t.nGen), '-d', String(t.nDepth),
      '-b', String(t.nBatch), '-ub', String(t.nUBatch), '-ctk', t.typeK ?? 'f16', '-ctv', t.typeV ?? 'f16', '-r', '1',
      // llama.cpp quantizes V only with flash attention
      '-fa', t.typeV === 'q8_0' ? '1' : '0', '-o', 'json',
    ];
    if (!warmup) args.push('--no-warmup');
    const res = spawnSync(this.bin, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (res.error) throw new Error(`llama-bench (${this.bin}): ${res.error.message}`);
    if (res.status !== 0) throw new Error(`llama-bench exited with ${res.status}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const rows = JSON.parse(res.stdout) as LlamaBenchRow[];
    if (!Array.isArray(rows) || rows.length !== 1 || !Array.isArray(rows[0]!.samples_ns) || rows[0]!.samples_ns.length !== 1) {
      throw new Error(`llama-bench printed ${rows.length ?? 'no'} results; expected one with one sample`);
    }
    this.info ??= rows[0];
    return rows[0]!;
  }

  async warmup() { this.spawn(true); }
  async run() { return this.spawn(false).samples_ns[0]!; }
  async dispose() {}
}

/** The native llama-bench's path: --llama-bench, else $LLAMA_BENCH; undefined when neither is given. */
export function nativeBenchPath(flag: string | undefined): string | undefined {
  const p = flag ?? process.env.LLAMA_BENCH;
  return p === '' ? undefined : p;
}
