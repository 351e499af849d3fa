// llama-perplexity's --kl-divergence-base / --kl-divergence: the base model's
// log-probabilities saved per scored position in llama.cpp's file format
// ("_logits_", n_ctx, n_vocab, n_chunk, the tokens, then per position a
// float scale and minimum followed by n_vocab 16-bit steps over at most 16
// nats below the top), so base files made by llama-perplexity and by us are
// interchangeable; then the statistics llama.cpp prints for a model against it.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { beginOutput, type PendingOutput } from '../../formats/output-file.js';
import type { Model } from '../model.js';

const f = Math.fround;
const MAGIC = '_logits_';

/** uint16 entries per position: n_vocab rounded up to even, plus the two floats. */
export function logProbStride(nVocab: number): number {
  return 2 * Math.floor((nVocab + 1) / 2) + 4;
}

/** ggml's nearest_int: round half to even through the float mantissa. */
function nearestInt(x: number): number {
  return f(x + 12582912) - 12582912;
}

/**
 * Writes one position's log-probabilities into `out` (logProbStride entries)
 * and returns -log p(tok), computed as llama.cpp does on this path (the log of
 * the sum rounded to float).
 */
export function encodeLogProbs(logits: Float32Array, tok: number, out: Uint16Array): number {
  const n = logits.length;
  let max = logits[0]!, min = logits[0]!;
  for (let i = 1; i < n; i++) {
    if (logits[i]! > max) max = logits[i]!;
    if (logits[i]! < min) min = logits[i]!;
  }
  min = Math.max(min, f(max - 16));
  let sum = 0;
  for (let i = 0; i < n; i++) sum += f(Math.exp(f(logits[i]! - max)));
  const lse = f(Math.log(sum));
  const minLogProb = f(f(min - max) - lse);
  const scale = f(f(max - min) / 65535);
  const head = new Float32Array(out.buffer, out.byteOffset, 2);
  head[0] = scale;
  head[1] = minLogProb;
  const steps = out.subarray(4);
  if (scale) {
    const inv = f(1 / scale);
    for (let i = 0; i < n; i++) steps[i] = logits[i]! > min ? nearestInt(f(inv * f(logits[i]! - min))) : 0;
  } else {
    steps.fill(0, 0, n);
  }
  return f(max + lse) - logits[tok]!;
}

/**
 * Streams a base file: the header first, then each chunk's scored positions,
 * into a temporary beside `path` that close(true) renames over it (a killed
 * run leaves the previous base file as it was). `path` may not be any of `inputs`.
 */
export class LogitsFileWriter {
  private readonly fd: number;
  private readonly stride: number;
  private readonly out: PendingOutput;

  constructor(path: string, nCtx: number, nVocab: number, nChunk: number, tokens: readonly number[], inputs: readonly string[] = []) {
    this.stride = logProbStride(nVocab);
    this.out = beginOutput(path, inputs);
    try {
      this.fd = openSync(this.out.tmp, 'w');
    } catch (e) {
      this.out.discard();
      throw e;
    }
    const head = new Int32Array([nCtx, nVocab, nChunk]);
    writeSync(this.fd, Buffer.from(MAGIC, 'latin1'));
    writeSync(this.fd, new Uint8Array(head.buffer));
    writeSync(this.fd, new Uint8Array(Int32Array.from(tokens.slice(0, nChunk * nCtx)).buffer));
  }

  /** Encodes the rows `logits` (n_vocab each) predicting next[i]; returns the sum of -log p and of its square. */
  writeChunk(rows: Float32Array[], next: readonly number[]): { nll: number; nll2: number } {
    const buf = new Uint16Array(rows.length * this.stride);
    let nll = 0, nll2 = 0;
    rows.forEach((row, i) => {
      const v = encodeLogProbs(row, next[i]!, buf.subarray(i * this.stride, (i + 1) * this.stride));
      nll += v;
      nll2 += v * v;
    });
    writeSync(this.fd, new Uint8Array(buf.buffer));
    return { nll, nll2 };
  }

  /** Closes the file: complete (renamed over the path) or not (the temporary removed). */
  close(complete: boolean): void {
    closeSync(this.fd);
    if (complete) this.out.commit();
    else this.out.discard();
  }
}

