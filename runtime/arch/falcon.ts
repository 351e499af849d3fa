// Falcon 7B / 40B: one fused attn_qkv without biases (multi-query in 7B,
// grouped in 40B), NEOX rope over the whole head, no biases on projections,
// a GELU MLP, and a parallel block: attention and MLP outputs are added to
// the layer input together. 7B normalises once for both; 40B gives
// attention its own LayerNorm (attn_norm_2) and the MLP attn_norm.
import type { BuildContext } from './context.js';
import { ROPE_NEOX, ropeParams } from './blocks.js';
import { ffnGelu, layerNorm, layerNormStack, lnSelfAttention } from './blocks-layernorm.js';

export function buildFalcon(c: BuildContext) {
  const { ops } = c;
  const rope = ropeParams(c, ROPE_NEOX);
  return layerNormStack(c, {
    layer: (il, x) => {
      const p = `blk.${il}`;
      const h = layerNorm(c, `${p}.attn_norm`, x, `attn_norm-${il}`);
      const hAttn = c.wOpt(`${p}.attn_norm_2.weight`) ? layerNorm(c, `${p}.attn_norm_2`, x, `attn_norm_2-${il}`) : h;
      const attn = lnSelfAttention(c, il, hAttn, rope);
      const mlp = ffnGelu(c, il, h);
      return ops.add(ops.add(mlp, attn, `ffn_attn-${il}`), x, `l_out-${il}`);
    },
  });
}
