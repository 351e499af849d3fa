// Blocks shared by decoder architectures, composed by the files in arch/.
// Each reads like the corresponding lines of llama.cpp's graph builders.
import type { Tensor } from '../graph/graph.js';
import type { RopeParams } from '../graph/ops.js';
import type { BuildContext } from './context.js';

/** ggml's rope modes: NORM rotates adjacent pairs (llama), NEOX the two halves (qwen2, gpt-neox...). */
export const ROPE_NORM = 0;
export const ROPE_NEOX = 2;

/** Rope settings from hparams (llama.cpp's rope_ext arguments). */
export function ropeParams(c: BuildContext, mode: number, freqFactors?: Tensor): RopeParams {
  const hp = c.hp;
  return {
    nRot: hp.n_rot,
    mode,
    nCtxOrig: hp.n_ctx_orig_yarn,
    freqBase: hp.rope_freq_base,
    freqScale: hp.rope_freq_scale,
    extFactor: hp.yarn_ext_factor,
    attnFactor: hp.yarn_attn_factor,
    betaFast: hp.yarn_beta_fast,
    betaSlow: hp.yarn_beta_slow,
    freqFactors,
  };
}

/**
 * Self-attention with separate q/k/v projections, rope on q and k, an f16 KV
 * cache and the output projection (llama, mistral, qwen2 with biases...).
 */
export function selfAttention(c: BuildContext, il: number, cur: Tensor, rope: RopeParams): Tensor {
  const { ops, hp } = c;
  const p = `blk.${il}`;
  const headDim = hp.n_embd_head_k;
  const biased = (name: string, x: Tensor): Tensor => {
    const out = ops.matmul(c.w(`${p}.${name}.weight`), x, `${name}-${il}`);
    const b = c.wOpt(`${p}.${name}.bias`);
    return b ? ops.add(out, b, `${name}_b-${il}`) : out;
  };
  let q = biased('attn_q', cur);
  let k = biased('attn_k', cur);
  const v = biased('attn_v', cur);
  // QK norm (qwen3, gemma3...): RMSNorm of each head of q and k before rope
  const qNorm = c.wOpt(`${p}.attn_q_norm.weight`);
  const kNorm = c.wOpt(`${p}.attn_k_norm.weight`);
  if (qNorm) q = ops.rmsNorm(ops.heads(q, headDim), qNorm, hp.f_norm_rms_eps, `Qcur_normed-${il}`);
  if (kNorm) k = ops.rmsNorm(ops.heads(k, headDim), kNorm, hp.f_norm_rms_eps, `Kcur_normed-${il}`);
  q = ops.rope(q, c.inpPos, hp.n_head, headDim, rope, `Qcur-${il}`);
  k = ops.rope(k, c.inpPos, hp.n_head_kv, headDim, rope, `Kcur-${il}`);
  const attn = ops.attention(q, k, v, c.inpPos, c.cache[il]!, {
    nHead: hp.n_head,
    nHeadKv: hp.n_head_kv,
    headDim,
    kqScale: 1 / Math.sqrt(headDim),
  }, `kqv_out-${il}`);
  return biased('attn_output', attn);
}

/** SwiGLU feed-forward: down(silu(gate(x)) * up(x)). */
export function ffnSwiGLU(c: BuildContext, il: number, cur: Tensor): Tensor {
  const { ops } = c;
  const p = `blk.${il}`;
  const gate = ops.matmul(c.w(`${p}.ffn_gate.weight`), cur, `ffn_gate-${il}`);
  const up = ops.matmul(c.w(`${p}.ffn_up.weight`), cur, `ffn_up-${il}`);
  const act = ops.glu('silu', gate, up, `ffn_swiglu-${il}`);
  return ops.matmul(c.w(`${p}.ffn_down.weight`), act, `ffn_out-${il}`);
}

/** Final norm and the LM head (tied to token_embd when output.weight is absent). */
export function outputHead(c: BuildContext, x: Tensor, norm: (x: Tensor) => Tensor): Tensor {
  const { ops } = c;
  const last = ops.lastRows(x, c.nOutputs, 'inp_out');
  const cur = norm(last);
  const head = c.wOpt('output.weight') ?? c.w('token_embd.weight');
  const logits = ops.matmul(head, cur, 'result_output');
  const bias = c.wOpt('output.bias');
  return bias ? ops.add(logits, bias, 'result_output_b') : logits;
}
