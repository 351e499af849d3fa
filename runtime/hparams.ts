// Hyper-parameters of a decoder model, read from GGUF metadata under the
// `<general.architecture>.` prefix with llama.cpp's key names and defaults.
import { ModelError } from './errors.js';

export type MetadataGetter = (key: string) => unknown;

export type RopeScalingType = 'none' | 'linear' | 'yarn';

export interface HParams {
  arch: string;
  n_vocab: number;
  n_ctx_train: number;
  n_embd: number;
  n_layer: number;
  n_ff: number;
  n_head: number;
  n_head_kv: number;
  /** Per-head width of q/k (attention.key_length, default n_embd / n_head). */
  n_embd_head_k: number;
  n_embd_head_v: number;
  n_rot: number;
  f_norm_rms_eps: number;
  f_norm_eps: number;
  rope_freq_base: number;
  rope_scaling_type: RopeScalingType;
  /** 1 / rope.scaling.factor for linear and yarn, else 1. */
  rope_freq_scale: number;
  n_ctx_orig_yarn: number;
  yarn_ext_factor: number;
  yarn_attn_factor: number;
  yarn_beta_fast: number;
  yarn_beta_slow: number;
  /** rope.scaling.yarn_log_multiplier (yarn's mscale_all_dim: mistral3, deepseek2); 0 when absent. */
  rope_yarn_log_mul: number;
  /** attention.temperature_scale (llama 4's attention temperature: mistral3); 0 when absent. */
  f_attn_temp_scale: number;
  /** Mixture of experts: experts per MoE layer (expert_count), 0 for a dense model. */
  n_expert: number;
  /** Experts each token is routed to (expert_used_count). */
  n_expert_used: number;
  /** Width of each expert's FFN (expert_feed_forward_length); 0 when absent (each architecture has its default). */
  n_ff_exp: number;
  /** Width of the shared expert (expert_shared_feed_forward_length); 0 when absent. */
  n_ff_shexp: number;
  /** leading_dense_block_count: layers before the first MoE layer (ernie4_5-moe, deepseek...); 0 when absent. */
  n_layer_dense_lead: number;
  /** interleave_moe_layer_step: every n-th layer is MoE (ernie4_5-moe); 0 when absent. */
  n_moe_layer_step: number;
  /** Rows of token_types.weight (tokenizer.ggml.token_type_count); BERT's two sentence types when absent. */
  n_token_types: number;
  /** Granite's multipliers (logit_scale, residual_scale, embedding_scale, attention.scale); 0 = none. */
  f_logit_scale: number;
  f_residual_scale: number;
  f_embedding_scale: number;
  f_attention_scale: number;
  /** attention.sliding_window; 0 when absent (each architecture applies llama.cpp's default). */
  n_swa: number;
  /** attention.sliding_window_pattern: every n-th layer is global; 0 when absent or an array (llama.cpp then keeps its default). */
  n_swa_pattern: number;
  /** rope.freq_base_swa (the sliding-window layers' rope base); 0 when absent. */
  rope_freq_base_swa: number;
  /** attn_logit_softcapping / final_logit_softcapping (gemma2...); 0 when absent. */
  f_attn_logit_softcapping: number;
  f_final_logit_softcapping: number;
  /** rope.scaling.finetuned, undefined when absent (granite turns rope off with false). */
  rope_finetuned?: boolean;
  /** use_parallel_residual (gptneox): attention and FFN both read the layer input. */
  use_par_res?: boolean;
  /** pooling_type with llama.cpp's enum (0 none, 1 mean, 2 cls, 3 last, 4 rank); 0 when absent. */
  pooling_type?: number;
  /** attention.causal (false for encoders such as bert); true when absent. */
  causal_attn?: boolean;
  /**
   * attention.head_count_kv per layer: the file's array, or n_head_kv for
   * every layer. 0 marks a layer without attention (lfm2's and
   * granitehybrid's recurrent layers).
   */
  n_head_kv_arr: number[];
  /** shortconv.l_cache (lfm2): the short convolution's width; 0 when absent. */
  n_shortconv_l_cache: number;
  /** Mamba-2 and gated delta net (ssm.*): conv_kernel, inner_size, state_size, time_step_rank, group_count; 0 when absent. */
  ssm_d_conv: number;
  ssm_d_inner: number;
  ssm_d_state: number;
  ssm_dt_rank: number;
  ssm_n_group: number;
  /** full_attention_interval (qwen3next, qwen35): every n-th layer is attention; 0 when absent. */
  full_attention_interval: number;
  /** attention.recurrent_layers: which layers are recurrent, when the file lists them (qwen3next). */
  recurrent_layers?: boolean[];
  /** rope.dimension_sections: M-RoPE's rotary pairs per position component (t, h, w, e); absent: none. */
  rope_sections?: number[];
}

