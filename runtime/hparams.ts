// Hyper-parameters of a decoder model, read from GGUF metadata under the
// `<general.architecture>.` prefix with llama.cpp's key names and defaults.
import { ModelError } from './errors.js';
import { printable } from './terminal/printable.js';

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
  /** Experts every token runs besides the routed ones (expert_shared_count); 0 when absent. */
  n_expert_shared: number;
  /** expert_weights_scale: the routed experts' weights times this (0 or 1: unscaled). */
  expert_weights_scale: number;
  /** expert_weights_norm: the chosen experts' weights divided by their sum. */
  expert_weights_norm: boolean;
  /** expert_gating_func with llama.cpp's enum (0 none: the architecture's default, 1 softmax, 2 sigmoid, 3 softmax of the top k, 4 sqrt(softplus)). */
  expert_gating_func: number;
  /** Multi-head latent attention (deepseek2): attention.q_lora_rank (0: a plain attn_q) and kv_lora_rank; 0 when absent. */
  n_lora_q: number;
  n_lora_kv: number;
  /** attention.key_length_mla / value_length_mla: a head's q·k and V widths once decompressed; 0 when absent (not MLA). */
  n_embd_head_k_mla: number;
  n_embd_head_v_mla: number;
  /** nextn_predict_layers: the last block_count layers that are multi-token-prediction heads, not run for the next token (glm4moe); 0 when absent. */
  n_layer_nextn: number;
  /** rope.dimension_sections (multimodal rope, M-RoPE: rotary pairs per position component t, h, w, e); [] when absent. */
  rope_sections: number[];
  /** attention.temperature_length (the attention temperature's floor, deepseek2); 0 when absent. */
  n_attn_temp_floor_scale: number;
  /** Rows of token_types.weight (tokenizer.ggml.token_type_count); BERT's two sentence types when absent. */
  n_token_types: number;
  /** Granite's multipliers (logit_scale, residual_scale, embedding_scale, attention.scale); 0 = none. */
  f_logit_scale: number;
  f_residual_scale: number;
  f_embedding_scale: number;
  f_attention_scale: number;
  /** attention.sliding_window; 0 when absent (each architecture applies llama.cpp's default). */
  n_swa: number;
  /** Whether the file has attention.sliding_window at all (llama 4 reads an explicit 0 as "no chunking"). */
  has_swa_key: boolean;
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
   * Outputs of a reranker's classifier head (cls.output.weight's rows): the
   * length of classifier.output_labels (Qwen3-Reranker's "yes", "no"), else 1.
   */
  n_cls_out: number;
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
}

/** llama.cpp's LLAMA_MAX_LAYERS and LLAMA_MAX_EXPERTS: its loader refuses more. */
export const MAX_LAYERS = 512;
export const MAX_EXPERTS = 1024;
/** Bounds on widths and counts: far above any real model, low enough that no size computed from them nears 2^53. */
const MAX_WIDTH = 1 << 20;
const MAX_COUNT = 2 ** 31 - 1;

/** How a value from the file looks when it is quoted in an error (short, printable). */
function shown(v: unknown): string {
  if (typeof v === 'string') return printable(JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v));
  if (typeof v === 'bigint') return `${v}`;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return `an array of ${(v as ArrayLike<unknown>).length}`;
  return String(v);
}

function kind(v: unknown): string {
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return 'array';
  return typeof v === 'bigint' ? 'integer' : typeof v;
}

/**
 * Typed, bounded reads of one file's metadata. A key that is absent gets
 * its default; one that is present with the wrong type or out of range is
 * a ModelError naming the key, the value and what was expected (llama.cpp:
 * "key ... has wrong type"), never silently the default.
 */
export class MetadataReader {
  constructor(private readonly get: MetadataGetter, private readonly file: string) {}

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  fail(key: string, v: unknown, expected: string): never {
    throw new ModelError(`${printable(key)} = ${shown(v)} (${kind(v)}): expected ${expected}`, this.file, key);
  }

