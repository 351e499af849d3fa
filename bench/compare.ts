// run-gguf against llama.cpp on the same GGUF file, threads and tests, with
// llama-bench's method on every side (bench/peers.ts): native llama-bench
// (the real peer; --llama-bench PATH or $LLAMA_BENCH, built as the README's
// Develop section says) and node-llama-cpp's prebuilt binary. Repetitions
// alternate (ours, native, node-llama-cpp, ours, ...) so that a change in the
// machine's load hits every side alike.
//
//   npm run bench:compare -- <model.gguf> [-t 1,2] [-p 128] [-n 64] [-d 0] [-r 3] [--llama-bench PATH]
//   npm run bench:compare -- --synthetic llama-160m:Q4_0 -t 1
//   npm run bench:compare -- --synthetic tinyllama-1.1b:Q4_0 -t 1,2 --busy 2   (a busy machine)
//
// Prints every side's rows in llama-bench's table, the ratios of medians, the
// load average at each test's start and at the end, and writes an SVG chart
// (bench/out/compare-<model>.svg).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { ensureSyntheticModel, parseSyntheticSpec } from '../formats/synthetic/cache.js';
import {
  benchModelInfo, benchParams, defaultThreads, formatParams, formatSize, largestContext, markdownRow, markdownSeparator, mean, median,
  parseIntList, rfc3339,
  samplesTs, stdev, testInstances, testName, TestRunner, type BenchResult, type TestInstance,
} from '../runtime/bench/index.js';
import { loadModel } from '../runtime/index.js';
import { nativeBenchPath, NativeBenchSide, NodeLlamaCppSide, OurSide, type Side } from './peers.js';
import { barChartSVG } from './svg.js';
import { WasmQuantizer } from '../runtime/quantize/wasm-quantizer.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const usage = `Usage: npm run bench:compare -- <model.gguf> [options]
       npm run bench:compare -- --synthetic SHAPE:TYPE [options]

