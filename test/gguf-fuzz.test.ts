// The GGUF fuzzer in the suite: a fixed seed and a fixed count of cases, so a
// busy machine makes it slower, never weaker (the long
// campaign is `npm run fuzz`). Mutations at every structural level of small
// synthetic and ../shared models go through parse -> load -> a short
// evaluation in a worker process, each under 2 s; every case must run or end
// in a typed error, with no hang, crash or runaway memory. A second test
// proves the campaign sees each kind of failure (injected into its worker).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCampaign } from './fuzz/campaign.js';

test('fuzz (seed 20261206, 300 cases): every case runs or ends in a typed error; no hang, crash or unbounded memory', async () => {
  const report = await runCampaign({ cases: 300, seed: 20261206, timeoutMs: 2000 });
  const { outcomes } = report;
  console.log(`  ${report.cases} cases in ${(report.elapsedMs / 1000).toFixed(0)} s: ${JSON.stringify(outcomes)}; slowest ${report.slowestMs.toFixed(0)} ms; peak ${(report.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
  console.log(`  typed errors: ${JSON.stringify(report.errors)}`);
  const shown = report.findings.slice(0, 10).map((f) => `case ${f.case} ${f.corpus} ${f.level}: ${f.what} -> ${f.outcome} ${f.error ?? ''} ${f.message ?? ''} (npm run fuzz -- --seed 20261206 --case ${f.case})`);
  assert.is(report.findings.length, 0, `findings:\n${shown.join('\n')}`);
  assert.is(report.cases, 300, 'every case ran');
  // the mutations reach every level, and past the parser into the loader and the evaluation
  for (const level of ['header', 'kv', 'array', 'tensor-info', 'alignment', 'data', 'truncate']) {
    assert.ok(report.levels[level], `no case mutated the ${level}: ${JSON.stringify(report.levels)}`);
  }
  assert.ok(outcomes.ok > 0, 'some mutated files run');
  assert.ok(Object.keys(report.errors).some((k) => k.endsWith('@parse')), 'parse errors');
  assert.ok(Object.keys(report.errors).some((k) => k.endsWith('@load')), 'load errors');
});

test('the campaign sees a hang, a crash, runaway memory and an untyped error, and goes on after each', async () => {
  const report = await runCampaign({
    cases: 9, seed: 1, timeoutMs: 1500, memoryCapBytes: 400 * 2 ** 20,
    env: { RUN_GGUF_FUZZ_INJECT: 'hang@1,crash@3,memory@5,untyped@7' },
  });
  const byCase = new Map(report.findings.map((f) => [f.case, f.outcome]));
  assert.equal([1, 3, 5, 7].map((i) => byCase.get(i)), ['hang', 'crash', 'memory', 'untyped'], JSON.stringify(report.findings));
  assert.is(report.cases, 9, 'every case ran');
});

test.run();
