// Random-weight Llama-architecture GGUF files: every tensor llama.cpp
// expects, weights quantized with our reference quantizers. Tests compare
// such files here and in llama.cpp; benchmarks run them with nothing downloaded.
import { GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { LlamaFileType } from '../gguf/file-type.js';
import { GGUFValueType, type GGUFKVInput, type GGUFTensorInput, type GGUFWriteSpec } from '../gguf/index.js';
import { quantizeRow } from '../quant/index.js';
import { gaussianArray, mulberry32 } from './random.js';
import { spmVocabKV } from './vocab.js';

export interface LlamaShape {
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  n_ff: number;
  n_ctx_train: number;
  rope_freq_base?: number;
  /** No output.weight: the head reuses token_embd (tied embeddings). */
  tied?: boolean;
  ropeScaling?: { type: 'linear' | 'yarn'; factor: number; originalContext?: number };
  /** llama3-style rope_freqs.weight (n_rot/2 factors). */
  ropeFreqs?: boolean;
  /**
   * general.architecture: 'llama', 'qwen2' (the same tensors plus q/k/v
   * biases; llama.cpp runs it with NEOX rope) or 'qwen3' (no biases, a
   * per-head RMSNorm of q and k). Default 'llama'.
   */
  arch?: 'llama' | 'qwen2' | 'qwen3';
}

/** Shapes of real models (for benchmarks), and small ones for tests. */
export const LLAMA_SHAPES: Readonly<Record<string, LlamaShape>> = {
  'tinyllama-1.1b': { n_vocab: 32000, n_embd: 2048, n_layer: 22, n_head: 32, n_head_kv: 4, n_ff: 5632, n_ctx_train: 2048 },
  'llama-160m': { n_vocab: 32000, n_embd: 768, n_layer: 12, n_head: 12, n_head_kv: 12, n_ff: 3072, n_ctx_train: 2048 },
  // Qwen2.5-0.5B's sizes (q/k/v biases, NEOX rope). Its row length 896 is not a multiple of
  // 256, so k-quant mixes fall back to legacy types on most matrices, as in the real files.
  'qwen2.5-0.5b': { n_vocab: 151936, n_embd: 896, n_layer: 24, n_head: 14, n_head_kv: 2, n_ff: 4864, n_ctx_train: 32768, rope_freq_base: 1000000, tied: true, arch: 'qwen2' },
  'test-tiny': { n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff: 512, n_ctx_train: 512 },
};

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
  };
  const ft = map[type];
  if (ft === undefined) throw new RangeError(`no llama file type for ${ggmlTypeInfo(type)?.name ?? type}`);
  return ft;
}

/**
 * The write spec of a random Llama model whose 2-D weights are all `type`
 * (norms stay F32, as llama.cpp's quantizer leaves them). Tensor data is
 * generated and quantized lazily, one tensor at a time, as it is written.
 */
