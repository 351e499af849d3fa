// JSON Schema to GBNF against llama.cpp's grammar engine: for every schema of
// the table (test/helpers/json-schemas.ts), the grammar we generate loads in
// llama.cpp (node-llama-cpp), accepts the valid documents token by token and
// ends there, and rejects the invalid ones; our engine gives the same verdict
// on the text and on the same tokens. Plus the converter's errors, and
// json_object mode (JSON_GRAMMAR) against llama.cpp's grammars/json.gbnf.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { oracle } from './helpers/oracle.js';
import { llamaGrammarFile, OracleGrammarState } from './helpers/grammar-oracle.js';
import { SCHEMA_CASES } from './helpers/json-schemas.js';
import { validate } from './helpers/json-schema-validate.js';
import { sharedDir } from './helpers/shared.js';
import { loadOracleVocab, loadTokenizer } from './tokenizer-helpers.js';
import { GrammarMatcher, JSON_GRAMMAR, jsonSchemaToGrammar, JsonSchemaError, parseGrammar } from '../formats/grammar/index.js';
import { createGrammarConstraint } from '../runtime/sample/index.js';
import type { Tokenizer } from '../runtime/tokenizer/index.js';

const vocab = sharedDir('vocab');
let llama: Llama | null = null;
let why = 'no ../shared/vocab';
if (vocab) {
  try {
    llama = await oracle();
  } catch (e) {
    why = `node-llama-cpp could not start (${(e as Error).message})`;
  }
}

test('the table has at least 40 schemas, and its valid documents validate', () => {
  assert.ok(SCHEMA_CASES.length >= 40, `${SCHEMA_CASES.length} schemas`);
  for (const c of SCHEMA_CASES) {
    for (const doc of c.valid) assert.is(validate(c.schema, JSON.parse(doc)), '', `${c.name}: ${doc}`);
  }
});

test('our engine: every valid document is a sentence, no invalid one is', () => {
  for (const c of SCHEMA_CASES) {
    const gbnf = jsonSchemaToGrammar(c.schema);
    const m = new GrammarMatcher(parseGrammar(gbnf));
    for (const doc of c.valid) assert.ok(m.accepts(doc), `${c.name}: rejects valid ${doc}\n${gbnf}`);
    for (const doc of c.invalid) assert.not.ok(m.accepts(doc), `${c.name}: accepts invalid ${doc}\n${gbnf}`);
  }
});

/** llama.cpp's verdict on a whole document, fed as tokens: each allowed, then the end allowed. */
function oracleAccepts(st: OracleGrammarState, ids: number[], eos: number): boolean {
  for (const id of ids) {
    if (!st.allows(id)) return false;
    st.accept(id);
  }
  return st.allows(eos);
}

function oursAccepts(gbnf: string, tok: Tokenizer, ids: number[], eos: number): boolean {
  const g = createGrammarConstraint(gbnf, tok, { utf8: 'llama.cpp' });
  for (const id of ids) {
    if (!g.allows(id)) return false;
    g.accept(id);
  }
  return g.allows(eos);
}

