// Random-weight "gemma3n" GGUF files with the tensor names and metadata keys
// llama.cpp's loader and Gemma 3n's converter use: the gemma3 layer (q/k
// norms, sandwich norms, GeGLU) plus AltUp (altup_proj, altup_unembd_proj,
// the per-layer router, predict and correct coefficients), Laurel
// (laurel_l, laurel_r, laurel_post_norm) and the per-layer embeddings
// (per_layer_token_embd, per_layer_model_proj, per_layer_proj_norm, the
// layers' inp_gate, proj and post_norm). llama.cpp fixes AltUp's 4 streams,
// Laurel's rank 64, the 256 per-layer values, KV caches on the first 20
// layers and sparsity on the first 10; the keys the converter writes for
// them are written too (llama.cpp reads none of them). Tensors llama-quantize
// leaves alone (altup_*, laurel_*, per_layer_model_proj) are F16 in every
// file, as the converter writes them, but for the 3-D altup projections (F32: see `stacked`).
import { GGMLType } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { decoderKV, headDimOf, type DecoderShape } from './decoder-kv.js';
import { RandomTensors, type SyntheticOptions } from './tensors.js';

/** llama.cpp's fixed gemma3n sizes (not read from the file). */
const N_ALTUP = 4;
const LAUREL_RANK = 64;
const N_EMBD_ALTUP = 256;
const KV_LAYERS = 20;
const SPARSE_LAYERS = 10;

export interface Gemma3nShape extends DecoderShape {
  /** attention.sliding_window. */
  n_swa: number;
  /**
   * The router weights' sigma times 1/sqrt(n_embd) (the router reads rows
   * scaled by 1/n_embd: larger weights give coefficients that matter). Default 16.
   */
  routerGain?: number;
  /**
   * The output norms after what sets gemma 3n apart (every layer's
   * per-layer input, the FFN of the sparse layers, attention in the layers
   * sharing KV) at this times blockOutScale: those parts can show in the
   * logits while the rest of the 22 layers stays quiet. Default 1.
   */
  featureGain?: number;
  /** The layers sharing KV (the last ones only) louder again by this. Default 2. */
  sharedKvGain?: number;
  /** Sigma of altup_predict_coef and altup_correct_coef. Default 0.5: the streams mix enough for AltUp to show. */
  coefSigma?: number;
}

export const GEMMA3N_SHAPES: Readonly<Record<string, Gemma3nShape>> = {
  // gemma-3n-E2B's layer types scaled down: 22 layers (llama.cpp's 20 KV
  // layers are fixed), so that the 10 first sparsify their FFN gate and the
  // last two (sliding, like layer 18) read layer 18's cache; window 16,
  // head 64, MQA 2/1, as narrow as the fixed 256 per-layer values allow;
  // with blockOutScale 0.25 the features tested speak louder than the rest
  'test-gemma3n': {
    n_vocab: 320, n_embd: 256, n_layer: 22, n_head: 2, n_head_kv: 1, head_dim: 64, n_ff: 256, n_ctx_train: 32768,
    n_swa: 16, rope_freq_base: 1000000, featureGain: 1.5,
  },
};

