// Constrained generation end to end: greedy decoding under a grammar equals
// llama.cpp's (node-llama-cpp with the same grammar) on a trained model whose
// logits match ours; JSON-schema replies parse and validate for every schema
// of the table, from a random-weight model (all of them) and a trained one
// (every third one), through the token loop, generate(), the chat session,
// the worker API and the CLI.
//
// Schemas whose language is unbounded (a plain string, an integer, arrays
// without maxItems, a recursive $ref) are generated under their own,
// unchanged grammar, with the choice among the allowed tokens tilted toward
// the grammar's shortest completion as the reply grows
// (helpers/closing-pressure.ts): left alone, an untrained model never closes
// a string. Every token is still one the grammar allows, so what is asserted
// (the reply parses and validates against the original schema) is what the
// grammar guarantees; the tilt only bounds the length.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Token } from 'node-llama-cpp';
import { jsonSchemaToGrammar } from '../formats/grammar/index.js';
import { GrammarError as ApiGrammarError, JsonSchemaError as ApiJsonSchemaError, loadModel as loadApi } from '../runtime/api/index.js';
import { ChatSession, createGrammarConstraint, GrammarError, loadModel, tokenLoop, type Context, type Model, type StopReason } from '../runtime/index.js';
import { createSampler } from '../runtime/sample/index.js';
import { resolveChatTemplate } from '../runtime/chat/index.js';
import { oracle } from './helpers/oracle.js';
import { writeTinyModel } from './helpers/browser-model.js';
import { SCHEMA_CASES, type SchemaCase } from './helpers/json-schemas.js';
import { ClosingPressure } from './helpers/closing-pressure.js';
import { validate } from './helpers/json-schema-validate.js';
import { llamaGrammarFile } from './helpers/grammar-oracle.js';
import { REPO_ROOT, sharedDir } from './helpers/shared.js';

const models = sharedDir('models');
const STORIES = models ? join(models, 'stories260K.gguf') : null;
const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
const tiny = await writeTinyModel();
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-grammar-'));

const GREEDY_GRAMMARS: Record<string, string> = {
  'json schema': jsonSchemaToGrammar({ type: 'object', properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer', minimum: 1, maximum: 99 }, pet: { enum: ['cat', 'dog'] } }, required: ['name', 'age', 'pet'] }),
  list: llamaGrammarFile('list'),
  words: 'root ::= "Once" ([ ] [a-z]+){3,6} "."\n',
  arithmetic: llamaGrammarFile('arithmetic'),
};

if (STORIES) {
  test('greedy under a grammar equals llama.cpp\'s on stories260K', async () => {
    const model = await loadModel(STORIES);
    const llama = await oracle();
    const theirModel = await llama.loadModel({ modelPath: STORIES });
    const { LlamaGrammar, LlamaGrammarEvaluationState } = await import('node-llama-cpp');
    try {
      for (const [name, gbnf] of Object.entries(GREEDY_GRAMMARS)) {
        const prompt = model.tokenize('Once upon a time');
        const ctx = model.createContext({ contextSize: 256 });
        // the real path: the sampler (greedy) and the token loop with the grammar stage
        const grammar = createGrammarConstraint(gbnf, model.tokenizer);
        const loop = tokenLoop(ctx.sequence, model.tokenizer, createSampler({ temp: 0 }), ctx.evaluate(prompt), { maxTokens: 48, grammar });
        const ours: number[] = [];
        let step = await loop.next();
        for (; !step.done; step = await loop.next()) ours.push(step.value.id);
        ctx.dispose();

        const lctx = await theirModel.createContext({ contextSize: 256, flashAttention: false, threads: 1 });
        const state = new LlamaGrammarEvaluationState({ model: theirModel, grammar: new LlamaGrammar(llama, { grammar: gbnf }) });
        const theirs: number[] = [];
        for await (const t of lctx.getSequence().evaluate(prompt as Token[], { temperature: 0, grammarEvaluationState: state })) {
          if (theirModel.isEogToken(t)) break;
          theirs.push(t);
          if (theirs.length === ours.length) break;
        }
        await lctx.dispose();
        assert.ok(ours.length >= 8, `${name}: ${ours.length} tokens`);
        assert.equal(ours, theirs, `${name}: ${JSON.stringify(model.tokenizer.detokenize(ours))} vs ${JSON.stringify(model.tokenizer.detokenize(theirs))}`);
      }
    } finally {
      await theirModel.dispose();
      model.dispose();
    }
  });

  test('stories260K (trained): replies under every third schema of the table parse and validate', async () => {
    const model = await loadModel(STORIES);
    const ctx = model.createContext({ contextSize: 512 });
    try {
      let finished = 0;
      for (const [i, c] of SCHEMA_CASES.entries()) {
        if (i % 3 !== 1) continue;
        // bounded schemas through generate() as an app calls it; unbounded ones tilted toward the end
        let text = '';
        if (c.bounded) {
          for await (const piece of ctx.sequence.generate('Once upon a time, the answer was ', { jsonSchema: c.schema, temp: 0.7, seed: 100 + i, maxTokens: 300 })) text += piece;
        } else {
          const r = await generateFinishing(model, ctx, 'Once upon a time, the answer was ', c, 100 + i);
          assert.is(r.stop, 'eog', `${c.name}: ${r.text}`);
          text = r.text;
        }
        ctx.reset();
        assertValid(c, text);
        finished++;
      }
      assert.is(finished, Math.floor((SCHEMA_CASES.length + 1) / 3));
    } finally {
      ctx.dispose();
      model.dispose();
    }
  });
}

/** Parses a reply and validates it against the case's schema. */
function assertValid(c: SchemaCase, text: string): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    assert.unreachable(`${c.name}: not JSON: ${JSON.stringify(text)} (${(e as Error).message})`);
  }
  assert.is(validate(c.schema, value), '', `${c.name}: ${text}`);
}

