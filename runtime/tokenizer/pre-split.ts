// The BPE pre-tokenizer engine: cuts text into words with a list of split
// steps, the way llama.cpp's unicode_regex_split does.
//
// How llama.cpp applies a list of regexes (and so how we must):
// - The text is a sequence of code points, cut into fragments (at first, one).
// - Each step cuts every fragment further: each match becomes a piece, and the
//   text between matches becomes a piece too (nothing is dropped). A step sees
//   one fragment at a time, so lookaheads stop at the fragment's end and `$`
//   matches there.
// - Steps that use \p{...} categories do not run on the real text: every code
//   point >= 128 is first replaced by one byte standing for its class
//   (whitespace -> \v, number -> \xD1, letter -> \xD2, punctuation -> \xD3,
//   mark -> \xD4, symbol -> \xD5, anything else -> \xD0), and each \p{X} in the
//   regex becomes a class of that byte plus the ASCII members of X. We do the
//   same, so the result follows llama.cpp's category table (see unicode.ts), not
//   the regex engine's.
// - Steps without categories run on the real code points, with non-ASCII
//   whitespace replaced by \v (std::wregex's \s knows ASCII whitespace only).
// - The GPT-2, Llama-3 and Qwen2 patterns are not run as regexes at all: llama.cpp
//   has hand-written matchers for them, which differ from the regexes in corner
//   cases. We reimplement those matchers (customSplit* below).
import { CptFlag, cptFlags, fromCodePoints, toLowerCpt } from './unicode.js';

export type SplitStep =
  /** 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
  | { kind: 'gpt2' }
  /**
   * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
   * with D = maxDigits (3 for Llama 3, 1 for Qwen2); `marks` adds \p{M} to the letter runs (Qwen3.5).
   */
  | { kind: 'llama3'; maxDigits: 1 | 3; marks: boolean }
  /** [^\n]+|[\n]+ */
  | { kind: 'newlines' }
  /** A regex in llama.cpp's (std::regex ECMAScript) syntax. */
  | { kind: 'regex'; source: string };

const NL = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const APOS = 0x27;

// ---------------------------------------------------------------------------
// Hand-written matchers (llama.cpp's unicode_regex_split_custom_*).

/** Cuts one fragment [ini, end) and appends the piece lengths to `out`. */
type FragmentCutter = (cps: ArrayLike<number>, ini: number, end: number, out: number[]) => void;

function eachFragment(cps: ArrayLike<number>, offsets: number[], cut: FragmentCutter): number[] {
  const out: number[] = [];
  let start = 0;
  for (const len of offsets) {
    cut(cps, start, start + len, out);
    start += len;
  }
  return out;
}

/** Contraction at pos ('s 't 'm 'd 're 've 'll): its length, or 0. */
function contractionLength(cps: ArrayLike<number>, pos: number, end: number, caseInsensitive: boolean): number {
  if (cps[pos] !== APOS || pos + 1 >= end) return 0;
  const lower = (cp: number) => (caseInsensitive ? toLowerCpt(cp) : cp);
  const a = lower(cps[pos + 1]);
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2; // s t m d
  if (pos + 2 < end) {
    const b = lower(cps[pos + 2]);
    if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return 3; // re ve ll
  }
  return 0;
}

