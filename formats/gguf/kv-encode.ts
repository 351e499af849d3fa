// Metadata values on the way out: infer a GGUF type when none is given,
// check the value fits it, and write the bytes.
import type { ByteBuilder } from './byte-builder.js';
import { GGUFError } from './errors.js';
import { encodeString } from './strings.js';
import {
  GGUFValueType, ggufTypeName, ggufTypeSize, typeOfTypedArray, typedArrayFor,
  type GGUFArray, type GGUFNumericArray, type GGUFTypedValue, type GGUFValue,
} from './value-types.js';

/**
 * A metadata entry to write. `type` (and `elementType` for arrays) may be
 * left out and is then inferred:
 * - string -> STRING, boolean -> BOOL, bigint -> INT64 when negative else UINT64;
 * - number: a non-negative integer -> UINT32 (what llama.cpp expects for
 *   sizes and token ids; UINT64 above 2^32-1), a negative integer -> INT32,
 *   anything else -> FLOAT32;
 * - typed arrays -> their element type (Float32Array -> FLOAT32...),
 *   string[] -> STRING, boolean[] -> BOOL, arrays of arrays -> ARRAY;
 * - number[]: all integers within int32 -> INT32, else within uint32 ->
 *   UINT32, else FLOAT32.
 * Parsed entries (GGUFKV) are valid inputs and write back the same bytes.
 */
/** What the writer accepts as a value: GGUFValue, plus plain number/bigint arrays. */
export type GGUFValueInput = GGUFValue | readonly number[] | readonly bigint[] | readonly GGUFValueInput[];

export interface GGUFKVInput {
  key: string;
  value: GGUFValueInput;
  type?: GGUFValueType;
  elementType?: GGUFValueType;
  items?: GGUFTypedValue[];
  raw?: Uint8Array;
  rawItems?: Map<number, Uint8Array>;
  keyRaw?: Uint8Array;
}

const INT_RANGES: Partial<Record<GGUFValueType, [number, number]>> = {
  [GGUFValueType.UINT8]: [0, 0xff],
  [GGUFValueType.INT8]: [-0x80, 0x7f],
  [GGUFValueType.UINT16]: [0, 0xffff],
  [GGUFValueType.INT16]: [-0x8000, 0x7fff],
  [GGUFValueType.UINT32]: [0, 0xffffffff],
  [GGUFValueType.INT32]: [-0x80000000, 0x7fffffff],
};
const BIG_RANGES: Partial<Record<GGUFValueType, [bigint, bigint]>> = {
  [GGUFValueType.UINT64]: [0n, (1n << 64n) - 1n],
  [GGUFValueType.INT64]: [-(1n << 63n), (1n << 63n) - 1n],
};

class Ctx {
  constructor(readonly file: string, readonly key: string) {}
  fail(problem: string, expected?: string): never {
    throw new GGUFError({ code: 'write', file: this.file, key: this.key, problem, expected });
  }
}

function inferScalarType(v: GGUFValueInput, ctx: Ctx): GGUFValueType {
  switch (typeof v) {
    case 'string': return GGUFValueType.STRING;
    case 'boolean': return GGUFValueType.BOOL;
    case 'bigint': return v < 0n ? GGUFValueType.INT64 : GGUFValueType.UINT64;
    case 'number':
      if (Number.isInteger(v)) {
        if (v >= 0) return v <= 0xffffffff ? GGUFValueType.UINT32 : GGUFValueType.UINT64;
        if (v >= -0x80000000) return GGUFValueType.INT32;
        return GGUFValueType.INT64;
      }
      return GGUFValueType.FLOAT32;
    default:
      return ctx.fail(`cannot infer a GGUF type for ${Object.prototype.toString.call(v)}`);
  }
}

