// Cutting special tokens out of raw text before tokenization (llama.cpp's
// tokenizer_st_partition).
//
// Which tokens are looked for:
// - user-defined tokens always: they are part of the vocabulary's text, like
//   Hugging Face's added tokens (GPT-NeoX/MPT's runs-of-spaces tokens, say);
// - control and unknown tokens only when special parsing is asked for (chat
//   templates). Plain user text never produces <s>, <|endoftext|>, [CLS]...
// Tokens are tried longest first; each one is cut out of every piece of text
// left over by the longer ones, all occurrences, left to right.
import { TokenAttr, type Vocab } from './vocab.js';

/** Raw text still to be tokenized, or a special token already decided. */
export type Fragment = string | number;

// C's isspace in the C locale.
const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);

export function partitionSpecial(vocab: Vocab, text: string, parseSpecial: boolean): Fragment[] {
  let fragments: Fragment[] = text.length ? [text] : [];
  for (const id of vocab.specialTokens) {
    const attr = vocab.attrs[id];
    if (!parseSpecial && attr & (TokenAttr.Control | TokenAttr.Unknown)) continue;
    const needle = vocab.tokens[id];
    const result: Fragment[] = [];
    for (const frag of fragments) {
      if (typeof frag === 'number' || !frag.includes(needle)) {
        result.push(frag);
        continue;
      }
      let rest = frag;
      for (;;) {
        const at = rest.indexOf(needle);
        if (at < 0) {
          if (rest.length) result.push(rest);
          break;
        }
        let leftEnd = at;
        if (attr & TokenAttr.LStrip) while (leftEnd > 0 && isSpace(rest.charCodeAt(leftEnd - 1))) leftEnd--;
        if (leftEnd > 0) result.push(rest.slice(0, leftEnd));
        result.push(id);
        let rightStart = at + needle.length;
        if (attr & TokenAttr.RStrip) while (rightStart < rest.length && isSpace(rest.charCodeAt(rightStart))) rightStart++;
        rest = rest.slice(rightStart);
      }
    }
    fragments = result;
  }
  return fragments;
}