const gpt2Cutter: FragmentCutter = (cps, ini, end, out) => {
  const flags = (p: number) => (p >= ini && p < end ? cptFlags(cps[p]) : 0);
  const WLN = CptFlag.Whitespace | CptFlag.Letter | CptFlag.Number;
  let pos = ini;
  const emit = (to: number) => {
    if (to > pos) out.push(to - pos);
    pos = to;
  };
  while (pos < end) {
    const cp = cps[pos];
    const c = contractionLength(cps, pos, end, false);
    if (c) { emit(pos + c); continue; }

    // An optional leading space, judged by the character after it.
    const lead = cp === SPACE ? 1 : 0;
    const f = flags(pos + lead);
    if (f & CptFlag.Letter) {
      let p = pos + lead;
      while (flags(p) & CptFlag.Letter) p++;
      emit(p);
      continue;
    }
    if (f & CptFlag.Number) {
      let p = pos + lead;
      while (flags(p) & CptFlag.Number) p++;
      emit(p);
      continue;
    }
    if (!(f & WLN) && f !== 0) {
      let p = pos + lead;
      while (!(flags(p) & WLN) && flags(p) !== 0) p++;
      emit(p);
      continue;
    }

    let n = 0;
    while (flags(pos + n) & CptFlag.Whitespace) n++;
    if (n > 1 && pos + n < end) emit(pos + n - 1); // \s+(?!\S): leave the last space to the next word
    else if (n > 0) emit(pos + n);
    else emit(pos + 1);
  }
};

function llama3Cutter(maxDigits: number, marks: boolean): FragmentCutter {
  const WORD = marks ? CptFlag.Letter | CptFlag.AccentMark : CptFlag.Letter;
  const NOT_OTHER = CptFlag.Whitespace | CptFlag.Number | WORD;
  return (cps, ini, end, out) => {
    const flags = (p: number) => (p >= ini && p < end ? cptFlags(cps[p]) : 0);
    const cpAt = (p: number) => (p >= ini && p < end ? cps[p] : -1);
    let pos = ini;
    const emit = (to: number) => {
      if (to > pos) out.push(to - pos);
      pos = to;
    };
    while (pos < end) {
      const cp = cps[pos];
      const f = flags(pos);
      const c = contractionLength(cps, pos, end, true);
      if (c) { emit(pos + c); continue; }

      // [^\r\n\p{L}\p{N}]?\p{L}+ : any one non-newline, non-number character may lead a letter run.
      if (!(cp === CR || cp === NL || f & CptFlag.Number) && (f & WORD || flags(pos + 1) & WORD)) {
        let p = pos + 1;
        while (flags(p) & WORD) p++;
        emit(p);
        continue;
      }

      if (f & CptFlag.Number) {
        // \p{N}{1,maxDigits}, repeated: a run of digits is cut into groups from the left.
        let p = pos;
        while (flags(p) & CptFlag.Number) {
          p++;
          if (p - pos >= maxDigits) emit(p);
        }
        emit(p);
        continue;
      }

      // ' ?[^\s\p{L}\p{N}]+[\r\n]*'. llama.cpp tests the first character's own
      // flags for being non-zero (not the one after the space); we do too.
      const lead = cp === SPACE ? 1 : 0;
      if (!(flags(pos + lead) & NOT_OTHER) && f !== 0) {
        let p = pos + lead;
        while (!(flags(p) & NOT_OTHER) && flags(p) !== 0) p++;
        while (cpAt(p) === CR || cpAt(p) === NL) p++;
        emit(p);
        continue;
      }

      let n = 0;
      let afterLastNewline = 0;
      while (flags(pos + n) & CptFlag.Whitespace) {
        const w = cpAt(pos + n);
        if (w === CR || w === NL) afterLastNewline = pos + n + 1;
        n++;
      }
      if (afterLastNewline > 0) emit(afterLastNewline); // \s*[\r\n]+
      else if (n > 1 && pos + n < end) emit(pos + n - 1); // \s+(?!\S)
      else if (n > 0) emit(pos + n); // \s+
      else emit(pos + 1);
    }
  };
}

const newlinesCutter: FragmentCutter = (cps, ini, end, out) => {
  let pos = ini;
  while (pos < end) {
    const isNl = cps[pos] === NL;
    const start = pos;
    while (pos < end && (cps[pos] === NL) === isNl) pos++;
    out.push(pos - start);
  }
};

// ---------------------------------------------------------------------------
// Regex steps.

