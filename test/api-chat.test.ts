// The worker-hosted API (runtime/api, the package's main entry) in Node:
// replies equal the in-thread core's token for token for the same seed, over
// two turns (the second reusing the KV cache); every kind of source loads the
// same model; errors cross from the worker typed and named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { ChatTemplateError, GGUFError, ModelError, loadModel, type Model } from '../runtime/api/index.js';
import { BuiltinChatTemplate, ChatSession, CompletionTemplate } from '../runtime/chat/index.js';
import { loadModel as loadCore } from '../runtime/index.js';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { BERT_SHAPES, bertModelSpec } from '../formats/synthetic/bert.js';
import { writeTinyModel, writeTinySplit } from './helpers/browser-model.js';

const tiny = await writeTinyModel();
test.after(() => tiny.cleanup());

const SYSTEM = 'You are a test.';

async function rejectsWith(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  const err = await fn().then(() => null, (e: Error) => e);
  assert.ok(err, `rejects (${re})`);
  assert.match(err!.message, re);
}
const TURNS = ['Hello there', 'And then?'];

/** The core's two replies: ids in the KV cache after each turn, and the texts. */
async function coreRun(seed: number, maxTokens: number) {
  const model = await loadCore(tiny.path);
  const ctx = model.createContext({ contextSize: 1024, threads: 1 });
  try {
    const s = new ChatSession(model, ctx, { template: new BuiltinChatTemplate('chatml', 'test'), system: SYSTEM, maxTokens, temp: 0.8, seed });
    const out: { text: string; tokens: number[]; reused: number }[] = [];
    for (const t of TURNS) {
      const r = await s.reply(t);
      out.push({ text: r.text, tokens: s.cachedTokens, reused: r.reusedTokens });
    }
    return out;
  } finally {
    ctx.dispose();
    model.dispose();
  }
}

async function apiRun(model: Model, seed: number, maxTokens: number) {
  const chat = await model.createChat({ chatTemplate: 'chatml', systemPrompt: SYSTEM, contextSize: 1024 });
  const out: { text: string; tokens: number[]; reused: number; chunks: number }[] = [];
  for (const [i, t] of TURNS.entries()) {
    // the seed on the first send only: the second continues the same sampler, as the core's session does
    const reply = chat.send(t, i === 0 ? { seed, temperature: 0.8, maxTokens } : { maxTokens });
    let text = '';
    let chunks = 0;
    for await (const piece of reply) {
      text += piece;
      chunks++;
    }
    const r = await reply.result;
    assert.is(r.text, text, 'the streamed pieces make up the result text');
    out.push({ text, tokens: await chat.contextTokens(), reused: r.usage.reusedTokens, chunks });
  }
  assert.equal(chat.history.map((m) => m.role), ['system', 'user', 'assistant', 'user', 'assistant']);
  await chat.dispose();
  return out;
}

test('two turns through the worker equal the in-thread core token for token (same seed), on 2 threads vs 1', async () => {
  const model = await loadModel(tiny.path, { threads: 2 });
  try {
    assert.is(model.threads, 2);
    assert.is(model.info.architecture, 'llama');
    for (const seed of [11, 12]) {
      const core = await coreRun(seed, 24);
      const api = await apiRun(model, seed, 24);
      for (let i = 0; i < TURNS.length; i++) {
        assert.ok(core[i]!.tokens.length > 20, 'the turn holds a prompt and a reply');
        assert.equal(api[i]!.tokens, core[i]!.tokens, `seed ${seed}, turn ${i + 1}: KV-cache ids`);
        assert.is(api[i]!.text, core[i]!.text, `seed ${seed}, turn ${i + 1}: text`);
        assert.is(api[i]!.reused, core[i]!.reused, `seed ${seed}, turn ${i + 1}: prompt tokens reused from the cache`);
      }
      assert.ok(api[1]!.reused > 0, 'the second turn reuses the first from the KV cache');
      assert.ok(api[0]!.chunks > 1, 'the reply streamed in pieces');
      console.log(`  seed ${seed}: ${api[0]!.tokens.length} + ${api[1]!.tokens.length} ids in the cache equal the core's; turn 2 reused ${api[1]!.reused}`);
    }
    // the comparison can fail: another seed gives other tokens
    const a = await apiRun(model, 11, 24);
    const b = await apiRun(model, 99, 24);
    assert.not.equal(a[0]!.tokens, b[0]!.tokens, 'seeds 11 and 99 differ');
  } finally {
    await model.dispose();
  }
});