function inferElementType(a: readonly unknown[] | GGUFNumericArray, ctx: Ctx): GGUFValueType {
  const typed = typeOfTypedArray(a);
  if (typed !== undefined) return typed;
  const arr = a as readonly unknown[];
  if (arr.length === 0) return ctx.fail('an empty array needs an explicit elementType', 'elementType');
  const first = arr[0];
  if (typeof first === 'string') return GGUFValueType.STRING;
  if (typeof first === 'boolean') return GGUFValueType.BOOL;
  if (typeof first === 'bigint') return arr.some((x) => (x as bigint) < 0n) ? GGUFValueType.INT64 : GGUFValueType.UINT64;
  if (Array.isArray(first) || ArrayBuffer.isView(first)) return GGUFValueType.ARRAY;
  if (typeof first === 'number') {
    const nums = arr as readonly number[];
    if (nums.every((x) => Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff)) return GGUFValueType.INT32;
    if (nums.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) return GGUFValueType.UINT32;
    return GGUFValueType.FLOAT32;
  }
  return ctx.fail(`cannot infer an element type for an array of ${typeof first}`);
}

function isArrayValue(v: GGUFValueInput): v is GGUFArray {
  return Array.isArray(v) || ArrayBuffer.isView(v);
}

/** The entry with every type filled in and checked. */
export function toTypedValue(input: Omit<GGUFKVInput, 'key' | 'keyRaw'>, file: string, key: string): GGUFTypedValue {
  return normalize(input, new Ctx(file, key), 0);
}

function normalize(input: Omit<GGUFKVInput, 'key' | 'keyRaw'>, ctx: Ctx, depth: number): GGUFTypedValue {
  if (depth > 16) ctx.fail('arrays nested more than 16 deep');
  const v = input.value;
  const type = input.type ?? (isArrayValue(v) ? GGUFValueType.ARRAY : inferScalarType(v, ctx));
  if (type !== GGUFValueType.ARRAY) {
    checkScalar(type, v, ctx);
    return { type, value: v as GGUFValue, ...(input.raw ? { raw: input.raw } : {}) };
  }
  if (!isArrayValue(v)) return ctx.fail(`value of type array is not an array`, 'an array');
  const elementType = input.elementType ?? inferElementType(v as readonly unknown[], ctx);
  if (elementType === GGUFValueType.ARRAY) {
    if (!Array.isArray(v)) return ctx.fail('an array of arrays must be a plain array', 'a plain array of arrays');
    const items = (v as GGUFArray[]).map((el, i) => {
      const given = input.items?.[i];
      return normalize(given && given.value === el ? given : { value: el, type: GGUFValueType.ARRAY }, ctx, depth + 1);
    });
    return { type, elementType, value: v, items };
  }
  const typed = typeOfTypedArray(v);
  if (typed !== undefined && typed !== elementType) {
    ctx.fail(`a ${v.constructor.name} cannot be written as ${ggufTypeName(elementType)} elements`, ggufTypeName(typed));
  }
  if (typed === undefined) for (const el of v as readonly unknown[]) checkScalar(elementType, el as GGUFValue, ctx);
  return { type, elementType, value: v, ...(input.rawItems ? { rawItems: input.rawItems } : {}) };
}

function checkScalar(type: GGUFValueType, v: GGUFValueInput, ctx: Ctx): void {
  const bad = (what: string): never => ctx.fail(`${what} cannot be written as ${ggufTypeName(type)}`, ggufTypeName(type));
  const range = INT_RANGES[type];
  if (range) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) bad(String(v));
    return;
  }
  const big = BIG_RANGES[type];
  if (big) {
    const b = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : undefined;
    if (b === undefined || b < big[0] || b > big[1]) bad(String(v));
    return;
  }
  switch (type) {
    case GGUFValueType.FLOAT32:
    case GGUFValueType.FLOAT64:
      if (typeof v !== 'number') bad(typeof v);
      return;
    case GGUFValueType.BOOL:
      if (typeof v !== 'boolean') bad(typeof v);
      return;
    case GGUFValueType.STRING:
      if (typeof v !== 'string') bad(typeof v);
      return;
    default:
      ctx.fail(`unknown value type ${type}`);
  }
}

/** Writes type id and value (the key is written by the caller). */
export function writeTypedValue(w: ByteBuilder, tv: GGUFTypedValue, key: string): void {
  w.i32(tv.type);
  if (tv.type === GGUFValueType.ARRAY) writeArray(w, tv, key);
  else writeScalar(w, tv.type, tv.value, tv.raw, key);
}

