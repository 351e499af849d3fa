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

/** Copies test data into WASM memory (64-byte aligned); free() releases everything put so far. */
export function wasmArena(k: Kernels): { put(data: ArrayBufferView): number; free(): void } {
  const allocs: number[] = [];
  return {
    put(data) {
      const p = k.malloc(data.byteLength + 64);
      allocs.push(p);
      const at = Math.ceil(p / 64) * 64;
      k.write(at, data);
      return at;
    },
    free: () => allocs.splice(0).forEach((p) => k.free(p)),
  };
}
