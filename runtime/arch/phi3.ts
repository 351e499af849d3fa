// Phi-3 / Phi-3.5 / Phi-4-mini: the pre-norm RMSNorm decoder with one fused
// attn_qkv projection (or separate q/k/v), NEOX rope, q scaled by
// 1/sqrt(head_dim) after rope, and a SwiGLU whose gate and up halves come
// from one fused ffn_up. Long-context files carry rope factors: the short
// ones apply while the context fits n_ctx_orig (rope.scaling.original_
// context_length), the long ones beyond it, as llama.cpp picks them by
// context size; rope.scaling.attn_factor scales rope (folded into hparams).
// llama.cpp currently ignores Phi's attention.sliding_window (full
// attention everywhere), and so do we.
import { ROPE_NEOX, ropeParams } from './blocks.js';
import { decoderStack, ffnFusedUpSwiGLU } from './blocks-decoder.js';
import type { BuildContext } from './context.js';

export function buildPhi3(c: BuildContext) {
  const hp = c.hp;
  const nCtx = c.cache[0]?.nCtx ?? hp.n_ctx_orig_yarn;
  const factors = c.wOpt(nCtx > hp.n_ctx_orig_yarn ? 'rope_factors_long.weight' : 'rope_factors_short.weight');
  const rope = ropeParams(c, ROPE_NEOX, factors);
  return decoderStack(c, {
    preNorms: true,
    postNorms: false,
    layer: () => ({ rope, opts: { qScale: 1 / Math.sqrt(hp.n_embd_head_k), kqScale: 1 } }),
    ffn: ffnFusedUpSwiGLU,
  });
}
