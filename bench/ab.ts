// Two builds of run-gguf in one process, decoding in alternating rounds: on
// a shared machine the load changes by the second, and separate runs of the
// two builds (or even alternating processes) see different loads. Here each
// round runs a few tokens on A then on B (B first every other round), so a
// change in load hits both alike; the ratio of each round's medians is the
// measurement.
//
//   node dist/bench/ab.js <rootA> <rootB> [--synthetic tinyllama-1.1b:Q2_K] [-t 2] [-r 24] [-n 8]
//
// A root is a checkout with its build (dist/ and wasm/): e.g. a `git archive`
// of main built with tsc, and this worktree. Both load the same model file.
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from '../runtime/bench/format.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    synthetic: { type: 'string', default: 'tinyllama-1.1b:Q2_K' },
    threads: { type: 'string', short: 't', default: '2' },
    rounds: { type: 'string', short: 'r', default: '24' },
    tokens: { type: 'string', short: 'n', default: '8' },
  },
});
if (positionals.length !== 2) throw new Error('usage: ab <rootA> <rootB> [--synthetic SHAPE:TYPE] [-t N] [-r rounds] [-n tokens per round]');
const threads = Number(values.threads), rounds = Number(values.rounds), per = Number(values.tokens);

interface Side {
  root: string;
  ctx: { evaluate(tokens: number[]): Float32Array; dispose(): void };
  model: { dispose(): void };
  times: number[];
  next: number;
}

async function open(root: string): Promise<Side> {
  const url = (p: string) => pathToFileURL(resolve(root, 'dist', p)).href;
  const { ensureSyntheticModel, parseSyntheticSpec } = await import(url('formats/synthetic/cache.js'));
  const { loadModel } = await import(url('runtime/index.js'));
  const { path } = await ensureSyntheticModel(parseSyntheticSpec(values.synthetic!));
  const model = await loadModel(path);
  const ctx = model.createContext({ threads, contextSize: rounds * per + 16, adaptiveThreads: false });
  ctx.evaluate([1]);
  ctx.evaluate([2]);
  return { root, ctx, model, times: [], next: 3 };
}

const a = await open(positionals[0]!);
const b = await open(positionals[1]!);
const load0 = loadavg()[0]!;
const ratios: number[] = [];
for (let r = 0; r < rounds; r++) {
  const medians = new Map<Side, number>();
  for (const side of r % 2 ? [b, a] : [a, b]) {
    const ts: number[] = [];
    for (let k = 0; k < per; k++) {
      const t0 = performance.now();
      side.ctx.evaluate([side.next++]);
      ts.push(performance.now() - t0);
    }
    side.times.push(...ts);
    medians.set(side, median(ts));
  }
  ratios.push(medians.get(b)! / medians.get(a)!);
}
console.log(`${values.synthetic}, ${threads} threads, ${rounds} rounds of ${per} tokens; load average ${load0.toFixed(2)} -> ${loadavg()[0]!.toFixed(2)}`);
console.log(`A ${a.root}: median ${median(a.times).toFixed(2)} ms/token`);
console.log(`B ${b.root}: median ${median(b.times).toFixed(2)} ms/token`);
console.log(`B/A: ratio of medians ${(median(b.times) / median(a.times)).toFixed(3)}, median of the rounds' ratios ${median(ratios).toFixed(3)}`);
for (const s of [a, b]) {
  s.ctx.dispose();
  s.model.dispose();
}
