// OLMo 2 (and OLMo 3's dense files, which add sliding-window layers): no
// norm before the branches; instead RMSNorm on each branch's output
// (post_attention_norm, post_ffw_norm) before its residual add. q and k get an
// RMSNorm over their whole rows (all heads at once), then NEOX rope;
// SwiGLU feed-forward, untied head. Sliding layers (when the file sets a
// window; every 4th layer global) use plain rope: no scaling, no yarn.
import type { RopeParams } from '../graph/ops.js';
import { ROPE_NEOX, ropeParams } from './blocks.js';
import { decoderStack, ffnGated, fullQKNormAttention, isSwaLayer, type LayerAttention } from './blocks-decoder.js';
import type { BuildContext } from './context.js';

export function buildOlmo2(c: BuildContext) {
  const hp = c.hp;
  const swa = hp.n_swa > 0;
  const period = hp.n_swa_pattern || 4;
  const global = ropeParams(c, ROPE_NEOX);
  // llama.cpp reads rope.freq_base_swa for olmo2 but its graph rotates local layers at the global base
  const local: RopeParams = { ...global, freqScale: 1, extFactor: 0, attnFactor: 1 };
  return decoderStack(c, {
    preNorms: false,
    postNorms: true,
    layer: (il): LayerAttention => swa && isSwaLayer(il, period)
      ? { rope: local, opts: { nSwa: hp.n_swa } }
      : { rope: global, opts: {} },
    attention: fullQKNormAttention,
    ffn: ffnGated('silu'),
  });
}
