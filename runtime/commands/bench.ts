// run-gguf bench: prompt-processing and generation throughput, measured and
// printed as llama.cpp's llama-bench does, so the two tables compare row by row.
import { parseArgs } from 'node:util';
import type { KvCacheType } from '../context.js';
import { ensureSyntheticModel, parseSyntheticSpec, syntheticCacheDir, syntheticShapes } from '../../formats/synthetic/cache.js';
import { mixNames } from '../../formats/synthetic/mix.js';
import { WasmQuantizer } from '../quantize/wasm-quantizer.js';
import {
  BENCH_DEFAULTS, benchFile, benchParams, createPrinter, defaultThreads, OUTPUT_FORMATS, parseIntList, type OutputFormat,
} from '../bench/index.js';
import { modelArgument } from './pull.js';

export const benchUsage = `Usage: run-gguf bench [options] <model.gguf>...
       run-gguf bench [options] --synthetic SHAPE:TYPE

Measures prompt processing (ppN: N random tokens from an empty cache) and
text generation (tgN: N tokens one at a time) in tokens per second, with
llama-bench's method: a warm-up run, then repetitions that each start from an
empty KV cache. Prints a llama-bench table (or JSON/CSV with its field names).

Options:
  -m, --model FILE          a model (also as positional arguments; repeatable)
      --synthetic SHAPE:TYPE
                            a random-weight model, written once to
                            ${syntheticCacheDir()}
                            shapes: ${syntheticShapes().join(', ')}
                            types: ${mixNames().join(', ')}
                            (llama-quantize's mixes), any ggml type name (every
                            matrix that type), or TYPE:pure
  -p, --n-prompt LIST       prompt lengths (default ${BENCH_DEFAULTS.nPrompt.join(',')}; 0 skips pp)
  -n, --n-gen LIST          generation lengths (default ${BENCH_DEFAULTS.nGen.join(',')}; 0 skips tg)
  -d, --n-depth LIST        tokens already in the cache before each test
                            (default ${BENCH_DEFAULTS.nDepth.join(',')}; llama-bench's depth)
  -ctk, --cache-type-k TYPE K cache type: f16 or q8_0 (default f16)
  -ctv, --cache-type-v TYPE V cache type: f16 or q8_0 (default f16)
  -t, --threads LIST        thread counts (default ${defaultThreads()})
  -np, --parallel LIST      sequences evaluated together, each step one graph run
                            for all (continuous batching); t/s is their aggregate
                            (default 1)
  -b, --batch-size N        tokens per evaluate() call in pp (default ${BENCH_DEFAULTS.nBatch})
  -ub, --ubatch-size N      tokens per graph run (default ${BENCH_DEFAULTS.nUBatch})
  -r, --repetitions N       timed runs per test (default ${BENCH_DEFAULTS.reps})
  -o, --output FORMAT       md, json, jsonl or csv (default md)
      --no-warmup           skip the warm-up run
      --seed N              seed of the random tokens (default ${BENCH_DEFAULTS.seed})
      --progress            print progress on stderr
      --memory-mib N        the most one WebAssembly memory holds (default 4096);
                            a smaller value spreads the model over more memories
  -h, --help                this text

LIST is comma-separated: N, FIRST-LAST, FIRST-LAST+STEP or FIRST-LAST*STEP
(-t 1-4 is 1,2,3,4; -p 64-512*2 is 64,128,256,512).`;

