// A small SentencePiece-style ("llama") vocabulary for synthetic models:
// <unk>, <s>, </s>, the 256 byte tokens, then pieces made of letters, so
// llama.cpp loads the file and any text tokenizes (byte fallback).
import type { GGUFKVInput } from '../gguf/index.js';

const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, BYTE: 6 } as const;

export function spmVocabKV(nVocab: number): GGUFKVInput[] {
  if (nVocab < 259 + 26) throw new RangeError(`a synthetic SPM vocabulary needs at least ${259 + 26} tokens`);
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TOKEN_TYPE.UNKNOWN, TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOKEN_TYPE.BYTE);
  }
  const letters = 'etaoinshrdlucmfwypvbgkjqxz';
  const seen = new Set(tokens);
  const add = (p: string) => {
    if (tokens.length < nVocab && !seen.has(p)) {
      seen.add(p);
      tokens.push(p);
      types.push(TOKEN_TYPE.NORMAL);
    }
  };
  for (const c of letters) add(c);
  for (const c of letters) add(`▁${c}`);
  add('▁');
  outer: for (const a of letters) {
    for (const b of letters) {
      if (tokens.length >= nVocab) break outer;
      add(`${a}${b}`);
      add(`▁${a}${b}`);
    }
  }
  for (let i = 0; tokens.length < nVocab; i++) add(`▁w${i}`);
  // SPM merges prefer higher scores: shorter pieces first is fine for tests
  const scores = new Float32Array(nVocab);
  for (let i = 0; i < nVocab; i++) scores[i] = types[i] === TOKEN_TYPE.NORMAL ? -i : 0;
  return [
    { key: 'tokenizer.ggml.model', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', value: tokens },
    { key: 'tokenizer.ggml.scores', value: scores },
    { key: 'tokenizer.ggml.token_type', value: Int32Array.from(types) },
    { key: 'tokenizer.ggml.bos_token_id', value: 1 },
    { key: 'tokenizer.ggml.eos_token_id', value: 2 },
    { key: 'tokenizer.ggml.unknown_token_id', value: 0 },
    { key: 'tokenizer.ggml.add_bos_token', value: true },
    { key: 'tokenizer.ggml.add_eos_token', value: false },
  ];
}
