// Random-weight GGUF files of the LayerNorm decoders (phi2, gpt2, stablelm,
// gptneox, starcoder2, falcon) with every tensor llama.cpp expects for each,
// a byte-level BPE vocabulary as their real files have, and the layout
// variants llama.cpp supports (fused or separate qkv, tied head, parallel
// residual, Falcon-40B's second norm, StableLM 2 12B's per-head q/k norms).
import { ggmlTypeInfo, type GGMLType } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { fileTypeFor, RandomTensors, type SyntheticOptions } from './tensors.js';
import { bpeVocabKV } from './vocab-bpe.js';

export type LayerNormArch = 'phi2' | 'gpt2' | 'stablelm' | 'gptneox' | 'starcoder2' | 'falcon';

export interface LayerNormShape {
  arch: LayerNormArch;
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  n_ff: number;
  n_ctx_train: number;
  /** rope.dimension_count when rope covers only part of each head (phi2, stablelm, gptneox). */
  n_rot?: number;
  rope_freq_base?: number;
  /** One attn_qkv instead of attn_q/k/v. Default: as the architecture's converter writes it. */
  fusedQkv?: boolean;
  /** No output.weight: the head is token_embd. */
  tied?: boolean;
  /** gptneox's use_parallel_residual (Pythia: true). */
  parallelResidual?: boolean;
  /** Falcon-40B: attention reads its own LayerNorm (attn_norm_2). */
  attnNorm2?: boolean;
  /** StableLM 2 12B: per-head LayerNorm of q and k, no ffn_norm (parallel residual), no qkv biases. */
  stablelm12B?: boolean;
  /** tokenizer.ggml.pre. Default: the architecture's usual one. */
  pre?: string;
}

/** Real models' proportions at n_embd 256: head size 64, partial rope as their rope fraction gives. */
export const LAYERNORM_SHAPES: Readonly<Record<string, LayerNormShape>> = {
  // phi-2: head 80 with 32 rotated dims; here 64 with 24
  'phi2-tiny': { arch: 'phi2', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 4, n_ff: 1024, n_ctx_train: 2048, n_rot: 24 },
  // gpt2 (124M): learned positions, 4x MLP
  'gpt2-tiny': { arch: 'gpt2', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 4, n_ff: 1024, n_ctx_train: 1024 },
  // stablelm-2-1_6b: rope on a quarter of each head, qkv biases, SwiGLU (n_ff 2.75x; 3x here for k-quant rows)
  'stablelm-tiny': { arch: 'stablelm', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 4, n_ff: 768, n_ctx_train: 4096, n_rot: 16 },
  // pythia: rotary_pct 0.25, parallel residual
  'gptneox-tiny': { arch: 'gptneox', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 4, n_ff: 1024, n_ctx_train: 2048, n_rot: 16, parallelResidual: true },
  // starcoder2-3b: GQA 24/2, rope base 1e6 (999999.4 in the file)
  'starcoder2-tiny': { arch: 'starcoder2', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff: 1024, n_ctx_train: 16384, rope_freq_base: 999999.4 },
  // falcon-7b: multi-query attention
  'falcon-tiny': { arch: 'falcon', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_head_kv: 1, n_ff: 1024, n_ctx_train: 2048 },
};

const DEFAULT_PRE: Record<LayerNormArch, string> = {
  phi2: 'phi-2', gpt2: 'gpt-2', stablelm: 'stablelm2', gptneox: 'gpt-2', starcoder2: 'starcoder', falcon: 'falcon',
};

/** Biases on the projections and MLP (q/k/v decided separately). */
const PROJ_BIAS: Record<LayerNormArch, boolean> = {
  phi2: true, gpt2: true, stablelm: false, gptneox: true, starcoder2: true, falcon: false,
};

function layerNormKV(s: LayerNormShape, type: GGMLType, options: SyntheticOptions): GGUFKVInput[] {
  const arch = s.arch;
  const f32 = GGUFValueType.FLOAT32;
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: `synthetic ${arch} ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.context_length`, value: s.n_ctx_train },
    { key: `${arch}.embedding_length`, value: s.n_embd },
    { key: `${arch}.block_count`, value: s.n_layer },
    { key: `${arch}.feed_forward_length`, value: s.n_ff },
    { key: `${arch}.attention.head_count`, value: s.n_head },
    { key: `${arch}.attention.head_count_kv`, value: s.n_head_kv },
    { key: `${arch}.attention.layer_norm_epsilon`, value: 1e-5, type: f32 },
  ];
  if (arch !== 'gpt2') {
    kv.push({ key: `${arch}.rope.dimension_count`, value: s.n_rot ?? s.n_embd / s.n_head });
    kv.push({ key: `${arch}.rope.freq_base`, value: s.rope_freq_base ?? 10000, type: f32 });
  }
  if (arch === 'gptneox') kv.push({ key: `${arch}.use_parallel_residual`, value: s.parallelResidual ?? true });
  kv.push(...bpeVocabKV(s.n_vocab, s.pre ?? DEFAULT_PRE[arch]));
  if (options.extraKV) kv.push(...options.extraKV);
  return kv;
}

