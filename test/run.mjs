// Runs every compiled test file (dist/test/**/*.test.js) with uvu and ends with
// the one line CI reads: "N passed, N failed" (", N skipped" when any).
// Usage: node test/run.mjs [pattern]   (pattern filters file names)
//
// The kernel tests run twice: with the relaxed-SIMD kernels (the default
// wherever the engine has them) and again with RUN_GGUF_SIMD=baseline, so
// both builds are checked against the formats/ reference.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const uvuBin = join(root, 'node_modules', 'uvu', 'bin.js');
const filter = process.argv[2];
// uvu takes one regex over file names: keep only compiled test files (not .d.ts or .map)
const pattern = filter ? `^(?=.*(?:${filter})).*\\.test\\.js$` : '\\.test\\.js$';

function run(pattern, env) {
  const res = spawnSync(process.execPath, [uvuBin, join(root, 'dist', 'test'), pattern], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
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
    return { passed: 0, failed: 1, skipped: 0 };
  }
  const failed = total - passed - skipped;
  // uvu prints each failure's " FAIL  suite  "name"" block inline, where a long
  // log's tail (all CI shows) may not reach it: keep the headline and the first
  // lines of its message for the summary at the end.
  const lines = plain.split('\n');
  let file = '';
  lines.forEach((line, i) => {
    if (/\.test\.js\s*$/.test(line)) file = line.trim();
    if (/^\s*FAIL\s/.test(line)) failures.push([`  ${file}:`, ...lines.slice(i, i + 4).map((l) => l.trimEnd())].join('\n'));
  });
  return { passed, failed: res.status === 0 && failed === 0 ? failed : Math.max(failed, 1), skipped };
}

const failures = [];
const runs = [run(pattern, {})];
const kernelTests = filter ? `^(?=.*(?:${filter}))(?=.*kernels-).*\\.test\\.js$` : 'kernels-.*\\.test\\.js$';
console.log('\n  the kernel tests again with the baseline SIMD build (RUN_GGUF_SIMD=baseline):');
runs.push(run(kernelTests, { RUN_GGUF_SIMD: 'baseline' }));
const sum = (k) => runs.reduce((s, r) => s + r[k], 0);
const [passed, failed, skipped] = [sum('passed'), sum('failed'), sum('skipped')];
if (failures.length) console.log(`\n  failed:\n${failures.join('\n\n')}\n`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
