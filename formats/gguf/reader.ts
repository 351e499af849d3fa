// Parses a GGUF header (v1, v2, v3) from bytes in memory. The file readers
// (read.ts) feed it a growing prefix of the file; browsers and tests
// give it a whole buffer.
//
// Layout (little-endian): "GGUF", uint32 version, n_tensors, n_kv; n_kv
// entries (string key, int32 type, value); n_tensors infos (string name,
// uint32 n_dims, ne[n_dims], int32 ggml type, uint64 offset); padding to
// general.alignment; tensor data. v1 stores n_tensors, n_kv, string lengths,
// array lengths and ne as uint32; v2 and v3 (v3 only marks big-endian
// support) use 64 bits.
import { ggmlTypeInfo, type GGMLType } from '../ggml-types.js';
import { Cursor, type ParseStats } from './cursor.js';
import { GGUFError } from './errors.js';
import {
  GGML_MAX_DIMS, GGUF_DEFAULT_ALIGNMENT, GGUF_VERSIONS,
  type GGUFHeader, type GGUFKV, type GGUFTensorInfo, type GGUFVersion,
} from './header.js';
import { checkTensorData } from './tensor-checks.js';
import {
  GGUFValueType, ggufTypeName, ggufTypeSize, isGGUFValueType, typedArrayFor, type GGUFArray, type GGUFTypedValue, type GGUFValue,
} from './value-types.js';

export interface ParseOptions {
  /** Name used in errors and as each tensor's `file` (default "<memory>"). */
  file?: string;
  /**
   * Size of the whole file when `bytes` is only its beginning. Lengths are
   * checked against it, and tensor data must lie within it. Default: bytes.length.
   */
  fileSize?: number;
  /** Shard index recorded in tensor infos (split models). */
  shard?: number;
  /** Receives the largest allocation the parse made. */
  stats?: ParseStats;
}

// Real files nest arrays one level deep at most; a bound keeps a hostile
// file from exhausting the stack.
const MAX_ARRAY_DEPTH = 16;

/**
 * Parses the header in `bytes` (the whole file, or its first bytes with
 * `fileSize` saying how long the file is). Throws GGUFError; when `bytes`
 * ends before the header does but the file goes on, GGUFIncompleteError.
 */
export function parseGGUF(bytes: Uint8Array | ArrayBuffer, options: ParseOptions = {}): GGUFHeader {
  // A plain Uint8Array view even for a Node Buffer, whose slice() does not copy.
  const u8 = bytes instanceof Uint8Array ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  const file = options.file ?? '<memory>';
  const fileSize = options.fileSize ?? u8.length;
  if (fileSize < u8.length) throw new RangeError(`parseGGUF: fileSize ${fileSize} is less than the ${u8.length} bytes given`);
  const c = new Cursor(u8, fileSize, file, options.stats);

  readMagic(c);
  const version = readVersion(c);
  c.wide = version >= 2;

  const countsAt = c.pos;
  const nTensors = c.size('tensor count');
  const nKVAt = c.pos;
  const nKV = c.size('metadata kv count');
  // Smallest possible entries: an empty key + type + 1-byte value; an empty
  // name + n_dims 0 + type + offset.
  const minKV = c.sizeBytes + 4 + 1;
  const minTensor = c.sizeBytes + 4 + 4 + 8;
  c.checkFits(nKV, minKV, 'metadata kv count', nKVAt, 'count');
  c.checkFits(nTensors, minTensor, 'tensor count', countsAt, 'count');
  if (nKV * minKV + nTensors * minTensor > c.remaining) {
    c.fail('count', `${nTensors} tensors and ${nKV} metadata entries cannot fit in the ${c.remaining} bytes left in the file`, countsAt,
      `counts that fit in ${c.remaining} bytes`);
  }

  const kv: GGUFKV[] = [];
  for (let i = 0; i < nKV; i++) kv.push(readKV(c));
  c.subject = undefined;

  const warnings: string[] = [];
  const metadata = resolveMetadata(kv, file, warnings);
  const alignment = readAlignment(kv, file);

  const tensors: GGUFTensorInfo[] = [];
  const offsetFieldAt: number[] = [];
  const names = new Map<string, number>();
  for (let i = 0; i < nTensors; i++) {
    const { info, offsetAt } = readTensorInfo(c, names, file, options.shard ?? 0);
    tensors.push(info);
    offsetFieldAt.push(offsetAt);
  }
  c.subject = undefined;

  const headerSize = c.pos;
  // ggml pads to the data section only when there are tensors; gguf-py
  // writes vocab-only files that end right after the header.
  const dataOffset = nTensors > 0 ? alignUp(headerSize, alignment) : headerSize;
  for (const t of tensors) t.absoluteOffset = dataOffset + t.offset;
  checkTensorData(tensors, offsetFieldAt, { file, alignment, dataOffset, fileSize });

  return { file, version, kv, metadata, tensors, alignment, headerSize, dataOffset, fileSize, warnings };
}