export function gemma3nModelSpec(s: Gemma3nShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const arch = 'gemma3n';
  const f32 = GGUFValueType.FLOAT32;
  const u32 = GGUFValueType.UINT32;
  const sparsity = Array.from({ length: s.n_layer }, (_, il) => (il < SPARSE_LAYERS ? 1.6448533535003662 : 0));
  const extra: GGUFKVInput[] = [
    { key: `${arch}.attention.sliding_window`, value: s.n_swa, type: u32 },
    // the converter's per-layer booleans (4 sliding, 1 global); llama.cpp keeps its period of 5 for an array
    { key: `${arch}.attention.sliding_window_pattern`, value: Array.from({ length: s.n_layer }, (_, il) => il % 5 < 4) },
    { key: `${arch}.altup.active_idx`, value: 0, type: u32 },
    { key: `${arch}.altup.num_inputs`, value: N_ALTUP, type: u32 },
    { key: `${arch}.embedding_length_per_layer_input`, value: N_EMBD_ALTUP, type: u32 },
    { key: `${arch}.attention.shared_kv_layers`, value: Math.max(0, s.n_layer - KV_LAYERS), type: u32 },
    { key: `${arch}.activation_sparsity_scale`, value: Float32Array.from(sparsity) },
    { key: `${arch}.final_logit_softcapping`, value: 30, type: f32 },
  ];
  const kv = decoderKV(arch, s, type, options, extra);

  const t = new RandomTensors(type, options);
  const F16 = GGMLType.F16;
  const n = s.n_embd;
  const headDim = headDimOf(s);
  const nQ = s.n_head * headDim;
  const nKV = s.n_head_kv * headDim;
  const out = options.blockOutScale ?? 1;
  const loud = out * (s.featureGain ?? 1);
  const proj = 1 / Math.sqrt(n);
  const perLayerAll = N_EMBD_ALTUP * s.n_layer;
  const coef = s.coefSigma ?? 0.5;
  /**
   * A 3-D weight [nIn, nOut, k], drawn as the k * nOut rows it is in memory.
   * F32, not the converter's F16: llama.cpp's AMX path (CPUs with AMX) takes
   * F16 matmul weights and multiplies only the first matrix of a 3-D one,
   * leaving the others' outputs zero (NaN after AltUp's magnitude division).
   */
  const stacked = (name: string, nIn: number, nOut: number, k: number, sigma: number) => {
    t.matrix(name, nIn, nOut * k, sigma, GGMLType.F32);
    const i = t.tensors.length - 1;
    t.tensors[i] = { ...t.tensors[i]!, shape: [nIn, nOut, k] };
  };

  // times sqrt(n_embd) in the graph: the streams start at rms 1
  t.matrix('token_embd.weight', n, s.n_vocab, proj);
  stacked('altup_proj.weight', n, n, N_ALTUP - 1, proj);
  stacked('altup_unembd_proj.weight', n, n, N_ALTUP - 1, proj);
  // times sqrt(256) in the graph
  t.matrix('per_layer_token_embd.weight', perLayerAll, s.n_vocab, 1 / Math.sqrt(N_EMBD_ALTUP));
  t.matrix('per_layer_model_proj.weight', n, perLayerAll, proj, F16);
  t.vector('per_layer_proj_norm.weight', N_EMBD_ALTUP, 1, 0.1);
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    t.vector(`${p}.attn_norm.weight`, n, 1, 0.1);
    t.matrix(`${p}.attn_q.weight`, n, nQ, proj);
    t.matrix(`${p}.attn_k.weight`, n, nKV, proj);
    t.matrix(`${p}.attn_v.weight`, n, nKV, proj);
    t.matrix(`${p}.attn_output.weight`, nQ, n, 1 / Math.sqrt(nQ));
    // scores are not scaled: q and k are RMS-normed per head, so these weights set how sharply heads attend
    t.vector(`${p}.attn_q_norm.weight`, headDim, 0.35, 0.05);
    t.vector(`${p}.attn_k_norm.weight`, headDim, 0.35, 0.05);
    const attnOut = il >= KV_LAYERS ? loud * (s.sharedKvGain ?? 2) : out;
    t.vector(`${p}.post_attention_norm.weight`, n, attnOut, 0.1 * attnOut);
    t.vector(`${p}.ffn_norm.weight`, n, 1, 0.1);
    t.ffn(p, n, s.n_ff, 1);
    const ffnOut = il < SPARSE_LAYERS ? loud : out;
    t.vector(`${p}.post_ffw_norm.weight`, n, ffnOut, 0.1 * ffnOut);
    t.matrix(`${p}.inp_gate.weight`, n, N_EMBD_ALTUP, proj);
    t.matrix(`${p}.proj.weight`, N_EMBD_ALTUP, n, 1 / Math.sqrt(N_EMBD_ALTUP));
    t.vector(`${p}.post_norm.weight`, n, loud, 0.1 * loud);
    t.matrix(`${p}.altup_correct_coef.weight`, N_ALTUP, N_ALTUP, coef, F16);
    t.vector(`${p}.altup_correct_scale.weight`, n, 1, 0.1);
    t.matrix(`${p}.altup_predict_coef.weight`, N_ALTUP, N_ALTUP * N_ALTUP, coef, F16);
    t.matrix(`${p}.altup_router.weight`, n, N_ALTUP, (s.routerGain ?? 16) * proj, F16);
    t.vector(`${p}.altup_router_norm.weight`, n, 1, 0.1);
    t.matrix(`${p}.laurel_l.weight`, n, LAUREL_RANK, proj, F16);
    t.matrix(`${p}.laurel_r.weight`, LAUREL_RANK, n, 1 / Math.sqrt(LAUREL_RANK), F16);
    t.vector(`${p}.laurel_post_norm.weight`, n, out, 0.1 * out);
  }
  // the head is token_embd (sigma 1/sqrt(n_embd)): the final norm's weights set the logit spread
  const logitStd = options.logitStd ?? 6;
  t.vector('output_norm.weight', n, logitStd, 0.1 * logitStd);
  return { kv, tensors: t.tensors };
}
