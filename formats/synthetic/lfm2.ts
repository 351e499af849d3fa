// Random-weight LFM2 GGUF files, with the tensors and metadata keys
// llama.cpp's LLM_ARCH_LFM2 loader reads ("lfm2.*", a byte-level BPE
// vocabulary with the lfm2 pre-tokenizer): per layer RMSNorms and a SwiGLU
// FFN, and either a gated short convolution (shortconv.in_proj, conv,
// out_proj; head_count_kv 0 in the per-layer array) or GQA attention with
// per-head q/k RMSNorm. The final norm is token_embd_norm, as llama.cpp
// names it. The convolution taps stay F32 (llama-quantize leaves them).
import { GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { fileTypeFor, RandomTensors, type SyntheticOptions } from './tensors.js';
import { bpeVocabKV } from './vocab-bpe.js';

export interface Lfm2Shape {
  n_vocab: number;
  n_embd: number;
  n_head: number;
  /** head_count_kv per layer: 0 for a convolution layer. */
  n_head_kv: readonly number[];
  n_ff: number;
  n_ctx_train: number;
  /** shortconv.l_cache: taps of the convolution (3 in the released models). */
  l_cache: number;
  rope_freq_base: number;
  /** No output.weight: the head reuses token_embd (the released models are tied). */
  tied?: boolean;
  /** Spread of the convolution taps (larger: the convolution's memory weighs more). Default 0.5. */
  convSigma?: number;
  /** Standard deviation of in_proj's outputs b, c and x for a unit-RMS input. Default 1. */
  inProjSigma?: number;
}

/**
 * LFM2-350M's proportions (GQA 2:1, head size 64, l_cache 3, rope base 1e6)
 * in four layers: two convolution layers, one attention layer, one more
 * convolution (so a convolution reads what attention wrote).
 */
export const LFM2_SHAPES: Readonly<Record<string, Lfm2Shape>> = {
  'test-lfm2': {
    n_vocab: 512, n_embd: 256, n_head: 4, n_head_kv: [0, 0, 2, 0], n_ff: 512, n_ctx_train: 128000, l_cache: 3,
    rope_freq_base: 1000000, tied: true,
  },
};

export function lfm2ModelSpec(s: Lfm2Shape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = 'lfm2';
  const u32 = GGUFValueType.UINT32;
  const f32 = GGUFValueType.FLOAT32;
  const nLayer = s.n_head_kv.length;
  const headDim = s.n_embd / s.n_head;
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: `synthetic lfm2 ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.vocab_size`, value: s.n_vocab, type: u32 },
    { key: `${arch}.context_length`, value: s.n_ctx_train, type: u32 },
    { key: `${arch}.embedding_length`, value: s.n_embd, type: u32 },
    { key: `${arch}.block_count`, value: nLayer, type: u32 },
    { key: `${arch}.feed_forward_length`, value: s.n_ff, type: u32 },
    { key: `${arch}.attention.head_count`, value: s.n_head, type: u32 },
    { key: `${arch}.attention.head_count_kv`, value: [...s.n_head_kv], elementType: u32 },
    { key: `${arch}.rope.freq_base`, value: s.rope_freq_base, type: f32 },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, value: 1e-5, type: f32 },
    { key: `${arch}.shortconv.l_cache`, value: s.l_cache, type: u32 },
  ];
  kv.push(...bpeVocabKV(s.n_vocab, 'lfm2'));
  if (options.extraKV) kv.push(...options.extraKV);

  const t = new RandomTensors(type, options);
  const matrix = t.matrix.bind(t);
  const vector = t.vector.bind(t);
  const n = s.n_embd;
  const proj = 1 / Math.sqrt(n);
  const outScale = options.blockOutScale ?? 1;
  const convSigma = s.convSigma ?? 0.5;
  matrix('token_embd.weight', n, s.n_vocab, 1);
  for (let il = 0; il < nLayer; il++) {
    const p = `blk.${il}`;
    vector(`${p}.attn_norm.weight`, n, 1, 0.1);
    if (s.n_head_kv[il] === 0) {
      matrix(`${p}.shortconv.in_proj.weight`, n, 3 * n, (s.inProjSigma ?? 1) * proj);
      t.f32(`${p}.shortconv.conv.weight`, [s.l_cache, n], (rand) => new Float32Array(s.l_cache * n).map(() => (rand() * 2 - 1) * convSigma * Math.sqrt(3)));
      matrix(`${p}.shortconv.out_proj.weight`, n, n, outScale * proj);
    } else {
      const nKv = s.n_head_kv[il]! * headDim;
      matrix(`${p}.attn_q.weight`, n, n, proj);
      matrix(`${p}.attn_k.weight`, n, nKv, proj);
      matrix(`${p}.attn_v.weight`, n, nKv, proj);
      vector(`${p}.attn_q_norm.weight`, headDim, 1, 0.1);
      vector(`${p}.attn_k_norm.weight`, headDim, 1, 0.1);
      matrix(`${p}.attn_output.weight`, n, n, outScale * proj);
    }
    vector(`${p}.ffn_norm.weight`, n, 1, 0.1);
    t.ffn(p, n, s.n_ff, outScale);
  }
  vector('token_embd_norm.weight', n, 1, 0.1);
  if (!s.tied) matrix('output.weight', n, s.n_vocab, (options.logitStd ?? 6) * proj);
  return { kv, tensors: t.tensors };
}
