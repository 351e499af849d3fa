// A small byte-level BPE ("gpt2") vocabulary for synthetic models of the
// architectures whose real files carry one (GPT-2, GPT-NeoX, Phi-2, StableLM,
// StarCoder2, Falcon): the 256 byte tokens in GPT-2's byte alphabet, tokens
// made by a list of merges (each merge's result is a token), and
// <|endoftext|> last as the BOS/EOS control token. llama.cpp loads it and any
// text tokenizes (every byte has a token).
import type { GGUFKVInput } from '../gguf/index.js';

const TOKEN_TYPE = { NORMAL: 1, CONTROL: 3 } as const;

/**
 * GPT-2's byte alphabet: printable Latin-1 bytes stand for themselves, the
 * others (controls, space, 0x7F-0xA0, 0xAD) for U+0100 onwards in byte order.
 */
function byteChar(b: number): string {
  const printable = (x: number) => (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff);
  if (printable(b)) return String.fromCharCode(b);
  let n = 0;
  for (let x = 0; x < b; x++) if (!printable(x)) n++;
  return String.fromCharCode(256 + n);
}

/** The id of <|endoftext|> in bpeVocabKV(nVocab): the last token. */
export const bpeEndOfText = (nVocab: number): number => nVocab - 1;

/** `pre` is tokenizer.ggml.pre (llama.cpp's pre-tokenizer name, e.g. "gpt-2", "falcon"). */
export function bpeVocabKV(nVocab: number, pre = 'gpt-2'): GGUFKVInput[] {
  if (nVocab < 258) throw new RangeError(`a synthetic BPE vocabulary needs at least 258 tokens, asked for ${nVocab}`);
  const tokens: string[] = [];
  for (let b = 0; b < 256; b++) tokens.push(byteChar(b));
  const space = byteChar(0x20); // 'Ġ'
  const letters = 'etaoinshrdlucmfwypvbgkjqxz';
  const merges: string[] = [];
  const seen = new Set(tokens);
  const nMerged = nVocab - 257;
  const merge = (a: string, b: string) => {
    if (merges.length >= nMerged || seen.has(a + b)) return;
    seen.add(a + b);
    merges.push(`${a} ${b}`);
    tokens.push(a + b);
  };
  // " x" before any pair that starts with it, so every merge's parts are tokens
  for (const l of letters) merge(space, l);
  for (const a of letters) {
    for (const b of letters) {
      merge(a, b);
      merge(space + a, b);
    }
  }
  if (merges.length < nMerged) throw new RangeError(`a synthetic BPE vocabulary has at most ${tokens.length + 1} tokens, asked for ${nVocab}`);
  tokens.push('<|endoftext|>');
  const types = tokens.map((_, i) => (i === tokens.length - 1 ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.NORMAL));
  const eot = bpeEndOfText(nVocab);
  return [
    { key: 'tokenizer.ggml.model', value: 'gpt2' },
    { key: 'tokenizer.ggml.pre', value: pre },
    { key: 'tokenizer.ggml.tokens', value: tokens },
    { key: 'tokenizer.ggml.token_type', value: Int32Array.from(types) },
    { key: 'tokenizer.ggml.merges', value: merges },
    { key: 'tokenizer.ggml.bos_token_id', value: eot },
    { key: 'tokenizer.ggml.eos_token_id', value: eot },
  ];
}
