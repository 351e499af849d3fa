// Runs every compiled test file (dist/test/**/*.test.js) with uvu and ends with
// the one line CI reads: "N passed, N failed" (", N skipped" when any).
// Usage: node test/run.mjs [pattern]   (pattern filters file names)
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const uvuBin = join(root, 'node_modules', 'uvu', 'bin.js');
const filter = process.argv[2];
// uvu takes one regex over file names: keep only compiled test files (not .d.ts or .map)
const pattern = filter ? `^(?=.*(?:${filter})).*\\.test\\.js$` : '\\.test\\.js$';

const res = spawnSync(process.execPath, [uvuBin, join(root, 'dist', 'test'), pattern], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
  maxBuffer: 1 << 28,
});
process.stdout.write(res.stdout ?? '');

const plain = (res.stdout ?? '').replace(/\x1b\[[0-9;]*m/g, '');
const num = (label) => {
  const m = plain.match(new RegExp(`${label}:\\s+(\\d+)`));
  return m ? Number(m[1]) : null;
};
const total = num('Total');
const passed = num('Passed');
const skipped = num('Skipped') ?? 0;
if (total === null || passed === null) {
  console.log(`uvu did not report totals (exit ${res.status}, signal ${res.signal})`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const failed = total - passed - skipped;
const ok = res.status === 0 && failed === 0;
console.log(`${passed} passed, ${ok ? failed : Math.max(failed, 1)} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(ok ? 0 : 1);
