// Random-weight "glm4moe" GGUF files (GLM-4.5 / 4.5-Air / 4.6) with the
// tensor names and metadata keys llama.cpp's loader reads: q/k/v with
// biases, per-head q/k norms, partial NEOX rope, post_attention_norm before
// the FFN, one leading dense layer, sigmoid-routed experts with the required
// exp_probs_b and a shared expert, and the trailing multi-token-prediction
// block (nextn_predict_layers) with its nextn.* tensors, which llama.cpp
// loads and never runs for the next token.
import { GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { fileTypeFor, RandomTensors, type SyntheticOptions } from './tensors.js';
import { bpeVocabKV } from './vocab-bpe.js';

export interface Glm4MoeShape {
  n_vocab: number;
  n_embd: number;
  /** Trunk layers (block_count adds the nextn ones). */
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  head_dim: number;
  /** rope.dimension_count (half the head in GLM-4.5). */
  n_rot: number;
  n_ff: number;
  dense_lead: number;
  n_expert: number;
  n_expert_used: number;
  n_expert_shared: number;
  n_ff_exp: number;
  weights_scale: number;
  selectionBias: number;
  routerSigma?: number;
  /** nextn_predict_layers (1 in the released files); 0 writes none. */
  nextn: number;
  qkNorm: boolean;
  n_ctx_train: number;
  rope_freq_base: number;
}

export const GLM4MOE_SHAPES: Readonly<Record<string, Glm4MoeShape>> = {
  // GLM-4.5-Air's layout scaled down: head 128 with rope on half of it, GQA
  // (96 heads over 8 there), one dense layer, sigmoid routing over 128 (here
  // 8) experts, 8 (here 2) used, renormalised and scaled by 2.5 (GLM-4.5's),
  // one shared expert, one nextn block; q/k norms as GLM-4.5 355B has them
  'test-glm4moe': {
    n_vocab: 512, n_embd: 256, n_layer: 3, n_head: 4, n_head_kv: 2, head_dim: 128, n_rot: 64,
    n_ff: 512, dense_lead: 1, n_expert: 8, n_expert_used: 2, n_expert_shared: 1, n_ff_exp: 256,
    weights_scale: 2.5, selectionBias: 0.2, routerSigma: 2, nextn: 1, qkNorm: true,
    n_ctx_train: 131072, rope_freq_base: 1000000,
  },
};

export function glm4moeModelSpec(s: Glm4MoeShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = 'glm4moe';
  const u32 = GGUFValueType.UINT32;
  const f32 = GGUFValueType.FLOAT32;
  const nBlocks = s.n_layer + s.nextn;
  const nQ = s.n_head * s.head_dim;
  const nKv = s.n_head_kv * s.head_dim;
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: `synthetic glm4moe ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.vocab_size`, value: s.n_vocab, type: u32 },
    { key: `${arch}.context_length`, value: s.n_ctx_train, type: u32 },
    { key: `${arch}.embedding_length`, value: s.n_embd, type: u32 },
    { key: `${arch}.block_count`, value: nBlocks, type: u32 },
    { key: `${arch}.feed_forward_length`, value: s.n_ff, type: u32 },
    { key: `${arch}.attention.head_count`, value: s.n_head, type: u32 },
    { key: `${arch}.attention.head_count_kv`, value: s.n_head_kv, type: u32 },
    { key: `${arch}.attention.key_length`, value: s.head_dim, type: u32 },
    { key: `${arch}.attention.value_length`, value: s.head_dim, type: u32 },
    { key: `${arch}.rope.dimension_count`, value: s.n_rot, type: u32 },
    { key: `${arch}.rope.freq_base`, value: s.rope_freq_base, type: f32 },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, value: 1e-5, type: f32 },
    { key: `${arch}.leading_dense_block_count`, value: s.dense_lead, type: u32 },
    { key: `${arch}.expert_feed_forward_length`, value: s.n_ff_exp, type: u32 },
    { key: `${arch}.expert_count`, value: s.n_expert, type: u32 },
    { key: `${arch}.expert_used_count`, value: s.n_expert_used, type: u32 },
    { key: `${arch}.expert_shared_count`, value: s.n_expert_shared, type: u32 },
    { key: `${arch}.expert_weights_scale`, value: s.weights_scale, type: f32 },
    { key: `${arch}.expert_weights_norm`, value: true, type: GGUFValueType.BOOL },
    // sigmoid, as GLM-4.5's converter writes it
    { key: `${arch}.expert_gating_func`, value: 2, type: u32 },
  ];
  if (s.nextn > 0) kv.push({ key: `${arch}.nextn_predict_layers`, value: s.nextn, type: u32 });
  kv.push(...bpeVocabKV(s.n_vocab, 'glm4'));
  if (options.extraKV) kv.push(...options.extraKV);

  const t = new RandomTensors(type, options);
  const proj = 1 / Math.sqrt(s.n_embd);
  const out = options.blockOutScale ?? 1;
  t.matrix('token_embd.weight', s.n_embd, s.n_vocab, 1);
  for (let il = 0; il < nBlocks; il++) {
    const p = `blk.${il}`;
    t.vector(`${p}.attn_norm.weight`, s.n_embd, 1, 0.1);
    t.matrix(`${p}.attn_q.weight`, s.n_embd, nQ, proj);
    t.matrix(`${p}.attn_k.weight`, s.n_embd, nKv, proj);
    t.matrix(`${p}.attn_v.weight`, s.n_embd, nKv, proj);
    t.vector(`${p}.attn_q.bias`, nQ, 0, 0.3);
    t.vector(`${p}.attn_k.bias`, nKv, 0, 0.3);
    t.vector(`${p}.attn_v.bias`, nKv, 0, 0.3);
    if (s.qkNorm) {
      t.vector(`${p}.attn_q_norm.weight`, s.head_dim, 1, 0.1);
      t.vector(`${p}.attn_k_norm.weight`, s.head_dim, 1, 0.1);
    }
    t.matrix(`${p}.attn_output.weight`, nQ, s.n_embd, out / Math.sqrt(nQ));
    t.vector(`${p}.post_attention_norm.weight`, s.n_embd, 1, 0.1);
    if (il < s.dense_lead) {
      t.ffn(p, s.n_embd, s.n_ff, out);
    } else {
      t.moe(p, s.n_embd, s.n_ff_exp, s.n_expert, out, s.routerSigma ?? 2, s.selectionBias);
      if (s.n_expert_shared > 0) {
        const n = s.n_ff_exp * s.n_expert_shared;
        t.ffn(p, s.n_embd, n, out, '_shexp');
      }
    }
    if (il >= s.n_layer) {
      t.matrix(`${p}.nextn.eh_proj.weight`, 2 * s.n_embd, s.n_embd, 1 / Math.sqrt(2 * s.n_embd));
      t.vector(`${p}.nextn.enorm.weight`, s.n_embd, 1, 0.1);
      t.vector(`${p}.nextn.hnorm.weight`, s.n_embd, 1, 0.1);
      t.vector(`${p}.nextn.shared_head_norm.weight`, s.n_embd, 1, 0.1);
    }
  }
  t.vector('output_norm.weight', s.n_embd, 1, 0.1);
  t.matrix('output.weight', s.n_embd, s.n_vocab, (options.logitStd ?? 6) * proj);
  return { kv, tensors: t.tensors };
}
