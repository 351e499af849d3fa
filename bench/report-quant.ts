// npm run report:quant -- <model.gguf> -f text.txt [--imatrix F]: what each
// quantization type costs in accuracy. The input model (ideally F32/F16/BF16)
// is the base: its log-probabilities over the text are saved as
// llama-perplexity --kl-divergence-base does; then the model is quantized
// into every type (llama-quantize's presets), each result is scored
// against the base (perplexity, KL divergence, same top token), and a table
// and an SVG chart of KL divergence against bits per weight are written.
// With --imatrix every type that uses importance weights is done twice.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readGGUF } from '../formats/gguf/index.js';
import { importanceOf, readIMatrix, type Importance } from '../formats/imatrix/index.js';
import { quantizeGGUF } from '../formats/quantize/index.js';
import { loadModel } from '../runtime/index.js';
import { perplexity } from '../runtime/perplexity/index.js';
import { klDivergence, kldStats } from '../runtime/perplexity/kld.js';
import { scatterChartSVG } from './scatter-svg.js';

/** The types of the report: llama-quantize's presets from 2 to 16 bits. */
export const REPORT_TYPES = ['Q2_K', 'Q3_K_S', 'Q3_K_M', 'Q3_K_L', 'Q4_0', 'Q4_1', 'Q4_K_S', 'Q4_K_M', 'Q5_0', 'Q5_1', 'Q5_K_S', 'Q5_K_M', 'Q6_K', 'Q8_0', 'F16'];
/** Types ggml quantizes the same with or without an imatrix (q8_0, f16). */
const IMATRIX_BLIND = new Set(['Q8_0', 'F16', 'BF16', 'F32']);

export interface ReportRow {
  type: string;
  imatrix: boolean;
  /** Bytes of tensor data (llama.cpp's model size). */
  bytes: number;
  /** Bits per weight over every tensor, as llama.cpp prints it. */
  bpw: number;
  ppl: number;
  pplError: number;
  /** PPL(Q) - PPL(base). */
  deltaPPL: number;
  kld: number;
  kldError: number;
  /** Fraction of scored positions whose most likely token is the base's. */
  sameTop: number;
}

export interface QuantReport {
  model: string;
  base: { bytes: number; bpw: number; ppl: number; pplError: number };
  /** Positions scored per type. */
  positions: number;
  contextSize: number;
  rows: ReportRow[];
}

export interface ReportOptions {
  contextSize?: number;
  chunks?: number;
  threads?: number;
  /** An imatrix file (GGUF or .dat): adds a row per type quantized with it. */
  imatrix?: string;
  types?: string[];
  /** Where the quantized files go while they are scored (default: a fresh temporary folder, removed after). */
  workDir?: string;
  /** Called as each row is done. */
  onRow?: (row: ReportRow) => void;
}

async function sizeOf(path: string): Promise<{ bytes: number; bpw: number }> {
  const f = await readGGUF(path);
  let bytes = 0, n = 0;
  for (const t of f.tensors) {
    bytes += t.nBytes;
    n += t.nElements;
  }
  return { bytes, bpw: (8 * bytes) / n };
}

export async function reportQuant(modelPath: string, text: string, options: ReportOptions = {}): Promise<QuantReport> {
  const nCtx = options.contextSize ?? 512;
  const types = options.types ?? REPORT_TYPES;
  const own = options.workDir === undefined;
  const work = options.workDir ?? mkdtempSync(join(tmpdir(), 'run-gguf-report-'));
  let importance: Importance | undefined;
  if (options.imatrix) importance = importanceOf(await readIMatrix(options.imatrix));
  try {
    const baseFile = join(work, 'base.kld');
    const model = await loadModel(modelPath, { contextSize: nCtx });
    let baseRes;
    try {
      baseRes = await perplexity(model, text, { contextSize: nCtx, chunks: options.chunks, threads: options.threads, logitsFile: baseFile });
    } finally {
      model.dispose();
    }
    const base = { ...(await sizeOf(modelPath)), ppl: baseRes.ppl, pplError: baseRes.pplError };
    const rows: ReportRow[] = [];
    const jobs = types.flatMap((t) => [{ type: t, im: false }, ...(importance && !IMATRIX_BLIND.has(t.toUpperCase()) ? [{ type: t, im: true }] : [])]);
    for (const job of jobs) {
      const out = join(work, `${job.type}${job.im ? '-imatrix' : ''}.gguf`);
      await quantizeGGUF(modelPath, out, job.type, job.im ? { imatrix: importance, imatrixFile: options.imatrix } : {});
      const size = await sizeOf(out);
      const q = await loadModel(out, { contextSize: nCtx });
      let st;
      try {
        st = kldStats(klDivergence(q, baseFile, { threads: options.threads }));
      } finally {
        q.dispose();
        rmSync(out, { force: true });
      }
      const row: ReportRow = {
        type: job.type.toUpperCase(), imatrix: job.im, bytes: size.bytes, bpw: size.bpw,
        ppl: st.ppl[0], pplError: st.ppl[1], deltaPPL: st.ppl[0] - base.ppl, kld: st.kld[0], kldError: st.kld[1], sameTop: st.sameTop[0],
      };
      rows.push(row);
      options.onRow?.(row);
    }
    return { model: modelPath, base, positions: baseRes.count, contextSize: nCtx, rows };
  } finally {
    if (own) rmSync(work, { recursive: true, force: true });
  }
}

