// Gemma 1, 2 and 3. All three: token embeddings times sqrt(n_embd), the head
// tied to them, GeGLU feed-forward, NEOX rope, q scaled after rope (kq_scale
// 1), and RMSNorm weights used as stored (the converter already added Gemma's
// "1 +" to them).
//   Gemma 2: RMSNorm after each branch too (post_attention_norm, post_ffw_norm),
//   sliding-window layers alternating with global ones, attention scores and
//   final logits soft-capped (tanh).
//   Gemma 3: the same sandwich norms, 5 sliding layers to 1 global, per-head
//   RMSNorm of q and k, local layers at their own rope base (10000 unless
//   rope.freq_base_swa), no attention soft-cap.
import type { RopeParams } from '../graph/ops.js';
import { ROPE_NEOX, ropeParams } from './blocks.js';
import { decoderStack, ffnGated, isSwaLayer, type LayerAttention } from './blocks-decoder.js';
import type { BuildContext } from './context.js';

export function buildGemma(c: BuildContext) {
  const hp = c.hp;
  const rope = ropeParams(c, ROPE_NEOX);
  return decoderStack(c, {
    embeddingScale: Math.sqrt(hp.n_embd),
    preNorms: true,
    postNorms: false,
    layer: () => ({ rope, opts: { qScale: 1 / Math.sqrt(hp.n_embd_head_v), kqScale: 1 } }),
    ffn: ffnGated('gelu'),
  });
}

/**
 * Gemma 2/3 scale q by 1/sqrt(query_pre_attn_scalar); llama.cpp derives it
 * from the layer count: the 27B models use n_embd / n_head, the others the
 * head size.
 */
function queryScale(c: BuildContext, layers27B: number): number {
  const hp = c.hp;
  return 1 / Math.sqrt(hp.n_layer === layers27B ? hp.n_embd / hp.n_head : hp.n_embd_head_k);
}

export function buildGemma2(c: BuildContext) {
  const hp = c.hp;
  // llama.cpp's gemma2 defaults: window 4096, every 2nd layer global, caps 50 and 30
  const nSwa = hp.n_swa || 4096;
  const period = hp.n_swa_pattern || 2;
  const global = ropeParams(c, ROPE_NEOX);
  const local: RopeParams = { ...global, freqBase: hp.rope_freq_base_swa || hp.rope_freq_base };
  const softcap = hp.f_attn_logit_softcapping || 50;
  const qScale = queryScale(c, 46);
  return decoderStack(c, {
    embeddingScale: Math.sqrt(hp.n_embd),
    preNorms: true,
    postNorms: true,
    layer: (il): LayerAttention => isSwaLayer(il, period)
      ? { rope: local, opts: { qScale, kqScale: 1, softcap, nSwa } }
      : { rope: global, opts: { qScale, kqScale: 1, softcap } },
    ffn: ffnGated('gelu'),
    finalSoftcap: hp.f_final_logit_softcapping || 30,
  });
}

export function buildGemma3(c: BuildContext) {
  const hp = c.hp;
  // sliding layers only when the file sets a window; then every 6th layer is global
  const swa = hp.n_swa > 0;
  const period = hp.n_swa_pattern || 6;
  const global = ropeParams(c, ROPE_NEOX);
  const local: RopeParams = { ...global, freqBase: hp.rope_freq_base_swa || 10000, freqScale: 1 };
  const qScale = queryScale(c, 62);
  return decoderStack(c, {
    embeddingScale: Math.sqrt(hp.n_embd),
    preNorms: true,
    postNorms: true,
    layer: (il): LayerAttention => swa && isSwaLayer(il, period)
      ? { rope: local, opts: { qScale, kqScale: 1, nSwa: hp.n_swa } }
      : { rope: global, opts: { qScale, kqScale: 1 } },
    ffn: ffnGated('gelu'),
    finalSoftcap: hp.f_final_logit_softcapping,
  });
}