function positiveInt(v: string | undefined, name: string, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} expects an integer >= ${min}, got "${v}"`);
  return n;
}

function cacheType(v: string | undefined, name: string): KvCacheType | undefined {
  if (v === undefined) return undefined;
  if (v !== 'f16' && v !== 'q8_0') throw new RangeError(`--${name}: expected f16 or q8_0, got "${v}"`);
  return v;
}

function lists(vs: string[] | undefined, name: string): number[] | undefined {
  return vs === undefined ? undefined : vs.flatMap((v) => parseIntList(v, `--${name}`));
}

export async function runBench(args: string[]): Promise<number> {
  // llama-bench's two-letter short options
  const long: Record<string, string> = { '-ub': '--ubatch-size', '-np': '--parallel', '-ctk': '--cache-type-k', '-ctv': '--cache-type-v' };
  const argv = args.map((a) => long[a] ?? a);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', short: 'm', multiple: true },
      synthetic: { type: 'string', multiple: true },
      'n-prompt': { type: 'string', short: 'p', multiple: true },
      'n-gen': { type: 'string', short: 'n', multiple: true },
      'n-depth': { type: 'string', short: 'd', multiple: true },
      'cache-type-k': { type: 'string' },
      'cache-type-v': { type: 'string' },
      threads: { type: 'string', short: 't', multiple: true },
      parallel: { type: 'string', multiple: true },
      'batch-size': { type: 'string', short: 'b' },
      'ubatch-size': { type: 'string' },
      repetitions: { type: 'string', short: 'r' },
      output: { type: 'string', short: 'o' },
      'no-warmup': { type: 'boolean' },
      seed: { type: 'string' },
      progress: { type: 'boolean' },
      'memory-mib': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(benchUsage);
    return 0;
  }
  const format = (values.output ?? 'md') as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format)) throw new Error(`--output: expected one of ${OUTPUT_FORMATS.join(', ')}, got "${values.output}"`);
  const threads = lists(values.threads, 'threads');
  if (threads?.some((t) => t < 1)) throw new Error('--threads: thread counts must be at least 1');
  const parallel = lists(values.parallel, 'parallel');
  if (parallel?.some((n) => n < 1)) throw new Error('--parallel: sequence counts must be at least 1');
  const params = benchParams({
    nPrompt: lists(values['n-prompt'], 'n-prompt'),
    nGen: lists(values['n-gen'], 'n-gen'),
    nDepth: lists(values['n-depth'], 'n-depth'),
    typeK: cacheType(values['cache-type-k'], 'cache-type-k'),
    typeV: cacheType(values['cache-type-v'], 'cache-type-v'),
    nThreads: threads,
    nParallel: parallel,
    nBatch: positiveInt(values['batch-size'], 'batch-size', BENCH_DEFAULTS.nBatch),
    nUBatch: positiveInt(values['ubatch-size'], 'ubatch-size', BENCH_DEFAULTS.nUBatch),
    reps: positiveInt(values.repetitions, 'repetitions', BENCH_DEFAULTS.reps),
    warmup: !values['no-warmup'],
    seed: positiveInt(values.seed, 'seed', BENCH_DEFAULTS.seed, 0),
  });

  const synthetic = (values.synthetic ?? []).map((s) => parseSyntheticSpec(s));
  const models = [...(values.model ?? []), ...positionals];
  if (models.length === 0 && synthetic.length === 0) {
    console.error(benchUsage);
    return 2;
  }
  // the i-quants' C quantizers (the same bytes as formats/quant's, many times faster)
  const quantizer = synthetic.length > 0 ? await WasmQuantizer.load() : undefined;
  for (const spec of synthetic) {
    const m = await ensureSyntheticModel(spec, { onWrite: (p) => process.stderr.write(`writing ${p} (once)...\n`), ...(quantizer ? { quantizer } : {}) });
    if (m.written) process.stderr.write(`wrote ${m.path} in ${(m.ms / 1000).toFixed(1)} s\n`);
    models.push(m.path);
  }

  const printer = createPrinter(format, { nBatch: params.nBatch, nUBatch: params.nUBatch, nParallel: params.nParallel, typeK: params.typeK, typeV: params.typeV });
  process.stdout.write(printer.header());
  const progress = values.progress ? (msg: string) => process.stderr.write(`run-gguf bench: ${msg}\n`) : undefined;
  const memoryMib = values['memory-mib'] === undefined ? undefined : positiveInt(values['memory-mib'], 'memory-mib', 4096);
  for (const path of models) {
    await benchFile(await modelArgument(path), params, {
      onProgress: progress,
      onResult: (r) => process.stdout.write(printer.test(r)),
    }, memoryMib === undefined ? undefined : memoryMib * 1024 ** 2);
  }
  process.stdout.write(printer.footer());
  return 0;
}
