// Phi-2 (and Phi-1/1.5): one LayerNorm feeds both attention and the GELU MLP,
// whose outputs are added to the layer input together (parallel block).
// NEOX rope on the first rope.dimension_count dims of each head, q scaled by
// 1/sqrt(head_dim) after rope (llama.cpp does so for precision, then uses
// kq_scale 1), biases on every projection and on the head.
import type { BuildContext } from './context.js';
import { ROPE_NEOX, ropeParams } from './blocks.js';
import { ffnGelu, layerNorm, layerNormStack, lnSelfAttention } from './blocks-layernorm.js';

export function buildPhi2(c: BuildContext) {
  const { ops, hp } = c;
  const rope = ropeParams(c, ROPE_NEOX);
  const attnOpts = { qScale: 1 / Math.sqrt(hp.n_embd_head_k), kqScale: 1 };
  return layerNormStack(c, {
    layer: (il, x) => {
      const h = layerNorm(c, `blk.${il}.attn_norm`, x, `attn_norm-${il}`);
      const attn = lnSelfAttention(c, il, h, rope, attnOpts);
      const mlp = ffnGelu(c, il, h);
      return ops.add(ops.add(attn, mlp, `attn_ffn-${il}`), x, `l_out-${il}`);
    },
  });
}
