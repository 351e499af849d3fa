// Random-weight gpt-oss GGUF files, with the tensors and metadata keys
// llama.cpp's LLM_ARCH_OPENAI_MOE loader reads ("gpt-oss.*", a byte-level BPE
// vocabulary with the gpt-4o pre-tokenizer): biased attention projections,
// per-head attention sinks, a biased router, and experts with per-expert bias
// rows. Sinks and biases stay F32, as llama.cpp's converter writes them; the
// released files keep the experts in MXFP4, here they take the file's type.
import { GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { fileTypeFor, RandomTensors, type SyntheticOptions } from './tensors.js';
import { bpeVocabKV } from './vocab-bpe.js';

export interface GptOssShape {
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  head_dim: number;
  n_ff_exp: number;
  n_expert: number;
  n_expert_used: number;
  n_ctx_train: number;
  /** attention.sliding_window (128 in the released models). */
  n_swa: number;
  rope_freq_base: number;
  /** YaRN: rope.scaling.factor and original_context_length; absent: no scaling. */
  yarn?: { factor: number; n_ctx_orig: number };
  /** Mean and spread of the sink logits. */
  sinks?: { mean: number; sigma: number };
  /** Standard deviation of the router's logits (before its bias). */
  routerSigma?: number;
}

/**
 * gpt-oss-20b scaled down: same head size, window, rope and 4 experts per
 * token; q wider than n_embd as in the real models; 2 layers (one sliding,
 * one global), as the other MoE test shapes, which keeps quantized files'
 * requantization noise from growing through the layers.
 */
export const GPT_OSS_SHAPES: Readonly<Record<string, GptOssShape>> = {
  'gpt-oss-tiny': {
    n_vocab: 512, n_embd: 192, n_layer: 2, n_head: 4, n_head_kv: 2, head_dim: 64, n_ff_exp: 256,
    n_expert: 8, n_expert_used: 4, n_ctx_train: 131072, n_swa: 128, rope_freq_base: 150000,
    yarn: { factor: 32, n_ctx_orig: 4096 },
    // sinks that take a good share of each head's attention, and a router
    // spread that leaves the unchosen experts some probability: so that each
    // of the two shows in the logits (the tests' broken variants)
    sinks: { mean: 4, sigma: 1.5 }, routerSigma: 1,
  },
};

export function gptOssModelSpec(s: GptOssShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = 'gpt-oss';
  const u32 = GGUFValueType.UINT32;
  const f32 = GGUFValueType.FLOAT32;
  const nQ = s.n_head * s.head_dim;
  const nKv = s.n_head_kv * s.head_dim;
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: `synthetic gpt-oss ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.context_length`, value: s.n_ctx_train, type: u32 },
    { key: `${arch}.embedding_length`, value: s.n_embd, type: u32 },
    { key: `${arch}.block_count`, value: s.n_layer, type: u32 },
    { key: `${arch}.feed_forward_length`, value: s.n_ff_exp, type: u32 },
    { key: `${arch}.attention.head_count`, value: s.n_head, type: u32 },
    { key: `${arch}.attention.head_count_kv`, value: s.n_head_kv, type: u32 },
    { key: `${arch}.attention.key_length`, value: s.head_dim, type: u32 },
    { key: `${arch}.attention.value_length`, value: s.head_dim, type: u32 },
    { key: `${arch}.rope.dimension_count`, value: s.head_dim, type: u32 },
    { key: `${arch}.rope.freq_base`, value: s.rope_freq_base, type: f32 },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, value: 1e-5, type: f32 },
    { key: `${arch}.attention.sliding_window`, value: s.n_swa, type: u32 },
    { key: `${arch}.expert_count`, value: s.n_expert, type: u32 },
    { key: `${arch}.expert_used_count`, value: s.n_expert_used, type: u32 },
    { key: `${arch}.expert_feed_forward_length`, value: s.n_ff_exp, type: u32 },
  ];
  if (s.yarn) {
    kv.push(
      { key: `${arch}.rope.scaling.type`, value: 'yarn' },
      { key: `${arch}.rope.scaling.factor`, value: s.yarn.factor, type: f32 },
      { key: `${arch}.rope.scaling.original_context_length`, value: s.yarn.n_ctx_orig, type: u32 },
    );
  }
  kv.push(...bpeVocabKV(s.n_vocab, 'gpt-4o'));
  if (options.extraKV) kv.push(...options.extraKV);

  const t = new RandomTensors(type, options);
  const matrix = t.matrix.bind(t);
  const vector = t.vector.bind(t);
  const experts = (name: string, nIn: number, nOut: number, sigma: number) => t.experts(name, nIn, nOut, s.n_expert, sigma);
  /** One F32 bias row per expert: [n, n_expert]. */
  const expertBias = (name: string, n: number, sigma: number) =>
    t.f32(name, [n, s.n_expert], (rand) => new Float32Array(n * s.n_expert).map(() => (rand() * 2 - 1) * sigma * Math.sqrt(3)));
  const proj = 1 / Math.sqrt(s.n_embd);
  const outScale = options.blockOutScale ?? 1;
  const sinks = s.sinks ?? { mean: 1, sigma: 1.5 };
  matrix('token_embd.weight', s.n_embd, s.n_vocab, 1);
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    vector(`${p}.attn_norm.weight`, s.n_embd, 1, 0.1);
    matrix(`${p}.attn_q.weight`, s.n_embd, nQ, proj);
    matrix(`${p}.attn_k.weight`, s.n_embd, nKv, proj);
    matrix(`${p}.attn_v.weight`, s.n_embd, nKv, proj);
    vector(`${p}.attn_q.bias`, nQ, 0, 0.3);
    vector(`${p}.attn_k.bias`, nKv, 0, 0.3);
    vector(`${p}.attn_v.bias`, nKv, 0, 0.3);
    matrix(`${p}.attn_output.weight`, nQ, s.n_embd, outScale / Math.sqrt(nQ));
    vector(`${p}.attn_output.bias`, s.n_embd, 0, 0.05 * outScale);
    vector(`${p}.attn_sinks.weight`, s.n_head, sinks.mean, sinks.sigma);
    vector(`${p}.post_attention_norm.weight`, s.n_embd, 1, 0.1);
    // the router stays F32, as llama.cpp's converter and quantizer leave it
    matrix(`${p}.ffn_gate_inp.weight`, s.n_embd, s.n_expert, (s.routerSigma ?? 2) * proj, GGMLType.F32);
    vector(`${p}.ffn_gate_inp.bias`, s.n_expert, 0, 0.5);
    // gate and up reach past swiglu_oai's clamp at 7 now and then
    experts(`${p}.ffn_gate_exps.weight`, s.n_embd, s.n_ff_exp, 3 * proj);
    expertBias(`${p}.ffn_gate_exps.bias`, s.n_ff_exp, 0.5);
    experts(`${p}.ffn_up_exps.weight`, s.n_embd, s.n_ff_exp, 3 * proj);
    expertBias(`${p}.ffn_up_exps.bias`, s.n_ff_exp, 0.5);
    experts(`${p}.ffn_down_exps.weight`, s.n_ff_exp, s.n_embd, outScale / (3 * Math.sqrt(s.n_ff_exp)));
    expertBias(`${p}.ffn_down_exps.bias`, s.n_embd, 0.05 * outScale);
  }
  vector('output_norm.weight', s.n_embd, 1, 0.1);
  matrix('output.weight', s.n_embd, s.n_vocab, (options.logitStd ?? 6) * proj);
  return { kv, tensors: t.tensors };
}
