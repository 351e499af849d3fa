// The browser build (dist/browser, built here by scripts/build-browser.mjs)
// in Debian's chromium, headless, driven by playwright-core. The page is the
// Electron example's renderer (examples/electron/renderer), served on
// 127.0.0.1 with the cross-origin isolation headers and then without them:
// it loads a generated model from a URL with progress, streams a reply whose
// tokens equal the Node run's for the same seed, and shows its thread count
// (every core when isolated, one worker and a notice saying why otherwise).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadModel } from '../runtime/api/index.js';
import { Context, loadModel as loadCore } from '../runtime/index.js';
import { browserSkipReason, CHROMIUM, serveStatic } from './helpers/browser.js';
import { writeTinyModel, type TinyModel } from './helpers/browser-model.js';
import { REPO_ROOT } from './helpers/shared.js';

const SEED = 7;
const PROMPT = 'Hello there';
const MAX_TOKENS = 24;

interface NodeReference {
  text: string;
  tokens: number[];
  generated: number;
}

/** The same chat in Node through the worker API (which test/api-chat checks against the core). */
async function nodeReference(path: string): Promise<NodeReference> {
  const model = await loadModel(path, { threads: 1 });
  try {
    const chat = await model.createChat();
    const r = await chat.send(PROMPT, { seed: SEED, temperature: 0.8, maxTokens: MAX_TOKENS }).result;
    return { text: r.text, tokens: await chat.contextTokens(), generated: r.usage.generatedTokens };
  } finally {
    await model.dispose();
  }
}

/** Page errors and console errors (the favicon's 404 aside). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.location().url.includes('favicon')) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

async function waitForState(page: Page, states: string[], timeout = 60_000): Promise<string> {
  await page.waitForFunction((s) => s.includes(document.body.dataset.state ?? ''), states, { timeout });
  return page.evaluate(() => document.body.dataset.state ?? '');
}

/** A memory size holding about one layer of the tiny model, so loading spreads it over 3+ memories. */
async function oneLayerMemoryBytes(path: string): Promise<number> {
  const m = await loadCore(path);
  try {
    const hp = m.hparams;
    const layer0 = m.gguf.tensors.filter((t) => t.name.startsWith('blk.0.')).reduce((n, t) => n + t.nBytes + 64, 0);
    const kv = Context.kvBytes(hp, Math.min(4096, hp.n_ctx_train)) / hp.n_layer;
    return Math.ceil(((layer0 + kv) * 4) / 3) + 4096;
  } finally {
    m.dispose();
  }
}

