// Runs a graph in this thread as if nth threads shared it: every phase is
// called as thread 0, 1, ... nth-1 in turn, which the barrier between phases
// allows. Tests use it to check that a thread split does not change results.
import { bindPlan } from '../../runtime/graph/exec.js';
import type { Graph } from '../../runtime/graph/graph.js';
import { Plan } from '../../runtime/graph/plan.js';
import type { Kernels } from '../../wasm/loader.js';

export function runAsThreads(k: Kernels, g: Graph, nth: number): Plan {
  const plan = new Plan(g, k);
  for (const p of bindPlan(plan.encoded, [k])) {
    for (let ith = 0; ith < nth; ith++) {
      p.argv[p.argv.length - 2] = ith;
      p.argv[p.argv.length - 1] = nth;
      p.f(...p.argv);
    }
  }
  return plan;
}

/**
 * Test data in WASM memory (64-byte aligned): put() copies, alloc() reserves
 * (contents unset); free() releases everything taken so far.
 */
export function wasmArena(k: Kernels): { put(data: ArrayBufferView): number; alloc(bytes: number): number; free(): void } {
  const allocs: number[] = [];
  const alloc = (bytes: number) => {
    const p = k.malloc(bytes + 64);
    allocs.push(p);
    return Math.ceil(p / 64) * 64;
  };
  return {
    alloc,
    put(data) {
      const at = alloc(data.byteLength);
      k.write(at, data);
      return at;
    },
    free: () => allocs.splice(0).forEach((p) => k.free(p)),
  };
}
