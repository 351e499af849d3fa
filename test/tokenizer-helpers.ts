// Shared pieces of the tokenizer tests: loading a vocab-only GGUF into our
// Tokenizer, reading llama.cpp's .inp/.out test vectors, and the oracle's
// vocab-only models.
//
// TEMPORARY: formats/gguf (the project's GGUF reader) had not landed when these
// tests were written, so readMetadata() below is a minimal metadata-only GGUF
// parser. Replace it with the real reader once formats/gguf exports one.
import { readFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { Tokenizer } from '../runtime/tokenizer/index.js';
import { sharedDir } from './helpers/shared.js';

/** Metadata of a GGUF file: key -> value (string[] / typed arrays / bigint, as formats/gguf will give). */
export function readMetadata(path: string): Map<string, unknown> {
  return parseMetadata(path).meta;
}

interface ParsedMetadata {
  meta: Map<string, unknown>;
  /** Byte range of each key-value pair, in file order (duplicates included). */
  ranges: Array<{ key: string; start: number; end: number }>;
  /** Where the key count is stored, and where the pairs end. */
  countOffset: number;
  kvEnd: number;
  buf: Buffer;
}

function parseMetadata(path: string): ParsedMetadata {
  const buf = readFileSync(path);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const u32 = () => { const v = view.getUint32(pos, true); pos += 4; return v; };
  const u64 = () => { const v = view.getBigUint64(pos, true); pos += 8; return v; };
  if (buf.toString('latin1', 0, 4) !== 'GGUF') throw new Error(`${path}: not a GGUF file`);
  pos = 4;
  const version = u32();
  if (version < 2) throw new Error(`${path}: GGUF v${version} is not supported by this test reader`);
  u64(); // tensor count
  const countOffset = pos;
  const nKV = Number(u64());
  const ranges: ParsedMetadata['ranges'] = [];
  const str = () => { const n = Number(u64()); const s = buf.toString('utf8', pos, pos + n); pos += n; return s; };
  const scalar = (type: number): unknown => {
    switch (type) {
      case 0: return view.getUint8(pos++);
      case 1: return view.getInt8(pos++);
      case 2: { const v = view.getUint16(pos, true); pos += 2; return v; }
      case 3: { const v = view.getInt16(pos, true); pos += 2; return v; }
      case 4: return u32();
      case 5: { const v = view.getInt32(pos, true); pos += 4; return v; }
      case 6: { const v = view.getFloat32(pos, true); pos += 4; return v; }
      case 7: return view.getUint8(pos++) !== 0;
      case 8: return str();
      case 10: return u64();
      case 11: { const v = view.getBigInt64(pos, true); pos += 8; return v; }
      case 12: { const v = view.getFloat64(pos, true); pos += 8; return v; }
      default: throw new Error(`${path}: unknown GGUF value type ${type} at byte ${pos}`);
    }
  };
  const typed: Record<number, [new (n: number) => ArrayLike<number> & { [i: number]: number }, number]> = {
    0: [Uint8Array, 1], 1: [Int8Array, 1], 2: [Uint16Array, 2], 3: [Int16Array, 2],
    4: [Uint32Array, 4], 5: [Int32Array, 4], 6: [Float32Array, 4], 12: [Float64Array, 8],
  };
  const meta = new Map<string, unknown>();
  for (let i = 0; i < nKV; i++) {
    const start = pos;
    const key = str();
    readValue(key);
    ranges.push({ key, start, end: pos });
  }
  return { meta, ranges, countOffset, kvEnd: pos, buf };

  function readValue(key: string): void {
    const type = u32();
    if (type !== 9) { meta.set(key, scalar(type)); return; }
    const itemType = u32();
    const n = Number(u64());
    if (itemType === 8) {
      const arr: string[] = new Array(n);
      for (let j = 0; j < n; j++) arr[j] = str();
      meta.set(key, arr);
    } else if (typed[itemType]) {
      const [Ctor] = typed[itemType];
      const arr = new Ctor(n);
      for (let j = 0; j < n; j++) arr[j] = scalar(itemType) as number;
      meta.set(key, arr);
    } else {
      const arr: unknown[] = [];
      for (let j = 0; j < n; j++) arr.push(scalar(itemType));
      meta.set(key, arr);
    }
  }
}

/**
 * The path of a copy of a GGUF file without repeated metadata keys (the first
 * one stays) and with the given string/bool keys set, or the path itself when
 * there is nothing to change. llama.cpp refuses files with a repeated key, and
 * the dbrx vocab has `general.file_type` twice. Only for files without tensors.
 */
export function patchedCopy(path: string, set: Record<string, string | boolean> = {}): string {
  const { ranges, countOffset, kvEnd, buf } = parseMetadata(path);
  const seen = new Set<string>();
  const keep: Buffer[] = [Buffer.from(buf.subarray(0, ranges.length ? ranges[0].start : kvEnd))];
  const encode = (key: string, value: string | boolean) => {
    const k = Buffer.from(key, 'utf8');
    const head = Buffer.alloc(12);
    head.writeBigUInt64LE(BigInt(k.length), 0);
    if (typeof value === 'boolean') {
      head.writeUInt32LE(7, 8); // GGUF bool
      return Buffer.concat([head.subarray(0, 8), k, head.subarray(8), Buffer.of(value ? 1 : 0)]);
    }
    const v = Buffer.from(value, 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(v.length));
    head.writeUInt32LE(8, 8); // GGUF string
    return Buffer.concat([head.subarray(0, 8), k, head.subarray(8), len, v]);
  };
  let changed = false;
  for (const r of ranges) {
    if (seen.has(r.key)) { changed = true; continue; }
    seen.add(r.key);
    if (r.key in set) { keep.push(encode(r.key, set[r.key])); changed = true; }
    else keep.push(buf.subarray(r.start, r.end));
  }
  for (const [key, value] of Object.entries(set)) {
    if (seen.has(key)) continue;
    seen.add(key);
    keep.push(encode(key, value));
    changed = true;
  }
  if (!changed) return path;
  keep.push(buf.subarray(kvEnd));
  const out = Buffer.concat(keep);
  out.writeBigUInt64LE(BigInt(seen.size), countOffset);
  const dir = join(tmpdir(), 'run-gguf-tokenizer-tests');
  mkdirSync(dir, { recursive: true });
  const tag = Object.entries(set).map(([k, v]) => `${k.split('.').pop()}=${v}`).join('_').replace(/[^A-Za-z0-9._=-]/g, '');
  const copy = join(dir, basename(path).replace(/\.gguf$/, '') + (tag ? `-${tag}` : '') + '.gguf');
  writeFileSync(copy, out);
  return copy;
}

export const VOCAB_NAMES = ['llama-spm', 'bert-bge', 'gpt-2', 'mpt', 'starcoder', 'deepseek-coder', 'dbrx', 'gpt-neox'] as const;

export function vocabPath(dir: string, name: string): string {
  return join(dir, `ggml-vocab-${name}.gguf`);
}

const cache = new Map<string, Tokenizer>();

/** Our tokenizer for a vocab file (cached per process: building the dbrx vocab takes a while). */
export function loadTokenizer(path: string): Tokenizer {
  let tok = cache.get(path);
  if (!tok) {
    const meta = readMetadata(path);
    tok = Tokenizer.fromMetadata(meta, { warn: () => {} });
    cache.set(path, tok);
  }
  return tok;
}

/** llama.cpp's test vectors for a vocab: [input text, expected ids][], or null when there are none. */
export function readVectors(path: string): Array<[string, number[]]> | null {
  if (!existsSync(path + '.inp') || !existsSync(path + '.out')) return null;
  const inputs = readFileSync(path + '.inp', 'utf8').split('\n__ggml_vocab_test__\n');
  // The file ends with a separator line followed by nothing.
  if (inputs.length && inputs[inputs.length - 1] === '') inputs.pop();
  const outLines = readFileSync(path + '.out', 'utf8').split('\n');
  if (outLines.length && outLines[outLines.length - 1] === '') outLines.pop();
  if (outLines.length !== inputs.length) {
    throw new Error(`${path}: ${inputs.length} inputs but ${outLines.length} expected lines`);
  }
  return inputs.map((inp, i) => [inp, outLines[i].trim() === '' ? [] : outLines[i].trim().split(/\s+/).map(Number)]);
}

/**
 * A vocab-only llama.cpp model of a vocab file (patched as asked, and always
 * without repeated keys, which llama.cpp refuses), loaded without its log noise
 * (it first looks for tensors and reports their absence as errors).
 */
export async function loadOracleVocab(llama: Llama, path: string, patch: Record<string, string | boolean> = {}): Promise<LlamaModel> {
  const { LlamaLogLevel } = await import('node-llama-cpp');
  const copy = patchedCopy(path, patch);
  const level = llama.logLevel;
  llama.logLevel = LlamaLogLevel.disabled;
  try {
    return await llama.loadModel({ modelPath: copy, vocabOnly: true });
  } finally {
    llama.logLevel = level;
    if (copy !== path) rmSync(copy, { force: true });
  }
}

/** The vocab directory, or null (reason printed by sharedDir). */
export function vocabDir(): string | null {
  return sharedDir('vocab');
}

// ---------------------------------------------------------------------------
// Random texts for the fuzz tests: pieces of many kinds glued together, so that
// word boundaries, whitespace runs and script changes fall everywhere.

const WORDS = ['the', 'Hello', 'world', 'tokenizer', 'llama', 'GGUF', 'x', 'I', 'a', 'don', 'it', 'HTTP', 'camelCase',
  'snake_case', 'naïve', 'café', 'Ünïcödé', 'Ελληνικά', 'русский', 'Български', 'עברית', 'العربية', 'हिन्दी', 'ไทย',
  'ភាសាខ្មែរ', '日本語', 'ひらがな', 'カタカナ', '中文字符', '한국어', '조선말', 'Æsir', 'straße', 'İstanbul', 'ǅemal'];
const PUNCT = ['.', ',', '!', '?', ';', ':', '...', '—', '–', '-', '--', '(', ')', '[', ']', '{', '}', '"', "'", '`', '«', '»',
  '“', '”', '‘', '’', '¿', '¡', '@', '#', '$', '%', '^', '&', '*', '+', '=', '<', '>', '/', '\\', '|', '~', '_', '。', '、', '，', '！', '？', '～'];
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'RE", "'Ve", "'lL", "'D", "n't", "'"];
const SPACES = [' ', '  ', '   ', '    ', '\t', '\n', '\n\n', '\r\n', ' \n', '\t\t', '\u00a0', '\u3000', '\u2009', '\u200b',
  '\u0085', '\u2028', '\f', '\v', '      ', ' \t \n'];
const NUMBERS = ['0', '7', '42', '123', '1234', '12345', '3.14', '1,000', '١٢٣', '３４５', '²', '½', 'Ⅻ', '⑤', '0x1F', '1e-9'];
const EMOJI = ['🚀', '😀', '👍🏽', '👨‍👩‍👧', '🇫🇷', '😶‍🌫️', '✅', '🦙', '❤️', '🤖', '🏳️‍🌈', '⭐'];
const SPECIAL_LOOKING = ['<s>', '</s>', '<unk>', '<|endoftext|>', '[CLS]', '[SEP]', '[MASK]', '[PAD]', '[UNK]', '<|im_start|>',
  '<|im_end|>', '<0x0A>', '<0xE2>', '▁', '▁▁', 'Ġ', 'Ċ', '##ing', '<|fim_prefix|>', '<pad>', '<mask>', '<|padding|>',
  '<｜begin▁of▁sentence｜>', '<｜fim▁hole｜>', '<jupyter_output>', '<issue_comment>', '<||_unused_3_||>', '[PAD100280]'];
const MARKS = ['e\u0301', 'a\u0308', 'n\u0303', '\u0301', 'ि', '\u093f\u0902', 'ั'];
// Code points llama.cpp's Unicode 15.1 table leaves unassigned but newer engines know (they must tokenize as "other").
const RECENT = ['\u1c89', '\ua7cb', '\u{1fae9}', '\u{10d40}', '\u{1e5d0}', '\u0897', '\u{16100}'];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)];
}

