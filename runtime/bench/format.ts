// Benchmark output in llama-bench's formats: the markdown table, JSON, JSONL
// and CSV, with its field names, so tools that read llama-bench's output
// (scripts/compare-llama-bench.py, spreadsheets) read ours.
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { BENCH_DEFAULTS } from './params.js';
import { testName } from './params.js';
import type { BenchResult } from './run.js';

export type OutputFormat = 'md' | 'json' | 'jsonl' | 'csv';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['md', 'json', 'jsonl', 'csv'];

// ---- statistics (llama-bench: avg, stdev over samples; t/s per sample) ----

export function mean(v: readonly number[]): number {
  return v.length === 0 ? 0 : v.reduce((s, x) => s + x, 0) / v.length;
}

/** The middle value (the mean of the two middle ones for an even count): robust to one spoiled repetition. */
export function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Sample standard deviation (n - 1); 0 for fewer than two samples. */
export function stdev(v: readonly number[]): number {
  if (v.length <= 1) return 0;
  const m = mean(v);
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
}

/** Tokens per second of each repetition (of all sequences together when n_parallel > 1). */
export function samplesTs(r: Pick<BenchResult, 'n_prompt' | 'n_gen' | 'samples_ns' | 'n_parallel'>): number[] {
  const n = (r.n_prompt + r.n_gen) * (r.n_parallel ?? 1);
  return r.samples_ns.map((ns) => (1e9 * n) / ns);
}

// ---- the fields ----

/** What is the same for every row of one process. */
export interface BuildInfo {
  build_commit: string;
  build_number: number;
  cpu_info: string;
  gpu_info: string;
  backends: string;
  /** For the markdown footer only: "node 20.20.0". */
  runtime: string;
}

let cachedBuild: BuildInfo | undefined;

/** run-gguf's version in place of llama.cpp's commit; the CPU as os.cpus() names it. */
export function buildInfo(): BuildInfo {
  if (!cachedBuild) {
    let version = 'unknown';
    try {
      // dist/runtime/bench/format.js -> the package root
      version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    } catch { /* not packaged */ }
    cachedBuild = { build_commit: `run-gguf ${version}`, build_number: 0, cpu_info: cpus()[0]?.model.trim() ?? '', gpu_info: '', backends: 'WASM',
      runtime: typeof process !== 'undefined' ? `node ${process.versions.node}` : 'unknown' };
  }
  return cachedBuild;
}

type FieldType = 'string' | 'int' | 'float';

/** llama-bench's fields that apply here, in its order. */
export const BENCH_FIELDS: readonly (readonly [string, FieldType])[] = [
  ['build_commit', 'string'], ['build_number', 'int'], ['cpu_info', 'string'], ['gpu_info', 'string'],
  ['backends', 'string'], ['model_filename', 'string'], ['model_type', 'string'], ['model_size', 'int'],
  ['model_n_params', 'int'], ['n_batch', 'int'], ['n_ubatch', 'int'], ['n_threads', 'int'],
  ['type_k', 'string'], ['type_v', 'string'], ['n_prompt', 'int'], ['n_gen', 'int'], ['n_depth', 'int'],
  ['test_time', 'string'], ['avg_ns', 'int'], ['stddev_ns', 'int'], ['avg_ts', 'float'], ['stddev_ts', 'float'],
];

/** Each field's value as llama-bench prints it (std::to_string: integers, floats with 6 decimals). */
export function fieldValues(r: BenchResult, build: BuildInfo = buildInfo()): string[] {
  const ts = samplesTs(r);
  const values: Record<string, string> = {
    build_commit: build.build_commit,
    build_number: String(build.build_number),
    cpu_info: build.cpu_info,
    gpu_info: build.gpu_info,
    backends: build.backends,
    model_filename: r.model_filename,
    model_type: r.model_type,
    model_size: String(r.model_size),
    model_n_params: String(r.model_n_params),
    n_batch: String(r.n_batch),
    n_ubatch: String(r.n_ubatch),
    n_threads: String(r.n_threads),
    type_k: r.type_k ?? 'f16',
    type_v: r.type_v ?? 'f16',
    n_prompt: String(r.n_prompt),
    n_gen: String(r.n_gen),
    n_depth: String(r.n_depth ?? 0),
    test_time: r.test_time,
    avg_ns: String(Math.floor(mean(r.samples_ns))),
    stddev_ns: String(Math.round(stdev(r.samples_ns))),
    avg_ts: mean(ts).toFixed(6),
    stddev_ts: stdev(ts).toFixed(6),
  };
  return BENCH_FIELDS.map(([f]) => values[f]!);
}

// ---- printers ----

/** Writes header, then one piece per test as it finishes, then footer. */
export interface Printer {
  header(): string;
  test(r: BenchResult): string;
  footer(): string;
}

export interface PrinterOptions {
  /** Show n_batch / n_ubatch columns when they differ from the defaults (as llama-bench). */
  nBatch?: number;
  nUBatch?: number;
  /** Show an n_parallel column when some test runs several sequences together. */
  nParallel?: readonly number[];
  /** Show type_k / type_v columns when the cache is not f16 (as llama-bench). */
  typeK?: string;
  typeV?: string;
  build?: BuildInfo;
}

export function createPrinter(format: OutputFormat, options: PrinterOptions = {}): Printer {
  switch (format) {
    case 'md': return markdownPrinter(options);
    case 'json': return jsonPrinter(options.build);
    case 'jsonl': return jsonlPrinter(options.build);
    case 'csv': return csvPrinter(options.build);
  }
}