/** A metadata array of numbers (a JS array or a typed array), else undefined. */
function numArray(v: unknown): number[] | undefined {
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const out = Array.from(v as ArrayLike<unknown>, (x) => num(x));
    return out.every((x): x is number => x !== undefined) ? out : undefined;
  }
  return undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

/**
 * Yarn's attention factor before rope.scaling.attn_factor. llama.cpp's
 * context sets it for yarn files when their rope.scaling.yarn_log_multiplier
 * (mscale_all_dim) is not 0: mscale(factor, 1) / mscale(factor, log_mul),
 * divided by the 1 + 0.1 ln(factor) that ggml's rope multiplies back in (so
 * with log_mul 1 rope's magnitude is unscaled). Otherwise the file's
 * yarn_attn_factor (1 when absent).
 */
function yarnAttnFactor(type: RopeScalingType, factor: number, logMul: number, fromFile: number): number {
  if (type !== 'yarn' || logMul === 0 || !factor) return fromFile;
  const f = Math.fround(factor);
  const mscale = (m: number) => (f <= 1 ? 1 : Math.fround(Math.fround(0.1 * Math.fround(m) * Math.fround(Math.log(f))) + 1));
  const ratio = Math.fround(mscale(1) / mscale(logMul));
  return Math.fround(ratio * Math.fround(1 / Math.fround(1 + Math.fround(0.1 * Math.fround(Math.log(f))))));
}

