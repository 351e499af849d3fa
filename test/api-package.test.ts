// The package as npm would publish it: its entries resolve by name (the
// worker API at ".", the in-thread engine at "./core", the browser build),
// it carries the browser build and the kernels, and it stays small
// (node-llama-cpp installs ~760 MB of prebuilt binaries on Linux x64). Source
// maps stay out of it (package.json "files"): they point at TypeScript
// sources the package does not carry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/shared.js';

const LIMIT = 5 * 1024 * 1024;

test('"run-gguf" is the worker API and "run-gguf/core" the in-thread engine', async () => {
  const api = await import('run-gguf' as string) as Record<string, unknown>;
  const core = await import('run-gguf/core' as string) as Record<string, unknown>;
  assert.type(api.loadModel, 'function');
  assert.is(api.Context, undefined, 'the main entry does not expose the in-thread Context');
  assert.type(core.loadModel, 'function');
  assert.type(core.Context, 'function');
  assert.type(core.ChatSession, 'function');
  assert.is.not(api.loadModel, core.loadModel);
});

test('npm pack: at most 5 MB unpacked, with the browser build, kernels and declarations', () => {
  if (!existsSync(join(REPO_ROOT, 'dist', 'browser', 'run-gguf.js'))) {
    const built = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-browser.mjs')], { encoding: 'utf8' });
    assert.is(built.status, 0, built.stderr);
  }
  const npm = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.is(npm.status, 0, npm.stderr);
  const [info] = JSON.parse(npm.stdout) as { size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }[];
  const files = new Set(info!.files.map((f) => f.path));
  for (const f of [
    'dist/browser/run-gguf.js', 'dist/browser/host-worker.js', 'dist/browser/pool-worker.js', 'dist/browser/kernels.wasm',
    'dist/runtime/api/index.js', 'dist/runtime/api/index.d.ts', 'dist/runtime/api/host-worker.js', 'dist/runtime/index.d.ts',
    'dist/runtime/threads/worker.js', 'wasm/kernels.wasm', 'dist/runtime/cli.js',
    'wasm/kernels-relaxed-dot.wasm', 'dist/browser/kernels-relaxed-dot.wasm',
  ]) assert.ok(files.has(f), `the package has ${f}`);
  assert.not.ok([...files].some((f) => f.startsWith('dist/test/') || f.startsWith('test/') || f.startsWith('examples/')), 'no tests or examples');
  assert.not.ok([...files].some((f) => f.endsWith('.map')), 'no source maps');
  const mb = (n: number) => (n / 1024 ** 2).toFixed(2);
  console.log(`  npm pack: ${info!.entryCount} files, ${mb(info!.size)} MB packed, ${mb(info!.unpackedSize)} MB unpacked`);
  assert.ok(info!.unpackedSize <= LIMIT, `${mb(info!.unpackedSize)} MB unpacked`);
});

test.run();
