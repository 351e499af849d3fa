// Which ggml type each tensor of a model gets when llama-quantize writes it in
// a given file type: a port of llama.cpp's llama_tensor_get_type and the
// state it keeps while walking a model's tensors (quantize_state_impl). The
// choice depends on the model's hyper-parameters (architecture, layer count,
// grouped-query attention, expert count), on each tensor's category, and on
// how many tensors of that category came before it, so types are chosen for
// the whole tensor list at once, in llama.cpp's walking order.
//
// Every llama_ftype llama-quantize writes, but Q1_0 / Q2_0 (no such ggml
// types here), has its rules here; the PRESETS table holds those we have
// quantizers for without an importance matrix, GRID_PRESETS the grid i-quant
// ones (most of whose tensors llama-quantize writes only with an imatrix).
import { GGMLType, ggmlTypeInfo, ggmlTypeName } from '../ggml-types.js';
import { LlamaFileType } from '../gguf/file-type.js';

const F = LlamaFileType;
const T = GGMLType;

/** A llama-quantize file type and its default (most matrices') type, llama_ftype_get_default_type. */
export interface Preset { ftype: LlamaFileType; base: GGMLType }

/** llama-quantize's names for the file types it can write here, each with its default (most matrices') type. */
export const PRESETS: Readonly<Record<string, Preset>> = {
  F32: { ftype: F.ALL_F32, base: T.F32 },
  F16: { ftype: F.MOSTLY_F16, base: T.F16 },
  BF16: { ftype: F.MOSTLY_BF16, base: T.BF16 },
  Q4_0: { ftype: F.MOSTLY_Q4_0, base: T.Q4_0 },
  Q4_1: { ftype: F.MOSTLY_Q4_1, base: T.Q4_1 },
  Q5_0: { ftype: F.MOSTLY_Q5_0, base: T.Q5_0 },
  Q5_1: { ftype: F.MOSTLY_Q5_1, base: T.Q5_1 },
  Q8_0: { ftype: F.MOSTLY_Q8_0, base: T.Q8_0 },
  Q2_K: { ftype: F.MOSTLY_Q2_K, base: T.Q2_K },
  Q2_K_S: { ftype: F.MOSTLY_Q2_K_S, base: T.Q2_K },
  Q3_K_S: { ftype: F.MOSTLY_Q3_K_S, base: T.Q3_K },
  Q3_K_M: { ftype: F.MOSTLY_Q3_K_M, base: T.Q3_K },
  Q3_K_L: { ftype: F.MOSTLY_Q3_K_L, base: T.Q3_K },
  Q4_K_S: { ftype: F.MOSTLY_Q4_K_S, base: T.Q4_K },
  Q4_K_M: { ftype: F.MOSTLY_Q4_K_M, base: T.Q4_K },
  Q5_K_S: { ftype: F.MOSTLY_Q5_K_S, base: T.Q5_K },
  Q5_K_M: { ftype: F.MOSTLY_Q5_K_M, base: T.Q5_K },
  Q6_K: { ftype: F.MOSTLY_Q6_K, base: T.Q6_K },
  IQ4_NL: { ftype: F.MOSTLY_IQ4_NL, base: T.IQ4_NL },
  IQ4_XS: { ftype: F.MOSTLY_IQ4_XS, base: T.IQ4_XS },
  TQ1_0: { ftype: F.MOSTLY_TQ1_0, base: T.TQ1_0 },
  TQ2_0: { ftype: F.MOSTLY_TQ2_0, base: T.TQ2_0 },
  // the default is MXFP4, but only stacked experts keep it: the rules put every other matrix in Q8_0
  MXFP4_MOE: { ftype: F.MOSTLY_MXFP4_MOE, base: T.MXFP4 },
};

/**
 * llama-quantize's grid i-quant file types: their low-bit tensors need an
 * importance matrix (tensorRequiresImatrix). IQ2_S's default is IQ2_XS and
 * IQ2_M's IQ2_S, as llama.cpp has them (the mix, not the default, makes the
 * difference); IQ3_XS, IQ3_S and IQ3_M all default to IQ3_S.
 */
