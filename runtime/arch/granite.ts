// IBM Granite 3.x (dense): the Llama decoder (RMSNorm, NORM rope, GQA,
// SwiGLU) with four multipliers: token embeddings times embedding_scale,
// each branch's output times residual_scale before its residual add, q·k
// times attention.scale instead of 1/sqrt(head_dim), logits divided by
// logit_scale. Optional biases on attn_output and the FFN. A file with
// rope.scaling.finetuned = false has no rope at all.
import { ROPE_NORM, ropeParams } from './blocks.js';
import { decoderStack, ffnGated } from './blocks-decoder.js';
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
    ffn: ffnGated('silu'),
    residualScale: hp.f_residual_scale,
    logitScale: hp.f_logit_scale,
  });
}
