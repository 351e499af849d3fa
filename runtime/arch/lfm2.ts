// LFM2 (Liquid AI): a hybrid decoder. Most layers mix tokens with a gated
// short convolution (a causal convolution over the last shortconv.l_cache
// tokens, its state kept per sequence), the others with GQA self-attention
// with per-head RMSNorm of q and k and rope in NEOX mode; every layer has
// RMSNorm pre-norms and a SwiGLU FFN. Which layers attend is written in the
// file: attention.head_count_kv is an array with 0 for the convolution
// layers. The final norm is named token_embd_norm; the head is tied to
// token_embd unless the file has output.weight. With
// attention.sliding_window the attention layers use that window.
import { ModelError } from '../errors.js';
import type { HParams } from '../hparams.js';
import { ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder, sequential } from './decoder.js';
import {
  attention, dim, dims, embeddingsAndHead, ffn, layers, norm, req, type Architecture, type DeclareTensors, type RecurrentLayout,
} from './declare.js';
import { shortConv } from './recurrent.js';

/** llama.cpp's is_recr for lfm2: a layer without KV heads. */
export function lfm2Recurrent(hp: HParams): RecurrentLayout {
  const l = hp.n_shortconv_l_cache;
  if (!(l > 1 && l <= 16)) throw new ModelError(`${hp.arch}.shortconv.l_cache = ${l}: expected 2..16`, undefined, `${hp.arch}.shortconv.l_cache`);
  return { layers: hp.n_head_kv_arr.map((h) => h === 0), rFloats: hp.n_embd * (l - 1), sFloats: 0 };
}

export function buildLfm2(c: BuildContext) {
  const rope = ropeParams(c, ROPE_NEOX);
  const recurrent = c.hp.n_head_kv_arr.map((h) => h === 0);
  return buildDecoder(c, {
    attention: () => ({ rope, nSwa: c.hp.n_swa }),
    layer: sequential({ mixer: (c, il, h, attend) => (recurrent[il] ? shortConv(c, il, h) : attend(h)) }),
    outputNorm: 'token_embd_norm',
  });
}

const lfm2Tensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  const { rFloats } = lfm2Recurrent(hp);
  const lCache = dim('shortconv.l_cache', rFloats / hp.n_embd + 1);
  return [
    req('token_embd.weight', D.n_embd, D.n_vocab),
    ...norm('token_embd_norm', D),
    ...embeddingsAndHead(D, { output: 'optional' }).filter((d) => d.name !== 'token_embd.weight' && d.name !== 'output_norm.weight'),
    ...layers(hp, (p, il) => [
      ...norm(`${p}.ffn_norm`, D),
      ...ffn(p, D, { gate: 'separate' }),
      ...norm(`${p}.attn_norm`, D),
      ...(hp.n_head_kv_arr[il] === 0
        ? [
          req(`${p}.shortconv.conv.weight`, lCache, D.n_embd),
          req(`${p}.shortconv.in_proj.weight`, D.n_embd, dim('3*n_embd', 3 * hp.n_embd)),
          req(`${p}.shortconv.out_proj.weight`, D.n_embd, D.n_embd),
        ]
        : attention(p, D, file, { qkv: 'either', qkvBias: 'optional', qkNorm: { q: [D.n_embd_head_k], k: [D.n_embd_head_k], presence: 'required' } })),
    ]),
  ];
};

export const lfm2: Architecture = { build: buildLfm2, tensors: lfm2Tensors, recurrent: lfm2Recurrent };
