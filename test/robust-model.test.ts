// Hostile model files and careless calls (issue 21), from stories260K.gguf
// with one change written by our GGUF writer: every hyper-parameter is read
// typed and bounded, every tensor's shape and type is checked before any
// tensor data is read, sizes are counted in bytes (in doubles) before any
// allocation, options are validated where they are given, and a disposed
// model refuses every later call.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import {
  encodeGGUF, GGUFValueType as T, memorySource, parseGGUF, specFromHeader, type GGUFKVInput, type GGUFTensorInput, type GGUFWriteSpec,
} from '../formats/gguf/index.js';
import { infoJSON, infoText } from '../runtime/commands/info.js';
import { readGGUF } from '../formats/gguf/index.js';
import { loadModel, ModelError, ModelTooLargeError, type Model } from '../runtime/index.js';
import type { TensorByteSource } from '../runtime/load.js';
import { loadKernels } from '../wasm/loader.js';
import { ThreadPool } from '../runtime/threads/pool.js';
import { QuantizePool } from '../runtime/quantize/pool.js';
import { REPO_ROOT, sharedDir } from './helpers/shared.js';

const models = sharedDir('models');
const STORIES = models && join(models, 'stories260K.gguf');
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-robust-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const base = STORIES ? new Uint8Array(readFileSync(STORIES)) : undefined;
const header = base && parseGGUF(base);

/** stories260K as a writer spec, changed by `change`, encoded in memory. */
function mutated(change: (s: { kv: GGUFKVInput[]; tensors: GGUFTensorInput[] }) => void): Uint8Array {
  const h = header!;
  const spec = specFromHeader(h, (t) => base!.subarray(h.dataOffset + t.offset, h.dataOffset + t.offset + t.nBytes));
  const s = { kv: [...spec.kv] as GGUFKVInput[], tensors: spec.tensors!.map(({ offset: _o, ...t }) => ({ ...t })) };
  change(s);
  return encodeGGUF({ version: spec.version, kv: s.kv, tensors: s.tensors } satisfies GGUFWriteSpec);
}

function setKV(s: { kv: GGUFKVInput[] }, key: string, e: Omit<GGUFKVInput, 'key'>): void {
  const i = s.kv.findIndex((x) => x.key === key);
  if (i >= 0) s.kv[i] = { key, ...e };
  else s.kv.push({ key, ...e });
}

/** Gives tensor `name` a new shape (and type), with data of the new size. */
function reshape(s: { tensors: GGUFTensorInput[] }, name: string, shape: number[], type = GGMLType.F32): void {
  const t = s.tensors.find((x) => x.name === name)!;
  const bytes = shape.reduce((a, b) => a * b, 1) * (type === GGMLType.F16 ? 2 : 4);
  Object.assign(t, { shape, type, nameRaw: undefined, data: new Uint8Array(bytes) });
}

function swapNames(s: { tensors: GGUFTensorInput[] }, a: string, b: string): void {
  const ta = s.tensors.find((x) => x.name === a)!;
  const tb = s.tensors.find((x) => x.name === b)!;
  Object.assign(ta, { name: b, nameRaw: undefined });
  Object.assign(tb, { name: a, nameRaw: undefined });
}

/**
 * A byte source that counts tensor-data reads: the header parser reads with
 * read() (in chunks that may reach past the header), the weight loader only
 * with readInto(), so a refusal before the data is read makes none.
 */
function watched(bytes: Uint8Array, name: string): { source: TensorByteSource; dataReads: () => number } {
  const inner = memorySource(bytes, name);
  let n = 0;
  const source: TensorByteSource = {
    name, size: inner.size, close: () => inner.close(), read: (offset, length) => inner.read(offset, length),
    readInto: async (offset, dest) => {
      n++;
      const part = bytes.subarray(offset, offset + dest.length);
      dest.set(part);
      return part.length;
    },
  };
  return { source, dataReads: () => n };
}

/** Loads `bytes`; returns the error, asserting no tensor data was read first. */
async function refusal(bytes: Uint8Array, name: string): Promise<Error> {
  const { source, dataReads } = watched(bytes, name);
  try {
    const m = await loadModel(source);
    m.dispose();
  } catch (e) {
    assert.is(dataReads(), 0, `${name}: tensor data was read before the refusal (${(e as Error).message})`);
    return e as Error;
  }
  assert.unreachable(`${name}: loaded, expected a refusal`);
  throw new Error("unreachable");
}