Options:
  -t, --threads LIST     thread counts (default ${defaultThreads()})
  -p, --n-prompt LIST    prompt lengths (default 128; 0 skips pp)
  -n, --n-gen LIST       generation lengths (default 64; 0 skips tg)
  -d, --n-depth LIST     tokens in the cache before each test (default 0)
      --cache-type-k T   K cache type, f16 or q8_0 (default f16), on every side
      --cache-type-v T   V cache type, f16 or q8_0 (default f16); q8_0 runs the
                         native sides with flash attention (llama.cpp needs it)
      --llama-bench PATH native llama-bench (default $LLAMA_BENCH; none: skip that side)
      --no-node-llama-cpp  skip the node-llama-cpp side
  -r, --repetitions N    timed runs per test and side (default 3)
      --busy N           N other processes spinning on the CPU for the whole run (a busy machine)
      --svg FILE         chart path (default bench/out/compare-<model>.svg)
      --synthetic SPEC   a cached random-weight model (see run-gguf bench --help)
  -h, --help`;

// spins, and ends itself once its parent is gone (a Ctrl+C'd benchmark leaves no spinner behind)
const SPIN = `const parent = process.ppid; for (let i = 0; ; i++) if (i % 1e8 === 0 && process.ppid !== parent) process.exit();`;

const COLORS = ['#4c78a8', '#e45756', '#f58518'];

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
      'n-depth': { type: 'string', short: 'd' },
      'cache-type-k': { type: 'string' },
      'cache-type-v': { type: 'string' },
      'llama-bench': { type: 'string' },
      'no-node-llama-cpp': { type: 'boolean' },
      repetitions: { type: 'string', short: 'r' },
      busy: { type: 'string' },
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
    const m = await ensureSyntheticModel(parseSyntheticSpec(values.synthetic), { onWrite: (p) => console.error(`writing ${p} (once)...`), quantizer: await WasmQuantizer.load() });
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
    nDepth: parseIntList(values['n-depth'] ?? '0', '--n-depth'),
    typeK: values['cache-type-k'] === 'q8_0' ? 'q8_0' : 'f16',
    typeV: values['cache-type-v'] === 'q8_0' ? 'q8_0' : 'f16',
    reps,
  });

  const busy = Number(values.busy ?? 0);
  if (!Number.isInteger(busy) || busy < 0 || busy > 64) throw new Error(`--busy: expected 0..64 processes, got "${values.busy}"`);
  const nativeBin = nativeBenchPath(values['llama-bench']);
  const useNode = !values['no-node-llama-cpp'];
  const loadBefore = loadavg();
  const ours = await loadModel(path, { contextSize: largestContext(params) });
  let llama: Llama | undefined;
  let theirs: LlamaModel | undefined;
  if (useNode) {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
    theirs = await llama.loadModel({ modelPath: path });
  }
  const info = benchModelInfo(ours);
  const bos = ours.tokenizer.addBos ? ours.tokenizer.bosId : undefined;
  const nVocab = ours.hparams.n_vocab;

  const backends = ['run-gguf', ...(nativeBin ? ['llama-bench'] : []), ...(useNode ? ['node-llama-cpp'] : [])];
  const rows: { test: TestInstance; load: number; results: BenchResult[] }[] = [];
  // the other programs of a busy machine: each spins one core for the whole run, beside every side alike
  const spinners: ChildProcess[] = Array.from({ length: busy }, () => spawn(process.execPath, ['-e', SPIN], { stdio: 'ignore' }));
  try {
    for (const [i, test] of testInstances(params).entries()) {
      const seed = params.seed + i;
      const native = nativeBin ? new NativeBenchSide(nativeBin, path, test) : undefined;
      const sides: Side[] = [new OurSide(new TestRunner(ours, test, seed))];
      if (native) sides.push(native);
      if (theirs) sides.push(await NodeLlamaCppSide.create(theirs, test, seed, bos, nVocab));
      const testTime = rfc3339();
      const load = loadavg()[0]!;
      const samples: number[][] = sides.map(() => []);
      try {
        for (const side of sides) await side.warmup();
        for (let r = 0; r < params.reps; r++) {
          if (process.stderr.isTTY) process.stderr.write(`\r${testName(test)} t=${test.nThreads}: run ${r + 1}/${params.reps}   `);
          for (const [k, side] of sides.entries()) samples[k]!.push(await side.run());
        }
      } finally {
        for (const side of sides) await side.dispose();
      }
      const base = {
        model_filename: path, model_size: info.size, model_n_params: info.nParams, n_batch: test.nBatch, n_ubatch: test.nUBatch,
        n_threads: test.nThreads, n_prompt: test.nPrompt, n_gen: test.nGen, n_depth: test.nDepth, test_time: testTime,
      };
      const results: BenchResult[] = [{ ...base, model_type: info.type, samples_ns: samples[0]! }];
      // each peer's own description of the model and its own size count
      if (native) results.push({ ...base, model_type: native.info?.model_type ?? '?', model_size: native.info?.model_size ?? 0, samples_ns: samples[1]! });
      if (theirs) results.push({ ...base, model_type: theirs.typeDescription, model_size: theirs.size, samples_ns: samples[samples.length - 1]! });
      rows.push({ test, load, results });
    }
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  } finally {
    for (const p of spinners) p.kill('SIGKILL');
    ours.dispose();
    await theirs?.dispose();
    await llama?.dispose();
  }
  const loadAfter = loadavg();

  // every side's row per test, in llama-bench's table
  const widths = [-30, 10, 10, -14, 7, 18, 20];
  let out = markdownRow(['model', 'size', 'params', 'backend', 'threads', 'test', 't/s'], widths) + markdownSeparator(widths);
  const tsCell = (r: BenchResult) => `${mean(samplesTs(r)).toFixed(2)} ± ${stdev(samplesTs(r)).toFixed(2)}`;
  for (const row of rows) {
    row.results.forEach((r, k) => {
      out += markdownRow([r.model_type, formatSize(r.model_size), formatParams(r.model_n_params), backends[k]!, String(r.n_threads), testName(row.test), tsCell(r)], widths);
    });
  }
  // the ratios: medians, robust to the one repetition a busy machine spoils
  const peers = backends.slice(1);
  const rw = [-18, 7, 6, ...backends.map(() => 16), ...peers.map(() => 14)];
  out += `\n${markdownRow(['test', 'threads', 'load', ...backends.map((b) => `${b} median`), ...peers.map((p) => `vs ${p}`)], rw)}${markdownSeparator(rw)}`;
  const ratios = rows.map((row) => row.results.slice(1).map((r) => median(samplesTs(row.results[0]!)) / median(samplesTs(r))));
  rows.forEach((row, i) => {
    out += markdownRow([
      testName(row.test), String(row.test.nThreads), row.load.toFixed(2),
      ...row.results.map((r) => median(samplesTs(r)).toFixed(2)),
      ...ratios[i]!.map((x) => `${x.toFixed(3)}x`),
    ], rw);
  });
  out += `\nmodel: ${path}\n`;
  if (nativeBin) out += `llama-bench: ${nativeBin}\n`;
  out += `load average (1, 5, 15 min): before ${fmtLoad(loadBefore)}; after ${fmtLoad(loadAfter)}\n`;
  if (busy) out += `busy: ${busy} other process${busy === 1 ? '' : 'es'} spinning on the CPU throughout\n`;
  out += `repetitions: ${params.reps} per side, alternating ${backends.join(' / ')}; ratios are of medians\n`;
  process.stdout.write(out);

  const name = basename(path).replace(/\.gguf$/i, '');
  const svgPath = values.svg ?? join(REPO, 'bench', 'out', `compare-${name}.svg`);
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(svgPath, barChartSVG({
    title: `${name}: run-gguf vs llama.cpp`,
    subtitle: `${info.type}, ${formatSize(info.size)}; load avg ${loadBefore[0]!.toFixed(2)} → ${loadAfter[0]!.toFixed(2)}`,
    yLabel: 'tokens / second',
    series: backends.map((b, k) => ({ name: b, color: COLORS[k]! })),
    groups: rows.map((row, i) => ({
      label: `${testName(row.test)} t${row.test.nThreads}`,
      note: ratios[i]!.map((x) => `${x.toFixed(2)}x`).join(' / '),
      bars: row.results.map((r) => ({ value: median(samplesTs(r)), sd: stdev(samplesTs(r)) })),
    })),
  }));
  console.log(`chart: ${svgPath}`);
  return 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : err); process.exitCode = 1; },
);