export function layerNormModelSpec(s: LayerNormShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = s.arch;
  const headDim = s.n_embd / s.n_head;
  const nKV = s.n_head_kv * headDim;
  const t = new RandomTensors(type, options);
  const proj = 1 / Math.sqrt(s.n_embd);
  const out = options.blockOutScale ?? 1;
  const logitStd = options.logitStd ?? 6;
  const bias = PROJ_BIAS[arch];
  const fused = s.fusedQkv ?? (arch === 'gpt2' || arch === 'gptneox' || arch === 'falcon');
  const qkvBias = bias || (arch === 'stablelm' && !s.stablelm12B);
  const ffnNorm = !(arch === 'phi2' || arch === 'falcon' || s.stablelm12B);
  const norm = (name: string) => {
    t.vector(`${name}.weight`, s.n_embd, 1, 0.1);
    t.vector(`${name}.bias`, s.n_embd, 0, 0.1);
  };

  t.matrix('token_embd.weight', s.n_embd, s.n_vocab, 1);
  if (arch === 'gpt2') t.matrix('position_embd.weight', s.n_embd, s.n_ctx_train, 0.5);
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    norm(`${p}.attn_norm`);
    if (s.attnNorm2) norm(`${p}.attn_norm_2`);
    if (fused) {
      t.matrix(`${p}.attn_qkv.weight`, s.n_embd, s.n_embd + 2 * nKV, proj);
      if (qkvBias) t.vector(`${p}.attn_qkv.bias`, s.n_embd + 2 * nKV, 0, 0.5);
    } else {
      // q and k normed per head after projection: drawn larger, so that the norms matter
      const qk = s.stablelm12B ? 3 * proj : proj;
      t.matrix(`${p}.attn_q.weight`, s.n_embd, s.n_embd, qk);
      t.matrix(`${p}.attn_k.weight`, s.n_embd, nKV, qk);
      t.matrix(`${p}.attn_v.weight`, s.n_embd, nKV, proj);
      if (qkvBias) {
        t.vector(`${p}.attn_q.bias`, s.n_embd, 0, 0.5);
        t.vector(`${p}.attn_k.bias`, nKV, 0, 0.5);
        t.vector(`${p}.attn_v.bias`, nKV, 0, 0.5);
      }
    }
    if (s.stablelm12B) {
      // one weight row per head ([head_dim, n_head] in ggml order)
      const rows = (n: number) => (rand: () => number) => Float32Array.from({ length: n * headDim }, () => 1 + 0.4 * (rand() - 0.5));
      t.f32(`${p}.attn_q_norm.weight`, [headDim, s.n_head], rows(s.n_head));
      t.f32(`${p}.attn_k_norm.weight`, [headDim, s.n_head_kv], rows(s.n_head_kv));
    }
    t.matrix(`${p}.attn_output.weight`, s.n_embd, s.n_embd, proj * out);
    if (bias) t.vector(`${p}.attn_output.bias`, s.n_embd, 0, 0.1 * out);
    if (ffnNorm) norm(`${p}.ffn_norm`);
    if (arch === 'stablelm') t.matrix(`${p}.ffn_gate.weight`, s.n_embd, s.n_ff, proj);
    t.matrix(`${p}.ffn_up.weight`, s.n_embd, s.n_ff, proj);
    if (bias) t.vector(`${p}.ffn_up.bias`, s.n_ff, 0, 0.5);
    t.matrix(`${p}.ffn_down.weight`, s.n_ff, s.n_embd, out / Math.sqrt(s.n_ff));
    if (bias) t.vector(`${p}.ffn_down.bias`, s.n_embd, 0, 0.1 * out);
  }
  if (s.tied) {
    // the head is token_embd (sigma 1): the final norm's weights set the logit spread
    t.vector('output_norm.weight', s.n_embd, logitStd * proj, 0.1 * logitStd * proj);
    t.vector('output_norm.bias', s.n_embd, 0, 0.1 * logitStd * proj);
  } else {
    norm('output_norm');
    t.matrix('output.weight', s.n_embd, s.n_vocab, logitStd * proj);
  }
  if (arch === 'phi2') t.vector('output.bias', s.n_vocab, 0, 0.5);
  return { kv: layerNormKV(s, type, options), tensors: t.tensors };
}
