// Phi-2 (and Phi-1/1.5): one LayerNorm feeds both attention and the GELU MLP,
// whose outputs are added to the layer input together (parallel block).
// NEOX rope on the first rope.dimension_count dims of each head, q scaled by
// 1/sqrt(head_dim) after rope (llama.cpp does so for precision, then uses
// kq_scale 1), biases on every projection and on the head. Older converters
// wrote one fused attn_qkv (with its bias), newer ones separate q/k/v.
import { ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder, parallel } from './decoder.js';
import { attention, dims, embeddingsAndHead, ffn, layers, norm, type Architecture, type DeclareTensors } from './declare.js';
import { ffnBlock } from './ffn.js';

export function buildPhi2(c: BuildContext) {
  const rope = ropeParams(c, ROPE_NEOX);
  const qScale = 1 / Math.sqrt(c.hp.n_embd_head_k);
  return buildDecoder(c, {
    norm: 'layer',
    layer: parallel,
    attention: () => ({ rope, qScale, kqScale: 1 }),
    ffn: ffnBlock({ gate: 'none', act: 'gelu' }),
  });
}

const phi2Tensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  return [
    ...embeddingsAndHead(D, { normBias: 'required', output: 'required', outputBias: 'required' }),
    ...layers(hp, (p) => {
      const fused = file.has(`${p}.attn_qkv.weight`);
      return [
        ...norm(`${p}.attn_norm`, D, 'required'),
        // the fused layout's bias is optional, the separate one's required
        ...attention(p, D, file, { qkv: 'either', q: D.n_embd, qkvBias: fused ? 'optional' : 'required', outBias: 'required' }),
        ...ffn(p, D, { gate: 'none', bias: 'required' }),
      ];
    }),
  ];
};

export const phi2: Architecture = { build: buildPhi2, tensors: phi2Tensors };
