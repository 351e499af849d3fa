// run-gguf against llama.cpp (node-llama-cpp's prebuilt CPU binary) on the
// same GGUF file, threads and tests, with llama-bench's method on both sides.
// Repetitions alternate (ours, theirs, ours, theirs...) so that a change in
// the machine's load hits both alike.
//
//   npm run bench:compare -- <model.gguf> [-t 1,2] [-p 128] [-n 64] [-r 3] [--svg FILE]
//   npm run bench:compare -- --synthetic llama-160m:Q4_0 -t 1
//
// llama.cpp runs with node-llama-cpp's defaults except threads (and the
// context size, n_prompt + n_gen as llama-bench sets it):
// - pp: evaluateWithoutGeneratingNewTokens(n random tokens, BOS first) on a
//   cleared sequence;
// - tg: sequence.evaluate([BOS]) greedy, n tokens (n decodes, each computing
//   the last token's logits like llama-bench's single-token batches).
// Prints both rows in llama-bench's table, the ratios, the load average before
// and after, and writes an SVG chart (bench/out/compare-<model>.svg).
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { ensureSyntheticModel, parseSyntheticSpec } from '../formats/synthetic/cache.js';
import {
  benchModelInfo, benchParams, defaultThreads, formatParams, formatSize, largestContext, markdownRow, markdownSeparator, mean,
  parseIntList, rfc3339,
  samplesTs, stdev, testInstances, testName, TestRunner, type BenchResult, type TestInstance,
} from '../runtime/bench/index.js';
import { loadModel } from '../runtime/index.js';
import { Xoshiro128 } from '../runtime/sample/rng.js';
import { barChartSVG } from './svg.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const usage = `Usage: npm run bench:compare -- <model.gguf> [options]
       npm run bench:compare -- --synthetic SHAPE:TYPE [options]

