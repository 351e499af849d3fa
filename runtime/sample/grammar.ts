// The grammar sampler stage: which tokens may come next under a GBNF grammar,
// as llama.cpp's grammar sampler decides it, and the grammar's state advanced
// by each chosen token's bytes (never by re-parsing the output so far).
//
// A token is allowed when its piece (special tokens rendered as their text,
// as llama.cpp's token_to_piece cache holds them) can be fed to some stack:
// every complete code point must match, and a trailing incomplete UTF-8
// sequence must be able to complete into something the grammar accepts there.
// The partial sequence carries over to the next token. An end-of-generation
// token is allowed only where the grammar can end; tokens with an empty piece
// never are.
//
// Speed: the sampler first samples as if unconstrained and asks only whether
// that one token is allowed (llama.cpp's common_sampler does the same); only
// when it is not does it mask the whole vocabulary. The mask walks the tokens
// in byte order, so tokens sharing a prefix share the grammar steps of that
// prefix (a trie walk without building the trie), and a prefix the grammar
// refuses skips every token that starts with it. Grammar steps are memoised
// per (stack set, code point), so a vocabulary walk is mostly map lookups.
import { GType, GrammarMatcher, parseGrammar, type Grammar, type PartialUtf8, type StackSet } from '../../formats/grammar/index.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { Candidates } from './candidates.js';

/** What the sampler asks of a constraint: is one token allowed, and which of the candidates are. */
export interface TokenConstraint {
  allows(id: number): boolean;
  /** Sets the logit of every candidate the constraint refuses to -Infinity; returns how many remain allowed. */
  mask(c: Candidates): number;
}

/** The vocabulary in the form the walk needs, built once per tokenizer. */
interface TokenIndex {
  nVocab: number;
  /** Piece bytes of every token, concatenated; a piece ends at its first NUL byte (llama.cpp reads C strings). */
  bytes: Uint8Array;
  start: Int32Array;
  len: Int32Array;
  eog: Uint8Array;
  /** Tokens whose text in the output (special tokens not rendered) differs from their piece: control tokens. */
  hidden: Uint8Array;
  /** Non-EOG tokens with a non-empty piece, sorted by their bytes. */
  order: Int32Array;
  /** Bytes each token in `order` shares with the one before it. */
  lcp: Int32Array;
  /** End (exclusive) in `order` of the tokens starting with each byte: a refused first byte skips them all at once. */
  firstEnd: Int32Array;
  maxLen: number;
}

const indexes = new WeakMap<Tokenizer, TokenIndex>();

function tokenIndex(tok: Tokenizer): TokenIndex {
  let ix = indexes.get(tok);
  if (ix) return ix;
  const n = tok.vocabSize;
  const pieces: Uint8Array[] = new Array(n);
  let total = 0;
  for (let id = 0; id < n; id++) {
    let p = tok.tokenToPieceBytes(id, { special: true });
    const nul = p.indexOf(0);
    if (nul >= 0) p = p.subarray(0, nul);
    pieces[id] = p;
    total += p.length;
  }
  const bytes = new Uint8Array(total);
  const start = new Int32Array(n);
  const len = new Int32Array(n);
  const eog = new Uint8Array(n);
  const hidden = new Uint8Array(n);
  let off = 0;
  let maxLen = 0;
  const listed: number[] = [];
  for (let id = 0; id < n; id++) {
    const p = pieces[id]!;
    bytes.set(p, off);
    start[id] = off;
    len[id] = p.length;
    off += p.length;
    if (p.length > maxLen) maxLen = p.length;
    eog[id] = tok.isEog(id) ? 1 : 0;
    const shown = tok.tokenToPieceBytes(id, { special: false });
    hidden[id] = shown.length !== p.length || shown.some((b, i) => b !== p[i]) ? 1 : 0;
    if (!eog[id] && p.length > 0) listed.push(id);
  }
  const cmp = (a: number, b: number): number => {
    const la = len[a]!;
    const lb = len[b]!;
    const m = Math.min(la, lb);
    const sa = start[a]!;
    const sb = start[b]!;
    for (let i = 0; i < m; i++) {
      const d = bytes[sa + i]! - bytes[sb + i]!;
      if (d) return d;
    }
    return la - lb || a - b;
  };
  listed.sort(cmp);
  const order = Int32Array.from(listed);
  const lcp = new Int32Array(order.length);
  for (let k = 1; k < order.length; k++) {
    const a = order[k - 1]!;
    const b = order[k]!;
    const m = Math.min(len[a]!, len[b]!);
    let i = 0;
    while (i < m && bytes[start[a]! + i] === bytes[start[b]! + i]) i++;
    lcp[k] = i;
  }
  const firstEnd = new Int32Array(256);
  for (let k = 0; k < order.length; k++) firstEnd[bytes[start[order[k]!]!]!] = k + 1;
  ix = { nVocab: n, bytes, start, len, eog, hidden, order, lcp, firstEnd, maxLen };
  indexes.set(tok, ix);
  return ix;
}

