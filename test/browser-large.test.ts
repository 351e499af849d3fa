// A model past 4 GiB in Chromium's workers: a Llama-3.1-8B-shaped Q4_K_M
// file (4.9 GB) spread over two WebAssembly memories loads from a URL and
// generates. The file is sparse (a header, then holes: zero weights), so it
// takes no disk and no time to write; zeros are valid blocks of every type.
import { mkdtempSync, openSync, closeSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chromium } from 'playwright-core';
import { GGMLType } from '../formats/ggml-types.js';
import { planGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { quantMix } from '../formats/synthetic/mix.js';
import { browserSkipReason, CHROMIUM, serveStatic } from './helpers/browser.js';
import { REPO_ROOT } from './helpers/shared.js';

/** The model (4.6 GiB) in the page, the file in Node's page cache, Chromium and the test beside them. */
const NEEDS = 14 * 1024 ** 3;

const skip = browserSkipReason() ?? (totalmem() < NEEDS ? `this machine has ${(totalmem() / 1024 ** 3).toFixed(1)} GiB of memory; the 4.9 GB model needs about ${NEEDS / 1024 ** 3}` : undefined);
if (skip) {
  test('a model past 4 GiB in chromium', () => console.log(`  skip: ${skip}`));
} else {
  test('a Llama-3.1-8B-shaped Q4_K_M file (4.9 GB) loads in chromium over two WebAssembly memories and generates', async () => {
    const built = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-browser.mjs')], { encoding: 'utf8' });
    assert.is(built.status, 0, `scripts/build-browser.mjs: ${built.stderr}`);
    const dir = mkdtempSync(join(tmpdir(), 'run-gguf-large-'));
    const shape = LLAMA_SHAPES['llama-3.1-8b']!;
    const mix = quantMix('Q4_K_M', shape);
    const spec = llamaModelSpec(shape, mix.base, { matrixType: mix.matrixType, fileType: mix.fileType });
    const layout = planGGUF({ kv: spec.kv, tensors: spec.tensors!.map((t) => ({ name: t.name, type: t.type, shape: t.shape })) });
    const path = join(dir, 'llama-8b.gguf');
    const fd = openSync(path, 'w');
    writeSync(fd, layout.header);
    closeSync(fd);
    truncateSync(path, layout.fileSize);
    const server = await serveStatic({ '/': join(REPO_ROOT, 'examples', 'electron'), '/node_modules/run-gguf/dist/browser': join(REPO_ROOT, 'dist', 'browser'), '/models': dir }, { isolated: true });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${server.origin}/renderer/index.html`);
      const t0 = performance.now();
      const r = await page.evaluate(async () => {
        const { loadModel } = await import('run-gguf' as string) as typeof import('../runtime/api/index.js');
        const t = performance.now();
        // page.evaluate keeps only an error's class: the message goes into it
        const said = (step: string) => (e: Error) => { throw new Error(`${step}: ${e.name}: ${e.message} ${e.stack ?? ""}`); };
        const model = await loadModel('/models/llama-8b.gguf', { contextSize: 256, threads: 2 }).catch(said('loadModel'));
        const loadMs = performance.now() - t;
        const chat = await model.createChat({ chatTemplate: 'chatml' }).catch(said('createChat'));
        const reply = await chat.send('Hi', { maxTokens: 2, temperature: 0 }).result.catch(said('send'));
        const out = { memories: model.info.memories, weightBytes: model.info.weightBytes, loadMs, generated: reply.usage.generatedTokens, stop: reply.stop };
        await model.dispose();
        return out;
      });
      console.log(`  ${(r.weightBytes / 1024 ** 3).toFixed(2)} GiB of weights over ${r.memories} memories, loaded in ${(r.loadMs / 1000).toFixed(1)} s; ` +
        `${r.generated} tokens generated (${((performance.now() - t0) / 1000).toFixed(1)} s in all)`);
      assert.ok(r.weightBytes > 4 * 1024 ** 3, 'more than one memory holds');
      assert.ok(r.memories >= 2, `${r.memories} memories`);
      assert.ok(r.generated + (r.stop === 'eog' ? 1 : 0) >= 1, `generated: ${JSON.stringify(r)}`);
      assert.equal(errors, []);
    } finally {
      await browser.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
