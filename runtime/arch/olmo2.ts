// OLMo 2 (and OLMo 3's dense files, which add sliding-window layers): no
// norm before the branches; instead RMSNorm on each branch's output
// (post_attention_norm, post_ffw_norm) before its residual add. q and k get an
// RMSNorm over their whole rows (all heads at once), then NEOX rope;
// SwiGLU feed-forward, untied head. Sliding layers (when the file sets a
// window; every 4th layer global) use plain rope: no scaling, no yarn.
import type { RopeParams } from '../graph/ops.js';
import { ROPE_NEOX, ropeParams, type AttentionOptions } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder, isSwaLayer, sequential } from './decoder.js';
import { attention, dim, dims, embeddingsAndHead, ffn, layers, norm, type Architecture, type DeclareTensors } from './declare.js';

export function buildOlmo2(c: BuildContext) {
  const hp = c.hp;
  const swa = hp.n_swa > 0;
  const period = hp.n_swa_pattern || 4;
  const global = ropeParams(c, ROPE_NEOX);
  // llama.cpp reads rope.freq_base_swa for olmo2 but its graph rotates local layers at the global base
  const local: RopeParams = { ...global, freqScale: 1, extFactor: 0, attnFactor: 1 };
  return buildDecoder(c, {
    layer: sequential({ preNorms: false }),
    postNorms: true,
    attention: (il): AttentionOptions => swa && isSwaLayer(il, period)
      ? { rope: local, nSwa: hp.n_swa, qkNorm: 'row-rms' }
      : { rope: global, qkNorm: 'row-rms' },
  });
}

const olmo2Tensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  // the norms span every head of q (n_embd) and of k
  const kRow = dim('n_head_kv*n_embd_head', hp.n_head_kv * (hp.n_embd / hp.n_head));
  return [
    ...embeddingsAndHead(D, { output: 'required' }),
    ...layers(hp, (p) => [
      ...attention(p, D, file, { q: D.n_embd, qkNorm: { q: [D.n_embd], k: [kRow], presence: 'required' } }),
      ...norm(`${p}.post_attention_norm`, D),
      ...ffn(p, D, { gate: 'separate' }),
      ...norm(`${p}.post_ffw_norm`, D),
    ]),
  ];
};

export const olmo2: Architecture = { build: buildOlmo2, tensors: olmo2Tensors };
