// Unigram ("t5") vocabularies, as llama.cpp's UGM tokenizer does them (T5,
// XLM-RoBERTa files such as bge-m3): normalize the text, then pick the
// segmentation whose token scores sum highest (Viterbi over a byte trie).
//
// Everything runs on UTF-8 bytes, as llama.cpp does, so that the charsmap's
// byte-keyed trie, the space rules and the tie-breaking match it exactly.
//
// Normalization, one input prefix at a time:
//   1. the longest path through the trie of user-defined token texts (even one
//      that ends inside a token text, as llama.cpp's trie walk gives it) is
//      copied unchanged;
//   2. else the longest key of the precompiled charsmap is replaced by its
//      string (SentencePiece's normalization rules, NFKC and friends);
//   3. else one UTF-8 character is copied, or one bad byte becomes U+FFFD.
// Spaces in the result are then handled as the flags say: a space before the
// first word (add_space_prefix), runs of spaces merged and trailing spaces
// dropped (remove_extra_whitespaces), spaces written as ▁ (always, for t5).
//
// The precompiled charsmap (tokenizer.ggml.precompiled_charsmap) is
// SentencePiece's blob: a uint32 byte length, a double array of that many
// bytes (Darts-clone's XOR-compressed units), then the NUL-terminated
// replacement strings the double array's values point into.
import { TokenizerError } from './errors.js';
import { utf8Encode } from './unicode.js';
import { NULL_ID, TokenAttr, type Vocab } from './vocab.js';

const SPACE = 0x20;
const ESCAPED_SPACE = Uint8Array.of(0xe2, 0x96, 0x81); // ▁
const REPLACEMENT = Uint8Array.of(0xef, 0xbf, 0xbd); // U+FFFD
/** Score below the worst normal token given to a character no token covers (llama.cpp's value). */
const UNKNOWN_PENALTY = 10;

/** The parsed tokenizer.ggml.precompiled_charsmap; see the file comment. */
export class Charsmap {
  private readonly units: Uint32Array;
  private readonly strings: Uint8Array;

  constructor(blob: Uint8Array) {
    const key = 'tokenizer.ggml.precompiled_charsmap';
    if (blob.length < 4) {
      throw new TokenizerError(`${key} has ${blob.length} bytes, too few for its 4-byte length header`, { key });
    }
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const size = view.getUint32(0, true);
    if (size + 4 >= blob.length) {
      throw new TokenizerError(`${key}: its header says ${size} bytes of double array, but the blob has ${blob.length - 4} after the header (and needs replacement strings after them)`, { key, size });
    }
    const n = size >>> 2;
    this.units = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.strings = blob.subarray(4 + size);
  }

  private unit(i: number): number {
    if (i >= this.units.length) {
      throw new TokenizerError(`tokenizer.ggml.precompiled_charsmap: the double array walk reached unit ${i} of ${this.units.length}`, { index: i });
    }
    return this.units[i];
  }

  // A unit: bits 10-30 the offset of its children (shifted left by 8 more when
  // bit 9 is set), bit 8 "has a value child", bits 0-7 its label; value units
  // have bit 31 set and the value in bits 0-30.
  private offset(i: number): number {
    const u = this.unit(i);
    return ((u >>> 10) << ((u & 0x200) >>> 6)) >>> 0;
  }

  /**
   * The longest key that prefixes bytes[at..]: [bytes consumed, replacement],
   * or null. A NUL byte ends the walk, as in llama.cpp.
   */
  longestMatch(bytes: Uint8Array, at: number): [number, Uint8Array] | null {
    if (this.units.length === 0) return null;
    let node = this.offset(0);
    let length = 0;
    let value = 0;
    for (let p = at; p < bytes.length; p++) {
      const c = bytes[p];
      if (c === 0) break;
      node ^= c;
      const u = this.unit(node);
      if ((u & 0x800000ff) >>> 0 !== c) break; // not a child with this label
      const hasValue = (u >>> 8) & 1;
      node ^= this.offset(node);
      if (hasValue) {
        length = p - at + 1;
        value = this.unit(node) & 0x7fffffff;
      }
    }
    if (length === 0) return null;
    if (value >= this.strings.length) {
      throw new TokenizerError(`tokenizer.ggml.precompiled_charsmap: replacement offset ${value} is past the ${this.strings.length} bytes of strings`, { offset: value });
    }
    const end = this.strings.indexOf(0, value);
    if (end < 0) {
      throw new TokenizerError(`tokenizer.ggml.precompiled_charsmap: the replacement string at offset ${value} has no terminating NUL`, { offset: value });
    }
    return [length, this.strings.subarray(value, end)];
  }
}

