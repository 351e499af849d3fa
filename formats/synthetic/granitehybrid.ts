// Random-weight Granite 4.0 hybrid GGUF files, with the tensors and metadata
// keys llama.cpp's LLM_ARCH_GRANITE_HYBRID loader reads ("granitehybrid.*",
// the ssm.* keys, a byte-level BPE vocabulary): Mamba-2 layers (ssm_in,
// ssm_conv1d, ssm_dt bias, ssm_a, ssm_d, ssm_norm, ssm_out; head_count_kv 0
// in the per-layer array) beside GQA attention layers, Granite's four
// multipliers and a SwiGLU FFN in every layer. The small SSM tensors stay
// F32, as llama.cpp's converter and quantizer leave them.
import { GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { gaussianArray } from './random.js';
import { fileTypeFor, RandomTensors, type SyntheticOptions } from './tensors.js';
import { bpeVocabKV } from './vocab-bpe.js';

export interface GraniteHybridShape {
  n_vocab: number;
  n_embd: number;
  n_head: number;
  /** head_count_kv per layer: 0 for a Mamba-2 layer. */
  n_head_kv: readonly number[];
  n_ff: number;
  n_ctx_train: number;
  rope_freq_base: number;
  /** rope.scaling.finetuned = false: no rope (Granite 4.0-H's attention layers take no positions). */
  noRope?: boolean;
  /** ssm.conv_kernel, ssm.state_size, ssm.time_step_rank (Mamba-2 heads), ssm.group_count; inner_size is 2 * n_embd. */
  d_conv: number;
  d_state: number;
  n_ssm_head: number;
  n_group: number;
  embeddingScale: number;
  residualScale: number;
  attentionScale: number;
  logitScale: number;
  tied?: boolean;
}

/**
 * granite-4.0-h's proportions (d_conv 4, d_state 128, expansion 2, head
 * size 64 for Mamba-2 and attention, multipliers 12 / 0.22 / 1/128 / 6) in
 * four layers: Mamba-2, attention, Mamba-2, Mamba-2, with two groups of B
 * and C (the released models have one). The attention scale is
 * 1.5/sqrt(head_dim) (random q and k: a real 1/128 would make attention uniform).
 */
export const GRANITE_HYBRID_SHAPES: Readonly<Record<string, GraniteHybridShape>> = {
  'test-granitehybrid': {
    n_vocab: 512, n_embd: 256, n_head: 4, n_head_kv: [0, 2, 0, 0], n_ff: 512, n_ctx_train: 131072, rope_freq_base: 10000,
    d_conv: 4, d_state: 128, n_ssm_head: 8, n_group: 2,
    embeddingScale: 12, residualScale: 0.22, attentionScale: 0.1875, logitScale: 6,
  },
};

export function graniteHybridModelSpec(s: GraniteHybridShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = 'granitehybrid';
  const u32 = GGUFValueType.UINT32;
  const f32 = GGUFValueType.FLOAT32;
  const nLayer = s.n_head_kv.length;
  const n = s.n_embd;
  const headDim = n / s.n_head;
  const dInner = 2 * n;
  const nCh = dInner + 2 * s.n_group * s.d_state;
  const dInProj = dInner + nCh + s.n_ssm_head;
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: `synthetic granitehybrid ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.vocab_size`, value: s.n_vocab, type: u32 },
    { key: `${arch}.context_length`, value: s.n_ctx_train, type: u32 },
    { key: `${arch}.embedding_length`, value: n, type: u32 },
    { key: `${arch}.block_count`, value: nLayer, type: u32 },
    { key: `${arch}.feed_forward_length`, value: s.n_ff, type: u32 },
    { key: `${arch}.attention.head_count`, value: s.n_head, type: u32 },
    { key: `${arch}.attention.head_count_kv`, value: [...s.n_head_kv], elementType: u32 },
    { key: `${arch}.rope.freq_base`, value: s.rope_freq_base, type: f32 },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, value: 1e-5, type: f32 },
    { key: `${arch}.embedding_scale`, value: s.embeddingScale, type: f32 },
    { key: `${arch}.residual_scale`, value: s.residualScale, type: f32 },
    { key: `${arch}.attention.scale`, value: s.attentionScale, type: f32 },
    { key: `${arch}.logit_scale`, value: s.logitScale, type: f32 },
    { key: `${arch}.ssm.conv_kernel`, value: s.d_conv, type: u32 },
    { key: `${arch}.ssm.inner_size`, value: dInner, type: u32 },
    { key: `${arch}.ssm.state_size`, value: s.d_state, type: u32 },
    { key: `${arch}.ssm.time_step_rank`, value: s.n_ssm_head, type: u32 },
    { key: `${arch}.ssm.group_count`, value: s.n_group, type: u32 },
  ];
  if (s.noRope) kv.push({ key: `${arch}.rope.scaling.finetuned`, value: false });
  kv.push(...bpeVocabKV(s.n_vocab, 'refact'));
  if (options.extraKV) kv.push(...options.extraKV);

  const t = new RandomTensors(type, options);
  const proj = 1 / Math.sqrt(n);
  // what each branch adds after residual_scale
  const out = (options.blockOutScale ?? 1) / s.residualScale;
  const logitStd = (options.logitStd ?? 6) * s.logitScale;
  const uniform = (rand: () => number, len: number, lo: number, hi: number) => new Float32Array(len).map(() => lo + rand() * (hi - lo));
  // times embedding_scale in the graph: the residual stream starts at rms 1
  t.matrix('token_embd.weight', n, s.n_vocab, 1 / s.embeddingScale);
  for (let il = 0; il < nLayer; il++) {
    const p = `blk.${il}`;
    t.vector(`${p}.attn_norm.weight`, n, 1, 0.1);
    if (s.n_head_kv[il] === 0) {
      t.matrix(`${p}.ssm_in.weight`, n, dInProj, proj);
      t.f32(`${p}.ssm_conv1d.weight`, [s.d_conv, nCh], (rand) => uniform(rand, s.d_conv * nCh, -0.6, 0.6));
      t.vector(`${p}.ssm_conv1d.bias`, nCh, 0, 0.1);
      // softplus(dt + bias) from about 0.05 to 2: heads that forget fast and heads that remember
      t.f32(`${p}.ssm_dt.bias`, [s.n_ssm_head], (rand) => uniform(rand, s.n_ssm_head, -3, 1));
      // A = -exp(A_log), as the converter writes it
      t.f32(`${p}.ssm_a`, [1, s.n_ssm_head], (rand) => uniform(rand, s.n_ssm_head, Math.log(0.05), Math.log(2)).map((v) => -Math.exp(v)));
      t.f32(`${p}.ssm_d`, [1, s.n_ssm_head], (rand) => gaussianArray(rand, s.n_ssm_head, 0.5).map((v) => 1 + v));
      t.f32(`${p}.ssm_norm.weight`, [dInner / s.n_group, s.n_group], (rand) => gaussianArray(rand, dInner, 0.1).map((v) => 1 + v));
      t.matrix(`${p}.ssm_out.weight`, dInner, n, out / Math.sqrt(dInner));
    } else {
      const nKv = s.n_head_kv[il]! * headDim;
      t.matrix(`${p}.attn_q.weight`, n, n, proj);
      t.matrix(`${p}.attn_k.weight`, n, nKv, proj);
      t.matrix(`${p}.attn_v.weight`, n, nKv, proj);
      t.matrix(`${p}.attn_output.weight`, n, n, out / Math.sqrt(n));
    }
    t.vector(`${p}.ffn_norm.weight`, n, 1, 0.1);
    t.ffn(p, n, s.n_ff, out);
  }
  if (s.tied) {
    const g = (logitStd * s.embeddingScale) / Math.sqrt(n);
    t.vector('output_norm.weight', n, g, 0.1 * g);
  } else {
    t.vector('output_norm.weight', n, 1, 0.1);
    t.matrix('output.weight', n, s.n_vocab, logitStd * proj);
  }
  return { kv, tensors: t.tensors };
}
