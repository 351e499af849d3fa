// Ids back to text, as llama.cpp's token_to_piece and detokenize do it.
//
// - A token's piece is bytes, not text: byte tokens (<0xE2>) and byte-level BPE
//   tokens can hold part of a UTF-8 character, so text is only decoded once the
//   pieces are joined (or, when streaming, once a character is complete).
// - Control and unknown tokens render as nothing unless `special` is set.
// - SPM vocabularies (add_space_prefix) drop one leading space of the first
//   piece, undoing the space tokenization added.
// - Vocabularies with clean_spaces (GPT-2-style BPE, BERT) get Hugging Face's
//   clean_up_tokenization: " ." -> ".", " ' " -> "'", " 's" -> "'s", ...
import { TokenizerError } from './errors.js';
import { unicodeToByte, utf8Encode } from './unicode.js';
import { TokenAttr, type Vocab } from './vocab.js';

const SPECIAL = TokenAttr.Unknown | TokenAttr.Control;
const EMPTY = new Uint8Array(0);
const SPACE = 0x20;

export interface DetokenizeOptions {
  /** Render control and unknown tokens as their text (default false, as node-llama-cpp's detokenize). */
  special?: boolean;
  /** Drop a leading BOS and trailing EOS when the vocabulary adds them (default false). */
  removeSpecial?: boolean;
}

/** The bytes of each token's piece, computed on first use (llama.cpp caches them at load). */
export class PieceTable {
  private readonly cache: Array<Uint8Array | undefined>;

  constructor(private readonly vocab: Vocab) {
    this.cache = new Array(vocab.size);
  }

  /** The piece as rendered with special = true and no space stripping. */
  raw(id: number): Uint8Array {
    const v = this.vocab;
    if (!Number.isInteger(id) || id < 0 || id >= v.size) {
      throw new TokenizerError(`token id ${id} is out of range (vocabulary has ${v.size} tokens)`, { id });
    }
    let p = this.cache[id];
    if (p === undefined) this.cache[id] = p = this.compute(id);
    return p;
  }

  /** llama.cpp's token_to_piece(id, lstrip, special). */
  piece(id: number, special: boolean, lstrip = 0): Uint8Array {
    const p = this.raw(id);
    if (!special && this.vocab.attrs[id] & SPECIAL) return EMPTY;
    let skip = 0;
    while (skip < lstrip && skip < p.length && p[skip] === SPACE) skip++;
    return skip ? p.subarray(skip) : p;
  }

  private compute(id: number): Uint8Array {
    const v = this.vocab;
    const attr = v.attrs[id];
    const text = v.tokens[id];
    // Control, unknown and user-defined tokens render as their text.
    if (attr & (SPECIAL | TokenAttr.UserDefined)) return utf8Encode(text);
    if (attr & TokenAttr.Normal) {
      if (v.type !== 'bpe' || v.escapeWhitespaces) return utf8Encode(text.replaceAll('\u2581', ' '));
      return decodeByteLevel(text);
    }
    if (attr & TokenAttr.Byte) return Uint8Array.of(parseInt(text.slice(3, 5), 16));
    return EMPTY; // unused and undefined tokens render as nothing
  }
}

/**
 * A byte-level BPE token's bytes. Characters outside GPT-2's byte alphabet
 * cannot come from bytes; llama.cpp then writes "[UNK_BYTE_0x<utf8 hex><token text>]".
 */
function decodeByteLevel(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const b = unicodeToByte(ch.codePointAt(0)!);
    if (b !== undefined) {
      out.push(b);
      continue;
    }
    let marker = '[UNK_BYTE_0x';
    for (const byte of utf8Encode(ch)) marker += byte.toString(16).padStart(2, '0');
    marker += text + ']';
    out.push(...utf8Encode(marker));
  }
  return Uint8Array.from(out);
}

/**
 * Hugging Face's clean_up_tokenization, in place over bytes, exactly as
 * llama.cpp runs it (three passes; the second blanks the space it skips, which
 * later matches see). Returns the new length.
 */