/** The sums llama.cpp keeps (kl_divergence_result). */
export class KLDAccumulator {
  sumNll = 0; sumNll2 = 0; sumNllBase = 0; sumNllBase2 = 0; sumNllNllBase = 0;
  sumKld = 0; sumKld2 = 0; sumPDiff = 0; sumPDiff2 = 0; sumPDiff4 = 0;
  maxPDiff = 0; nSameTop = 0; count = 0;
  readonly kldValues: number[] = [];
  readonly pDiffValues: number[] = [];

  /** One position: our logits against the base's encoded log-probabilities, for the token that came next. */
  add(logits: Float32Array, base: Uint16Array, tok: number): void {
    const n = logits.length;
    let max = logits[0]!, imax = 0;
    for (let i = 1; i < n; i++) if (logits[i]! > max) { max = logits[i]!; imax = i; }
    let sumExp = 0;
    for (let i = 0; i < n; i++) sumExp += f(Math.exp(f(logits[i]! - max)));
    const lse = f(Math.log(sumExp));
    const head = new Float32Array(base.buffer, base.byteOffset, 2);
    const scale = head[0]!, minLogProb = head[1]!;
    const steps = base.subarray(4);
    const nll = f(f(max + lse) - logits[tok]!);
    this.sumNll += nll;
    this.sumNll2 += nll * nll;
    const nllBase = -f(f(scale * steps[tok]!) + minLogProb);
    this.sumNllBase += nllBase;
    this.sumNllBase2 += nllBase * nllBase;
    this.sumNllNllBase += nll * nllBase;
    const top = f(max + lse);
    let sum = 0, imaxBase = -1, pBaseMax = 0;
    for (let i = 0; i < n; i++) {
      const pLogBase = f(f(scale * steps[i]!) + minLogProb);
      if (i === 0 || pLogBase > pBaseMax) { pBaseMax = pLogBase; imaxBase = i; }
      // below e^-16 the base probability was not stored
      if (pLogBase > -16) sum += f(f(Math.exp(pLogBase)) * f(f(pLogBase - logits[i]!) + top));
    }
    this.sumKld += sum;
    this.sumKld2 += sum * sum;
    this.count++;
    if (imax === imaxBase) this.nSameTop++;
    const pDiff = f(f(Math.exp(-nll)) - f(Math.exp(-nllBase)));
    this.sumPDiff += pDiff;
    const pDiff2 = pDiff * pDiff;
    this.sumPDiff2 += pDiff2;
    this.sumPDiff4 += pDiff2 * pDiff2;
    this.maxPDiff = Math.max(this.maxPDiff, Math.abs(pDiff));
    this.kldValues.push(f(sum));
    this.pDiffValues.push(pDiff);
  }
}

/** llama.cpp's mean and uncertainty of the mean (0 for ten values or fewer). */
function meanAndUncertainty(sum: number, sum2: number, count: number): [number, number] {
  if (count < 1) return [0, 0];
  const m = sum / count;
  const v = sum2 / count - m * m;
  return [m, v > 0 && count > 10 ? Math.sqrt(v / (count - 1)) : 0];
}

function covariance(a: number, b: number, ab: number, count: number): number {
  if (count < 10) return 0;
  return (ab / count - (a / count) * (b / count)) / (count - 1);
}

export interface KLDStats {
  ppl: [number, number];
  pplBase: [number, number];
  logPplRatio: [number, number];
  kld: [number, number];
  pDiffRms: [number, number];
  sameTop: [number, number];
}

export function kldStats(k: KLDAccumulator): KLDStats {
  const lp = meanAndUncertainty(k.sumNll, k.sumNll2, k.count);
  const lb = meanAndUncertainty(k.sumNllBase, k.sumNllBase2, k.count);
  const cov = covariance(k.sumNll, k.sumNllBase, k.sumNllNllBase, k.count);
  const ppl = Math.exp(lp[0]);
  const pplBase = Math.exp(lb[0]);
  const mse = meanAndUncertainty(k.sumPDiff2, k.sumPDiff4, k.count);
  const rms = Math.sqrt(mse[0]);
  const top = k.nSameTop / k.count;
  return {
    ppl: [ppl, ppl * lp[1]],
    pplBase: [pplBase, pplBase * lb[1]],
    logPplRatio: [lp[0] - lb[0], Math.sqrt(lp[1] * lp[1] + lb[1] * lb[1] - 2 * cov)],
    kld: meanAndUncertainty(k.sumKld, k.sumKld2, k.count),
    pDiffRms: [rms, (0.5 / rms) * mse[1]],
    sameTop: [top, Math.sqrt((top * (1 - top)) / (k.count - 1))],
  };
}

