// Which type each Llama tensor gets in a file made by llama-quantize for a
// given file type (src/llama-quant.cpp, llama_tensor_get_type): "Q4_K_M" is
// Q4_K with Q6_K for the output, for half the attn_v and ffn_down matrices,
// and so on. Only the rules that apply to a dense (no experts) Llama without
// an importance matrix are here.
import { allGGMLTypes, GGMLType, ggmlTypeInfo } from '../ggml-types.js';
import { LlamaFileType } from '../gguf/file-type.js';
import { fileTypeFor, type LlamaShape } from './llama.js';

const F = LlamaFileType;

/** llama-quantize's names for the file types it can write here, and each one's default tensor type. */
const FILE_TYPES: Readonly<Record<string, { ftype: LlamaFileType; base: GGMLType }>> = {
  F32: { ftype: F.ALL_F32, base: GGMLType.F32 },
  F16: { ftype: F.MOSTLY_F16, base: GGMLType.F16 },
  BF16: { ftype: F.MOSTLY_BF16, base: GGMLType.BF16 },
  Q4_0: { ftype: F.MOSTLY_Q4_0, base: GGMLType.Q4_0 },
  Q4_1: { ftype: F.MOSTLY_Q4_1, base: GGMLType.Q4_1 },
  Q5_0: { ftype: F.MOSTLY_Q5_0, base: GGMLType.Q5_0 },
  Q5_1: { ftype: F.MOSTLY_Q5_1, base: GGMLType.Q5_1 },
  Q8_0: { ftype: F.MOSTLY_Q8_0, base: GGMLType.Q8_0 },
  Q2_K: { ftype: F.MOSTLY_Q2_K, base: GGMLType.Q2_K },
  Q2_K_S: { ftype: F.MOSTLY_Q2_K_S, base: GGMLType.Q2_K },
  Q3_K_S: { ftype: F.MOSTLY_Q3_K_S, base: GGMLType.Q3_K },
  Q3_K_M: { ftype: F.MOSTLY_Q3_K_M, base: GGMLType.Q3_K },
  Q3_K_L: { ftype: F.MOSTLY_Q3_K_L, base: GGMLType.Q3_K },
  Q4_K_S: { ftype: F.MOSTLY_Q4_K_S, base: GGMLType.Q4_K },
  Q4_K_M: { ftype: F.MOSTLY_Q4_K_M, base: GGMLType.Q4_K },
  Q5_K_S: { ftype: F.MOSTLY_Q5_K_S, base: GGMLType.Q5_K },
  Q5_K_M: { ftype: F.MOSTLY_Q5_K_M, base: GGMLType.Q5_K },
  Q6_K: { ftype: F.MOSTLY_Q6_K, base: GGMLType.Q6_K },
};

/** The file types `quantMix` knows, by llama-quantize's name. */
export function mixNames(): string[] {
  return Object.keys(FILE_TYPES);
}

export interface QuantMix {
  /** The name asked for, canonical case ("Q4_K_M", "Q4_K:pure"). */
  name: string;
  /** The type of most matrices. */
  base: GGMLType;
  fileType: LlamaFileType;
  /** The type of one matrix (norms and other vectors stay F32 whatever this says). */
  matrixType(name: string, nIn: number, nOut: number): GGMLType;
}

/**
 * The mix for a name: a llama-quantize file type ("Q4_K_M", "Q4_0", "F16"),
 * or any ggml type name ("Q4_K") for every matrix in that type; ":pure" after
 * a file type also means every matrix in its base type (llama-quantize --pure).
 */
export function quantMix(spec: string, shape: LlamaShape): QuantMix {
  const [rawName, flag, ...rest] = spec.split(':');
  const upper = (rawName ?? '').toUpperCase();
  if (rest.length > 0 || (flag !== undefined && flag.toLowerCase() !== 'pure')) {
    throw new RangeError(`"${spec}": expected TYPE or TYPE:pure`);
  }
  const known = FILE_TYPES[upper];
  if (known && flag === undefined) {
    return { name: upper, base: known.base, fileType: known.ftype, matrixType: llamaQuantizeRules(known.ftype, known.base, shape) };
  }
  const base = known?.base ?? ggmlTypeByName(upper);
  if (base === undefined) {
    throw new RangeError(`unknown weight type "${rawName}" (file types: ${mixNames().join(', ')}; or a ggml type name)`);
  }
  return { name: flag === undefined ? upper : `${upper}:pure`, base, fileType: fileTypeFor(base), matrixType: () => base };
}

function ggmlTypeByName(name: string): GGMLType | undefined {
  return allGGMLTypes().find((i) => i.name.toUpperCase() === name)?.id;
}

/** llama.cpp's choice for i_layer of n_layers: the first and last eighths and every third layer between. */
function useMoreBits(iLayer: number, nLayers: number): boolean {
  const eighth = Math.trunc(nLayers / 8);
  return iLayer < eighth || iLayer >= Math.trunc((7 * nLayers) / 8) || (iLayer - eighth) % 3 === 2;
}

