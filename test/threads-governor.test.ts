// The pool on a busy machine (runtime/threads/governor.ts): the governor moves
// to fewer threads when runs on all of them slow down and one level down is
// faster, back up when the machine is free, and stays put on a quiet machine;
// runs on part of the pool give the bits of one thread.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import type { GraphRunner } from '../runtime/graph/runner.js';
import { loadModel, type Context, type Model } from '../runtime/index.js';
import { defaultThreads, physicalCores } from '../runtime/threads/cores.js';
import { ThreadGovernor } from '../runtime/threads/governor.js';

/**
 * Drives a governor with a simulated machine: `msAt(threads)` is the wall
 * time of one run on that many threads. Returns the thread counts chosen.
 */
function simulate(g: ThreadGovernor, runs: number, msAt: (threads: number) => number, plan = 0): number[] {
  const chosen: number[] = [];
  for (let i = 0; i < runs; i++) {
    const n = g.choose(plan);
    chosen.push(n);
    g.record(plan, n, msAt(n));
  }
  return chosen;
}

const quiet = (n: number) => 100 / n; // scales with threads
const busy = (n: number) => (n === 1 ? 90 : 600); // the other threads are rarely scheduled

test('levels: all threads, halves, one', () => {
  assert.equal(new ThreadGovernor(8).levels, [8, 4, 2, 1]);
  assert.equal(new ThreadGovernor(6).levels, [6, 3, 2, 1]);
  assert.equal(new ThreadGovernor(2).levels, [2, 1]);
  assert.equal(new ThreadGovernor(1).levels, [1]);
});

test('quiet machine: stays on all threads (a rare probe one level down, never a move)', () => {
  const g = new ThreadGovernor(4);
  const chosen = simulate(g, 2000, quiet);
  const probes = chosen.filter((n) => n !== 4).length;
  assert.ok(probes <= 2000 * 25 / 5000 + 1, `${probes} probe runs`); // one per 5 s of run time
  assert.is(g.state.threads, 4);
  assert.is(g.state.changes, 0);
});

test('long runs on a quiet machine: a periodic probe waits for enough run time to amortise it', () => {
  // an 8B model's prefill: ~10 s per run on 2 threads. Probed every 5 s of run
  // time, every other run went to one thread (and a bench's median with it).
  const g = new ThreadGovernor(2);
  const long = (n: number) => 20000 / n;
  assert.ok(simulate(g, 12, long, 1).every((n) => n === 2), 'a 10 s plan probed within 12 runs');
  // short runs in between (decode) still carry the probes, about one per 5 s
  const chosen = simulate(g, 400, quiet, 2);
  const probes = chosen.filter((n) => n !== 2).length;
  assert.ok(probes >= 1 && probes <= 400 * 50 / 5000 + 1, `${probes} probe runs among 400 short ones`);
  assert.is(g.state.changes, 0);
});

test('busy from the start: moves to one thread, spending few runs on the slow level', () => {
  const g = new ThreadGovernor(2);
  const chosen = simulate(g, 200, busy);
  assert.is(g.state.threads, 1);
  // after the move, runs are on one thread but for the periodic probes up
  const tail = chosen.slice(100);
  assert.ok(tail.filter((n) => n === 1).length >= 80, `one thread in ${tail.filter((n) => n === 1).length} of the last 100 runs`);
});

test('gets busy, then free again: down within a few runs, back up once free', () => {
  const g = new ThreadGovernor(4);
  simulate(g, 50, quiet);
  assert.is(g.state.threads, 4);
  // busy: all levels above one suffer
  const c1 = simulate(g, 40, (n) => (n === 1 ? 100 : 100 / n + 900));
  assert.is(g.state.threads, 1, `after the machine got busy: ${c1.join(',')}`);
  assert.ok(c1.indexOf(1) >= 0 && c1.indexOf(1) < 20, `first one-thread run at ${c1.indexOf(1)}`);
  // free again: climbs back within a few probe intervals
  simulate(g, 200, quiet);
  assert.is(g.state.threads, 4);
});

test('not adaptive, or pinned: the count never changes', () => {
  const fixed = new ThreadGovernor(2, false);
  assert.ok(simulate(fixed, 300, busy).every((n) => n === 2));
  const pinned = new ThreadGovernor(4);
  pinned.pin(3);
  assert.ok(simulate(pinned, 300, busy).every((n) => n === 3));
  assert.throws(() => pinned.pin(5), RangeError);
});

test('a context whose runs use part of its pool gives the bits of one thread, level changing between runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'run-gguf-gov-'));
  const shape = LLAMA_SHAPES['test-tiny']!;
  const path = join(dir, 'tiny-q4_k.gguf');
  await writeGGUF(path, llamaModelSpec(shape, GGMLType.Q4_K, { seed: 7 }));
  const model: Model = await loadModel(path);
  try {
    const tokens = Array.from({ length: 40 }, (_, i) => 1 + ((i * 37) % (shape.n_vocab - 1)));
    const one = model.createContext({ contextSize: 64, batchSize: 16, threads: 1 });
    const ctx: Context = model.createContext({ contextSize: 64, batchSize: 16, threads: 3 });
    const governor = (ctx as unknown as { runner: GraphRunner }).runner.governor;
    try {
      const ref = [one.evaluate(tokens.slice(0, 20), { allLogits: true }), ...tokens.slice(20).map((t) => one.evaluate([t]))];
      // 2 of 3, 1 of 3, all 3, repeatedly: idle workers must skip a run and join the next
      const pins = [2, 1, 3, 1, 2, 2, 3];
      governor.pin(pins[0]);
      const got = [ctx.evaluate(tokens.slice(0, 20), { allLogits: true })];
      tokens.slice(20).forEach((t, i) => {
        governor.pin(pins[(i + 1) % pins.length]);
        got.push(ctx.evaluate([t]));
      });
      ref.forEach((r, i) => {
        const a = new Uint32Array(r.buffer, r.byteOffset, r.length);
        const b = new Uint32Array(got[i]!.buffer, got[i]!.byteOffset, got[i]!.length);
        assert.ok(a.every((x, j) => x === b[j]), `run ${i}: logits differ from one thread`);
      });
    } finally {
      one.dispose();
      ctx.dispose();
    }
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('default threads: the physical cores, as /proc/cpuinfo counts them (physical id, core id)', () => {
  if (!existsSync('/proc/cpuinfo')) {
    console.log('  (no /proc/cpuinfo here: the physical-core count is not checked)');
    return;
  }
  const pairs = new Set<string>();
  for (const block of readFileSync('/proc/cpuinfo', 'utf8').split(/\n\s*\n/)) {
    const pkg = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
    const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
    if (pkg !== undefined && core !== undefined) pairs.add(`${pkg}/${core}`);
  }
  if (pairs.size === 0) {
    console.log('  (/proc/cpuinfo names no cores here: the physical-core count is not checked)');
    return;
  }
  assert.is(physicalCores(), pairs.size);
  assert.ok(defaultThreads() <= pairs.size && defaultThreads() >= 1);
});

test.run();
