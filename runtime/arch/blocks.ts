// The pieces every architecture's graph is made of, each reading like the
// lines of llama.cpp's graph builders it mirrors (build_norm, build_attn,
// the LM head): rope settings, a projection with its optional bias, RMSNorm
// or LayerNorm, and the one self-attention with its q/k-norm variants.
import { ModelError } from '../errors.js';
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

/** A weight times x, plus `<name>.bias` when the file has it. */
export function linear(c: BuildContext, name: string, x: Tensor, label: string): Tensor {
  const out = c.ops.matmul(c.w(`${name}.weight`), x, label);
  const b = c.wOpt(`${name}.bias`);
  return b ? c.ops.add(out, b, `${label}_b`) : out;
}

/** RMSNorm (llama's LLM_NORM_RMS) or LayerNorm with an optional bias (LLM_NORM). */
export type NormKind = 'rms' | 'layer';

/** `<name>.weight` (and `<name>.bias` for LayerNorm, when the file has it) applied to x, as build_norm does. */
export function buildNorm(c: BuildContext, kind: NormKind, name: string, x: Tensor, label: string): Tensor {
  const { ops, hp } = c;
  if (kind === 'rms') return ops.rmsNorm(x, c.w(`${name}.weight`), hp.f_norm_rms_eps, label);
  return ops.norm(x, c.w(`${name}.weight`), c.wOpt(`${name}.bias`) ?? null, hp.f_norm_eps, label);
}

/** LayerNorm with `<name>.weight` and its bias when present (the bert and gpt2 families). */
export function layerNorm(c: BuildContext, name: string, x: Tensor, label: string): Tensor {
  return buildNorm(c, 'layer', name, x, label);
}

/**
 * How q and k are normalised before rope, when the file has attn_q_norm /
 * attn_k_norm: an RMSNorm of each head (qwen3, gemma3: weights of head_dim),
 * an RMSNorm of the whole row, all heads together (OLMo 2: weights of
 * n_head*head_dim), or a LayerNorm of each head with one weight row per head
 * (StableLM 2 12B). 'none' ignores them (tests of a broken graph).
 */
export type QKNorm = 'head-rms' | 'row-rms' | 'head-layer' | 'none';

/** What differs between architectures' self-attention; every field but rope has llama's default. */
export interface AttentionOptions {
  /** Rope settings, or null for none (gpt2's learned positions, granite without rope). */
  rope: RopeParams | null;
  /** Scale of q·k (default 1/sqrt(head_dim)). */
  kqScale?: number;
  /** Attention logit soft-cap (gemma2), 0 for none. */
  softcap?: number;
  /** Sliding-window size for this layer, 0 for none. */
  nSwa?: number;
  /** nSwa is a chunk size (llama 4's chunked attention) rather than a window. */
  chunked?: boolean;
  /**
   * q times this after rope, before attention (gemma, phi2, phi3: llama.cpp
   * scales q with ggml_scale and passes kq_scale 1, so soft-capping sees scaled scores).
   */
  qScale?: number;
  /** Default 'head-rms'. */
  qkNorm?: QKNorm;
  /** Attention sinks (gpt-oss): one learned logit per query head joining its softmax; absent: none. */
  sinks?: Tensor;
  /**
   * llama 4's attention temperature (mistral3): q times 1 + scale *
   * ln(floor((pos + offset) / floor) + 1) after rope, so tokens past each
   * multiple of `floor` positions attend more sharply. Absent: none.
   */
  temperature?: { floor: number; scale: number; offset: number };
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
  if (qkv.ne[0]! * 4 !== row) throw new ModelError(`${p}.attn_qkv.weight has ${qkv.ne[0]} outputs, expected ${nQ + nK + nV} (q, k and v of ${hp.n_head}/${hp.n_head_kv} heads)`, undefined, `${p}.attn_qkv.weight`);
  return {
    q: ops.g.view(qkv, `Qcur-${il}`, [nQ, nTok], 0, row),
    k: ops.g.view(qkv, `Kcur-${il}`, [nK, nTok], nQ * 4, row),
    v: ops.g.view(qkv, `Vcur-${il}`, [nV, nTok], (nQ + nK) * 4, row),
  };
}

/** LayerNorm of each head of x (no bias), times `weight` [head_dim, n_heads]: head h takes weight row h. */
function perHeadLayerNorm(c: BuildContext, x: Tensor, weight: Tensor, label: string): Tensor {
  const { ops, hp } = c;
  const normed = ops.norm(ops.heads(x, hp.n_embd_head_k), null, null, hp.f_norm_eps, `${label}_norm`);
  return ops.mul(normed, weight, label);
}

