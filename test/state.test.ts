// Saved state: a sequence's tokens and KV cells written to a file, read back
// in a new process, and continued: the logits and the greedy tokens are those
// of never having stopped, bit for bit. A state for another model, another
// context size, or a damaged file is refused with a StateError.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LFM2_SHAPES, lfm2ModelSpec } from '../formats/synthetic/lfm2.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { QWEN3NEXT_SHAPES, qwen3nextModelSpec } from '../formats/synthetic/qwen3next.js';
import { StateError, loadModel, type Model } from '../runtime/index.js';
import { REPO_ROOT } from './helpers/shared.js';
import { StateError as ApiStateError, loadModel as loadHosted } from '../runtime/api/index.js';
import { MISTRAL_7B_INSTRUCT_V02 } from './helpers/chat-templates.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-state-'));
const shape = LLAMA_SHAPES['test-tiny']!;
const modelPath = join(dir, 'tiny-Q8_0.gguf');
const otherPath = join(dir, 'other-Q8_0.gguf');
await writeGGUF(modelPath, llamaModelSpec(shape, GGMLType.Q8_0, { seed: 21 }));
await writeGGUF(otherPath, llamaModelSpec(shape, GGMLType.Q8_0, { seed: 22 }));
// a chat model: the same weights shape with a template
const gen = join(dir, 'chat.gguf');
await writeGGUF(gen, llamaModelSpec(shape, GGMLType.Q8_0, { seed: 23, extraKV: [{ key: 'tokenizer.chat_template', value: MISTRAL_7B_INSTRUCT_V02 }] }));
const CTX = 128;
const FIRST = 'Once upon a time there was a little robot';
const SECOND = ' who liked to sing';
const STEPS = 12;

/** The part that runs after the state is loaded: append SECOND, then STEPS greedy tokens; every logits row's bits. */
async function continueFrom(model: Model, seq: ReturnType<ReturnType<Model['createContext']>['createSequence']>): Promise<{ rows: string[]; ids: number[] }> {
  const rows: string[] = [];
  const ids: number[] = [];
  let logits = seq.append(model.tokenize(SECOND));
  for (let i = 0; i < STEPS; i++) {
    rows.push(Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength).toString('base64'));
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
    ids.push(best);
    logits = seq.append([best]);
  }
  return { rows, ids };
}

test('save, load in a new process, continue: the bits of never stopping', async () => {
  const model = await loadModel(modelPath);
  const ctx = model.createContext({ contextSize: CTX });
  const seq = ctx.createSequence();
  seq.evaluate(model.tokenize(FIRST));
  const file = join(dir, 'first.state');
  await seq.saveState(file);
  const never = await continueFrom(model, seq);
  ctx.dispose();
  model.dispose();

  // a new process: load the model, a fresh context, the state, then the same continuation
  const script = join(dir, 'continue.mjs');
  writeFileSync(script, `
    import { loadModel } from ${JSON.stringify(join(REPO_ROOT, 'dist', 'runtime', 'index.js'))};
    const model = await loadModel(process.argv[2]);
    const ctx = model.createContext({ contextSize: ${CTX} });
    const seq = ctx.createSequence();
    await seq.loadState(process.argv[3]);
    const held = seq.tokens;
    const rows = [], ids = [];
    let logits = seq.append(model.tokenize(${JSON.stringify(SECOND)}));
    for (let i = 0; i < ${STEPS}; i++) {
      rows.push(Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength).toString('base64'));
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      ids.push(best);
      logits = seq.append([best]);
    }
    console.log(JSON.stringify({ held, rows, ids }));
  `);
  const res = spawnSync(process.execPath, [script, modelPath, file], { encoding: 'utf8', timeout: 120_000 });
  assert.is(res.status, 0, res.stderr);
  const resumed = JSON.parse(res.stdout) as { held: number[]; rows: string[]; ids: number[] };
  const check = await loadModel(modelPath);
  assert.equal(resumed.held, check.tokenize(FIRST), 'the sequence holds the saved tokens');
  check.dispose();
  assert.equal(resumed.ids, never.ids, 'the same greedy tokens');
  resumed.rows.forEach((r, i) => assert.ok(r === never.rows[i], `logits row ${i} bit-identical`));
  console.log(`  ${STEPS} logits rows and tokens identical after a reload (${readFileSync(file).length} bytes of state)`);
});

