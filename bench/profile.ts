// Where a forward pass spends its time, kernel by kernel, on one thread.
//
//   node dist/bench/profile.js <model.gguf> [-p 128] [--synthetic SHAPE:TYPE] [--cpu]
//
// Builds the same plans the context runs (a -p token prefill and a one-token
// decode after it), then runs every phase alone, in order, several times and
// sums the time per kernel name. Phase by phase timing adds a little call
// overhead per phase; the shares, not the absolute times, are the point.
// --cpu times each phase in process CPU time (one thread runs, so that is its
// work): on a shared machine wall time also counts other jobs' turns.
import { parseArgs } from 'node:util';
import { ensureSyntheticModel, parseSyntheticSpec } from '../formats/synthetic/cache.js';
import { bindPlan } from '../runtime/graph/exec.js';
import { Context } from '../runtime/context.js';
import { loadModel } from '../runtime/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'n-prompt': { type: 'string', short: 'p', default: '128' },
    synthetic: { type: 'string' },
    reps: { type: 'string', short: 'r', default: '3' },
    cpu: { type: 'boolean', default: false },
  },
});
const path = values.synthetic ? (await ensureSyntheticModel(parseSyntheticSpec(values.synthetic))).path : positionals[0];
if (!path) throw new Error('usage: profile <model.gguf> [-p N] [--synthetic SHAPE:TYPE]');
const nPrompt = Number(values['n-prompt']);
const reps = Number(values.reps);
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const now = values.cpu ? cpuMs : () => performance.now();

const model = await loadModel(path);
const ctx = new Context(model, { threads: 1, contextSize: nPrompt + 16 });
const tokens = Array.from({ length: nPrompt }, (_, i) => 1 + ((i * 7919) % (model.hparams.n_vocab - 1)));

// Each plan is profiled right after the context ran it, so its inputs (ids,
// positions, kv rows) are the ones that run wrote; running it again rewrites
// the same cells.
function profile(label: string, nTok: number): void {
  const { plan } = ctx.plannedGraph(nTok, 1);
  const enc = plan.encoded;
  const bound = bindPlan(enc, model.memories);
  const byFn = new Map<string, number>();
  let total = 0;
  for (let rep = 0; rep < reps; rep++) {
    enc.phases.forEach((p, i) => {
      const b = bound[i]!;
      b.argv[b.argv.length - 2] = 0;
      b.argv[b.argv.length - 1] = 1;
      const t0 = now();
      b.f.apply(null, b.argv);
      const dt = now() - t0;
      if (rep > 0) {
        const name = enc.fns[p.fn]!;
        byFn.set(name, (byFn.get(name) ?? 0) + dt);
        total += dt;
      }
    });
  }
  const n = reps - 1;
  // barriers between threads a run of this plan has (graph/barriers.ts leaves out the needless ones)
  const barriers = enc.phases.filter((p, i) => p.sync !== false && i < enc.phases.length - 1).length;
  let matmuls = 0;
  for (const [name, ms] of byFn) if (name.startsWith('mat_rows')) matmuls += ms;
  console.log(`\n${label}: ${(total / n).toFixed(1)} ms per run (${(total / n / nTok).toFixed(2)} ms/token), one thread${values.cpu ? ', CPU time' : ''}`);
  console.log(`${enc.phases.length} phases, ${barriers} barriers on more threads; besides the matmuls ${((total - matmuls) / n).toFixed(2)} ms (${((100 * (total - matmuls)) / total).toFixed(1)}%)`);
  console.log('| kernel | ms/run | share |');
  console.log('|---|---:|---:|');
  for (const [name, ms] of [...byFn].sort((a, b) => b[1] - a[1])) {
    if (ms / total < 0.002) continue;
    console.log(`| ${name} | ${(ms / n).toFixed(2)} | ${((100 * ms) / total).toFixed(1)}% |`);
  }
}

ctx.evaluate(tokens);
profile(`prefill of ${nPrompt} tokens`, nPrompt);
ctx.evaluate([1]);
profile('decode of 1 token', 1);
ctx.dispose();
model.dispose();