// The \p{...} names llama.cpp collapses, and the byte each collapses to.
const CATEGORY_BYTES: Record<string, number> = {
  N: 0xd1, L: 0xd2, Lu: 0xd2, Ll: 0xd2, Lt: 0xd2, Lm: 0xd2, Lo: 0xd2, P: 0xd3, M: 0xd4, S: 0xd5,
};
const CATEGORY_OF_BYTE: Array<[number, number]> = [
  [CptFlag.Number, 0xd1], [CptFlag.Letter, 0xd2], [CptFlag.Punctuation, 0xd3],
  [CptFlag.AccentMark, 0xd4], [CptFlag.Symbol, 0xd5],
];
const COLLAPSED_OTHER = 0xd0;
const VT = 0x0b;
const CATEGORY_IN_REGEX = /\\p\{(N|L|Lu|Ll|Lt|Lm|Lo|P|M|S)\}/;

const hex2 = (c: number) => '\\x' + c.toString(16).padStart(2, '0');

// ASCII members of each general category, as escaped class contents.
const asciiMembers = new Map<string, string>();
function asciiClass(cat: string): string {
  const major = cat[0] === 'L' ? 'L' : cat;
  let s = asciiMembers.get(major);
  if (s === undefined) {
    const re = new RegExp(`\\p{${major}}`, 'u');
    s = '';
    for (let c = 0; c < 0x80; c++) if (re.test(String.fromCharCode(c))) s += hex2(c);
    asciiMembers.set(major, s);
  }
  return s;
}

// \s and \S as std::regex in the C locale sees them.
const SPACE_CLASS = '\\t\\n\\x0b\\f\\r ';

/**
 * Rewrites a regex from llama.cpp's syntax into a JS one with the same meaning
 * on our prepared text: \p{..} -> collapsed classes (when `collapse`), and
 * \s / \S -> ASCII whitespace only.
 */
function translateRegex(source: string, collapse: boolean): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\' && i + 1 < source.length) {
      const next = source[i + 1];
      if (next === 'p' && source[i + 2] === '{') {
        const close = source.indexOf('}', i + 3);
        const cat = source.slice(i + 3, close);
        if (collapse && close > 0 && cat in CATEGORY_BYTES) {
          const members = hex2(CATEGORY_BYTES[cat]) + asciiClass(cat);
          out += inClass ? members : `[${members}]`;
          i = close;
          continue;
        }
      }
      if (next === 's') { out += inClass ? SPACE_CLASS : `[${SPACE_CLASS}]`; i++; continue; }
      if (next === 'S' && !inClass) { out += `[^${SPACE_CLASS}]`; i++; continue; }
      out += ch + next;
      i++;
      continue;
    }
    if (ch === '[' && !inClass) inClass = true;
    else if (ch === ']' && inClass) inClass = false;
    out += ch;
  }
  return out;
}

interface CompiledRegex {
  collapse: boolean;
  re: RegExp;
}
const regexCache = new Map<string, CompiledRegex>();

function compileRegex(source: string): CompiledRegex {
  let c = regexCache.get(source);
  if (!c) {
    const collapse = CATEGORY_IN_REGEX.test(source);
    // Collapsed text is all single bytes; the real text needs /u for astral ranges.
    c = { collapse, re: new RegExp(translateRegex(source, collapse), collapse ? 'g' : 'gu') };
    regexCache.set(source, c);
  }
  return c;
}

function collapseText(cps: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i];
    if (cp < 0x80) { s += String.fromCharCode(cp); continue; }
    const f = cptFlags(cp);
    let b = COLLAPSED_OTHER;
    if (f & CptFlag.Whitespace) b = VT;
    else {
      const cat = f & CptFlag.CategoryMask;
      for (const [flag, byte] of CATEGORY_OF_BYTE) if (cat === flag) { b = byte; break; }
    }
    s += String.fromCharCode(b);
  }
  return s;
}

