// Falcon 7B / 40B: one fused attn_qkv without biases (multi-query in 7B,
// grouped in 40B), NEOX rope over the whole head, no biases on projections,
// a GELU MLP, and a parallel block: attention and MLP outputs are added to
// the layer input together. 7B normalises once for both; 40B gives
// attention its own LayerNorm (attn_norm_2) and the MLP attn_norm.
import { ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder, parallel } from './decoder.js';
import { attention, dims, embeddingsAndHead, ffn, layers, norm, type Architecture, type DeclareTensors } from './declare.js';
import { ffnBlock } from './ffn.js';

export function buildFalcon(c: BuildContext) {
  const rope = ropeParams(c, ROPE_NEOX);
  return buildDecoder(c, { norm: 'layer', layer: parallel, attention: () => ({ rope }), ffn: ffnBlock({ gate: 'none', act: 'gelu' }) });
}

const falconTensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  return [
    ...embeddingsAndHead(D, { normBias: 'required', output: 'optional' }),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D, 'required'),
      ...norm(`${p}.attn_norm_2`, D, 'required', 'optional'), // 40B
      ...attention(p, D, file, { qkv: 'fused', q: D.n_embd }),
      ...ffn(p, D, { gate: 'none' }),
    ]),
  ];
};

export const falcon: Architecture = { build: buildFalcon, tensors: falconTensors };