/** printf's %W.Pf. */
const fx = (x: number, p: number, w = 0) => (Number.isFinite(x) ? x.toFixed(p) : x > 0 ? 'inf' : x < 0 ? '-inf' : 'nan').padStart(w);

export const KLD_CHUNK_HEADER = 'chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS            Same top p';

/** The line llama.cpp prints after each chunk. */
export function kldChunkLine(chunk: number, s: KLDStats): string {
  return `${String(chunk).padStart(4)}    ${fx(s.ppl[0], 4, 9)} ± ${fx(s.ppl[1], 4, 9)}    ${fx(s.logPplRatio[0], 5, 10)} ± ${fx(s.logPplRatio[1], 5, 10)}` +
    `    ${fx(s.kld[0], 5, 10)} ± ${fx(s.kld[1], 5, 10)}    ${fx(100 * s.pDiffRms[0], 3, 6)} ± ${fx(100 * s.pDiffRms[1], 3, 6)} %` +
    `    ${fx(100 * s.sameTop[0], 3, 6)} ± ${fx(100 * s.sameTop[1], 3, 6)} %`;
}

/** llama.cpp's percentile: linear between the two nearest sorted values. */
function percentile(sorted: readonly number[], fraction: number): number {
  if (fraction <= 0) return sorted[0]!;
  if (fraction >= 1) return sorted[sorted.length - 1]!;
  let p = f(fraction * (sorted.length - 1));
  const ip = Math.floor(p);
  p -= ip;
  return (1 - p) * sorted[ip]! + p * sorted[Math.min(ip + 1, sorted.length - 1)]!;
}

function median(sorted: readonly number[]): number {
  const n = sorted.length;
  return n % 2 === 0 ? 0.5 * (sorted[n / 2]! + sorted[n / 2 - 1]!) : sorted[(n - 1) / 2]!;
}

/** The final report (empty below 100 positions, as llama.cpp does no statistics on so few). */
export function kldReport(k: KLDAccumulator): string[] {
  if (k.count < 100) return [];
  const s = kldStats(k);
  const kv = [...k.kldValues].sort((a, b) => a - b);
  const pv = [...k.pDiffValues].sort((a, b) => a - b);
  const lp = meanAndUncertainty(k.sumNll, k.sumNll2, k.count);
  const lb = meanAndUncertainty(k.sumNllBase, k.sumNllBase2, k.count);
  const cov = covariance(k.sumNll, k.sumNllBase, k.sumNllNllBase, k.count);
  const ratio = Math.exp(s.logPplRatio[0]);
  const pplCov = s.ppl[0] * s.pplBase[0] * cov;
  const pDiff = meanAndUncertainty(k.sumPDiff, k.sumPDiff2, k.count);
  const pc = (x: number) => `${fx(100 * x, 3, 6)}%`;
  return [
    '====== Perplexity statistics ======',
    `Mean PPL(Q)                   : ${fx(s.ppl[0], 6, 10)} ± ${fx(s.ppl[1], 6, 10)}`,
    `Mean PPL(base)                : ${fx(s.pplBase[0], 6, 10)} ± ${fx(s.pplBase[1], 6, 10)}`,
    `Cor(ln(PPL(Q)), ln(PPL(base))): ${fx((100 * cov) / (lp[1] * lb[1]), 2, 6)}%`,
    `Mean ln(PPL(Q)/PPL(base))     : ${fx(s.logPplRatio[0], 6, 10)} ± ${fx(s.logPplRatio[1], 6, 10)}`,
    `Mean PPL(Q)/PPL(base)         : ${fx(ratio, 6, 10)} ± ${fx(ratio * s.logPplRatio[1], 6, 10)}`,
    `Mean PPL(Q)-PPL(base)         : ${fx(s.ppl[0] - s.pplBase[0], 6, 10)} ± ${fx(Math.sqrt(s.ppl[1] ** 2 + s.pplBase[1] ** 2 - 2 * pplCov), 6, 10)}`,
    '',
    '====== KL divergence statistics ======',
    `Mean    KLD: ${fx(s.kld[0], 6, 10)} ± ${fx(s.kld[1], 6, 10)}`,
    `Maximum KLD: ${fx(kv[kv.length - 1]!, 6, 10)}`,
    ...([['99.9%', 0.999], ['99.0%', 0.99], ['95.0%', 0.95], ['90.0%', 0.9]] as const).map(([l, q]) => `${l}   KLD: ${fx(percentile(kv, q), 6, 10)}`),
    `Median  KLD: ${fx(median(kv), 6, 10)}`,
    ...([['10.0%', 0.1], [' 5.0%', 0.05], [' 1.0%', 0.01], [' 0.1%', 0.001]] as const).map(([l, q]) => `${l}   KLD: ${fx(percentile(kv, q), 6, 10)}`),
    `Minimum KLD: ${fx(kv[0]!, 6, 10)}`,
    '',
    '====== Token probability statistics ======',
    `Mean    Δp: ${fx(100 * pDiff[0], 3, 6)} ± ${fx(100 * pDiff[1], 3, 5)} %`,
    `Maximum Δp: ${pc(pv[pv.length - 1]!)}`,
    ...([['99.9%', 0.999], ['99.0%', 0.99], ['95.0%', 0.95], ['90.0%', 0.9], ['75.0%', 0.75]] as const).map(([l, q]) => `${l}   Δp: ${pc(percentile(pv, q))}`),
    `Median  Δp: ${pc(median(pv))}`,
    ...([['25.0%', 0.25], ['10.0%', 0.1], [' 5.0%', 0.05], [' 1.0%', 0.01], [' 0.1%', 0.001]] as const).map(([l, q]) => `${l}   Δp: ${pc(percentile(pv, q))}`),
    `Minimum Δp: ${pc(pv[0]!)}`,
    `RMS Δp    : ${fx(100 * s.pDiffRms[0], 3, 6)} ± ${fx(100 * s.pDiffRms[1], 3, 5)} %`,
    `Same top p: ${fx(100 * s.sameTop[0], 3, 6)} ± ${fx(100 * s.sameTop[1], 3, 5)} %`,
  ];
}

