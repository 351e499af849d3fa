// Phi-3 / Phi-3.5 / Phi-4-mini: the pre-norm RMSNorm decoder with one fused
// attn_qkv projection, NEOX rope, q scaled by 1/sqrt(head_dim) after rope,
// and a SwiGLU whose gate and up halves come from one fused ffn_up.
// Long-context files carry rope factors: the short ones apply while the
// context fits n_ctx_orig (rope.scaling.original_context_length), the long
// ones beyond it, as llama.cpp picks them by context size;
// rope.scaling.attn_factor scales rope (folded into hparams). llama.cpp
// currently ignores Phi's attention.sliding_window (full attention
// everywhere), and so do we.
import { ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder } from './decoder.js';
import { attention, dims, embeddingsAndHead, ffn, layers, norm, opt, type Architecture, type DeclareTensors } from './declare.js';
import { ffnBlock } from './ffn.js';

export function buildPhi3(c: BuildContext) {
  const hp = c.hp;
  const nCtx = c.cache[0]?.nCtx ?? hp.n_ctx_orig_yarn;
  const factors = c.wOpt(nCtx > hp.n_ctx_orig_yarn ? 'rope_factors_long.weight' : 'rope_factors_short.weight');
  const rope = ropeParams(c, ROPE_NEOX, factors);
  return buildDecoder(c, {
    attention: () => ({ rope, qScale: 1 / Math.sqrt(hp.n_embd_head_k), kqScale: 1 }),
    ffn: ffnBlock({ gate: 'fused' }),
  });
}

const phi3Tensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  return [
    ...embeddingsAndHead(D, { output: 'optional' }),
    // long-context files: rope factors for either side of n_ctx_orig
    opt('rope_factors_long.weight', D.n_rot_half),
    opt('rope_factors_short.weight', D.n_rot_half),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D),
      // llama.cpp marks attn_qkv optional but creates no separate q/k/v: a file needs it to run
      ...attention(p, D, file, { qkv: 'fused', q: D.n_embd }),
      ...norm(`${p}.ffn_norm`, D),
      ...ffn(p, D, { gate: 'fused' }),
    ]),
  ];
};

export const phi3: Architecture = { build: buildPhi3, tensors: phi3Tensors };
