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

/** What differs between architectures' self-attention; every field has llama's default. */
export interface AttentionOptions {
  /** Scale of q·k (default 1/sqrt(head_dim)). */
  kqScale?: number;
  /** Attention logit soft-cap (gemma2), 0 for none. */
  softcap?: number;
  /** Sliding-window size for this layer, 0 for none. */
  nSwa?: number;
  /**
   * q times this after rope, before attention (gemma, phi3: llama.cpp scales
   * q with ggml_scale and passes kq_scale 1, so soft-capping sees scaled scores).
   */
  qScale?: number;
}

/** A weight times x, plus `<name>.bias` when the file has it. */
export function linear(c: BuildContext, name: string, x: Tensor, label: string): Tensor {
  const out = c.ops.matmul(c.w(`${name}.weight`), x, label);
  const b = c.wOpt(`${name}.bias`);
  return b ? c.ops.add(out, b, `${label}_b`) : out;
}

/**
 * q, k and v of layer il: separate attn_q/attn_k/attn_v projections, or one
 * fused attn_qkv whose output rows hold q, then k, then v (phi3, gpt2,
 * falcon...: views into it, no copy). Biases when the file has them.
 */
export function qkvProjections(c: BuildContext, il: number, cur: Tensor): { q: Tensor; k: Tensor; v: Tensor } {
  const { hp, ops } = c;
  const p = `blk.${il}`;
  if (!c.wOpt(`${p}.attn_qkv.weight`)) {
    return {
      q: linear(c, `${p}.attn_q`, cur, `Qcur-${il}`),
      k: linear(c, `${p}.attn_k`, cur, `Kcur-${il}`),
      v: linear(c, `${p}.attn_v`, cur, `Vcur-${il}`),
    };
  }
  const qkv = linear(c, `${p}.attn_qkv`, cur, `wqkv-${il}`);
  const nQ = hp.n_head * hp.n_embd_head_k;
  const nK = hp.n_head_kv * hp.n_embd_head_k;
  const nV = hp.n_head_kv * hp.n_embd_head_v;
  const nTok = c.nTokens;
  const row = (nQ + nK + nV) * 4;
  if (qkv.ne[0]! * 4 !== row) throw new Error(`${p}.attn_qkv.weight has ${qkv.ne[0]} outputs, expected ${nQ + nK + nV}`);
  return {
    q: ops.g.view(qkv, `Qcur-${il}`, [nQ, nTok], 0, row),
    k: ops.g.view(qkv, `Kcur-${il}`, [nK, nTok], nQ * 4, row),
    v: ops.g.view(qkv, `Vcur-${il}`, [nV, nTok], (nQ + nK) * 4, row),
  };
}

/**
 * Rope on q and k, the f16 KV cache, attention over the cached cells (causal,
 * optionally windowed and soft-capped). Returns [n_head*head_dim, n_tokens]
 * before the output projection.
 */
export function attend(c: BuildContext, il: number, q: Tensor, k: Tensor, v: Tensor, rope: RopeParams | null, opts: AttentionOptions = {}): Tensor {
  const { ops, hp } = c;
  const headDim = hp.n_embd_head_k;
  if (rope) {
    q = ops.rope(q, c.inpPos, hp.n_head, headDim, rope, `Qcur_rope-${il}`);
    k = ops.rope(k, c.inpPos, hp.n_head_kv, headDim, rope, `Kcur_rope-${il}`);
  }
  if (opts.qScale !== undefined) q = ops.scale(q, opts.qScale, `Qcur_scaled-${il}`);
  return ops.attention(q, k, v, c.inpPos, c.cache[il]!, {
    nHead: hp.n_head,
    nHeadKv: hp.n_head_kv,
    headDim,
    kqScale: opts.kqScale ?? 1 / Math.sqrt(headDim),
    softcap: opts.softcap ?? 0,
    nSwa: opts.nSwa ?? 0,
  }, `kqv_out-${il}`);
}

/**
 * Self-attention as llama builds it: projections (separate or fused, with
 * biases when present), QK norm per head when the file has attn_q_norm /
 * attn_k_norm (qwen3, gemma3), rope, attention, output projection.
 */
export function selfAttention(c: BuildContext, il: number, cur: Tensor, rope: RopeParams | null, opts: AttentionOptions = {}): Tensor {
  const { ops, hp } = c;
  const p = `blk.${il}`;
  let { q, k, v } = qkvProjections(c, il, cur);
  const qNorm = c.wOpt(`${p}.attn_q_norm.weight`);
  const kNorm = c.wOpt(`${p}.attn_k_norm.weight`);
  if (qNorm) q = ops.rmsNorm(ops.heads(q, hp.n_embd_head_k), qNorm, hp.f_norm_rms_eps, `Qcur_normed-${il}`);
  if (kNorm) k = ops.rmsNorm(ops.heads(k, hp.n_embd_head_k), kNorm, hp.f_norm_rms_eps, `Kcur_normed-${il}`);
  const attn = attend(c, il, q, k, v, rope, opts);
  return linear(c, `${p}.attn_output`, attn, `attn_out-${il}`);
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