export const GRID_PRESETS: Readonly<Record<string, Preset>> = {
  IQ2_XXS: { ftype: F.MOSTLY_IQ2_XXS, base: T.IQ2_XXS },
  IQ2_XS: { ftype: F.MOSTLY_IQ2_XS, base: T.IQ2_XS },
  IQ2_S: { ftype: F.MOSTLY_IQ2_S, base: T.IQ2_XS },
  IQ2_M: { ftype: F.MOSTLY_IQ2_M, base: T.IQ2_S },
  IQ1_S: { ftype: F.MOSTLY_IQ1_S, base: T.IQ1_S },
  IQ1_M: { ftype: F.MOSTLY_IQ1_M, base: T.IQ1_M },
  IQ3_XXS: { ftype: F.MOSTLY_IQ3_XXS, base: T.IQ3_XXS },
  IQ3_XS: { ftype: F.MOSTLY_IQ3_XS, base: T.IQ3_S },
  IQ3_S: { ftype: F.MOSTLY_IQ3_S, base: T.IQ3_S },
  IQ3_M: { ftype: F.MOSTLY_IQ3_M, base: T.IQ3_S },
};

/** The preset names, in PRESETS order. */
export function presetNames(): string[] {
  return Object.keys(PRESETS);
}

/** llama_ftype_get_default_type for the file types ported here; throws for the others (Q1_0, Q2_0, NVFP4). */
export function ftypeDefaultType(ftype: LlamaFileType): GGMLType {
  const p = [...Object.values(PRESETS), ...Object.values(GRID_PRESETS)].find((x) => x.ftype === ftype);
  if (!p) throw new RangeError(`file type ${ftype} has no per-tensor rules here (no quantizer for its types)`);
  return p.base;
}

/**
 * Broad tensor roles, as llama.cpp's quantizer sorts names into them (not the
 * per-architecture tensor names a loader knows): the rules are written per
 * role so every architecture's attn_v, ffn_down... get them.
 */
export enum TensorCategory {
  TokenEmbd = 'token_embd',
  AttentionQ = 'attn_q',
  AttentionV = 'attn_v',
  AttentionK = 'attn_k',
  AttentionQKV = 'attn_qkv',
  AttentionKVB = 'attn_kv_b',
  AttentionOutput = 'attn_output',
  FfnUp = 'ffn_up',
  FfnGate = 'ffn_gate',
  FfnDown = 'ffn_down',
  Output = 'output',
  Other = 'other',
}

/**
 * tensor_get_category: the first matching substring wins, in this order, so
 * "ffn_up_exps" and "ffn_up_shexp" are FfnUp and "ffn_down_exps" is FfnDown.
 */
export function tensorCategory(name: string): TensorCategory {
  if (name === 'output.weight') return TensorCategory.Output;
  if (name === 'token_embd.weight' || name === 'per_layer_token_embd.weight') return TensorCategory.TokenEmbd;
  const order: [string, TensorCategory][] = [
    ['attn_qkv.weight', TensorCategory.AttentionQKV],
    ['attn_kv_b.weight', TensorCategory.AttentionKVB],
    ['attn_v.weight', TensorCategory.AttentionV],
    ['attn_k.weight', TensorCategory.AttentionK],
    ['attn_q.weight', TensorCategory.AttentionQ],
    ['attn_output.weight', TensorCategory.AttentionOutput],
    ['ffn_up', TensorCategory.FfnUp],
    ['ffn_gate', TensorCategory.FfnGate],
    ['ffn_down', TensorCategory.FfnDown],
  ];
  for (const [part, cat] of order) if (name.includes(part)) return cat;
  return TensorCategory.Other;
}

/** The value matrices (alone or fused into qkv / kv_b): they get the attn_v rules and are counted together. */
function isAttnVLike(c: TensorCategory): boolean {
  return c === TensorCategory.AttentionV || c === TensorCategory.AttentionQKV || c === TensorCategory.AttentionKVB;
}

