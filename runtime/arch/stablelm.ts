// StableLM (3B-4E1T, StableLM 2 1.6B / 12B): LayerNorm with bias, NEOX rope
// on the first rope.dimension_count dims of each head (a quarter), optional
// q/k/v biases, a SwiGLU MLP without biases, an untied head. StableLM 2 12B
// adds a LayerNorm of each head of q and k (one weight row per head) and
// drops ffn_norm: its MLP reads the attention's normed input (parallel
// residual).
import { ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder } from './decoder.js';
import { attention, dims, embeddingsAndHead, ffn, layers, norm, type Architecture, type DeclareTensors } from './declare.js';

export function buildStablelm(c: BuildContext) {
  const rope = ropeParams(c, ROPE_NEOX);
  return buildDecoder(c, { norm: 'layer', attention: () => ({ rope, qkNorm: 'head-layer' }) });
}

const stablelmTensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  return [
    ...embeddingsAndHead(D, { normBias: 'required', output: 'required' }),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D, 'required'),
      ...attention(p, D, file, {
        q: D.n_embd,
        qkvBias: 'optional', // StableLM 2 1.6B
        qkNorm: { q: [D.n_embd_head_k, D.n_head], k: [D.n_embd_head_k, D.n_head_kv], presence: 'optional' }, // 12B
      }),
      ...norm(`${p}.ffn_norm`, D, 'required', 'optional'), // absent in 12B
      ...ffn(p, D, { gate: 'separate' }),
    ]),
  ];
};

export const stablelm: Architecture = { build: buildStablelm, tensors: stablelmTensors };
