// BERT WordPiece (llama.cpp's llm_tokenizer_wpm): BERT's basic tokenizer cuts
// the text into words, then each word is covered greedily, longest token first.
//
// In llama.cpp's GGUF conversion, word-initial pieces carry a leading ▁ and
// continuation pieces are stored without BERT's "##", so a word is matched as
// "▁" + word against plain token texts.
import { CptFlag, codePoints, cptFlags, fromCodePoints, nfdFirst, toLowerCpt } from './unicode.js';
import type { Vocab } from './vocab.js';

const PHANTOM_SPACE = '\u2581';

/** CJK ideograph blocks BERT splits into single characters (the ranges HF's Rust code uses). */
function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) || // sic: 0x2B820 in Unicode, 0x2B920 in the HF code llama.cpp follows
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/**
 * BERT's basic tokenizer as llama.cpp implements it: split at whitespace, drop
 * NUL, U+FFFD and control characters, strip accents (one-code-point NFD, then
 * drop marks), lowercase, and make every punctuation character, ASCII symbol
 * and CJK ideograph a word of its own.
 */
export function wpmWords(text: string, opts: { lowercase: boolean; stripAccents: boolean }): string[] {
  const words: string[] = [];
  let word: number[] = [];
  const finish = () => {
    if (word.length) words.push(fromCodePoints(word));
    word = [];
  };
  for (let cp of codePoints(text)) {
    if (opts.stripAccents) cp = nfdFirst(cp);
    const f = cptFlags(cp);
    if (f & CptFlag.Whitespace) { finish(); continue; }
    if (cp === 0 || cp === 0xfffd || f & CptFlag.Control) continue;
    if (opts.stripAccents && f & CptFlag.AccentMark) continue;
    const c = opts.lowercase ? toLowerCpt(cp) : cp;
    if (f & CptFlag.Punctuation || (cp < 0x7f && f & CptFlag.Symbol) || isChineseChar(cp)) {
      finish();
      word.push(c);
      finish();
    } else {
      word.push(c);
    }
  }
  finish();
  return words;
}

export function tokenizeWpm(vocab: Vocab, text: string, out: number[]): void {
  const maxLen = vocab.maxTokenLength;
  for (const w of wpmWords(text, vocab.normalizer)) {
    const word = PHANTOM_SPACE + w;
    const n = word.length;
    const first = out.length;
    for (let i = 0; i < n; ) {
      let matched = 0;
      for (let j = Math.min(n, i + maxLen); j > i; j--) {
        const id = vocab.tokenToId.get(word.slice(i, j));
        if (id !== undefined) {
          out.push(id);
          matched = j;
          break;
        }
      }
      if (!matched) {
        out.length = first; // a word that cannot be covered becomes one [UNK]
        break;
      }
      i = matched;
    }
    if (out.length === first) out.push(vocab.special.unk);
  }
}