export function alignUp(n: number, alignment: number): number {
  const r = n % alignment;
  return r === 0 ? n : n + alignment - r;
}

function readMagic(c: Cursor): void {
  if (c.fileSize < 4) {
    c.fail('magic', `only ${c.fileSize} bytes, too short to be a GGUF file`, 0, 'GGUF');
  }
  c.need(4, 'magic');
  const m = c.bytes.subarray(0, 4);
  if (m[0] !== 0x47 || m[1] !== 0x47 || m[2] !== 0x55 || m[3] !== 0x46) {
    const shown = Array.from(m, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '?')).join('');
    c.fail('magic', `not a GGUF file (magic "${shown}", expected "GGUF")`, 0, 'GGUF');
  }
  c.pos = 4;
}

function readVersion(c: Cursor): GGUFVersion {
  const at = c.pos;
  const v = c.u32('version');
  if (!(GGUF_VERSIONS as readonly number[]).includes(v)) {
    // A byte-swapped v3 reads as 0x03000000: say so, as ggml does.
    const hint = v !== 0 && (v & 0xffff) === 0 ? ' (a big-endian file?)' : '';
    c.fail('version', `unknown GGUF version ${v}${hint}; this reader knows versions 1, 2 and 3`, at, '1, 2 or 3');
  }
  return v as GGUFVersion;
}

function readKV(c: Cursor): GGUFKV {
  const offset = c.pos;
  c.subject = undefined;
  const key = c.string('key');
  if (key.text.length === 0) c.fail('key', 'empty metadata key', offset, 'a non-empty key');
  c.subject = key.text;
  const value = readTypedValue(c, 0);
  const entry: GGUFKV = { key: key.text, offset, ...value };
  if (key.raw) entry.keyRaw = key.raw;
  return entry;
}

function readValueType(c: Cursor, what: string): GGUFValueType {
  const at = c.pos;
  const t = c.i32(what);
  if (!isGGUFValueType(t)) c.fail('value-type', `unknown ${what} ${t}`, at, 'a GGUF value type 0..12');
  return t;
}

function readTypedValue(c: Cursor, depth: number): GGUFTypedValue {
  const type = readValueType(c, 'value type');
  return type === GGUFValueType.ARRAY ? readArray(c, depth) : readScalar(c, type);
}