export interface GrammarConstraintOptions {
  /**
   * 'strict' (default): a token is refused where its bytes are not valid
   * UTF-8 (a stray continuation byte, an overlong form, a surrogate, past
   * U+10FFFF), so the text always decodes to exactly the characters the
   * grammar matched (a JSON string's maxLength holds). 'llama.cpp': decode
   * as llama.cpp's grammar does, which takes such bytes as some code point
   * (the oracle tests compare allowed sets in this mode). 'strict' also
   * refuses control tokens (<|im_start|>...) where only their text matches:
   * the output text leaves them out, so the text would not be what the
   * grammar matched; a token element (<[id]>) still allows them.
   */
  utf8?: 'strict' | 'llama.cpp';
}

/** Whether a decoded sequence of `len` bytes is a valid UTF-8 encoding of cp. */
function validScalar(cp: number, len: number): boolean {
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  return len === 1 || (len === 2 ? cp >= 0x80 : len === 3 ? cp >= 0x800 : cp >= 0x10000);
}

/** Whether some continuation of a partial sequence (value so far, rem bytes to come, len bytes in all) is valid UTF-8. */
function validPartial(value: number, rem: number, len: number): boolean {
  const span = 2 ** (6 * rem);
  const low = Math.max(value * span, len === 2 ? 0x80 : len === 3 ? 0x800 : 0x10000);
  const high = Math.min(value * span + span - 1, 0x10ffff);
  return low <= high && !(low >= 0xd800 && high <= 0xdfff);
}

/** UTF-8 sequence length by the high nibble of the first byte; 0 marks a continuation byte (invalid first). */
const SEQ_LEN = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 3, 4];

/**
 * A grammar's state over one generation: allows(id), mask(candidates),
 * accept(id). Create one per reply (`createGrammarConstraint`); it is cheap,
 * the parsed grammar and the vocabulary index are shared.
 */
export class GrammarConstraint implements TokenConstraint {
  private set: StackSet;
  private partial: PartialUtf8 = { value: 0, nRemain: 0 };
  /** Bytes of the sequence `partial` is in the middle of. */
  private partialLen = 0;
  private ended = false;
  private readonly strict: boolean;
  private readonly ix: TokenIndex;
  // per-depth walk state, reused
  private dSet: Int32Array;
  private dVal: Float64Array;
  private dRem: Int32Array;
  private dLen: Int32Array;
  private allowed: Uint8Array;

  constructor(readonly matcher: GrammarMatcher, readonly tokenizer: Tokenizer, options: GrammarConstraintOptions = {}) {
    this.strict = (options.utf8 ?? 'strict') === 'strict';
    this.ix = tokenIndex(tokenizer);
    this.set = matcher.initial;
    const m = this.ix.maxLen + 1;
    this.dSet = new Int32Array(m);
    this.dVal = new Float64Array(m);
    this.dRem = new Int32Array(m);
    this.dLen = new Int32Array(m);
    this.allowed = new Uint8Array(this.ix.nVocab);
  }

  /** True when the text so far is a whole sentence of the grammar (an end-of-generation token is allowed). */
  get canEnd(): boolean {
    return !this.ended && this.matcher.canEnd(this.set);
  }

  /** True when nothing but the end can follow (the grammar is complete), or the end was accepted. */
  get finished(): boolean {
    return this.ended || (this.set === this.matcher.finished && this.partial.nRemain <= 0);
  }

  allows(id: number): boolean {
    const ix = this.ix;
    if (this.ended || id < 0 || id >= ix.nVocab) return false;
    if (ix.eog[id]) return this.matcher.canEnd(this.set);
    if (ix.len[id] === 0) return false;
    if (this.tokenElementAllows(id)) return true;
    if (this.strict && ix.hidden[id]) return false;
    return this.walkOne(id);
  }