/** The hyper-parameters llama_tensor_get_type looks at, as llama.cpp's loader reads them. */
export interface QuantizeHParams {
  /** general.architecture. */
  arch: string;
  /** {arch}.block_count (n_layer_all): the layer count of the ffn rules. */
  nLayer: number;
  /** Layer 0's head counts: n_gqa() is their quotient. */
  nHead: number;
  nHeadKv: number;
  /** {arch}.expert_count, 0 for a dense model. */
  nExpert: number;
  /** The loader's model size is LLM_TYPE_70B (80-layer Llama 2/3 70B and kin): attn_v gets more bits. */
  is70B: boolean;
}

/** n_gqa(): query heads per KV head, in integer division; 0 when there are no KV heads. */
export function nGqa(hp: QuantizeHParams): number {
  return hp.nHeadKv === 0 ? 0 : Math.trunc(hp.nHead / hp.nHeadKv);
}

/**
 * The architectures whose loaders call some shape LLM_TYPE_70B, by layer
 * count (the only model size the quantizer's rules ask about). A Llama file
 * with 8 experts is sized as a Mixtral instead, and an 80-layer Llama without
 * GQA is the 65B.
 */
function is70BOf(arch: string, nLayer: number, nHead: number, nHeadKv: number, nExpert: number): boolean {
  switch (arch) {
    case 'llama': return nExpert !== 8 && nLayer === 80 && nHead !== nHeadKv;
    case 'qwen2': case 'deci': case 'olmo': return nLayer === 80;
    case 'jais2': return nLayer === 68;
    default: return false;
  }
}

/** Reads the hyper-parameters from a model's metadata (`get` a GGUF key's value). */
export function quantizeHParams(get: (key: string) => unknown): QuantizeHParams {
  const arch = String(get('general.architecture') ?? 'llama');
  // a per-layer array (head_count_kv of some models) counts by its first layer, as n_gqa() does
  const num = (key: string): number | undefined => {
    const v = get(`${arch}.${key}`);
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    if (v && typeof v === 'object' && 'length' in v) {
      const a = v as ArrayLike<unknown>;
      return a.length > 0 ? Number(a[0]) : undefined;
    }
    return undefined;
  };
  const nLayer = num('block_count') ?? 0;
  const nHead = num('attention.head_count') ?? 0;
  // without the key every KV head is a query head (no GQA)
  const nHeadKv = num('attention.head_count_kv') ?? nHead;
  const nExpert = num('expert_count') ?? 0;
  return { arch, nLayer, nHead, nHeadKv, nExpert, is70B: is70BOf(arch, nLayer, nHead, nHeadKv, nExpert) };
}

/** ggml_n_dims: trailing dimensions of 1 do not count. */
function nDimsOf(shape: readonly number[]): number {
  let n = shape.length;
  while (n > 1 && shape[n - 1] === 1) n--;
  return Math.max(1, n);
}

/** Small or index-like tensors llama.cpp copies whatever the file type (substrings of their names). */
const NEVER_QUANTIZED = [
  '_norm.weight', 'ffn_gate_inp.weight', 'ffn_gate_tid2eid.weight', 'altup', 'laurel', 'per_layer_model_proj',
  'ssm_conv1d', 'shortconv.conv.weight', 'indexer.k_proj.weight', 'indexer.q_proj.weight',
  'time_mix_first.weight', 'time_mix_w0.weight', 'time_mix_w1.weight', 'time_mix_w2.weight', 'time_mix_v0.weight',
  'time_mix_v1.weight', 'time_mix_v2.weight', 'time_mix_a0.weight', 'time_mix_a1.weight', 'time_mix_a2.weight',
  'time_mix_g1.weight', 'time_mix_g2.weight', 'time_mix_decay_w1.weight', 'time_mix_decay_w2.weight',
  'time_mix_lerp_fused.weight', 'attn_rel_b.weight', '.position_embd', 'sam.pos_embd', 'sam.neck.', 'sam.net_',
  '.rel_pos', '.patch_embd', '.patch_merger', 'a.rvq.codebook', 'mm.a.code_embd',
];

/**
 * tensor_allows_quantization: weights of 2 or 3 dimensions (3 for stacked
 * experts), except norms, routers, positional embeddings and the other small
 * tensors llama.cpp keeps as they are; output.weight unless it is to be left
 * alone (llama-quantize --leave-output-tensor).
 */
