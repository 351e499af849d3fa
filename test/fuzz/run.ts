// npm run fuzz -- [--cases N] [--from I] [--seed S] [--timeout MS] [--budget SECONDS] [--json FILE]
// npm run fuzz -- --seed S --case I      (one case, in this process, in detail)
//
// The long GGUF fuzz campaign (default 100,000 cases; run it with nice). It
// prints a progress line every 1,000 cases and, at the end or on Ctrl+C,
// the count of each outcome, the typed errors by class and stage, the
// outcomes per mutated level, and each finding with the command that
// reproduces it.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildCorpus, runCase } from './case.js';
import { caseSeed, runCampaign, type CampaignReport, type CaseRecord } from './campaign.js';
import { mutate } from './mutate.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string' }, seed: { type: 'string' }, timeout: { type: 'string' }, budget: { type: 'string' },
    json: { type: 'string' }, case: { type: 'string' }, from: { type: 'string' },
  },
});
const seed = Number(values.seed ?? 1);

if (values.case !== undefined) {
  const i = Number(values.case);
  const corpus = await buildCorpus();
  const src = corpus[i % corpus.length]!;
  const m = mutate(src, caseSeed(seed, i));
  console.log(`case ${i} of seed ${seed}: ${src.name}, ${m.level}: ${m.what}`);
  console.log(await runCase(m.bytes, src.name));
  process.exit(0);
}

const cases = Number(values.cases ?? 100_000);
const outcomesLine = (r: Pick<CampaignReport, 'outcomes'>) => Object.entries(r.outcomes).map(([k, v]) => `${k} ${v}`).join(', ');
const counts = { ok: 0, typed: 0, untyped: 0, hang: 0, crash: 0, memory: 0 };
const findings: CaseRecord[] = [];
const t0 = performance.now();
let stop = false;
process.on('SIGINT', () => {
  stop = true;
});

function summary(r: CampaignReport): void {
  console.log(`\n${r.cases} cases (seed ${r.seed}) in ${(r.elapsedMs / 1000).toFixed(0)} s over ${r.corpus.length} corpus files: ${r.corpus.join(', ')}`);
  console.log(`outcomes: ${outcomesLine(r)}`);
  console.log(`typed errors by class@stage: ${JSON.stringify(r.errors)}`);
  console.log('outcomes per mutated level:');
  for (const [level, o] of Object.entries(r.levels)) console.log(`  ${level.padEnd(12)} ${JSON.stringify(o)}`);
  console.log(`slowest case ${r.slowestMs.toFixed(0)} ms; ${r.retried} case(s) past the time limit once ran on a second try; peak worker memory ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
  console.log(`findings: ${r.findings.length}`);
  for (const f of r.findings.slice(0, 50)) {
    console.log(`  case ${f.case} ${f.corpus} ${f.level}: ${f.what} -> ${f.outcome}${f.error ? ` ${f.error}` : ''}${f.message ? `: ${f.message}` : ''}`);
    console.log(`    npm run fuzz -- --seed ${seed} --case ${f.case}`);
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(r, null, 1));
}

const report = await runCampaign({
  cases,
  first: Number(values.from ?? 0),
  seed,
  timeoutMs: values.timeout === undefined ? undefined : Number(values.timeout),
  budgetMs: values.budget === undefined ? undefined : Number(values.budget) * 1000,
  shouldStop: () => stop,
  onCase: (i, c) => {
    counts[c.outcome]++;
    if (c.outcome !== 'ok' && c.outcome !== 'typed') {
      findings.push(c);
      console.log(`finding: case ${i} ${c.corpus} ${c.level}: ${c.what} -> ${c.outcome} ${c.error ?? ''} ${c.message ?? ''}`);
    }
    const done = Object.values(counts).reduce((x, y) => x + y, 0);
    if (done % 1000 === 0) console.log(`${done} cases (up to case ${i}), ${((performance.now() - t0) / 1000).toFixed(0)} s: ${outcomesLine({ outcomes: counts })}`);
  },
});
summary(report);