/** A byte trie: node 0 is the root; children in one map keyed node * 256 + byte. */
class ByteTrie {
  private readonly next = new Map<number, number>();
  private nodes = 1;
  readonly value: number[] = [-1];

  insert(bytes: Uint8Array, id: number): void {
    let node = 0;
    for (const b of bytes) {
      const key = node * 256 + b;
      let child = this.next.get(key);
      if (child === undefined) {
        child = this.nodes++;
        this.value.push(-1);
        this.next.set(key, child);
      }
      node = child;
    }
    this.value[node] = id;
  }

  /** The child of `node` along byte b, or -1. */
  step(node: number, b: number): number {
    return this.next.get(node * 256 + b) ?? -1;
  }
}

/** UTF-8 sequence length from its first byte (1 for a stray continuation byte), as llama.cpp's unicode_len_utf8. */
function utf8Length(b: number): number {
  if (b < 0xc0) return 1;
  if (b < 0xe0) return 2;
  if (b < 0xf0) return 3;
  return 4;
}

/** Length of a valid UTF-8 character at bytes[at..] (no overlongs/surrogates check beyond llama.cpp's), or 0. */
function validUtf8At(bytes: Uint8Array, at: number): number {
  const b = bytes[at];
  if (b < 0x80) return 1;
  const n = b >= 0xf8 ? 0 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
  if (n === 0 || at + n > bytes.length) return 0;
  for (let i = 1; i < n; i++) if ((bytes[at + i] & 0xc0) !== 0x80) return 0;
  return n;
}

/** Growable byte buffer. */
class Bytes {
  buf = new Uint8Array(64);
  length = 0;
  push(b: number): void {
    if (this.length === this.buf.length) this.grow(1);
    this.buf[this.length++] = b;
  }
  append(src: Uint8Array): void {
    if (this.length + src.length > this.buf.length) this.grow(src.length);
    this.buf.set(src, this.length);
    this.length += src.length;
  }
  private grow(extra: number): void {
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.length + extra));
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
  }
}

/** The per-vocabulary state llama.cpp builds once (llm_tokenizer_ugm). */
export class UgmTokenizer {
  /** Normal, user-defined and unused tokens by their bytes. */
  private readonly tokens = new ByteTrie();
  /** User-defined token texts, for normalization's pass-through. */
  private readonly userDefined = new ByteTrie();
  private readonly unknownScore: number;
  private readonly charsmap: Charsmap | null;

  constructor(private readonly vocab: Vocab) {
    // The attributes as the file gives them: llama.cpp builds this before its
    // by-text fix-ups (forced control tokens, "unused" detection).
    const attrs = vocab.typeAttrs;
    let min = Infinity;
    for (let id = 0; id < vocab.size; id++) {
      const a = attrs[id];
      if (a & TokenAttr.Normal) min = Math.min(min, vocab.scores[id]);
      if (a & (TokenAttr.Normal | TokenAttr.UserDefined | TokenAttr.Unused)) {
        const bytes = utf8Encode(vocab.tokens[id]);
        this.tokens.insert(bytes, id);
        if (a & TokenAttr.UserDefined) this.userDefined.insert(bytes, id);
      }
    }
    // llama.cpp starts from FLT_MAX, so no normal token leaves it there.
    this.unknownScore = Math.fround((min === Infinity ? 3.4028234663852886e38 : min) - UNKNOWN_PENALTY);
    this.charsmap = vocab.precompiledCharsmap ? new Charsmap(vocab.precompiledCharsmap) : null;
  }

