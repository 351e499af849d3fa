// Running a planned graph: the same few lines on the main thread and in every
// worker. A plan is plain data (kernel names, numeric arguments), so it
// crosses to workers with postMessage; each thread binds it to its own
// instance of the kernels module and runs every phase with its ith, with a
// barrier between phases.
import type { DynamicValue } from './graph.js';

/** Slots of run-time values in the shared Int32Array the threads read them from. */
export const DYNAMIC_SLOTS: Readonly<Record<DynamicValue, number>> = { nKv: 0, seq: 1 };
export const N_DYNAMIC_SLOTS = 2;

export interface EncodedPhase {
  /** Index into EncodedPlan.fns. */
  fn: number;
  /** Resolved arguments; ith and nth are appended at run time. */
  args: number[];
  /**
   * Quads (argument index, dynamic slot, base, scale): argument = base +
   * scale * dynamic[slot], computed at run time (addresses wrap to wasm's i32).
   */
  dyn: number[];
}

export interface EncodedPlan {
  fns: string[];
  phases: EncodedPhase[];
}

type KernelFn = (...args: number[]) => unknown;

interface BoundPhase {
  f: KernelFn;
  argv: number[];
  dyn: number[];
}

/** Binds a plan to one instance's exports; each thread binds its own. */
export function bindPlan(plan: EncodedPlan, lookup: (name: string) => KernelFn | undefined): BoundPhase[] {
  const fns = plan.fns.map((name) => {
    const f = lookup(name);
    if (!f) throw new Error(`kernels lack ${name}`);
    return f;
  });
  return plan.phases.map((p) => ({ f: fns[p.fn]!, argv: [...p.args, 0, 0], dyn: p.dyn }));
}

/**
 * Runs every phase as thread ith of nth. `barrier` is called after each phase
 * but the last when nth > 1 (the caller synchronises the end of the run).
 */
export function runPhases(phases: BoundPhase[], dynamic: Int32Array, ith: number, nth: number, barrier: () => void): void {
  const last = phases.length - 1;
  for (let i = 0; i <= last; i++) {
    const p = phases[i]!;
    const argv = p.argv;
    const d = p.dyn;
    for (let j = 0; j < d.length; j += 4) argv[d[j]!] = d[j + 2]! + d[j + 3]! * dynamic[d[j + 1]!]!;
    argv[argv.length - 2] = ith;
    argv[argv.length - 1] = nth;
    p.f.apply(null, argv);
    if (nth > 1 && i < last) barrier();
  }
}
