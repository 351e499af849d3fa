// IBM Granite 3.x: the Llama decoder (RMSNorm, NORM rope, GQA, SwiGLU) with
// four multipliers: token embeddings times embedding_scale, each branch's
// output times residual_scale before its residual add, q·k times
// attention.scale instead of 1/sqrt(head_dim), logits divided by
// logit_scale. Optional biases on the projections and the FFN. A file with
// rope.scaling.finetuned = false has no rope at all.
//   granitemoe (1B-A400M, 3B-A800M): the same around renormalised routed
//   experts, plus an ungated shared expert when the file has
//   expert_shared_feed_forward_length (GraniteMoeShared). llama.cpp also runs
//   "granite" files that declare experts: then the FFN is granitemoe's.
// Both declare llama's tensors: llama.cpp loads the three alike.
import { ROPE_NORM, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder } from './decoder.js';
import type { Architecture } from './declare.js';
import { moeOrDense, sharedExpert } from './ffn.js';
import { llamaTensors } from './llama.js';

export function buildGranite(c: BuildContext) {
  const hp = c.hp;
  const rope = hp.rope_finetuned === false ? null : ropeParams(c, ROPE_NORM, c.wOpt('rope_freqs.weight'));
  const kqScale = hp.f_attention_scale || undefined;
  return buildDecoder(c, {
    embeddingScale: hp.f_embedding_scale,
    attention: () => ({ rope, kqScale }),
    ffn: hp.n_expert > 0 ? moeOrDense({ normWeights: true }, hp.n_ff_shexp > 0 ? sharedExpert : undefined) : undefined,
    residualScale: hp.f_residual_scale,
    logitScale: hp.f_logit_scale,
  });
}

export const buildGraniteMoe = buildGranite;

export const granite: Architecture = { build: buildGranite, tensors: llamaTensors };
export const granitemoe: Architecture = { build: buildGraniteMoe, tensors: llamaTensors };
