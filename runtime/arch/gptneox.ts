// GPT-NeoX / Pythia: fused attn_qkv with bias, NEOX rope on the first
// rope.dimension_count dims of each head (a quarter in Pythia), LayerNorms
// with bias, GELU MLP with biases. With use_parallel_residual (Pythia) the
// MLP reads its own LayerNorm of the layer input, not the attention's
// residual: x + attn(ln1(x)) + mlp(ln2(x)), added in llama.cpp's order.
import type { Tensor } from '../graph/graph.js';
import type { BuildContext } from './context.js';
import { ROPE_NEOX, ropeParams } from './blocks.js';
import { ffnGelu, layerNorm, layerNormStack, lnSelfAttention, sequentialLayer } from './blocks-layernorm.js';

export function buildGptneox(c: BuildContext) {
  const { ops, hp } = c;
  const rope = ropeParams(c, ROPE_NEOX);
  const attention = (il: number, h: Tensor) => lnSelfAttention(c, il, h, rope);
  return layerNormStack(c, {
    layer: (il, x) => {
      if (!hp.use_par_res) return sequentialLayer(c, il, x, (h) => attention(il, h), (h) => ffnGelu(c, il, h));
      const attn = attention(il, layerNorm(c, `blk.${il}.attn_norm`, x, `attn_norm-${il}`));
      const mlp = ffnGelu(c, il, layerNorm(c, `blk.${il}.ffn_norm`, x, `ffn_norm-${il}`));
      return ops.add(ops.add(mlp, x, `ffn_res-${il}`), attn, `l_out-${il}`);
    },
  });
}
