// The Qwen family: the Llama decoder with rotary embeddings in NEOX mode
// (halves rotated, not adjacent pairs).
//   qwen2    (Qwen 1.5 / 2 / 2.5): biases on q, k and v; optional output bias.
//   qwen3    no biases; an RMSNorm of each head of q and k before rope.
//   qwen2moe (Qwen1.5-MoE, Qwen2-57B-A14B): qwen2's attention, routed experts
//            with their raw softmax weights (not renormalised), plus a shared
//            expert every token runs, scaled by its own sigmoid gate.
//   qwen3moe (Qwen3-30B-A3B, 235B-A22B): qwen3's attention, routed experts
//            renormalised over the chosen ones (llama.cpp always does), no
//            shared expert.
import { ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder } from './decoder.js';
import {
  attention, dim, dims, embeddingsAndHead, experts, ffn, layers, norm, rankHead, req, requireExperts,
  type Architecture, type DeclareTensors, type Dims,
} from './declare.js';
import type { HParams } from '../hparams.js';
import { gatedSharedExpert, moeOrDense, type FFNBlock } from './ffn.js';

function neoxDecoder(c: BuildContext, ffn?: FFNBlock) {
  const rope = ropeParams(c, ROPE_NEOX);
  return buildDecoder(c, { attention: () => ({ rope }), ffn });
}

export const buildQwen2 = (c: BuildContext) => neoxDecoder(c);
export const buildQwen3 = buildQwen2;
export const buildQwen2Moe = (c: BuildContext) => neoxDecoder(c, moeOrDense({ normWeights: false }, gatedSharedExpert));
export const buildQwen3Moe = (c: BuildContext) => neoxDecoder(c, moeOrDense({ normWeights: true }));

/** qwen3's per-head q/k norms (head_dim weights each). */
const headNorms = (D: Dims) => ({ q: [D.n_embd_head_k], k: [D.n_embd_head_k], presence: 'required' as const });

/** Experts are n_ff_exp wide, or n_ff / n_expert_used in files without expert_feed_forward_length. */
const nFFExp = (hp: HParams) => dim('n_ff_exp', hp.n_ff_exp || hp.n_ff / hp.n_expert_used);

const qwen2Tensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  return [
    ...embeddingsAndHead(D, { output: 'optional', outputBias: 'optional' }),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D),
      ...attention(p, D, file, { q: D.n_embd, qkvBias: 'required' }),
      ...norm(`${p}.ffn_norm`, D),
      ...ffn(p, D, { gate: 'separate' }),
    ]),
  ];
};

const qwen3Tensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  return [
    ...embeddingsAndHead(D, { output: 'optional' }),
    // Qwen3-Reranker: cls.output over the last token (runtime/rank.ts)
    ...rankHead(D, { dense: false }),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D),
      ...attention(p, D, file, { qkNorm: headNorms(D) }),
      ...norm(`${p}.ffn_norm`, D),
      ...ffn(p, D, { gate: 'separate' }),
    ]),
  ];
};

const qwen2moeTensors: DeclareTensors = (hp, file) => {
  requireExperts(hp, file);
  const D = dims(hp);
  const n_ff_shexp = dim('n_ff_shexp', hp.n_ff_shexp || hp.n_ff);
  return [
    ...embeddingsAndHead(D, { output: 'required' }),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D),
      ...attention(p, D, file, { q: D.n_embd, qkvBias: 'optional' }),
      ...norm(`${p}.ffn_norm`, D),
      ...experts(p, D, nFFExp(hp)),
      req(`${p}.ffn_gate_inp_shexp.weight`, D.n_embd),
      ...ffn(p, D, { gate: 'separate', n_ff: n_ff_shexp, suffix: '_shexp' }),
    ]),
  ];
};

const qwen3moeTensors: DeclareTensors = (hp, file) => {
  requireExperts(hp, file);
  const D = dims(hp);
  return [
    ...embeddingsAndHead(D, { output: 'optional' }),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D),
      ...attention(p, D, file, { qkNorm: headNorms(D) }),
      ...norm(`${p}.ffn_norm`, D),
      ...experts(p, D, nFFExp(hp)),
    ]),
  ];
};

export const qwen2: Architecture = { build: buildQwen2, tensors: qwen2Tensors };
export const qwen3: Architecture = { build: buildQwen3, tensors: qwen3Tensors };
export const qwen2moe: Architecture = { build: buildQwen2Moe, tensors: qwen2moeTensors };
export const qwen3moe: Architecture = { build: buildQwen3Moe, tensors: qwen3moeTensors };