function noControls(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]/.test(s);
}

const skip = !STORIES;
if (skip) console.log('  skip: robust-model file tests need ../shared/models/stories260K.gguf');

// ---- hyper-parameters ----

test('block_count 1e9, 1e8 and -1: info prints them without a list of that length, loading names the key', async () => {
  if (skip) return;
  for (const [value, type] of [[1e9, T.UINT32], [1e8, T.UINT32], [-1, T.INT32]] as const) {
    const bytes = mutated((s) => setKV(s, 'llama.block_count', { type, value }));
    const path = join(dir, `block-count-${value}.gguf`);
    writeFileSync(path, bytes);
    const file = await readGGUF(path);
    const t0 = performance.now();
    const json = infoJSON(file) as { architecture: { hparams: Record<string, unknown> } };
    const text = infoText(file);
    const ms = performance.now() - t0;
    assert.is(json.architecture.hparams.n_layer, value);
    // per-layer rows collapse to one value instead of 1e9 copies
    assert.is(json.architecture.hparams.n_ff, 172);
    assert.match(text, `n_layer               = ${value}`);
    assert.ok(ms < 2000, `info took ${ms.toFixed(0)} ms`);
    const err = await refusal(bytes, `block_count ${value}`);
    assert.instance(err, ModelError);
    assert.is((err as ModelError).key, 'llama.block_count');
    assert.match(err.message, 'expected an integer in 1..512');
  }
});

test('block_count 0 is refused, not run as a model with no layers', async () => {
  if (skip) return;
  const bytes = mutated((s) => {
    setKV(s, 'llama.block_count', { type: T.UINT32, value: 0 });
    s.tensors = s.tensors.filter((t) => !t.name.startsWith('blk.'));
  });
  const err = await refusal(bytes, 'block_count 0');
  assert.instance(err, ModelError);
  assert.is((err as ModelError).key, 'llama.block_count');
});

test('a string where head_count_kv must be a number is a typed error naming the key, not the default', async () => {
  if (skip) return;
  const err = await refusal(mutated((s) => setKV(s, 'llama.attention.head_count_kv', { type: T.STRING, value: 'four' })), 'hkv string');
  assert.instance(err, ModelError);
  assert.is((err as ModelError).key, 'llama.attention.head_count_kv');
  assert.match(err.message, 'llama.attention.head_count_kv = "four" (string): expected an integer in 1..8');
});

test('out-of-range and mistyped hyper-parameters are refused with the key', async () => {
  if (skip) return;
  const cases: [string, Omit<GGUFKVInput, 'key'>, string][] = [
    ['llama.embedding_length', { type: T.FLOAT32, value: 64.5 }, 'an integer'],
    ['llama.embedding_length', { type: T.UINT64, value: 2n ** 40n }, 'an integer in 1..'],
    ['llama.attention.head_count', { type: T.UINT32, value: 0 }, 'an integer in 1..64'],
    ['llama.attention.head_count_kv', { type: T.UINT32, value: 16 }, 'an integer in 1..8'],
    ['llama.rope.dimension_count', { type: T.UINT32, value: 4096 }, 'an integer in 0..8'],
    ['llama.rope.dimension_count', { type: T.UINT32, value: 7 }, 'an even number'],
    ['llama.context_length', { type: T.UINT32, value: 0 }, 'an integer in 1..'],
    ['llama.rope.freq_base', { type: T.STRING, value: 'fast' }, 'a number'],
    ['llama.attention.layer_norm_rms_epsilon', { type: T.FLOAT32, value: Number.NaN }, 'a number'],
    ['llama.expert_count', { type: T.UINT32, value: 1e6 }, 'an integer in 0..1024'],
    ['llama.attention.causal', { type: T.STRING, value: 'yes' }, 'a boolean'],
  ];
  for (const [key, e, expected] of cases) {
    const err = await refusal(mutated((s) => setKV(s, key, e)), `${key} = ${String(e.value)}`);
    assert.instance(err, ModelError, `${key}: ${err.message}`);
    assert.is((err as ModelError).key, key, err.message);
    assert.match(err.message, expected);
  }
});