/**
 * A reply under the schema's own grammar through the token loop (what
 * generate() runs), sampled at temp 1 with the tilt toward the grammar's
 * shortest completion (helpers/closing-pressure.ts); maxTokens is a guard only.
 */
async function generateFinishing(model: Model, ctx: Context, prompt: string, c: SchemaCase, seed: number): Promise<{ text: string; stop: StopReason; tokens: number }> {
  const grammar = new ClosingPressure(createGrammarConstraint(jsonSchemaToGrammar(c.schema), model.tokenizer), model.tokenizer, 4);
  const loop = tokenLoop(ctx.sequence, model.tokenizer, createSampler({ temp: 1, seed }), ctx.evaluate(model.tokenize(prompt)), { maxTokens: 400, grammar });
  let text = '';
  let step = await loop.next();
  for (; !step.done; step = await loop.next()) text += step.value.text;
  return { text: text + step.value.rest, stop: step.value.stop, tokens: step.value.tokens.length };
}

test('random-weight model: replies under every schema of the table parse and validate (token loop, generate, chat session)', async () => {
  const model = await loadModel(tiny.path);
  const ctx = model.createContext({ contextSize: 1024, sequences: 2 });
  const template = resolveChatTemplate({ get: () => undefined, tokenizer: model.tokenizer, fileName: 'tiny.gguf' }, { override: 'chatml', overrideLabel: 'test' });
  const session = new ChatSession(model, ctx.createSequence(), { template, temp: 1, seed: 5 });
  try {
    assert.ok(SCHEMA_CASES.length >= 40);
    let unbounded = 0;
    for (const [i, c] of SCHEMA_CASES.entries()) {
      const r = await generateFinishing(model, ctx, 'hello', c, i);
      ctx.reset();
      assert.is(r.stop, 'eog', `${c.name}: the grammar ended the reply: ${r.text}`);
      assertValid(c, r.text);
      if (!c.bounded) unbounded++;
      // some bounded schemas also through generate() and the chat session, untilted
      if (c.bounded && i % 9 === 0) {
        let text = '';
        for await (const piece of ctx.generate('hello', { jsonSchema: c.schema, temp: 1, seed: i, maxTokens: 600 })) text += piece;
        ctx.reset();
        assertValid(c, text);
        if (i % 18) continue;
        const stats = await session.reply('give me JSON', { jsonSchema: c.schema });
        assert.is(stats.stop, 'eog', `${c.name}: the grammar ended the reply`);
        assertValid(c, stats.text);
      }
    }
    assert.ok(unbounded >= 10, `${unbounded} unbounded schemas`);
    // a GBNF grammar through generate(); a broken one throws GrammarError before anything runs
    let text = '';
    for await (const piece of ctx.generate('hello', { grammar: 'root ::= "yes" | "no" | [0-9]{3}', temp: 1, seed: 1 })) text += piece;
    assert.match(text, /^(yes|no|[0-9]{3})$/);
    ctx.reset();
    const before = session.messages.length;
    await session.reply('x', { grammar: 'root ::= [a-' }).then(() => assert.unreachable('parsed'), (e) => assert.instance(e, GrammarError));
    assert.is(session.messages.length, before, 'a bad grammar leaves the conversation alone');
  } finally {
    ctx.dispose();
    model.dispose();
  }
});

