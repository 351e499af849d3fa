// Gemma 3n (E2B, E4B) text models as llama.cpp runs them:
//   - AltUp: the residual stream is a stack of n_altup = 4 streams. The
//     embedding (times sqrt(n_embd)) is stream 0; altup_proj makes the
//     others, each rescaled to stream 0's magnitude. Each layer first
//     predicts every stream from all of them (coefficients from a router on
//     the active stream, tanh), runs attention and the FFN on the active
//     prediction only, then corrects every stream by the innovation (the
//     layer's output minus its input) times the router's correction
//     coefficients + 1. At the end altup_unembd_proj maps streams 1..3 back,
//     rescaled to stream 0's magnitude, and the four are averaged;
//   - per-layer embeddings: per_layer_token_embd (times sqrt(256)) plus the
//     embedding projected by per_layer_model_proj (times 1/sqrt(n_embd),
//     RMS-normed per layer), times 1/sqrt(2), give each layer 256 values per
//     token. After the correction, the active stream (times
//     altup_correct_scale) gates them (inp_gate, gelu), proj maps them
//     back, post_norm, and the result is added to every stream but the first;
//   - Laurel: a rank-64 branch (laurel_l, laurel_r, laurel_post_norm, plus
//     its input) beside attention; attention's output plus the active
//     prediction and Laurel's output are averaged (times 1/sqrt(2));
//   - attention: q/k RMS-normed per head with weights, v without, then NEOX
//     rope (sliding layers at rope.freq_base_swa, default 10000); no scaling
//     of the scores (f_attention_scale 1); sliding window on 4 layers of 5
//     (attention.sliding_window_pattern when it is a number). Layers from
//     the 20th on have no KV cache: they attend over the cache of the last
//     earlier layer of their kind (18 for sliding layers, 19 for global);
//   - GeGLU FFN whose gate, on the first 10 layers, keeps only what exceeds
//     its row's mean + 1.645 standard deviations (gaussian top-k: relu of
//     the difference); post-norms after attention and the FFN;
//   - final logits soft-capped at 30.
// n_altup, the active stream, Laurel's rank, the 256 per-layer values, the
// 20 KV layers, the 10 sparse layers and the cap are llama.cpp's fixed
// values for gemma3n, not read from the file.
import { rowSize } from '../../formats/ggml-types.js';
import { ModelError } from '../errors.js';
import type { Tensor } from '../graph/graph.js';
import type { RopeParams } from '../graph/ops.js';
import type { HParams } from '../hparams.js';
import { outputHead, ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { isSwaLayer } from './decoder.js';
import { attention, dim, dims, embeddingsAndHead, ffn, layers, norm, req, type Architecture, type DeclareTensors } from './declare.js';

const f32 = Math.fround;
export const GEMMA3N_N_ALTUP = 4;
const I_ALTUP_ACT = 0;
export const GEMMA3N_LAUREL_RANK = 64;
export const GEMMA3N_N_EMBD_ALTUP = 256;
/** Layers 0..19 have a KV cache; later ones share one (llama.cpp's n_layer_kv_from_start). */
export const GEMMA3N_KV_LAYERS = 20;
/** Layers 0..9 sparsify their FFN gate. */
export const GEMMA3N_SPARSE_LAYERS = 10;
/** The normal distribution's 95% quantile, as llama.cpp writes it. */
const SPARSITY_STD_MUL = 1.6448533535003662;
const FINAL_SOFTCAP = 30;
const DEFAULT_SWA_PERIOD = 5;

/** What the tests' broken variants switch off; every field true is gemma 3n. */
export interface Gemma3nOptions {
  perLayerInputs: boolean;
  /** AltUp's correction of the streams after each layer; false: the active stream replaced by the layer's output, the others left as predicted. */
  altupCorrect: boolean;
  /** Layers past the 20th read an earlier layer's cache; false: they project and store K and V of their own. */
  kvSharing: boolean;
  /** Gaussian top-k of the first layers' FFN gate. */
  sparsity: boolean;
}

export const GEMMA3N: Gemma3nOptions = { perLayerInputs: true, altupCorrect: true, kvSharing: true, sparsity: true };

function swaPeriod(hp: HParams): number {
  return hp.n_swa_pattern || DEFAULT_SWA_PERIOD;
}

/** The layer whose cache layer il attends over (llama.cpp's layer_reuse_cb for gemma3n). */
export function gemma3nKvSource(hp: HParams): number[] {
  return Array.from({ length: hp.n_layer }, (_, il) => il < GEMMA3N_KV_LAYERS ? il
    : GEMMA3N_KV_LAYERS - (isSwaLayer(il, swaPeriod(hp)) ? 2 : 1));
}

export function gemma3nGraph(o: Gemma3nOptions = GEMMA3N) {
  return (c: BuildContext): Tensor => {
    const { ops, hp } = c;
    const g = ops.g;
    const n = hp.n_embd;
    const T = c.nTokens;
    const L = hp.n_layer;
    const A = GEMMA3N_N_ALTUP;
    const P = GEMMA3N_N_EMBD_ALTUP;
    const eps = hp.f_norm_rms_eps;
    const invSqrt2 = f32(1 / f32(Math.SQRT2));
    const rms = (name: string, x: Tensor, label: string) => ops.rmsNorm(x, c.w(`${name}.weight`), eps, label);
    // stream a of a stack [n, T, A]: T contiguous rows
    const stream = (stack: Tensor, a: number, label: string) => g.view(stack, label, [n, T], a * T * n * 4, n * 4);
    // matrix i of a 3-D weight [n_in, n_out, k]
    const slice = (w: Tensor, i: number) => {
      // a view has no layout: a repacked weight would be read as plain rows (these never are: not blk.*)
      if (w.layout) throw new Error(`${w.name} was repacked (${w.layout}): its matrices cannot be read one by one`);
      const row = rowSize(w.type, w.ne[0]!);
      return g.view(w, `${w.name}[${i}]`, [w.ne[0]!, w.ne[1]!], i * row * w.ne[1]!, row);
    };
    const router = (il: number, x: Tensor, label: string) => {
      const normed = ops.scale(rms(`blk.${il}.altup_router_norm`, x, `${label}_norm-${il}`), f32(1 / n), `${label}_scaled-${il}`);
      // tanh as cap * tanh(x / cap) with cap 1: the same bits
      return ops.softcap(ops.matmul(c.w(`blk.${il}.altup_router.weight`), normed, `${label}-${il}`), 1, `${label}_tanh-${il}`);
    };

    const x0 = ops.scale(ops.getRows(c.w('token_embd.weight'), c.inpTokens), f32(Math.sqrt(n)), 'inp_scaled');

    // each layer's 256 inputs per token, rows (t * L + il) of [P, L * T]
    let perLayer: Tensor | undefined;
    if (o.perLayerInputs) {
      const rows = ops.scale(ops.getRows(c.w('per_layer_token_embd.weight'), c.inpTokens, 'inp_per_layer_rows'), f32(Math.sqrt(P)), 'inp_per_layer_selected');
      const proj = ops.scale(ops.matmul(c.w('per_layer_model_proj.weight'), x0, 'per_layer_model_proj'), f32(1 / f32(Math.sqrt(n))), 'per_layer_proj_scaled');
      const normed = ops.rmsNorm(g.view(proj, 'per_layer_proj_rows', [P, L * T], 0, P * 4), c.w('per_layer_proj_norm.weight'), eps, 'per_layer_proj');
      perLayer = ops.scale(ops.add(normed, g.view(rows, 'inp_per_layer_rows2', [P, L * T], 0, P * 4), 'inp_per_layer_sum'), invSqrt2, 'inp_per_layer');
    }

    // the stack: the embedding, then altup_proj's three projections of it at its magnitude
    let stack = x0;
    for (let i = 0; i < A - 1; i++) {
      const added = ops.matmul(slice(c.w('altup_proj.weight'), i), x0, `altup_added_${i}`);
      stack = ops.concat(g.view(stack, `stack_${i}`, [elementsOf(stack), 1], 0, elementsOf(stack) * 4),
        g.view(ops.magnitudeScale(added, x0, `altup_scaled_${i}`), `altup_flat_${i}`, [n * T, 1], 0, n * T * 4), `inp_stacked_${i}`);
    }
    stack = g.view(stack, 'inp_stacked', [n, T * A], 0, n * 4);

    const global = ropeParams(c, ROPE_NEOX);
    const local: RopeParams = { ...global, freqBase: hp.rope_freq_base_swa || 10000, freqScale: 1 };
    const period = swaPeriod(hp);
    const kvSource = gemma3nKvSource(hp);
    const hd = hp.n_embd_head_k;

    for (let il = 0; il < L; il++) {
      const p = `blk.${il}`;
      const modalities = router(il, stream(stack, I_ALTUP_ACT, `active-${il}`), 'modalities');
      const coefs = ops.matmul(c.w(`${p}.altup_predict_coef.weight`), modalities, `all_coefs-${il}`);
      const predictions = ops.altupPredict(stack, coefs, A, `predictions-${il}`);
      const active = stream(predictions, I_ALTUP_ACT, `active_prediction-${il}`);
      const cur = rms(`${p}.attn_norm`, active, `attn_norm-${il}`);

      // laurel: cur + norm(laurel_r(laurel_l(cur)))
      const lr = ops.matmul(c.w(`${p}.laurel_r.weight`), ops.matmul(c.w(`${p}.laurel_l.weight`), cur, `laurel_l-${il}`), `laurel_r-${il}`);
      const laurel = ops.add(rms(`${p}.laurel_post_norm`, lr, `laurel_post_norm-${il}`), cur, `laurel_out-${il}`);

      // attention
      const swa = isSwaLayer(il, period);
      const rope = swa ? local : global;
      let q = ops.rmsNorm(ops.heads(ops.matmul(c.w(`${p}.attn_q.weight`), cur, `Qcur-${il}`), hd), c.w(`${p}.attn_q_norm.weight`), eps, `Qcur_normed-${il}`);
      q = ops.rope(q, c.inpPos, hp.n_head, hd, rope, `Qcur_pos-${il}`);
      let k: Tensor | null = null;
      let v: Tensor | null = null;
      if (kvSource[il] === il || !o.kvSharing) {
        k = ops.rmsNorm(ops.heads(ops.matmul(c.w(`${p}.attn_k.weight`), cur, `Kcur-${il}`), hd), c.w(`${p}.attn_k_norm.weight`), eps, `Kcur_normed-${il}`);
        k = ops.rope(k, c.inpPos, hp.n_head_kv, hd, rope, `Kcur_pos-${il}`);
        v = ops.rmsNorm(ops.heads(ops.matmul(c.w(`${p}.attn_v.weight`), cur, `Vcur-${il}`), hp.n_embd_head_v), null, eps, `Vcur_normed-${il}`);
      }
      const cache = c.cache[il];
      if (!cache || !c.inpKvRows) throw new Error(`layer ${il}: no KV cache to attend over`);
      const kqv = ops.attention(q, k, v, c.inpPos, c.inpKvRows, cache, {
        nHead: hp.n_head, nHeadKv: hp.n_head_kv, headDim: hd, kqScale: 1, nSwa: swa ? hp.n_swa : 0,
      }, `kqv_out-${il}`);
      const attnOut = rms(`${p}.post_attention_norm`, ops.matmul(c.w(`${p}.attn_output.weight`), kqv, `attn_out-${il}`), `attn_post_norm-${il}`);
      const attnGated = ops.add(attnOut, active, `attn_gated-${il}`);
      const attnLaurel = ops.scale(ops.add(attnGated, laurel, `attn_laurel_sum-${il}`), invSqrt2, `attn_laurel-${il}`);

      // GeGLU, the gate sparsified on the first layers
      const h = rms(`${p}.ffn_norm`, attnLaurel, `ffn_norm-${il}`);
      const up = ops.matmul(c.w(`${p}.ffn_up.weight`), h, `ffn_up-${il}`);
      let gate = ops.matmul(c.w(`${p}.ffn_gate.weight`), h, `ffn_gate-${il}`);
      if (o.sparsity && il < GEMMA3N_SPARSE_LAYERS) gate = ops.gaussianTopK(gate, SPARSITY_STD_MUL, `ffn_gate_sparse-${il}`);
      const down = ops.matmul(c.w(`${p}.ffn_down.weight`), ops.glu('gelu', gate, up, `ffn_geglu-${il}`), `ffn_out-${il}`);
      const layerOut = ops.add(rms(`${p}.post_ffw_norm`, down, `ffn_post_norm-${il}`), attnLaurel, `attn_ffw_laurel_gated-${il}`);

      // every stream corrected by the innovation times its coefficient + 1
      const corrected = o.altupCorrect
        ? ops.altupCorrect(predictions, layerOut, ops.matmul(c.w(`${p}.altup_correct_coef.weight`), router(il, layerOut, 'modalities_c'), `correct_coefs-${il}`), A, I_ALTUP_ACT, `corrected-${il}`)
        : g.view(ops.concat(g.view(layerOut, `uncorrected_active-${il}`, [n * T, 1], 0, n * T * 4),
          g.view(predictions, `uncorrected_rest-${il}`, [n * T * (A - 1), 1], n * T * 4, n * T * (A - 1) * 4), `uncorrected_flat-${il}`),
        `uncorrected-${il}`, [n, T * A], 0, n * 4);
      if (!perLayer) {
        stack = corrected;
        continue;
      }
      // the per-layer input, gated by the corrected active stream, added to the other streams
      let first = ops.mul(stream(corrected, I_ALTUP_ACT, `corrected_active-${il}`), c.w(`${p}.altup_correct_scale.weight`), `first_prediction-${il}`);
      first = ops.gelu(ops.matmul(c.w(`${p}.inp_gate.weight`), first, `first_prediction_gate-${il}`), `first_prediction_gated-${il}`);
      first = ops.mul(first, g.view(perLayer, `inp_this_layer-${il}`, [P, T], il * P * 4, L * P * 4), `first_prediction_scaled-${il}`);
      first = rms(`${p}.post_norm`, ops.matmul(c.w(`${p}.proj.weight`), first, `first_prediction_proj-${il}`), `first_prediction_out-${il}`);
      stack = ops.altupAddRest(corrected, first, A, `l_out-${il}`);
    }

    // streams 1..3 back through altup_unembd_proj at stream 0's magnitude, then the mean of the four
    const target = stream(stack, I_ALTUP_ACT, 'unembd_target');
    let merged = stream(stack, 0, 'unembd_first');
    for (let i = 0; i < A - 1; i++) {
      const unembd = ops.matmul(slice(c.w('altup_unembd_proj.weight'), i), stream(stack, i + 1, `unembd_in_${i}`), `altup_unembd_${i}`);
      merged = ops.add(merged, ops.magnitudeScale(unembd, target, `altup_unembd_scaled_${i}`), `unembd_sum_${i}`);
    }
    merged = ops.scale(merged, f32(1 / A), 'unembd_merged');
    const logits = outputHead(c, merged, (y) => rms('output_norm', y, 'result_norm'));
    return ops.softcap(logits, FINAL_SOFTCAP, 'result_output_softcapped');
  };
}

function elementsOf(t: Tensor): number {
  return t.ne.reduce((a, b) => a * b, 1);
}

export const buildGemma3n = gemma3nGraph();

const gemma3nTensors: DeclareTensors = (hp, file) => {
  // llama.cpp requires the window (4 layers of 5 slide)
  if (!hp.has_swa_key) throw new ModelError(`${hp.arch} needs ${hp.arch}.attention.sliding_window`, file.path, `${hp.arch}.attention.sliding_window`);
  const D = dims(hp);
  const nAltup = dim('n_altup', GEMMA3N_N_ALTUP);
  const nAltupM1 = dim('n_altup-1', GEMMA3N_N_ALTUP - 1);
  const nEmbdAltup = dim('n_embd_altup', GEMMA3N_N_EMBD_ALTUP);
  const laurelRank = dim('laurel_rank', GEMMA3N_LAUREL_RANK);
  const perLayerAll = dim('n_embd_altup*n_layer', GEMMA3N_N_EMBD_ALTUP * hp.n_layer);
  const headK = [D.n_embd_head_k];
  return [
    ...embeddingsAndHead(D, { output: 'optional' }),
    req('altup_proj.weight', D.n_embd, D.n_embd, nAltupM1),
    req('altup_unembd_proj.weight', D.n_embd, D.n_embd, nAltupM1),
    req('per_layer_token_embd.weight', perLayerAll, D.n_vocab),
    req('per_layer_model_proj.weight', D.n_embd, perLayerAll),
    req('per_layer_proj_norm.weight', nEmbdAltup),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D),
      ...attention(p, D, file, { qkNorm: { q: headK, k: headK, presence: 'required' } }),
      ...norm(`${p}.post_attention_norm`, D),
      ...norm(`${p}.ffn_norm`, D),
      ...ffn(p, D, { gate: 'separate' }),
      ...norm(`${p}.post_ffw_norm`, D),
      req(`${p}.inp_gate.weight`, D.n_embd, nEmbdAltup),
      req(`${p}.proj.weight`, nEmbdAltup, D.n_embd),
      ...norm(`${p}.post_norm`, D),
      req(`${p}.altup_correct_coef.weight`, nAltup, nAltup),
      ...norm(`${p}.altup_correct_scale`, D),
      req(`${p}.altup_predict_coef.weight`, nAltup, dim('n_altup*n_altup', GEMMA3N_N_ALTUP * GEMMA3N_N_ALTUP)),
      req(`${p}.altup_router.weight`, D.n_embd, nAltup),
      ...norm(`${p}.altup_router_norm`, D),
      req(`${p}.laurel_l.weight`, D.n_embd, laurelRank),
      req(`${p}.laurel_r.weight`, laurelRank, D.n_embd),
      ...norm(`${p}.laurel_post_norm`, D),
    ]),
  ];
};

export const gemma3n: Architecture = { build: buildGemma3n, tensors: gemma3nTensors, kvSource: gemma3nKvSource };
