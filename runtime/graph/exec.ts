// Running a planned graph: the same few lines on the main thread and in every
// worker. A plan is plain data (kernel names, numeric arguments), so it
// crosses to workers with postMessage; each thread binds it to its own
// instance of the kernels module and runs every phase with its ith, with a
// barrier between phases.
import type { DynamicValue } from './graph.js';

/** Slots of run-time values in the shared Int32Array the threads read them from. */
export const DYNAMIC_SLOTS: Readonly<Record<DynamicValue, number>> = { nKv: 0 };
export const N_DYNAMIC_SLOTS = 1;

export interface EncodedPhase {
  /** Index into EncodedPlan.fns. */
  fn: number;
  /** Resolved arguments; ith and nth are appended at run time. */
  args: number[];
  /** Pairs (argument index, dynamic slot): arguments read from the dynamic values at run time. */
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
    for (let j = 0; j < p.dyn.length; j += 2) argv[p.dyn[j]!] = dynamic[p.dyn[j + 1]!]!;
    argv[argv.length - 2] = ith;
    argv[argv.length - 1] = nth;
    p.f.apply(null, argv);
    if (nth > 1 && i < last) barrier();
  }
}
