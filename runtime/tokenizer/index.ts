// runtime/tokenizer: text <-> token ids exactly as llama.cpp does it for the
// same GGUF file (checked against node-llama-cpp in test/tokenizer-*.test.ts).
//
// Files, in the order data flows:
//   vocab.ts          GGUF metadata -> Vocab (tokens, attributes, special ids, flags, llama.cpp's fix-ups)
//   special.ts        cut special tokens out of the text (control only on request, user-defined always)
//   spm.ts            "llama" vocabularies: score-driven merges, <0xNN> byte fallback
//   bpe.ts            "gpt2" vocabularies: pre-tokenize, byte-level encode, rank-driven merges
//   pre-tokenizers.ts tokenizer.ggml.pre name -> split steps and flags
//   pre-split.ts      the split engine (llama.cpp's regex collapse + hand-written GPT-2/Llama-3 matchers)
//   wpm.ts            "bert" vocabularies: BERT basic tokenizer + WordPiece
//   ugm.ts            "t5" vocabularies (T5, XLM-RoBERTa): charsmap normalization + unigram Viterbi
//   unicode.ts        code point classes as llama.cpp's Unicode 15.1 tables give them
//   detokenize.ts     pieces, leading-space removal, space cleaning, stream decoder
//   tokenizer.ts      the public Tokenizer
// Not supported: tokenizer models rwkv, plamo2, gemma4 and a few
// pre-tokenizers that need dedicated matchers (see pre-tokenizers.ts).
export { Tokenizer, type TokenizeOptions, type StreamDecoderHandle } from './tokenizer.js';
export { Vocab, TokenAttr, TokenType, type VocabType, type MetadataSource, type VocabOptions, type SpecialIds } from './vocab.js';
export { TokenizerError } from './errors.js';
export type { DetokenizeOptions } from './detokenize.js';
export { knownPreTokenizerNames, resolvePreTokenizer, type PreTokenizer } from './pre-tokenizers.js';
