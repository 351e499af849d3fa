// Unicode facts the tokenizers need, classified the way llama.cpp's unicode.cpp
// classifies them: one general-category flag per code point (L, N, M, P, S, Z,
// C or "undefined"), plus a whitespace flag, a one-code-point NFD and a simple
// lowercase mapping.
//
// llama.cpp builds these from a fixed UnicodeData.txt (Unicode 15.1 in the build
// node-llama-cpp 3.21.1 ships). We derive them from the JS engine's own Unicode
// tables (\p{...} regexes, String#normalize, String#toLowerCase), and treat the
// code points that Unicode 16.0 and 17.0 assigned as unassigned, so a newer
// engine classifies exactly like llama.cpp does. An engine older than 15.1 would
// see a few dozen recent characters as unassigned; an engine newer than 17.0
// would need the next version's additions appended to POST_15_1_RANGES.

/** Category and helper flags, bit-compatible with llama.cpp's unicode_cpt_flags. */
export const CptFlag = {
  Undefined: 0x0001,
  Number: 0x0002, // \p{N}
  Letter: 0x0004, // \p{L}
  Separator: 0x0008, // \p{Z}
  AccentMark: 0x0010, // \p{M}
  Punctuation: 0x0020, // \p{P}
  Symbol: 0x0040, // \p{S}
  Control: 0x0080, // \p{C} other than Cn
  CategoryMask: 0x00ff,
  Whitespace: 0x0100, // Unicode White_Space
} as const;

export const MAX_CODEPOINT = 0x10ffff;

/** Code points first assigned in Unicode 16.0 or 17.0 (hex ranges, inclusive). */
const POST_15_1_RANGES =
  '88f,897,c5c,cdc,1acf-1add,1ae0-1aeb,1b4e-1b4f,1b7f,1c89-1c8a,20c1,2427-2429,2b96,31e4-31e5,' +
  'a7cb-a7cf,a7d2,a7d4,a7da-a7dc,a7f1,fbc3-fbd2,fd90-fd91,fdc8-fdce,105c0-105f3,10940-10959,' +
  '10d40-10d65,10d69-10d85,10d8e-10d8f,10ec2-10ec7,10ed0-10ed8,10efa-10efc,11380-11389,1138b,' +
  '1138e,11390-113b5,113b7-113c0,113c2,113c5,113c7-113ca,113cc-113d5,113d7-113d8,113e1-113e2,' +
  '116d0-116e3,11b60-11b67,11bc0-11be1,11bf0-11bf9,11db0-11ddb,11de0-11de9,11f5a,13460-143fa,' +
  '16100-16139,16d40-16d79,16ea0-16eb8,16ebb-16ed3,16ff2-16ff6,187f8-187ff,18cff,18d09-18d1e,' +
  '18d80-18df2,1cc00-1ccfc,1cd00-1ceb3,1ceba-1ced0,1cee0-1cef0,1e5d0-1e5fa,1e5ff,1e6c0-1e6de,' +
  '1e6e0-1e6f5,1e6fe-1e6ff,1f6d8,1f777-1f77a,1f8b2-1f8bb,1f8c0-1f8c1,1f8d0-1f8d8,1fa54-1fa57,' +
  '1fa89-1fa8a,1fa8e-1fa8f,1fabe,1fac6,1fac8,1facd,1fadc,1fadf,1fae9-1faea,1faef,1fbcb-1fbef,' +
  '1fbfa,2b73a-2b73f,2cea2-2cead,323b0-33479';

let post151: Uint32Array | null = null; // flat [lo0, hi0, lo1, hi1, ...], sorted