function readScalar(c: Cursor, type: GGUFValueType): GGUFTypedValue {
  switch (type) {
    case GGUFValueType.UINT8: return { type, value: c.u8('uint8 value') };
    case GGUFValueType.INT8: return { type, value: c.i8('int8 value') };
    case GGUFValueType.UINT16: return { type, value: c.u16('uint16 value') };
    case GGUFValueType.INT16: return { type, value: c.i16('int16 value') };
    case GGUFValueType.UINT32: return { type, value: c.u32('uint32 value') };
    case GGUFValueType.INT32: return { type, value: c.i32('int32 value') };
    case GGUFValueType.UINT64: return { type, value: c.u64('uint64 value') };
    case GGUFValueType.INT64: return { type, value: c.i64('int64 value') };
    case GGUFValueType.FLOAT32:
    case GGUFValueType.FLOAT64: {
      const size = ggufTypeSize(type);
      const at = c.pos;
      const value = type === GGUFValueType.FLOAT32 ? c.f32('float32 value') : c.f64('float64 value');
      // A NaN's payload does not survive a trip through a JS number.
      if (Number.isNaN(value)) return { type, value, raw: c.bytes.slice(at, at + size) };
      return { type, value };
    }
    case GGUFValueType.BOOL: {
      const b = c.u8('bool value');
      return b > 1 ? { type, value: true, raw: Uint8Array.of(b) } : { type, value: b === 1 };
    }
    case GGUFValueType.STRING: {
      const s = c.string('string value');
      return s.raw ? { type, value: s.text, raw: s.raw } : { type, value: s.text };
    }
    default:
      return c.fail('value-type', `unknown value type ${type}`);
  }
}

function readArray(c: Cursor, depth: number): GGUFTypedValue {
  const elementType = readValueType(c, 'array element type');
  const lengthAt = c.pos;
  const n = c.size('array length');
  const minBytes =
    elementType === GGUFValueType.STRING ? c.sizeBytes
    : elementType === GGUFValueType.ARRAY ? 4 + c.sizeBytes
    : ggufTypeSize(elementType);
  c.checkFits(n, minBytes, `${ggufTypeName(elementType)} array length`, lengthAt);

  const Typed = typedArrayFor(elementType);
  if (Typed) {
    const bytes = c.copy(n * minBytes, `${ggufTypeName(elementType)} array`);
    return { type: GGUFValueType.ARRAY, elementType, value: new Typed(bytes.buffer as ArrayBuffer, 0, n) };
  }
  if (elementType === GGUFValueType.BOOL) {
    c.need(n, 'bool array');
    c.allocate(n);
    const value: boolean[] = [];
    let rawItems: Map<number, Uint8Array> | undefined;
    for (let i = 0; i < n; i++) {
      const b = c.bytes[c.pos++];
      value.push(b !== 0);
      if (b > 1) (rawItems ??= new Map()).set(i, Uint8Array.of(b));
    }
    return rawItems ? { type: GGUFValueType.ARRAY, elementType, value, rawItems } : { type: GGUFValueType.ARRAY, elementType, value };
  }
  if (elementType === GGUFValueType.STRING) {
    const value: string[] = [];
    let rawItems: Map<number, Uint8Array> | undefined;
    for (let i = 0; i < n; i++) {
      const s = c.string('string array element');
      value.push(s.text);
      if (s.raw) (rawItems ??= new Map()).set(i, s.raw);
    }
    return rawItems ? { type: GGUFValueType.ARRAY, elementType, value, rawItems } : { type: GGUFValueType.ARRAY, elementType, value };
  }
  // An array of arrays: each element carries its own element type.
  if (depth + 1 > MAX_ARRAY_DEPTH) {
    c.fail('nesting', `arrays nested more than ${MAX_ARRAY_DEPTH} deep`, lengthAt, `at most ${MAX_ARRAY_DEPTH} levels`);
  }
  const items: GGUFTypedValue[] = [];
  for (let i = 0; i < n; i++) items.push(readArray(c, depth + 1));
  return { type: GGUFValueType.ARRAY, elementType, value: items.map((it) => it.value as GGUFArray), items };
}

function resolveMetadata(kv: readonly GGUFKV[], file: string, warnings: string[]): Map<string, GGUFValue> {
  const metadata = new Map<string, GGUFValue>();
  const firstAt = new Map<string, number>();
  for (const e of kv) {
    const seen = firstAt.get(e.key);
    if (seen !== undefined) {
      warnings.push(`${file}: at byte ${e.offset}, key "${e.key}" is repeated (first at byte ${seen}); the last value wins`);
    } else {
      firstAt.set(e.key, e.offset);
    }
    metadata.set(e.key, e.value);
  }
  return metadata;
}

