// The mixture-of-experts decoders. Each is the Llama-style pre-norm stack
// whose FFN is a set of SwiGLU experts, n_expert_used of them chosen per
// token by a softmax router (blocks-moe.ts).
import type { RopeParams } from '../graph/ops.js';
import { ROPE_NEOX, ROPE_NORM, ropeParams, type AttentionOptions } from './blocks.js';
import { decoderStack, type FFNBlock, type StackOptions } from './blocks-decoder.js';
import { gatedSharedExpert, ffnSharedExpert, moeOrDense } from './blocks-moe.js';
import type { BuildContext } from './context.js';
import { buildLlama } from './llama.js';

/** The pre-norm stack (RMSNorm before each branch) with the same rope and attention in every layer. */
function moeDecoder(c: BuildContext, rope: RopeParams, ffn: FFNBlock, opts: AttentionOptions = {}, extra: Partial<StackOptions> = {}) {
  return decoderStack(c, { preNorms: true, postNorms: false, layer: () => ({ rope, opts }), ffn, ...extra });
}

/**
 * Mixtral 8x7B / 8x22B (general.architecture "llama" with expert_count):
 * Llama's attention (NORM rope, GQA), 8 experts, 2 per token, weights
 * renormalised over the chosen two.
 */
export function buildMixtral(c: BuildContext) {
  return moeDecoder(c, ropeParams(c, ROPE_NORM, c.wOpt('rope_freqs.weight')), moeOrDense({ normWeights: true }));
}

/** "llama" files are Mixtral when they declare experts. */
export function buildLlamaOrMixtral(c: BuildContext) {
  return c.hp.n_expert > 0 ? buildMixtral(c) : buildLlama(c);
}

/**
 * Qwen1.5-MoE / Qwen2-57B-A14B: Qwen2's attention (q/k/v biases, NEOX rope),
 * routed experts with their raw softmax weights (not renormalised), plus a
 * shared expert every token runs, scaled by its own sigmoid gate.
 */
export function buildQwen2Moe(c: BuildContext) {
  return moeDecoder(c, ropeParams(c, ROPE_NEOX), moeOrDense({ normWeights: false }, gatedSharedExpert));
}

/**
 * Qwen3-30B-A3B / 235B-A22B: Qwen3's attention (per-head RMSNorm of q and k,
 * NEOX rope), routed experts with renormalised weights (llama.cpp always
 * renormalises: norm_topk_prob), no shared expert.
 */
export function buildQwen3Moe(c: BuildContext) {
  return moeDecoder(c, ropeParams(c, ROPE_NEOX), moeOrDense({ normWeights: true }));
}

/**
 * Granite 3.x MoE (1B-A400M, 3B-A800M): Granite's multipliers (embeddings,
 * residual branches, attention scale, logits divided by logit_scale) around
 * renormalised routed experts, plus an ungated shared expert when the file
 * has expert_shared_feed_forward_length (GraniteMoeShared).
 */
export function buildGraniteMoe(c: BuildContext) {
  const hp = c.hp;
  const shared = c.wOpt('blk.0.ffn_gate_shexp.weight') ? ffnSharedExpert : undefined;
  return moeDecoder(c, ropeParams(c, ROPE_NORM, c.wOpt('rope_freqs.weight')), moeOrDense({ normWeights: true }, shared),
    hp.f_attention_scale ? { kqScale: hp.f_attention_scale } : {},
    { embeddingScale: hp.f_embedding_scale, residualScale: hp.f_residual_scale, logitScale: hp.f_logit_scale });
}