function isPost151(cp: number): boolean {
  if (!post151) {
    const flat: number[] = [];
    for (const part of POST_15_1_RANGES.split(',')) {
      const [lo, hi] = part.split('-');
      flat.push(parseInt(lo, 16), parseInt(hi ?? lo, 16));
    }
    post151 = Uint32Array.from(flat);
  }
  // Binary search over the range starts.
  let lo = 0;
  let hi = post151.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < post151[2 * mid]) hi = mid - 1;
    else if (cp > post151[2 * mid + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

// One regex with a group per category: the index of the group that matched is
// the category. Order matters only for documentation; categories are disjoint.
const CATEGORY_RE = /(\p{L})|(\p{N})|(\p{M})|(\p{P})|(\p{S})|(\p{Z})|([\p{Cc}\p{Cf}\p{Co}\p{Cs}])/u;
const CATEGORY_FLAGS = [
  CptFlag.Letter, CptFlag.Number, CptFlag.AccentMark, CptFlag.Punctuation,
  CptFlag.Symbol, CptFlag.Separator, CptFlag.Control,
];
const WHITESPACE_RE = /\p{White_Space}/u;

// Computed on first use per code point; 0 means "not computed yet" (every code
// point has at least one flag).
let flagTable: Uint16Array | null = null;

function computeFlags(cp: number): number {
  if (cp >= 0xd800 && cp <= 0xdfff) return CptFlag.Control; // surrogates (Cs)
  const ch = String.fromCodePoint(cp);
  let flags: number = CptFlag.Undefined;
  if (!isPost151(cp)) {
    const m = CATEGORY_RE.exec(ch);
    if (m) {
      for (let g = 1; g < m.length; g++) {
        if (m[g] !== undefined) { flags = CATEGORY_FLAGS[g - 1]; break; }
      }
    }
  }
  if (WHITESPACE_RE.test(ch)) flags |= CptFlag.Whitespace;
  return flags;
}

/** llama.cpp's unicode_cpt_flags_from_cpt: 0 outside the code space. */
export function cptFlags(cp: number): number {
  if (cp < 0 || cp > MAX_CODEPOINT) return 0;
  if (!flagTable) flagTable = new Uint16Array(MAX_CODEPOINT + 1);
  let f = flagTable[cp];
  if (f === 0) flagTable[cp] = f = computeFlags(cp);
  return f;
}

const nfdCache = new Map<number, number>();

/**
 * llama.cpp's unicode_cpts_normalize_nfd for one code point: the FIRST code
 * point of its canonical decomposition (so "é" -> "e", and a Hangul syllable
 * -> its leading jamo). This is not real NFD; it is what BERT tokenization in
 * llama.cpp does, and we match it.
 */
export function nfdFirst(cp: number): number {
  if (cp < 0xc0) return cp; // nothing below U+00C0 decomposes
  let r = nfdCache.get(cp);
  if (r === undefined) {
    r = cp;
    if (!(cp >= 0xd800 && cp <= 0xdfff) && !isPost151(cp)) {
      r = String.fromCodePoint(cp).normalize('NFD').codePointAt(0) ?? cp;
    }
    nfdCache.set(cp, r);
  }
  return r;
}

const lowerCache = new Map<number, number>();

/** llama.cpp's unicode_tolower: the simple (one-to-one) lowercase mapping of UnicodeData. */
export function toLowerCpt(cp: number): number {
  if (cp < 0x80) return cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp;
  let r = lowerCache.get(cp);
  if (r === undefined) {
    r = cp;
    if (cp === 0x130) {
      r = 0x69; // the only unconditional full mapping that differs: İ -> i (simple) vs i̇ (full)
    } else if (!(cp >= 0xd800 && cp <= 0xdfff) && !isPost151(cp)) {
      const s = String.fromCodePoint(cp).toLowerCase();
      const first = s.codePointAt(0) ?? cp;
      if (s.length === (first > 0xffff ? 2 : 1)) r = first;
    }
    lowerCache.set(cp, r);
  }
  return r;
}

/** Code points of a string (lone surrogates stay as they are; TextEncoder would make them U+FFFD). */
export function codePoints(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out.push(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000);
        i++;
        continue;
      }
    }
    out.push(c);
  }
  return out;
}

export function fromCodePoints(cps: ArrayLike<number>, start = 0, end = cps.length): string {
  let s = '';
  // String.fromCodePoint with many arguments is fast but limited by the argument count.
  for (let i = start; i < end; i += 4096) {
    s += String.fromCodePoint(...Array.prototype.slice.call(cps, i, Math.min(end, i + 4096)));
  }
  return s;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a string (lone surrogates become U+FFFD, as node-llama-cpp's string passing does). */
export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

// GPT-2's byte-level alphabet: every byte gets a printable code point. Bytes
// that are printable Latin-1 map to themselves; the other 68 map, in byte
// order, to U+0100, U+0101, ...
let byteToChar: string[] | null = null;
let charToByte: Map<number, number> | null = null;

function buildByteMaps(): void {
  byteToChar = new Array(256);
  charToByte = new Map();
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    const cp = printable ? b : next++;
    byteToChar[b] = String.fromCharCode(cp);
    charToByte.set(cp, b);
  }
}

/** The GPT-2 byte-level character of a byte. */
export function byteToUnicode(b: number): string {
  if (!byteToChar) buildByteMaps();
  return byteToChar![b];
}

/** The byte a GPT-2 byte-level code point stands for, or undefined when it is not one. */
export function unicodeToByte(cp: number): number | undefined {
  if (!charToByte) buildByteMaps();
  return charToByte!.get(cp);
}

/** GPT-2 byte-level encoding of a string's UTF-8 bytes. */
export function byteEncode(s: string): string {
  if (!byteToChar) buildByteMaps();
  const map = byteToChar!;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp < 0x80) { out += map[cp]; continue; }
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) { cp = ((cp - 0xd800) << 10) + (lo - 0xdc00) + 0x10000; i++; }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // lone surrogate, as TextEncoder encodes it
    if (cp < 0x800) {
      out += map[0xc0 | (cp >> 6)] + map[0x80 | (cp & 0x3f)];
    } else if (cp < 0x10000) {
      out += map[0xe0 | (cp >> 12)] + map[0x80 | ((cp >> 6) & 0x3f)] + map[0x80 | (cp & 0x3f)];
    } else {
      out += map[0xf0 | (cp >> 18)] + map[0x80 | ((cp >> 12) & 0x3f)] + map[0x80 | ((cp >> 6) & 0x3f)] + map[0x80 | (cp & 0x3f)];
    }
  }
  return out;
}