export function tensorAllowsQuantization(t: { name: string; shape: readonly number[] }, quantizeOutputTensor = true): boolean {
  if (nDimsOf(t.shape) < 2) return false;
  const n = t.name;
  if (!n.endsWith('weight')) return false;
  if (!quantizeOutputTensor && n === 'output.weight') return false;
  if (n === 'position_embd.weight' || n === 'token_types.weight') return false;
  return !NEVER_QUANTIZED.some((part) => n.includes(part));
}

/**
 * tensor_type_fallback: a type whose blocks divide a row of `nCols`. The
 * 256-wide k-quants fall back to a 32-wide legacy type of about as many bits;
 * a 32-wide type has nothing narrower; F16 when even 32 does not divide.
 */
export function tensorTypeFallback(target: GGMLType, nCols: number): GGMLType {
  const block = ggmlTypeInfo(target)!.blockSize;
  if (nCols % block === 0) return target;
  const NARROWER: Partial<Record<GGMLType, GGMLType>> = {
    [T.Q2_K]: T.Q4_0, [T.Q3_K]: T.Q4_0, [T.TQ1_0]: T.Q4_0, [T.TQ2_0]: T.Q4_0,
    [T.Q4_K]: T.Q5_0, [T.Q5_K]: T.Q5_1, [T.Q6_K]: T.Q8_0,
    [T.IQ1_S]: T.IQ4_NL, [T.IQ1_M]: T.IQ4_NL, [T.IQ2_XXS]: T.IQ4_NL, [T.IQ2_XS]: T.IQ4_NL,
    [T.IQ2_S]: T.IQ4_NL, [T.IQ3_XXS]: T.IQ4_NL, [T.IQ3_S]: T.IQ4_NL, [T.IQ4_XS]: T.IQ4_NL,
  };
  const f = NARROWER[target] ?? (block <= 32 ? target : undefined);
  if (f === undefined) throw new RangeError(`rows of ${nCols} are not whole ${ggmlTypeName(target)} blocks and llama.cpp has no fallback type for it`);
  return nCols % ggmlTypeInfo(f)!.blockSize === 0 ? f : T.F16;
}

/**
 * tensor_requires_imatrix: the grid i-quants below 3.5 bits (IQ3_S and up
 * excepted), and the Q2_K tensors of a Q2_K_S file, come out as garbage
 * without importance weights, so llama-quantize refuses them; the token
 * embedding and output are never held to it.
 */
export function tensorRequiresImatrix(name: string, type: GGMLType, ftype: LlamaFileType): boolean {
  if (tensorCategory(name) === TensorCategory.TokenEmbd || tensorCategory(name) === TensorCategory.Output) return false;
  switch (type) {
    case T.IQ3_XXS: case T.IQ2_XXS: case T.IQ2_XS: case T.IQ2_S: case T.IQ1_M: case T.IQ1_S: return true;
    case T.Q2_K: return ftype === F.MOSTLY_Q2_K_S;
    default: return false;
  }
}

export interface TensorTypeParams {
  ftype: LlamaFileType;
  /** --pure: no per-tensor rules, only the row-length fallback. */
  pure?: boolean;
  /** --output-tensor-type. */
  outputTensorType?: GGMLType;
  /** --token-embedding-type. */
  tokenEmbeddingType?: GGMLType;
  /** An importance matrix is given: Q4_0 / Q5_0 then give the first eighth of ffn_down more bits. */
  hasImatrix?: boolean;
  /** False for --leave-output-tensor. Default true. */
  quantizeOutputTensor?: boolean;
}

export interface TensorRef {
  name: string;
  /** ne[0] (the row length) first. */
  shape: readonly number[];
  /** The type it has now (kept when it may not be quantized). */
  type: GGMLType;
}

export interface TensorTypeChoice {
  type: GGMLType;
  /** False: copied as it is (norms, routers, vectors). */
  allowsQuantization: boolean;
  /** What the rules asked for when the row length forced a fallback to `type`. */
  fallbackFrom?: GGMLType;
  /** llama-quantize stops without an imatrix for this tensor (tensorRequiresImatrix). */
  requiresImatrix: boolean;
  /** The category the rules saw. */
  category: TensorCategory;
}