/** Runs a regex over each fragment, std::regex_iterator style. Lengths are in code points. */
function regexSplit(source: string, cps: ArrayLike<number>, offsets: number[], prepared: PreparedText): number[] {
  const { collapse, re } = compileRegex(source);
  // In collapsed text one code point is one code unit; in the real text we map
  // code-unit positions back to code points.
  const text = collapse ? prepared.collapsed() : prepared.wide();
  const unitOf = collapse ? null : prepared.unitIndex();
  const cpOfUnit = collapse ? null : prepared.cpIndex();
  const out: number[] = [];
  let start = 0;
  for (const len of offsets) {
    const u0 = unitOf ? unitOf[start] : start;
    const u1 = unitOf ? unitOf[start + len] : start + len;
    const sub = text.slice(u0, u1);
    const cpAt = (u: number) => (cpOfUnit ? cpOfUnit[u0 + u] - start : u);
    re.lastIndex = 0;
    let prevEnd = 0; // in code points, relative to the fragment
    for (let m = re.exec(sub); m !== null; m = re.exec(sub)) {
      const mStart = cpAt(m.index);
      const mEnd = cpAt(m.index + m[0].length);
      if (mStart > prevEnd) out.push(mStart - prevEnd);
      out.push(mEnd - mStart);
      prevEnd = mEnd;
      if (m[0].length === 0) re.lastIndex++; // std::regex_iterator also moves past an empty match
    }
    if (prevEnd < len) out.push(len - prevEnd);
    start += len;
  }
  return out;
}

/** Lazily built views of the text for the regex steps. */
class PreparedText {
  private collapsedText?: string;
  private wideText?: string;
  private units?: Uint32Array; // code point index -> code unit index (length n+1)
  private cps2?: Uint32Array; // code unit index -> code point index (length units+1)

  constructor(private readonly cps: ArrayLike<number>) {}

  collapsed(): string {
    return (this.collapsedText ??= collapseText(this.cps));
  }

  wide(): string {
    if (this.wideText === undefined) {
      const replaced = Array.from(this.cps, (cp) => (cp > 0x7f && cptFlags(cp) & CptFlag.Whitespace ? VT : cp));
      this.wideText = fromCodePoints(replaced);
    }
    return this.wideText;
  }

  unitIndex(): Uint32Array {
    if (!this.units) {
      const n = this.cps.length;
      const units = new Uint32Array(n + 1);
      for (let i = 0; i < n; i++) units[i + 1] = units[i] + (this.cps[i] > 0xffff ? 2 : 1);
      this.units = units;
    }
    return this.units;
  }

  cpIndex(): Uint32Array {
    if (!this.cps2) {
      const units = this.unitIndex();
      const map = new Uint32Array(units[units.length - 1] + 1);
      for (let i = 0; i < this.cps.length; i++) {
        map[units[i]] = i;
        if (units[i + 1] - units[i] === 2) map[units[i] + 1] = i + 1; // inside a pair: never a match boundary
      }
      map[units[units.length - 1]] = this.cps.length;
      this.cps2 = map;
    }
    return this.cps2;
  }
}

/**
 * Cuts text (as code points) into words by the steps, in order. Returns the
 * words' lengths in code points; the lengths sum to cps.length.
 */
export function splitWords(cps: ArrayLike<number>, steps: readonly SplitStep[]): number[] {
  let offsets = cps.length > 0 ? [cps.length] : [];
  const prepared = new PreparedText(cps);
  for (const step of steps) {
    switch (step.kind) {
      case 'gpt2': offsets = eachFragment(cps, offsets, gpt2Cutter); break;
      case 'llama3': offsets = eachFragment(cps, offsets, llama3Cutter(step.maxDigits, step.marks)); break;
      case 'newlines': offsets = eachFragment(cps, offsets, newlinesCutter); break;
      case 'regex': offsets = regexSplit(step.source, cps, offsets, prepared); break;
    }
  }
  return offsets;
}

/** Compiles every regex of the steps now, so a bad pattern fails at load time rather than on first use. */
export function checkSteps(steps: readonly SplitStep[]): void {
  for (const s of steps) if (s.kind === 'regex') compileRegex(s.source);
}