export interface KLDivergenceOptions {
  batchSize?: number;
  threads?: number;
  onChunk?: (chunk: number, nChunks: number, stats: KLDStats) => void;
}

/** Evaluates the base file's tokens with `model` and compares each scored position with the base's log-probabilities. */
export function klDivergence(model: Model, baseFile: string, options: KLDivergenceOptions = {}): KLDAccumulator {
  const fd = openSync(baseFile, 'r');
  try {
    const read = (n: number, what: string): Uint8Array => {
      const b = new Uint8Array(n);
      if (readSync(fd, b, 0, n, null) !== n) throw new RangeError(`${baseFile}: the file ends before ${what}`);
      return b;
    };
    if (Buffer.from(read(8, 'the magic')).toString('latin1') !== MAGIC) throw new TypeError(`${baseFile} does not look like a file containing log-probabilities`);
    const [nCtx, nVocab, nChunk] = new Int32Array(read(12, 'n_ctx, n_vocab, n_chunk').buffer) as unknown as [number, number, number];
    if (nVocab !== model.hparams.n_vocab) throw new RangeError(`${baseFile}: its vocabulary has ${nVocab} tokens, the model ${model.hparams.n_vocab}`);
    const tokens = new Int32Array(read(4 * nCtx * nChunk, 'the evaluation tokens').buffer);
    const stride = logProbStride(nVocab);
    const first = Math.floor(nCtx / 2);
    const nScored = nCtx - 1 - first;
    const tok = model.tokenizer;
    const ctx = model.createContext({ contextSize: nCtx, batchSize: Math.min(options.batchSize ?? 2048, nCtx), threads: options.threads });
    const acc = new KLDAccumulator();
    try {
      for (let c = 0; c < nChunk; c++) {
        const original = Array.from(tokens.subarray(c * nCtx, (c + 1) * nCtx));
        const chunk = [...original];
        if (tok.addBos && tok.bosId !== undefined) chunk[0] = tok.bosId;
        ctx.reset();
        const logits = ctx.evaluate(chunk, { allLogits: true });
        const base = new Uint16Array(read(2 * nScored * stride, `the log-probs of chunk ${c}`).buffer);
        for (let i = 0; i < nScored; i++) {
          const j = first + i;
          acc.add(logits.subarray(j * nVocab, (j + 1) * nVocab), base.subarray(i * stride, (i + 1) * stride), original[j + 1]!);
        }
        options.onChunk?.(c + 1, nChunk, kldStats(acc));
      }
    } finally {
      ctx.dispose();
    }
    return acc;
  } finally {
    closeSync(fd);
  }
}
