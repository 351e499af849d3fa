// The worker-hosted API under misuse (issue 21): errors keep their class and
// fields across the worker boundary and the main entry exports every class;
// options are refused where they are given (before a worker or thread
// starts); a disposed model or chat refuses every later call; a chat too big
// for the machine gets the fit check's numbers, not an allocator's message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as api from '../runtime/api/index.js';
import { loadModel, ModelError, ModelTooLargeError } from '../runtime/api/index.js';
import { deserializeError, ERROR_CLASSES, serializeError } from '../runtime/api/protocol.js';
import { ChatTemplateError, DownloadError, StateError, ThreadError, ToolCallError, UnsupportedError } from '../runtime/errors.js';
import { GrammarError, JsonSchemaError } from '../formats/grammar/errors.js';
import { GGUFError, GGUFIncompleteError } from '../formats/gguf/errors.js';
import { IMatrixError } from '../formats/imatrix/errors.js';
import { TokenizerError } from '../runtime/tokenizer/errors.js';
import { KernelArgsError, KernelTableError } from '../wasm/kernel-table.js';
import { writeTinyModel } from './helpers/browser-model.js';

const tiny = await writeTinyModel();
test.after(() => tiny.cleanup());

async function rejection(p: Promise<unknown> | (() => Promise<unknown>)): Promise<Error> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Error;
  }
  assert.unreachable('resolved, expected a rejection');
  throw new Error('unreachable');
}

/** One instance of every class the host may throw, with its fields set. */
const SAMPLES: Error[] = [
  new ModelError('bad key', 'm.gguf', 'llama.block_count'),
  new ModelTooLargeError('too big', 'm.gguf', 42_949_672_960, 24_000_000_000),
  new UnsupportedError('no kernels', 'blk.0.attn_q.weight', 'IQ1_M'),
  new ThreadError('thread died', { cause: new RangeError('inner') }),
  new ChatTemplateError('template broke'),
  new TokenizerError('bad token', { id: 7, piece: 'x', list: [1, 2] }),
  new GGUFError({ code: 'io', file: 'm.gguf', offset: 24, key: 'k', problem: 'no such type', expected: '0..12' }),
  new GGUFIncompleteError('m.gguf', 8, 4096, 1024),
  new IMatrixError({ file: 'i.dat', offset: 12, entry: 'blk.0.ffn_up.weight', problem: 'bad count' }),
  new KernelTableError('k.wasm', [{ kernel: 'mat_rows_q4_0', expected: 10, actual: 9 }], 'stale build'),
  new KernelArgsError('matmul', 'mat_rows_q4_0', ['w', 'x'], 3, 'wrong count'),
  new ToolCallError('arguments are not JSON', 'hermes', '<tool_call>{'),
  new GrammarError('undefined rule', 3, 14, 'g.gbnf'),
  new JsonSchemaError('unknown type', '#/properties/x'),
  new DownloadError('checksum mismatch', 'https://hub/x.gguf', 200),
  new StateError('another model', 's.state'),
  new RangeError('range'), new TypeError('type'), new SyntaxError('syntax'),
];

test('every error class the host throws round-trips with its class and fields, and the main entry exports it', () => {
  const covered = new Set<string>();
  for (const original of SAMPLES) {
    // postMessage is a structured clone
    const back = deserializeError(structuredClone(serializeError(original)));
    const Class = original.constructor as new (...a: never[]) => Error;
    assert.instance(back, Class, original.name);
    assert.is(back.name, original.name);
    assert.is(back.message, original.message);
    for (const [k, v] of Object.entries(original)) assert.equal((back as unknown as Record<string, unknown>)[k], v, `${original.name}.${k}`);
    covered.add(original.name);
  }
  for (const name of Object.keys(ERROR_CLASSES)) {
    assert.ok(covered.has(name), `no sample of ${name}`);
    if (['RangeError', 'TypeError', 'SyntaxError'].includes(name)) continue;
    assert.is((api as Record<string, unknown>)[name], ERROR_CLASSES[name], `the main entry does not export ${name}`);
  }
  const withCause = deserializeError(structuredClone(serializeError(SAMPLES[3])));
  assert.instance(withCause.cause, RangeError);
  const big = deserializeError(structuredClone(serializeError(SAMPLES[1]))) as ModelTooLargeError;
  assert.is(big.neededBytes, 42_949_672_960);
  assert.is(big.limitBytes, 24_000_000_000);
});

