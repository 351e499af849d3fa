// How many of a pool's threads take part in each run. On a quiet machine all
// of them. On a busy one (an Electron app beside a browser and a build) a
// thread is often not scheduled, every barrier waits for it, and a run on all
// threads can take far longer than the same run on one: the kernels split work
// statically by (ith, nth), so the slowest thread sets the pace. Tried
// (issue 14) instead of fewer threads: a prompt matmul's rows handed out as
// 64-row chunks, each thread taking the next free one by an atomic ticket
// reset at every barrier (the same bits: a row is still one call's). A/B in
// one process, two contexts alternating, on the shared 2-core machine (load
// 4-7): TinyLlama 64-token prompts 1.00x and 1.12x, llama-3.1-8B 0.64x and
// 0.83x (medians of 8-20 runs whose rates ranged over 2-3x). Not adopted.
//
// The governor watches each plan's wall time at the thread count it runs on
// (levels: all threads, half, ..., 1) and tries a neighbouring level when
// - a run is much slower than the best seen at its level (the machine got busy),
// - every PROBE_DOWN_MS of run time (the machine was busy from the start), or
// - every PROBE_UP_MS while below all threads (the machine may be free again),
// and moves to the probed level when that run beat the current level's
// recent average. A failed probe down makes the next one go twice as far
// (an intermediate level can be as starved as the top one while one thread
// runs free), so one thread is reached in log2(levels) probes. Results do not depend on the level: any thread count gives
// the same bits as one thread (kernels split rows, never sums).
//
// Cost on a quiet machine: one probe run at a lower level per PROBE_DOWN_MS,
// i.e. about 1% of decode time at 2 threads. A periodic probe is spent on a
// run only when the time since the last one is at least DOWN_RUNS (UP_RUNS)
// times that plan's average run: a probe costs about one run of the plan it
// lands on, and a long plan (an 8B model's 64-token prefill takes ~10 s) probed
// every 5 s ran every other pass on one thread. Measured: `run-gguf bench
// --synthetic llama-3.1-8b:Q4_K_M -p 64 -t 2` reported the one-thread rate,
// since its median run was a probe. A run much slower than its level's best
// still probes at once (the machine got busy: waiting costs more).

/** A run slower than this times the best at its level suggests the machine got busy. */
const SLOW = 1.5;
/** A probe must beat the current level's average by this factor to move there. */
const BETTER = 0.95;
const PROBE_DOWN_MS = 5000;
const PROBE_UP_MS = 500;
/** A periodic probe lands on a plan only after this many of its runs' time since the last probe. */
const DOWN_RUNS = 20;
const UP_RUNS = 10;
/** Weight of the newest run in a level's average. */
const ALPHA = 0.3;

interface PlanTimes {
  /** Running average of ms per run, per level (NaN: never run there). */
  avg: number[];
  /** Best ms per run seen at each level since the last re-baseline. */
  best: number[];
}

export interface GovernorState {
  /** Threads the next normal run uses. */
  threads: number;
  /** Level changes so far (for tests and `--progress`). */
  changes: number;
}

export class ThreadGovernor {
  /** Thread counts, most first: n, ceil(n/2), ..., 1. */
  readonly levels: number[];
  private level = 0;
  private probe: number | undefined;
  private readonly plans = new Map<number, PlanTimes>();
  private sinceDown = 0;
  private sinceUp = 0;
  private changes = 0;
  /** Levels the next probe down skips (doubles after each failed one). */
  private downStep = 1;

  constructor(nThreads: number, private readonly adaptive = true) {
    const levels = [nThreads];
    while (levels[levels.length - 1]! > 1) levels.push(Math.ceil(levels[levels.length - 1]! / 2));
    this.levels = levels;
  }

  get state(): GovernorState {
    return { threads: this.levels[this.level]!, changes: this.changes };
  }

  private pinned: number | undefined;

  /** Threads for the next run of `plan`. */
  choose(plan: number): number {
    if (this.pinned !== undefined) return this.pinned;
    if (this.probe === undefined && this.adaptive) this.probe = this.periodicProbe(plan);
    return this.levels[this.probe ?? this.level]!;
  }

  /** The level a periodic probe tries on this run of `plan`, if one is due and the plan is short enough. */
  private periodicProbe(plan: number): number | undefined {
    const avg = this.plans.get(plan)?.avg[this.level];
    if (avg === undefined || Number.isNaN(avg)) return undefined; // no baseline to compare a probe with
    if (this.level > 0 && this.sinceUp >= Math.max(PROBE_UP_MS, UP_RUNS * avg)) {
      this.sinceUp = 0;
      return this.level - 1;
    }
    if (this.level < this.levels.length - 1 && this.sinceDown >= Math.max(PROBE_DOWN_MS, DOWN_RUNS * avg)) {
      this.sinceDown = 0;
      return Math.min(this.level + this.downStep, this.levels.length - 1);
    }
    return undefined;
  }

  /** Fixes the thread count of every run (1..n; undefined: the governor decides again). For tests and tuning. */
  pin(threads: number | undefined): void {
    if (threads !== undefined && !this.levels.includes(threads) && !(Number.isInteger(threads) && threads >= 1 && threads <= this.levels[0]!)) {
      throw new RangeError(`pin: threads must be 1..${this.levels[0]}, got ${threads}`);
    }
    this.pinned = threads;
  }

  /** Records a run of `plan` on `threads` threads that took `ms`. */
  record(plan: number, threads: number, ms: number): void {
    if (!this.adaptive || this.pinned !== undefined || this.levels.length === 1) return;
    const k = this.levels.indexOf(threads);
    if (k < 0) return;
    let t = this.plans.get(plan);
    if (!t) {
      t = { avg: this.levels.map(() => NaN), best: this.levels.map(() => Infinity) };
      this.plans.set(plan, t);
    }
    const before = t.avg[this.level]!;
    t.avg[k] = Number.isNaN(t.avg[k]!) ? ms : t.avg[k]! + ALPHA * (ms - t.avg[k]!);
    t.best[k] = Math.min(t.best[k]!, ms);

    if (this.probe !== undefined) {
      this.probe = undefined;
      if (k !== this.level && !Number.isNaN(before) && ms < BETTER * before) {
        this.level = k;
        this.changes++;
        this.downStep = 1;
      } else if (k > this.level) {
        // next time further down; after one thread failed too, start near again
        this.downStep = k === this.levels.length - 1 ? 1 : this.downStep * 2;
      }
      // either way the current level's timings start afresh from here
      t.best[this.level] = t.avg[this.level]!;
      return;
    }
    this.sinceDown += ms;
    this.sinceUp += ms;
    // much slower than this level's best: probe down on the next run, whatever
    // its plan (periodic probes wait for a short enough plan: choose)
    if (this.level < this.levels.length - 1 && ms > SLOW * t.best[k]! && t.avg[k]! > SLOW * t.best[k]!) {
      this.probe = Math.min(this.level + this.downStep, this.levels.length - 1);
    }
  }

  /** A plan was freed: forget its timings. */
  forget(plan: number): void {
    this.plans.delete(plan);
  }
}

export interface ThreadPoolOptions {
  /**
   * Let the pool use fewer threads while the machine is too busy to schedule
   * them all (governor.ts). Default true; false keeps every run on every thread
   * (fixed-thread benchmarks).
   */
  adaptive?: boolean;
}