  /** The normalized bytes of `text` (llm_tokenizer_ugm_session::normalize). */
  normalize(text: string): Uint8Array {
    const v = this.vocab;
    const input = utf8Encode(text);
    const out = new Bytes();
    const space = v.escapeWhitespaces ? ESCAPED_SPACE : Uint8Array.of(SPACE);
    const prepend = !v.treatWhitespaceAsSuffix && v.addSpacePrefix;
    const append = v.treatWhitespaceAsSuffix && v.addSpacePrefix;
    const merge = v.removeExtraWhitespaces;
    let prepended = false;
    let inWord = false;
    for (let at = 0; at < input.length;) {
      const [piece, consumed] = this.normalizePrefix(input, at);
      for (let i = 0; i < piece.length; i++) {
        const c = piece[i];
        if (c !== SPACE) {
          if (!inWord) {
            inWord = true;
            if ((prepend && !prepended) || merge) {
              out.append(space);
              prepended = true;
            }
          }
          out.push(c);
        } else {
          inWord = false;
          if (!merge) out.append(space);
        }
      }
      at += consumed;
    }
    if (append) out.append(space);
    return out.buf.subarray(0, out.length);
  }

  private normalizePrefix(input: Uint8Array, at: number): [Uint8Array, number] {
    // The longest path into the user-defined trie, complete token or not.
    let node = 0;
    let n = 0;
    while (at + n < input.length) {
      const next = this.userDefined.step(node, input[at + n]);
      if (next < 0) break;
      node = next;
      n++;
    }
    if (n > 0) return [input.subarray(at, at + n), n];
    const m = this.charsmap?.longestMatch(input, at);
    if (m) return [m[1], m[0]];
    const len = validUtf8At(input, at);
    if (len > 0) return [input.subarray(at, at + len), len];
    return [REPLACEMENT, 1];
  }

  /** Appends the ids of one text fragment. */
  tokenize(text: string, out: number[]): void {
    const s = this.normalize(text);
    const n = s.length;
    if (n === 0) return;
    const unk = this.vocab.special.unk;
    const scores = this.vocab.scores;
    // The final attributes here (llama.cpp asks the vocabulary at tokenize time), not typeAttrs.
    const attrs = this.vocab.attrs;
    // best[i]: the best segmentation of s[0..i): its score, last token and where that token starts.
    const bestScore = new Float64Array(n + 1).fill(-Number.MAX_VALUE);
    const bestToken = new Int32Array(n + 1).fill(unk);
    const bestStart = new Int32Array(n + 1);
    bestScore[0] = 0;
    for (let at = 0; at < n;) {
      const charLen = Math.min(utf8Length(s[at]), n - at);
      const base = bestScore[at];
      let coversChar = false;
      let node = 0;
      for (let end = at; end < n;) {
        node = this.tokens.step(node, s[end++]);
        if (node < 0) break;
        const id = this.tokens.value[node];
        if (id < 0) continue;
        if (end - at === charLen) coversChar = true;
        // User-defined tokens score 0, above any log-probability.
        const score = base + (attrs[id] & TokenAttr.UserDefined ? 0 : scores[id]);
        if (score > bestScore[end]) {
          bestScore[end] = score;
          bestToken[end] = id;
          bestStart[end] = at;
        }
      }
      if (!coversChar) {
        const end = at + charLen;
        const score = base + this.unknownScore;
        if (score > bestScore[end]) {
          bestScore[end] = score;
          bestToken[end] = unk;
          bestStart[end] = at;
        }
      }
      at += charLen;
    }
    // Back from the end; a run of unknown characters becomes one unknown token.
    const ids: number[] = [];
    let prevUnknown = false;
    for (let i = n; ;) {
      const id = bestToken[i];
      const isUnknown = id === unk;
      if (!(prevUnknown && isUnknown)) ids.push(id);
      if (bestStart[i] === 0) break;
      prevUnknown = isUnknown;
      i = bestStart[i];
    }
    if (unk === NULL_ID && ids.includes(NULL_ID)) {
      throw new TokenizerError('the text has a character no token covers, and the vocabulary has no unknown token', { model: this.vocab.model });
    }
    for (let i = ids.length - 1; i >= 0; i--) out.push(ids[i]);
  }
}