Options:
  -t, --threads LIST     thread counts (default ${defaultThreads()})
  -p, --n-prompt LIST    prompt lengths (default 128; 0 skips pp)
  -n, --n-gen LIST       generation lengths (default 64; 0 skips tg)
  -r, --repetitions N    timed runs per test and side (default 3)
      --svg FILE         chart path (default bench/out/compare-<model>.svg)
      --synthetic SPEC   a cached random-weight model (see run-gguf bench --help)
  -h, --help`;

/** One side of the comparison: warm up once, then timed repetitions from an empty cache. */
interface Side {
  warmup(): Promise<void>;
  run(): Promise<number>;
  dispose(): Promise<void>;
}

class OurSide implements Side {
  constructor(private readonly runner: TestRunner) {}
  async warmup() { this.runner.warmup(); }
  async run() { return this.runner.run(); }
  async dispose() { this.runner.dispose(); }
}

class LlamaCppSide implements Side {
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

  static async create(model: LlamaModel, test: TestInstance, seed: number, bos: number | undefined, nVocab: number): Promise<LlamaCppSide> {
    const ctx = await model.createContext({
      contextSize: test.nPrompt + test.nGen,
      threads: { ideal: test.nThreads, min: test.nThreads },
    });
    return new LlamaCppSide(ctx, ctx.getSequence(), test, nVocab, bos, seed);
  }

  private randomTokens(n: number): number[] {
    const out = Array.from({ length: n }, () => this.rng.nextU32() % this.nVocab);
    if (this.bos !== undefined && n > 0) out[0] = this.bos;
    return out;
  }

  private async prompt(n: number) {
    await this.seq.evaluateWithoutGeneratingNewTokens(this.randomTokens(n) as never);
  }

  private async generate(n: number) {
    let produced = 0;
    for await (const _ of this.seq.evaluate(this.randomTokens(1) as never, { temperature: 0 })) {
      if (++produced >= n) break;
    }
  }

  async warmup() {
    await this.seq.clearHistory();
    if (this.test.nPrompt > 0) await this.prompt(this.test.nPrompt);
    if (this.test.nGen > 0) await this.generate(1);
  }

  async run() {
    await this.seq.clearHistory();
    const t0 = process.hrtime.bigint();
    if (this.test.nPrompt > 0) await this.prompt(this.test.nPrompt);
    if (this.test.nGen > 0) await this.generate(this.test.nGen);
    return Number(process.hrtime.bigint() - t0);
  }

  async dispose() {
    await this.ctx.dispose();
  }
}

function fmtLoad(l: number[]): string {
  return l.map((x) => x.toFixed(2)).join(', ');
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      threads: { type: 'string', short: 't' },
      'n-prompt': { type: 'string', short: 'p' },
      'n-gen': { type: 'string', short: 'n' },
      repetitions: { type: 'string', short: 'r' },
      svg: { type: 'string' },
      synthetic: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  let path = positionals[0];
  if (values.synthetic) {
    const m = await ensureSyntheticModel(parseSyntheticSpec(values.synthetic), { onWrite: (p) => console.error(`writing ${p} (once)...`) });
    path = m.path;
  }
  if (!path) {
    console.error(usage);
    return 2;
  }
  const reps = Number(values.repetitions ?? 3);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--repetitions: expected a positive integer, got "${values.repetitions}"`);
  const params = benchParams({
    nThreads: values.threads ? parseIntList(values.threads, '--threads') : undefined,
    nPrompt: parseIntList(values['n-prompt'] ?? '128', '--n-prompt'),
    nGen: parseIntList(values['n-gen'] ?? '64', '--n-gen'),
    reps,
  });

  const loadBefore = loadavg();
  const ours = await loadModel(path, { contextSize: largestContext(params) });
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama: Llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  const theirs = await llama.loadModel({ modelPath: path });
  const info = benchModelInfo(ours);
  const bos = ours.tokenizer.addBos ? ours.tokenizer.bosId : undefined;
  const nVocab = ours.hparams.n_vocab;

  const rows: { test: TestInstance; ours: BenchResult; theirs: BenchResult }[] = [];
  try {
    for (const [i, test] of testInstances(params).entries()) {
      const seed = params.seed + i;
      const a: Side = new OurSide(new TestRunner(ours, test, seed));
      const b: Side = await LlamaCppSide.create(theirs, test, seed, bos, nVocab);
      const testTime = rfc3339();
      const sa: number[] = [];
      const sb: number[] = [];
      try {
        await a.warmup();
        await b.warmup();
        for (let r = 0; r < params.reps; r++) {
          if (process.stderr.isTTY) process.stderr.write(`\r${testName(test)} t=${test.nThreads}: run ${r + 1}/${params.reps}   `);
          sa.push(await a.run());
          sb.push(await b.run());
        }
      } finally {
        await a.dispose();
        await b.dispose();
      }
      const base = {
        model_filename: path, model_size: info.size, model_n_params: info.nParams, n_batch: test.nBatch, n_ubatch: test.nUBatch,
        n_threads: test.nThreads, n_prompt: test.nPrompt, n_gen: test.nGen, test_time: testTime,
      };
      rows.push({
        test,
        ours: { ...base, model_type: info.type, samples_ns: sa },
        // llama.cpp's own description of the model and its own size count
        theirs: { ...base, model_type: theirs.typeDescription, model_size: theirs.size, samples_ns: sb },
      });
    }
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  } finally {
    ours.dispose();
    await theirs.dispose();
    await llama.dispose();
  }
  const loadAfter = loadavg();

  // both rows per test, in llama-bench's table
  const widths = [-30, 10, 10, -10, 7, 15, 20];
  let out = markdownRow(['model', 'size', 'params', 'backend', 'threads', 'test', 't/s'], widths) + markdownSeparator(widths);
  const tsCell = (r: BenchResult) => `${mean(samplesTs(r)).toFixed(2)} ± ${stdev(samplesTs(r)).toFixed(2)}`;
  for (const row of rows) {
    for (const [r, backend] of [[row.ours, 'WASM'], [row.theirs, 'CPU']] as const) {
      out += markdownRow([r.model_type, formatSize(r.model_size), formatParams(r.model_n_params), backend, String(r.n_threads), testName(row.test), tsCell(r)], widths);
    }
  }
  const rw = [-15, 7, 20, 20, 18];
  out += `\n${markdownRow(['test', 'threads', 'run-gguf t/s', 'llama.cpp t/s', 'run-gguf/llama.cpp'], rw)}${markdownSeparator(rw)}`;
  const ratios = rows.map((row) => mean(samplesTs(row.ours)) / mean(samplesTs(row.theirs)));
  rows.forEach((row, i) => {
    out += markdownRow([testName(row.test), String(row.test.nThreads), tsCell(row.ours), tsCell(row.theirs), `${ratios[i]!.toFixed(3)}x`], rw);
  });
  out += `\nmodel: ${path}\n`;
  out += `load average (1, 5, 15 min): before ${fmtLoad(loadBefore)}; after ${fmtLoad(loadAfter)}\n`;
  out += `repetitions: ${params.reps} per side, alternating run-gguf / llama.cpp\n`;
  process.stdout.write(out);

  const name = basename(path).replace(/\.gguf$/i, '');
  const svgPath = values.svg ?? join(REPO, 'bench', 'out', `compare-${name}.svg`);
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(svgPath, barChartSVG({
    title: `${name}: run-gguf vs llama.cpp`,
    subtitle: `${info.type}, ${formatSize(info.size)}; load avg ${loadBefore[0]!.toFixed(2)} → ${loadAfter[0]!.toFixed(2)}`,
    yLabel: 'tokens / second',
    series: [{ name: 'run-gguf (WASM)', color: '#4c78a8' }, { name: 'llama.cpp (node-llama-cpp, CPU)', color: '#f58518' }],
    groups: rows.map((row, i) => ({
      label: `${testName(row.test)} t${row.test.nThreads}`,
      note: `${ratios[i]!.toFixed(2)}x`,
      bars: [row.ours, row.theirs].map((r) => ({ value: mean(samplesTs(r)), sd: stdev(samplesTs(r)) })),
    })),
  }));
  console.log(`chart: ${svgPath}`);
  return 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : err); process.exitCode = 1; },
);