export function cleanSpaces(t: Uint8Array, length: number): number {
  const Q = 0x27; // '
  // 1: " ?", " !", " .", " ," lose the space.
  let n = length ? 1 : 0;
  for (let i = 1; i < length; i++) {
    const x = t[i];
    if (t[i - 1] === SPACE && (x === 0x3f || x === 0x21 || x === 0x2e || x === 0x2c)) n--;
    t[n++] = x;
  }
  // 2: " ' " becomes "'".
  const len2 = n;
  n = len2 ? 1 : 0;
  for (let i = 1; i < len2; i++) {
    const x = t[i];
    if (x === Q && i + 1 < len2 && t[i - 1] === SPACE && t[i + 1] === SPACE) {
      n--;
      t[++i] = 0;
    }
    t[n++] = x;
  }
  // 3: " 's", " 'm", " 're", " 've" lose the space (" 't", " 'd", " 'll" keep it).
  const len3 = n;
  n = len3 ? 1 : 0;
  for (let i = 1; i < len3; i++) {
    const x = t[i];
    if (t[i - 1] === SPACE && x === Q && i + 1 < len3) {
      const x1 = t[i + 1];
      if (x1 === 0x73 || x1 === 0x6d) n--; // s m
      else if (i + 2 < len3) {
        const x2 = t[i + 2];
        if ((x1 === 0x72 || x1 === 0x76) && x2 === 0x65) n--; // re ve
      }
    }
    t[n++] = x;
  }
  return n;
}

/** Concatenation of byte arrays. */
function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** llama.cpp's detokenize, as bytes. */
export function detokenizeBytes(vocab: Vocab, pieces: PieceTable, ids: ArrayLike<number>, opts: DetokenizeOptions = {}): Uint8Array {
  const special = opts.special ?? false;
  let from = 0;
  let to = ids.length;
  let removeSpace = vocab.addSpacePrefix;
  if (opts.removeSpecial && vocab.addBos && to > 0 && ids[0] === vocab.special.bos) {
    removeSpace = false; // the text after a dropped BOS keeps its space
    from++;
  }
  if (opts.removeSpecial && vocab.addEos && to > from && ids[to - 1] === vocab.special.eos) to--;

  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = from; i < to; i++) {
    const p = pieces.piece(ids[i], special, removeSpace ? 1 : 0);
    removeSpace = false;
    parts.push(p);
    total += p.length;
  }
  const bytes = concat(parts, total);
  return vocab.cleanSpaces ? bytes.subarray(0, cleanSpaces(bytes, bytes.length)) : bytes;
}

/**
 * Incremental detokenization for streaming generation. `push(id)` returns the
 * text that is now final; together with `flush()` the outputs concatenate to
 * exactly `detokenize(allIds)`.
 *
 * What is held back: an incomplete UTF-8 character (until its last byte
 * arrives, so a stream never shows U+FFFD for a character split across
 * tokens), and, when the vocabulary cleans spaces, the last few bytes that a
 * following " ." or " 's" could still change. Cleaning can restart at any byte
 * that follows one that is not a space, quote, 'r' or 'v': no pattern of
 * cleanSpaces spans such a point, so everything before it is final.
 */
export class StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private pending: number[] = []; // raw bytes not yet cleaned
  private first = true;

  constructor(
    private readonly vocab: Vocab,
    private readonly pieces: PieceTable,
    private readonly special = false,
  ) {}

  push(id: number): string {
    const p = this.pieces.piece(id, this.special, this.first && this.vocab.addSpacePrefix ? 1 : 0);
    this.first = false;
    for (const b of p) this.pending.push(b);
    if (!this.vocab.cleanSpaces) return this.emit(this.pending.length);
    let cut = this.pending.length;
    while (cut > 0 && !isCleanBoundary(this.pending[cut - 1])) cut--;
    return this.emit(cut);
  }

  /** Everything still held back (an incomplete final character becomes U+FFFD). */
  flush(): string {
    const text = this.emit(this.pending.length);
    return text + this.decoder.decode();
  }

  private emit(count: number): string {
    if (count === 0) return '';
    let bytes = Uint8Array.from(this.pending.slice(0, count));
    this.pending = this.pending.slice(count);
    if (this.vocab.cleanSpaces) bytes = bytes.subarray(0, cleanSpaces(bytes, bytes.length));
    return this.decoder.decode(bytes, { stream: true });
  }
}

/** True when cleaning can restart right after byte b (see StreamDecoder). */
function isCleanBoundary(b: number): boolean {
  return b !== SPACE && b !== 0x27 && b !== 0x72 && b !== 0x76; // ' ', "'", 'r', 'v'
}
