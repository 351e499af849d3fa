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
  /**
   * llama.cpp's gating function: 'softmax' over all experts, then the top k
   * (default); 'softmax-weight' picks the top k router logits and takes the
   * softmax of those k only (gpt-oss's SOFTMAX_WEIGHT); 'sigmoid' of each
   * logit on its own (GLM-4.x, DeepSeek V3).
   */
  gating?: 'softmax' | 'softmax-weight' | 'sigmoid';
  /**
   * llama 4: the experts are chosen by the raw router logits, and each
   * chosen expert's input (not its output) is multiplied by its weight.
   */
  weightBeforeFfn?: boolean;
  /** The experts' GLU: SwiGLU (default) or gpt-oss's clamped swiglu_oai (alpha 1.702, limit 7). */
  act?: 'silu' | 'swiglu-oai';
}

/** gpt-oss's swiglu_oai constants (llama.cpp's build_moe_ffn has them fixed too). */
const SWIGLU_OAI_ALPHA = 1.702;
const SWIGLU_OAI_LIMIT = 7;

/**
 * The routed experts of layer il: router logits (ffn_gate_inp, plus its
 * bias when the file has one), the top n_expert_used experts per token and
 * their weights (per opts.gating), then each chosen expert's
 * down(act(gate(x), up(x))) (3-D ffn_*_exps tensors, one matrix per expert;
 * each plus its expert's bias row when the file has *_exps.bias), summed with
 * the weights.
 */
export function buildMoeFfn(c: BuildContext, il: number, cur: Tensor, opts: MoeOptions): Tensor {
  const { ops, hp } = c;
  const p = `blk.${il}`;
  const logits = linear(c, `${p}.ffn_gate_inp`, cur, `ffn_moe_logits-${il}`);
  let ids: Tensor;
  let weights: Tensor;
  if (opts.gating === 'softmax-weight') {
    ids = ops.topK(logits, hp.n_expert_used, `ffn_moe_topk-${il}`);
    const chosen = ops.moeWeights(logits, ids, false, 0, `ffn_moe_weights-${il}`);
    weights = ops.softMax(chosen, `ffn_moe_weights_softmax-${il}`);
    if (opts.normWeights || (opts.weightsScale ?? 0) !== 0) throw new RangeError('softmax-weight gating: the weights are already a softmax');
  } else {
    const probs = opts.gating === 'sigmoid' ? ops.sigmoid(logits, `ffn_moe_probs-${il}`) : ops.softMax(logits, `ffn_moe_probs-${il}`);
    // a per-expert selection bias (exp_probs_b, DeepSeek V3's and ERNIE 4.5's
    // e_score_correction) moves which experts are chosen, not their weights
    const bias = c.wOpt(`${p}.exp_probs_b.bias`);
    const selection = opts.weightBeforeFfn ? logits : bias ? ops.add(probs, bias, `ffn_moe_probs_biased-${il}`) : probs;
    ids = ops.topK(selection, hp.n_expert_used, `ffn_moe_topk-${il}`);
    weights = ops.moeWeights(probs, ids, opts.normWeights, opts.weightsScale ?? 0, `ffn_moe_weights-${il}`);
  }
  // ggml_add_id after each ggml_mul_mat_id: the chosen expert's bias row
  const experts = (name: string, x: Tensor, label: string) => {
    const out = ops.matmulId(c.w(`${p}.${name}.weight`), x, ids, label);
    const b = c.wOpt(`${p}.${name}.bias`);
    return b ? ops.addId(out, b, ids, `${label}_biased`) : out;
  };
  const input = opts.weightBeforeFfn ? ops.moeWeightedRows(cur, weights, `ffn_moe_weighted-${il}`) : cur;
  const up = experts('ffn_up_exps', input, `ffn_moe_up-${il}`);
  const gate = experts('ffn_gate_exps', input, `ffn_moe_gate-${il}`);
  const act = opts.act === 'swiglu-oai'
    ? ops.swigluOai(gate, up, SWIGLU_OAI_ALPHA, SWIGLU_OAI_LIMIT, `ffn_moe_swiglu_oai-${il}`)
    : ops.glu('silu', gate, up, `ffn_moe_swiglu-${il}`);
  const down = experts('ffn_down_exps', act, `ffn_moe_down-${il}`);
  return ops.moeCombine(down, opts.weightBeforeFfn ? null : weights, `ffn_moe_out-${il}`);
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
