// The GBNF parser and recognizer against llama.cpp: grammars llama.cpp
// refuses are refused (with the line and column), the ones it takes are
// taken; on llama.cpp's example grammars (json, arithmetic, c, chess, list,
// japanese), sample sentences and random mutations of them are accepted or
// rejected as llama.cpp's engine accepts or rejects them, fed as tokens.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { oracle } from './helpers/oracle.js';
import { llamaGrammarFile, oracleParses, OracleGrammarState } from './helpers/grammar-oracle.js';
import { mulberry32 } from './helpers/rng.js';
import { sharedDir } from './helpers/shared.js';
import { loadOracleVocab, loadTokenizer } from './tokenizer-helpers.js';
import { GrammarError, GrammarMatcher, GType, parseGrammar } from '../formats/grammar/index.js';
import { createGrammarConstraint, createSampler, type Candidates, type TokenConstraint } from '../runtime/sample/index.js';
import { Tokenizer } from '../runtime/tokenizer/index.js';
import { spmVocabKV } from '../formats/synthetic/vocab.js';

const vocab = sharedDir('vocab');
let llama: Llama | null = null;
let why = 'no ../shared/vocab';
try {
  llama = await oracle();
} catch (e) {
  why = `node-llama-cpp could not start (${(e as Error).message})`;
}

/** [grammar, llama.cpp parses it] */
const PARSE_CASES: [string, boolean][] = [
  ['root ::= "a"', true],
  ['root::="a"', true],
  ['root ::= "a" # comment\n  # another\n', true],
  ['root ::= ("a"\n | "b")', true],
  ['root ::= "a"\n | "b"', false], // a newline ends the rule outside parentheses
  ['root ::= "a" |\n "b"', true],
  ['root ::= []', true],
  ['root ::= [^]', true],
  ['root ::= ""', true],
  ['root ::= ', true],
  ['root ::= "a" b', false], // undefined rule
  ['foo ::= "a"', false], // no root
  ['root ::= x\nx ::= x "a" | "b"', false], // left recursion
  ['root ::= x\nx ::= y? x "a" | "b"\ny ::= "c"', false], // left recursion through a nullable rule
  ['root ::= "a" x\nx ::= "b" x | ""', true], // right recursion is fine
  ['root ::= "ab', false],
  ['root ::= [a-', false],
  ['root ::= [a-z', false],
  ['root ::= "\\q"', false],
  ['root ::= "\\x4"', false],
  ['root ::= "\\x41\\u00e9\\U0001F600\\t\\r\\n\\\\\\"\\[\\]\\-"', true],
  ['root ::= [\\]\\-\\\\a-c]', true],
  ['root ::= "a"{3}', true],
  ['root ::= "a"{2,}', true],
  ['root ::= "a"{2,5}', true],
  ['root ::= "a"{ 2 , 5 }', true],
  ['root ::= "a"{,5}', false],
  ['root ::= "a"{2', false],
  ['root ::= "a"{2001}', false],
  ['root ::= "a"{1,3000}', true], // read as unbounded
  ['root ::= ("a"{40}){60}', true], // a fixed count inside adds no rules
  ['root ::= ("a"{2,40}){60}', false], // 39 rules copied 60 times
  ['root ::= *', false],
  ['root ::= "a"**', false], // (a*)* is left-recursive through the nullable a*
  ['root ::= ("a" | "b"', false],
  ['root ::= "a")', false],
  ['root ::= .+ "x"?', true],
  ['root ::= <[1000]> "a"', true],
  ['root ::= !<[1000]> "a"', true],
  ['root ::= <[10x]>', false],
  ['root ::= "a" ::= "b"', false],
  ['1root ::= "a"\nroot ::= 1root', true],
  ['root ::= r_x', false], // "_" is not a name character
  ['root ::= "日本" [ぁ-ゟ]+', true],
  ['', false],
  ['# only a comment\n', false],
];

test('the parser accepts and refuses what llama.cpp does', async () => {
  for (const [g, ok] of PARSE_CASES) {
    let ours = true;
    try {
      parseGrammar(g);
    } catch (e) {
      assert.instance(e, GrammarError, `${JSON.stringify(g)}: ${e}`);
      ours = false;
    }
    assert.is(ours, ok, `ours on ${JSON.stringify(g)}`);
    if (llama) assert.is(await oracleParses(llama, g), ok, `llama.cpp on ${JSON.stringify(g)}`);
  }
  if (!llama) console.log(`  (llama.cpp not consulted: ${why})`);
});

