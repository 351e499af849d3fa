// Llama (1, 2, 3.x), Mistral, TinyLlama, SmolLM...: pre-norm decoder with
// RMSNorm, rotary embeddings (NORM mode; llama3 rope_freqs as frequency
// factors), grouped-query attention and a SwiGLU feed-forward.
import { ffnSwiGLU, outputHead, ropeParams, selfAttention } from './blocks.js';
import type { BuildContext } from './context.js';

const ROPE_NORM = 0;

export function buildLlama(c: BuildContext) {
  const { ops, hp } = c;
  const eps = hp.f_norm_rms_eps;
  const rope = ropeParams(c, ROPE_NORM, c.wOpt('rope_freqs.weight'));

  let inpL = ops.getRows(c.w('token_embd.weight'), c.inpTokens);
  for (let il = 0; il < hp.n_layer; il++) {
    let cur = ops.rmsNorm(inpL, c.w(`blk.${il}.attn_norm.weight`), eps, `attn_norm-${il}`);
    cur = selfAttention(c, il, cur, rope);
    const ffnInp = ops.add(cur, inpL, `ffn_inp-${il}`);
    cur = ops.rmsNorm(ffnInp, c.w(`blk.${il}.ffn_norm.weight`), eps, `ffn_norm-${il}`);
    cur = ffnSwiGLU(c, il, cur);
    inpL = ops.add(cur, ffnInp, `l_out-${il}`);
  }
  return outputHead(c, inpL, (x) => ops.rmsNorm(x, c.w('output_norm.weight'), eps, 'result_norm'));
}