test('a state is refused for another model, another context size, a truncated or damaged file', async () => {
  const model = await loadModel(modelPath);
  const seq = model.createContext({ contextSize: CTX }).createSequence();
  seq.evaluate(model.tokenize(FIRST));
  const bytes = seq.stateBytes();
  const refuse = (load: () => void, re: RegExp) => {
    try {
      load();
      assert.unreachable('loaded');
    } catch (err) {
      assert.instance(err, StateError, String(err));
      assert.match((err as Error).message, re);
    }
  };
  const other = await loadModel(otherPath);
  refuse(() => other.createContext({ contextSize: CTX }).createSequence().restoreState(bytes, 'x.state'), /^x\.state: saved for another model .*fingerprint/);
  refuse(() => model.createContext({ contextSize: CTX * 2 }).createSequence().restoreState(bytes), /saved with a context size of 128; this context has 256/);
  const fresh = model.createContext({ contextSize: CTX }).createSequence();
  refuse(() => fresh.restoreState(bytes.subarray(0, bytes.length - 10)), /truncated or not written whole/);
  const damaged = bytes.slice();
  damaged[damaged.length - 100] ^= 1;
  refuse(() => fresh.restoreState(damaged), /checksum mismatch/);
  refuse(() => fresh.restoreState(new TextEncoder().encode('{"format":"run-gguf-chat"}')), /not a run-gguf state file/);
  assert.is(fresh.position, 0, 'a refused state leaves the sequence as it was');
  // the same model loaded again (and without repacking) has the same fingerprint
  const again = await loadModel(modelPath, { repack: false });
  assert.is(again.fingerprint, model.fingerprint);
  assert.is.not(other.fingerprint, model.fingerprint);
  fresh.restoreState(bytes);
  assert.equal(fresh.tokens, seq.tokens);
  for (const m of [model, other, again]) m.dispose();
});

test('a q8_0 K cache (cacheTypeK) is saved as it is, restored bit for bit, and refused by an f16 context', async () => {
  const model = await loadModel(modelPath);
  const a = model.createContext({ contextSize: CTX, cacheTypeK: 'q8_0' }).createSequence();
  a.evaluate(model.tokenize(FIRST));
  const bytes = a.stateBytes();
  const want = a.append(model.tokenize(SECOND));
  const b = model.createContext({ contextSize: CTX, cacheTypeK: 'q8_0' }).createSequence();
  b.restoreState(bytes);
  const got = b.append(model.tokenize(SECOND));
  assert.ok(got.every((v, i) => Object.is(v, want[i])), 'the same logits, bit for bit');
  try {
    model.createContext({ contextSize: CTX }).createSequence().restoreState(bytes);
    assert.unreachable('loaded');
  } catch (err) {
    assert.instance(err, StateError);
    assert.match((err as Error).message, /saved with cache_type_k = q8_0; here it is f16/);
  }
  model.dispose();
});