test('errors point at the line and column', () => {
  const at = (g: string): [number, number] => {
    try {
      parseGrammar(g);
    } catch (e) {
      assert.instance(e, GrammarError);
      return [(e as GrammarError).line, (e as GrammarError).column];
    }
    assert.unreachable(`parsed ${JSON.stringify(g)}`);
    return [0, 0];
  };
  assert.equal(at('root ::= "a"\nfoo ::= "b" \\q'), [2, 13]); // the stray backslash
  assert.equal(at('root ::= x\n\n  x ::= "\\q"'), [3, 10]); // the bad escape
  assert.equal(at('root ::= "a" undefined-rule'), [1, 14]);
  assert.equal(at('root ::= "é" "ü" ['), [1, 19]); // columns count characters, not bytes
  assert.equal(at('root ::= "a"\nroot2 ::= root2 "b"'), [2, 1]); // left recursion: the rule
  const e = (() => { try { parseGrammar('root ::= "a"{2', { sourceName: 'g.gbnf' }); } catch (err) { return err as GrammarError; } })()!;
  assert.match(e.message, /^g\.gbnf:1:15: /);
});

test('repetitions expand as llama.cpp rewrites them', () => {
  // "a"{2,4}: two copies, then two nested optional rules
  const g = parseGrammar('root ::= "a"{2,4}');
  const m = new GrammarMatcher(g);
  assert.equal(['', 'a', 'aa', 'aaa', 'aaaa', 'aaaaa'].map((s) => m.accepts(s)), [false, false, true, true, true, false]);
  assert.is(g.names.length, 3);
  const types = Array.from(g.types.subarray(g.ruleStart[0], g.ruleStart[0]! + 4));
  assert.equal(types, [GType.CHAR, GType.CHAR, GType.RULE_REF, GType.END]);
});

test('minCompletion: the shortest completion, as a breadth-first search over characters finds it', () => {
  const g = 'root ::= "{" ws (item ("," ws item)*)? "}" | [0-9]{3,5}\nitem ::= [a-c]+ "=" ([0-9] | root) | "<" root ">"\nws ::= " "?\n';
  const m = new GrammarMatcher(parseGrammar(g));
  const alphabet = [...'{},= abc019<>'].map((c) => c.codePointAt(0)!);
  const bfs = (from: number): number => {
    let frontier = [from];
    const seen = new Set(frontier);
    for (let d = 0; frontier.length; d++) {
      if (frontier.some((s) => m.canEnd(s))) return d;
      const next: number[] = [];
      for (const s of frontier) for (const cp of alphabet) {
        const t = m.step(s, cp);
        if (t !== 0 && !seen.has(t)) {
          seen.add(t);
          next.push(t);
        }
      }
      frontier = next;
    }
    return Infinity;
  };
  for (const prefix of ['', '{', '{ ', '{a', '{ab=', '{a=1', '{a={', '{a=1,', '{<', '{<{', '{<12', '1', '12', '123', '12345', 'x']) {
    const set = m.stepString(m.initial, prefix);
    assert.is(m.minCompletion(set), bfs(set), JSON.stringify(prefix));
  }
  assert.is(m.minCompletion(m.initial), 2);
  assert.is(m.minCompletion(m.stepString(m.initial, '{<12')), 3); // a third digit, ">", "}"
});

test("strict UTF-8 (the default) refuses bytes llama.cpp's decoder lets through; 'llama.cpp' mode does not", () => {
  const tok = Tokenizer.fromMetadata(new Map(spmVocabKV(512).map((e) => [e.key, e.value])), { warn: () => {} });
  const byte = (b: number) => 3 + b; // <unk> <s> </s>, then the 256 byte tokens
  assert.is(tok.tokenToPieceBytes(byte(0xf5))[0], 0xf5);
  const g = 'root ::= [^"]+';
  const strict = createGrammarConstraint(g, tok);
  const loose = createGrammarConstraint(g, tok, { utf8: 'llama.cpp' });
  // a lead byte no valid character starts with (past U+10FFFF)
  assert.not.ok(strict.allows(byte(0xf5)));
  assert.ok(loose.allows(byte(0xf5)));
  assert.is(strict.allowedTokens()[byte(0xf5)], 0);
  // a control token whose text the output leaves out
  assert.not.ok(strict.allows(tok.bosId!));
  assert.ok(loose.allows(tok.bosId!));
  // ED A0 can only become a surrogate
  strict.accept(byte(0xed));
  loose.accept(byte(0xed));
  assert.not.ok(strict.allows(byte(0xa0)));
  assert.ok(loose.allows(byte(0xa0)));
  assert.ok(strict.allows(byte(0x9f))); // ED 9F xx: U+D7C0..U+D7FF, valid
  // a continuation byte where a character starts
  const fresh = createGrammarConstraint(g, tok);
  assert.not.ok(fresh.allows(byte(0x80)));
  // the end is allowed only where the grammar can end, never inside a character
  const e = createGrammarConstraint('root ::= "é"?', tok);
  assert.ok(e.allows(tok.eosId!));
  e.accept(byte(0xc3));
  assert.not.ok(e.allows(tok.eosId!));
  assert.ok(e.allows(byte(0xa9)));
  e.accept(byte(0xa9));
  assert.ok(e.allows(tok.eosId!) && e.finished);
});

