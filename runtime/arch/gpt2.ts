// GPT-2 (and Cerebras-GPT...): learned absolute position embeddings added to
// the token embeddings, no rope; pre-LayerNorm layers with biases everywhere,
// one fused attn_qkv projection, a GELU MLP; head usually tied to token_embd.
import type { BuildContext } from './context.js';
import { buildDecoder } from './decoder.js';
import { attention, dims, embeddingsAndHead, ffn, layers, norm, req, type Architecture, type DeclareTensors } from './declare.js';
import { ffnBlock } from './ffn.js';

export function buildGpt2(c: BuildContext) {
  return buildDecoder(c, {
    norm: 'layer',
    positionEmbeddings: true,
    attention: () => ({ rope: null }),
    ffn: ffnBlock({ gate: 'none', act: 'gelu' }),
  });
}

const gpt2Tensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  return [
    ...embeddingsAndHead(D, { normBias: 'required', output: 'optional' }),
    req('position_embd.weight', D.n_embd, D.n_ctx_train),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D, 'required'),
      ...attention(p, D, file, { qkv: 'fused', q: D.n_embd, qkvBias: 'required', outBias: 'required' }),
      ...norm(`${p}.ffn_norm`, D, 'required'),
      ...ffn(p, D, { gate: 'none', bias: 'required' }),
    ]),
  ];
};

export const gpt2: Architecture = { build: buildGpt2, tensors: gpt2Tensors };
