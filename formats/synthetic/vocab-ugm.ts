// A small unigram ("t5") vocabulary for synthetic models and tokenizer tests,
// as T5 and XLM-RoBERTa GGUF files carry one: scored pieces (letters, letter
// pairs, a few words, with and without the ▁ word marker), control tokens in
// T5's or XLM-R's order, one user-defined token, and optionally a
// precompiled charsmap (SentencePiece's normalization rules as a
// Darts-clone double array, built here from a small table of replacements).
import type { GGUFKVInput } from '../gguf/index.js';
import { mulberry32 } from './random.js';

const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, BYTE: 6 } as const;

/** The default normalization rules: full-width letters to ASCII, ligatures, odd spaces, a combining accent. */
export const UGM_TEST_CHARSMAP: ReadonlyArray<readonly [string, string]> = [
  ...Array.from({ length: 26 }, (_, i) => [String.fromCharCode(0xff21 + i), String.fromCharCode(0x41 + i)] as const),
  ...Array.from({ length: 26 }, (_, i) => [String.fromCharCode(0xff41 + i), String.fromCharCode(0x61 + i)] as const),
  ['\ufb01', 'fi'], // ﬁ
  ['\ufb02', 'fl'], // ﬂ
  ['\t', ' '],
  ['\u3000', ' '],
  ['\u00a0', ' '],
  ['\u200b', ''], // zero-width space: removed
  ['e\u0301', '\u00e9'], // e + combining acute -> é (a two-character key)
  ['\u2460', '1'], // ①
  ['<<', '\u00ab'], // << -> «, hidden by the user-defined token <x> (see ugm.ts)
];

export interface UgmVocabOptions {
  /** Token order and special ids: 't5' (<pad> </s> <unk>, EOS only) or 'xlmr' (<s> <pad> </s> <unk>, BOS and EOS). Default 't5'. */
  layout?: 't5' | 'xlmr';
  /** Normalization rules, or null for no precompiled_charsmap. Default UGM_TEST_CHARSMAP. */
  charsmap?: ReadonlyArray<readonly [string, string]> | null;
  /** tokenizer.ggml.add_space_prefix (default true, as T5 and XLM-R files have it). */
  addSpacePrefix?: boolean;
  /** tokenizer.ggml.remove_extra_whitespaces (default true). */
  removeExtraWhitespaces?: boolean;
  /** Seed of the piece scores. Default 1. */
  seed?: number;
  /** Stop adding pieces at this many tokens (default: all, about 1500). */
  maxTokens?: number;
}

/**
 * The user-defined token every ugmVocabKV vocabulary has. It starts with the
 * first byte of the charsmap key "<<", which llama.cpp's normalization then
 * never sees: it copies the longest path into the user-defined tokens' trie
 * ("<") before it looks at the charsmap.
 */
export const UGM_USER_DEFINED = '<x>';

