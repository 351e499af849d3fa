// The pre-norm decoder stack shared by Llama-family architectures: RMSNorm ->
// self-attention (rope, GQA, f16 KV cache) -> residual -> RMSNorm -> SwiGLU
// FFN -> residual, then the final norm and the LM head.
import type { Tensor } from '../graph/graph.js';
import type { RopeParams } from '../graph/ops.js';
import { ffnSwiGLU, outputHead, selfAttention } from './blocks.js';
import type { BuildContext } from './context.js';

export function preNormDecoder(c: BuildContext, rope: RopeParams): Tensor {
  const { ops, hp } = c;
  const eps = hp.f_norm_rms_eps;
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