function readAlignment(kv: readonly GGUFKV[], file: string): number {
  let entry: GGUFKV | undefined;
  for (const e of kv) if (e.key === 'general.alignment') entry = e;
  if (!entry) return GGUF_DEFAULT_ALIGNMENT;
  const fail = (problem: string, expected: string): never => {
    throw new GGUFError({ code: 'alignment', file, offset: entry!.offset, key: entry!.key, expected, problem });
  };
  if (entry.type !== GGUFValueType.UINT32) fail(`general.alignment must be a uint32, not ${ggufTypeName(entry.type)}`, 'uint32');
  const a = entry.value as number;
  if (a === 0 || (a & (a - 1)) !== 0) fail(`alignment ${a} is not a power of two`, 'a power of two');
  return a;
}

function readTensorInfo(
  c: Cursor, names: Map<string, number>, file: string, shard: number,
): { info: GGUFTensorInfo; offsetAt: number } {
  const infoOffset = c.pos;
  c.subject = undefined;
  c.subjectIsTensor = false;
  const name = c.string('tensor name');
  c.subject = name.text;
  c.subjectIsTensor = true;
  const first = names.get(name.text);
  if (first !== undefined) {
    c.fail('duplicate-tensor', `tensor name repeated (first at byte ${first})`, infoOffset, 'unique tensor names');
  }
  names.set(name.text, infoOffset);

  const nDimsAt = c.pos;
  const nDims = c.u32('n_dims');
  // ggml accepts 0 (a scalar: every ne is 1) up to GGML_MAX_DIMS.
  if (nDims > GGML_MAX_DIMS) c.fail('n-dims', `n_dims ${nDims} is more than ggml's ${GGML_MAX_DIMS}`, nDimsAt, `0..${GGML_MAX_DIMS}`);
  const shape: number[] = [];
  let nElements = 1;
  for (let d = 0; d < nDims; d++) {
    const at = c.pos;
    let ne: number;
    if (c.wide) {
      // ggml reads ne as int64: the top bit set means a negative dimension.
      const v = c.i64(`ne[${d}]`);
      if (v < 0n) c.fail('shape', `ne[${d}] = ${v} is negative`, at, 'ne >= 0');
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) c.fail('shape', `ne[${d}] = ${v} is beyond 2^53`, at, `at most ${Number.MAX_SAFE_INTEGER}`);
      ne = Number(v);
    } else {
      ne = c.u32(`ne[${d}]`);
    }
    nElements *= ne;
    if (nElements > Number.MAX_SAFE_INTEGER) {
      c.fail('shape', `element count of shape [${[...shape, ne].join(', ')}...] is beyond 2^53`, at, `at most ${Number.MAX_SAFE_INTEGER} elements`);
    }
    shape.push(ne);
  }

  const typeAt = c.pos;
  const typeId = c.i32('tensor type');
  const info = ggmlTypeInfo(typeId);
  if (!info) c.fail('tensor-type', `unknown ggml type ${typeId}`, typeAt, 'a ggml type id');
  const ne0 = nDims > 0 ? shape[0] : 1;
  if (ne0 % info.blockSize !== 0) {
    c.fail('row-size', `ne[0] = ${ne0} is not a multiple of ${info.name}'s block size ${info.blockSize}`, nDimsAt + 4,
      `ne[0] a multiple of ${info.blockSize}`);
  }
  const nBytes = (nElements / info.blockSize) * info.typeSize;
  if (nBytes > c.fileSize) {
    c.fail('shape', `shape [${shape.join(', ')}] of ${info.name} needs ${nBytes} bytes, more than the whole file (${c.fileSize})`, nDimsAt,
      `at most ${c.fileSize} bytes`);
  }

  const offsetAt = c.pos;
  const offset = c.safeU64('tensor data offset');
  const t: GGUFTensorInfo = {
    name: name.text, shape, type: typeId as GGMLType, offset, absoluteOffset: 0, nElements, nBytes, file, shard, infoOffset,
  };
  if (name.raw) t.nameRaw = name.raw;
  return { info: t, offsetAt };
}