/** tokenizer.ggml.* entries for a unigram vocabulary; see UgmVocabOptions. */
export function ugmVocabKV(options: UgmVocabOptions = {}): GGUFKVInput[] {
  const layout = options.layout ?? 't5';
  const rand = mulberry32(options.seed ?? 1);
  const tokens: string[] = [];
  const types: number[] = [];
  const scores: number[] = [];
  const seen = new Set<string>();
  const max = options.maxTokens ?? Infinity;
  const add = (text: string, type: number, score: number) => {
    if (seen.has(text) || tokens.length >= max) return;
    seen.add(text);
    tokens.push(text);
    types.push(type);
    scores.push(score);
  };
  if (layout === 't5') {
    add('<pad>', TOKEN_TYPE.CONTROL, 0);
    add('</s>', TOKEN_TYPE.CONTROL, 0);
    add('<unk>', TOKEN_TYPE.UNKNOWN, 0);
  } else {
    add('<s>', TOKEN_TYPE.CONTROL, 0);
    add('<pad>', TOKEN_TYPE.CONTROL, 0);
    add('</s>', TOKEN_TYPE.CONTROL, 0);
    add('<unk>', TOKEN_TYPE.UNKNOWN, 0);
  }
  add(UGM_USER_DEFINED, TOKEN_TYPE.USER_DEFINED, 0);
  add('<0x0A>', TOKEN_TYPE.BYTE, 0);
  // Scores are log-probabilities: longer pieces are rarer, with noise so that
  // the best segmentation is often not the greedy longest match.
  const piece = (text: string) => add(text, TOKEN_TYPE.NORMAL, -(1 + [...text].length * 1.5 + rand() * 6));
  const letters = 'etaoinshrdlucmfwypvbgkjqxz';
  piece('▁');
  for (const c of letters) piece(c);
  for (const c of letters) piece('▁' + c);
  for (const c of letters.toUpperCase()) piece(c);
  for (const c of '0123456789.,!?\'-é«') piece(c);
  for (const w of ['the', 'hello', 'world', 'fine', 'flow', 'café', 'token', 'izer', 'ing', 'er', 'HELLO', 'World', 'AB']) {
    piece(w);
    piece('▁' + w);
  }
  for (const a of letters) for (const b of letters) if (rand() < 0.5) piece(a + b);
  for (const a of letters) for (const b of letters) if (rand() < 0.3) piece('▁' + a + b);
  if (options.maxTokens !== undefined && tokens.length !== options.maxTokens) {
    throw new RangeError(`a synthetic UGM vocabulary has at most ${tokens.length} tokens, asked for ${options.maxTokens}`);
  }
  const bos = layout === 't5' ? undefined : 0;
  const eos = layout === 't5' ? 1 : 2;
  const unk = layout === 't5' ? 2 : 3;
  const pad = layout === 't5' ? 0 : 1;
  const kv: GGUFKVInput[] = [
    { key: 'tokenizer.ggml.model', value: 't5' },
    { key: 'tokenizer.ggml.tokens', value: tokens },
    { key: 'tokenizer.ggml.scores', value: Float32Array.from(scores) },
    { key: 'tokenizer.ggml.token_type', value: Int32Array.from(types) },
    { key: 'tokenizer.ggml.eos_token_id', value: eos },
    { key: 'tokenizer.ggml.unknown_token_id', value: unk },
    { key: 'tokenizer.ggml.padding_token_id', value: pad },
    { key: 'tokenizer.ggml.add_space_prefix', value: options.addSpacePrefix ?? true },
    { key: 'tokenizer.ggml.remove_extra_whitespaces', value: options.removeExtraWhitespaces ?? true },
    { key: 'tokenizer.ggml.add_bos_token', value: bos !== undefined },
    { key: 'tokenizer.ggml.add_eos_token', value: true },
  ];
  if (bos !== undefined) kv.push({ key: 'tokenizer.ggml.bos_token_id', value: bos });
  const rules = options.charsmap === undefined ? UGM_TEST_CHARSMAP : options.charsmap;
  if (rules) kv.push({ key: 'tokenizer.ggml.precompiled_charsmap', value: buildCharsmap(rules) });
  return kv;
}

interface TrieNode {
  children: Map<number, TrieNode>;
  /** Offset of the replacement string, or -1. */
  value: number;
}

/**
 * SentencePiece's precompiled charsmap for `rules` (key -> replacement):
 * uint32 size of the double array, the double array, then the NUL-terminated
 * replacement strings. The double array is Darts-clone's: unit i's children
 * sit at i ^ offset(i) ^ label, a unit stores its own label so a walk can
 * check it reached a real child, and a key's end is a child with label 0
 * holding the string's offset. Every node's children get a child base no other
 * node uses, and the array is whole blocks of 256 units, so a walk with any
 * byte stays inside it.
 */
export function buildCharsmap(rules: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const enc = new TextEncoder();
  const strings: number[] = [];
  const stringAt = new Map<string, number>();
  const root: TrieNode = { children: new Map(), value: -1 };
  for (const [key, replacement] of rules) {
    const kb = enc.encode(key);
    if (kb.length === 0 || kb.includes(0)) throw new RangeError(`charsmap key ${JSON.stringify(key)} must be non-empty without NUL`);
    let at = stringAt.get(replacement);
    if (at === undefined) {
      at = strings.length;
      stringAt.set(replacement, at);
      strings.push(...enc.encode(replacement), 0);
    }
    let node = root;
    for (const b of kb) {
      let child = node.children.get(b);
      if (!child) node.children.set(b, (child = { children: new Map(), value: -1 }));
      node = child;
    }
    node.value = at;
  }

  const units: number[] = [];
  const used = new Set<number>([0]);
  const usedBases = new Set<number>();
  const set = (i: number, u: number) => {
    while (units.length <= i) units.push(0);
    units[i] = u >>> 0;
  };
  const place = (node: TrieNode, index: number, label: number) => {
    const labels = [...node.children.keys()].sort((a, b) => a - b);
    if (node.value >= 0) labels.unshift(0);
    let base = 1;
    while (usedBases.has(base) || labels.some((l) => used.has(base ^ l))) base++;
    usedBases.add(base);
    for (const l of labels) used.add(base ^ l);
    const offset = index ^ base;
    if (offset >= 1 << 21) throw new RangeError('charsmap too large for this simple builder');
    set(index, (offset << 10) | (node.value >= 0 ? 1 << 8 : 0) | label);
    if (node.value >= 0) set(base, 0x80000000 | node.value);
    for (const [c, child] of node.children) place(child, base ^ c, c);
  };
  place(root, 0, 0);
  while (units.length % 256 !== 0) units.push(0);

  const out = new Uint8Array(4 + units.length * 4 + strings.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, units.length * 4, true);
  units.forEach((u, i) => view.setUint32(4 + 4 * i, u, true));
  out.set(strings, 4 + units.length * 4);
  return out;
}
