// Random-weight mixture-of-experts GGUF files: Mixtral (a "llama" file with
// experts), qwen2moe (plus a gated shared expert), qwen3moe (QK norm) and
// granitemoe (Granite's multipliers, optionally a shared expert), with every
// tensor llama.cpp expects. Expert FFN weights are 3-D tensors [n_in, n_out,
// n_expert], one matrix per expert, quantized row by row like any matrix.
import { GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { fileTypeFor, RandomTensors, type SyntheticOptions } from './tensors.js';
import { spmVocabKV } from './vocab.js';

export type MoeArch = 'mixtral' | 'qwen2moe' | 'qwen3moe' | 'granitemoe';

export interface MoeShape {
  arch: MoeArch;
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  /** Size of each head when it is not n_embd / n_head (Qwen3-MoE: 128 with n_embd 2048, 32 heads). */
  head_dim?: number;
  /** Width of each expert's FFN (n_ff_exp). */
  n_ff_exp: number;
  n_expert: number;
  n_expert_used: number;
  /** Width of the shared expert (qwen2moe always has one; granitemoe when > 0). */
  n_ff_shexp?: number;
  n_ctx_train: number;
  rope_freq_base?: number;
  /** Granite's multipliers. */
  granite?: { embeddingScale: number; residualScale: number; attentionScale: number; logitScale: number };
  /** Standard deviation of the router's weights (spread of the router logits). */
  routerSigma?: number;
}

/** Scaled-down shapes after real models' proportions (experts, experts used, shared expert). */
export const MOE_SHAPES: Readonly<Record<string, MoeShape>> = {
  // Mixtral 8x7B: 8 experts, 2 per token
  'mixtral-tiny': { arch: 'mixtral', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff_exp: 512, n_expert: 8, n_expert_used: 2, n_ctx_train: 512 },
  // Qwen1.5-MoE-A2.7B: 60 experts, 4 per token, a shared expert 4x an expert's width
  'qwen2moe-tiny': { arch: 'qwen2moe', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 4, n_ff_exp: 256, n_expert: 12, n_expert_used: 4, n_ff_shexp: 512, n_ctx_train: 512, rope_freq_base: 1000000 },
  // Qwen3-30B-A3B: 128 experts, 8 per token, GQA, QK norm
  'qwen3moe-tiny': { arch: 'qwen3moe', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff_exp: 256, n_expert: 16, n_expert_used: 4, n_ctx_train: 512, rope_freq_base: 1000000 },
  // Granite 3.0 1B-A400M: 32 experts, 8 per token, Granite's multipliers
  'granitemoe-tiny': {
    arch: 'granitemoe', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff_exp: 256, n_expert: 8, n_expert_used: 4, n_ctx_train: 512,
    granite: { embeddingScale: 12, residualScale: 0.22, attentionScale: 0.015625, logitScale: 6 },
  },
};

/**
 * Real models at full size, for benchmarks only (`--synthetic`): kept apart
 * from MOE_SHAPES, which tests iterate.
 */
export const MOE_BENCH_SHAPES: Readonly<Record<string, MoeShape>> = {
  // Qwen3-30B-A3B: an 18 GB Q4_K_M file, 3B parameters active per token
  'qwen3-30b-a3b': { arch: 'qwen3moe', n_vocab: 151936, n_embd: 2048, n_layer: 48, n_head: 32, n_head_kv: 4, head_dim: 128, n_ff_exp: 768, n_expert: 128, n_expert_used: 8, n_ctx_train: 40960, rope_freq_base: 1000000 },
};

/** Granite 3.0's multipliers. */
const GRANITE_DEFAULT = { embeddingScale: 12, residualScale: 0.22, attentionScale: 0.015625, logitScale: 6 };

/** The write spec of a random MoE model whose matrices are `type` (norms and routers stay F32, as llama.cpp leaves them). */
export function moeModelSpec(s: MoeShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = s.arch === 'mixtral' ? 'llama' : s.arch;
  const headDim = s.head_dim ?? s.n_embd / s.n_head;
  const nEmbdQ = headDim * s.n_head;
  const nEmbdKv = headDim * s.n_head_kv;
  const nShexp = s.arch === 'qwen2moe' ? s.n_ff_shexp ?? 4 * s.n_ff_exp : s.n_ff_shexp ?? 0;
  const u32 = GGUFValueType.UINT32;
  const f32 = GGUFValueType.FLOAT32;
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: `synthetic ${s.arch} ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.vocab_size`, value: s.n_vocab },
    { key: `${arch}.context_length`, value: s.n_ctx_train },
    { key: `${arch}.embedding_length`, value: s.n_embd },
    { key: `${arch}.block_count`, value: s.n_layer },
    { key: `${arch}.feed_forward_length`, value: s.arch === 'qwen2moe' ? nShexp : s.n_ff_exp },
    { key: `${arch}.expert_count`, value: s.n_expert, type: u32 },
    { key: `${arch}.expert_used_count`, value: s.n_expert_used, type: u32 },
    { key: `${arch}.attention.head_count`, value: s.n_head },
    { key: `${arch}.attention.head_count_kv`, value: s.n_head_kv },
    { key: `${arch}.rope.dimension_count`, value: headDim },
    { key: `${arch}.rope.freq_base`, value: s.rope_freq_base ?? 10000, type: f32 },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, value: 1e-6, type: f32 },
  ];
  if (s.head_dim !== undefined) {
    kv.push({ key: `${arch}.attention.key_length`, value: headDim, type: u32 }, { key: `${arch}.attention.value_length`, value: headDim, type: u32 });
  }
  if (s.arch === 'qwen2moe' || s.arch === 'qwen3moe') kv.push({ key: `${arch}.expert_feed_forward_length`, value: s.n_ff_exp, type: u32 });
  if (nShexp) kv.push({ key: `${arch}.expert_shared_feed_forward_length`, value: nShexp, type: u32 });
  if (s.arch === 'granitemoe') {
    const g = s.granite ?? GRANITE_DEFAULT;
    kv.push(
      { key: `${arch}.embedding_scale`, value: g.embeddingScale, type: f32 },
      { key: `${arch}.residual_scale`, value: g.residualScale, type: f32 },
      { key: `${arch}.attention.scale`, value: g.attentionScale, type: f32 },
      { key: `${arch}.logit_scale`, value: g.logitScale, type: f32 },
    );
  }
  kv.push(...spmVocabKV(s.n_vocab));
  if (options.extraKV) kv.push(...options.extraKV);

  const t = new RandomTensors(type, options);
  const matrix = t.matrix.bind(t);
  const vector = t.vector.bind(t);
  const proj = 1 / Math.sqrt(s.n_embd);
  const outScale = options.blockOutScale ?? 1;
  // Granite multiplies the embeddings, the residual branches and the logits
  // by its scales; the random weights undo them so the stream keeps its size.
  const g = s.arch === 'granitemoe' ? s.granite ?? GRANITE_DEFAULT : undefined;
  matrix('token_embd.weight', s.n_embd, s.n_vocab, g ? 1 / g.embeddingScale : 1);
  const branch = g ? outScale / g.residualScale : outScale;
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    vector(`${p}.attn_norm.weight`, s.n_embd, 1, 0.1);
    matrix(`${p}.attn_q.weight`, s.n_embd, nEmbdQ, proj);
    matrix(`${p}.attn_k.weight`, s.n_embd, nEmbdKv, proj);
    matrix(`${p}.attn_v.weight`, s.n_embd, nEmbdKv, proj);
    if (s.arch === 'qwen2moe') {
      vector(`${p}.attn_q.bias`, nEmbdQ, 0, 0.5);
      vector(`${p}.attn_k.bias`, nEmbdKv, 0, 0.5);
      vector(`${p}.attn_v.bias`, nEmbdKv, 0, 0.5);
    }
    if (s.arch === 'qwen3moe') {
      vector(`${p}.attn_q_norm.weight`, headDim, 1, 0.2);
      vector(`${p}.attn_k_norm.weight`, headDim, 1, 0.2);
    }
    matrix(`${p}.attn_output.weight`, nEmbdQ, s.n_embd, proj * branch);
    vector(`${p}.ffn_norm.weight`, s.n_embd, 1, 0.1);
    t.moe(p, s.n_embd, s.n_ff_exp, s.n_expert, branch, s.routerSigma ?? 2);
    if (nShexp) {
      if (s.arch === 'qwen2moe') t.f32(`${p}.ffn_gate_inp_shexp.weight`, [s.n_embd], (rand) => new Float32Array(s.n_embd).map(() => (rand() * 2 - 1) * 2 * proj));
      t.ffn(p, s.n_embd, nShexp, branch, '_shexp');
    }
  }
  vector('output_norm.weight', s.n_embd, 1, 0.1);
  matrix('output.weight', s.n_embd, s.n_vocab, (options.logitStd ?? 6) * proj * (g ? g.logitScale : 1));
  return { kv, tensors: t.tensors };
}