// ---- tensors against the architecture ----

test('wrong tensor shapes are refused naming the tensor, its shape and the expected one, before tensor data is read', async () => {
  if (skip) return;
  const cases: [string, (s: { kv: GGUFKVInput[]; tensors: GGUFTensorInput[] }) => void, string, string][] = [
    ['a 3-row token_embd', (s) => reshape(s, 'token_embd.weight', [64, 3]), 'token_embd.weight', 'has shape [64, 3], expected [64, 512] (n_embd, n_vocab)'],
    ['a 1-element attn_norm', (s) => reshape(s, 'blk.0.attn_norm.weight', [1]), 'blk.0.attn_norm.weight', 'has shape [1], expected [64] (n_embd)'],
    ['head_count_kv disagreeing with attn_k', (s) => setKV(s, 'llama.attention.head_count_kv', { type: T.UINT32, value: 2 }),
      'blk.0.attn_k.weight', 'has shape [64, 32], expected [64, 16] (n_embd, n_embd_k_gqa)'],
    ['value_length 4', (s) => setKV(s, 'llama.attention.value_length', { type: T.UINT32, value: 4 }),
      'blk.0.attn_v.weight', 'has shape [64, 32], expected [64, 16] (n_embd, n_embd_v_gqa)'],
    ['ffn_gate and ffn_down swapped', (s) => swapNames(s, 'blk.2.ffn_gate.weight', 'blk.2.ffn_down.weight'),
      'blk.2.ffn_gate.weight', 'has shape [172, 64], expected [64, 172] (n_embd, n_ff)'],
    ['attn_q and attn_k swapped', (s) => swapNames(s, 'blk.1.attn_q.weight', 'blk.1.attn_k.weight'),
      'blk.1.attn_q.weight', 'has shape [64, 32], expected [64, 64]'],
  ];
  for (const [label, change, tensor, text] of cases) {
    const err = await refusal(mutated(change), label);
    assert.instance(err, ModelError, `${label}: ${err.message}`);
    assert.is((err as ModelError).key, tensor, err.message);
    assert.match(err.message, `${tensor} ${text}`);
  }
});

test('a vector stored as F16 is refused (the f32 kernels would read past it)', async () => {
  if (skip) return;
  const err = await refusal(mutated((s) => reshape(s, 'blk.3.ffn_norm.weight', [64], GGMLType.F16)), 'f16 norm');
  assert.instance(err, ModelError);
  assert.is((err as ModelError).key, 'blk.3.ffn_norm.weight');
  assert.match(err.message, 'is F16, expected F32');
});

test('a tensor name with control characters is quoted printable', async () => {
  if (skip) return;
  const evil = 'blk.0.\x1b]0;owned\x07\x1b[2J';
  const err = await refusal(mutated((s) => s.tensors.push({ name: evil, type: GGMLType.F32, shape: [4], data: new Uint8Array(16) })), 'control name');
  assert.instance(err, ModelError);
  assert.match(err.message, 'unexpected tensor');
  assert.ok(noControls(err.message), JSON.stringify(err.message));
});

test('vocab_size larger than the output tensor: n_vocab is the tokenizer\'s count, as llama.cpp takes it', async () => {
  if (skip) return;
  // llama.cpp reads <arch>.vocab_size only for files without a tokenizer; the
  // sampler would otherwise read 1000 logits from a 512-row output
  const warnings: string[] = [];
  const m = await loadModel(memorySource(mutated((s) => setKV(s, 'llama.vocab_size', { type: T.UINT32, value: 1000 })), 'vocab1000'), {
    onWarning: (w) => warnings.push(w),
  });
  const plain = await loadModel(STORIES!);
  try {
    assert.is(m.hparams.n_vocab, 512);
    assert.ok(warnings.some((w) => w.includes('llama.vocab_size = 1000')), warnings.join('\n'));
    const a = m.createContext({ contextSize: 32, threads: 1 }).evaluate([1, 400, 30]);
    const b = plain.createContext({ contextSize: 32, threads: 1 }).evaluate([1, 400, 30]);
    assert.is(a.length, 512);
    assert.equal(Array.from(a), Array.from(b));
  } finally {
    m.dispose();
    plain.dispose();
  }
});

