// StarCoder2: the GPT-2 layer with NEOX rope over the whole head, grouped-
// query attention, LayerNorms and projections with biases, a GELU MLP.
import { ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder } from './decoder.js';
import { attention, dims, embeddingsAndHead, ffn, layers, norm, type Architecture, type DeclareTensors } from './declare.js';
import { ffnBlock } from './ffn.js';

export function buildStarcoder2(c: BuildContext) {
  const rope = ropeParams(c, ROPE_NEOX);
  return buildDecoder(c, { norm: 'layer', attention: () => ({ rope }), ffn: ffnBlock({ gate: 'none', act: 'gelu' }) });
}

const starcoder2Tensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  return [
    ...embeddingsAndHead(D, { normBias: 'required', output: 'optional' }),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D, 'required'),
      ...attention(p, D, file, { q: D.n_embd, qkvBias: 'required', outBias: 'required' }),
      ...norm(`${p}.ffn_norm`, D, 'required'),
      ...ffn(p, D, { gate: 'none', bias: 'required' }),
    ]),
  ];
};

export const starcoder2: Architecture = { build: buildStarcoder2, tensors: starcoder2Tensors };
