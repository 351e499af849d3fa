// Random tensors for synthetic GGUF files, shared by every architecture's
// writer: matrices drawn N(0, sigma) and quantized row by row with our
// reference quantizers, F32 vectors around a mean. Data is generated lazily,
// one tensor at a time, as the writer asks for it.
import { GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { LlamaFileType } from '../gguf/file-type.js';
import type { GGUFKVInput, GGUFTensorInput } from '../gguf/index.js';
import { gridQuantizer, quantizeRow, quantizeRowWeighted } from '../quant/index.js';
import type { RowsQuantizer } from '../quantize/rows.js';
import { gaussianArray, mulberry32 } from './random.js';

export interface SyntheticOptions {
  seed?: number;
  /** Standard deviation of the LM head's logits (higher: more peaked next-token distributions). Default 6. */
  logitStd?: number;
  /**
   * Scale of what each block adds to the residual stream (attn_output and
   * ffn_down). Below 1 the token embedding dominates, which keeps the
   * rounding differences between two correct implementations from being
   * amplified through the layers. Default 1.
   */
  blockOutScale?: number;
  /**
   * The type of each matrix (llama.cpp's quantization mixes give some
   * tensors more bits). Default: every matrix is `type`.
   */
  matrixType?: (name: string, nIn: number, nOut: number) => GGMLType;
  /** general.file_type. Default: fileTypeFor(type). */
  fileType?: LlamaFileType;
  /**
   * Quantize only this many random rows per (row length, scale, type) and
   * draw every row of every such matrix from them, in a seeded order. The
   * reference k-quantizers take minutes for a 1B model; benchmarks only need
   * weights of the right types and sizes. Default: every row is drawn anew.
   */
  distinctRows?: number;
  /** Metadata added after the model's own. */
  extraKV?: GGUFKVInput[];
  /**
   * Quantizes rows of the types it handles, with the bytes quantizeRow /
   * quantizeRowWeighted write (the C i-quant quantizers,
   * runtime/quantize/wasm-quantizer.ts). Default: formats/quant alone.
   */
  quantizer?: RowsQuantizer;
}

/**
 * Random rows of nIn values, quantized to t. The grid i-quants get an
 * importance of ones: a random model has no activations to weigh, and ggml
 * quantizes some of them (iq2_xxs, iq2_xs, iq1_s) only with an imatrix.
 */
function quantizeRows(t: GGMLType, rows: Float32Array, nIn: number, quantizer: RowsQuantizer | undefined): Uint8Array[] {
  const n = rows.length / nIn;
  const ones = gridQuantizer(t) ? new Float32Array(nIn).fill(1) : undefined;
  if (quantizer?.handles(t)) {
    const bytes = quantizer.quantize(t, rows, nIn, ones);
    const size = bytes.length / n;
    return Array.from({ length: n }, (_, r) => bytes.subarray(r * size, (r + 1) * size));
  }
  return Array.from({ length: n }, (_, r) => {
    const row = rows.subarray(r * nIn, (r + 1) * nIn);
    return ones ? quantizeRowWeighted(t, row, ones) : quantizeRow(t, row);
  });
}

/** llama.cpp's general.file_type for a model whose matrices are all `type`. */
export function fileTypeFor(type: GGMLType): LlamaFileType {
  const F = LlamaFileType;
  const map: Partial<Record<GGMLType, LlamaFileType>> = {
    [GGMLType.F32]: F.ALL_F32, [GGMLType.F16]: F.MOSTLY_F16, [GGMLType.BF16]: F.MOSTLY_BF16,
    [GGMLType.Q4_0]: F.MOSTLY_Q4_0, [GGMLType.Q4_1]: F.MOSTLY_Q4_1, [GGMLType.Q5_0]: F.MOSTLY_Q5_0,
    [GGMLType.Q5_1]: F.MOSTLY_Q5_1, [GGMLType.Q8_0]: F.MOSTLY_Q8_0, [GGMLType.Q2_K]: F.MOSTLY_Q2_K,
    [GGMLType.Q3_K]: F.MOSTLY_Q3_K_M, [GGMLType.Q4_K]: F.MOSTLY_Q4_K_M, [GGMLType.Q5_K]: F.MOSTLY_Q5_K_M,
    [GGMLType.Q6_K]: F.MOSTLY_Q6_K,
    [GGMLType.IQ4_NL]: F.MOSTLY_IQ4_NL, [GGMLType.IQ4_XS]: F.MOSTLY_IQ4_XS, [GGMLType.TQ1_0]: F.MOSTLY_TQ1_0,
    [GGMLType.TQ2_0]: F.MOSTLY_TQ2_0, [GGMLType.MXFP4]: F.MOSTLY_MXFP4_MOE,
  };
  const ft = map[type];
  if (ft === undefined) throw new RangeError(`no llama file type for ${ggmlTypeInfo(type)?.name ?? type}`);
  return ft;
}

/**
 * Collects a model's tensors in order. Each tensor gets its own seed, taken
 * in the order tensors are added, so one seed writes one file.
 */
export class RandomTensors {
  readonly tensors: GGUFTensorInput[] = [];
  private nextSeed: number;
  private readonly pooled: ReturnType<typeof rowPool>;

  /** `type` is every matrix's type unless options.matrixType says otherwise. */
  constructor(readonly type: GGMLType, readonly options: SyntheticOptions = {}) {
    const seed = options.seed ?? 1;
    this.nextSeed = seed * 7919;
    this.pooled = rowPool(seed, options.distinctRows, options.quantizer);
  }

  /** A matrix of nOut rows of nIn, N(0, sigma), in its type (ggml shape [nIn, nOut]). */
  matrix(name: string, nIn: number, nOut: number, sigma: number, type?: GGMLType): void {
    const t = type ?? this.options.matrixType?.(name, nIn, nOut) ?? this.type;
    const mySeed = this.nextSeed++;
    const pooled = this.pooled;
    const quantizer = this.options.quantizer;
    this.tensors.push({
      name, type: t, shape: [nIn, nOut],
      data: pooled ? () => pooled(t, nIn, nOut, sigma, mySeed) : () => (function* () {
        const rand = mulberry32(mySeed);
        for (let r = 0; r < nOut; r++) yield quantizeRows(t, gaussianArray(rand, nIn, sigma), nIn, quantizer)[0]!;
      })(),
    });
  }

  /**
   * One matrix per expert, stored as one 3-D tensor [nIn, nOut, nExpert]:
   * drawn and quantized as the matrix of nOut * nExpert rows it is in memory.
   */
  experts(name: string, nIn: number, nOut: number, nExpert: number, sigma: number): void {
    this.matrix(name, nIn, nOut * nExpert, sigma);
    const i = this.tensors.length - 1;
    this.tensors[i] = { ...this.tensors[i]!, shape: [nIn, nOut, nExpert] };
  }

  /**
   * A gated FFN in llama.cpp's names, `${p}.ffn_{gate,up,down}${suffix}.weight`
   * ('' a dense FFN, '_shexp' a shared expert): gate and up N(0, 1/sqrt(nIn)),
   * down N(0, outScale/sqrt(nFf)), so the branch adds about outScale to the
   * stream (blockOutScale, or an architecture's residual scale).
   */
  ffn(p: string, nIn: number, nFf: number, outScale: number, suffix = ''): void {
    const proj = 1 / Math.sqrt(nIn);
    this.matrix(`${p}.ffn_gate${suffix}.weight`, nIn, nFf, proj);
    this.matrix(`${p}.ffn_up${suffix}.weight`, nIn, nFf, proj);
    this.matrix(`${p}.ffn_down${suffix}.weight`, nFf, nIn, outScale / Math.sqrt(nFf));
  }

  /**
   * Routed experts: the router `ffn_gate_inp` (F32, as llama.cpp's converter
   * and quantizer leave it; logits N(0, routerSigma) for an input of unit
   * rms), the selection bias `exp_probs_b` when selectionBias > 0, and the
   * experts' `ffn_{gate,up,down}_exps` scaled as ffn() scales a dense FFN.
   */
  moe(p: string, nIn: number, nFfExp: number, nExpert: number, outScale: number, routerSigma: number, selectionBias = 0): void {
    const proj = 1 / Math.sqrt(nIn);
    this.matrix(`${p}.ffn_gate_inp.weight`, nIn, nExpert, routerSigma * proj, GGMLType.F32);
    if (selectionBias > 0) this.vector(`${p}.exp_probs_b.bias`, nExpert, 0, selectionBias);
    this.experts(`${p}.ffn_gate_exps.weight`, nIn, nFfExp, nExpert, proj);
    this.experts(`${p}.ffn_up_exps.weight`, nIn, nFfExp, nExpert, proj);
    this.experts(`${p}.ffn_down_exps.weight`, nFfExp, nIn, nExpert, outScale / Math.sqrt(nFfExp));
  }

  /** An F32 vector (norm weights, biases): mean + N(0, sigma). */
  vector(name: string, n: number, mean: number, sigma: number): void {
    this.f32(name, [n], (rand) => {
      const v = gaussianArray(rand, n, sigma);
      for (let i = 0; i < n; i++) v[i]! += mean;
      return v;
    });
  }

  /** An F32 tensor of any shape whose values `fill` draws from its own seeded generator. */
  f32(name: string, shape: number[], fill: (rand: () => number) => Float32Array): void {
    const mySeed = this.nextSeed++;
    this.tensors.push({
      name, type: GGMLType.F32, shape,
      data: () => [new Uint8Array(fill(mulberry32(mySeed)).buffer)],
    });
  }
}

/** Bytes per chunk handed to the writer when rows come from a pool (few large writes). */
const POOL_CHUNK = 4 << 20;

/**
 * Matrices whose rows are drawn from pools of `distinct` quantized random
 * rows, one pool per (type, row length, scale), made on first use. Which
 * pool row each matrix row copies follows the matrix's seed, so a seed still
 * gives one file.
 */
function rowPool(seed: number, distinct: number | undefined, quantizer: RowsQuantizer | undefined) {
  if (distinct === undefined) return undefined;
  if (!Number.isInteger(distinct) || distinct < 1) throw new RangeError(`distinctRows must be a positive integer, got ${distinct}`);
  const pools = new Map<string, Uint8Array[]>();
  const poolFor = (t: GGMLType, nIn: number, sigma: number): Uint8Array[] => {
    const key = `${t}:${nIn}:${sigma}`;
    let pool = pools.get(key);
    if (!pool) {
      const rand = mulberry32(fnv1a(key) ^ Math.imul(seed, 0x9e3779b1));
      const rows = new Float32Array(distinct * nIn);
      for (let r = 0; r < distinct; r++) rows.set(gaussianArray(rand, nIn, sigma), r * nIn);
      pool = quantizeRows(t, rows, nIn, quantizer);
      pools.set(key, pool);
    }
    return pool;
  };
  return function* (t: GGMLType, nIn: number, nOut: number, sigma: number, tensorSeed: number): Generator<Uint8Array> {
    const pool = poolFor(t, nIn, sigma);
    const rowBytes = pool[0]!.length;
    const rowsPerChunk = Math.max(1, Math.floor(POOL_CHUNK / rowBytes));
    const rand = mulberry32(tensorSeed);
    for (let r0 = 0; r0 < nOut; r0 += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, nOut - r0);
      const chunk = new Uint8Array(n * rowBytes);
      for (let i = 0; i < n; i++) chunk.set(pool[Math.floor(rand() * pool.length)]!, i * rowBytes);
      yield chunk;
    }
  };
}

/** FNV-1a of a string's UTF-16 units: a stable seed from a pool's key. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