test('tokenLoop: a grammar given as a function starts constraining mid-reply (a lazy grammar)', async () => {
  const model = await loadModel(tiny.path);
  const ctx = model.createContext({ contextSize: 256 });
  try {
    const tok = model.tokenizer;
    const later = createGrammarConstraint('root ::= "[" [0-9]{2} "]"', tok);
    let n = 0;
    const loop = tokenLoop(ctx.sequence, tok, createSampler({ temp: 1, seed: 2 }), ctx.evaluate(model.tokenize('hi')), {
      maxTokens: 40,
      banned: Array.from({ length: tok.vocabSize }, (_, id) => id).filter((id) => tok.isEog(id)),
      grammar: () => (n++ < 5 ? undefined : later),
    });
    const ids: number[] = [];
    let step = await loop.next();
    for (; !step.done; step = await loop.next()) ids.push(step.value.id);
    assert.is(step.value.stop, 'eog', 'the grammar ended it');
    assert.ok(ids.length >= 5 + 4, `${ids.length} tokens`);
    assert.match(tok.detokenize(ids.slice(5)), /^\[[0-9]{2}\]$/);
  } finally {
    ctx.dispose();
    model.dispose();
  }
});

test('worker API: chat.send with jsonSchema / grammar; errors arrive typed', async () => {
  const model = await loadApi(tiny.path, { threads: 1 });
  try {
    const chat = await model.createChat({ chatTemplate: 'chatml', contextSize: 1024, temperature: 1, seed: 9 });
    const schema = SCHEMA_CASES.find((c) => c.name === 'tool call shape')!.schema;
    const reply = chat.send('weather?', { jsonSchema: schema });
    let streamed = '';
    for await (const t of reply) streamed += t;
    const result = await reply.result;
    assert.is(streamed, result.text);
    assert.is(result.stop, 'eog', `${result.stop}: ${result.text}`);
    assert.is(validate(schema, JSON.parse(result.text)), '', result.text);
    const g = await chat.send('pick', { grammar: 'root ::= "red" | "green"' }).result;
    assert.ok(g.text === 'red' || g.text === 'green', g.text);
    await chat.send('bad', { grammar: 'root ::= "a" b' }).result.then(() => assert.unreachable('parsed'), (e) => {
      assert.instance(e, ApiGrammarError);
      assert.is((e as ApiGrammarError).line, 1);
    });
    await chat.send('bad', { jsonSchema: { type: 'integer', minimum: 3, maximum: 1 } }).result.then(() => assert.unreachable('converted'), (e) => assert.instance(e, ApiJsonSchemaError));
  } finally {
    await model.dispose();
  }
});

test('CLI: complete --json-schema / --grammar-file; a bad grammar file is reported with its line and column', () => {
  const schema = JSON.stringify({ type: 'object', properties: { ok: { type: 'boolean' }, n: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['ok', 'n'] });
  const a = spawnSync(process.execPath, [CLI, 'complete', tiny.path, '-p', 'hi', '--json-schema', schema, '--temp', '1', '--seed', '3', '-n', '200'], { encoding: 'utf8' });
  assert.is(a.status, 0, a.stderr);
  assert.is(validate(JSON.parse(schema), JSON.parse(a.stdout)), '', a.stdout);
  const file = join(dir, 'g.gbnf');
  writeFileSync(file, 'root ::= "A" digits\ndigits ::= [0-9]{2}\n');
  const b = spawnSync(process.execPath, [CLI, 'complete', tiny.path, '-p', 'hi', '--grammar-file', file, '--temp', '1'], { encoding: 'utf8' });
  assert.is(b.status, 0, b.stderr);
  assert.match(b.stdout, /^A[0-9]{2}\n$/);
  writeFileSync(file, 'root ::= "A"\n\ndigits ::= [0-9\n');
  const c = spawnSync(process.execPath, [CLI, 'chat', tiny.path, '-p', 'hi', '--grammar-file', file], { encoding: 'utf8' });
  assert.is(c.status, 2);
  assert.match(c.stderr, /g\.gbnf:4:1: unexpected end of input/, c.stderr);
  const d = spawnSync(process.execPath, [CLI, 'chat', tiny.path, '-p', 'hi', '--grammar', 'root ::= "a"', '-j', '{}'], { encoding: 'utf8' });
  assert.is(d.status, 2);
  assert.match(d.stderr, /not several/);
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
  tiny.cleanup?.();
});

test.run();