/** The block number a name starts with ("blk.12." is 12), as the loader's sscanf reads it. */
function blockOf(name: string): number | undefined {
  const m = /^blk\.([+-]?\d+)/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * The order llama.cpp's loader keeps tensors in (weight_name_comparer):
 * tensors outside the blocks first, then by block number (blk.10 after
 * blk.9), then by name. The per-category counters advance in this order,
 * whatever the file's.
 */
function loaderOrder(tensors: readonly TensorRef[]): number[] {
  const keys = tensors.map((t) => blockOf(t.name) ?? -1);
  return tensors.map((_, i) => i).sort((a, b) => {
    if (keys[a] !== keys[b]) return keys[a]! - keys[b]!;
    const na = tensors[a]!.name, nb = tensors[b]!.name;
    return na < nb ? -1 : na > nb ? 1 : 0;
  });
}

/** llama.cpp's use_more_bits: the first and last eighths of the layers and every third one between. */
export function useMoreBits(iLayer: number, nLayers: number): boolean {
  const eighth = Math.trunc(nLayers / 8);
  return iLayer < eighth || iLayer >= Math.trunc((7 * nLayers) / 8) || (iLayer - eighth) % 3 === 2;
}

/** Counters of quantize_state_impl: how many value / ffn matrices there are and how many were typed so far. */
interface QuantizeState {
  nAttentionWv: number;
  iAttentionWv: number;
  nFfnDown: number;
  iFfnDown: number;
  nFfnGate: number;
  iFfnGate: number;
  nFfnUp: number;
  iFfnUp: number;
  hasTiedEmbeddings: boolean;
}

/**
 * Every tensor's type, as llama-quantize chooses it (llama_tensor_get_type
 * for each tensor, in the loader's order); results are in `tensors`' order.
 */
export function llamaTensorTypes(tensors: readonly TensorRef[], hp: QuantizeHParams, params: TensorTypeParams): TensorTypeChoice[] {
  const defaultType = ftypeDefaultType(params.ftype);
  const categories = tensors.map((t) => tensorCategory(t.name));
  const qs: QuantizeState = {
    // every value-like matrix counts, quantizable or not: the thresholds are fractions of all of them
    nAttentionWv: categories.filter(isAttnVLike).length,
    iAttentionWv: 0,
    // the ffn rules count layers, not tensors: a layer can hold several ffn_down (experts, shared expert)
    nFfnDown: hp.nLayer, iFfnDown: 0, nFfnGate: hp.nLayer, iFfnGate: 0, nFfnUp: hp.nLayer, iFfnUp: 0,
    // tied (the head reads token_embd) unless there is an output.weight
    hasTiedEmbeddings: !categories.includes(TensorCategory.Output),
  };
  const out: TensorTypeChoice[] = new Array(tensors.length);
  for (const i of loaderOrder(tensors)) {
    const t = tensors[i]!;
    const category = categories[i]!;
    const allows = tensorAllowsQuantization(t, params.quantizeOutputTensor ?? true);
    let type = t.type;
    let fallbackFrom: GGMLType | undefined;
    if (allows) {
      if (params.tokenEmbeddingType !== undefined && category === TensorCategory.TokenEmbd) type = params.tokenEmbeddingType;
      else if (params.outputTensorType !== undefined && category === TensorCategory.Output) type = params.outputTensorType;
      else {
        type = defaultType;
        // F16 / BF16 / F32 file types put every weight in that type: the mix rules are for quantized types
        if (ggmlTypeInfo(defaultType)!.isQuantized) {
          if (!params.pure) type = tensorTypeByRules(qs, hp, params, t, category, type);
          const fitted = tensorTypeFallback(type, t.shape[0] ?? 1);
          if (fitted !== type) fallbackFrom = type;
          type = fitted;
        }
      }
    }
    out[i] = {
      type, allowsQuantization: allows, category,
      requiresImatrix: tensorRequiresImatrix(t.name, type, params.ftype),
      ...(fallbackFrom !== undefined ? { fallbackFrom } : {}),
    };
  }
  return out;
}

/**
 * llama_tensor_get_type_impl: the per-ftype exceptions by category, layer
 * and model shape. The counters advance as llama.cpp's do (a value matrix,
 * an ffn matrix), even where no rule applies, because later tensors'
 * thresholds depend on them; and only where llama.cpp advances them (the
 * MXFP4_MOE and 2-bit grid branches skip some), for the same reason.
 */
function tensorTypeByRules(qs: QuantizeState, hp: QuantizeHParams, params: TensorTypeParams, t: TensorRef, category: TensorCategory, type: GGMLType): GGMLType {
  const ftype = params.ftype;
  const is = (...fs: LlamaFileType[]) => fs.includes(ftype);
  const falcon = hp.arch === 'falcon';
  const gqa = nGqa(hp);
  const nExpert = Math.max(1, hp.nExpert);
  // Mixtral-style files interleave the experts' tensors, so with experts the
  // layer is read from the name rather than taken from the counter
  const layerInfo = (counter: number, nLayer: number): [number, number] => {
    if (nExpert <= 1) return [counter, nLayer];
    const il = blockOf(t.name);
    if (il === undefined) throw new RangeError(`failed to determine the layer of tensor ${t.name}`);
    if (il < 0 || il >= nLayer) throw new RangeError(`bad layer ${il} for tensor ${t.name}: must be in [0, ${nLayer})`);
    return [il, nLayer];
  };
  // the 2-bit and 1-bit grid file types, whose mix is a branch of its own
  const lowGrid = is(F.MOSTLY_IQ2_XXS, F.MOSTLY_IQ2_XS, F.MOSTLY_IQ1_S, F.MOSTLY_IQ2_S, F.MOSTLY_IQ2_M, F.MOSTLY_IQ1_M);
  const iq2SM = is(F.MOSTLY_IQ2_S, F.MOSTLY_IQ2_M);

  if (category === TensorCategory.Output || (qs.hasTiedEmbeddings && category === TensorCategory.TokenEmbd)) {
    // the head is the most sensitive matrix: Q6_K, or Q8_0 where the default type's blocks do not fit its rows;
    // a tied token_embd is the head too, so it gets the head's type
    if (params.outputTensorType !== undefined) return params.outputTensorType;
    const nx = t.shape[0] ?? 1;
    // MXFP4_MOE keeps everything but the experts at 8 bits
    if (ftype === F.MOSTLY_MXFP4_MOE) return T.Q8_0;
    if (falcon || nx % ggmlTypeInfo(type)!.blockSize !== 0) return T.Q8_0;
    // at 1-3 bits Q5_K for the head is the better trade than Q6_K
    if (is(F.MOSTLY_IQ2_XXS, F.MOSTLY_IQ2_XS, F.MOSTLY_IQ3_XXS, F.MOSTLY_IQ1_S, F.MOSTLY_IQ2_S, F.MOSTLY_IQ2_M, F.MOSTLY_IQ1_M)) return T.Q5_K;
    return type !== T.Q8_0 ? T.Q6_K : type;
  }
  if (ftype === F.MOSTLY_MXFP4_MOE) {
    // stacked experts (a third dimension) in MXFP4, every other matrix in Q8_0; bailingmoe3's MLA
    // projections are 3-D too, so there only the ffn roles count as experts
    const bailing = hp.arch === 'bailingmoe3';
    const ffn = category === TensorCategory.FfnUp || category === TensorCategory.FfnGate || category === TensorCategory.FfnDown;
    return (t.shape[2] ?? 1) > 1 && (!bailing || ffn) ? T.MXFP4 : T.Q8_0;
  }
  if (category === TensorCategory.TokenEmbd) {
    // an untied embedding is only looked up, never multiplied: the very low-bit file types give it a cheap
    // but not-garbage type (and one needing no imatrix), the others their default
    if (params.tokenEmbeddingType !== undefined) return params.tokenEmbeddingType;
    if (is(F.MOSTLY_IQ2_XXS, F.MOSTLY_IQ2_XS, F.MOSTLY_IQ1_S, F.MOSTLY_IQ1_M)) return T.Q2_K;
    if (iq2SM || ftype === F.MOSTLY_IQ3_XXS) return T.IQ3_S;
    if (is(F.MOSTLY_TQ1_0, F.MOSTLY_TQ2_0)) return T.Q4_K;
    return type;
  }
  if (lowGrid) {
    if (isAttnVLike(category)) {
      type = gqa >= 4 || hp.nExpert >= 4 ? T.Q4_K : iq2SM ? T.IQ3_S : T.Q2_K;
      qs.iAttentionWv++;
    } else if (hp.nExpert === 8 && category === TensorCategory.AttentionK) {
      type = T.Q4_K;
    } else if (category === TensorCategory.FfnDown) {
      // the first eighth by tensor count (not by layer name, unlike the other file types)
      if (qs.iFfnDown < Math.trunc(qs.nFfnDown / 8)) type = iq2SM ? T.IQ3_S : T.Q2_K;
      qs.iFfnDown++;
    } else if (category === TensorCategory.AttentionOutput) {
      if (hp.nExpert === 8) type = T.Q5_K;
      else if (is(F.MOSTLY_IQ1_S, F.MOSTLY_IQ1_M)) type = T.IQ2_XXS;
      else if (iq2SM) type = T.IQ3_S;
    }
    return type;
  }
  if (isAttnVLike(category)) {
    // (a fused attn_qkv lands here too: its own rules further down in llama.cpp are never reached)
    if (ftype === F.MOSTLY_Q2_K) type = gqa >= 4 ? T.Q4_K : T.Q3_K;
    else if (ftype === F.MOSTLY_Q2_K_S && gqa >= 4) type = T.Q4_K;
    else if (ftype === F.MOSTLY_IQ3_XXS) type = gqa >= 4 ? T.Q4_K : !params.hasImatrix ? T.IQ3_S : T.IQ3_XXS;
    else if (is(F.MOSTLY_IQ3_XS, F.MOSTLY_IQ3_S) && gqa >= 4) type = T.Q4_K;
    else if (ftype === F.MOSTLY_IQ3_M) type = T.Q4_K;
    else if (ftype === F.MOSTLY_Q3_K_M) type = qs.iAttentionWv < 2 ? T.Q5_K : T.Q4_K;
    else if (ftype === F.MOSTLY_Q3_K_L) type = T.Q5_K;
    // with GQA each value matrix serves several query heads: it is small, so more bits cost little
    else if (is(F.MOSTLY_IQ4_NL, F.MOSTLY_IQ4_XS) && gqa >= 4) type = T.Q5_K;
    else if (is(F.MOSTLY_Q4_K_M, F.MOSTLY_Q5_K_M) && useMoreBits(qs.iAttentionWv, qs.nAttentionWv)) type = T.Q6_K;
    else if (ftype === F.MOSTLY_Q4_K_S && qs.iAttentionWv < 4) type = T.Q5_K;
    // a 70B shares each value matrix among 8 query heads: it is 8x smaller than attn_q, so more bits cost little
    if (hp.is70B && (type === T.Q3_K || type === T.Q4_K)) type = T.Q5_K;
    // 8 experts (Mixtral): attention is a small part of the model, Q8_0 costs little
    if (hp.nExpert === 8) type = T.Q8_0;
    qs.iAttentionWv++;
    return type;
  }
  if (category === TensorCategory.AttentionK) {
    if (hp.nExpert === 8) type = T.Q8_0;
    else if (ftype === F.MOSTLY_IQ3_XS) type = T.IQ3_XXS;
    else if (ftype === F.MOSTLY_IQ3_XXS) type = T.IQ2_S;
    return type;
  }
  if (category === TensorCategory.AttentionQ) {
    if (ftype === F.MOSTLY_IQ3_XS) type = T.IQ3_XXS;
    else if (ftype === F.MOSTLY_IQ3_XXS) type = T.IQ2_S;
    return type;
  }
  if (category === TensorCategory.FfnDown) {
    const [il, nl] = layerInfo(qs.iFfnDown, qs.nFfnDown);
    const more = useMoreBits(il, nl);
    if (ftype === F.MOSTLY_Q2_K) type = T.Q3_K;
    else if (ftype === F.MOSTLY_Q2_K_S) { if (il < Math.trunc(nl / 8)) type = T.Q4_K; }
    else if (ftype === F.MOSTLY_IQ3_XXS && !params.hasImatrix) type = il < Math.trunc(nl / 8) ? T.Q4_K : T.Q3_K;
    else if (ftype === F.MOSTLY_Q3_K_M) type = il < Math.trunc(nl / 16) ? T.Q5_K : !falcon || more ? T.Q4_K : T.Q3_K;
    else if (ftype === F.MOSTLY_IQ3_M && (il < Math.trunc(nl / 8) || (hp.nExpert === 8 && more))) type = T.Q4_K;
    else if (ftype === F.MOSTLY_Q3_K_L) type = falcon ? T.Q4_K : T.Q5_K;
    else if (ftype === F.MOSTLY_Q4_K_M) {
      if (falcon) type = il < Math.trunc(nl / 16) ? T.Q6_K : more ? T.Q5_K : T.Q4_K;
      else if (more) type = T.Q6_K;
    }
    // without an imatrix the first ffn_down layers are where IQ4 loses most: Q5_K there
    else if (il < Math.trunc(nl / 8) && is(F.MOSTLY_IQ4_NL, F.MOSTLY_IQ4_XS) && !params.hasImatrix) type = T.Q5_K;
    else if (ftype === F.MOSTLY_Q5_K_M && more) type = T.Q6_K;
    else if (ftype === F.MOSTLY_Q4_K_S && !falcon && il < Math.trunc(nl / 8)) type = T.Q5_K;
    else if ((ftype === F.MOSTLY_Q4_0 || ftype === F.MOSTLY_Q5_0) && params.hasImatrix && il < Math.trunc(nl / 8)) {
      // the first ffn_down layers can go wrong even with an imatrix in Q4_0 / Q5_0; only with one, so that a
      // file without stays what it always was (and Q4_1 / Q5_1 would go wrong without an imatrix)
      type = ftype === F.MOSTLY_Q4_0 ? T.Q4_1 : T.Q5_1;
    }
    qs.iFfnDown++;
    return type;
  }
  if (category === TensorCategory.AttentionOutput) {
    if (!falcon) {
      if (hp.nExpert === 8) {
        const bumped = [
          F.MOSTLY_Q2_K, F.MOSTLY_IQ3_XS, F.MOSTLY_IQ3_XXS, F.MOSTLY_Q3_K_S, F.MOSTLY_Q3_K_M, F.MOSTLY_IQ4_NL,
          F.MOSTLY_Q4_K_S, F.MOSTLY_Q4_K_M, F.MOSTLY_IQ3_S, F.MOSTLY_IQ3_M, F.MOSTLY_IQ4_XS,
        ];
        if (bumped.includes(ftype)) type = T.Q5_K;
      } else if (ftype === F.MOSTLY_Q2_K) type = T.Q3_K;
      else if (ftype === F.MOSTLY_IQ3_XXS) type = T.IQ3_S;
      else if (ftype === F.MOSTLY_Q3_K_M) type = T.Q4_K;
      else if (ftype === F.MOSTLY_Q3_K_L) type = T.Q5_K;
      else if (ftype === F.MOSTLY_IQ3_M) type = T.Q4_K;
    } else if (ftype === F.MOSTLY_Q3_K_L) type = T.Q4_K;
    return type;
  }
  // ffn_gate / ffn_up: IQ3_XS gives the middle layers IQ3_XXS; the layer must parse and the counters advance
  if (category === TensorCategory.FfnGate || category === TensorCategory.FfnUp) {
    const gate = category === TensorCategory.FfnGate;
    const [il, nl] = layerInfo(gate ? qs.iFfnGate : qs.iFfnUp, gate ? qs.nFfnGate : qs.nFfnUp);
    if (ftype === F.MOSTLY_IQ3_XS && il >= Math.trunc(nl / 8) && il < Math.trunc((7 * nl) / 8)) type = T.IQ3_XXS;
    if (gate) qs.iFfnGate++;
    else qs.iFfnUp++;
  }
  return type;
}