function normQK(c: BuildContext, kind: QKNorm, x: Tensor, w: Tensor, label: string): Tensor {
  const { ops, hp } = c;
  switch (kind) {
    case 'head-rms': return ops.rmsNorm(ops.heads(x, hp.n_embd_head_k), w, hp.f_norm_rms_eps, label);
    case 'row-rms': return ops.rmsNorm(x, w, hp.f_norm_rms_eps, label);
    case 'head-layer': return perHeadLayerNorm(c, x, w, label);
    case 'none': return x;
  }
}

/**
 * Rope on q and k, the f16 KV cache, attention over the cached cells (causal,
 * optionally windowed and soft-capped). Returns [n_head*head_dim, n_tokens]
 * before the output projection.
 */
export function attend(c: BuildContext, il: number, q: Tensor, k: Tensor, v: Tensor, a: AttentionOptions): Tensor {
  const { ops, hp } = c;
  const headDim = hp.n_embd_head_k;
  if (a.rope) {
    q = ops.rope(q, c.inpPos, hp.n_head, headDim, a.rope, `Qcur_rope-${il}`);
    k = ops.rope(k, c.inpPos, hp.n_head_kv, headDim, a.rope, `Kcur_rope-${il}`);
  }
  if (a.temperature) q = ops.attnTempScale(q, c.inpPos, a.temperature.floor, a.temperature.scale, a.temperature.offset, `Qcur_attn_temp_scaled-${il}`);
  if (a.qScale !== undefined) q = ops.scale(q, a.qScale, `Qcur_scaled-${il}`);
  const cache = c.cache[il];
  if (!cache) throw new ModelError(`layer ${il} has no KV cache (a recurrent layer) but its graph attends`, undefined, `blk.${il}`);
  if (!c.inpKvRows) throw new Error('attention over a KV cache needs the batch rows\' sequences (inpKvRows)');
  return ops.attention(q, k, v, c.inpPos, c.inpKvRows, cache, {
    nHead: hp.n_head,
    nHeadKv: hp.n_head_kv,
    headDim,
    kqScale: a.kqScale ?? 1 / Math.sqrt(headDim),
    softcap: a.softcap ?? 0,
    nSwa: a.nSwa ?? 0,
    chunked: a.chunked,
    sinks: a.sinks,
  }, `kqv_out-${il}`);
}

/**
 * Self-attention of layer il: projections (separate or fused, biases when
 * present), the q/k norm of `a.qkNorm` when the file has attn_q_norm /
 * attn_k_norm, rope, attention, the output projection (and its bias).
 */
export function selfAttention(c: BuildContext, il: number, cur: Tensor, a: AttentionOptions): Tensor {
  const p = `blk.${il}`;
  let { q, k, v } = qkvProjections(c, il, cur);
  const kind = a.qkNorm ?? 'head-rms';
  const qNorm = c.wOpt(`${p}.attn_q_norm.weight`);
  const kNorm = c.wOpt(`${p}.attn_k_norm.weight`);
  if (qNorm) q = normQK(c, kind, q, qNorm, `Qcur_normed-${il}`);
  if (kNorm) k = normQK(c, kind, k, kNorm, `Kcur_normed-${il}`);
  return linear(c, `${p}.attn_output`, attend(c, il, q, k, v, a), `attn_out-${il}`);
}

/** Final norm and the LM head (tied to token_embd when output.weight is absent), plus output.bias when present. */
export function outputHead(c: BuildContext, x: Tensor, norm: (x: Tensor) => Tensor): Tensor {
  const { ops } = c;
  if (!c.inpOutIds) throw new Error('a decoder graph needs the rows to return logits for (inpOutIds)');
  const last = ops.selectRows(x, c.inpOutIds, 'inp_out');
  const cur = norm(last);
  if (c.rank) {
    // llama.cpp's build_pooling for rank: cls.output over the normed last row, softmax for qwen3
    const scores = ops.matmul(c.w('cls.output.weight'), cur, 'result_cls_out');
    const b = c.wOpt('cls.output.bias');
    return ops.softMax(b ? ops.add(scores, b, 'result_cls_out_b') : scores, 'result_embd_pooled');
  }
  const head = c.wOpt('output.weight') ?? c.w('token_embd.weight');
  const logits = ops.matmul(head, cur, 'result_output');
  const bias = c.wOpt('output.bias');
  return bias ? ops.add(logits, bias, 'result_output_b') : logits;
}
