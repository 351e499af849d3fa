// IBM Granite 3.x (dense): the Llama decoder (RMSNorm, NORM rope, GQA,
// SwiGLU) with four multipliers: token embeddings times embedding_scale,
// each branch's output times residual_scale before its residual add, q·k
// times attention.scale instead of 1/sqrt(head_dim), logits divided by
// logit_scale. Optional biases on attn_output and the FFN. A file with
// rope.scaling.finetuned = false has no rope at all. llama.cpp also runs
// "granite" files that declare experts: then the FFN is granitemoe's.
import { ROPE_NORM, ropeParams } from './blocks.js';
import { decoderStack, ffnGated } from './blocks-decoder.js';
import { ffnSharedExpert, moeOrDense } from './blocks-moe.js';
import type { BuildContext } from './context.js';

export function buildGranite(c: BuildContext) {
  const hp = c.hp;
  const rope = hp.rope_finetuned === false ? null : ropeParams(c, ROPE_NORM, c.wOpt('rope_freqs.weight'));
  const opts = hp.f_attention_scale ? { kqScale: hp.f_attention_scale } : {};
  return decoderStack(c, {
    embeddingScale: hp.f_embedding_scale,
    preNorms: true,
    postNorms: false,
    layer: () => ({ rope, opts }),
    ffn: hp.n_expert > 0
      ? moeOrDense({ normWeights: true }, c.wOpt('blk.0.ffn_gate_shexp.weight') ? ffnSharedExpert : undefined)
      : ffnGated('silu'),
    residualScale: hp.f_residual_scale,
    logitScale: hp.f_logit_scale,
  });
}