/** Greedy 12 tokens of a completion: what every source must give. */
async function greedy(model: Model): Promise<number[]> {
  const chat = await model.createChat({ chatTemplate: 'completion', contextSize: 256, temperature: 0, ignoreEos: true });
  await chat.send('Once upon a time', { maxTokens: 12 }).result;
  const ids = await chat.contextTokens();
  await chat.dispose();
  return ids;
}

// The cache types cross to the worker: its greedy completion with q8_0 K and
// V caches is the core's with the same caches, token for token, and its saved
// state says q8_0.
test('cacheTypeK/cacheTypeV reach the worker\'s contexts; a bad type is refused before a worker starts', async () => {
  await rejectsWith(() => loadModel(tiny.path, { cacheTypeV: 'q4_0' as 'q8_0' }), /cacheTypeV must be one of f16, q8_0/);
  const core = await loadCore(tiny.path);
  const coreGreedy = async (types: { cacheTypeK?: 'q8_0'; cacheTypeV?: 'q8_0' }) => {
    const ctx = core.createContext({ contextSize: 256, threads: 1, ...types });
    const s = new ChatSession(core, ctx, { template: new CompletionTemplate('test'), maxTokens: 12, temp: 0, ignoreEos: true });
    await s.reply('Once upon a time');
    const ids = s.cachedTokens;
    ctx.dispose();
    return ids;
  };
  const model = await loadModel(tiny.path, { threads: 1, cacheTypeK: 'q8_0', cacheTypeV: 'q8_0' });
  try {
    assert.equal(await greedy(model), await coreGreedy({ cacheTypeK: 'q8_0', cacheTypeV: 'q8_0' }));
    // greedy ids hardly move with the cache's rounding: the saved state names the types the worker's cache has
    const chat = await model.createChat({ chatTemplate: 'completion', contextSize: 256 });
    await chat.send('Once', { maxTokens: 2 }).result;
    const { cache } = await chat.saveState();
    await chat.dispose();
    const header = JSON.parse(new TextDecoder().decode(cache.subarray(16, 16 + new DataView(cache.buffer, cache.byteOffset).getUint32(12, true))));
    assert.is(header.cache_type_k, 'q8_0');
    assert.is(header.cache_type_v, 'q8_0');
  } finally {
    await model.dispose();
    core.dispose();
  }
});

