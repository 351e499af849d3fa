// GPT-2 (and Cerebras-GPT...): learned absolute position embeddings added to
// the token embeddings, no rope; pre-LayerNorm layers with biases everywhere,
// one fused attn_qkv projection, a GELU MLP; head usually tied to token_embd.
import type { BuildContext } from './context.js';
import { ffnGelu, layerNormStack, lnSelfAttention, sequentialLayer } from './blocks-layernorm.js';

export function buildGpt2(c: BuildContext) {
  return layerNormStack(c, {
    positionEmbeddings: true,
    layer: (il, x) => sequentialLayer(c, il, x, (h) => lnSelfAttention(c, il, h, null), (h) => ffnGelu(c, il, h)),
  });
}
