// Random-weight GGUF files of the BERT-family encoders with every tensor
// llama.cpp loads for them, and a small WordPiece vocabulary laid out as
// llama.cpp's converter writes BERT vocabularies:
//   bert       (BGE, MiniLM, E5): learned positions, q/k/v and MLP biases, GELU;
//   nomic-bert (nomic-embed-text): rope, one fused attn_qkv, SwiGLU, no biases.
import { ggmlTypeInfo, type GGMLType } from '../ggml-types.js';
import { GGUFValueType, type GGUFKVInput, type GGUFWriteSpec } from '../gguf/index.js';
import { fileTypeFor, RandomTensors, type SyntheticOptions } from './tensors.js';

export type BertArch = 'bert' | 'nomic-bert';

export interface BertShape {
  arch: BertArch;
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_ff: number;
  n_ctx_train: number;
  /** llama.cpp's enum: 0 none, 1 mean, 2 cls, 3 last. */
  pooling_type: number;
  rope_freq_base?: number;
}

/** Real models' proportions at n_embd 256. */
export const BERT_SHAPES: Readonly<Record<string, BertShape>> = {
  // bge-small-en-v1.5 (384 wide, 12 heads of 32, 4x MLP, CLS pooling); MiniLM and E5 differ only in pooling (mean)
  'bert-tiny': { arch: 'bert', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 8, n_ff: 1024, n_ctx_train: 512, pooling_type: 2 },
  // nomic-embed-text-v1.5 (768 wide, 12 heads of 64, SwiGLU 3072, rope base 1000, mean pooling)
  'nomic-bert-tiny': { arch: 'nomic-bert', n_vocab: 512, n_embd: 256, n_layer: 2, n_head: 4, n_ff: 1024, n_ctx_train: 2048, pooling_type: 1, rope_freq_base: 1000 },
};

const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3 } as const;

/** The ids BERT vocabularies (and llama.cpp's defaults for them) give the special tokens. */
export const WPM_IDS = { pad: 0, unk: 100, cls: 101, sep: 102, mask: 103 } as const;

const WORDS = [
  'the', 'quick', 'brown', 'fox', 'jump', 'over', 'lazy', 'dog', 'hello', 'world', 'embed', 'text', 'model',
  'search', 'query', 'passage', 'what', 'is', 'a', 'an', 'of', 'to', 'and', 'in', 'for', 'on', 'with', 'cafe',
  'naive', 'resume', 'token', 'sentence', 'vector', 'similar', 'run', 'walk', 'play', 'un', 'believ', 'able',
];
const SUFFIXES = ['s', 'ed', 'ing', 'er', 'ly', 'able', 'tion', 'ment', 'ness', 'est'];

/**
 * A WordPiece vocabulary of nVocab tokens in the converter's form: a
 * word-initial piece carries a leading ▁, a continuation ("##ing" in BERT's
 * vocab.txt) is stored bare. [PAD] 0, [unusedN] up to [UNK] 100, [CLS] 101,
 * [SEP] 102, [MASK] 103; then punctuation, digits, letters, a few CJK
 * characters, whole words and suffixes, and two-letter continuations.
 */
export function wpmVocabKV(nVocab: number): GGUFKVInput[] {
  const tokens: string[] = [];
  const types: number[] = [];
  const seen = new Set<string>();
  const add = (t: string, type: number = TOKEN_TYPE.NORMAL) => {
    if (tokens.length < nVocab && !seen.has(t)) {
      seen.add(t);
      tokens.push(t);
      types.push(type);
    }
  };
  add('[PAD]', TOKEN_TYPE.CONTROL);
  for (let i = 0; tokens.length < WPM_IDS.unk; i++) add(`[unused${i}]`, TOKEN_TYPE.CONTROL);
  add('[UNK]', TOKEN_TYPE.UNKNOWN);
  add('[CLS]', TOKEN_TYPE.CONTROL);
  add('[SEP]', TOKEN_TYPE.CONTROL);
  add('[MASK]', TOKEN_TYPE.CONTROL);
  const fixed = tokens.length;
  if (nVocab < fixed + 200) throw new RangeError(`a synthetic WordPiece vocabulary needs at least ${fixed + 200} tokens`);
  for (const c of '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~') add(`▁${c}`);
  for (const c of '0123456789') add(`▁${c}`);
  for (const c of '0123456789') add(c);
  for (const c of 'abcdefghijklmnopqrstuvwxyz') add(`▁${c}`);
  for (const c of 'abcdefghijklmnopqrstuvwxyz') add(c);
  for (const c of '中文日本') add(`▁${c}`);
  for (const w of WORDS) add(`▁${w}`);
  for (const s of SUFFIXES) add(s);
  const letters = 'etaoinshrdlucmfwypvbgkjqxz';
  outer: for (const a of letters) {
    for (const b of letters) {
      if (tokens.length >= nVocab) break outer;
      add(`${a}${b}`);
    }
  }
  return [
    { key: 'tokenizer.ggml.model', value: 'bert' },
    { key: 'tokenizer.ggml.tokens', value: tokens },
    { key: 'tokenizer.ggml.token_type', value: Int32Array.from(types) },
    { key: 'tokenizer.ggml.token_type_count', value: 2 },
    { key: 'tokenizer.ggml.unknown_token_id', value: WPM_IDS.unk },
    { key: 'tokenizer.ggml.cls_token_id', value: WPM_IDS.cls },
    { key: 'tokenizer.ggml.seperator_token_id', value: WPM_IDS.sep },
    { key: 'tokenizer.ggml.padding_token_id', value: WPM_IDS.pad },
    { key: 'tokenizer.ggml.mask_token_id', value: WPM_IDS.mask },
  ];
}

