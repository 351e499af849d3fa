// GGUF metadata value types (gguf_type in ggml's gguf.h) and the JS shapes
// values take once read.

/** Ids as stored on disk (int32 before each value, and before array elements). */
export enum GGUFValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Short names as ggml prints them (gguf_type_name): "u32", "str", "arr". */
const SHORT_NAMES: Record<GGUFValueType, string> = {
  [GGUFValueType.UINT8]: 'u8',
  [GGUFValueType.INT8]: 'i8',
  [GGUFValueType.UINT16]: 'u16',
  [GGUFValueType.INT16]: 'i16',
  [GGUFValueType.UINT32]: 'u32',
  [GGUFValueType.INT32]: 'i32',
  [GGUFValueType.FLOAT32]: 'f32',
  [GGUFValueType.BOOL]: 'bool',
  [GGUFValueType.STRING]: 'str',
  [GGUFValueType.ARRAY]: 'arr',
  [GGUFValueType.UINT64]: 'u64',
  [GGUFValueType.INT64]: 'i64',
  [GGUFValueType.FLOAT64]: 'f64',
};

/** Long names, as the GGUF spec and gguf-py spell them ("uint32", "string"). */
const LONG_NAMES: Record<GGUFValueType, string> = {
  [GGUFValueType.UINT8]: 'uint8',
  [GGUFValueType.INT8]: 'int8',
  [GGUFValueType.UINT16]: 'uint16',
  [GGUFValueType.INT16]: 'int16',
  [GGUFValueType.UINT32]: 'uint32',
  [GGUFValueType.INT32]: 'int32',
  [GGUFValueType.FLOAT32]: 'float32',
  [GGUFValueType.BOOL]: 'bool',
  [GGUFValueType.STRING]: 'string',
  [GGUFValueType.ARRAY]: 'array',
  [GGUFValueType.UINT64]: 'uint64',
  [GGUFValueType.INT64]: 'int64',
  [GGUFValueType.FLOAT64]: 'float64',
};

export function isGGUFValueType(id: number): id is GGUFValueType {
  return Number.isInteger(id) && id >= 0 && id <= 12;
}

export function ggufTypeShortName(type: GGUFValueType): string {
  return SHORT_NAMES[type] ?? `type ${type}`;
}

export function ggufTypeName(type: GGUFValueType): string {
  return LONG_NAMES[type] ?? `type ${type}`;
}

/** Bytes of one fixed-size value; 0 for STRING and ARRAY, whose size depends on content. */
export function ggufTypeSize(type: GGUFValueType): number {
  switch (type) {
    case GGUFValueType.UINT8:
    case GGUFValueType.INT8:
    case GGUFValueType.BOOL:
      return 1;
    case GGUFValueType.UINT16:
    case GGUFValueType.INT16:
      return 2;
    case GGUFValueType.UINT32:
    case GGUFValueType.INT32:
    case GGUFValueType.FLOAT32:
      return 4;
    case GGUFValueType.UINT64:
    case GGUFValueType.INT64:
    case GGUFValueType.FLOAT64:
      return 8;
    default:
      return 0;
  }
}

export type GGUFNumericArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

/**
 * An array value. Numeric arrays are typed arrays (Float32Array for scores,
 * Int32Array for token types...), 64-bit ones BigInt64Array/BigUint64Array;
 * bool and string arrays are plain arrays; an array of arrays holds arrays.
 */
export type GGUFArray = GGUFNumericArray | boolean[] | string[] | GGUFArray[];

/** A metadata value as JS sees it: 64-bit integers are bigint, everything else number/boolean/string/array. */
export type GGUFValue = number | bigint | boolean | string | GGUFArray;

/**
 * A value together with its exact GGUF encoding: what the writer needs to put
 * the same bytes back.
 */
export interface GGUFTypedValue {
  type: GGUFValueType;
  value: GGUFValue;
  /** Arrays: the element type. */
  elementType?: GGUFValueType;
  /** Arrays of arrays: each element with its own types (`items[i].value === value[i]`). */
  items?: GGUFTypedValue[];
  /**
   * Scalars whose JS value does not give back the stored bytes (a string that
   * is not valid UTF-8, a bool byte other than 0/1, a NaN payload): the bytes
   * as stored, excluding any length prefix.
   */
  raw?: Uint8Array;
  /** The same for elements of string and bool arrays, by index. */
  rawItems?: Map<number, Uint8Array>;
}

/** The typed array class holding elements of a numeric type, or undefined for bool/string/array. */
export function typedArrayFor(type: GGUFValueType):
  | { new (buffer: ArrayBuffer, byteOffset?: number, length?: number): GGUFNumericArray; BYTES_PER_ELEMENT: number }
  | undefined {
  switch (type) {
    case GGUFValueType.UINT8: return Uint8Array;
    case GGUFValueType.INT8: return Int8Array;
    case GGUFValueType.UINT16: return Uint16Array;
    case GGUFValueType.INT16: return Int16Array;
    case GGUFValueType.UINT32: return Uint32Array;
    case GGUFValueType.INT32: return Int32Array;
    case GGUFValueType.FLOAT32: return Float32Array;
    case GGUFValueType.FLOAT64: return Float64Array;
    case GGUFValueType.UINT64: return BigUint64Array;
    case GGUFValueType.INT64: return BigInt64Array;
    default: return undefined;
  }
}

/** The GGUF element type a typed array stands for. */
export function typeOfTypedArray(a: unknown): GGUFValueType | undefined {
  if (a instanceof Uint8Array) return GGUFValueType.UINT8;
  if (a instanceof Int8Array) return GGUFValueType.INT8;
  if (a instanceof Uint16Array) return GGUFValueType.UINT16;
  if (a instanceof Int16Array) return GGUFValueType.INT16;
  if (a instanceof Uint32Array) return GGUFValueType.UINT32;
  if (a instanceof Int32Array) return GGUFValueType.INT32;
  if (a instanceof Float32Array) return GGUFValueType.FLOAT32;
  if (a instanceof Float64Array) return GGUFValueType.FLOAT64;
  if (a instanceof BigUint64Array) return GGUFValueType.UINT64;
  if (a instanceof BigInt64Array) return GGUFValueType.INT64;
  return undefined;
}

// Typed arrays are built straight from file bytes, which are little-endian.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
if (!HOST_IS_LITTLE_ENDIAN) {
  throw new Error('formats/gguf: big-endian hosts are not supported (GGUF numeric arrays are read as little-endian typed arrays)');
}
