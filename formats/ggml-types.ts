// The ggml tensor type table, as ggml.h numbers and names the types.
// Ids are stable on disk (GGUF tensor infos store them), so gaps left by
// removed types (4, 5, 31-33, 36-38) stay gaps.

export enum GGMLType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
}

export interface GGMLTypeInfo {
  readonly id: GGMLType;
  /** Lower-case name as ggml_type_name() prints it ("q4_K", "f16"). */
  readonly name: string;
  /** Elements per block (1 for plain scalar types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
  readonly isQuantized: boolean;
  /**
   * The type ggml quantizes the activation to before a dot product with a
   * row of this type (type_traits[].vec_dot_type); null when the type is never
   * a matmul weight (integers, Q8_K itself).
   */
  readonly vecDotType: GGMLType | null;
}

/** QK_K: elements per k-quant super-block. */
export const QK_K = 256;

function t(id: GGMLType, name: string, blockSize: number, typeSize: number, vecDotType: GGMLType | null): GGMLTypeInfo {
  return Object.freeze({ id, name, blockSize, typeSize, isQuantized: blockSize > 1, vecDotType });
}

const T = GGMLType;
const TABLE: readonly GGMLTypeInfo[] = [
  t(T.F32, 'f32', 1, 4, T.F32),
  t(T.F16, 'f16', 1, 2, T.F16),
  t(T.BF16, 'bf16', 1, 2, T.BF16),
  t(T.F64, 'f64', 1, 8, null),
  t(T.I8, 'i8', 1, 1, null),
  t(T.I16, 'i16', 1, 2, null),
  t(T.I32, 'i32', 1, 4, null),
  t(T.I64, 'i64', 1, 8, null),
  // legacy block quants: 32 elements, one (or two) f16 scales per block
  t(T.Q4_0, 'q4_0', 32, 2 + 16, T.Q8_0),
  t(T.Q4_1, 'q4_1', 32, 2 + 2 + 16, T.Q8_1),
  t(T.Q5_0, 'q5_0', 32, 2 + 4 + 16, T.Q8_0),
  t(T.Q5_1, 'q5_1', 32, 2 + 2 + 4 + 16, T.Q8_1),
  t(T.Q8_0, 'q8_0', 32, 2 + 32, T.Q8_0),
  t(T.Q8_1, 'q8_1', 32, 2 + 2 + 32, T.Q8_1),
  // k-quants: 256-element super-blocks
  t(T.Q2_K, 'q2_K', QK_K, 16 + 64 + 2 + 2, T.Q8_K),
  t(T.Q3_K, 'q3_K', QK_K, 32 + 64 + 12 + 2, T.Q8_K),
  t(T.Q4_K, 'q4_K', QK_K, 2 + 2 + 12 + 128, T.Q8_K),
  t(T.Q5_K, 'q5_K', QK_K, 2 + 2 + 12 + 32 + 128, T.Q8_K),
  t(T.Q6_K, 'q6_K', QK_K, 128 + 64 + 16 + 2, T.Q8_K),
  t(T.Q8_K, 'q8_K', QK_K, 4 + 256 + 2 * 16, null),
  // i-quants and ternary types: known for sizes, not computed on (yet)
  t(T.IQ2_XXS, 'iq2_xxs', QK_K, 2 + 64, T.Q8_K),
  t(T.IQ2_XS, 'iq2_xs', QK_K, 2 + 64 + 8, T.Q8_K),
  t(T.IQ3_XXS, 'iq3_xxs', QK_K, 2 + 64 + 32, T.Q8_K),
  t(T.IQ1_S, 'iq1_s', QK_K, 2 + 32 + 16, T.Q8_K),
  t(T.IQ4_NL, 'iq4_nl', 32, 2 + 16, T.Q8_0),
  t(T.IQ3_S, 'iq3_s', QK_K, 2 + 64 + 8 + 32 + 4, T.Q8_K),
  t(T.IQ2_S, 'iq2_s', QK_K, 2 + 64 + 8 + 8, T.Q8_K),
  t(T.IQ4_XS, 'iq4_xs', QK_K, 2 + 2 + 4 + 128, T.Q8_K),
  t(T.IQ1_M, 'iq1_m', QK_K, 32 + 16 + 8, T.Q8_K),
  t(T.TQ1_0, 'tq1_0', QK_K, 48 + 4 + 2, T.Q8_K),
  t(T.TQ2_0, 'tq2_0', QK_K, 64 + 2, T.Q8_K),
  t(T.MXFP4, 'mxfp4', 32, 1 + 16, T.Q8_0),
];

const BY_ID = new Map<number, GGMLTypeInfo>(TABLE.map((info) => [info.id, info]));

/** Info for a type id, or undefined for an id ggml does not define. */
export function ggmlTypeInfo(id: number): GGMLTypeInfo | undefined {
  return BY_ID.get(id);
}

/** Every known type, in id order. */
export function allGGMLTypes(): readonly GGMLTypeInfo[] {
  return [...TABLE].sort((a, b) => a.id - b.id);
}

/** Display name as llama.cpp prints it in tensor tables ("Q4_K", "F16"). */
export function ggmlTypeName(id: number): string {
  const info = BY_ID.get(id);
  return info ? info.name.toUpperCase() : `unknown(${id})`;
}

/**
 * Bytes taken by `ne0` elements of `type` (ggml_row_size). Throws a RangeError
 * when ne0 is not a whole number of blocks, since such a row cannot exist.
 */
export function rowSize(type: GGMLType | number, ne0: number): number {
  const info = BY_ID.get(type);
  if (!info) throw new RangeError(`unknown ggml type id ${type}`);
  if (ne0 % info.blockSize !== 0) {
    throw new RangeError(`${info.name}: row length ${ne0} is not a multiple of the block size ${info.blockSize}`);
  }
  return (ne0 / info.blockSize) * info.typeSize;
}