  /** An integer in min..max; `d` when absent (undefined: required). */
  int(key: string, min: number, max: number, d?: number): number {
    const v = this.get(key);
    if (v === undefined) {
      if (d === undefined) throw new ModelError(`metadata key ${printable(key)} is missing (expected an integer in ${min}..${max})`, this.file, key);
      return d;
    }
    const n = typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) this.fail(key, v, `an integer in ${min}..${max}`);
    return n;
  }

  /** An array of integers in min..max, each (a JS or typed array; booleans as 0/1); undefined when absent. */
  ints(key: string, min: number, max: number): number[] | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) && !ArrayBuffer.isView(v)) return this.fail(key, v, `an array of integers in ${min}..${max}`);
    const list = v as ArrayLike<unknown>;
    if (list.length > MAX_LAYERS * 8) this.fail(key, v, `at most ${MAX_LAYERS * 8} entries`);
    return Array.from(list, (x, i) => {
      const n = typeof x === 'bigint' ? Number(x) : typeof x === 'boolean' ? Number(x) : x;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
        throw new ModelError(`${printable(key)}[${i}] = ${shown(x)} (${kind(x)}): expected an integer in ${min}..${max}`, this.file, key);
      }
      return n;
    });
  }

  /** A finite number in min..max (inclusive); `d` when absent. */
  float(key: string, d: number, min = -Number.MAX_VALUE, max = Number.MAX_VALUE): number {
    const v = this.get(key);
    if (v === undefined) return d;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) {
      this.fail(key, v, min === -Number.MAX_VALUE ? 'a finite number' : `a number in ${min}..${max}`);
    }
    return n;
  }

  /** A boolean (or 0/1, as some converters write it); undefined when absent. */
  bool(key: string): boolean | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v === 'boolean') return v;
    if (v === 0 || v === 1 || v === 0n || v === 1n) return v === 1 || v === 1n;
    return this.fail(key, v, 'a boolean');
  }

  /** A string; undefined when absent. */
  str(key: string): string | undefined {
    const v = this.get(key);
    if (v === undefined || typeof v === 'string') return v;
    return this.fail(key, v, 'a string');
  }
}

/**
 * Yarn's attention factor before rope.scaling.attn_factor. llama.cpp's
 * context sets it for yarn files when their rope.scaling.yarn_log_multiplier
 * (mscale_all_dim) is not 0: mscale(factor, 1) / mscale(factor, log_mul),
 * divided by the 1 + 0.1 ln(factor) that ggml's rope multiplies back in (so
 * with log_mul 1 rope's magnitude is unscaled). Otherwise the file's
 * yarn_attn_factor (1 when absent).
 */
function yarnAttnFactor(type: RopeScalingType, factor: number, logMul: number, fromFile: number, deepseek2 = false): number {
  if (type !== 'yarn' || logMul === 0 || !factor) return fromFile;
  const f = Math.fround(factor);
  const mscale = (m: number) => (f <= 1 ? 1 : Math.fround(Math.fround(0.1 * Math.fround(m) * Math.fround(Math.log(f))) + 1));
  // llama.cpp takes deepseek2's mscale equal to mscale_all_dim (DeepSeek-V2's config has both 0.707): a ratio of 1
  const ratio = deepseek2 ? 1 : Math.fround(mscale(1) / mscale(logMul));
  return Math.fround(ratio * Math.fround(1 / Math.fround(1 + Math.fround(0.1 * Math.fround(Math.log(f))))));
}

/** llama.cpp's n_cls_out: one per classifier label, 1 without labels. */
function classifierOutputs(labels: unknown, file: string, k: string): number {
  if (labels === undefined) return 1;
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) throw new ModelError(`${k} must be an array of strings`, file, k);
  if (labels.length === 0) return 1;
  if (labels.length > MAX_WIDTH) throw new ModelError(`${k} has ${labels.length} labels, more than ${MAX_WIDTH}`, file, k);
  return labels.length;
}

/**
 * Reads hparams, each with its type checked and its range bounded before
 * anything is sized from it; `file` names the model in errors. n_vocab is
 * the tokenizer's token count, as llama.cpp takes it (its tensors are then
 * checked against it); a `<arch>.vocab_size` that disagrees is only warned
 * about, as llama.cpp reads that key only for files without a tokenizer.
 */
