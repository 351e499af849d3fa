// Our grammar engine against llama.cpp's (through node-llama-cpp): for
// llama.cpp's own example grammars and hand-written ones, on real
// vocabularies (SPM with byte tokens, byte-level BPE), the set of tokens
// allowed next must be identical at every step of random walks through the
// grammar (each step accepts a token both engines allowed, so the walks cover
// tokens that span several grammar elements and partial UTF-8 sequences).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { join } from 'node:path';
import { oracle } from './helpers/oracle.js';
import { llamaGrammarFile, OracleGrammarState } from './helpers/grammar-oracle.js';
import { sharedDir } from './helpers/shared.js';
import { mulberry32 } from './helpers/rng.js';
import { loadOracleVocab, loadTokenizer } from './tokenizer-helpers.js';
import { createGrammarConstraint } from '../runtime/sample/index.js';
import type { Tokenizer } from '../runtime/tokenizer/index.js';

const models = sharedDir('models');
const vocab = sharedDir('vocab');
let llama: Llama | null = null;
let why = '';
if (models || vocab) {
  try {
    llama = await oracle();
  } catch (e) {
    why = `node-llama-cpp could not start (${(e as Error).message})`;
  }
}

const GRAMMARS: Record<string, string> = {
  json: llamaGrammarFile('json'),
  arithmetic: llamaGrammarFile('arithmetic'),
  c: llamaGrammarFile('c'),
  chess: llamaGrammarFile('chess'),
  list: llamaGrammarFile('list'),
  japanese: llamaGrammarFile('japanese'),
  // repetition bounds, negated classes, any-char, alternation inside groups, escapes
  bounded: 'root ::= "id-" [0-9]{2,4} ("." [a-f]{1,3})? " " ( "x"{3} | [^a-z\\n]{1,2} ) .? "\\u00e9"?\n',
  // a literal that needs multi-byte characters: tokens end inside them
  utf8: 'root ::= ("ça va" | "日本語" | [α-ω]+ | "\\U0001F600") ("!" | "?")\n',
  // nullable rules and empty alternatives
  nullable: 'root ::= a b "z"\na ::= "" | "a" a\nb ::= [] | "b"?\n',
};

/** Random walk: compare allowed sets, then accept a token both allow. */
async function walk(tok: Tokenizer, model: LlamaModel, name: string, steps: number, seed: number): Promise<number> {
  const text = GRAMMARS[name]!;
  const ours = createGrammarConstraint(text, tok, { utf8: 'llama.cpp' });
  const theirs = await OracleGrammarState.create(llama!, model, text, tok.vocabSize);
  const rand = mulberry32(seed);
  let compared = 0;
  for (let step = 0; step < steps; step++) {
    const mask = ours.allowedTokens();
    // llama.cpp answers one token per call (~10-30 us): every token at the
    // first step, then every token we allow and every token we refuse up to
    // 2000 each, drawn at random
    let check: number[];
    if (step === 0) check = Array.from({ length: tok.vocabSize }, (_, id) => id);
    else {
      const yes: number[] = [];
      const no: number[] = [];
      for (let id = 0; id < mask.length; id++) (mask[id] ? yes : no).push(id);
      const some = (xs: number[], n: number) => (xs.length <= n ? xs : Array.from({ length: n }, () => xs[Math.floor(rand() * xs.length)]!));
      check = [...some(yes, 2000), ...some(no, 2000)];
    }
    const wrong = check.filter((id) => theirs.allows(id) !== (mask[id] === 1));
    const show = (id: number) => `${id}:${JSON.stringify(tok.tokenToPiece(id))}${mask[id] ? '(we allow)' : '(we refuse)'}`;
    assert.ok(wrong.length === 0, `${name} step ${step}: ${wrong.length} of ${check.length} tokens differ from llama.cpp: ${wrong.slice(0, 6).map(show).join(' ')}`);
    const expected: number[] = [];
    for (let id = 0; id < mask.length; id++) if (mask[id]) expected.push(id);
    // the one-token check agrees with the vocabulary mask
    for (let k = 0; k < 50; k++) {
      const id = Math.floor(rand() * tok.vocabSize);
      assert.is(ours.allows(id), mask[id] === 1, `${name} step ${step}: allows(${id}) disagrees with the mask`);
    }
    compared++;
    const candidates = expected.filter((id) => !tok.isEog(id));
    if (candidates.length === 0) break;
    // prefer multi-character tokens: they cross grammar elements
    const long = candidates.filter((id) => tok.tokenToPieceBytes(id).length > 1);
    const pool = long.length && rand() < 0.7 ? long : candidates;
    const pick = pool[Math.floor(rand() * pool.length)]!;
    ours.accept(pick);
    theirs.accept(pick);
  }
  return compared;
}

const cases: { label: string; path: () => string | null; oracle: (l: Llama, p: string) => Promise<LlamaModel> }[] = [
  { label: 'llama-2-tiny-random (SPM, 32k)', path: () => (models ? join(models, 'llama-2-tiny-random.gguf') : null), oracle: (l, p) => l.loadModel({ modelPath: p, vocabOnly: true }) },
  { label: 'gpt-2 (byte-level BPE, 50k)', path: () => (vocab ? join(vocab, 'ggml-vocab-gpt-2.gguf') : null), oracle: (l, p) => loadOracleVocab(l, p) },
];

for (const c of cases) {
  test(`allowed tokens equal llama.cpp's on ${c.label}`, async () => {
    const path = c.path();
    if (!path || !llama) {
      console.log(`  skip: ${why || 'no ../shared files'}`);
      return;
    }
    const tok = loadTokenizer(path);
    const model = await c.oracle(llama, path);
    try {
      let n = 0;
      let seed = 1;
      for (const name of Object.keys(GRAMMARS)) n += await walk(tok, model, name, 8, seed++);
      assert.ok(n >= Object.keys(GRAMMARS).length * 3, `only ${n} steps compared`);
    } finally {
      await model.dispose();
    }
  });
}

test.run();
