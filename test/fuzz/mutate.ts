// GGUF mutations at every structural level, for the fuzzer (test/fuzz).
//
// Two kinds: byte-level writes at the offsets of structural fields (the
// header's counts; each KV's key length, type, string length, array element
// type and length, value bytes; each tensor info's name length, n_dims, dims,
// type, offset), which make encodings the writer would never produce; and
// structure-level edits of the parsed file re-encoded by the writer (a KV's
// value, type, presence or duplication; an array's length; a tensor's name,
// shape, type, presence; the alignment; control bytes in strings), which
// keep the file well-formed so the layers above the parser see them. Plus
// tensor-data corruption and truncation. Everything is drawn from one seeded
// generator: a case is reproduced from (corpus file, case seed) alone.
import {
  encodeGGUF, GGMLType, GGUFValueType, parseGGUF,
  type GGUFHeader, type GGUFKVInput, type GGUFTensorInput, type GGUFTypedValue, type GGUFWriteSpec,
} from '../../formats/index.js';
import { mulberry32 } from '../../formats/synthetic/random.js';

const T = GGUFValueType;
const utf8 = new TextEncoder();

/** A corpus file, parsed once. */
export interface FuzzSeed {
  name: string;
  bytes: Uint8Array;
  header: GGUFHeader;
  fields: Field[];
}

/** A structural field: where it is, how wide, and what it is (for the case's description). */
interface Field {
  at: number;
  width: 4 | 8;
  level: 'header' | 'kv' | 'array' | 'tensor-info';
  what: string;
}

export interface Mutated {
  bytes: Uint8Array;
  /** The structural level mutated: header, kv, array, tensor-info, alignment, data, truncate. */
  level: string;
  /** What was done, for the report. */
  what: string;
}

export function fuzzSeed(name: string, bytes: Uint8Array): FuzzSeed {
  const header = parseGGUF(bytes, { file: name });
  return { name, bytes, header, fields: structuralFields(header) };
}

function structuralFields(h: GGUFHeader): Field[] {
  const w = h.version >= 2 ? 8 : 4;
  const out: Field[] = [
    { at: 4, width: 4, level: 'header', what: 'version' },
    { at: 8, width: w, level: 'header', what: 'tensor count' },
    { at: 8 + w, width: w, level: 'header', what: 'kv count' },
  ];
  const arrayFields = (tv: GGUFTypedValue, at: number, key: string): number => {
    out.push({ at, width: 4, level: 'array', what: `${key}: element type` }, { at: at + 4, width: w, level: 'array', what: `${key}: length` });
    let p = at + 4 + w;
    if (tv.elementType === T.STRING) {
      const arr = tv.value as string[];
      for (let i = 0; i < arr.length; i++) {
        if (i < 3 || i === arr.length - 1) out.push({ at: p, width: w, level: 'array', what: `${key}[${i}]: string length` });
        p += w + utf8.encode(arr[i]!).length;
      }
    } else if (tv.elementType === T.ARRAY) {
      for (const it of tv.items!) p = arrayFields(it, p, `${key}[]`);
    } else {
      const n = (tv.value as ArrayLike<unknown>).length;
      const size = tv.elementType === T.BOOL ? 1 : (tv.value as Uint8Array).BYTES_PER_ELEMENT;
      if (n > 0 && size >= 4) out.push({ at: p, width: size === 8 ? 8 : 4, level: 'array', what: `${key}[0]: value` });
      p += n * size;
    }
    return p;
  };
  for (const e of h.kv) {
    const keyLen = e.keyRaw?.length ?? utf8.encode(e.key).length;
    const typeAt = e.offset + w + keyLen;
    out.push({ at: e.offset, width: w, level: 'kv', what: `${e.key}: key length` }, { at: typeAt, width: 4, level: 'kv', what: `${e.key}: value type` });
    if (e.type === T.ARRAY) arrayFields(e, typeAt + 4, e.key);
    else if (e.type === T.STRING) out.push({ at: typeAt + 4, width: w, level: 'kv', what: `${e.key}: string length` });
    else if ([T.UINT32, T.INT32, T.FLOAT32].includes(e.type)) out.push({ at: typeAt + 4, width: 4, level: 'kv', what: `${e.key}: value` });
    else if ([T.UINT64, T.INT64, T.FLOAT64].includes(e.type)) out.push({ at: typeAt + 4, width: 8, level: 'kv', what: `${e.key}: value` });
  }
  for (const t of h.tensors) {
    const nDimsAt = t.infoOffset + w + (t.nameRaw?.length ?? utf8.encode(t.name).length);
    out.push({ at: t.infoOffset, width: w, level: 'tensor-info', what: `${t.name}: name length` }, { at: nDimsAt, width: 4, level: 'tensor-info', what: `${t.name}: n_dims` });
    for (let d = 0; d < t.shape.length; d++) out.push({ at: nDimsAt + 4 + d * w, width: w, level: 'tensor-info', what: `${t.name}: ne[${d}]` });
    const typeAt = nDimsAt + 4 + t.shape.length * w;
    out.push({ at: typeAt, width: 4, level: 'tensor-info', what: `${t.name}: type` }, { at: typeAt + 4, width: 8, level: 'tensor-info', what: `${t.name}: offset` });
  }
  return out;
}