test('info --json with 100,000 metadata entries looks each up once', async () => {
  const kv: GGUFKVInput[] = [{ key: 'general.architecture', value: 'llama' }];
  for (let i = 0; i < 100_000; i++) kv.push({ key: `x.k${i}`, type: T.UINT32, value: i });
  const path = join(dir, 'many-keys.gguf');
  writeFileSync(path, encodeGGUF({ kv }));
  const file = await readGGUF(path);
  const t0 = performance.now();
  const json = infoJSON(file) as { metadata: Record<string, unknown>; kv_count: number };
  const ms = performance.now() - t0;
  assert.is(json.kv_count, 100_001);
  assert.is(json.metadata['x.k99999'], 99999);
  // the linear lookup took ~23 s here; a map takes well under a second
  assert.ok(ms < 5000, `infoJSON took ${ms.toFixed(0)} ms`);
  const cli = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'runtime', 'cli.js'), 'info', path, '--json'], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
  assert.is(cli.status, 0, cli.stderr);
  assert.is((JSON.parse(cli.stdout) as { kv_count: number }).kv_count, 100_001);
});

test('a metadata key named __proto__ is one more entry in info --json', async () => {
  const file = parseGGUF(encodeGGUF({ kv: [{ key: 'general.architecture', value: 'llama' }, { key: '__proto__', value: 'x' }] }));
  const json = JSON.parse(JSON.stringify(infoJSON({ ...file, file: 'm', shards: [file] }))) as { metadata: Record<string, unknown> };
  assert.is(Object.getOwnPropertyDescriptor(json.metadata, '__proto__')?.value, 'x');
});

// ---- sizes ----

test('malloc of 2^32+64 bytes (and NaN, -1, 2^31) fails with a RangeError instead of wrapping', async () => {
  const k = await loadKernels();
  for (const n of [2 ** 32 + 64, 2 ** 31, -1, Number.NaN, 1.5, 2 ** 53]) {
    assert.throws(() => k.malloc(n), (e: Error) => e instanceof RangeError && e.message.includes(`cannot allocate ${n} bytes`), String(n));
  }
  const p = k.malloc(64);
  assert.ok(p > 0);
  k.free(p);
});

let stories: Model | undefined;
const storiesModel = async () => (stories ??= await loadModel(STORIES!));
test.after(() => stories?.dispose());

test('contextSize 2**26 is refused by the fit check with the numbers, before anything is allocated', async () => {
  if (skip) return;
  const m = await storiesModel();
  const grown = m.memories.map((k) => k.memory.buffer.byteLength);
  const kv = 5 * 4 * 2 ** 26 * (8 + 8) * 2; // n_layer * n_head_kv * n_ctx * (head_k + head_v) * f16
  for (const contextSize of [2 ** 26, 2 ** 23]) {
    const err = (() => {
      try {
        m.createContext({ contextSize, threads: 1 }).dispose();
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    assert.instance(err, ModelTooLargeError, String(err));
    const e = err as ModelTooLargeError;
    assert.ok(e.neededBytes > e.limitBytes, `${e.neededBytes} <= ${e.limitBytes}`);
    assert.match(e.message, 'KV cache');
    if (contextSize === 2 ** 26) assert.ok(e.neededBytes >= kv, `${e.neededBytes} counts less than the ${kv} bytes of KV cache`);
    // 2^23 cells (5 GiB of KV) fit a big machine but not one WebAssembly memory
    if (contextSize === 2 ** 23) assert.ok(e.limitBytes <= 4 * 1024 ** 3 || e.message.includes('this machine has'), e.message);
  }
  assert.equal(m.memories.map((k) => k.memory.buffer.byteLength), grown, 'the memory grew: something was allocated first');
  // the load-time check counts the same way
  try {
    (await loadModel(STORIES!, { contextSize: 2 ** 26 })).dispose();
    assert.unreachable('loaded with a 40 GiB KV cache');
  } catch (e) {
    assert.instance(e, ModelTooLargeError);
  }
});

test('complete -c 67108864 is refused with the fit check\'s numbers, not a trap', () => {
  if (skip) return;
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'runtime', 'cli.js'), 'complete', STORIES!, '-c', '67108864', '-p', 'Once', '-n', '4'],
    { encoding: 'utf8', timeout: 60_000 });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, 'KV cache');
  assert.not.match(r.stderr, /RuntimeError|out of bounds|out of memory allocating/);
});