test('llama.cpp loads each generated grammar and agrees on every document', async () => {
  if (!llama || !vocab) {
    console.log(`  skip: ${why}`);
    return;
  }
  const path = join(vocab, 'ggml-vocab-gpt-2.gguf');
  const tok = loadTokenizer(path);
  const model: LlamaModel = await loadOracleVocab(llama, path);
  const eos = tok.eosId!;
  try {
    let docs = 0;
    for (const c of SCHEMA_CASES) {
      const gbnf = jsonSchemaToGrammar(c.schema);
      for (const [doc, expected] of [...c.valid.map((d) => [d, true] as const), ...c.invalid.map((d) => [d, false] as const)]) {
        const ids = tok.tokenize(doc, { addSpecial: false });
        const st = await OracleGrammarState.create(llama, model, gbnf, tok.vocabSize);
        assert.is(oracleAccepts(st, ids, eos), expected, `llama.cpp on ${c.name}: ${doc}\n${gbnf}`);
        assert.is(oursAccepts(gbnf, tok, ids, eos), expected, `ours (tokens) on ${c.name}: ${doc}`);
        docs++;
      }
    }
    // json_object mode: any JSON object, the language of llama.cpp's grammars/json.gbnf (which allows less whitespace)
    const jsonGbnf = llamaGrammarFile('json');
    for (const doc of ['{}', '{"a": [1, -2.5e3, "x\\u0041", true, null, {"b": {}}]}', '{"k":"v"}']) {
      const ids = tok.tokenize(doc, { addSpecial: false });
      assert.ok(oracleAccepts(await OracleGrammarState.create(llama, model, jsonGbnf, tok.vocabSize), ids, eos), `json.gbnf: ${doc}`);
      assert.ok(oursAccepts(JSON_GRAMMAR, tok, ids, eos), `JSON_GRAMMAR: ${doc}`);
      docs++;
    }
    for (const doc of ['[1]', '{"a" 1}', '{"a": 01}', '{"a": "\\q"}', '{"a": 1,}']) {
      const ids = tok.tokenize(doc, { addSpecial: false });
      assert.not.ok(oracleAccepts(await OracleGrammarState.create(llama, model, JSON_GRAMMAR, tok.vocabSize), ids, eos), `llama.cpp on JSON_GRAMMAR: ${doc}`);
      assert.not.ok(oursAccepts(JSON_GRAMMAR, tok, ids, eos), `JSON_GRAMMAR: ${doc}`);
      docs++;
    }
    assert.ok(docs > 150, `${docs} documents`);
  } finally {
    await model.dispose();
  }
});

test('prefix and root: two schemas join into one grammar without their rules colliding', () => {
  const a = { type: 'object', properties: { city: { type: 'string', maxLength: 5 } }, required: ['city'] };
  const b = { type: 'object', properties: { city: { type: 'integer', minimum: 0, maximum: 9 }, tool: { const: 1 } }, required: ['city', 'tool'] };
  const joined = [
    'root ::= "A:" tool-a | "B:" tool-b',
    jsonSchemaToGrammar(a, { root: 'tool-a', prefix: 'a-' }),
    jsonSchemaToGrammar(b, { root: 'tool-b', prefix: 'b-' }),
  ].join('\n');
  const m = new GrammarMatcher(parseGrammar(joined));
  assert.ok(m.accepts('A:{"city": "Oslo"}'));
  assert.ok(m.accepts('B:{"city": 3, "tool": 1}'));
  assert.not.ok(m.accepts('A:{"city": 3}'));
  assert.not.ok(m.accepts('B:{"city": "Oslo", "tool": 1}'));
});

test('schemas the converter cannot take are JsonSchemaErrors naming the place', () => {
  const bad: [unknown, RegExp][] = [
    [{ type: 'string', pattern: 'abc' }, /#\/pattern.*must start with \^/],
    [{ type: 'object', properties: { a: { $ref: '#/$defs/missing' } } }, /#\/properties\/a.*does not resolve/],
    [{ $ref: 'https://example.com/s.json' }, /only local references/],
    [{ type: 'integer', minimum: 5, maximum: 1 }, /no integer lies between/],
    [{ type: 'array', items: { type: 'integer' }, minItems: 3, maxItems: 1 }, /maxItems 1 < minItems 3/],
    [{ type: 'strin' }, /#\/type: unknown type "strin"/],
    [{ anyOf: [] }, /anyOf must be a non-empty array/],
    [{ type: 'string', pattern: '^(?=a)b$' }, /lookarounds are not supported/],
    ['{not json', /not JSON/],
  ];
  for (const [schema, re] of bad) {
    try {
      jsonSchemaToGrammar(schema);
      assert.unreachable(`accepted ${JSON.stringify(schema)}`);
    } catch (e) {
      assert.instance(e, JsonSchemaError, String(e));
      assert.match((e as Error).message, re);
    }
  }
});

test.run();
