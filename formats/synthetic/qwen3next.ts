// Random-weight Qwen3-Next GGUF files, with the tensors and metadata keys
// llama.cpp's LLM_ARCH_QWEN3NEXT loader reads ("qwen3next.*", the ssm.* keys,
// full_attention_interval, a byte-level BPE vocabulary with the qwen2
// pre-tokenizer): gated delta net layers (attn_qkv, attn_gate, ssm_conv1d,
// ssm_dt bias, ssm_a, ssm_ba, ssm_norm, ssm_out) and gated attention layers
// (attn_q of q and gate, per-head q/k norms), each with post_attention_norm,
// routed experts and a sigmoid-gated shared expert. Routers, norms and the
// small SSM tensors stay F32.
import { GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { gaussianArray } from './random.js';
import { fileTypeFor, RandomTensors, type SyntheticOptions } from './tensors.js';
import { bpeVocabKV } from './vocab-bpe.js';

export interface Qwen3NextShape {
  /** general.architecture: qwen3next (fused ssm_ba, experts), qwen35 (ssm_beta/ssm_alpha, dense FFN, M-RoPE sections) or qwen35moe. Default qwen3next. */
  arch?: 'qwen3next' | 'qwen35' | 'qwen35moe';
  /** rope.dimension_sections (qwen35, qwen35moe). */
  rope_sections?: readonly number[];
  /** feed_forward_length of the dense FFN (qwen35). */
  n_ff?: number;
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  /** Every n-th layer is full attention. */
  full_attention_interval: number;
  n_head: number;
  n_head_kv: number;
  head_dim: number;
  /** rope.dimension_count (Qwen3-Next ropes a quarter of each head). */
  n_rot: number;
  rope_freq_base: number;
  n_ctx_train: number;
  /** Gated delta net: head size (ssm.state_size), key heads (ssm.group_count), value heads (ssm.time_step_rank), ssm.conv_kernel. */
  S: number;
  n_k_head: number;
  n_v_head: number;
  d_conv: number;
  n_expert: number;
  n_expert_used: number;
  n_ff_exp: number;
  n_ff_shexp: number;
}

/**
 * Qwen3-Next-80B-A3B's layout (3 linear layers to 1 attention layer,
 * partial rope, twice as many value heads as key heads, 512 experts of
 * which 10 per token, a shared expert) in four layers at test size: linear,
 * linear, attention, linear (interval 3, so a linear layer follows attention).
 */
export const QWEN3NEXT_SHAPES: Readonly<Record<string, Qwen3NextShape>> = {
  'test-qwen3next': {
    n_vocab: 512, n_embd: 256, n_layer: 4, full_attention_interval: 3, n_head: 4, n_head_kv: 2, head_dim: 64, n_rot: 32,
    rope_freq_base: 10000, n_ctx_train: 262144, S: 64, n_k_head: 2, n_v_head: 4, d_conv: 4,
    n_expert: 8, n_expert_used: 2, n_ff_exp: 256, n_ff_shexp: 256,
  },
  // Qwen3.5's dense layout (0.8B-27B): the same stack with a SwiGLU FFN, M-RoPE sections covering n_rot
  'test-qwen35': {
    arch: 'qwen35', rope_sections: [6, 5, 5, 0], n_ff: 512,
    n_vocab: 512, n_embd: 256, n_layer: 4, full_attention_interval: 3, n_head: 4, n_head_kv: 2, head_dim: 64, n_rot: 32,
    rope_freq_base: 10000, n_ctx_train: 262144, S: 64, n_k_head: 2, n_v_head: 4, d_conv: 4,
    n_expert: 0, n_expert_used: 0, n_ff_exp: 0, n_ff_shexp: 0,
  },
  'test-qwen35moe': {
    arch: 'qwen35moe', rope_sections: [6, 5, 5, 0],
    n_vocab: 512, n_embd: 256, n_layer: 4, full_attention_interval: 3, n_head: 4, n_head_kv: 2, head_dim: 64, n_rot: 32,
    rope_freq_base: 10000, n_ctx_train: 262144, S: 64, n_k_head: 2, n_v_head: 4, d_conv: 4,
    n_expert: 8, n_expert_used: 2, n_ff_exp: 256, n_ff_shexp: 256,
  },
};

export function qwen3nextModelSpec(s: Qwen3NextShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = s.arch ?? 'qwen3next';
  const moe = arch !== 'qwen35';
  const u32 = GGUFValueType.UINT32;
  const f32 = GGUFValueType.FLOAT32;
  const n = s.n_embd;
  const keyDim = s.S * s.n_k_head;
  const valueDim = s.S * s.n_v_head;
  const convDim = 2 * keyDim + valueDim;
  const nQ = s.n_head * s.head_dim;
  const nKv = s.n_head_kv * s.head_dim;
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: `synthetic ${arch} ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.context_length`, value: s.n_ctx_train, type: u32 },
    { key: `${arch}.embedding_length`, value: n, type: u32 },
    { key: `${arch}.block_count`, value: s.n_layer, type: u32 },
    { key: `${arch}.feed_forward_length`, value: moe ? s.n_ff_exp : s.n_ff!, type: u32 },
    { key: `${arch}.attention.head_count`, value: s.n_head, type: u32 },
    { key: `${arch}.attention.head_count_kv`, value: s.n_head_kv, type: u32 },
    { key: `${arch}.attention.key_length`, value: s.head_dim, type: u32 },
    { key: `${arch}.attention.value_length`, value: s.head_dim, type: u32 },
    { key: `${arch}.rope.dimension_count`, value: s.n_rot, type: u32 },
    { key: `${arch}.rope.freq_base`, value: s.rope_freq_base, type: f32 },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, value: 1e-6, type: f32 },
    ...(moe ? [
      { key: `${arch}.expert_count`, value: s.n_expert, type: u32 },
      { key: `${arch}.expert_used_count`, value: s.n_expert_used, type: u32 },
      { key: `${arch}.expert_feed_forward_length`, value: s.n_ff_exp, type: u32 },
      { key: `${arch}.expert_shared_feed_forward_length`, value: s.n_ff_shexp, type: u32 },
    ] : []),
    ...(s.rope_sections ? [{ key: `${arch}.rope.dimension_sections`, value: [...s.rope_sections], elementType: GGUFValueType.INT32 }] : []),
    { key: `${arch}.ssm.conv_kernel`, value: s.d_conv, type: u32 },
    { key: `${arch}.ssm.inner_size`, value: valueDim, type: u32 },
    { key: `${arch}.ssm.state_size`, value: s.S, type: u32 },
    { key: `${arch}.ssm.time_step_rank`, value: s.n_v_head, type: u32 },
    { key: `${arch}.ssm.group_count`, value: s.n_k_head, type: u32 },
    { key: `${arch}.full_attention_interval`, value: s.full_attention_interval, type: u32 },
  ];
  kv.push(...bpeVocabKV(s.n_vocab, arch === 'qwen3next' ? 'qwen2' : 'qwen35'));
  if (options.extraKV) kv.push(...options.extraKV);

  const t = new RandomTensors(type, options);
  const proj = 1 / Math.sqrt(n);
  const outScale = options.blockOutScale ?? 1;
  const uniform = (rand: () => number, len: number, lo: number, hi: number) => new Float32Array(len).map(() => lo + rand() * (hi - lo));
  t.matrix('token_embd.weight', n, s.n_vocab, 1);
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    t.vector(`${p}.attn_norm.weight`, n, 1, 0.1);
    t.vector(`${p}.post_attention_norm.weight`, n, 1, 0.1);
    if ((il + 1) % s.full_attention_interval !== 0) {
      t.matrix(`${p}.attn_qkv.weight`, n, convDim, proj);
      t.matrix(`${p}.attn_gate.weight`, n, valueDim, proj);
      t.f32(`${p}.ssm_conv1d.weight`, [s.d_conv, convDim], (rand) => uniform(rand, s.d_conv * convDim, -0.6, 0.6));
      // softplus(a + bias) from about 0.05 to 2, times -A: some heads forget fast, some remember
      t.f32(`${p}.ssm_dt.bias`, [s.n_v_head], (rand) => uniform(rand, s.n_v_head, -3, 1));
      t.f32(`${p}.ssm_a`, [s.n_v_head], (rand) => uniform(rand, s.n_v_head, Math.log(0.05), Math.log(2)).map((v) => -Math.exp(v)));
      if (arch === 'qwen3next') t.matrix(`${p}.ssm_ba.weight`, n, 2 * s.n_v_head, proj);
      else {
        t.matrix(`${p}.ssm_beta.weight`, n, s.n_v_head, proj);
        t.matrix(`${p}.ssm_alpha.weight`, n, s.n_v_head, proj);
      }
      t.f32(`${p}.ssm_norm.weight`, [s.S], (rand) => gaussianArray(rand, s.S, 0.1).map((v) => 1 + v));
      t.matrix(`${p}.ssm_out.weight`, valueDim, n, outScale / Math.sqrt(valueDim));
    } else {
      t.matrix(`${p}.attn_q.weight`, n, 2 * nQ, proj);
      t.matrix(`${p}.attn_k.weight`, n, nKv, proj);
      t.matrix(`${p}.attn_v.weight`, n, nKv, proj);
      t.matrix(`${p}.attn_output.weight`, nQ, n, outScale / Math.sqrt(nQ));
      t.vector(`${p}.attn_q_norm.weight`, s.head_dim, 1, 0.1);
      t.vector(`${p}.attn_k_norm.weight`, s.head_dim, 1, 0.1);
    }
    // a router spread wide enough that near ties (a chosen expert flipped by rounding) stay rare
    if (!moe) {
      t.ffn(p, n, s.n_ff!, outScale);
      continue;
    }
    t.matrix(`${p}.ffn_gate_inp.weight`, n, s.n_expert, 4 * proj, GGMLType.F32);
    t.experts(`${p}.ffn_gate_exps.weight`, n, s.n_ff_exp, s.n_expert, proj);
    t.experts(`${p}.ffn_down_exps.weight`, s.n_ff_exp, n, s.n_expert, outScale / Math.sqrt(s.n_ff_exp));
    t.experts(`${p}.ffn_up_exps.weight`, n, s.n_ff_exp, s.n_expert, proj);
    t.vector(`${p}.ffn_gate_inp_shexp.weight`, n, 0, proj);
    t.ffn(p, n, s.n_ff_shexp, outScale, '_shexp');
  }
  t.vector('output_norm.weight', n, 1, 0.1);
  t.matrix('output.weight', n, s.n_vocab, (options.logitStd ?? 6) * proj);
  return { kv, tensors: t.tensors };
}