test('a path, file: URL, http URL, ArrayBuffer, Uint8Array, Blob and split shards load the same model', async () => {
  const bytes = readFileSync(tiny.path);
  const shards = await writeTinySplit(tiny.dir, 3);
  const server = createServer((req, res) => {
    const body = req.url === '/chunked.gguf' ? undefined : bytes;
    res.writeHead(req.url === '/tiny.gguf' || req.url === '/chunked.gguf' ? 200 : 404, body ? { 'content-length': String(body.length) } : {});
    if (req.url === '/chunked.gguf') {
      // no content-length: the body is read whole, then parsed
      for (let i = 0; i < bytes.length; i += 100_000) res.write(bytes.subarray(i, i + 100_000));
      res.end();
    } else res.end(req.url === '/tiny.gguf' ? bytes : 'no');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const sources: [string, Parameters<typeof loadModel>[0]][] = [
      ['path', tiny.path],
      ['file: URL', pathToFileURL(tiny.path)],
      ['http URL', `${origin}/tiny.gguf`],
      ['http URL, no length', new URL(`${origin}/chunked.gguf`)],
      ['ArrayBuffer', bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)],
      ['Uint8Array', new Uint8Array(bytes)],
      ['Blob', new Blob([bytes])],
      ['split shards (paths, out of order)', [shards[2]!, shards[0]!, shards[1]!]],
      ['split shard path (finds the others)', shards[1]!],
      ['split shards (Blobs)', shards.map((p) => new Blob([readFileSync(p)]))],
    ];
    let reference: number[] | undefined;
    for (const [label, source] of sources) {
      const progress: number[][] = [];
      const model = await loadModel(source, { threads: 1, onProgress: (p) => progress.push([p.loadedBytes, p.totalBytes]) });
      try {
        const ids = await greedy(model);
        reference ??= ids;
        assert.equal(ids, reference, `${label}: the same greedy tokens`);
        const last = progress.at(-1);
        assert.ok(last && last[0] === last[1] && last[1]! > 1_000_000, `${label}: progress ends at the total (${JSON.stringify(last)})`);
        assert.ok(progress.every((p, i) => i === 0 || p[0]! >= progress[i - 1]![0]!), `${label}: progress only grows`);
      } finally {
        await model.dispose();
      }
    }
    assert.ok(reference!.length > 12);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('load errors cross the worker with their type, and an aborted load stops at once', async () => {
  const missing = await loadModel(`${tiny.dir}/absent.gguf`).then(() => null, (e: Error) => e);
  assert.ok(missing, 'a missing file rejects');
  assert.is(missing!.name, 'GGUFError');
  assert.ok(missing instanceof GGUFError, 'the class crosses the worker boundary');
  assert.ok(missing!.message.includes('absent.gguf') && missing!.message.includes('no such file'), missing!.message);
  assert.is((missing as Error & { code?: string }).code, 'io');

  const notGGUF = await loadModel(new Uint8Array(4096)).then(() => null, (e: Error) => e);
  assert.is(notGGUF?.name, 'GGUFError');

  await rejectsWith(() => loadModel(42 as never), /a path, URL, Blob, File or ArrayBuffer/);

  // a server that sends the header and then stalls: aborting must not wait for it
  const bytes = readFileSync(tiny.path);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(bytes.length) });
    res.write(bytes.subarray(0, 200_000));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const ac = new AbortController();
    const progress: number[] = [];
    let arrived: () => void = () => {};
    const firstBytes = new Promise<void>((r) => (arrived = r));
    const loading = loadModel(`http://127.0.0.1:${(server.address() as AddressInfo).port}/stall.gguf`, {
      signal: ac.signal,
      onProgress: (p) => {
        progress.push(p.loadedBytes);
        arrived();
      },
    });
    // the worker is downloading (and then waits for the rest of the header)
    await firstBytes;
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    ac.abort();
    const err = await loading.then(() => null, (e: Error) => e);
    const ms = performance.now() - t0;
    assert.is(err?.name, 'AbortError');
    assert.ok(ms < 100, `the abort returned in ${ms.toFixed(1)} ms`);
    assert.ok(progress.length > 0 && progress.at(-1)! > 0 && progress.at(-1)! < bytes.length, `progress while downloading: ${progress.at(-1)}`);
    console.log(`  an aborted URL load rejected in ${ms.toFixed(1)} ms (${progress.at(-1)} of ${bytes.length} bytes had arrived)`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('chat errors: an unknown template, embeddings on a model without them, a disposed model', async () => {
  const model = await loadModel(tiny.path, { threads: 1 });
  try {
    const bad = await model.createChat({ chatTemplate: 'no-such-template' }).then(() => null, (e: Error) => e);
    assert.is(bad?.name, 'ChatTemplateError');
    assert.ok(bad instanceof ChatTemplateError);
    assert.ok(bad!.message.includes('no-such-template'));
    const emb = await model.embed(['hello']).then(() => null, (e: Error) => e);
    assert.ok(emb, 'embed on a decoder model rejects');
    assert.is(emb!.name, 'ModelError');
    assert.ok(emb instanceof ModelError && emb.key === 'general.architecture', 'a ModelError with its fields');
    assert.match(emb!.message, /embeddings need an encoder architecture.*llama/);
    console.log(`  embed on this model: ${emb!.name}: ${emb!.message}`);
    assert.equal(await model.tokenize('Hello', { addSpecial: false }), await model.tokenize('Hello', { addSpecial: false }));
    const ids = await model.tokenize('Hello world', { addSpecial: false });
    assert.is(await model.detokenize(ids), 'Hello world');
  } finally {
    await model.dispose();
  }
  assert.ok(model.disposed);
  await rejectsWith(() => model.createChat(), /disposed/);
});

test('embed through the worker equals the core\'s Model.embed (an encoder model, 2 threads vs 1)', async () => {
  const path = `${tiny.dir}/bert.gguf`;
  await writeGGUF(path, bertModelSpec(BERT_SHAPES['bert-tiny']!, GGMLType.Q8_0, { seed: 4 }));
  const texts = ['hello world', 'the quick brown fox jumps over the lazy dog', 'what is a text embedding model'];
  const core = await loadCore(path);
  const expected = core.embed(texts, { threads: 1 });
  const other = core.embed(texts, { threads: 1, pooling: 'mean' });
  core.dispose();
  const model = await loadModel(path, { threads: 2 });
  try {
    const got = await model.embed(texts);
    assert.is(got.length, 3);
    for (let i = 0; i < texts.length; i++) {
      assert.ok(got[i] instanceof Float32Array && got[i]!.length === 256, `text ${i}: a Float32Array of n_embd`);
      assert.equal(Array.from(got[i]!), Array.from(expected[i]!), `text ${i}: the core's vector`);
    }
    const mean = await model.embed(texts, { pooling: 'mean' });
    assert.equal(Array.from(mean[1]!), Array.from(other[1]!), 'options reach the core');
    assert.not.equal(Array.from(mean[1]!), Array.from(got[1]!), 'mean pooling differs from the file\'s cls pooling');
    assert.is((await model.embed('one text')).length, 1);
  } finally {
    await model.dispose();
  }
});

test.run();