function layerOf(name: string): number {
  const m = /^blk\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
}

/**
 * llama_tensor_get_type for a Llama-architecture model: the per-ftype
 * exceptions, then the fallback for rows that are not a whole number of the
 * type's blocks. Matrices are numbered by their layer: in a Llama file each
 * layer has one attn_v and one ffn_down, in layer order, which is how
 * llama.cpp counts them.
 */
function llamaQuantizeRules(ftype: LlamaFileType, base: GGMLType, shape: LlamaShape): (name: string, nIn: number, nOut: number) => GGMLType {
  const quantized = ggmlTypeInfo(base)!.isQuantized;
  const nLayer = shape.n_layer;
  const nGqa = shape.n_head / shape.n_head_kv;
  // llama.cpp's LLM_TYPE_70B for a Llama: 80 layers with grouped-query attention
  const is70B = nLayer === 80 && shape.n_head !== shape.n_head_kv;
  return (name, nIn) => {
    if (!quantized) return base;
    let t = base;
    const il = layerOf(name);
    if (name === 'output.weight' || (shape.tied && name === 'token_embd.weight')) {
      if (nIn % ggmlTypeInfo(t)!.blockSize !== 0) t = GGMLType.Q8_0;
      else if (t !== GGMLType.Q8_0) t = GGMLType.Q6_K;
    } else if (name.endsWith('attn_v.weight')) {
      if (ftype === F.MOSTLY_Q2_K) t = nGqa >= 4 ? GGMLType.Q4_K : GGMLType.Q3_K;
      else if (ftype === F.MOSTLY_Q2_K_S && nGqa >= 4) t = GGMLType.Q4_K;
      else if (ftype === F.MOSTLY_Q3_K_M) t = il < 2 ? GGMLType.Q5_K : GGMLType.Q4_K;
      else if (ftype === F.MOSTLY_Q3_K_L) t = GGMLType.Q5_K;
      else if ((ftype === F.MOSTLY_Q4_K_M || ftype === F.MOSTLY_Q5_K_M) && useMoreBits(il, nLayer)) t = GGMLType.Q6_K;
      else if (ftype === F.MOSTLY_Q4_K_S && il < 4) t = GGMLType.Q5_K;
      if (is70B && (t === GGMLType.Q3_K || t === GGMLType.Q4_K)) t = GGMLType.Q5_K;
    } else if (name.endsWith('ffn_down.weight')) {
      const eighth = Math.trunc(nLayer / 8);
      if (ftype === F.MOSTLY_Q2_K) t = GGMLType.Q3_K;
      else if (ftype === F.MOSTLY_Q2_K_S) { if (il < eighth) t = GGMLType.Q4_K; }
      else if (ftype === F.MOSTLY_Q3_K_M) t = il < Math.trunc(nLayer / 16) ? GGMLType.Q5_K : GGMLType.Q4_K;
      else if (ftype === F.MOSTLY_Q3_K_L) t = GGMLType.Q5_K;
      else if (ftype === F.MOSTLY_Q4_K_M) { if (useMoreBits(il, nLayer)) t = GGMLType.Q6_K; }
      else if (ftype === F.MOSTLY_Q5_K_M && useMoreBits(il, nLayer)) t = GGMLType.Q6_K;
      else if (ftype === F.MOSTLY_Q4_K_S && il < eighth) t = GGMLType.Q5_K;
    } else if (name.endsWith('attn_output.weight')) {
      if (ftype === F.MOSTLY_Q2_K) t = GGMLType.Q3_K;
      else if (ftype === F.MOSTLY_Q3_K_M) t = GGMLType.Q4_K;
      else if (ftype === F.MOSTLY_Q3_K_L) t = GGMLType.Q5_K;
    }
    return fallbackType(t, nIn);
  };
}

/** tensor_type_fallback: a type whose blocks divide a row of nIn, as llama-quantize picks it. */
export function fallbackType(t: GGMLType, nIn: number): GGMLType {
  if (nIn % ggmlTypeInfo(t)!.blockSize === 0) return t;
  const FALLBACK: Partial<Record<GGMLType, GGMLType>> = {
    [GGMLType.Q2_K]: GGMLType.Q4_0, [GGMLType.Q3_K]: GGMLType.Q4_0, [GGMLType.Q4_K]: GGMLType.Q5_0,
    [GGMLType.Q5_K]: GGMLType.Q5_1, [GGMLType.Q6_K]: GGMLType.Q8_0,
  };
  // a 32-block type has nothing smaller to fall back to: F16 below, as in llama.cpp
  const f = FALLBACK[t] ?? (ggmlTypeInfo(t)!.blockSize <= 32 ? t : undefined);
  if (f === undefined) throw new RangeError(`rows of ${nIn} are not whole ${ggmlTypeInfo(t)!.name} blocks and llama.cpp has no fallback type for it`);
  return nIn % ggmlTypeInfo(f)!.blockSize === 0 ? f : GGMLType.F16;
}
