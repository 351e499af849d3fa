// StableLM (3B-4E1T, StableLM 2 1.6B / 12B): LayerNorm with bias, NEOX rope
// on the first rope.dimension_count dims of each head (a quarter), optional
// q/k/v biases, a SwiGLU MLP without biases. StableLM 2 12B adds a
// LayerNorm of each head of q and k (one weight row per head) and drops
// ffn_norm: its MLP reads the attention's normed input (parallel residual).
import type { BuildContext } from './context.js';
import { ffnSwiGLU, ROPE_NEOX, ropeParams } from './blocks.js';
import { layerNormStack, lnSelfAttention, sequentialLayer } from './blocks-layernorm.js';

export function buildStablelm(c: BuildContext) {
  const rope = ropeParams(c, ROPE_NEOX);
  return layerNormStack(c, {
    layer: (il, x) => sequentialLayer(c, il, x, (h) => lnSelfAttention(c, il, h, rope), (h) => ffnSwiGLU(c, il, h)),
  });
}
