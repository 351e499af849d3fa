// Running a planned graph: the same few lines on the main thread and in every
// worker. A plan is plain data (kernel names, numeric arguments), so it
// crosses to workers with postMessage; each thread binds it to its own
// instance of the kernels module and runs every phase with its ith, with a
// barrier between phases.
//
// A plan's arguments are fixed when it is planned. What changes from run to
// run (token ids, positions, which sequence each row belongs to, the cells in
// use) is data in input tensors the caller writes before the run.

export interface EncodedPhase {
  /** Index into EncodedPlan.fns. */
  fn: number;
  /** The memory whose kernels instance runs it (index into the model's memories). */
  mem: number;
  /** Resolved arguments; ith and nth are appended at run time. */
  args: number[];
  /**
   * false: the next phase may start on a thread while others still run this
   * one (it touches nothing this one writes; graph/barriers.ts). Absent: a
   * barrier follows.
   */
  sync?: boolean;
  /** Thread 0 runs it as one thread (Phase.solo, or a one-row phase); the others skip it. */
  solo?: boolean;
}

export interface EncodedPlan {
  fns: string[];
  phases: EncodedPhase[];
}

type KernelFn = (...args: number[]) => unknown;

export interface BoundPhase {
  f: KernelFn;
  argv: number[];
  /** Whether a barrier follows (EncodedPhase.sync). */
  sync: boolean;
  /** Thread 0 alone runs it (EncodedPhase.solo). */
  solo: boolean;
}

/**
 * The one phase that is not a kernel: (from, src, to, dst, bytes) copies
 * bytes from one WebAssembly memory into another (plan.ts inserts it where
 * the graph crosses memories); each thread copies its share.
 */
export const COPY_ACROSS_MEMORIES = 'copy_across_memories';

/** What a thread binds a plan to, per memory: that memory and its kernels instance's exports. */
export interface MemoryKernels {
  readonly memory: WebAssembly.Memory;
  lookup<T extends (...args: never[]) => unknown>(name: string): T | undefined;
}

function copyAcross(memories: readonly MemoryKernels[]): KernelFn {
  return (from, src, to, dst, bytes, ith, nth) => {
    const share = Math.ceil(bytes! / nth! / 64) * 64;
    const lo = ith! * share;
    const n = Math.min(bytes!, lo + share) - lo;
    if (n <= 0) return;
    // fresh views: a memory may have grown since the last run
    new Uint8Array(memories[to!]!.memory.buffer, dst! + lo, n).set(new Uint8Array(memories[from!]!.memory.buffer, src! + lo, n));
  };
}

/** Binds a plan to this thread's instances (one per memory); each thread binds its own. */
export function bindPlan(plan: EncodedPlan, memories: readonly MemoryKernels[]): BoundPhase[] {
  const fns = plan.fns.map((name) => (name === COPY_ACROSS_MEMORIES ? null : name));
  const cache = new Map<string, KernelFn>();
  const copy = copyAcross(memories);
  return plan.phases.map((p) => {
    const name = fns[p.fn];
    let f: KernelFn | undefined = name === null ? copy : cache.get(`${p.mem}:${name}`);
    if (!f) {
      f = memories[p.mem]?.lookup<KernelFn>(name!);
      if (!f) throw new RangeError(`the kernels of memory ${p.mem} lack ${name}`);
      cache.set(`${p.mem}:${name}`, f);
    }
    return { f, argv: [...p.args, 0, 0], sync: p.sync !== false, solo: p.solo === true };
  });
}

/**
 * Runs every phase as thread ith of nth. `barrier` is called after each phase
 * that needs one (sync), but the last, when nth > 1 (the caller synchronises
 * the end of the run).
 */
export function runPhases(phases: BoundPhase[], ith: number, nth: number, barrier: () => void): void {
  const last = phases.length - 1;
  for (let i = 0; i <= last; i++) {
    const p = phases[i]!;
    // a solo phase is thread 0's as the only thread; the others skip it
    if (!p.solo || ith === 0) {
      const argv = p.argv;
      argv[argv.length - 2] = p.solo ? 0 : ith;
      argv[argv.length - 1] = p.solo ? 1 : nth;
      p.f.apply(null, argv);
    }
    if (nth > 1 && i < last && p.sync) barrier();
  }
}
