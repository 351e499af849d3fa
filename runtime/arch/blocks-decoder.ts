// A decoder stack whose variations are settings: where the RMSNorms sit
// (before each branch, after it, or both), which scalars multiply the
// embeddings, the residual branches and the logits, per-layer attention
// (rope base, sliding window, soft-cap) and the feed-forward kind. Gemma 1/2/3,
// OLMo 2, Granite and Phi-3 are each a few settings of it; the FFN and
// attention variants they need are here too.
import type { Tensor } from '../graph/graph.js';
import type { RopeParams } from '../graph/ops.js';
import { attend, linear, outputHead, qkvProjections, selfAttention, type AttentionOptions } from './blocks.js';
import type { BuildContext } from './context.js';

/** One layer's rope (null: none) and attention settings. */
export interface LayerAttention {
  rope: RopeParams | null;
  opts: AttentionOptions;
}

export type AttentionBlock = (c: BuildContext, il: number, cur: Tensor, a: LayerAttention) => Tensor;
export type FFNBlock = (c: BuildContext, il: number, cur: Tensor) => Tensor;

export interface StackOptions {
  /** Token embeddings times this (gemma: sqrt(n_embd), granite: embedding_scale); 0 or absent: none. */
  embeddingScale?: number;
  /** attn_norm and ffn_norm before each branch (false for OLMo 2). */
  preNorms: boolean;
  /** post_attention_norm and post_ffw_norm on each branch's output, before its residual add (gemma2/3, OLMo 2). */
  postNorms: boolean;
  /** Rope and attention settings of layer il. */
  layer: (il: number) => LayerAttention;
  /** Default: selfAttention (separate or fused qkv, per-head QK norm when the file has it). */
  attention?: AttentionBlock;
  ffn: FFNBlock;
  /** Each branch's output times this before its residual add (granite's residual_scale); 0 or absent: none. */
  residualScale?: number;
  /** Logits divided by this (granite's logit_scale); 0 or absent: none. */
  logitScale?: number;
  /** cap * tanh(logits / cap) (gemma2's final_logit_softcapping); 0 or absent: none. */
  finalSoftcap?: number;
}

export function decoderStack(c: BuildContext, o: StackOptions): Tensor {
  const { ops, hp } = c;
  const eps = hp.f_norm_rms_eps;
  const norm = (x: Tensor, name: string, label: string) => ops.rmsNorm(x, c.w(name), eps, label);
  const attention = o.attention ?? ((c, il, cur, a) => selfAttention(c, il, cur, a.rope, a.opts));
  const branch = (out: Tensor, post: string, label: string, il: number) => {
    if (o.postNorms) out = norm(out, `blk.${il}.${post}.weight`, `${post}-${il}`);
    if (o.residualScale) out = ops.scale(out, o.residualScale, `${label}_scaled-${il}`);
    return out;
  };

  let inpL = ops.getRows(c.w('token_embd.weight'), c.inpTokens);
  if (o.embeddingScale) inpL = ops.scale(inpL, o.embeddingScale, 'inp_scaled');
  for (let il = 0; il < hp.n_layer; il++) {
    const p = `blk.${il}`;
    let cur = o.preNorms ? norm(inpL, `${p}.attn_norm.weight`, `attn_norm-${il}`) : inpL;
    cur = branch(attention(c, il, cur, o.layer(il)), 'post_attention_norm', 'attn_out', il);
    const ffnInp = ops.add(cur, inpL, `ffn_inp-${il}`);
    cur = o.preNorms ? norm(ffnInp, `${p}.ffn_norm.weight`, `ffn_norm-${il}`) : ffnInp;
    cur = branch(o.ffn(c, il, cur), 'post_ffw_norm', 'ffn_out', il);
    inpL = ops.add(cur, ffnInp, `l_out-${il}`);
  }
  let logits = outputHead(c, inpL, (x) => norm(x, 'output_norm.weight', 'result_norm'));
  if (o.logitScale) logits = ops.scale(logits, 1 / o.logitScale, 'result_output_scaled');
  if (o.finalSoftcap) logits = ops.softcap(logits, o.finalSoftcap, 'result_output_softcapped');
  return logits;
}

/**
 * llama.cpp's set_swa_pattern (not dense-first): with period n, layers
 * il % n < n - 1 use the sliding window and every n-th is global; 0 makes
 * every layer sliding.
 */
export function isSwaLayer(il: number, period: number): boolean {
  return period === 0 || il % period < period - 1;
}

/**
 * Gated feed-forward with separate gate and up: down(act(gate(x)) * up(x)),
 * SiLU (SwiGLU) or GELU (GeGLU, gemma), with biases when the file has them
 * (granite's optional MLP biases).
 */
export function ffnGated(kind: 'silu' | 'gelu'): FFNBlock {
  return (c, il, cur) => {
    const p = `blk.${il}`;
    const up = linear(c, `${p}.ffn_up`, cur, `ffn_up-${il}`);
    const gate = linear(c, `${p}.ffn_gate`, cur, `ffn_gate-${il}`);
    const act = c.ops.glu(kind, gate, up, `ffn_${kind === 'silu' ? 'swiglu' : 'geglu'}-${il}`);
    return linear(c, `${p}.ffn_down`, act, `ffn_out-${il}`);
  };
}

/**
 * SwiGLU whose gate and up projections are one fused ffn_up of 2*n_ff rows
 * (phi3): the first half of each output row is the gate, the second the up
 * (ggml_swiglu's split), read as views.
 */
export const ffnFusedUpSwiGLU: FFNBlock = (c, il, cur) => {
  const { ops } = c;
  const p = `blk.${il}`;
  const fused = ops.matmul(c.w(`${p}.ffn_up.weight`), cur, `ffn_up-${il}`);
  const nFF = fused.ne[0]! / 2;
  const nTok = fused.ne[1]!;
  const row = fused.ne[0]! * 4;
  const gate = ops.g.view(fused, `ffn_gate-${il}`, [nFF, nTok], 0, row);
  const up = ops.g.view(fused, `ffn_up_half-${il}`, [nFF, nTok], nFF * 4, row);
  const act = ops.glu('silu', gate, up, `ffn_swiglu-${il}`);
  return ops.matmul(c.w(`${p}.ffn_down.weight`), act, `ffn_out-${il}`);
};

/**
 * Self-attention with RMSNorm over the whole q and k rows (all heads
 * together: attn_q_norm has n_head*head_dim weights), before rope (OLMo 2).
 */
export const fullQKNormAttention: AttentionBlock = (c, il, cur, a) => {
  const { ops, hp } = c;
  const p = `blk.${il}`;
  const { q, k, v } = qkvProjections(c, il, cur);
  const qn = ops.rmsNorm(q, c.w(`${p}.attn_q_norm.weight`), hp.f_norm_rms_eps, `Qcur_normed-${il}`);
  const kn = ops.rmsNorm(k, c.w(`${p}.attn_k_norm.weight`), hp.f_norm_rms_eps, `Kcur_normed-${il}`);
  return linear(c, `${p}.attn_output`, attend(c, il, qn, kn, v, a.rope, a.opts), `attn_out-${il}`);
};