test('a ModelTooLargeError from the host worker is instanceof it, with its numbers', async () => {
  const err = await rejection(loadModel(tiny.path, { contextSize: 2 ** 30, threads: 1 }));
  assert.instance(err, ModelTooLargeError, String(err));
  assert.instance(err, ModelError);
  const e = err as ModelTooLargeError;
  assert.type(e.neededBytes, 'number');
  assert.type(e.limitBytes, 'number');
  assert.ok(e.neededBytes > e.limitBytes && e.limitBytes > 0, `${e.neededBytes} vs ${e.limitBytes}`);
  assert.match(e.message, 'KV cache');
  assert.match(String(e.file), 'tiny.gguf');
});

test('createChat({contextSize: 5e7}) gives the fit check\'s message, not the allocator\'s', async () => {
  const model = await loadModel(tiny.path, { threads: 1 });
  try {
    const err = await rejection(model.createChat({ contextSize: 5e7 }));
    assert.instance(err, ModelTooLargeError, String(err));
    assert.match(err.message, 'KV cache');
    assert.not.match(err.message, 'out of memory allocating');
    // the model is still usable
    const chat = await model.createChat({ contextSize: 64, chatTemplate: 'completion', seed: 1 });
    assert.ok((await chat.send('Once', { maxTokens: 2 }).result).usage.generatedTokens > 0);
  } finally {
    await model.dispose();
  }
});

test('loadModel({threads: 0}) and threads 2**31 fail at once, before a worker starts', async () => {
  for (const threads of [0, 2 ** 31, 1.5, Number.NaN]) {
    const t0 = performance.now();
    const err = await rejection(loadModel(tiny.path, { threads }));
    assert.instance(err, RangeError, String(err));
    assert.match(err.message, /^threads must be an integer from 1 to 256/);
    assert.ok(performance.now() - t0 < 1000, 'the refusal waited for something');
  }
  for (const [o, name] of [[{ contextSize: -1 }, 'contextSize'], [{ memoryBytes: Number.NaN }, 'memoryBytes']] as const) {
    const err = await rejection(loadModel(tiny.path, o));
    assert.instance(err, RangeError);
    assert.match(err.message, name);
  }
});

test('chat and send options: NaN and fractional counts are RangeErrors naming the option', async () => {
  const model = await loadModel(tiny.path, { threads: 1 });
  try {
    for (const [o, name] of [
      [{ batchSize: Number.NaN }, 'batchSize'], [{ batchSize: -1 }, 'batchSize'], [{ contextSize: 2.5 }, 'contextSize'],
      [{ maxTokens: Number.NaN }, 'maxTokens'], [{ temperature: Number.NaN }, 'temperature'], [{ seed: -3 }, 'seed'],
    ] as const) {
      const err = await rejection(model.createChat(o));
      assert.instance(err, RangeError, `${name}: ${String(err)}`);
      assert.match(err.message, new RegExp(`^${name} must be`));
    }
    const chat = await model.createChat({ contextSize: 64, chatTemplate: 'completion' });
    for (const [o, name] of [[{ maxTokens: 1.5 }, 'maxTokens'], [{ topK: Number.NaN }, 'topK'], [{ topP: Infinity }, 'topP']] as const) {
      const err = await rejection(chat.send('Once', o).result);
      assert.instance(err, RangeError);
      assert.match(err.message, name);
    }
  } finally {
    await model.dispose();
  }
});

test('after dispose() every call on the worker-hosted model and its chats is a clear error', async () => {
  const model = await loadModel(tiny.path, { threads: 1 });
  const chat = await model.createChat({ contextSize: 64, chatTemplate: 'completion' });
  const other = await model.createChat({ contextSize: 64, chatTemplate: 'completion' });
  await other.dispose();
  for (const p of [() => other.send('x').result, () => other.contextTokens(), () => other.reset()]) {
    assert.match((await rejection(p)).message, 'the chat is disposed');
  }
  await model.dispose();
  assert.ok(model.disposed);
  for (const p of [
    () => model.createChat(), () => model.tokenize('x'), () => model.detokenize([1]), () => model.embed('x'),
    () => chat.send('x').result, () => chat.contextTokens(), () => chat.reset(),
  ]) {
    const err = await rejection(p);
    assert.instance(err, RangeError);
    assert.match(err.message, /disposed/);
  }
  await model.dispose(); // twice is fine
  await chat.dispose();
});

test.run();
