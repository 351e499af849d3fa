// examples/electron type-checks (tsc on its own tsconfig: plain JavaScript
// with JSDoc types, Electron's API from a local declaration shim since the
// Electron binary cannot be downloaded here), and its renderer's CSP admits
// its import map. test/browser-chat runs the renderer itself in chromium.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/shared.js';

const example = join(REPO_ROOT, 'examples', 'electron');

test('examples/electron type-checks against the package\'s types', () => {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(example, 'tsconfig.json'), '--listFilesOnly'], { encoding: 'utf8' });
  const files = r.stdout.split('\n').filter((f) => f.includes('/examples/electron/') || f.includes('/dist/runtime/api/'));
  for (const f of ['main.js', 'preload.cjs', 'chat-main.js', 'renderer/app.js']) {
    assert.ok(files.some((p) => p.endsWith(`/examples/electron/${f}`)), `${f} is checked`);
  }
  assert.ok(files.some((p) => p.endsWith('/dist/runtime/api/index.d.ts')), 'run-gguf resolves to the package\'s declarations');
  const check = spawnSync(process.execPath, [tsc, '-p', join(example, 'tsconfig.json')], { encoding: 'utf8' });
  assert.is(check.status, 0, `tsc -p examples/electron:\n${check.stdout}${check.stderr}`);
});

test('the renderer\'s Content-Security-Policy hash matches its import map', () => {
  const html = readFileSync(join(example, 'renderer', 'index.html'), 'utf8');
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(map, 'index.html has an import map');
  const hash = createHash('sha256').update(map![1]!).digest('base64');
  assert.ok(html.includes(`'sha256-${hash}'`), `the CSP must allow the import map: script-src 'sha256-${hash}'`);
  assert.equal(JSON.parse(map![1]!).imports, { 'run-gguf': '/node_modules/run-gguf/dist/browser/run-gguf.js' });
});

test.run();
