// Random-weight Llama-architecture GGUF files: every tensor llama.cpp
// expects, weights quantized with our reference quantizers. Tests compare
// such files here and in llama.cpp; benchmarks run them with nothing downloaded.
import { GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { fileTypeFor, RandomTensors, type SyntheticOptions } from './tensors.js';
import { spmVocabKV } from './vocab.js';

export { fileTypeFor, type SyntheticOptions } from './tensors.js';

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
   * per-head RMSNorm of q and k), 'smollm3' (llama's tensors; llama.cpp
   * ropes three layers of four) or 'mistral3' (llama's tensors; see
   * `mistral3`). Default 'llama'.
   */
  arch?: 'llama' | 'qwen2' | 'qwen3' | 'smollm3' | 'mistral3';
  /**
   * Ministral 3's keys (mistral3 only): attention.temperature_scale (q times
   * 1 + scale * ln(floor(pos / original_context_length) + 1), llama 4's
   * scaling) and rope.scaling.yarn_log_multiplier (yarn's mscale_all_dim).
   */
  mistral3?: { temperatureScale?: number; yarnLogMul?: number };
  /**
   * Biases on ffn_gate, ffn_up and ffn_down, and on attn_q/k/v/output: the
   * optional tensors llama.cpp's llama loader takes (some fine-tunes and
   * converted models carry them). llama only.
   */
  biases?: boolean;
}

/** Shapes of real models (for benchmarks), and small ones for tests. */
export const LLAMA_SHAPES: Readonly<Record<string, LlamaShape>> = {
  // Llama 3.1 8B: GQA 4:1, llama3 rope_freqs, a 128k vocabulary (a 4.9 GB Q4_K_M file: past one 4 GiB memory)
  'llama-3.1-8b': { n_vocab: 128256, n_embd: 4096, n_layer: 32, n_head: 32, n_head_kv: 8, n_ff: 14336, n_ctx_train: 131072, rope_freq_base: 500000, ropeFreqs: true },
  'tinyllama-1.1b': { n_vocab: 32000, n_embd: 2048, n_layer: 22, n_head: 32, n_head_kv: 4, n_ff: 5632, n_ctx_train: 2048 },
  'llama-160m': { n_vocab: 32000, n_embd: 768, n_layer: 12, n_head: 12, n_head_kv: 12, n_ff: 3072, n_ctx_train: 2048 },
  // Qwen2.5-0.5B's sizes (q/k/v biases, NEOX rope). Its row length 896 is not a multiple of
  // 256, so k-quant mixes fall back to legacy types on most matrices, as in the real files.
  'qwen2.5-0.5b': { n_vocab: 151936, n_embd: 896, n_layer: 24, n_head: 14, n_head_kv: 2, n_ff: 4864, n_ctx_train: 32768, rope_freq_base: 1000000, tied: true, arch: 'qwen2' },
  'test-tiny': { n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff: 512, n_ctx_train: 512 },
  // SmolLM3-3B's proportions (GQA 4:1, tied head, rope base 5e6) in 4 layers: the last one has no rope
  // Ministral-3-3B's proportions (GQA 4:1, tied head, yarn x16 with mscale_all_dim 1, llama 4
  // temperature 0.1) with an original context of 32, so the temperature steps up within a test's positions
  'test-mistral3': {
    n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 8, n_head_kv: 2, n_ff: 512, n_ctx_train: 512, rope_freq_base: 1000000, tied: true, arch: 'mistral3',
    ropeScaling: { type: 'yarn', factor: 16, originalContext: 32 }, mistral3: { temperatureScale: 0.1, yarnLogMul: 1 },
  },
  'test-smollm3': { n_vocab: 512, n_embd: 256, n_layer: 4, n_head: 8, n_head_kv: 2, n_ff: 512, n_ctx_train: 65536, rope_freq_base: 5000000, tied: true, arch: 'smollm3' },
};

/**
 * The write spec of a random Llama model whose 2-D weights are all `type`
 * (norms stay F32, as llama.cpp's quantizer leaves them). Tensor data is
 * generated and quantized lazily, one tensor at a time, as it is written.
 */
export function llamaModelSpec(shape: LlamaShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
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
  if (s.mistral3?.temperatureScale !== undefined) kv.push({ key: `${arch}.attention.temperature_scale`, value: s.mistral3.temperatureScale, type: GGUFValueType.FLOAT32 });
  if (s.mistral3?.yarnLogMul !== undefined) kv.push({ key: `${arch}.rope.scaling.yarn_log_multiplier`, value: s.mistral3.yarnLogMul, type: GGUFValueType.FLOAT32 });
  kv.push(...spmVocabKV(s.n_vocab));
  if (options.extraKV) kv.push(...options.extraKV);

  const t = new RandomTensors(type, options);
  const matrix = t.matrix.bind(t);
  const vector = t.vector.bind(t);
  if (s.mistral3 && arch !== 'mistral3') throw new RangeError(`mistral3 keys on a ${arch} file`);
  if (s.ropeFreqs && arch === 'smollm3') throw new RangeError('smollm3 files have no rope_freqs (llama.cpp declares none)');
  if (s.biases && arch !== 'llama') throw new RangeError(`biases: llama only (${arch} declares its own)`);
  const qkvBias = arch === 'qwen2' || s.biases === true;
  const proj = 1 / Math.sqrt(s.n_embd);
  matrix('token_embd.weight', s.n_embd, s.n_vocab, 1);
  if (s.ropeFreqs) {
    // llama3's factors: 1 for the high frequencies, up to 8 for the low ones
    t.f32('rope_freqs.weight', [headDim / 2], (rand) => new Float32Array(headDim / 2).map((_, i) => (i < headDim / 8 ? 1 : 1 + 7 * rand())));
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
    if (s.biases) vector(`${p}.attn_output.bias`, s.n_embd, 0, 0.5 * (options.blockOutScale ?? 1));
    vector(`${p}.ffn_norm.weight`, s.n_embd, 1, 0.1);
    t.ffn(p, s.n_embd, s.n_ff, options.blockOutScale ?? 1);
    if (s.biases) {
      // as large as the projections' outputs, so that leaving them out shows
      vector(`${p}.ffn_gate.bias`, s.n_ff, 0, 0.5);
      vector(`${p}.ffn_up.bias`, s.n_ff, 0, 0.5);
      vector(`${p}.ffn_down.bias`, s.n_embd, 0, 0.5 * (options.blockOutScale ?? 1));
    }
  }
  const logitStd = options.logitStd ?? 6;
  if (s.tied) {
    // the head is token_embd (sigma 1): the final norm's weights set the logit spread
    vector('output_norm.weight', s.n_embd, logitStd * proj, 0.1 * logitStd * proj);
  } else {
    vector('output_norm.weight', s.n_embd, 1, 0.1);
    matrix('output.weight', s.n_embd, s.n_vocab, logitStd * proj);
  }
  return { kv, tensors: t.tensors };
}

