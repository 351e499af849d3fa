// GLM-4.5, GLM-4.5-Air, GLM-4.6 ("glm4moe") as llama.cpp runs them:
//   - pre-norm decoder, RMSNorm; the norm before the FFN is stored as
//     post_attention_norm; tied or untied head.
//   - attention: q/k/v with optional biases (or a fused attn_qkv), optional
//     per-head q/k RMSNorm (GLM-4.5 355B), NEOX rope on the first
//     rope.dimension_count dims of each head (half of them in the released
//     models), scale 1/sqrt(head_dim).
//   - the first leading_dense_block_count layers keep a dense SwiGLU FFN; the
//     others route to n_expert_used of n_expert SwiGLU experts with sigmoid
//     gating (the default when expert_gating_func is absent), the required
//     exp_probs_b selection bias, weights renormalised (expert_weights_norm)
//     and scaled (expert_weights_scale), plus expert_shared_count shared
//     experts as one ungated SwiGLU of n_ff_exp * expert_shared_count.
//   - the last nextn_predict_layers blocks are multi-token-prediction heads:
//     their tensors are in the file (and loaded) but the next-token graph
//     never runs them, as llama.cpp's does not.
// Files with multimodal rope sections (GLM-4.xV) are refused.
import { ModelError } from '../errors.js';
import { ROPE_NEOX, ropeParams, type AttentionOptions } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder, sequential } from './decoder.js';
import {
  attention, dim, dims, embeddingsAndHead, experts, ffn, layers, norm, opt, req,
  type Architecture, type DeclareTensors, type TensorDecl,
} from './declare.js';
import { moeOrDense, sharedExpert, type MoeOptions } from './ffn.js';

/** What the tests' broken variants switch off; every field true is glm4moe. */
export interface Glm4MoeOptions {
  /** Rope on the first n_rot dims only (else on the whole head). */
  partialRope: boolean;
  /** Sigmoid gating (else softmax). */
  sigmoid: boolean;
  /** The nextn layers left out (else run as trunk layers). */
  skipNextn: boolean;
}

export const GLM4MOE: Glm4MoeOptions = { partialRope: true, sigmoid: true, skipNextn: true };

const GATING_SIGMOID = 2;

export function glm4moeGraph(o: Glm4MoeOptions = GLM4MOE) {
  return (c: BuildContext) => {
    const hp = o.skipNextn ? { ...c.hp, n_layer: c.hp.n_layer - c.hp.n_layer_nextn } : c.hp;
    const trunk: BuildContext = { ...c, hp };
    const base = ropeParams(trunk, ROPE_NEOX);
    const rope = o.partialRope ? base : { ...base, nRot: hp.n_embd_head_k };
    const gating = hp.expert_gating_func === 0 || hp.expert_gating_func === GATING_SIGMOID ? 'sigmoid' : 'softmax';
    const moe: MoeOptions = { normWeights: hp.expert_weights_norm, weightsScale: hp.expert_weights_scale, gating: o.sigmoid ? gating : 'softmax' };
    return buildDecoder(trunk, {
      layer: sequential({ ffnNorm: 'post_attention_norm' }),
      attention: (): AttentionOptions => ({ rope, qkNorm: 'head-rms' }),
      ffn: moeOrDense(moe, hp.n_expert_shared > 0 ? sharedExpert : undefined),
    });
  };
}

export const buildGlm4Moe = glm4moeGraph();

const glm4moeTensors: DeclareTensors = (hp, file) => {
  const key = (k: string) => `${hp.arch}.${k}`;
  const fail = (what: string, k: string): never => { throw new ModelError(what, file.path, key(k)); };
  if (!(hp.n_expert > 0)) fail(`${hp.arch} needs expert_count > 0`, 'expert_count');
  if (hp.rope_sections.some((s) => s !== 0)) fail(`${hp.arch} with multimodal rope sections (a vision model's text part) is not supported`, 'rope.dimension_sections');
  if (hp.n_embd_head_k !== hp.n_embd_head_v) fail(`attention.key_length ${hp.n_embd_head_k} differs from value_length ${hp.n_embd_head_v}`, 'attention.value_length');
  if (hp.expert_gating_func > 2) fail(`expert_gating_func = ${hp.expert_gating_func}: glm4moe runs softmax (1) or sigmoid (2)`, 'expert_gating_func');
  if (!(hp.n_layer_nextn < hp.n_layer)) fail(`nextn_predict_layers = ${hp.n_layer_nextn} leaves no layers of ${hp.n_layer}`, 'nextn_predict_layers');
  const D = dims(hp);
  const nTrunk = hp.n_layer - hp.n_layer_nextn;
  // llama.cpp's default expert width: n_ff / n_expert_used
  const nFFExp = hp.n_ff_exp > 0 ? dim('n_ff_exp', hp.n_ff_exp) : dim('n_ff/n_expert_used', Math.floor(hp.n_ff / hp.n_expert_used));
  // the nextn blocks are required only when the file carries the first one (a trunk-only file leaves them out)
  const hasNextn = file.has(`blk.${nTrunk}.nextn.eh_proj.weight`);
  const layerDecls = (p: string, il: number): TensorDecl[] => [
    ...norm(`${p}.attn_norm`, D),
    ...attention(p, D, file, { qkv: 'either', qkvBias: 'optional', qkNorm: { q: [D.n_embd_head_k], k: [D.n_embd_head_k], presence: 'optional' } }),
    ...norm(`${p}.post_attention_norm`, D),
    ...(il < hp.n_layer_dense_lead
      ? ffn(p, D, { gate: 'separate' })
      : [
        ...experts(p, D, nFFExp),
        req(`${p}.exp_probs_b.bias`, D.n_expert),
        ...(hp.n_expert_shared > 0 ? ffn(p, D, { gate: 'separate', n_ff: dim(`${nFFExp.name}*n_expert_shared`, nFFExp.size * hp.n_expert_shared), suffix: '_shexp' }) : []),
      ]),
  ];
  const nextn = (p: string): TensorDecl[] => [
    req(`${p}.nextn.eh_proj.weight`, dim('2*n_embd', 2 * hp.n_embd), D.n_embd),
    req(`${p}.nextn.enorm.weight`, D.n_embd),
    req(`${p}.nextn.hnorm.weight`, D.n_embd),
    opt(`${p}.nextn.embed_tokens.weight`, D.n_embd, D.n_vocab),
    opt(`${p}.nextn.shared_head_head.weight`, D.n_embd, D.n_vocab),
    opt(`${p}.nextn.shared_head_norm.weight`, D.n_embd),
  ];
  return [
    ...embeddingsAndHead(D, { output: 'optional' }),
    ...layers(hp, (p, il) => {
      if (il < nTrunk) return layerDecls(p, il);
      const all = [...layerDecls(p, il), ...nextn(p)];
      return hasNextn ? all : all.map((d) => ({ ...d, required: false }));
    }),
  ];
};

export const glm4moe: Architecture = { build: buildGlm4Moe, tensors: glm4moeTensors };
