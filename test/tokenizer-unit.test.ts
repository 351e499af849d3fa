// Tokenizer rules on small hand-made vocabularies (no files needed): SPM score
// merging, byte fallback and the leading-space rule; special-token matching;
// WordPiece; byte-level BPE merges; the pre-tokenizer splitters; space
// cleaning; the stream decoder; typed errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tokenizer, TokenizerError, TokenType, resolvePreTokenizer, knownPreTokenizerNames } from '../runtime/tokenizer/index.js';
import { cleanSpaces } from '../runtime/tokenizer/detokenize.js';
import { splitWords, type SplitStep } from '../runtime/tokenizer/pre-split.js';
import { byteToUnicode, codePoints, fromCodePoints } from '../runtime/tokenizer/unicode.js';

// --- SPM ----------------------------------------------------------------------

function spmVocab(extra: Record<string, unknown> = {}): Tokenizer {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.Unknown, TokenType.Control, TokenType.Control];
  const scores: number[] = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.Byte);
    scores.push(0);
  }
  const normal: Array<[string, number]> = [
    ['▁', -3], ['a', -4], ['b', -4], ['c', -4], ['▁a', -1], ['ab', -2], ['bc', -0.5], ['▁ab', -1.5], ['▁abc', -0.1],
  ];
  for (const [t, s] of normal) { tokens.push(t); types.push(TokenType.Normal); scores.push(s); }
  tokens.push('<|ctl|>', '<|user|>');
  types.push(TokenType.Control, TokenType.UserDefined);
  scores.push(0, 0);
  return Tokenizer.fromMetadata({
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.scores': Float32Array.from(scores),
    'tokenizer.ggml.token_type': Int32Array.from(types),
    ...extra,
  }, { warn: () => {} });
}

const ids = (tok: Tokenizer, ...texts: string[]) => texts.map((t) => tok.vocab.tokenToId.get(t)!);

test('SPM: merges follow token scores, highest first', () => {
  const tok = spmVocab();
  // ▁ a b c: "bc" (-0.5) beats "▁a" (-1) beats "ab" (-2); then ▁a + bc = "▁abc".
  assert.equal(tok.tokenize('abc', { addSpecial: false }), ids(tok, '▁abc'));
  // ▁ a b: "▁a" then "▁ab".
  assert.equal(tok.tokenize('ab', { addSpecial: false }), ids(tok, '▁ab'));
});

test('SPM: characters missing from the vocabulary fall back to <0xNN> byte tokens', () => {
  const tok = spmVocab();
  assert.equal(tok.tokenize('é', { addSpecial: false }), ids(tok, '▁', '<0xC3>', '<0xA9>'));
  assert.is(tok.detokenize(tok.tokenize('aé b', { addSpecial: false })), 'aé b');
});

test('SPM: BOS by default, the leading space, and add_space_prefix = false', () => {
  const tok = spmVocab();
  assert.equal(tok.tokenize('abc'), [1, ...ids(tok, '▁abc')]);
  assert.equal(tok.tokenize(''), [1]);
  assert.equal(tok.tokenize('', { addSpecial: false }), []);
  const noPrefix = spmVocab({ 'tokenizer.ggml.add_space_prefix': false });
  assert.equal(noPrefix.tokenize('abc', { addSpecial: false }), ids(noPrefix, 'a', 'bc'));
  const withEos = spmVocab({ 'tokenizer.ggml.add_eos_token': true, 'tokenizer.ggml.add_bos_token': false });
  assert.equal(withEos.tokenize('abc'), [...ids(withEos, '▁abc'), 2]);
});

test('special tokens: control only with {special: true}, user-defined always', () => {
  const tok = spmVocab();
  const plain = tok.tokenize('a<|ctl|>b', { addSpecial: false });
  assert.not.ok(plain.includes(ids(tok, '<|ctl|>')[0]), 'plain text must not yield a control token');
  // Text after a special token gets the SPM leading space again.
  assert.equal(tok.tokenize('a<|ctl|>b', { addSpecial: false, special: true }), ids(tok, '▁a', '<|ctl|>', '▁', 'b'));
  assert.equal(tok.tokenize('a<|user|>b', { addSpecial: false }), ids(tok, '▁a', '<|user|>', '▁', 'b'));
  assert.equal(tok.tokenize('<s>', { addSpecial: false, special: true }), [1]);
  assert.not.equal(tok.tokenize('<s>', { addSpecial: false }), [1]);
});

test('detokenize: control tokens only with {special: true}; one leading space dropped (SPM)', () => {
  const tok = spmVocab();
  const seq = ids(tok, '▁a', '<|ctl|>', '▁', 'b', '<|user|>');
  assert.is(tok.detokenize(seq), 'a b<|user|>');
  assert.is(tok.detokenize(seq, { special: true }), 'a<|ctl|> b<|user|>');
  assert.is(tok.tokenToPiece(ids(tok, '▁abc')[0]), ' abc');
  assert.is(tok.tokenToPiece(ids(tok, '▁abc')[0], { lstrip: 1 }), 'abc');
  assert.is(tok.tokenToPiece(1), '<s>');
  assert.is(tok.tokenToPiece(1, { special: false }), '');
});

