// The shared control block of a thread pool and its barrier. Spinning first
// keeps decode from paying a wake-up (tens of microseconds) per op; waiting
// after that keeps an oversubscribed machine from burning a core per thread.
import { ThreadError } from '../errors.js';
import { runPhases, type BoundPhase } from '../graph/exec.js';
import type { ThreadGovernor } from './governor.js';

export const CTL = {
  /**
   * The job word, written by the main thread to start a run:
   * (sequence << 9) | threads taking part. Both in one word so that a worker
   * never pairs one run's generation with another run's thread count.
   */
  JOB_GEN: 0,
  /** Plan id of the run; -1 tells workers to exit. */
  JOB_PLAN: 1,
  BAR_COUNT: 2,
  BAR_GEN: 3,
  /** Set by a worker whose run threw: the others stop waiting for it. */
  FAILED: 4,
  /** Threads taking part in the current run (the barrier's count). */
  ACTIVE: 5,
} as const;
export const CTL_INTS = 16;

/**
 * Spins before sleeping; a spin is one atomic load (a few ns). The budget
 * adapts per thread: a wait that ends while spinning doubles it (up to
 * SPIN_MAX), one that has to sleep halves it (down to SPIN_MIN). On a quiet
 * machine every barrier ends within the spin and decode never pays a wake-up;
 * on a busy one the thread being waited for is not running, and spinning only
 * takes the core it needs, so the budget shrinks and the waiter sleeps.
 */
const SPIN_MAX = 1 << 15;
const SPIN_MIN = 1 << 8;

/** The barrier of one thread; its count is ctl[ACTIVE], the run's threads. */
export function createBarrier(ctl: Int32Array): () => void {
  let spin = SPIN_MAX;
  return () => {
    const gen = Atomics.load(ctl, CTL.BAR_GEN);
    if (Atomics.add(ctl, CTL.BAR_COUNT, 1) === Atomics.load(ctl, CTL.ACTIVE) - 1) {
      Atomics.store(ctl, CTL.BAR_COUNT, 0);
      Atomics.add(ctl, CTL.BAR_GEN, 1);
      Atomics.notify(ctl, CTL.BAR_GEN);
      return;
    }
    for (let i = 0; i < spin; i++) {
      if (Atomics.load(ctl, CTL.BAR_GEN) !== gen) {
        if (spin < SPIN_MAX) spin <<= 1;
        return;
      }
    }
    if (spin > SPIN_MIN) spin >>= 1;
    while (Atomics.load(ctl, CTL.BAR_GEN) === gen) {
      Atomics.wait(ctl, CTL.BAR_GEN, gen, 200);
      if (Atomics.load(ctl, CTL.FAILED)) throw new ThreadError('a worker thread failed; see its error above');
    }
  };
}

const ACTIVE_BITS = 9; // up to 256 threads (MAX_THREADS) in the low bits

/** Main thread: starts a run of plan `plan` on threads 0..nActive-1 (workers past it sit this one out). */
export function postJob(ctl: Int32Array, plan: number, nActive: number): void {
  Atomics.store(ctl, CTL.JOB_PLAN, plan);
  Atomics.store(ctl, CTL.ACTIVE, nActive);
  const seq = (Atomics.load(ctl, CTL.JOB_GEN) >>> ACTIVE_BITS) + 1;
  Atomics.store(ctl, CTL.JOB_GEN, ((seq << ACTIVE_BITS) | nActive) | 0);
  Atomics.notify(ctl, CTL.JOB_GEN);
}

/** The threads taking part in the run a job word starts. */
export function jobThreads(job: number): number {
  return job & ((1 << ACTIVE_BITS) - 1);
}

/** Waits until ctl[JOB_GEN] moves past `seen`; returns the new job word. */
export function waitForJob(ctl: Int32Array, seen: number): number {
  for (let i = 0; i < SPIN_MAX; i++) {
    const g = Atomics.load(ctl, CTL.JOB_GEN);
    if (g !== seen) return g;
  }
  for (;;) {
    Atomics.wait(ctl, CTL.JOB_GEN, seen);
    const g = Atomics.load(ctl, CTL.JOB_GEN);
    if (g !== seen) return g;
  }
}

/**
 * The main thread's part of a run (thread 0; pool-base.ts): the
 * governor picks how many threads take part, the workers past that sit it
 * out, and the run's wall time goes back to the governor.
 */
export function runAsMain(ctl: Int32Array, governor: ThreadGovernor, id: number, phases: BoundPhase[], barrier: () => void): void {
  const n = governor.choose(id);
  const t0 = performance.now();
  if (n > 1) postJob(ctl, id, n);
  runPhases(phases, 0, n, barrier);
  if (n > 1) barrier();
  governor.record(id, n, performance.now() - t0);
}

/**
 * A worker's loop (worker.ts, pool-worker.ts): waits for each job, runs its
 * share when it takes part, until the main thread posts plan -1.
 * `plan(id)` returns the bound plan (possibly after awaiting its arrival).
 */
export async function serveJobs(ctl: Int32Array, ith: number, plan: (id: number) => BoundPhase[] | Promise<BoundPhase[]>): Promise<void> {
  const barrier = createBarrier(ctl);
  // Job word 0 is "no job yet": a run posted before this worker started is still seen.
  let seen = 0;
  try {
    for (;;) {
      seen = waitForJob(ctl, seen);
      const n = jobThreads(seen);
      if (ith >= n) continue;
      // safe to read: the main thread cannot post another job before this one ends, and this thread takes part
      const id = Atomics.load(ctl, CTL.JOB_PLAN);
      if (id < 0) return;
      const p = plan(id);
      // no await on the hot path: a Node worker's plans are always at hand
      runPhases(p instanceof Promise ? await p : p, ith, n, barrier);
      barrier(); // the end of the run
    }
  } catch (e) {
    Atomics.store(ctl, CTL.FAILED, 1);
    Atomics.notify(ctl, CTL.BAR_GEN);
    throw e;
  }
}
