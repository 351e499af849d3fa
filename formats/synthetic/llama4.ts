// Random-weight "llama4" GGUF files with the tensor names and metadata keys
// llama.cpp's loader reads: the llama tensors with rope_freqs, dense SwiGLU
// layers interleaved with MoE layers (interleave_moe_layer_step) that carry
// a router, 3-D experts and a shared expert of expert_feed_forward_length,
// and the llama4 pre-tokenizer.
import { GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { fileTypeFor, RandomTensors, type SyntheticOptions } from './tensors.js';
import { bpeVocabKV } from './vocab-bpe.js';

export interface Llama4Shape {
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  head_dim: number;
  n_ff: number;
  n_ff_exp: number;
  n_expert: number;
  n_expert_used: number;
  /** interleave_moe_layer_step: layers il with (il + 1) % step == 0 are MoE. */
  moe_step: number;
  n_ctx_train: number;
  rope_freq_base: number;
  /** attention.sliding_window as the converter writes it (llama.cpp uses 8192 whatever it says). */
  n_swa: number;
  /** rope_freqs.weight: llama3-style frequency factors (1 for high frequencies up to `factor` for low). */
  ropeFactor?: number;
  routerSigma?: number;
  /**
   * attn_q's scale on the global no-rope layers (every fourth): above 1 their
   * attention concentrates on a few of thousands of positions, where llama
   * 4's attention temperature shows. Default 1.
   */
  globalQScale?: number;
}

export const LLAMA4_SHAPES: Readonly<Record<string, Llama4Shape>> = {
  // Llama 4 Maverick's interleaving (MoE every second layer) and Scout's
  // rope factors (16) scaled down: 4 layers, so one global no-rope layer
  // after three chunked ones; 1 of 4 experts per token plus the shared one,
  // router logits close together, so sigmoid weights near 0.5 make weighting
  // the experts' input rather than their output show; the global layer
  // attends sharply, so that leaving its rope out shows
  'test-llama4': {
    n_vocab: 512, n_embd: 256, n_layer: 4, n_head: 4, n_head_kv: 2, head_dim: 64, n_ff: 512, n_ff_exp: 256,
    n_expert: 4, n_expert_used: 1, moe_step: 2, n_ctx_train: 262144, rope_freq_base: 500000, n_swa: 8192, ropeFactor: 16, routerSigma: 0.3, globalQScale: 4,
  },
};

export function llama4ModelSpec(s: Llama4Shape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = 'llama4';
  const u32 = GGUFValueType.UINT32;
  const f32 = GGUFValueType.FLOAT32;
  const nQ = s.n_head * s.head_dim;
  const nKv = s.n_head_kv * s.head_dim;
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: `synthetic llama4 ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.vocab_size`, value: s.n_vocab, type: u32 },
    { key: `${arch}.context_length`, value: s.n_ctx_train, type: u32 },
    { key: `${arch}.embedding_length`, value: s.n_embd, type: u32 },
    { key: `${arch}.block_count`, value: s.n_layer, type: u32 },
    { key: `${arch}.feed_forward_length`, value: s.n_ff, type: u32 },
    { key: `${arch}.attention.head_count`, value: s.n_head, type: u32 },
    { key: `${arch}.attention.head_count_kv`, value: s.n_head_kv, type: u32 },
    { key: `${arch}.attention.key_length`, value: s.head_dim, type: u32 },
    { key: `${arch}.attention.value_length`, value: s.head_dim, type: u32 },
    { key: `${arch}.rope.dimension_count`, value: s.head_dim, type: u32 },
    { key: `${arch}.rope.freq_base`, value: s.rope_freq_base, type: f32 },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, value: 1e-5, type: f32 },
    { key: `${arch}.attention.sliding_window`, value: s.n_swa, type: u32 },
    { key: `${arch}.interleave_moe_layer_step`, value: s.moe_step, type: u32 },
    { key: `${arch}.expert_feed_forward_length`, value: s.n_ff_exp, type: u32 },
    { key: `${arch}.expert_count`, value: s.n_expert, type: u32 },
    { key: `${arch}.expert_used_count`, value: s.n_expert_used, type: u32 },
  ];
  kv.push(...bpeVocabKV(s.n_vocab, 'llama4'));
  if (options.extraKV) kv.push(...options.extraKV);

  const t = new RandomTensors(type, options);
  const proj = 1 / Math.sqrt(s.n_embd);
  const out = options.blockOutScale ?? 1;
  t.matrix('token_embd.weight', s.n_embd, s.n_vocab, 1);
  if (s.ropeFactor) {
    // llama3's smooth ramp from 1 (high frequencies) to the factor (low ones)
    const half = s.head_dim / 2;
    const f = s.ropeFactor;
    t.f32('rope_freqs.weight', [half], () => new Float32Array(half).map((_, i) => 1 + (f - 1) * Math.min(1, Math.max(0, (i / half - 0.3) / 0.4))));
  }
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    t.vector(`${p}.attn_norm.weight`, s.n_embd, 1, 0.1);
    t.matrix(`${p}.attn_q.weight`, s.n_embd, nQ, (il + 1) % 4 === 0 ? (s.globalQScale ?? 1) * proj : proj);
    t.matrix(`${p}.attn_k.weight`, s.n_embd, nKv, proj);
    t.matrix(`${p}.attn_v.weight`, s.n_embd, nKv, proj);
    t.matrix(`${p}.attn_output.weight`, nQ, s.n_embd, out / Math.sqrt(nQ));
    t.vector(`${p}.ffn_norm.weight`, s.n_embd, 1, 0.1);
    if ((il + 1) % s.moe_step === 0) {
      t.moe(p, s.n_embd, s.n_ff_exp, s.n_expert, out, s.routerSigma ?? 2);
      t.ffn(p, s.n_embd, s.n_ff_exp, out, '_shexp');
    } else {
      t.ffn(p, s.n_embd, s.n_ff, out);
    }
  }
  t.vector('output_norm.weight', s.n_embd, 1, 0.1);
  t.matrix('output.weight', s.n_embd, s.n_vocab, (options.logitStd ?? 6) * proj);
  return { kv, tensors: t.tensors };
}
