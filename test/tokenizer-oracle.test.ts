// Our tokenizer against node-llama-cpp (real llama.cpp) on the same vocab
// files: seeded random texts of many kinds must give identical ids, with and
// without special-token parsing, and identical text back; random id sequences
// (partial UTF-8, control tokens) must detokenize identically; and both must
// agree on special ids, add_bos/add_eos, every token's attributes and the
// end-of-generation set. The same holds on copies of the files with tokenizer
// metadata overridden (add_space_prefix, add_bos/eos, BERT normalizer flags)
// and with a general.name that triggers llama.cpp's per-model fix-ups.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Llama, LlamaModel, Token } from 'node-llama-cpp';
import { mulberry32 } from './helpers/rng.js';
import { oracle } from './helpers/oracle.js';
import { Tokenizer } from '../runtime/tokenizer/index.js';
import { loadOracleVocab, loadTokenizer, randomText, readMetadata, VOCAB_NAMES, vocabDir, vocabPath } from './tokenizer-helpers.js';

const TEXTS_PER_VOCAB = 300;
const ID_SEQUENCES_PER_VOCAB = 200;

const dir = vocabDir();
let llama: Llama | null = null;
let oracleProblem = '';
if (dir) {
  try {
    llama = await oracle();
  } catch (e) {
    oracleProblem = `node-llama-cpp could not start (${(e as Error).message})`;
  }
}

/** node-llama-cpp's token attributes as llama_token_attr bits. */
function attributeBits(model: LlamaModel, id: number): number {
  const a = model.getTokenAttributes(id as Token);
  const flags = [a.unknown, a.unused, a.normal, a.control, a.userDefined, a.byte, a.normalized, a.lstrip, a.rstrip, a.singleWord];
  return flags.reduce((bits, on, i) => (on ? bits | (1 << i) : bits), 0);
}

const short = (s: string) => JSON.stringify(s.length > 120 ? s.slice(0, 120) + '…' : s);

/** Differences in special ids, add_bos/add_eos, token attributes and the end-of-generation set. */
function compareVocabulary(tok: Tokenizer, model: LlamaModel): void {
  const t = model.tokens;
  assert.equal(
    { bos: tok.bosId ?? null, eos: tok.eosId ?? null, eot: tok.eotId ?? null, sep: tok.sepId ?? null, nl: tok.nlId ?? null },
    { bos: t.bos, eos: t.eos, eot: t.eot, sep: t.sep, nl: t.nl },
    'special ids',
  );
  // node-llama-cpp reports add_bos/add_eos only when a BOS exists.
  assert.is(tok.addBos && tok.bosId !== undefined, t.shouldPrependBosToken, 'add_bos');
  assert.is(tok.addEos && tok.bosId !== undefined, t.shouldAppendEosToken, 'add_eos');
  let attrDiffs = 0;
  let eogDiffs = 0;
  for (let id = 0; id < tok.vocabSize; id++) {
    if (tok.tokenAttr(id) !== attributeBits(model, id)) attrDiffs++;
    if (tok.isEog(id) !== model.isEogToken(id as Token)) eogDiffs++;
  }
  assert.is(attrDiffs, 0, 'tokens whose attributes differ');
  assert.is(eogDiffs, 0, 'tokens whose end-of-generation flag differs');
}

interface TextStats { idsOk: number; textOk: number; specialMattered: number }

/** Tokenizes each text both ways (special parsing off/on) and renders the ids both ways; records differences. */
function compareTexts(tok: Tokenizer, model: LlamaModel, texts: string[], failures: string[]): TextStats {
  const stats = { idsOk: 0, textOk: 0, specialMattered: 0 };
  for (const text of texts) {
    let plain = '';
    for (const special of [false, true]) {
      const expected = Array.from(model.tokenize(text, special));
      const got = tok.tokenize(text, { addSpecial: false, special });
      if (got.join(' ') === expected.join(' ')) stats.idsOk++;
      else failures.push(`ids (special=${special}) for ${short(text)}\n    llama.cpp ${expected.join(' ')}\n    ours      ${got.join(' ')}`);
      if (!special) plain = expected.join(' ');
      else if (expected.join(' ') !== plain) stats.specialMattered++;
      for (const render of [false, true]) {
        const want = model.detokenize(expected, render);
        const have = tok.detokenize(expected, { special: render });
        if (want === have) stats.textOk++;
        else failures.push(`text (special=${render}) of ${short(text)}\n    llama.cpp ${short(want)}\n    ours      ${short(have)}`);
      }
    }
  }
  return stats;
}