/** Reads hparams; `file` names the model in errors. */
export function readHParams(get: MetadataGetter, file: string, nVocabFallback: number): HParams {
  const arch = get('general.architecture');
  if (typeof arch !== 'string') throw new ModelError('metadata has no general.architecture', file, 'general.architecture');
  const key = (k: string) => `${arch}.${k}`;
  const req = (k: string): number => {
    const v = num(get(key(k)));
    if (v === undefined) throw new ModelError(`metadata key ${key(k)} is missing or not a number`, file, key(k));
    return v;
  };
  const opt = (k: string, d: number): number => num(get(key(k))) ?? d;

  const n_embd = req('embedding_length');
  const n_head = req('attention.head_count');
  if (n_head <= 0 || n_embd % n_head !== 0) {
    throw new ModelError(`${key('embedding_length')} = ${n_embd} is not a multiple of ${key('attention.head_count')} = ${n_head}`, file);
  }
  const n_layer = req('block_count');
  // llama.cpp reads head_count_kv as one number or one per layer (0: no attention in that layer)
  const kvArr = numArray(get(key('attention.head_count_kv')));
  if (kvArr && kvArr.length !== n_layer) {
    throw new ModelError(`${key('attention.head_count_kv')} has ${kvArr.length} entries for ${n_layer} layers`, file, key('attention.head_count_kv'));
  }
  // the attention layers' count: the first non-zero entry (llama.cpp's models give them all the same)
  const n_head_kv = kvArr ? (kvArr.find((x) => x > 0) ?? n_head) : opt('attention.head_count_kv', n_head);
  const n_head_kv_arr = kvArr ?? new Array<number>(n_layer).fill(n_head_kv);
  for (const h of new Set([n_head_kv, ...n_head_kv_arr.filter((x) => x !== 0)])) {
    if (!(h > 0) || n_head % h !== 0) {
      throw new ModelError(`${key('attention.head_count')} = ${n_head} is not a multiple of head_count_kv = ${h}`, file, key('attention.head_count_kv'));
    }
  }
  const n_embd_head_k = opt('attention.key_length', n_embd / n_head);
  const recurrentLayers = numArray(get(key('attention.recurrent_layers')));
  const ropeSections = numArray(get(key('rope.dimension_sections')));
  if (recurrentLayers && recurrentLayers.length < n_layer) {
    throw new ModelError(`${key('attention.recurrent_layers')} has ${recurrentLayers.length} entries for ${n_layer} layers`, file, key('attention.recurrent_layers'));
  }
  const n_ctx_train = req('context_length');
  const scalingName = get(key('rope.scaling.type'));
  let rope_scaling_type: RopeScalingType = 'none';
  if (scalingName === 'linear' || scalingName === 'yarn') rope_scaling_type = scalingName;
  else if (scalingName !== undefined && scalingName !== 'none') {
    throw new ModelError(`unsupported ${key('rope.scaling.type')} "${String(scalingName)}" (none, linear, yarn)`, file);
  }
  // llama.cpp: rope.scaling.factor, else the older rope.scale_linear; 0 means none
  const factor = opt('rope.scaling.factor', opt('rope.scale_linear', 0));
  const rope_freq_scale = factor && rope_scaling_type !== 'none' ? 1 / factor : 1;
  if (factor && scalingName === undefined && opt('rope.scale_linear', 0)) rope_scaling_type = 'linear';

  const finetuned = num(get(key('rope.scaling.finetuned')));
  // llama.cpp asserts these at load; a router choosing none or more than it has cannot run
  if (opt('expert_count', 0) > 0 && !(opt('expert_used_count', 0) >= 1 && opt('expert_used_count', 0) <= opt('expert_count', 0))) {
    throw new ModelError(`${key('expert_used_count')} = ${String(get(key('expert_used_count')))} must be 1..${key('expert_count')} = ${opt('expert_count', 0)}`, file, key('expert_used_count'));
  }
  return {
    arch,
    n_vocab: opt('vocab_size', nVocabFallback),
    n_ctx_train,
    n_embd,
    n_layer,
    n_ff: opt('feed_forward_length', 0),
    n_head,
    n_head_kv,
    n_embd_head_k,
    n_embd_head_v: opt('attention.value_length', n_embd / n_head),
    n_rot: opt('rope.dimension_count', n_embd_head_k),
    f_norm_rms_eps: opt('attention.layer_norm_rms_epsilon', 1e-5),
    f_norm_eps: opt('attention.layer_norm_epsilon', 1e-5),
    rope_freq_base: opt('rope.freq_base', 10000),
    rope_scaling_type,
    rope_freq_scale: scalingName === undefined && opt('rope.scale_linear', 0) ? 1 / opt('rope.scale_linear', 1) : rope_freq_scale,
    n_ctx_orig_yarn: opt('rope.scaling.original_context_length', n_ctx_train),
    // llama.cpp's context default: ext_factor 1 for yarn, 0 otherwise
    yarn_ext_factor: rope_scaling_type === 'yarn' ? 1 : 0,
    // times rope.scaling.attn_factor, as llama.cpp folds it in for every architecture (phi3 longrope writes it)
    yarn_attn_factor: yarnAttnFactor(rope_scaling_type, factor, opt('rope.scaling.yarn_log_multiplier', 0), opt('rope.scaling.yarn_attn_factor', 1)) * opt('rope.scaling.attn_factor', 1),
    yarn_beta_fast: opt('rope.scaling.yarn_beta_fast', 32),
    yarn_beta_slow: opt('rope.scaling.yarn_beta_slow', 1),
    rope_yarn_log_mul: opt('rope.scaling.yarn_log_multiplier', 0),
    f_attn_temp_scale: opt('attention.temperature_scale', 0),
    n_expert: opt('expert_count', 0),
    n_expert_used: opt('expert_used_count', 0),
    n_ff_exp: opt('expert_feed_forward_length', 0),
    n_ff_shexp: opt('expert_shared_feed_forward_length', 0),
    n_layer_dense_lead: opt('leading_dense_block_count', 0),
    n_moe_layer_step: opt('interleave_moe_layer_step', 0),
    n_token_types: num(get('tokenizer.ggml.token_type_count')) ?? 2,
    f_logit_scale: opt('logit_scale', 0),
    f_residual_scale: opt('residual_scale', 0),
    f_embedding_scale: opt('embedding_scale', 0),
    f_attention_scale: opt('attention.scale', 0),
    n_swa: opt('attention.sliding_window', 0),
    n_swa_pattern: opt('attention.sliding_window_pattern', 0),
    rope_freq_base_swa: opt('rope.freq_base_swa', 0),
    f_attn_logit_softcapping: opt('attn_logit_softcapping', 0),
    f_final_logit_softcapping: opt('final_logit_softcapping', 0),
    rope_finetuned: finetuned === undefined ? undefined : finetuned !== 0,
    use_par_res: opt('use_parallel_residual', 0) !== 0,
    pooling_type: opt('pooling_type', 0),
    causal_attn: opt('attention.causal', 1) !== 0,
    n_head_kv_arr,
    n_shortconv_l_cache: opt('shortconv.l_cache', 0),
    ssm_d_conv: opt('ssm.conv_kernel', 0),
    ssm_d_inner: opt('ssm.inner_size', 0),
    ssm_d_state: opt('ssm.state_size', 0),
    ssm_dt_rank: opt('ssm.time_step_rank', 0),
    ssm_n_group: opt('ssm.group_count', 0),
    full_attention_interval: opt('full_attention_interval', 0),
    ...(recurrentLayers ? { recurrent_layers: recurrentLayers.map((x) => x !== 0) } : {}),
    ...(ropeSections ? { rope_sections: ropeSections } : {}),
  };
}