test('stream decoder: a character split over byte tokens is held until complete', () => {
  const tok = spmVocab();
  const euro = ids(tok, '<0xE2>', '<0x82>', '<0xAC>');
  const dec = tok.createStreamDecoder();
  assert.equal(euro.map((id) => dec.push(id)), ['', '', '€']);
  assert.is(dec.flush(), '');
  // An unfinished character at the end of the stream is flushed as U+FFFD, as detokenize shows it.
  const dec2 = tok.createStreamDecoder();
  assert.is(dec2.push(euro[0]) + dec2.push(euro[1]), '');
  assert.is(dec2.flush(), '\ufffd');
  assert.is(tok.detokenize(euro.slice(0, 2)), '\ufffd');
});

// --- WPM ----------------------------------------------------------------------

test('WPM: lowercase, accents stripped, punctuation and CJK split, ## continuation, [UNK]', () => {
  const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '▁hello', '▁world', '▁un', 'aff', 'able', '▁,', '▁!',
    '▁cafe', '▁中', '▁文', '▁a'];
  const types = tokens.map((t) => (t.startsWith('[') ? TokenType.Control : TokenType.Normal));
  const tok = Tokenizer.fromMetadata({
    'tokenizer.ggml.model': 'bert',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.token_type': Int32Array.from(types),
    'tokenizer.ggml.unknown_token_id': 1,
    'tokenizer.ggml.bos_token_id': 2,
    'tokenizer.ggml.seperator_token_id': 3,
    'tokenizer.ggml.padding_token_id': 0,
  }, { warn: () => {} });
  const got = tok.tokenize('Hello, WORLD!  unaffable Café 中文 xyz a');
  assert.equal(got.map((id) => tok.tokenText(id)),
    ['[CLS]', '▁hello', '▁,', '▁world', '▁!', '▁un', 'aff', 'able', '▁cafe', '▁中', '▁文', '[UNK]', '▁a', '[SEP]']);
  // BERT detokenizes with spaces cleaned (" ," -> ","); [CLS], [SEP] and [UNK] are control tokens.
  assert.is(tok.detokenize(got), ' hello, world! unaffable cafe 中 文 a');
  assert.is(tok.detokenize(got, { special: true }), '[CLS] hello, world! unaffable cafe 中 文[UNK] a[SEP]');
});

// --- BPE ----------------------------------------------------------------------

function bpeVocab(pre: string | undefined, warn: (m: string) => void = () => {}): Tokenizer {
  const tokens: string[] = [];
  for (let b = 0; b < 256; b++) tokens.push(byteToUnicode(b));
  const merges = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'Ġw o', 'r l', 'rl d', 'Ġwo rld', '1 2', '12 3'];
  for (const m of merges) tokens.push(m.replace(' ', ''));
  tokens.push('<|endoftext|>');
  const meta: Record<string, unknown> = {
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.merges': merges,
    'tokenizer.ggml.token_type': Int32Array.from(tokens.map((t) => (t === '<|endoftext|>' ? TokenType.Control : TokenType.Normal))),
    'tokenizer.ggml.bos_token_id': tokens.length - 1,
    'tokenizer.ggml.eos_token_id': tokens.length - 1,
  };
  if (pre !== undefined) meta['tokenizer.ggml.pre'] = pre;
  return Tokenizer.fromMetadata(meta, { warn });
}

test('BPE: byte-level merges by rank, GPT-2 words, no BOS unless asked', () => {
  const tok = bpeVocab('gpt-2');
  const got = tok.tokenize('hello world 1234');
  assert.equal(got.map((id) => tok.tokenText(id)), ['hello', 'Ġworld', 'Ġ', '123', '4']);
  assert.is(tok.detokenize(got), 'hello world 1234');
  assert.is(tok.addBos, false);
  // Non-ASCII bytes go through the byte alphabet and come back intact.
  assert.is(tok.detokenize(tok.tokenize('héllo ✓')), 'héllo ✓');
  // '<|endoftext|>' is a control token: only recognised with special parsing.
  assert.equal(tok.tokenize('<|endoftext|>', { special: true }), [tok.eosId!]);
  assert.ok(tok.tokenize('<|endoftext|>').length > 1);
});

