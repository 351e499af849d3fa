// GPT-NeoX / Pythia: fused attn_qkv with bias, NEOX rope on the first
// rope.dimension_count dims of each head (a quarter in Pythia), LayerNorms
// with bias, GELU MLP with biases, untied head. With use_parallel_residual
// (Pythia) the MLP reads its own LayerNorm of the layer input, not the
// attention's residual: x + attn(ln1(x)) + mlp(ln2(x)).
import { ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder, parallel, sequential } from './decoder.js';
import { attention, dims, embeddingsAndHead, ffn, layers, norm, type Architecture, type DeclareTensors } from './declare.js';
import { ffnBlock } from './ffn.js';

export function buildGptneox(c: BuildContext) {
  const rope = ropeParams(c, ROPE_NEOX);
  return buildDecoder(c, {
    norm: 'layer',
    layer: c.hp.use_par_res ? parallel : sequential(),
    attention: () => ({ rope }),
    ffn: ffnBlock({ gate: 'none', act: 'gelu' }),
  });
}

const gptneoxTensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  return [
    ...embeddingsAndHead(D, { normBias: 'required', output: 'required' }),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D, 'required'),
      ...attention(p, D, file, { qkv: 'fused', q: D.n_embd, qkvBias: 'required', outBias: 'required' }),
      ...norm(`${p}.ffn_norm`, D, 'required'),
      ...ffn(p, D, { gate: 'none', bias: 'required' }),
    ]),
  ];
};

export const gptneox: Architecture = { build: buildGptneox, tensors: gptneoxTensors };
