// Feed-forward blocks, as llama.cpp's build_ffn and build_moe_ffn build
// them: one feed-forward whose variations are options (gated or not, SiLU or
// GELU, gate and up separate or fused, the shared expert's tensor names,
// biases whenever the file has them), and the mixture of experts, where a
// router picks n_expert_used of n_expert SwiGLU experts per token and only
// those run.
import type { Tensor } from '../graph/graph.js';
import { linear } from './blocks.js';
import type { BuildContext } from './context.js';

export type FFNBlock = (c: BuildContext, il: number, cur: Tensor) => Tensor;

export interface FfnOptions {
  /** Activation: SiLU (SwiGLU when gated) or GELU (GeGLU when gated; gpt2's MLP when not). Default 'silu'. */
  act?: 'silu' | 'gelu';
  /**
   * Where the gate comes from: its own ffn_gate (llama), the first half of
   * a fused ffn_up of 2*n_ff rows (phi3: ggml_swiglu's split), or none: the
   * plain MLP down(act(up(x))) (gpt2, bert). Default 'separate'.
   */
  gate?: 'separate' | 'fused' | 'none';
  /** Tensor-name suffix: '_shexp' for a shared expert's ffn_gate_shexp... Default ''. */
  suffix?: string;
}

/**
 * Layer il's feed-forward: down(act(gate(x)) * up(x)) or down(act(up(x))),
 * each projection plus its bias when the file has one (llama, granite,
 * gpt2... all take optional biases the same way).
 */
export function buildFfn(c: BuildContext, il: number, cur: Tensor, o: FfnOptions = {}): Tensor {
  const { ops } = c;
  const act = o.act ?? 'silu';
  const s = o.suffix ?? '';
  const p = `blk.${il}`;
  const tag = s ? 'ffn_shexp' : 'ffn';
  const gate = o.gate ?? 'separate';
  const out = (x: Tensor) => linear(c, `${p}.ffn_down${s}`, x, s ? `ffn_shexp-${il}` : `ffn_out-${il}`);
  if (gate === 'none') {
    if (act !== 'gelu') throw new RangeError(`ungated feed-forward with ${act}: only the GELU MLP exists`);
    return out(ops.gelu(linear(c, `${p}.ffn_up${s}`, cur, `${tag}_up-${il}`), `${tag}_gelu-${il}`));
  }
  const glu = act === 'silu' ? 'swiglu' : 'geglu';
  if (gate === 'fused') {
    // one matmul; the gate and up halves of each output row are views
    const fused = linear(c, `${p}.ffn_up${s}`, cur, `${tag}_up-${il}`);
    const nFF = fused.ne[0]! / 2;
    const nTok = fused.ne[1]!;
    const row = fused.ne[0]! * 4;
    const g = ops.g.view(fused, `${tag}_gate-${il}`, [nFF, nTok], 0, row);
    const up = ops.g.view(fused, `${tag}_up_half-${il}`, [nFF, nTok], nFF * 4, row);
    return out(ops.glu(act, g, up, `${tag}_${glu}-${il}`));
  }
  const up = linear(c, `${p}.ffn_up${s}`, cur, `${tag}_up-${il}`);
  const g = linear(c, `${p}.ffn_gate${s}`, cur, `${tag}_gate-${il}`);
  return out(ops.glu(act, g, up, `${tag}_${glu}-${il}`));
}

/** buildFfn with fixed options, as a layer's FFN block. */
export function ffnBlock(o: FfnOptions = {}): FFNBlock {
  return (c, il, cur) => buildFfn(c, il, cur, o);
}

export interface MoeOptions {
  /**
   * Divide the chosen experts' router probabilities by their sum (norm_w:
   * Mixtral, Qwen3-MoE, Granite-MoE), or use them as they are (Qwen2-MoE).
   */
  normWeights: boolean;
  /** build_moe_ffn's w_scale: the weights times this unless it is 0 or 1. */
  weightsScale?: number;
}

/**
 * The routed experts of layer il: router logits (ffn_gate_inp), softmax,
 * the top n_expert_used experts per token and their weights, then each
 * chosen expert's down(silu(gate(x)) * up(x)) (3-D ffn_*_exps tensors, one
 * matrix per expert), summed with the weights.
 */
export function buildMoeFfn(c: BuildContext, il: number, cur: Tensor, opts: MoeOptions): Tensor {
  const { ops, hp } = c;
  const p = `blk.${il}`;
  const logits = ops.matmul(c.w(`${p}.ffn_gate_inp.weight`), cur, `ffn_moe_logits-${il}`);
  const probs = ops.softMax(logits, `ffn_moe_probs-${il}`);
  // a per-expert selection bias (exp_probs_b, DeepSeek V3's and ERNIE 4.5's
  // e_score_correction) moves which experts are chosen, not their weights
  const bias = c.wOpt(`${p}.exp_probs_b.bias`);
  const selection = bias ? ops.add(probs, bias, `ffn_moe_probs_biased-${il}`) : probs;
  const ids = ops.topK(selection, hp.n_expert_used, `ffn_moe_topk-${il}`);
  const weights = ops.moeWeights(probs, ids, opts.normWeights, opts.weightsScale ?? 0, `ffn_moe_weights-${il}`);
  const up = ops.matmulId(c.w(`${p}.ffn_up_exps.weight`), cur, ids, `ffn_moe_up-${il}`);
  const gate = ops.matmulId(c.w(`${p}.ffn_gate_exps.weight`), cur, ids, `ffn_moe_gate-${il}`);
  const act = ops.glu('silu', gate, up, `ffn_moe_swiglu-${il}`);
  const experts = ops.matmulId(c.w(`${p}.ffn_down_exps.weight`), act, ids, `ffn_moe_down-${il}`);
  return ops.moeCombine(experts, weights, `ffn_moe_out-${il}`);
}

/** The shared expert (qwen2moe, granite-moe shared): a SwiGLU FFN every token runs, *_shexp tensors. */
export const sharedExpert: FFNBlock = (c, il, cur) => buildFfn(c, il, cur, { suffix: '_shexp' });

/**
 * The shared expert scaled per token by sigmoid(ffn_gate_inp_shexp · x)
 * (qwen2moe); the gate weight is one row of n_embd, stored 1-D.
 */
export const gatedSharedExpert: FFNBlock = (c, il, cur) => {
  const { ops } = c;
  const w = c.w(`blk.${il}.ffn_gate_inp_shexp.weight`);
  const row: Tensor = w.ne.length === 1 ? { ...w, ne: [w.ne[0]!, 1] } : w;
  const gateLogit = ops.matmul(row, cur, `ffn_shexp_gate_inp-${il}`);
  return ops.mulSiluGate(sharedExpert(c, il, cur), gateLogit, `ffn_shexp_out-${il}`);
};

/** Routed experts (plus a shared expert beside them) where the layer has a router, else the dense SwiGLU FFN. */
export function moeOrDense(opts: MoeOptions, shared?: FFNBlock): FFNBlock {
  return (c, il, cur) => {
    if (!c.wOpt(`blk.${il}.ffn_gate_inp.weight`)) return buildFfn(c, il, cur);
    const moe = buildMoeFfn(c, il, cur, opts);
    return shared ? c.ops.add(moe, shared(c, il, cur), `ffn_out-${il}`) : moe;
  };
}
