// The shared control block of a thread pool and its barrier. Spinning first
// keeps decode from paying a wake-up (tens of microseconds) per op; waiting
// after that keeps an oversubscribed machine from burning a core per thread.
import { ThreadError } from '../errors.js';

export const CTL = {
  /** Bumped by the main thread to start a run. */
  JOB_GEN: 0,
  /** Plan id of the run; -1 tells workers to exit. */
  JOB_PLAN: 1,
  BAR_COUNT: 2,
  BAR_GEN: 3,
  /** Set by a worker whose run threw: the others stop waiting for it. */
  FAILED: 4,
  /** First of the dynamic values (exec.ts DYNAMIC_SLOTS). */
  DYN: 8,
} as const;
export const CTL_INTS = 16;

/** Spins before sleeping; a spin is one atomic load (a few ns). */
const SPIN = 1 << 15;

export function createBarrier(ctl: Int32Array, nth: number): () => void {
  return () => {
    const gen = Atomics.load(ctl, CTL.BAR_GEN);
    if (Atomics.add(ctl, CTL.BAR_COUNT, 1) === nth - 1) {
      Atomics.store(ctl, CTL.BAR_COUNT, 0);
      Atomics.add(ctl, CTL.BAR_GEN, 1);
      Atomics.notify(ctl, CTL.BAR_GEN);
      return;
    }
    for (let i = 0; i < SPIN; i++) if (Atomics.load(ctl, CTL.BAR_GEN) !== gen) return;
    while (Atomics.load(ctl, CTL.BAR_GEN) === gen) {
      Atomics.wait(ctl, CTL.BAR_GEN, gen, 200);
      if (Atomics.load(ctl, CTL.FAILED)) throw new ThreadError('a worker thread failed; see its error above');
    }
  };
}

/** Waits until ctl[JOB_GEN] moves past `seen`; returns the new value. */
export function waitForJob(ctl: Int32Array, seen: number): number {
  for (let i = 0; i < SPIN; i++) {
    const g = Atomics.load(ctl, CTL.JOB_GEN);
    if (g !== seen) return g;
  }
  for (;;) {
    Atomics.wait(ctl, CTL.JOB_GEN, seen);
    const g = Atomics.load(ctl, CTL.JOB_GEN);
    if (g !== seen) return g;
  }
}