test('a constrained draw equals masking the vocabulary first (the fast path checks the best candidates in order)', () => {
  const rand = mulberry32(11);
  const n = 5000;
  for (const density of [0.3, 0.01]) {
    for (const opts of [{ temp: 0 }, { temp: 0.8, seed: 3 }, { temp: 1, top_k: 0, top_p: 1, seed: 4 }, { temp: 0.7, top_k: 5, penalty_last_n: 8, penalty_repeat: 1.3, seed: 5 }]) {
      const a = createSampler(opts);
      const b = createSampler(opts);
      for (let round = 0; round < 40; round++) {
        const logits = Float32Array.from({ length: n }, () => (rand() - 0.5) * 12);
        const allowed = Uint8Array.from({ length: n }, () => (rand() < density ? 1 : 0));
        let checks = 0;
        const constraint: TokenConstraint = {
          allows: (id) => (checks++, allowed[id] === 1),
          mask: (c: Candidates) => {
            let k = 0;
            for (let i = 0; i < c.size; i++) if (!allowed[c.ids[i]!]) c.logits[i] = -Infinity; else k++;
            return k;
          },
        };
        const got = a.sample(logits, constraint);
        // the reference: draw freely, keep it if allowed, else mask everything and draw again
        let want = b.sample(logits);
        if (!allowed[want]) want = b.sample(logits.map((l, id) => (allowed[id] ? l : -Infinity)));
        assert.is(got, want, `density ${density}, ${JSON.stringify(opts)}, round ${round}`);
        assert.ok(allowed[got] === 1);
        a.accept(got);
        b.accept(want);
      }
    }
  }
});

const SAMPLES: Record<string, string[]> = {
  json: ['{"a": [1, 2.5e3, "x\\u00e9"], "b": {"c": null}}', '{}', '{"k":true}'],
  arithmetic: ['a=b\n', '(x1 +22)*y =3\nz =q\n'],
  c: ['int f(int a){int b = a*2;return b;}', 'float g(){while(x<3){x = x+1;}/* c */}'],
  chess: ['1. e4 e5\n2. Nf3 Nc6\n', '1. d4 d5\n10. O-O-O Qxd8+\n'],
  list: ['- one\n- two items\n', '- ünïcödé ✓\n'],
  japanese: ['こんにちは 世界', 'カタカナ、ひらがな\n漢字'],
};

function mutate(s: string, rand: () => number): string {
  const chars = [...s];
  const i = Math.floor(rand() * (chars.length + 1));
  const pool = [...'{}[]",:.0123456789abcxyz \n=+-*/()éこ世'];
  const r = rand();
  if (r < 0.33 && chars.length) chars.splice(Math.min(i, chars.length - 1), 1);
  else if (r < 0.66) chars.splice(i, 0, pool[Math.floor(rand() * pool.length)]!);
  else if (chars.length) chars[Math.min(i, chars.length - 1)] = pool[Math.floor(rand() * pool.length)]!;
  return chars.join('');
}

test("llama.cpp's example grammars: samples and mutations get llama.cpp's verdict", async () => {
  if (!llama || !vocab) {
    console.log(`  skip: ${why}`);
    return;
  }
  const path = join(vocab, 'ggml-vocab-gpt-2.gguf');
  const tok = loadTokenizer(path);
  const model: LlamaModel = await loadOracleVocab(llama, path);
  const eos = tok.eosId!;
  const rand = mulberry32(7);
  let accepted = 0;
  let rejected = 0;
  try {
    for (const [name, samples] of Object.entries(SAMPLES)) {
      const text = llamaGrammarFile(name);
      const matcher = new GrammarMatcher(parseGrammar(text));
      const strings = [...samples];
      for (const s of samples) for (let k = 0; k < 8; k++) strings.push(mutate(rand() < 0.5 ? s : mutate(s, rand), rand));
      for (const s of strings) {
        const ids = tok.tokenize(s, { addSpecial: false });
        const st = await OracleGrammarState.create(llama, model, text, tok.vocabSize);
        let theirs = true;
        for (const id of ids) {
          if (!st.allows(id)) {
            theirs = false;
            break;
          }
          st.accept(id);
        }
        theirs = theirs && st.allows(eos);
        const g = createGrammarConstraint(text, tok, { utf8: 'llama.cpp' });
        let ours = true;
        for (const id of ids) {
          if (!g.allows(id)) {
            ours = false;
            break;
          }
          g.accept(id);
        }
        ours = ours && g.allows(eos);
        assert.is(ours, theirs, `${name}: ${JSON.stringify(s)} (llama.cpp ${theirs ? 'accepts' : 'rejects'})`);
        assert.is(matcher.accepts(s), theirs, `${name} on the text: ${JSON.stringify(s)}`);
        if (samples.includes(s)) assert.ok(theirs, `${name}: the sample ${JSON.stringify(s)} should be a sentence`);
        if (theirs) accepted++;
        else rejected++;
      }
    }
    assert.ok(accepted >= 12 && rejected >= 20, `${accepted} accepted, ${rejected} rejected`);
  } finally {
    await model.dispose();
  }
});

test.run();
