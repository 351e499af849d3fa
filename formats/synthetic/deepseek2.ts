// Random-weight "deepseek2" GGUF files (multi-head latent attention) with
// the tensor names and metadata keys of llama.cpp's current converter: the
// split attn_k_b / attn_v_b, key_length = kv_lora_rank + n_rot and
// value_length = kv_lora_rank with one kv head, key_length_mla /
// value_length_mla for the decompressed heads, leading dense layers, routed
// experts with shared experts, and yarn written as DeepSeek's converter
// writes it (yarn_log_multiplier = 0.1 * mscale_all_dim).
import { GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { fileTypeFor, RandomTensors, type SyntheticOptions } from './tensors.js';
import { bpeVocabKV } from './vocab-bpe.js';

export interface Deepseek2Shape {
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  /** attention.q_lora_rank; 0: a plain attn_q (DeepSeek-V2-Lite). */
  q_lora_rank: number;
  kv_lora_rank: number;
  /** qk_nope_head_dim, qk_rope_head_dim (rope.dimension_count), v_head_dim. */
  nope: number;
  n_rot: number;
  v_head: number;
  /** The dense layers' FFN width and how many lead. */
  n_ff: number;
  dense_lead: number;
  n_expert: number;
  n_expert_used: number;
  n_expert_shared: number;
  n_ff_exp: number;
  /** expert_gating_func: 1 softmax, 2 sigmoid. */
  gating: 1 | 2;
  weights_norm: boolean;
  weights_scale: number;
  /** Standard deviation of exp_probs_b (0: none written). */
  selectionBias: number;
  routerSigma?: number;
  n_ctx_train: number;
  rope_freq_base: number;
  /** YaRN as DeepSeek's config has it: factor, original context, mscale_all_dim. */
  yarn?: { factor: number; n_ctx_orig: number; mscale_all_dim: number };
  /** tokenizer.ggml.pre. */
  pre: string;
  tied?: boolean;
}

export const DEEPSEEK2_SHAPES: Readonly<Record<string, Deepseek2Shape>> = {
  // DeepSeek-V2-Lite's layout: no q_lora, one dense layer, softmax routing
  // over 64 (here 8) experts, 6 (here 2) used, 2 (here 1) shared; yarn 40x
  // with mscale_all_dim 0.707. Heads scaled down from kv_lora 512, nope 128,
  // rope 64, v 128. kv_lora_rank and v_head are not multiples of 32: on a CPU
  // with AMX, llama.cpp would otherwise put attn_k_b in its AMX buffer, whose
  // matmul refuses the strided q_nope, and abort (GGML_ASSERT in the
  // scheduler) before the first token.
  'test-deepseek2': {
    n_vocab: 512, n_embd: 256, n_layer: 3, n_head: 4, q_lora_rank: 0, kv_lora_rank: 240, nope: 64, n_rot: 32, v_head: 48,
    n_ff: 512, dense_lead: 1, n_expert: 8, n_expert_used: 2, n_expert_shared: 1, n_ff_exp: 256,
    gating: 1, weights_norm: false, weights_scale: 1, selectionBias: 0, routerSigma: 2,
    n_ctx_train: 163840, rope_freq_base: 10000, yarn: { factor: 40, n_ctx_orig: 4096, mscale_all_dim: 0.707 }, pre: 'deepseek-llm',
  },
  // GLM-4.7-Flash's layout: q through q_lora, sigmoid routing with the
  // exp_probs_b selection bias, weights renormalised and scaled (1.8), no yarn
  'test-deepseek2-glm': {
    n_vocab: 512, n_embd: 256, n_layer: 3, n_head: 4, q_lora_rank: 128, kv_lora_rank: 240, nope: 64, n_rot: 32, v_head: 48,
    n_ff: 512, dense_lead: 1, n_expert: 8, n_expert_used: 2, n_expert_shared: 1, n_ff_exp: 256,
    gating: 2, weights_norm: true, weights_scale: 1.8, selectionBias: 0.2, routerSigma: 4,
    n_ctx_train: 202752, rope_freq_base: 1000000, pre: 'glm4',
  },
};

export function deepseek2ModelSpec(s: Deepseek2Shape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = 'deepseek2';
  const u32 = GGUFValueType.UINT32;
  const f32 = GGUFValueType.FLOAT32;
  const kMla = s.nope + s.n_rot;
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: `synthetic deepseek2 ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.vocab_size`, value: s.n_vocab, type: u32 },
    { key: `${arch}.context_length`, value: s.n_ctx_train, type: u32 },
    { key: `${arch}.embedding_length`, value: s.n_embd, type: u32 },
    { key: `${arch}.block_count`, value: s.n_layer, type: u32 },
    { key: `${arch}.feed_forward_length`, value: s.n_ff, type: u32 },
    { key: `${arch}.attention.head_count`, value: s.n_head, type: u32 },
    // MLA as MQA over the latent: one kv head of kv_lora_rank + n_rot
    { key: `${arch}.attention.head_count_kv`, value: 1, type: u32 },
    { key: `${arch}.rope.freq_base`, value: s.rope_freq_base, type: f32 },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, value: 1e-6, type: f32 },
    { key: `${arch}.leading_dense_block_count`, value: s.dense_lead, type: u32 },
    // llama.cpp reads q_lora_rank for every file whose layer count is not a "lite" one
    { key: `${arch}.attention.q_lora_rank`, value: s.q_lora_rank, type: u32 },
    { key: `${arch}.attention.kv_lora_rank`, value: s.kv_lora_rank, type: u32 },
    { key: `${arch}.attention.key_length`, value: s.kv_lora_rank + s.n_rot, type: u32 },
    { key: `${arch}.attention.value_length`, value: s.kv_lora_rank, type: u32 },
    { key: `${arch}.attention.key_length_mla`, value: kMla, type: u32 },
    { key: `${arch}.attention.value_length_mla`, value: s.v_head, type: u32 },
    { key: `${arch}.expert_feed_forward_length`, value: s.n_ff_exp, type: u32 },
    { key: `${arch}.expert_count`, value: s.n_expert, type: u32 },
    { key: `${arch}.expert_used_count`, value: s.n_expert_used, type: u32 },
    { key: `${arch}.expert_shared_count`, value: s.n_expert_shared, type: u32 },
    { key: `${arch}.expert_weights_scale`, value: s.weights_scale, type: f32 },
    { key: `${arch}.expert_gating_func`, value: s.gating, type: u32 },
    { key: `${arch}.rope.dimension_count`, value: s.n_rot, type: u32 },
  ];
  if (s.weights_norm) kv.push({ key: `${arch}.expert_weights_norm`, value: true, type: GGUFValueType.BOOL });
  if (s.yarn) {
    kv.push(
      { key: `${arch}.rope.scaling.type`, value: 'yarn' },
      { key: `${arch}.rope.scaling.factor`, value: s.yarn.factor, type: f32 },
      { key: `${arch}.rope.scaling.original_context_length`, value: s.yarn.n_ctx_orig, type: u32 },
      { key: `${arch}.rope.scaling.yarn_log_multiplier`, value: 0.1 * s.yarn.mscale_all_dim, type: f32 },
    );
  }
  kv.push(...bpeVocabKV(s.n_vocab, s.pre));
  if (options.extraKV) kv.push(...options.extraKV);

  const t = new RandomTensors(type, options);
  const proj = 1 / Math.sqrt(s.n_embd);
  const out = options.blockOutScale ?? 1;
  t.matrix('token_embd.weight', s.n_embd, s.n_vocab, 1);
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    t.vector(`${p}.attn_norm.weight`, s.n_embd, 1, 0.1);
    if (s.q_lora_rank > 0) {
      t.matrix(`${p}.attn_q_a.weight`, s.n_embd, s.q_lora_rank, proj);
      t.vector(`${p}.attn_q_a_norm.weight`, s.q_lora_rank, 1, 0.1);
      t.matrix(`${p}.attn_q_b.weight`, s.q_lora_rank, s.n_head * kMla, 1 / Math.sqrt(s.q_lora_rank));
    } else {
      t.matrix(`${p}.attn_q.weight`, s.n_embd, s.n_head * kMla, proj);
    }
    t.matrix(`${p}.attn_kv_a_mqa.weight`, s.n_embd, s.kv_lora_rank + s.n_rot, proj);
    t.vector(`${p}.attn_kv_a_norm.weight`, s.kv_lora_rank, 1, 0.1);
    // kv_b split per head: k_b [nope, kv_lora_rank, n_head] (transposed), v_b [kv_lora_rank, v_head, n_head]
    t.experts(`${p}.attn_k_b.weight`, s.nope, s.kv_lora_rank, s.n_head, 1 / Math.sqrt(s.nope));
    t.experts(`${p}.attn_v_b.weight`, s.kv_lora_rank, s.v_head, s.n_head, 1 / Math.sqrt(s.kv_lora_rank));
    t.matrix(`${p}.attn_output.weight`, s.n_head * s.v_head, s.n_embd, out / Math.sqrt(s.n_head * s.v_head));
    t.vector(`${p}.ffn_norm.weight`, s.n_embd, 1, 0.1);
    if (il < s.dense_lead) {
      t.ffn(p, s.n_embd, s.n_ff, out);
    } else {
      t.moe(p, s.n_embd, s.n_ff_exp, s.n_expert, out, s.routerSigma ?? 2, s.selectionBias);
      const nShared = s.n_ff_exp * s.n_expert_shared;
      t.ffn(p, s.n_embd, nShared, out, '_shexp');
    }
  }
  const logitStd = options.logitStd ?? 6;
  if (s.tied) {
    t.vector('output_norm.weight', s.n_embd, logitStd * proj, 0.1 * logitStd * proj);
  } else {
    t.vector('output_norm.weight', s.n_embd, 1, 0.1);
    t.matrix('output.weight', s.n_embd, s.n_vocab, logitStd * proj);
  }
  return { kv, tensors: t.tensors };
}