const mib = (b: number) => (b / 1024 / 1024).toFixed(2);

/** The report as a Markdown table (the base model first). */
export function reportTable(r: QuantReport): string[] {
  const head = ['type', 'size MiB', 'bpw', 'PPL', 'ΔPPL', 'mean KLD', 'same top %'];
  const lines = [
    [`base (${basename(r.model)})`, mib(r.base.bytes), r.base.bpw.toFixed(3), `${r.base.ppl.toFixed(4)} ± ${r.base.pplError.toFixed(4)}`, '', '', ''],
    ...r.rows.map((x) => [
      `${x.type}${x.imatrix ? ' + imatrix' : ''}`, mib(x.bytes), x.bpw.toFixed(3), `${x.ppl.toFixed(4)} ± ${x.pplError.toFixed(4)}`,
      `${x.deltaPPL >= 0 ? '+' : ''}${x.deltaPPL.toFixed(4)}`, `${x.kld.toFixed(6)} ± ${x.kldError.toFixed(6)}`, (100 * x.sameTop).toFixed(2),
    ]),
  ];
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |`;
  return [fmt(head), `|${w.map((n, i) => (i === 0 ? '-'.repeat(n + 2) : `${'-'.repeat(n + 1)}:`)).join('|')}|`, ...lines.map(fmt)];
}

/** KL divergence against bits per weight, one line for plain quantization and one with the imatrix. */
export function reportSVG(r: QuantReport): string {
  const series = [
    { name: 'quantized', color: '#4e79a7', points: r.rows.filter((x) => !x.imatrix) },
    { name: 'quantized with imatrix', color: '#e15759', points: r.rows.filter((x) => x.imatrix) },
  ].filter((s) => s.points.length > 0);
  return scatterChartSVG({
    title: `KL divergence from ${basename(r.model)} by bits per weight`,
    subtitle: `${r.positions} scored positions, n_ctx ${r.contextSize}; mean KLD of next-token distributions against the input model`,
    xLabel: 'bits per weight',
    yLabel: 'mean KL divergence (log scale)',
    series: series.map((s) => ({ name: s.name, color: s.color, points: s.points.map((x) => ({ x: x.bpw, y: x.kld, label: x.type })) })),
  });
}

const usage = `Usage: npm run report:quant -- <model.gguf> -f FILE [options]

Quantizes the model into every type:
  ${REPORT_TYPES.join(' ')}
scores each against the model itself over the text in FILE (perplexity, mean
KL divergence, same top token, as llama-perplexity --kl-divergence does) and
prints a table; writes an SVG chart of KL divergence against bits per weight.

Options:
  -f, --file FILE       the text (needs at least 2 * N tokens)
      --imatrix FILE    also quantize with this importance matrix (run-gguf imatrix)
  -c, --ctx-size N      tokens per chunk (default 512)
      --chunks N        score at most N chunks
      --types LIST      comma-separated types (default: all of the above)
      --svg FILE        the chart (default bench/out/report-quant-<model>.svg)
  -t, --threads N       threads
  -h, --help            this text`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      file: { type: 'string', short: 'f' },
      imatrix: { type: 'string' },
      'ctx-size': { type: 'string', short: 'c' },
      chunks: { type: 'string' },
      types: { type: 'string' },
      svg: { type: 'string' },
      threads: { type: 'string', short: 't' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals.length !== 1 || !values.file) {
    console.error(usage);
    return 2;
  }
  const int = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${flag}: expected a positive integer, got "${v}"`);
    return n;
  };
  const model = positionals[0]!;
  let text = readFileSync(values.file, 'utf8');
  if (text.endsWith('\n')) text = text.slice(0, -1);
  const started = Date.now();
  const report = await reportQuant(model, text, {
    contextSize: int('-c', values['ctx-size']),
    chunks: int('--chunks', values.chunks),
    threads: int('-t', values.threads),
    imatrix: values.imatrix,
    types: values.types?.split(',').map((s) => s.trim()).filter(Boolean),
    onRow: (r) => process.stderr.write(`${r.type}${r.imatrix ? ' + imatrix' : ''}: ${r.bpw.toFixed(3)} bpw, mean KLD ${r.kld.toFixed(6)}\n`),
  });
  for (const line of reportTable(report)) console.log(line);
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const svg = values.svg ?? join(repo, 'bench', 'out', `report-quant-${basename(model).replace(/\.gguf$/i, '')}.svg`);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dirname(svg), { recursive: true });
  writeFileSync(svg, reportSVG(report));
  console.log(`\nwrote ${svg} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(`error: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