test('options: NaN, negative, fractional and huge counts are RangeErrors naming the option, before threads start', async () => {
  if (skip) return;
  const m = await storiesModel();
  const cases: [Record<string, number>, string][] = [
    [{ batchSize: Number.NaN }, 'batchSize'], [{ batchSize: -5 }, 'batchSize'], [{ batchSize: 2.5 }, 'batchSize'],
    [{ contextSize: Number.NaN }, 'contextSize'], [{ contextSize: -1 }, 'contextSize'], [{ contextSize: 1.5 }, 'contextSize'],
    [{ sequences: 0 }, 'sequences'], [{ sequences: Number.NaN }, 'sequences'],
    [{ threads: 0 }, 'threads'], [{ threads: 2 ** 31 }, 'threads'], [{ threads: 2.5 }, 'threads'], [{ threads: Number.NaN }, 'threads'],
    [{ maxPlans: 0 }, 'maxPlans'],
  ];
  for (const [o, name] of cases) {
    assert.throws(() => m.createContext({ contextSize: 32, ...o }), (e: Error) => e instanceof RangeError && e.message.startsWith(`${name} must be`), JSON.stringify(o));
  }
  const ctx = m.createContext({ contextSize: 32, threads: 1 });
  for (const maxTokens of [Number.NaN, 1.5, -2]) {
    let err: unknown;
    try {
      for await (const _ of ctx.generate('Once', { maxTokens })) { /* nothing may come */ }
    } catch (e) {
      err = e;
    }
    assert.instance(err, RangeError, `maxTokens ${maxTokens}`);
    assert.match((err as Error).message, /^maxTokens must be/);
  }
  ctx.dispose();
  const k = await loadKernels();
  assert.throws(() => ThreadPool.create(k, 2 ** 31), /threads must be an integer from 1 to 256/);
  assert.throws(() => QuantizePool.start(2 ** 31), /threads must be an integer from 1 to 256/);
  try {
    await loadModel(STORIES!, { contextSize: Number.NaN });
    assert.unreachable('loaded with contextSize NaN');
  } catch (e) {
    assert.instance(e, RangeError);
    assert.match((e as Error).message, 'contextSize');
  }
});

// ---- dispose ----

test('after model.dispose() every call on it, its contexts and sequences is a clear error', async () => {
  if (skip) return;
  const m = await loadModel(STORIES!);
  const ctx = m.createContext({ contextSize: 32, threads: 2, sequences: 2 });
  const seq = ctx.createSequence();
  const before = ctx.evaluate([1, 400]);
  assert.ok(before.some((x) => x !== 0));
  m.dispose();
  const calls: [string, () => unknown][] = [
    ['context.evaluate', () => ctx.evaluate([1, 400])],
    ['sequence.evaluate', () => seq.evaluate([1, 400])],
    ['sequence.append', () => seq.append([5])],
    ['context.createSequence', () => ctx.createSequence()],
    ['model.createContext', () => m.createContext({ contextSize: 32 })],
    ['model.tokenize', () => m.tokenize('Once')],
    ['model.detokenize', () => m.detokenize([400])],
    ['model.embed', () => m.embed(['Once'])],
  ];
  for (const [label, call] of calls) {
    assert.throws(call, (e: Error) => e instanceof RangeError && /disposed/.test(e.message), label);
  }
  let generateError: unknown;
  try {
    for await (const _ of ctx.generate('Once', { maxTokens: 2 })) { /* nothing may come */ }
  } catch (e) {
    generateError = e;
  }
  assert.instance(generateError, RangeError);
  assert.ok(m.disposed);
  m.dispose(); // twice is fine
});

test('after context.dispose() its sequences refuse to run', async () => {
  if (skip) return;
  const m = await storiesModel();
  const ctx = m.createContext({ contextSize: 32, threads: 1 });
  const seq = ctx.createSequence();
  seq.evaluate([1, 2]);
  ctx.dispose();
  assert.throws(() => seq.append([3]), /disposed/);
  assert.throws(() => ctx.evaluate([3]), /disposed/);
});

test.run();