function randomCodePoint(rand: () => number): string {
  const r = rand();
  let cp: number;
  if (r < 0.4) cp = 0x20 + Math.floor(rand() * 0x5f); // printable ASCII
  else if (r < 0.5) cp = Math.floor(rand() * 0x20); // C0 controls (not NUL, see below)
  else if (r < 0.8) cp = 0x80 + Math.floor(rand() * (0xd800 - 0x80)); // rest of the BMP before surrogates
  else if (r < 0.9) cp = 0xe000 + Math.floor(rand() * 0x2000); // private use, CJK compatibility, specials
  else cp = 0x10000 + Math.floor(rand() * 0x30000); // astral planes 1-3
  if (cp === 0) cp = 0x20;
  return String.fromCodePoint(cp);
}

/** A random text of 1..maxPieces pieces of mixed kinds. */
export function randomText(rand: () => number, maxPieces = 12): string {
  const n = 1 + Math.floor(rand() * maxPieces);
  let s = '';
  for (let i = 0; i < n; i++) {
    const k = rand();
    if (k < 0.25) s += pick(rand, WORDS);
    else if (k < 0.35) s += pick(rand, PUNCT);
    else if (k < 0.42) s += pick(rand, CONTRACTIONS);
    else if (k < 0.57) s += pick(rand, SPACES);
    else if (k < 0.65) s += pick(rand, NUMBERS);
    else if (k < 0.70) s += pick(rand, EMOJI);
    else if (k < 0.76) s += pick(rand, SPECIAL_LOOKING);
    else if (k < 0.80) s += pick(rand, MARKS);
    else if (k < 0.82) s += pick(rand, RECENT);
    else if (k < 0.92) s += randomCodePoint(rand);
    else s += Array.from({ length: 1 + Math.floor(rand() * 6) }, () => String.fromCharCode(0x61 + Math.floor(rand() * 26))).join('');
  }
  return s;
}
