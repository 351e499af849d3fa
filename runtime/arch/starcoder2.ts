// StarCoder2: the GPT-2 layer with NEOX rope over the whole head, grouped-
// query attention, LayerNorms and projections with biases, a GELU MLP.
import type { BuildContext } from './context.js';
import { ROPE_NEOX, ropeParams } from './blocks.js';
import { ffnGelu, layerNormStack, lnSelfAttention, sequentialLayer } from './blocks-layernorm.js';

export function buildStarcoder2(c: BuildContext) {
  const rope = ropeParams(c, ROPE_NEOX);
  return layerNormStack(c, {
    layer: (il, x) => sequentialLayer(c, il, x, (h) => lnSelfAttention(c, il, h, rope), (h) => ffnGelu(c, il, h)),
  });
}
