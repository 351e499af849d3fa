// Mixture-of-experts blocks, as llama.cpp's build_moe_ffn builds them: a
// router picks n_expert_used of n_expert SwiGLU experts per token, and only
// those experts run; shared experts every token runs beside them.
import type { Tensor } from '../graph/graph.js';
import { ffnSwiGLU } from './blocks.js';
import type { FFNBlock } from './blocks-decoder.js';
import type { BuildContext } from './context.js';

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
export function ffnMoE(c: BuildContext, il: number, cur: Tensor, opts: MoeOptions): Tensor {
  const { ops, hp } = c;
  const p = `blk.${il}`;
  const logits = ops.matmul(c.w(`${p}.ffn_gate_inp.weight`), cur, `ffn_moe_logits-${il}`);
  const probs = ops.softMax(logits, `ffn_moe_probs-${il}`);
  const ids = ops.topK(probs, hp.n_expert_used, `ffn_moe_topk-${il}`);
  const weights = ops.moeWeights(probs, ids, opts.normWeights, opts.weightsScale ?? 0, `ffn_moe_weights-${il}`);
  const up = ops.matmulId(c.w(`${p}.ffn_up_exps.weight`), cur, ids, `ffn_moe_up-${il}`);
  const gate = ops.matmulId(c.w(`${p}.ffn_gate_exps.weight`), cur, ids, `ffn_moe_gate-${il}`);
  const act = ops.glu('silu', gate, up, `ffn_moe_swiglu-${il}`);
  const experts = ops.matmulId(c.w(`${p}.ffn_down_exps.weight`), act, ids, `ffn_moe_down-${il}`);
  return ops.moeCombine(experts, weights, `ffn_moe_out-${il}`);
}

/** The shared expert (qwen2moe, granite-moe shared): a SwiGLU FFN every token runs, *_shexp tensors. */
export function ffnSharedExpert(c: BuildContext, il: number, cur: Tensor): Tensor {
  const { ops } = c;
  const p = `blk.${il}`;
  const gate = ops.matmul(c.w(`${p}.ffn_gate_shexp.weight`), cur, `ffn_shexp_gate-${il}`);
  const up = ops.matmul(c.w(`${p}.ffn_up_shexp.weight`), cur, `ffn_shexp_up-${il}`);
  const act = ops.glu('silu', gate, up, `ffn_shexp_swiglu-${il}`);
  return ops.matmul(c.w(`${p}.ffn_down_shexp.weight`), act, `ffn_shexp-${il}`);
}

/**
 * The shared expert scaled per token by sigmoid(ffn_gate_inp_shexp · x)
 * (qwen2moe); the gate weight is one row of n_embd, stored 1-D.
 */
export function gatedSharedExpert(c: BuildContext, il: number, cur: Tensor): Tensor {
  const { ops } = c;
  const w = c.w(`blk.${il}.ffn_gate_inp_shexp.weight`);
  const row: Tensor = w.ne.length === 1 ? { ...w, ne: [w.ne[0]!, 1] } : w;
  const gateLogit = ops.matmul(row, cur, `ffn_shexp_gate_inp-${il}`);
  return ops.mulSiluGate(ffnSharedExpert(c, il, cur), gateLogit, `ffn_shexp_out-${il}`);
}

/** Routed experts where the layer has a router, else llama's dense SwiGLU FFN. */
export function moeOrDense(opts: MoeOptions, shared?: FFNBlock): FFNBlock {
  return (c, il, cur) => {
    if (!c.wOpt(`blk.${il}.ffn_gate_inp.weight`)) return ffnSwiGLU(c, il, cur);
    const moe = ffnMoE(c, il, cur, opts);
    return shared ? c.ops.add(moe, shared(c, il, cur), `ffn_out-${il}`) : moe;
  };
}