test('BPE: missing and unknown tokenizer.ggml.pre fall back to the default pre-tokenizer, with a warning', () => {
  const warnings: string[] = [];
  const missing = bpeVocab(undefined, (w) => warnings.push(w));
  assert.ok(warnings.some((w) => w.includes('missing')));
  const unknown = bpeVocab('no-such-pre', (w) => warnings.push(w));
  assert.ok(warnings.some((w) => w.includes("'no-such-pre' is unknown")));
  assert.equal(unknown.tokenize('hello world'), missing.tokenize('hello world'));
  assert.is(resolvePreTokenizer('llama-bpe').pre.type, 'llama3');
  assert.is(resolvePreTokenizer('llama-bpe').flags.ignoreMerges, true);
  for (const name of ['default', 'gpt-2', 'llama3', 'llama-bpe', 'qwen2', 'deepseek-llm', 'deepseek-coder', 'falcon', 'mpt',
    'starcoder', 'refact', 'dbrx', 'smollm', 'command-r', 'olmo']) {
    assert.ok(knownPreTokenizerNames().includes(name), name);
  }
});

// --- pre-tokenizer splitters ------------------------------------------------------

function split(text: string, steps: SplitStep[]): string[] {
  const cps = codePoints(text);
  const out: string[] = [];
  let at = 0;
  for (const n of splitWords(cps, steps)) {
    out.push(fromCodePoints(cps, at, at + n));
    at += n;
  }
  return out;
}

test('GPT-2 splitter: contractions, letter/number/other runs, whitespace left to the next word', () => {
  assert.equal(split("Hello world's   x!! 42\t\tend  ", [{ kind: 'gpt2' }]),
    ['Hello', ' world', "'s", '  ', ' x', '!!', ' 42', '\t', '\t', 'end', '  ']);
  // Non-ASCII letters, marks and numbers per Unicode categories.
  assert.equal(split('naïve Ελλάδα ٣٤ e\u0301', [{ kind: 'gpt2' }]), ['naïve', ' Ελλάδα', ' ٣٤', ' e', '\u0301']);
});

test('Llama-3 splitter: digits in threes, case-insensitive contractions, newline runs', () => {
  const llama3: SplitStep[] = [{ kind: 'llama3', maxDigits: 3, marks: false }];
  assert.equal(split("1234567 I'VE  ok\n\n  x", llama3), ['123', '456', '7', ' I', "'VE", ' ', ' ok', '\n\n', ' ', ' x']);
  assert.equal(split('12345', [{ kind: 'llama3', maxDigits: 1, marks: false }]), ['1', '2', '3', '4', '5']);
});

test('regex steps: categories by llama.cpp table, fragments cut by earlier steps stay cut', () => {
  // starcoder: every digit alone (including Arabic-Indic), then GPT-2 inside the pieces.
  assert.equal(split('ab١٢ 34', [{ kind: 'regex', source: '\\p{N}' }, { kind: 'gpt2' }]), ['ab', '١', '٢', ' ', '3', '4']);
  // deepseek-coder's CJK/Hangul run and a (?!\S) lookahead stopping at the fragment end.
  assert.equal(split('中文abc한국', [{ kind: 'regex', source: '[一-龥ࠀ-一가-퟿]+' }]), ['中文', 'abc', '한국']);
  assert.equal(split('a   b', [{ kind: 'regex', source: '\\s+(?!\\S)' }]), ['a', '  ', ' b']);
  // \s means ASCII whitespace plus llama.cpp's Unicode whitespace (U+3000 here), not U+FEFF.
  assert.equal(split('a\u3000\ufeffb', [{ kind: 'regex', source: '\\s+' }]), ['a', '\u3000', '\ufeffb']);
});

// --- space cleaning ----------------------------------------------------------------

test('cleanSpaces: llama.cpp clean_up_tokenization rules', () => {
  const clean = (s: string) => {
    const b = new TextEncoder().encode(s);
    return new TextDecoder().decode(b.subarray(0, cleanSpaces(b, b.length)));
  };
  assert.is(clean('Hello , world !'), 'Hello, world!');
  assert.is(clean(' .'), '.');
  assert.is(clean("a ' b"), "a'b");
  assert.is(clean("he 's, I 'm, we 're, they 've"), "he's, I'm, we're, they've");
  assert.is(clean("don 't, I 'd, we 'll"), "don 't, I 'd, we 'll");
  assert.is(clean(''), '');
});

// --- errors -----------------------------------------------------------------------

test('typed errors with context', () => {
  const e1 = (() => { try { Tokenizer.fromMetadata({ 'tokenizer.ggml.model': 'rwkv' }); } catch (e) { return e; } })();
  assert.instance(e1, TokenizerError);
  assert.is((e1 as TokenizerError).context.model, 'rwkv');
  const tok = spmVocab();
  const e2 = (() => { try { tok.detokenize([tok.vocabSize]); } catch (e) { return e; } })();
  assert.instance(e2, TokenizerError);
  assert.is((e2 as TokenizerError).context.id, tok.vocabSize);
  assert.throws(() => Tokenizer.fromMetadata({ 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a'] }, { warn: () => {} }),
    (e: unknown) => e instanceof TokenizerError && /merges/.test((e as Error).message));
  const warnings: string[] = [];
  Tokenizer.fromMetadata({ 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': ['a', 'a'] }, { warn: (w) => warnings.push(w) });
  assert.ok(warnings.some((w) => /appears twice/.test(w)));
});

test.run();
