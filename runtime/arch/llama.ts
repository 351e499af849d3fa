// Llama (1, 2, 3.x), Mistral, TinyLlama, SmolLM...: the decoder stack's
// defaults. RMSNorm before each branch, rotary embeddings in NORM mode
// (llama3: rope_freqs as frequency factors), grouped-query attention,
// SwiGLU; biases on q/k/v/o and on the FFN projections when the file has
// them (llama.cpp's llama loader takes all of them optionally). A "llama"
// file with expert_count is Mixtral (8x7B, 8x22B): the same attention, and
// in every layer a softmax router choosing n_expert_used SwiGLU experts,
// their weights renormalised over the chosen ones. Granite and Granite-MoE
// files declare the same tensors (granite.ts).
import type { BuildContext } from './context.js';
import { buildDecoder } from './decoder.js';
import {
  attention, dim, dims, embeddingsAndHead, experts, ffn, layers, norm, opt,
  type Architecture, type DeclareTensors,
} from './declare.js';
import { moeOrDense } from './ffn.js';

export function buildLlama(c: BuildContext) {
  return buildDecoder(c);
}

export function buildMixtral(c: BuildContext) {
  return buildDecoder(c, { ffn: moeOrDense({ normWeights: true }) });
}

/** "llama" files are Mixtral when they declare experts. */
export function buildLlamaOrMixtral(c: BuildContext) {
  return c.hp.n_expert > 0 ? buildMixtral(c) : buildLlama(c);
}

/**
 * The tensors of llama.cpp's llama loader, which granite, granitemoe and
 * mistral3 share; `qkv` says whether a fused attn_qkv may stand in for
 * attn_q/k/v (mistral3's loader accepts either).
 */
export function llamaTensorsWith(o: { qkv?: 'either' } = {}): DeclareTensors {
  return (hp, file) => {
    const D = dims(hp);
    return [
      ...embeddingsAndHead(D, { output: 'optional' }),
      // llama3's rope frequency factors (one tensor, shared by every layer)
      opt('rope_freqs.weight', D.n_rot_half),
      ...layers(hp, (p) => [
        ...norm(`${p}.attn_norm`, D),
        ...attention(p, D, file, { ...(o.qkv ? { qkv: o.qkv } : {}), qkvBias: 'optional', outBias: 'optional' }),
        ...norm(`${p}.ffn_norm`, D),
        ...(hp.n_expert === 0
          ? ffn(p, D, { gate: 'separate', bias: 'optional' })
          : [
            ...experts(p, D, D.n_ff),
            // GraniteMoeShared's ungated shared expert (mistral3's loader takes it too; its graph never reads it)
            ...(hp.n_ff_shexp > 0 ? ffn(p, D, { gate: 'separate', n_ff: dim('n_ff_shexp', hp.n_ff_shexp), suffix: '_shexp' }) : []),
          ]),
      ]),
    ];
  };
}

export const llamaTensors: DeclareTensors = llamaTensorsWith();

export const llama: Architecture = { build: buildLlamaOrMixtral, tensors: llamaTensors };
