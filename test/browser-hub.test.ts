// Models by name in chromium: loadModel('hf:user/repo:QUANT') in a page
// downloads from a local fake Hugging Face hub (test/helpers/fake-hub.ts,
// answering cross-origin requests as the hub does) into the Origin Private
// File System; a reload loads from there without asking the CDN; an interrupted
// download resumes with a Range request after a reload; a corrupted body is
// refused with DownloadError and not kept, and a damaged stored file is
// fetched again; the quant the page picks is the one Node's picker picks from
// the same listing; the Cache API store does the same where OPFS is not used;
// cachedModels / deleteCachedModel list and delete.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF, writeSplitGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { hubSettings, listRepoFiles } from '../runtime/hub/pull.js';
import { selectFiles } from '../runtime/hub/select.js';
import { browserSkipReason, CHROMIUM, serveStatic, type StaticServer } from './helpers/browser.js';
import { FakeHub, type HubFile } from './helpers/fake-hub.js';
import { REPO_ROOT } from './helpers/shared.js';

type Api = typeof import('../runtime/api/index.js');

const skip = browserSkipReason();
if (skip) {
  test('models by name in chromium', () => console.log(`  skip: ${skip}`));
  test.run();
} else {
  await main();
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'run-gguf-browser-hub-'));
  const shape = LLAMA_SHAPES['test-tiny']!;
  const q8Path = join(tmp, 'tiny-Q8_0.gguf');
  await writeGGUF(q8Path, llamaModelSpec(shape, GGMLType.Q8_0, { seed: 21 }));
  const q4Path = join(tmp, 'tiny-Q4_K_M.gguf');
  await writeGGUF(q4Path, llamaModelSpec(shape, GGMLType.Q8_0, { seed: 22 }));
  const badPath = join(tmp, 'bad.gguf');
  await writeGGUF(badPath, llamaModelSpec(shape, GGMLType.Q8_0, { seed: 23 }));
  const shards = (await writeSplitGGUF(join(tmp, 'split'), llamaModelSpec(shape, GGMLType.Q8_0, { seed: 24 }), 2)).map((p) => readFileSync(p));
  const junk = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 255);
  const q4 = readFileSync(q4Path);

  // a listing with the traps llama.cpp's picker avoids: projectors, a later shard, tags inside other tags
  const pickFiles = ['mmproj-model-Q4_K_M.gguf', 'model-IQ4_XS.gguf', 'model-Q4_K_M-00002-of-00002.gguf', 'model-Q4_K_M-00001-of-00002.gguf',
    'model-Q4_K_S.gguf', 'UD/model-UD-Q4_K_XL.gguf', 'model-Q8_0.gguf', 'model-q6_k.gguf', 'imatrix.gguf', 'README.md'];
  const hub = await new FakeHub(new Map([
    ['test/tiny-GGUF', {
      commit: 'd'.repeat(40),
      files: new Map<string, HubFile>([
        ['tiny-Q8_0.gguf', { bytes: readFileSync(q8Path) }],
        ['tiny-Q4_K_M.gguf', { bytes: q4 }],
        ['tiny-bad-Q8_0.gguf', { bytes: readFileSync(badPath) }],
        ['split/tiny-Q5_K_M-00001-of-00002.gguf', { bytes: shards[0]! }],
        ['split/tiny-Q5_K_M-00002-of-00002.gguf', { bytes: shards[1]! }],
      ]),
    }],
    ['test/gated-GGUF', { commit: 'f'.repeat(40), files: new Map([['gated-Q8_0.gguf', { bytes: junk(50_000, 9) }]]) }],
    ['test/pick-GGUF', { commit: 'e'.repeat(40), files: new Map(pickFiles.map((p, i) => [p, { bytes: junk(100 + i, i) }])) }],
  ])).start();
  hub.cors = true;
  const TOKEN = 'hf_' + 'y'.repeat(34);
  hub.gated.set('test/gated-GGUF', TOKEN);
  const hubEnv = { HF_ENDPOINT: hub.endpoint };

  const built = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-browser.mjs')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`scripts/build-browser.mjs: ${built.stderr}`);
  writeFileSync(join(tmp, 'index.html'), '<!doctype html><meta charset="utf-8"><title>hub</title>' +
    '<script type="importmap">{ "imports": { "run-gguf": "/dist/browser/run-gguf.js" } }</script><body></body>');
  const server: StaticServer = await serveStatic({ '/': tmp, '/dist/browser': join(REPO_ROOT, 'dist', 'browser') }, { isolated: true });
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const context: BrowserContext = await browser.newContext();
  const page: Page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.origin}/index.html`);

  /** GETs of model bytes: the hub's resolve URLs and the CDN (not the listing, not preflights). */
  const modelGets = (from = 0) => hub.log.slice(from).filter((r) => r.method === 'GET' && (r.server === 'cdn' || r.path.includes('/resolve/')));

  /** Loads `name` in the page; the download events, the model's name, or the error's class and message. */
  const load = (name: string, options: Record<string, unknown> = {}) => page.evaluate(async ({ name, options }) => {
    const api = await import('run-gguf' as string) as Api;
    const events: { downloadedBytes: number; totalBytes: number; file: string }[] = [];
    try {
      const model = await api.loadModel(name, { ...options, threads: 1, onDownload: (p) => events.push(p) });
      const info = model.info;
      await model.dispose();
      return { ok: true as const, events, architecture: info.architecture, layers: info.layerCount };
    } catch (e) {
      return { ok: false as const, events, error: (e as Error).name, message: (e as Error).message, isDownloadError: e instanceof api.DownloadError };
    }
  }, { name, options: { hubEnv, ...options } });

  const cached = (storage = 'auto') => page.evaluate(async ({ hubEnv, storage }) => {
    const api = await import('run-gguf' as string) as Api;
    return api.cachedModels({ hubEnv, storage: storage as 'auto' });
  }, { hubEnv, storage });

  test('the first load downloads into OPFS with progress; a reload loads from there without a model request', async () => {
    const before = hub.log.length;
    const r = await load('hf:test/tiny-GGUF:Q8_0');
    assert.ok(r.ok, JSON.stringify(r));
    assert.is(r.ok && r.layers, shape.n_layer);
    const size = readFileSync(q8Path).length;
    assert.ok(r.events.length >= 2, `progress events: ${r.events.length}`);
    const last = r.events[r.events.length - 1]!;
    assert.equal([last.downloadedBytes, last.totalBytes, last.file], [size, size, 'tiny-Q8_0.gguf']);
    assert.is(modelGets(before).filter((g) => g.server === 'cdn').length, 1, 'one download of the file');
    const list = await cached();
    const entry = list.find((m) => m.name === 'hf:test/tiny-GGUF/tiny-Q8_0.gguf');
    assert.ok(entry, JSON.stringify(list));
    assert.equal([entry!.size, entry!.partial, entry!.files], [size, false, ['hf/test/tiny-GGUF/tiny-Q8_0.gguf']]);
    // it is in the Origin Private File System itself
    const inOpfs = await page.evaluate(async () => {
      let d = await navigator.storage.getDirectory();
      for (const p of ['run-gguf', 'hf', 'test', 'tiny-GGUF']) d = await d.getDirectoryHandle(p);
      return (await (await d.getFileHandle('tiny-Q8_0.gguf')).getFile()).size;
    });
    assert.is(inOpfs, size);

    await page.reload();
    const again = hub.log.length;
    const r2 = await load('hf:test/tiny-GGUF:Q8_0');
    assert.ok(r2.ok, JSON.stringify(r2));
    assert.equal(modelGets(again), [], 'no model bytes requested after the reload');
    // offline: not even the listing
    const off = hub.log.length;
    const r3 = await load('hf:test/tiny-GGUF:Q8_0', { hubEnv: { ...hubEnv, HF_HUB_OFFLINE: '1' } });
    assert.ok(r3.ok, JSON.stringify(r3));
    assert.equal(hub.log.slice(off), [], 'HF_HUB_OFFLINE: no request at all');
  });

  test('an interrupted download resumes with a Range request after a reload', async () => {
    // the body trickles in (16 KiB pieces); the page gives up past `cut` bytes, as a closed tab would
    const cut = 400_000;
    hub.faults.slow.set('tiny-Q4_K_M.gguf', 2);
    const before = hub.log.length;
    const failed = await page.evaluate(async ({ hubEnv, cut }) => {
      const api = await import('run-gguf' as string) as Api;
      const stop = new AbortController();
      const onProgress = (p: { downloadedBytes: number }) => void (p.downloadedBytes >= cut && stop.abort(new Error('interrupted')));
      return api.pullModel('hf:test/tiny-GGUF:Q4_K_M', { hubEnv, signal: stop.signal, onProgress }).then(() => 'pulled', (e: Error) => e.message);
    }, { hubEnv, cut });
    hub.faults.slow.clear();
    assert.is(failed, 'interrupted');
    const partial = (await cached()).find((m) => m.name === 'hf:test/tiny-GGUF/tiny-Q4_K_M.gguf');
    assert.ok(partial?.partial, 'a partial download is listed');
    assert.ok(partial!.size >= cut && partial!.size < q4.length, `kept ${partial!.size} bytes`);
    const kept = partial!.size;

    await page.reload();
    const resumed = hub.log.length;
    const r = await load('hf:test/tiny-GGUF:Q4_K_M');
    assert.ok(r.ok, JSON.stringify(r));
    const gets = modelGets(resumed).filter((g) => g.server === 'cdn');
    assert.is(gets.length, 1, JSON.stringify(gets));
    assert.is(gets[0]!.range, `bytes=${kept}-`, 'resumed where the partial ends');
    assert.is(r.ok && r.events[0]!.downloadedBytes, kept, 'progress starts at what was kept');
    const done = (await cached()).find((m) => m.name === 'hf:test/tiny-GGUF/tiny-Q4_K_M.gguf');
    assert.equal([done!.partial, done!.size], [false, q4.length]);
    assert.ok(modelGets(before).length >= 2);
  });

  test('a corrupted body is refused with DownloadError and not kept; a damaged stored file is fetched again', async () => {
    hub.faults.corrupt.add('tiny-bad-Q8_0.gguf');
    const bad = await load('hf:test/tiny-GGUF/tiny-bad-Q8_0.gguf');
    assert.not.ok(bad.ok);
    assert.ok(!bad.ok && bad.isDownloadError, JSON.stringify(bad));
    assert.match(!bad.ok ? bad.message : '', /checksum mismatch/);
    assert.not.ok((await cached()).some((m) => m.name.includes('tiny-bad')), 'nothing of it kept');
    hub.faults.corrupt.clear();

    // the stored Q8_0 file damaged in place and its checksum note gone: hashed, found wrong, downloaded again
    await page.evaluate(async () => {
      let d = await navigator.storage.getDirectory();
      for (const p of ['run-gguf', 'hf', 'test', 'tiny-GGUF']) d = await d.getDirectoryHandle(p);
      const w = await (await d.getFileHandle('tiny-Q8_0.gguf')).createWritable({ keepExistingData: true });
      await w.write({ type: 'write', position: 1000, data: new Uint8Array([1, 2, 3]) });
      await w.close();
      await d.removeEntry('tiny-Q8_0.gguf.etag');
    });
    const before = hub.log.length;
    const r = await load('hf:test/tiny-GGUF:Q8_0');
    assert.ok(r.ok, JSON.stringify(r));
    assert.is(modelGets(before).filter((g) => g.server === 'cdn').length, 1, 'fetched again');
  });

  test('the page picks the files Node\'s picker picks from the same listing', async () => {
    const listing = await listRepoFiles(hubSettings(hubEnv), 'test/pick-GGUF');
    const tags = [undefined, 'Q4_K_M', 'q4_k_s', 'UD-Q4_K_XL', 'Q8_0', 'Q6_K', 'IQ4_XS', 'Q2_K'];
    const node = tags.map((tag) => {
      try {
        return selectFiles(listing.files, 'test/pick-GGUF', { tag }).map((f) => `hf/test/pick-GGUF/${f.path}`);
      } catch (e) {
        return (e as Error).name;
      }
    });
    const inPage = await page.evaluate(async ({ hubEnv, tags }) => {
      const api = await import('run-gguf' as string) as Api;
      const out: (string[] | string)[] = [];
      for (const tag of tags) {
        out.push(await api.pullModel(`hf:test/pick-GGUF${tag ? `:${tag}` : ''}`, { hubEnv }).then((p) => p.files, (e: Error) => e.name));
      }
      return out;
    }, { hubEnv, tags: tags.map((t) => t ?? '') });
    assert.equal(inPage, node);
    // the traps were real: the default is the split Q4_K_M, both shards
    assert.equal(node[0], ['hf/test/pick-GGUF/model-Q4_K_M-00001-of-00002.gguf', 'hf/test/pick-GGUF/model-Q4_K_M-00002-of-00002.gguf']);
    assert.is(node[7], 'DownloadError');
  });

  test('a split model loads from the Cache API store, and again after a reload without a model request', async () => {
    const before = hub.log.length;
    const r = await load('hf:test/tiny-GGUF:Q5_K_M', { storage: 'cache' });
    assert.ok(r.ok, JSON.stringify(r));
    assert.is(modelGets(before).filter((g) => g.server === 'cdn').length, 2, 'both shards downloaded');
    const list = await cached('cache');
    assert.equal(list.map((m) => [m.name, m.files.length]), [['hf:test/tiny-GGUF/split/tiny-Q5_K_M-00001-of-00002.gguf', 2]]);
    await page.reload();
    const again = hub.log.length;
    const r2 = await load('hf:test/tiny-GGUF:Q5_K_M', { storage: 'cache' });
    assert.ok(r2.ok, JSON.stringify(r2));
    assert.equal(modelGets(again), []);
    // where OPFS is missing, 'auto' is the Cache API: the same model is found there
    const fallback = await page.evaluate(async ({ hubEnv }) => {
      const api = await import('run-gguf' as string) as Api;
      const proto = StorageManager.prototype as { getDirectory?: unknown };
      const saved = proto.getDirectory;
      delete proto.getDirectory;
      try {
        const p = await api.pullModel('hf:test/tiny-GGUF:Q5_K_M', { hubEnv });
        const bogus = await api.cachedModels({ storage: 'disk' as 'auto' }).then(() => 'listed', (e: Error) => e.name);
        return { downloaded: p.downloadedBytes, files: p.files.length, bogus };
      } finally {
        proto.getDirectory = saved;
      }
    }, { hubEnv });
    assert.equal(fallback, { downloaded: 0, files: 2, bogus: 'RangeError' });
    assert.equal(modelGets(again), []);
  });

  test('HF_TOKEN goes to the hub only, not to the CDN its redirect leads to; without it a gated repo is a DownloadError naming HF_TOKEN', async () => {
    const pull = (env: Record<string, string>) => page.evaluate(async ({ env }) => {
      const api = await import('run-gguf' as string) as Api;
      return api.pullModel('hf:test/gated-GGUF', { hubEnv: env }).then((p) => p.files.join(), (e: Error) => `${e.name}: ${e.message}`);
    }, { env });
    assert.match(await pull(hubEnv), /^DownloadError: .*HTTP 401.*HF_TOKEN/);
    const before = hub.log.length;
    assert.is(await pull({ ...hubEnv, HF_TOKEN: TOKEN }), 'hf/test/gated-GGUF/gated-Q8_0.gguf');
    const seen = hub.log.slice(before).filter((r) => r.method === 'GET');
    assert.ok(seen.some((r) => r.server === 'hub' && r.authorization === `Bearer ${TOKEN}`), 'the hub got the token');
    const cdn = seen.filter((r) => r.server === 'cdn');
    assert.is(cdn.length, 1);
    assert.is(cdn[0]!.authorization, undefined, 'the CDN did not');
  });

  test('cachedModels and deleteCachedModel list and delete', async () => {
    const r = await page.evaluate(async ({ hubEnv }) => {
      const api = await import('run-gguf' as string) as Api;
      const names = async () => (await api.cachedModels({ hubEnv })).map((m) => m.name);
      const before = await names();
      const deleted = await api.deleteCachedModel('hf:test/tiny-GGUF:Q8_0', { hubEnv });
      const byListedName = await api.deleteCachedModel('hf:test/pick-GGUF/model-Q8_0.gguf', { hubEnv });
      const none = await api.deleteCachedModel('hf:test/tiny-GGUF:Q3_K_S', { hubEnv });
      const splitDeleted = await api.deleteCachedModel('hf:test/tiny-GGUF:Q5_K_M', { hubEnv, storage: 'cache' });
      return { before, deleted, byListedName, none, splitDeleted, after: await names(), cacheAfter: await api.cachedModels({ hubEnv, storage: 'cache' }) };
    }, { hubEnv });
    assert.ok(r.before.includes('hf:test/tiny-GGUF/tiny-Q8_0.gguf'));
    assert.equal(r.deleted, ['hf/test/tiny-GGUF/tiny-Q8_0.gguf', 'hf/test/tiny-GGUF/tiny-Q8_0.gguf.etag']);
    assert.equal(r.byListedName, ['hf/test/pick-GGUF/model-Q8_0.gguf', 'hf/test/pick-GGUF/model-Q8_0.gguf.etag']);
    assert.equal(r.none, []);
    assert.is(r.splitDeleted.filter((k) => k.endsWith('.gguf')).length, 2);
    assert.equal(r.after, r.before.filter((n) => n !== 'hf:test/tiny-GGUF/tiny-Q8_0.gguf' && n !== 'hf:test/pick-GGUF/model-Q8_0.gguf'));
    assert.equal(r.cacheAfter, []);
    assert.equal(errors, []);
  });

  test('cleanup', async () => {
    await context.close();
    await browser.close();
    await server.close();
    await hub.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test.run();
}