if (!dir || !llama) {
  test(`tokenizer vs node-llama-cpp (skipped: ${dir ? oracleProblem : '../shared/vocab is absent'})`, () => {});
} else {
  for (const name of VOCAB_NAMES) {
    test(`${name}: same ids and text as llama.cpp on ${TEXTS_PER_VOCAB} random texts`, async () => {
      const path = vocabPath(dir, name);
      const tok = loadTokenizer(path);
      const model = await loadOracleVocab(llama!, path);
      try {
        compareVocabulary(tok, model);
        const rand = mulberry32(0x70c0 + name.length);
        const failures: string[] = [];
        const texts = Array.from({ length: TEXTS_PER_VOCAB }, () => randomText(rand));
        const { idsOk, textOk, specialMattered } = compareTexts(tok, model, texts, failures);

        let idSeqOk = 0;
        for (let i = 0; i < ID_SEQUENCES_PER_VOCAB; i++) {
          // Low ids hold the byte, control and single-character tokens.
          const ids = Array.from({ length: 1 + Math.floor(rand() * 8) }, () =>
            Math.floor(rand() * (rand() < 0.3 ? Math.min(300, tok.vocabSize) : tok.vocabSize)));
          const render = rand() < 0.5;
          const want = model.detokenize(ids as Token[], render);
          const have = tok.detokenize(ids, { special: render });
          if (want === have) idSeqOk++;
          else failures.push(`text (special=${render}) of ids ${ids.join(' ')}\n    llama.cpp ${short(want)}\n    ours      ${short(have)}`);
        }

        console.log(`  ${name}: ids ${idsOk}/${2 * TEXTS_PER_VOCAB}, text ${textOk}/${4 * TEXTS_PER_VOCAB}, ` +
          `random ids ${idSeqOk}/${ID_SEQUENCES_PER_VOCAB} identical (special parsing changed ${specialMattered} texts)`);
        assert.is(failures.length, 0, `${failures.length} differences:\n  ${failures.slice(0, 6).join('\n  ')}`);
        // The texts do reach the special-token path: some contain control tokens of this vocabulary.
        assert.ok(specialMattered > 0, 'no random text contained a control token of this vocabulary');
      } finally {
        await model.dispose();
      }
    });
  }

  // Metadata overrides and llama.cpp's by-name fix-ups, on patched copies of real vocabularies.
  const variants: Array<[string, Record<string, string | boolean>]> = [
    ['llama-spm', { 'tokenizer.ggml.add_space_prefix': false }],
    ['llama-spm', { 'tokenizer.ggml.add_bos_token': false, 'tokenizer.ggml.add_eos_token': true }],
    ['gpt-2', { 'tokenizer.ggml.add_space_prefix': true, 'tokenizer.ggml.add_bos_token': true }],
    ['bert-bge', { 'tokenizer.ggml.normalizer.lowercase': false }],
    ['bert-bge', { 'tokenizer.ggml.normalizer.strip_accents': false }],
    ['bert-bge', { 'general.name': 'modern-bert base' }], // [MASK] swallows the spaces before it (lstrip)
  ];
  const targeted = ['</s>   hi', 'a </s>\n b <s>  c', '<s> <unk>  x', ' Hello', '  two', 'Héllo WORLD Ünïcödé', '[CLS]  [SEP] x',
    'a \t [MASK] b', 'x  [MASK][MASK]  y'];
  for (const [name, patch] of variants) {
    test(`${name} with ${JSON.stringify(patch)}: same as llama.cpp`, async () => {
      const path = vocabPath(dir, name);
      const meta = readMetadata(path);
      const tok = Tokenizer.fromMetadata((k) => (k in patch ? patch[k] : meta.get(k)), { warn: () => {} });
      const model = await loadOracleVocab(llama!, path, patch);
      try {
        compareVocabulary(tok, model);
        const rand = mulberry32(0x9a7c + name.length);
        const failures: string[] = [];
        const texts = [...targeted, ...Array.from({ length: 60 }, () => randomText(rand))];
        const { idsOk } = compareTexts(tok, model, texts, failures);
        assert.is(failures.length, 0, `${failures.length} differences:\n  ${failures.slice(0, 6).join('\n  ')}`);
        assert.is(idsOk, 2 * texts.length);
      } finally {
        await model.dispose();
      }
    });
  }
}

test.run();