/** All of a run at once. */
export function formatResults(format: OutputFormat, results: readonly BenchResult[], options: PrinterOptions = {}): string {
  const p = createPrinter(format, options);
  return p.header() + results.map((r) => p.test(r)).join('') + p.footer();
}

function jsonString(s: string): string {
  return JSON.stringify(s);
}

function jsonValue(type: FieldType, v: string): string {
  return type === 'string' ? jsonString(v) : v;
}

/** ostream << double: 6 significant digits. */
function g6(x: number): string {
  return String(Number(x.toPrecision(6)));
}

function jsonFields(r: BenchResult, build: BuildInfo | undefined, sep: string, indent: string): string {
  const values = fieldValues(r, build);
  const parts = BENCH_FIELDS.map(([f, type], i) => `${indent}"${f}": ${jsonValue(type, values[i]!)}`);
  parts.push(`${indent}"samples_ns": [ ${r.samples_ns.join(', ')} ]`);
  parts.push(`${indent}"samples_ts": [ ${samplesTs(r).map(g6).join(', ')} ]`);
  // not a llama-bench field: only where several sequences ran together
  if (r.n_parallel !== undefined) parts.push(`${indent}"n_parallel": ${r.n_parallel}`);
  return parts.join(sep);
}

function jsonPrinter(build?: BuildInfo): Printer {
  let first = true;
  return {
    header: () => '[\n',
    test: (r) => {
      const lead = first ? '' : ',\n';
      first = false;
      return `${lead}  {\n${jsonFields(r, build, ',\n', '    ')}\n  }`;
    },
    footer: () => '\n]\n',
  };
}

function jsonlPrinter(build?: BuildInfo): Printer {
  return { header: () => '', test: (r) => `{${jsonFields(r, build, ', ', '')}}\n`, footer: () => '' };
}

function csvPrinter(build?: BuildInfo): Printer {
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return {
    header: () => `${BENCH_FIELDS.map(([f]) => f).join(',')}\n`,
    test: (r) => `${fieldValues(r, build).map(quote).join(',')}\n`,
    footer: () => '',
  };
}

// ---- markdown ----

/** Column width: negative means left-aligned (llama-bench's printf widths). */
interface Column {
  title: string;
  width: number;
  value(r: BenchResult): string;
}

export function formatSize(bytes: number): string {
  return bytes < 1024 ** 3 ? `${(bytes / 1024 ** 2).toFixed(2)} MiB` : `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatParams(n: number): string {
  return n < 1e9 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e9).toFixed(2)} B`;
}

export function formatTs(r: BenchResult): string {
  const ts = samplesTs(r);
  return `${mean(ts).toFixed(2)} ± ${stdev(ts).toFixed(2)}`;
}

export function markdownColumns(options: PrinterOptions = {}): Column[] {
  const cols: Column[] = [
    { title: 'model', width: -30, value: (r) => r.model_type },
    { title: 'size', width: 10, value: (r) => formatSize(r.model_size) },
    { title: 'params', width: 10, value: (r) => formatParams(r.model_n_params) },
    { title: 'backend', width: -10, value: () => (options.build ?? buildInfo()).backends },
    { title: 'threads', width: 7, value: (r) => String(r.n_threads) },
  ];
  if (options.nBatch !== undefined && options.nBatch !== BENCH_DEFAULTS.nBatch) {
    cols.push({ title: 'n_batch', width: 7, value: (r) => String(r.n_batch) });
  }
  if (options.nUBatch !== undefined && options.nUBatch !== BENCH_DEFAULTS.nUBatch) {
    cols.push({ title: 'n_ubatch', width: 8, value: (r) => String(r.n_ubatch) });
  }
  if (options.typeK !== undefined && options.typeK !== 'f16') cols.push({ title: 'type_k', width: 6, value: (r) => r.type_k ?? 'f16' });
  if (options.typeV !== undefined && options.typeV !== 'f16') cols.push({ title: 'type_v', width: 6, value: (r) => r.type_v ?? 'f16' });
  if (options.nParallel?.some((n) => n !== 1)) {
    cols.push({ title: 'n_parallel', width: 10, value: (r) => String(r.n_parallel ?? 1) });
  }
  cols.push({ title: 'test', width: 15, value: (r) => testName({ nPrompt: r.n_prompt, nGen: r.n_gen, nDepth: r.n_depth }) });
  cols.push({ title: 't/s', width: 20, value: formatTs });
  return cols;
}

/** A table row the way llama-bench prints it: "| cell | cell |", cells padded to their width. */
export function markdownRow(cells: readonly string[], widths: readonly number[]): string {
  return `|${cells.map((c, i) => ` ${widths[i]! < 0 ? c.padEnd(-widths[i]!) : c.padStart(widths[i]!)} |`).join('')}\n`;
}

export function markdownSeparator(widths: readonly number[]): string {
  return `|${widths.map((w) => ` ${'-'.repeat(Math.abs(w) - 1)}${w > 0 ? ':' : '-'} |`).join('')}\n`;
}

function markdownPrinter(options: PrinterOptions): Printer {
  const cols = markdownColumns(options);
  const widths = cols.map((c) => c.width);
  const build = options.build ?? buildInfo();
  return {
    header: () => markdownRow(cols.map((c) => c.title), widths) + markdownSeparator(widths),
    test: (r) => markdownRow(cols.map((c) => c.value(r)), widths),
    footer: () => `\nbuild: ${build.build_commit} (${build.runtime})\n`,
  };
}