  /** Marks every token of the vocabulary the grammar allows next (1) or not (0); the array is reused. */
  allowedTokens(): Uint8Array {
    const ix = this.ix;
    const out = this.allowed;
    out.fill(0);
    if (this.ended) return out;
    this.walkAll(out);
    if (this.strict) for (let id = 0; id < ix.nVocab; id++) if (ix.hidden[id]) out[id] = 0;
    const m = this.matcher;
    if (m.canEnd(this.set)) for (let id = 0; id < ix.nVocab; id++) if (ix.eog[id]) out[id] = 1;
    if (m.hasTokenTops(this.set)) {
      for (const t of m.tokenTops(this.set)) {
        if (t.type === GType.TOKEN) {
          if (t.id < ix.nVocab && !ix.eog[t.id] && ix.len[t.id]! > 0) out[t.id] = 1;
        } else {
          for (let id = 0; id < ix.nVocab; id++) if (id !== t.id && !ix.eog[id] && ix.len[id]! > 0) out[id] = 1;
        }
      }
    }
    return out;
  }

  mask(c: Candidates): number {
    const allowed = this.allowedTokens();
    let n = 0;
    for (let i = 0; i < c.size; i++) {
      if (!allowed[c.ids[i]!]) c.logits[i] = -Infinity;
      else if (c.logits[i]! > -Infinity) n++; // an allowed but banned token (--ignore-eos) does not count
    }
    return n;
  }

  /** Advances the grammar by a token (one the constraint allowed); throws RangeError if the grammar cannot take it. */
  accept(id: number): void {
    const ix = this.ix;
    if (this.ended) throw new RangeError(`grammar: token ${id} after the end of generation`);
    if (ix.eog[id]) {
      if (!this.matcher.canEnd(this.set)) throw new RangeError(`grammar: end-of-generation token ${id} where the grammar cannot end`);
      this.ended = true;
      return;
    }
    const m = this.matcher;
    const byToken = m.hasTokenTops(this.set) ? m.stepToken(this.set, id) : 0;
    let set = this.set;
    let { value, nRemain } = this.partial;
    let len = this.partialLen;
    let completed = 0;
    const strict = this.strict;
    const e = ix.start[id]! + ix.len[id]!;
    let carried = nRemain > 0;
    for (let i = ix.start[id]!; i < e && set !== 0; i++) {
      const b = ix.bytes[i]!;
      if (nRemain > 0) {
        if ((carried || strict) && b >> 6 !== 2) {
          set = 0;
          break;
        }
        value = value * 64 + (b & 0x3f);
        nRemain--;
      } else {
        carried = false;
        nRemain = SEQ_LEN[b >> 4]! - 1;
        if (nRemain < 0) {
          set = 0;
          break;
        }
        len = nRemain + 1;
        value = b & ((1 << (7 - nRemain)) - 1);
      }
      if (nRemain === 0) {
        carried = false;
        set = strict && !validScalar(value, len) ? 0 : m.step(set, value);
        completed++;
      }
    }
    // llama.cpp drops the empty stack on any token, even one that completes no character
    if (completed === 0 && set !== 0) set = m.withoutEnd(set);
    const merged = byToken === 0 ? set : set === 0 ? byToken : m.union(set, byToken);
    if (merged === 0) throw new RangeError(`grammar: token ${id} (${JSON.stringify(this.tokenizer.tokenToPiece(id))}) does not fit the grammar here`);
    this.set = merged;
    this.partial = { value, nRemain: Math.max(nRemain, 0) };
    this.partialLen = len;
  }

  /**
   * Advances the grammar by text rather than a token (a lazy grammar catching
   * up with the text from its trigger on); throws RangeError where the
   * grammar cannot take it. Whole characters only.
   */
  acceptText(text: string): void {
    if (this.ended) throw new RangeError('grammar: text after the end of generation');
    let set = this.set;
    for (const ch of text) {
      set = this.matcher.step(set, ch.codePointAt(0)!);
      if (set === 0) throw new RangeError(`grammar: the text ${JSON.stringify(text)} does not fit the grammar (at ${JSON.stringify(ch)})`);
    }
    this.set = set;
    this.partial = { value: 0, nRemain: 0 };
  }

  // -- internals --

  private tokenElementAllows(id: number): boolean {
    const m = this.matcher;
    if (!m.hasTokenTops(this.set)) return false;
    for (const t of m.tokenTops(this.set)) {
      if (t.type === GType.TOKEN ? t.id === id : t.id !== id) return true;
    }
    return false;
  }

