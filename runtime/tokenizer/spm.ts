// SentencePiece-style BPE by scores (llama.cpp's llm_tokenizer_spm): start from
// single characters and keep merging the adjacent pair whose concatenation is
// the highest-scoring token; characters that never become a token fall back to
// <0xNN> byte tokens.
//
// The caller has already escaped spaces to ▁ and added the leading space.
import { Heap } from './heap.js';
import { utf8Encode } from './unicode.js';
import type { Vocab } from './vocab.js';

interface Bigram {
  left: number;
  right: number;
  score: number;
  /** Length of left+right when the pair was made; a mismatch later means one side has changed. */
  length: number;
}

// Highest score first; on equal scores, the leftmost pair.
const before = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);

export function tokenizeSpm(vocab: Vocab, text: string, out: number[]): void {
  // Symbols are spans of `text` (UTF-16 offsets) in a doubly linked list:
  // one per code point to start with.
  const start = new Int32Array(text.length);
  const len = new Int32Array(text.length);
  let count = 0;
  for (let i = 0; i < text.length; count++) {
    const c = text.charCodeAt(i);
    const n = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
    start[count] = i;
    len[count] = n;
    i += n;
  }
  if (count === 0) return;
  const prev = new Int32Array(count);
  const next = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < count ? i + 1 : -1;
  }

  const queue = new Heap<Bigram>(before);
  const tryPair = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const merged = text.slice(start[left], start[right] + len[right]);
    const id = vocab.tokenToId.get(merged);
    if (id === undefined) return;
    queue.push({ left, right, score: vocab.scores[id], length: merged.length });
  };

  for (let i = 1; i < count; i++) tryPair(i - 1, i);

  while (queue.size > 0) {
    const b = queue.pop()!;
    if (len[b.left] === 0 || len[b.right] === 0 || len[b.left] + len[b.right] !== b.length) continue;
    len[b.left] += len[b.right];
    len[b.right] = 0;
    next[b.left] = next[b.right];
    if (next[b.right] >= 0) prev[next[b.right]] = b.left;
    tryPair(prev[b.left], b.left);
    tryPair(b.left, next[b.left]);
  }

  // Every merged symbol is a token by construction; only single characters can
  // be missing from the vocabulary, and those become their UTF-8 bytes.
  // (llama.cpp also keeps a reverse-merge map for re-splitting a symbol that is
  // not a token; with merges that always produce tokens it is never used.)
  for (let i = 0; i !== -1; i = next[i]) {
    const piece = text.slice(start[i], start[i] + len[i]);
    const id = vocab.tokenToId.get(piece);
    if (id !== undefined) {
      out.push(id);
    } else {
      for (const byte of utf8Encode(piece)) out.push(vocab.byteToToken(byte));
    }
  }
}
