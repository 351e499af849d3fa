// Byte-level BPE by merge ranks (llama.cpp's llm_tokenizer_bpe_session): cut
// the text into words with the pre-tokenizer, map each word's bytes to GPT-2's
// alphabet, then inside each word keep merging the adjacent pair with the
// lowest merge rank.
import { Heap } from './heap.js';
import { splitWords } from './pre-split.js';
import { byteEncode, codePoints, utf8Encode } from './unicode.js';
import type { Vocab } from './vocab.js';

interface Bigram {
  left: number;
  right: number;
  rank: number;
  /** The pair's text when it was made; a mismatch later means one side has changed. */
  text: string;
}

// Lowest rank first; on equal ranks, the leftmost pair.
const before = (a: Bigram, b: Bigram) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

/** The words the pre-tokenizer makes of `text`, byte-encoded when the vocabulary is byte-level. */
export function preTokenize(vocab: Vocab, text: string): string[] {
  const pre = vocab.pre!;
  const cps = codePoints(text);
  const lengths = splitWords(cps, pre.steps);
  const words: string[] = [];
  let cp = 0;
  let unit = 0; // the same position in UTF-16 code units
  for (const n of lengths) {
    const from = unit;
    for (const end = cp + n; cp < end; cp++) unit += cps[cp] > 0xffff ? 2 : 1;
    const word = text.slice(from, unit);
    words.push(pre.byteEncode ? byteEncode(word) : word);
  }
  return words;
}

// Merging depends on nothing but the word, and natural text repeats words a
// lot: remember recent results (cleared when full, so memory stays bounded).
const WORD_CACHE_SIZE = 16384;
const wordCaches = new WeakMap<Vocab, Map<string, number[]>>();

export function tokenizeBpe(vocab: Vocab, text: string, out: number[]): void {
  let cache = wordCaches.get(vocab);
  if (!cache) wordCaches.set(vocab, (cache = new Map()));
  for (const word of preTokenize(vocab, text)) {
    let ids = cache.get(word);
    if (!ids) {
      ids = [];
      mergeWord(vocab, word, ids);
      if (cache.size >= WORD_CACHE_SIZE) cache.clear();
      cache.set(word, ids);
    }
    for (const id of ids) out.push(id);
  }
}

function mergeWord(vocab: Vocab, word: string, out: number[]): void {
  if (word.length === 0) return;
  // Symbols are spans of `word` (UTF-16 offsets) in a doubly linked list.
  const start: number[] = [];
  const len: number[] = [];
  if (vocab.ignoreMerges && vocab.tokenToId.has(word)) {
    start.push(0);
    len.push(word.length);
  } else {
    for (let i = 0; i < word.length; ) {
      const c = word.charCodeAt(i);
      const n = c >= 0xd800 && c <= 0xdbff && i + 1 < word.length ? 2 : 1;
      start.push(i);
      len.push(n);
      i += n;
    }
  }
  const count = start.length;
  const prev = Array.from({ length: count }, (_, i) => i - 1);
  const next = Array.from({ length: count }, (_, i) => (i + 1 < count ? i + 1 : -1));
  const textOf = (i: number) => word.slice(start[i], start[i] + len[i]);

  const queue = new Heap<Bigram>(before);
  const tryPair = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const l = textOf(left);
    const r = textOf(right);
    const rank = vocab.bpeRank(l, r);
    if (rank >= 0) queue.push({ left, right, rank, text: l + r });
  };
  for (let i = 1; i < count; i++) tryPair(i - 1, i);

  while (queue.size > 0) {
    const b = queue.pop()!;
    if (len[b.left] === 0 || len[b.right] === 0) continue;
    if (textOf(b.left) + textOf(b.right) !== b.text) continue;
    len[b.left] += len[b.right];
    len[b.right] = 0;
    next[b.left] = next[b.right];
    if (next[b.right] >= 0) prev[next[b.right]] = b.left;
    tryPair(prev[b.left], b.left);
    tryPair(b.left, next[b.left]);
  }

  const byteLevel = vocab.pre!.byteEncode;
  for (let i = 0; i < count; i++) {
    if (len[i] === 0) continue;
    const piece = textOf(i);
    const id = vocab.tokenToId.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    // A symbol that is not a token (its characters are missing from the
    // vocabulary, or a merge produced a non-token): llama.cpp looks up each of
    // its UTF-8 bytes as a token and silently drops the ones that are not.
    for (const byte of utf8Encode(piece)) {
      const key = byteLevel
        ? byte < 0x80 ? String.fromCharCode(byte) : undefined // a lone byte >= 0x80 is never valid text
        : `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
      const b = key === undefined ? undefined : vocab.tokenToId.get(key);
      if (b !== undefined) out.push(b);
    }
  }
}