function bertKV(s: BertShape, type: GGMLType, options: SyntheticOptions): GGUFKVInput[] {
  const arch = s.arch;
  const kv: GGUFKVInput[] = [
    { key: 'general.architecture', value: arch },
    { key: 'general.name', value: `synthetic ${arch} ${ggmlTypeInfo(type)!.name}` },
    { key: 'general.file_type', value: options.fileType ?? fileTypeFor(type) },
    { key: `${arch}.context_length`, value: s.n_ctx_train },
    { key: `${arch}.embedding_length`, value: s.n_embd },
    { key: `${arch}.block_count`, value: s.n_layer },
    { key: `${arch}.feed_forward_length`, value: s.n_ff },
    { key: `${arch}.attention.head_count`, value: s.n_head },
    { key: `${arch}.attention.layer_norm_epsilon`, value: 1e-12, type: GGUFValueType.FLOAT32 },
    { key: `${arch}.attention.causal`, value: false },
    { key: `${arch}.pooling_type`, value: s.pooling_type },
  ];
  if (arch === 'nomic-bert') kv.push({ key: `${arch}.rope.freq_base`, value: s.rope_freq_base ?? 1000, type: GGUFValueType.FLOAT32 });
  kv.push(...wpmVocabKV(s.n_vocab));
  if (options.extraKV) kv.push(...options.extraKV);
  return kv;
}

export function bertModelSpec(s: BertShape, type: GGMLType, options: SyntheticOptions = {}): GGUFWriteSpec {
  const t = new RandomTensors(type, options);
  const proj = 1 / Math.sqrt(s.n_embd);
  const out = options.blockOutScale ?? 1;
  const nomic = s.arch === 'nomic-bert';
  const norm = (name: string) => {
    t.vector(`${name}.weight`, s.n_embd, 1, 0.1);
    t.vector(`${name}.bias`, s.n_embd, 0, 0.1);
  };

  t.matrix('token_embd.weight', s.n_embd, s.n_vocab, 1);
  // two token types (sentence A and B), as BERT has
  t.f32('token_types.weight', [s.n_embd, 2], (rand) => Float32Array.from({ length: 2 * s.n_embd }, () => rand() - 0.5));
  if (!nomic) t.matrix('position_embd.weight', s.n_embd, s.n_ctx_train, 0.5);
  norm('token_embd_norm');
  for (let il = 0; il < s.n_layer; il++) {
    const p = `blk.${il}`;
    // q and k drawn larger than 1/sqrt(n): attention that prefers some tokens, so where it looks matters
    if (nomic) {
      t.matrix(`${p}.attn_qkv.weight`, s.n_embd, 3 * s.n_embd, 2 * proj);
    } else {
      for (const x of ['q', 'k', 'v']) {
        t.matrix(`${p}.attn_${x}.weight`, s.n_embd, s.n_embd, x === 'v' ? proj : 2 * proj);
        t.vector(`${p}.attn_${x}.bias`, s.n_embd, 0, 0.2);
      }
    }
    t.matrix(`${p}.attn_output.weight`, s.n_embd, s.n_embd, proj * out);
    if (!nomic) t.vector(`${p}.attn_output.bias`, s.n_embd, 0, 0.1 * out);
    norm(`${p}.attn_output_norm`);
    if (nomic) t.matrix(`${p}.ffn_gate.weight`, s.n_embd, s.n_ff, proj);
    t.matrix(`${p}.ffn_up.weight`, s.n_embd, s.n_ff, proj);
    if (!nomic) t.vector(`${p}.ffn_up.bias`, s.n_ff, 0, 0.5);
    t.matrix(`${p}.ffn_down.weight`, s.n_ff, s.n_embd, out / Math.sqrt(s.n_ff));
    if (!nomic) t.vector(`${p}.ffn_down.bias`, s.n_embd, 0, 0.1 * out);
    norm(`${p}.layer_output_norm`);
  }
  return { kv: bertKV(s, type, options), tensors: t.tensors };
}