export function readHParams(get: MetadataGetter, file: string, nVocab: number, warn: (message: string) => void = () => {}): HParams {
  const arch = get('general.architecture');
  if (typeof arch !== 'string') throw new ModelError('metadata has no general.architecture', file, 'general.architecture');
  const md = new MetadataReader(get, file);
  const key = (k: string) => `${arch}.${k}`;
  const int = (k: string, min: number, max: number, d?: number) => md.int(key(k), min, max, d);
  const flt = (k: string, d: number, min?: number, max?: number) => md.float(key(k), d, min, max);

  const n_embd = int('embedding_length', 1, MAX_WIDTH);
  const n_head = int('attention.head_count', 1, n_embd);
  // the head size defaults to n_embd / n_head; files that give key_length and
  // value_length (GLM-4.7-Flash: 2048 over 20 heads) need no such multiple
  const headSizesGiven = get(key('attention.key_length')) !== undefined && get(key('attention.value_length')) !== undefined;
  if (!headSizesGiven && n_embd % n_head !== 0) {
    throw new ModelError(`${key('embedding_length')} = ${n_embd} is not a multiple of ${key('attention.head_count')} = ${n_head}`, file, key('attention.head_count'));
  }
  const n_ctx_train = int('context_length', 1, MAX_COUNT);
  // llama.cpp asserts 0 < n_layer <= LLAMA_MAX_LAYERS; a model with no layers has nothing to run
  const n_layer = int('block_count', 1, MAX_LAYERS);
  // llama.cpp reads head_count_kv as one number or one per layer (0: no attention in that layer, a recurrent one)
  const kvRaw = get(key('attention.head_count_kv'));
  const kvArr = Array.isArray(kvRaw) || ArrayBuffer.isView(kvRaw) ? md.ints(key('attention.head_count_kv'), 0, n_head) : undefined;
  if (kvArr && kvArr.length !== n_layer) {
    throw new ModelError(`${key('attention.head_count_kv')} has ${kvArr.length} entries for ${n_layer} layers`, file, key('attention.head_count_kv'));
  }
  // the attention layers' count: the first non-zero entry (llama.cpp's models give them all the same)
  const n_head_kv = kvArr ? (kvArr.find((x) => x > 0) ?? n_head) : int('attention.head_count_kv', 1, n_head, n_head);
  const n_head_kv_arr = kvArr ?? new Array<number>(n_layer).fill(n_head_kv);
  for (const h of new Set([n_head_kv, ...n_head_kv_arr.filter((x) => x !== 0)])) {
    if (n_head % h !== 0) {
      throw new ModelError(`${key('attention.head_count')} = ${n_head} is not a multiple of head_count_kv = ${h}`, file, key('attention.head_count_kv'));
    }
  }
  const n_embd_head_k = int('attention.key_length', 1, MAX_WIDTH, Math.floor(n_embd / n_head));
  const n_embd_head_v = int('attention.value_length', 1, MAX_WIDTH, Math.floor(n_embd / n_head));
  const recurrentLayers = md.ints(key('attention.recurrent_layers'), 0, 1);
  if (recurrentLayers && recurrentLayers.length < n_layer) {
    throw new ModelError(`${key('attention.recurrent_layers')} has ${recurrentLayers.length} entries for ${n_layer} layers`, file, key('attention.recurrent_layers'));
  }
  const n_rot = int('rope.dimension_count', 0, n_embd_head_k, n_embd_head_k);
  if (n_rot % 2 !== 0) md.fail(key('rope.dimension_count'), n_rot, `an even number (rope turns pairs of values), at most ${n_embd_head_k}`);
  const fileVocab = get(key('vocab_size'));
  if (fileVocab !== undefined && Number(fileVocab) !== nVocab) {
    warn(`${key('vocab_size')} = ${shown(fileVocab)} differs from the tokenizer's ${nVocab} tokens; using ${nVocab}, as llama.cpp does`);
  }
  const scalingName = md.str(key('rope.scaling.type'));
  let rope_scaling_type: RopeScalingType = 'none';
  if (scalingName === 'linear' || scalingName === 'yarn') rope_scaling_type = scalingName;
  else if (scalingName !== undefined && scalingName !== 'none') {
    throw new ModelError(`unsupported ${key('rope.scaling.type')} ${shown(scalingName)} (none, linear, yarn)`, file, key('rope.scaling.type'));
  }
  // llama.cpp: rope.scaling.factor, else the older rope.scale_linear; 0 means none
  const scaleLinear = flt('rope.scale_linear', 0, 0);
  const factor = flt('rope.scaling.factor', scaleLinear, 0);
  const rope_freq_scale = factor && rope_scaling_type !== 'none' ? 1 / factor : 1;
  if (factor && scalingName === undefined && scaleLinear) rope_scaling_type = 'linear';

  const finetuned = md.bool(key('rope.scaling.finetuned'));
  const n_expert = int('expert_count', 0, MAX_EXPERTS, 0);
  const n_expert_used = int('expert_used_count', 0, MAX_EXPERTS, 0);
  // llama.cpp asserts these at load; a router choosing none or more than it has cannot run
  if (n_expert > 0 && !(n_expert_used >= 1 && n_expert_used <= n_expert)) {
    throw new ModelError(`${key('expert_used_count')} = ${n_expert_used} must be 1..${key('expert_count')} = ${n_expert}`, file, key('expert_used_count'));
  }
  // an array is a per-layer pattern llama.cpp reads as such; we keep its default then
  const swaPattern = get(key('attention.sliding_window_pattern'));
  const n_swa_pattern = Array.isArray(swaPattern) || ArrayBuffer.isView(swaPattern) ? 0 : int('attention.sliding_window_pattern', 0, MAX_LAYERS, 0);
  // deepseek2's converter writes 0.1 * mscale_all_dim, which llama.cpp's loader divides back out
  const deepseek2 = arch === 'deepseek2';
  const yarnLogMul = deepseek2 ? Math.fround(Math.fround(flt('rope.scaling.yarn_log_multiplier', 0)) / Math.fround(0.1)) : flt('rope.scaling.yarn_log_multiplier', 0);
  // one count or one per position component
  const sections = get(key('rope.dimension_sections'));
  const rope_sections = sections === undefined ? []
    : Array.isArray(sections) || ArrayBuffer.isView(sections) ? md.ints(key('rope.dimension_sections'), 0, MAX_WIDTH)!
      : [int('rope.dimension_sections', 0, MAX_WIDTH)];
  return {
    arch,
    n_vocab: nVocab,
    n_ctx_train,
    n_embd,
    n_layer,
    n_ff: int('feed_forward_length', 0, MAX_COUNT, 0),
    n_head,
    n_head_kv,
    n_embd_head_k,
    n_embd_head_v,
    n_rot,
    f_norm_rms_eps: flt('attention.layer_norm_rms_epsilon', 1e-5, 0),
    f_norm_eps: flt('attention.layer_norm_epsilon', 1e-5, 0),
    rope_freq_base: flt('rope.freq_base', 10000, 0),
    rope_scaling_type,
    rope_freq_scale: scalingName === undefined && scaleLinear ? 1 / scaleLinear : rope_freq_scale,
    n_ctx_orig_yarn: int('rope.scaling.original_context_length', 0, MAX_COUNT, n_ctx_train),
    // llama.cpp's context default: ext_factor 1 for yarn, 0 otherwise
    yarn_ext_factor: rope_scaling_type === 'yarn' ? 1 : 0,
    // times rope.scaling.attn_factor, as llama.cpp folds it in for every architecture (phi3 longrope writes it)
    yarn_attn_factor: yarnAttnFactor(rope_scaling_type, factor, yarnLogMul, flt('rope.scaling.yarn_attn_factor', 1), deepseek2) * flt('rope.scaling.attn_factor', 1),
    yarn_beta_fast: flt('rope.scaling.yarn_beta_fast', 32),
    yarn_beta_slow: flt('rope.scaling.yarn_beta_slow', 1),
    rope_yarn_log_mul: yarnLogMul,
    f_attn_temp_scale: flt('attention.temperature_scale', 0),
    n_expert,
    n_expert_used,
    n_ff_exp: int('expert_feed_forward_length', 0, MAX_COUNT, 0),
    n_ff_shexp: int('expert_shared_feed_forward_length', 0, MAX_COUNT, 0),
    n_layer_dense_lead: int('leading_dense_block_count', 0, n_layer, 0),
    n_moe_layer_step: int('interleave_moe_layer_step', 0, n_layer, 0),
    n_expert_shared: int('expert_shared_count', 0, MAX_EXPERTS, 0),
    expert_weights_scale: flt('expert_weights_scale', 0),
    expert_weights_norm: md.bool(key('expert_weights_norm')) ?? false,
    expert_gating_func: int('expert_gating_func', 0, 4, 0),
    n_lora_q: int('attention.q_lora_rank', 0, MAX_WIDTH, 0),
    n_lora_kv: int('attention.kv_lora_rank', 0, MAX_WIDTH, 0),
    n_embd_head_k_mla: int('attention.key_length_mla', 0, MAX_WIDTH, 0),
    n_embd_head_v_mla: int('attention.value_length_mla', 0, MAX_WIDTH, 0),
    n_attn_temp_floor_scale: int('attention.temperature_length', 0, MAX_COUNT, 0),
    n_layer_nextn: int('nextn_predict_layers', 0, n_layer, 0),
    rope_sections,
    n_token_types: md.int('tokenizer.ggml.token_type_count', 0, MAX_WIDTH, 2),
    f_logit_scale: flt('logit_scale', 0),
    f_residual_scale: flt('residual_scale', 0),
    f_embedding_scale: flt('embedding_scale', 0),
    f_attention_scale: flt('attention.scale', 0),
    n_swa: int('attention.sliding_window', 0, MAX_COUNT, 0),
    has_swa_key: get(key('attention.sliding_window')) !== undefined,
    n_swa_pattern,
    rope_freq_base_swa: flt('rope.freq_base_swa', 0, 0),
    f_attn_logit_softcapping: flt('attn_logit_softcapping', 0),
    f_final_logit_softcapping: flt('final_logit_softcapping', 0),
    rope_finetuned: finetuned,
    use_par_res: md.bool(key('use_parallel_residual')) ?? false,
    pooling_type: int('pooling_type', 0, 4, 0),
    causal_attn: md.bool(key('attention.causal')) ?? true,
    n_cls_out: classifierOutputs(get(key('classifier.output_labels')), file, key('classifier.output_labels')),
    n_head_kv_arr,
    // the recurrent layers' sizes: bounded here, checked against each other by the architecture (arch/recurrent.ts, qwen3next.ts)
    n_shortconv_l_cache: int('shortconv.l_cache', 0, MAX_WIDTH, 0),
    ssm_d_conv: int('ssm.conv_kernel', 0, MAX_WIDTH, 0),
    ssm_d_inner: int('ssm.inner_size', 0, MAX_WIDTH, 0),
    ssm_d_state: int('ssm.state_size', 0, MAX_WIDTH, 0),
    ssm_dt_rank: int('ssm.time_step_rank', 0, MAX_WIDTH, 0),
    ssm_n_group: int('ssm.group_count', 0, MAX_WIDTH, 0),
    full_attention_interval: int('full_attention_interval', 0, MAX_LAYERS, 0),
    ...(recurrentLayers ? { recurrent_layers: recurrentLayers.map((x) => x !== 0) } : {}),
  };
}

/**
 * Multi-head latent attention with its compressed cache (llama.cpp's
 * is_mla()): the file gives the decompressed head sizes, and each token's
 * cache row is key_length = kv_lora_rank + n_rot wide, with V read from it.
 */
export function isMla(hp: HParams): boolean {
  return hp.n_embd_head_k_mla > 0 && hp.n_embd_head_v_mla > 0;
}