async function runPage(browser: Browser, tiny: TinyModel, isolated: boolean, reference: NodeReference, memoryBytes: number): Promise<void> {
  const server = await serveStatic({
    '/': join(REPO_ROOT, 'examples', 'electron'),
    '/node_modules/run-gguf/dist/browser': join(REPO_ROOT, 'dist', 'browser'),
    '/models': tiny.dir,
  }, { isolated });
  const page = await browser.newPage();
  const errors = watchErrors(page);
  const label = isolated ? 'isolated' : 'not isolated';
  try {
    await page.goto(`${server.origin}/renderer/index.html`);
    const env = await page.evaluate(() => ({ coi: self.crossOriginIsolated, cores: navigator.hardwareConcurrency }));
    assert.is(env.coi, isolated, `${label}: crossOriginIsolated`);
    // record what the page shows while it works
    await page.evaluate(() => {
      const w = window as unknown as { seen: { progress: number[]; replyUpdates: number } };
      w.seen = { progress: [], replyUpdates: 0 };
      const progress = document.getElementById('progress') as HTMLProgressElement;
      const poll = () => {
        if (w.seen.progress.at(-1) !== progress.value) w.seen.progress.push(progress.value / progress.max);
        requestAnimationFrame(poll);
      };
      poll();
      new MutationObserver(() => w.seen.replyUpdates++).observe(document.getElementById('log')!, { childList: true, subtree: true, characterData: true });
    });

    // the renderer's own UI: load from a URL
    await page.fill('#source', '/models/tiny.gguf');
    await page.click('#load');
    const loaded = await waitForState(page, ['ready', 'error']);
    assert.is(loaded, 'ready', `${label}: loaded (${await page.textContent('#status')}; ${errors.join('; ')})`);
    const threads = Number(await page.textContent('#threads'));
    const notice = (await page.textContent('#notice')) ?? '';
    const progress = await page.evaluate(() => (window as unknown as { seen: { progress: number[] } }).seen.progress);
    assert.ok(progress.at(-1) === 1, `${label}: the progress bar ends full (${progress.join(', ')})`);

    await page.fill('#seed', String(SEED));
    await page.fill('#temperature', '0.8');
    await page.fill('#max-tokens', String(MAX_TOKENS));
    await page.fill('#prompt', PROMPT);
    await page.click('#send');
    assert.is(await waitForState(page, ['replying', 'ready', 'error']) !== 'error', true);
    assert.is(await waitForState(page, ['ready', 'error']), 'ready', `${label}: replied (${await page.textContent('#status')})`);
    const reply = await page.evaluate(() => Array.from(document.querySelectorAll('.assistant')).at(-1)?.textContent ?? null);
    const updates = await page.evaluate(() => (window as unknown as { seen: { replyUpdates: number } }).seen.replyUpdates);
    const usage = (await page.textContent('#usage')) ?? '';
    assert.is(reply, reference.text, `${label}: the reply's text equals the Node run's`);
    assert.ok(usage.includes(`${reference.generated} generated`), `${label}: ${usage}`);
    assert.ok(updates > 3, `${label}: the reply streamed (${updates} updates of the log)`);

    // the same through the API from page code: the exact token ids
    const api = await page.evaluate(async ({ seed, prompt, maxTokens }) => {
      const { loadModel } = await import('run-gguf' as string) as typeof import('../runtime/api/index.js');
      let events = 0;
      const model = await loadModel('/models/tiny.gguf', { onProgress: () => events++ });
      const chat = await model.createChat();
      const r = await chat.send(prompt, { seed, temperature: 0.8, maxTokens }).result;
      const tokens = await chat.contextTokens();
      const out = { tokens, text: r.text, events, threads: chat.threads, modelThreads: model.threads, notice: model.threadsNotice ?? null, simd: model.info.simd };
      await model.dispose();
      return out;
    }, { seed: SEED, prompt: PROMPT, maxTokens: MAX_TOKENS });
    assert.equal(api.tokens, reference.tokens, `${label}: the page's KV-cache ids equal the Node run's`);
    assert.is(api.text, reference.text);
    assert.ok(api.events >= 2, `${label}: ${api.events} progress events while loading from the URL`);

    if (isolated) {
      // the model spread over several WebAssembly memories in the page's workers: the same ids
      const spread = await page.evaluate(async ({ seed, prompt, maxTokens, memoryBytes }) => {
        const { loadModel } = await import('run-gguf' as string) as typeof import('../runtime/api/index.js');
        const model = await loadModel('/models/tiny.gguf', { memoryBytes });
        const chat = await model.createChat();
        await chat.send(prompt, { seed, temperature: 0.8, maxTokens }).result;
        const out = { tokens: await chat.contextTokens(), memories: model.info.memories };
        await model.dispose();
        return out;
      }, { seed: SEED, prompt: PROMPT, maxTokens: MAX_TOKENS, memoryBytes });
      assert.ok(spread.memories >= 3, `${label}: ${spread.memories} memories`);
      assert.equal(spread.tokens, reference.tokens, `${label}: spread over ${spread.memories} memories, the ids equal the Node run's`);
      console.log(`  ${label}: the model spread over ${spread.memories} memories of ${(memoryBytes / 1024).toFixed(0)} KiB gives the same ids`);
      assert.is(threads, env.cores, `${label}: one thread per core`);
      assert.is(notice, '');
      if (env.cores > 1) assert.ok(server.requested.includes('/node_modules/run-gguf/dist/browser/pool-worker.js'), 'pool workers started');
    } else {
      assert.is(threads, 1, `${label}: one worker`);
      assert.is(api.modelThreads, 1);
      if (env.cores > 1) assert.match(notice, /cross-origin isolated/, `${label}: the page says why`);
      assert.not.ok(server.requested.includes('/node_modules/run-gguf/dist/browser/pool-worker.js'), 'no pool worker without isolation');
    }
    assert.equal(errors, [], `${label}: no page errors`);
    console.log(`  ${label}: ${threads} thread(s) shown (${env.cores} cores), ${progress.length} progress steps, ` +
      `${updates} streamed updates, ${reference.tokens.length} ids equal Node's, kernels ${api.simd}${notice ? `; notice: "${notice.slice(0, 60)}…"` : ''}`);
  } finally {
    await page.close();
    await server.close();
  }
}

const skip = browserSkipReason();
if (skip) {
  test('browser build in chromium', () => console.log(`  skip: ${skip}`));
} else {
  test('the Electron renderer in chromium: a URL model with progress, a streamed reply equal to Node\'s, threads with and without isolation', async () => {
    const built = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-browser.mjs')], { encoding: 'utf8' });
    assert.is(built.status, 0, `scripts/build-browser.mjs: ${built.stderr}`);
    const tiny = await writeTinyModel();
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    try {
      const reference = await nodeReference(tiny.path);
      assert.ok(reference.generated > 0 && reference.tokens.length > 20);
      const memoryBytes = await oneLayerMemoryBytes(tiny.path);
      await runPage(browser, tiny, true, reference, memoryBytes);
      await runPage(browser, tiny, false, reference, memoryBytes);
    } finally {
      await browser.close();
      tiny.cleanup();
    }
  });
}

test.run();