function writeScalar(w: ByteBuilder, type: GGUFValueType, v: GGUFValue, raw: Uint8Array | undefined, key: string): void {
  // Stored bytes the JS value cannot reproduce (NaN payloads, bools other than 0/1).
  if (raw && type !== GGUFValueType.STRING && raw.length === ggufTypeSize(type) && rawStillMeans(type, raw, v)) {
    w.bytes(raw);
    return;
  }
  switch (type) {
    case GGUFValueType.UINT8: w.u8(v as number); return;
    case GGUFValueType.INT8: w.i8(v as number); return;
    case GGUFValueType.UINT16: w.u16(v as number); return;
    case GGUFValueType.INT16: w.i16(v as number); return;
    case GGUFValueType.UINT32: w.u32(v as number); return;
    case GGUFValueType.INT32: w.i32(v as number); return;
    case GGUFValueType.FLOAT32: w.f32(v as number); return;
    case GGUFValueType.FLOAT64: w.f64(v as number); return;
    case GGUFValueType.UINT64: w.u64(v as bigint | number); return;
    case GGUFValueType.INT64: w.i64(v as bigint | number); return;
    case GGUFValueType.BOOL: w.u8(v ? 1 : 0); return;
    case GGUFValueType.STRING: w.stringBytes(encodeString(v as string, raw), key); return;
    default: throw new GGUFError({ code: 'write', file: w.file, key, problem: `cannot write value type ${type} as a scalar` });
  }
}

/** Whether raw bytes still stand for the value (so an edited value is not overwritten by stale bytes). */
function rawStillMeans(type: GGUFValueType, raw: Uint8Array, v: GGUFValue): boolean {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (type) {
    case GGUFValueType.BOOL: return (raw[0] !== 0) === v;
    case GGUFValueType.FLOAT32: return Object.is(view.getFloat32(0, true), v) || (Number.isNaN(v) && Number.isNaN(view.getFloat32(0, true)));
    case GGUFValueType.FLOAT64: return Object.is(view.getFloat64(0, true), v) || (Number.isNaN(v) && Number.isNaN(view.getFloat64(0, true)));
    default: return false;
  }
}

function writeArray(w: ByteBuilder, tv: GGUFTypedValue, key: string): void {
  const et = tv.elementType!;
  w.i32(et);
  const v = tv.value as GGUFArray;
  w.size(v.length, 'array length', key);
  const typed = typeOfTypedArray(v);
  if (typed !== undefined) {
    const a = v as GGUFNumericArray;
    w.bytes(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return;
  }
  const Typed = typedArrayFor(et);
  if (Typed) {
    // A plain number[] (or bigint[]) given for a numeric type: pack it.
    const arr = v as unknown[];
    const packed = new Typed(new ArrayBuffer(arr.length * Typed.BYTES_PER_ELEMENT));
    const is64 = et === GGUFValueType.UINT64 || et === GGUFValueType.INT64;
    for (let i = 0; i < arr.length; i++) (packed as unknown as unknown[])[i] = is64 ? BigInt(arr[i] as number) : arr[i];
    w.bytes(new Uint8Array(packed.buffer));
    return;
  }
  if (et === GGUFValueType.BOOL) {
    const arr = v as boolean[];
    for (let i = 0; i < arr.length; i++) {
      const raw = tv.rawItems?.get(i);
      w.u8(raw && (raw[0] !== 0) === arr[i] ? raw[0] : arr[i] ? 1 : 0);
    }
    return;
  }
  if (et === GGUFValueType.STRING) {
    const arr = v as string[];
    for (let i = 0; i < arr.length; i++) w.stringBytes(encodeString(arr[i], tv.rawItems?.get(i)), key);
    return;
  }
  if (et === GGUFValueType.ARRAY) {
    for (const item of tv.items!) writeArray(w, item, key);
    return;
  }
  throw new GGUFError({ code: 'write', file: w.file, key, problem: `cannot write arrays of value type ${et}` });
}