  /** One byte of the walk from depth d to d + 1; false when the prefix is refused. */
  private stepByte(d: number, b: number, carried: number): boolean {
    let set = this.dSet[d]!;
    let value = this.dVal[d]!;
    let rem = this.dRem[d]!;
    let len = this.dLen[d]!;
    if (rem > 0) {
      // llama.cpp checks only the bytes that finish the previous token's sequence
      if ((d < carried || this.strict) && b >> 6 !== 2) return false;
      value = value * 64 + (b & 0x3f);
      rem--;
    } else {
      rem = SEQ_LEN[b >> 4]! - 1;
      if (rem < 0) return false;
      len = rem + 1;
      value = b & ((1 << (7 - rem)) - 1);
    }
    if (rem === 0) {
      if (this.strict && !validScalar(value, len)) return false;
      set = this.matcher.step(set, value);
      if (set === 0) return false;
    }
    this.dSet[d + 1] = set;
    this.dVal[d + 1] = value;
    this.dRem[d + 1] = rem;
    this.dLen[d + 1] = len;
    return true;
  }

  private endAllows(d: number): boolean {
    const rem = this.dRem[d]!;
    if (rem === 0) return true;
    if (this.strict && !validPartial(this.dVal[d]!, rem, this.dLen[d]!)) return false;
    return this.matcher.matchesPartial(this.dSet[d]!, { value: this.dVal[d]!, nRemain: rem });
  }

  private resetDepth0(): number {
    this.dSet[0] = this.set;
    this.dVal[0] = this.partial.value;
    this.dRem[0] = Math.max(this.partial.nRemain, 0);
    this.dLen[0] = this.partialLen;
    return this.dRem[0]!;
  }

  private walkOne(id: number): boolean {
    const ix = this.ix;
    const carried = this.resetDepth0();
    const s = ix.start[id]!;
    const n = ix.len[id]!;
    for (let d = 0; d < n; d++) if (!this.stepByte(d, ix.bytes[s + d]!, carried)) return false;
    return this.endAllows(n);
  }

  private walkAll(out: Uint8Array): void {
    const ix = this.ix;
    const { order, lcp, start, len, bytes } = ix;
    const carried = this.resetDepth0();
    let valid = 0; // states 0..valid are computed for the current prefix
    let dead = Infinity; // the prefix of this length is refused
    for (let k = 0; k < order.length; k++) {
      const id = order[k]!;
      const shared = lcp[k]!;
      if (shared >= dead) continue;
      dead = Infinity;
      let d = Math.min(shared, valid);
      const n = len[id]!;
      const s = start[id]!;
      while (d < n) {
        if (!this.stepByte(d, bytes[s + d]!, carried)) {
          dead = d + 1;
          break;
        }
        d++;
      }
      if (dead === 1) {
        // no token starting with this byte can come next
        k = ix.firstEnd[bytes[s]!]! - 1;
        valid = 0;
        continue;
      }
      valid = d;
      if (d === n && this.endAllows(n)) out[id] = 1;
    }
  }
}

/** A grammar given as GBNF text, or already parsed or compiled. */
export type GrammarInput = string | Grammar | GrammarMatcher;

const compiled = new WeakMap<Grammar, GrammarMatcher>();
// The last few GBNF texts' matchers: a chat that sends with the same schema
// every turn keeps its parsed grammar and memo tables warm.
const recentTexts = new Map<string, { tokenizer: Tokenizer | undefined; matcher: GrammarMatcher }>();
const RECENT_TEXTS = 8;

/** The matcher for a grammar (GBNF is parsed; a parsed grammar's matcher is shared, with its memo tables). */
export function grammarMatcher(grammar: GrammarInput, tokenizer?: Tokenizer): GrammarMatcher {
  if (grammar instanceof GrammarMatcher) return grammar;
  if (typeof grammar === 'string') {
    const hit = recentTexts.get(grammar);
    if (hit && hit.tokenizer === tokenizer) {
      recentTexts.delete(grammar);
      recentTexts.set(grammar, hit);
      return hit.matcher;
    }
    const parsed = parseGrammar(grammar, { resolveToken: tokenizer ? (t) => singleToken(tokenizer, t) : undefined });
    const matcher = new GrammarMatcher(parsed);
    recentTexts.set(grammar, { tokenizer, matcher });
    if (recentTexts.size > RECENT_TEXTS) recentTexts.delete(recentTexts.keys().next().value!);
    return matcher;
  }
  const g = grammar;
  let m = compiled.get(g);
  if (!m) {
    m = new GrammarMatcher(g);
    compiled.set(g, m);
  }
  return m;
}

function singleToken(tok: Tokenizer, text: string): number | undefined {
  const ids = tok.tokenize(text, { addSpecial: false, special: true });
  return ids.length === 1 ? ids[0] : undefined;
}

/** A fresh grammar state for one generation with this tokenizer's vocabulary. */
export function createGrammarConstraint(grammar: GrammarInput, tokenizer: Tokenizer, options: GrammarConstraintOptions = {}): GrammarConstraint {
  return new GrammarConstraint(grammarMatcher(grammar, tokenizer), tokenizer, options);
}