const EXTREMES32 = [0, 1, 2, 3, 0x7f, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 13, 64, 4096];
const EXTREMES64 = [0n, 1n, 2n, 2n ** 31n, 2n ** 32n, 2n ** 32n - 1n, 2n ** 32n + 1n, 2n ** 53n, 2n ** 62n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 40n];
const NUM_EDGES = [0, 1, -1, 2, 3, 7, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 1e9, 1e18, -(2 ** 31), 0.5, NaN, Infinity, -Infinity, 1e-30];
const CONTROL = ['\x1b]0;pwned\x07', '\x1b[2J', '\r', '\0', '\u009b31m', '\u202e'];

type Rand = () => number;

/** One mutated file from `seed`, drawn from `caseSeed`. */
export function mutate(seed: FuzzSeed, caseSeed: number): Mutated {
  const rand = mulberry32(caseSeed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <X>(xs: readonly X[]): X => xs[int(xs.length)]!;
  const r = int(100);
  // a structure-level edit the writer cannot encode becomes a byte-level one
  if (r < 45) {
    const m = structural(seed, rand);
    if (m) return m;
  }
  if (r < 80) return fieldWrite(seed, rand);
  if (r < 93) return dataCorruption(seed, rand);
  const cut = int(100) < 50 ? int(seed.header.dataOffset + 1) : seed.header.dataOffset + int(seed.bytes.length - seed.header.dataOffset);
  void pick;
  return { bytes: seed.bytes.slice(0, cut), level: 'truncate', what: `cut at ${cut} of ${seed.bytes.length}` };
}

function fieldWrite(seed: FuzzSeed, rand: Rand): Mutated {
  const int = (n: number) => Math.floor(rand() * n);
  // a level first, then one of its fields: the header's three fields get their share among thousands
  const levels = [...new Set(seed.fields.map((x) => x.level))];
  const level = levels[int(levels.length)]!;
  const fields = seed.fields.filter((x) => x.level === level);
  const f = fields[int(fields.length)]!;
  const bytes = seed.bytes.slice();
  const view = new DataView(bytes.buffer);
  let what: string;
  if (f.width === 4) {
    const old = view.getUint32(f.at, true);
    const how = int(4);
    const v = how === 0 ? EXTREMES32[int(EXTREMES32.length)]! : how === 1 ? (old + (int(2) ? 1 : -1)) >>> 0 : how === 2 ? int(2 ** 32) : int(40);
    view.setUint32(f.at, v, true);
    what = `${f.what} ${old} -> ${v}`;
  } else {
    const old = view.getBigUint64(f.at, true);
    const how = int(3);
    const v = how === 0 ? EXTREMES64[int(EXTREMES64.length)]! : how === 1 ? BigInt.asUintN(64, old + (int(2) ? 1n : -1n)) : BigInt(int(2 ** 20)) * BigInt(1 + int(64));
    view.setBigUint64(f.at, v, true);
    what = `${f.what} ${old} -> ${v}`;
  }
  return { bytes, level: f.level, what };
}

function dataCorruption(seed: FuzzSeed, rand: Rand): Mutated {
  const int = (n: number) => Math.floor(rand() * n);
  const bytes = seed.bytes.slice();
  const { tensors } = seed.header;
  const t = tensors[int(tensors.length)];
  if (!t || t.nBytes === 0) return fieldWrite(seed, rand);
  const lo = t.absoluteOffset;
  const n = 1 + int(Math.min(64, t.nBytes));
  const kind = int(4);
  for (let i = 0; i < n; i++) {
    const at = lo + int(t.nBytes);
    // 0xff bytes make f16/f32 NaNs and huge quant scales; 0x7c/0x80 Infs and negative zeros
    bytes[at] = kind === 0 ? int(256) : kind === 1 ? 0xff : kind === 2 ? (i % 2 ? 0x7c : 0x00) : 0x80;
  }
  if (kind === 3) bytes.fill(0xff, lo, lo + Math.min(t.nBytes, 4096));
  return { bytes, level: 'data', what: `${t.name}: ${n} bytes corrupted (kind ${kind})` };
}

/** The header as the writer's input (tensor data taken from the seed). */
function specOf(seed: FuzzSeed): { kv: GGUFKVInput[]; tensors: GGUFTensorInput[]; version: GGUFWriteSpec['version'] } {
  const h = seed.header;
  return {
    version: h.version,
    kv: h.kv.map((e) => ({ ...e })),
    tensors: h.tensors.map((t) => ({
      name: t.name, type: t.type, shape: [...t.shape],
      data: seed.bytes.subarray(t.absoluteOffset, t.absoluteOffset + t.nBytes),
    })),
  };
}

const TENSOR_TYPES = [GGMLType.F32, GGMLType.F16, GGMLType.Q4_0, GGMLType.Q8_0, GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.I32, GGMLType.I8, GGMLType.BF16, GGMLType.IQ2_XXS, GGMLType.TQ1_0];

function structural(seed: FuzzSeed, rand: Rand): Mutated | undefined {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <X>(xs: readonly X[]): X => xs[int(xs.length)]!;
  const spec = specOf(seed);
  const { kv, tensors } = spec;
  let level = 'kv';
  let what = '';
  const k = int(14);
  const e = kv[int(kv.length)]!;
  const tIdx = int(tensors.length);
  const t = tensors[tIdx];
  // numbers keep their type when they fit it; otherwise the type widens (as a hostile writer might)
  const numberValue = (v: number): Partial<GGUFKVInput> => {
    if (!Number.isFinite(v) || !Number.isInteger(v)) return { type: T.FLOAT32, value: v };
    if (v < 0) return { type: v >= -(2 ** 31) ? T.INT32 : T.INT64, value: v >= -(2 ** 31) ? v : BigInt(v) };
    return v <= 0xffffffff ? { type: T.UINT32, value: v } : { type: T.UINT64, value: BigInt(v) };
  };
  switch (k) {
    case 0: case 1: { // a scalar hparam to an edge value
      const scalars = kv.filter((x) => x.type !== T.ARRAY && x.type !== T.STRING);
      const s = pick(scalars.length ? scalars : kv);
      const v = pick(NUM_EDGES);
      Object.assign(s, numberValue(v), { items: undefined, elementType: undefined, raw: undefined });
      what = `${s.key} = ${v}`;
      break;
    }
    case 2: { // wrong type: a string where a number is, a number where a string is
      if (e.type === T.STRING || e.type === T.ARRAY) Object.assign(e, numberValue(pick(NUM_EDGES)), { elementType: undefined, items: undefined, raw: undefined, rawItems: undefined });
      else Object.assign(e, { type: T.STRING, value: String(e.value), raw: undefined });
      what = `${e.key}: type changed to ${T[e.type!]}`;
      break;
    }
    case 3: { // remove or duplicate an entry
      const i = kv.indexOf(e);
      if (int(2)) {
        kv.splice(i, 1);
        what = `${e.key} removed`;
      } else {
        kv.push({ ...e, value: pick([e.value, 0, 'x']) as GGUFKVInput['value'], type: undefined, raw: undefined });
        what = `${e.key} duplicated`;
      }
      break;
    }
    case 4: { // an array shortened, emptied or lengthened
      level = 'array';
      const arrays = kv.filter((x) => x.type === T.ARRAY && x.elementType !== T.ARRAY);
      if (!arrays.length) return undefined;
      const a = pick(arrays);
      const v = a.value as ArrayLike<unknown> & { slice(a: number, b?: number): ArrayLike<unknown> };
      const n = v.length;
      const len = pick([0, 1, Math.max(0, n - 1), n >> 1, n + 1, n * 2]);
      if (len <= n) a.value = v.slice(0, len) as GGUFKVInput['value'];
      else if (Array.isArray(v)) a.value = Array.from({ length: len }, (_, i) => v[i % Math.max(1, n)] ?? 'x') as GGUFKVInput['value'];
      else {
        const Ctor = (v as unknown as { constructor: new (n: number) => { set(x: ArrayLike<unknown>): void } }).constructor;
        const grown = new Ctor(len);
        grown.set(v as unknown as ArrayLike<never>);
        a.value = grown as unknown as GGUFKVInput['value'];
      }
      a.raw = undefined;
      a.rawItems = undefined;
      what = `${a.key}: length ${n} -> ${len}`;
      break;
    }
    case 5: { // control bytes in a string: a key, a value, a token, a tensor name
      level = 'kv';
      const c = pick(CONTROL);
      const strings = kv.filter((x) => x.type === T.STRING || (x.type === T.ARRAY && x.elementType === T.STRING));
      const where = int(3);
      if (where === 0) {
        e.key = `${e.key}${c}`;
        e.keyRaw = undefined;
        what = `key ${JSON.stringify(e.key)}`;
      } else if (where === 1 && strings.length) {
        const s = pick(strings);
        if (s.type === T.STRING) s.value = `${String(s.value)}${c}`;
        else {
          const arr = [...(s.value as string[])];
          if (arr.length) arr[int(arr.length)] += c;
          s.value = arr;
        }
        s.raw = undefined;
        s.rawItems = undefined;
        what = `${s.key}: control bytes in a string`;
      } else if (t) {
        level = 'tensor-info';
        t.name = `${t.name}${c}`;
        what = `tensor name ${JSON.stringify(t.name)}`;
      } else return undefined;
      break;
    }
    case 6: { // alignment
      level = 'alignment';
      const v = pick([0, 1, 3, 8, 16, 31, 64, 4096, 1 << 20, 2 ** 31]);
      if (v > 4096) {
        // re-encoding would pad the file to v: the value is written into the file's own field instead
        const f = seed.fields.find((x) => x.what === 'general.alignment: value');
        if (!f) return undefined;
        const bytes = seed.bytes.slice();
        new DataView(bytes.buffer).setUint32(f.at, v, true);
        return { bytes, level, what: `general.alignment = ${v} (in place)` };
      }
      const a = kv.find((x) => x.key === 'general.alignment');
      if (a) Object.assign(a, { type: T.UINT32, value: v, raw: undefined });
      else kv.push({ key: 'general.alignment', type: T.UINT32, value: v });
      what = `general.alignment = ${v}`;
      break;
    }
    case 7: case 8: { // a tensor's shape
      if (!t) return undefined;
      level = 'tensor-info';
      const old = [...t.shape];
      const s = [...t.shape];
      const d = int(Math.max(1, s.length));
      const how = int(6);
      if (how === 0) s.reverse();
      else if (how === 1) s[d] = Math.max(1, (s[d] ?? 1) - 1);
      else if (how === 2) s[d] = (s[d] ?? 1) * 2;
      else if (how === 3) s[d] = 1;
      else if (how === 4) s.push(pick([1, 2, 3]));
      else s.splice(d, 1);
      t.shape = s;
      t.data = undefined; // zeros of the new size
      what = `${t.name}: shape [${old}] -> [${s}]`;
      break;
    }
    case 9: { // a tensor's type
      if (!t) return undefined;
      level = 'tensor-info';
      const old = t.type;
      t.type = pick(TENSOR_TYPES);
      t.data = undefined;
      what = `${t.name}: type ${GGMLType[old]} -> ${GGMLType[t.type]}`;
      break;
    }
    case 10: { // two tensors' names swapped
      if (tensors.length < 2 || !t) return undefined;
      level = 'tensor-info';
      const u = tensors[(tIdx + 1 + int(tensors.length - 1)) % tensors.length]!;
      [t.name, u.name] = [u.name, t.name];
      what = `names of ${u.name} and ${t.name} swapped`;
      break;
    }
    case 11: { // a tensor dropped or duplicated
      if (!t) return undefined;
      level = 'tensor-info';
      if (int(2)) {
        tensors.splice(tIdx, 1);
        what = `${t.name} dropped`;
      } else {
        tensors.push({ ...t, name: int(2) ? t.name : `${t.name}.extra` });
        what = `${t.name} duplicated`;
      }
      break;
    }
    case 12: { // a tensor renamed to another layer's or a foreign name
      if (!t) return undefined;
      level = 'tensor-info';
      const old = t.name;
      t.name = pick(['blk.99.attn_q.weight', 'blk.0.attn_q.weight', 'output.weight', 'token_embd.weight', 'rope_freqs.weight', '', 'blk.-1.ffn_up.weight']);
      what = `${old} renamed ${t.name}`;
      break;
    }
    default: { // the architecture
      const a = kv.find((x) => x.key === 'general.architecture');
      if (!a) return undefined;
      a.value = pick(['gemma2', 'phi3', 'bert', 'gpt2', 'qwen3moe', 'mamba', '', 'llama\0x']);
      a.type = T.STRING;
      a.raw = undefined;
      what = `general.architecture = ${JSON.stringify(a.value)}`;
    }
  }
  try {
    return { bytes: encodeGGUF(spec), level, what };
  } catch {
    return undefined;
  }
}