export function llamaModelSpec(shape: LlamaShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const seed = options.seed ?? 1;
  const s = shape;
  const headDim = s.n_embd / s.n_head;
  const nEmbdKv = headDim * s.n_head_kv;
  const arch = s.arch ?? 'llama';
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: `synthetic ${arch} ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.vocab_size`, value: s.n_vocab },
    { key: `${arch}.context_length`, value: s.n_ctx_train },
    { key: `${arch}.embedding_length`, value: s.n_embd },
    { key: `${arch}.block_count`, value: s.n_layer },
    { key: `${arch}.feed_forward_length`, value: s.n_ff },
    { key: `${arch}.attention.head_count`, value: s.n_head },
    { key: `${arch}.attention.head_count_kv`, value: s.n_head_kv },
    { key: `${arch}.rope.dimension_count`, value: headDim },
    { key: `${arch}.rope.freq_base`, value: s.rope_freq_base ?? 10000, type: GGUFValueType.FLOAT32 },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, value: 1e-5, type: GGUFValueType.FLOAT32 },
  ];
  if (s.ropeScaling) {
    kv.push({ key: `${arch}.rope.scaling.type`, value: s.ropeScaling.type });
    kv.push({ key: `${arch}.rope.scaling.factor`, value: s.ropeScaling.factor, type: GGUFValueType.FLOAT32 });
    if (s.ropeScaling.originalContext) kv.push({ key: `${arch}.rope.scaling.original_context_length`, value: s.ropeScaling.originalContext });
  }
  kv.push(...spmVocabKV(s.n_vocab));
  if (options.extraKV) kv.push(...options.extraKV);

  const tensors: GGUFTensorInput[] = [];
  const qkvBias = arch === 'qwen2';
  let tensorSeed = seed * 7919;
  const pooled = rowPool(seed, options.distinctRows);
  // A matrix of n_out rows of n_in, N(0, sigma), in `type` (or F32 for vectors).
  const matrix = (name: string, nIn: number, nOut: number, sigma: number) => {
    const t = options.matrixType?.(name, nIn, nOut) ?? type;
    const mySeed = tensorSeed++;
    tensors.push({
      name, type: t, shape: [nIn, nOut],
      data: pooled ? () => pooled(t, nIn, nOut, sigma, mySeed) : () => (function* () {
        const rand = mulberry32(mySeed);
        for (let r = 0; r < nOut; r++) yield quantizeRow(t, gaussianArray(rand, nIn, sigma));
      })(),
    });
  };
  const vector = (name: string, n: number, mean: number, sigma: number) => {
    const mySeed = tensorSeed++;
    tensors.push({
      name, type: GGMLType.F32, shape: [n],
      data: () => {
        const v = gaussianArray(mulberry32(mySeed), n, sigma);
        for (let i = 0; i < n; i++) v[i]! += mean;
        return [new Uint8Array(v.buffer)];
      },
    });
  };
  const proj = 1 / Math.sqrt(s.n_embd);
  matrix('token_embd.weight', s.n_embd, s.n_vocab, 1);
  if (s.ropeFreqs) {
    const mySeed = tensorSeed++;
    tensors.push({
      name: 'rope_freqs.weight', type: GGMLType.F32, shape: [headDim / 2],
      data: () => {
        const rand = mulberry32(mySeed);
        const v = new Float32Array(headDim / 2).map((_, i) => (i < headDim / 8 ? 1 : 1 + 7 * rand()));
        return [new Uint8Array(v.buffer)];
      },
    });
  }
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    vector(`${p}.attn_norm.weight`, s.n_embd, 1, 0.1);
    // q and k larger than 1/sqrt(n) so attention is not uniform
    matrix(`${p}.attn_q.weight`, s.n_embd, s.n_embd, proj);
    matrix(`${p}.attn_k.weight`, s.n_embd, nEmbdKv, proj);
    matrix(`${p}.attn_v.weight`, s.n_embd, nEmbdKv, proj);
    if (arch === 'qwen3') {
      vector(`${p}.attn_q_norm.weight`, headDim, 1, 0.2);
      vector(`${p}.attn_k_norm.weight`, headDim, 1, 0.2);
    }
    if (qkvBias) {
      vector(`${p}.attn_q.bias`, s.n_embd, 0, 0.5);
      vector(`${p}.attn_k.bias`, nEmbdKv, 0, 0.5);
      vector(`${p}.attn_v.bias`, nEmbdKv, 0, 0.5);
    }
    matrix(`${p}.attn_output.weight`, s.n_embd, s.n_embd, proj * (options.blockOutScale ?? 1));
    vector(`${p}.ffn_norm.weight`, s.n_embd, 1, 0.1);
    matrix(`${p}.ffn_gate.weight`, s.n_embd, s.n_ff, proj);
    matrix(`${p}.ffn_up.weight`, s.n_embd, s.n_ff, proj);
    matrix(`${p}.ffn_down.weight`, s.n_ff, s.n_embd, (options.blockOutScale ?? 1) / Math.sqrt(s.n_ff));
  }
  const logitStd = options.logitStd ?? 6;
  if (s.tied) {
    // the head is token_embd (sigma 1): the final norm's weights set the logit spread
    vector('output_norm.weight', s.n_embd, logitStd * proj, 0.1 * logitStd * proj);
  } else {
    vector('output_norm.weight', s.n_embd, 1, 0.1);
    matrix('output.weight', s.n_embd, s.n_vocab, logitStd * proj);
  }
  return { kv, tensors };
}

/** Bytes per chunk handed to the writer when rows come from a pool (few large writes). */
const POOL_CHUNK = 4 << 20;

/**
 * Matrices whose rows are drawn from pools of `distinct` quantized random
 * rows, one pool per (type, row length, scale), made on first use. Which
 * pool row each matrix row copies follows the matrix's seed, so a seed still
 * gives one file.
 */
function rowPool(seed: number, distinct: number | undefined) {
  if (distinct === undefined) return undefined;
  if (!Number.isInteger(distinct) || distinct < 1) throw new RangeError(`distinctRows must be a positive integer, got ${distinct}`);
  const pools = new Map<string, Uint8Array[]>();
  const poolFor = (t: GGMLType, nIn: number, sigma: number): Uint8Array[] => {
    const key = `${t}:${nIn}:${sigma}`;
    let pool = pools.get(key);
    if (!pool) {
      const rand = mulberry32(fnv1a(key) ^ Math.imul(seed, 0x9e3779b1));
      pool = Array.from({ length: distinct }, () => quantizeRow(t, gaussianArray(rand, nIn, sigma)));
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