test('chat: /save writes the cache beside the conversation; /load in a new process skips the prompt and replies as without stopping', async () => {
  const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
  const chat = (input: string) => {
    const r = spawnSync(process.execPath, [CLI, gen, '--temp', '0', '-n', '10', '--ignore-eos', '-c', '256'], { input, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    assert.is(r.status, 0, r.stderr);
    const prompts = [...r.stderr.matchAll(/prompt (\d+) new \+ (\d+) cached/g)].map((m) => [Number(m[1]), Number(m[2])]);
    return { stdout: r.stdout, prompts, stderr: r.stderr };
  };
  const file = join(dir, 'conv.json');
  const never = chat('Hello\nHow are you\n');
  const first = chat(`Hello\n/save ${file}\n`);
  assert.match(first.stderr, new RegExp(`saved 2 messages to ${file} \\(and \\d+ cached tokens to ${file}\\.state\\)`));
  const second = chat(`/load ${file}\nHow are you\n`);
  assert.match(second.stderr, /loaded 2 messages from .* and \d+ cached tokens \(not evaluated again\)/);
  // stdout holds the replies alone (random text may hold newlines): the two runs' add up to the one run's
  assert.ok(first.stdout.length > 1 && never.stdout.startsWith(first.stdout), 'the first reply');
  assert.is(second.stdout, never.stdout.slice(first.stdout.length), 'the second reply is the one of never stopping');
  assert.equal(second.prompts[0], never.prompts[1], 'the same new and cached prompt tokens: the conversation was not evaluated again');
  assert.ok(never.prompts[1]![1]! > 0);
  // without the state file the conversation is evaluated again, from its text: a random model's reply
  // (bytes that are not UTF-8) tokenizes differently than sampled, so the reply may differ too
  rmSync(`${file}.state`);
  const cold = chat(`/load ${file}\nHow are you\n`);
  assert.is(cold.prompts[0]![1], 0, 'nothing cached');
  // a state for another context size is refused with the reason, and the chat goes on
  await (async () => {
    const big = spawnSync(process.execPath, [CLI, gen, '--temp', '0', '-n', '10', '--ignore-eos', '-c', '256'], { input: `Hello\n/save ${file}\n`, encoding: 'utf8', timeout: 60_000 });
    assert.is(big.status, 0, big.stderr);
    const other = spawnSync(process.execPath, [CLI, gen, '--temp', '0', '-n', '10', '--ignore-eos', '-c', '128'], { input: `/load ${file}\nHow are you\n`, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    assert.is(other.status, 0, other.stderr);
    assert.match(other.stderr, /not using the saved cache: .*saved with a context size of 256; this context has 128/);
  })();
});

test('the worker API: chat.saveState() into a new model\'s chat with loadState(): the next reply is never-stopping\'s, its prompt not evaluated again', async () => {
  const opts = { temperature: 0, maxTokens: 8 };
  const a = await loadHosted(gen, { threads: 1 });
  const never = await a.createChat({ contextSize: 256 });
  const r1 = await never.send('Hello', opts).result;
  const saved = await never.saveState();
  const r2 = await never.send('How are you', opts).result;
  await a.dispose();
  assert.instance(saved.cache, Uint8Array);
  // as an app would keep it between runs: through JSON and bytes
  const kept = { conversation: JSON.parse(JSON.stringify(saved.conversation)) as unknown, cache: Uint8Array.from(saved.cache) };
  const b = await loadHosted(gen, { threads: 1 });
  try {
    const chat = await b.createChat({ contextSize: 256 });
    await chat.loadState(kept);
    assert.equal(chat.history.map((m) => m.content), ['Hello', r1.text]);
    const again = await chat.send('How are you', opts).result;
    assert.is(again.text, r2.text, 'the reply of never stopping');
    assert.is(again.usage.reusedTokens, r2.usage.reusedTokens);
    assert.is(again.usage.promptTokens, r2.usage.promptTokens, 'only the new message evaluated');
    // another context size: refused, the chat unchanged
    const small = await b.createChat({ contextSize: 128 });
    let err: unknown;
    await small.loadState(kept).catch((e: unknown) => (err = e));
    assert.instance(err, ApiStateError, String(err));
    assert.match((err as Error).message, /context size of 256; this context has 128/);
    assert.equal(small.history, []);
  } finally {
    await b.dispose();
  }
});

for (const [name, spec] of [
  ['lfm2', () => lfm2ModelSpec(LFM2_SHAPES['test-lfm2']!, GGMLType.Q8_0, { seed: 41 })],
  ['qwen3next', () => qwen3nextModelSpec(QWEN3NEXT_SHAPES['test-qwen3next']!, GGMLType.Q8_0, { seed: 42 })],
] as const) {
  test(`${name} (recurrent layers): the state holds the recurrent blocks; restored in another context (another slot), it continues bit for bit`, async () => {
    const path = join(dir, `${name}.gguf`);
    await writeGGUF(path, spec());
    const model = await loadModel(path);
    try {
      const prompt = Array.from({ length: 23 }, (_, i) => 3 + ((i * 37) % (model.hparams.n_vocab - 3)));
      const next = [5, 9, 11];
      const a = model.createContext({ contextSize: 64 }).createSequence();
      a.evaluate(prompt);
      const bytes = a.stateBytes();
      const want = next.map((t) => a.append([t]));
      // another context, the sequence in slot 1, whose state block held another sequence's state
      const ctx = model.createContext({ contextSize: 64, sequences: 2 });
      const other = ctx.createSequence();
      other.evaluate(prompt.slice(3));
      const b = ctx.createSequence();
      b.evaluate(prompt.slice(5));
      b.restoreState(bytes);
      assert.equal(b.tokens, prompt);
      const got = next.map((t) => b.append([t]));
      got.forEach((g, i) => assert.ok(g.every((v, j) => Object.is(v, want[i]![j])), `${name}: step ${i} differs after restoring`));
      // the recurrent state is in the file: without it (the KV cells alone) the continuation differs
      const c = model.createContext({ contextSize: 64 }).createSequence();
      c.evaluate(prompt.slice(5));
      const ident = c as unknown as { host: { writeRecurrent(slot: number, s: Uint8Array): void } };
      const realWrite = ident.host.writeRecurrent;
      ident.host.writeRecurrent = () => {};
      c.restoreState(bytes);
      ident.host.writeRecurrent = realWrite;
      const broken = c.append([next[0]!]);
      assert.ok(broken.some((v, j) => !Object.is(v, want[0]![j])), `${name}: restoring without the recurrent state gave the same logits`);
      // a state saved by a model without recurrent layers (another layout) is refused
      const llama = await loadModel(modelPath);
      const plain = llama.createContext({ contextSize: 64 }).createSequence();
      plain.evaluate([1, 2, 3]);
      try {
        b.restoreState(plain.stateBytes());
        assert.unreachable('loaded');
      } catch (err) {
        assert.instance(err, StateError);
      }
      llama.dispose();
    } finally {
      model.dispose();
    }
  });
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
