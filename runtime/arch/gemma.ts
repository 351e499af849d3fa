// Gemma 1, 2 and 3. All three: token embeddings times sqrt(n_embd), the head
// tied to them, GeGLU feed-forward, NEOX rope, q scaled after rope (kq_scale
// 1), and RMSNorm weights used as stored (the converter already added Gemma's
// "1 +" to them).
//   Gemma 2: RMSNorm after each branch too (post_attention_norm, post_ffw_norm),
//   sliding-window layers alternating with global ones, attention scores and
//   final logits soft-capped (tanh).
//   Gemma 3: the same sandwich norms, 5 sliding layers to 1 global, per-head
//   RMSNorm of q and k, local layers at their own rope base (10000 unless
//   rope.freq_base_swa), no attention soft-cap; output.weight optional.
import type { RopeParams } from '../graph/ops.js';
import { ROPE_NEOX, ropeParams, type AttentionOptions } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder, isSwaLayer } from './decoder.js';
import { attention, dims, embeddingsAndHead, ffn, layers, norm, type Architecture, type DeclareTensors } from './declare.js';
import { ffnBlock } from './ffn.js';

const geglu = ffnBlock({ act: 'gelu' });

export function buildGemma(c: BuildContext) {
  const hp = c.hp;
  const rope = ropeParams(c, ROPE_NEOX);
  return buildDecoder(c, {
    embeddingScale: Math.sqrt(hp.n_embd),
    attention: () => ({ rope, qScale: 1 / Math.sqrt(hp.n_embd_head_v), kqScale: 1 }),
    ffn: geglu,
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
  return buildDecoder(c, {
    embeddingScale: Math.sqrt(hp.n_embd),
    postNorms: true,
    attention: (il): AttentionOptions => isSwaLayer(il, period)
      ? { rope: local, qScale, kqScale: 1, softcap, nSwa }
      : { rope: global, qScale, kqScale: 1, softcap },
    ffn: geglu,
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
  return buildDecoder(c, {
    embeddingScale: Math.sqrt(hp.n_embd),
    postNorms: true,
    attention: (il): AttentionOptions => swa && isSwaLayer(il, period)
      ? { rope: local, qScale, kqScale: 1, nSwa: hp.n_swa }
      : { rope: global, qScale, kqScale: 1 },
    ffn: geglu,
    finalSoftcap: hp.f_final_logit_softcapping,
  });
}

/** Gemma 1/2/3 share their layers but for the sandwich norms and gemma3's q/k norms. */
function gemmaTensors(version: 1 | 2 | 3): DeclareTensors {
  return (hp, file) => {
    const D = dims(hp);
    const sandwich = version > 1;
    return [
      // gemma and gemma2 always reuse token_embd as the head
      ...embeddingsAndHead(D, { output: version === 3 ? 'optional' : 'absent' }),
      ...layers(hp, (p) => [
        ...norm(`${p}.attn_norm`, D),
        ...attention(p, D, file, version === 3 ? { qkNorm: { q: [D.n_embd_head_k], k: [D.n_embd_head_k], presence: 'required' } } : {}),
        ...(sandwich ? norm(`${p}.post_attention_norm`, D) : []),
        ...norm(`${p}.ffn_norm`, D),
        ...ffn(p, D, { gate: 'separate' }),
        ...(sandwich ? norm(`${p}.post_ffw_norm`, D) : []),
      ]),
    ];
  };
}

export const gemma: Architecture = { build: buildGemma, tensors: gemmaTensors(1) };
export const gemma2: Architecture = { build: buildGemma2, tensors: gemmaTensors(2) };
export const gemma3: Architecture = { build: buildGemma3, tensors: gemmaTensors(3) };
