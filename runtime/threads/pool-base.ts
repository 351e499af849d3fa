// What both thread pools are: pool.ts (Node: worker_threads, plans over
// MessagePorts) and pool-web.ts (browsers: Web Workers, plans as messages).
// The control block, the plans, the governor, the run protocol, the start of
// workers and their end are written here once; each pool supplies only its
// PoolWorkers: how a worker starts, how a plan reaches it, which buffer the
// control block can be. The main thread is thread 0 and takes part in every
// run: run() returns when all threads have finished the graph.
import type { Kernels } from '../../wasm/loader.js';
import { bindPlan, type EncodedPlan } from '../graph/exec.js';
import { createBarrier, postJob, runAsMain } from './control.js';
import { ThreadGovernor, type ThreadPoolOptions } from './governor.js';
import { trackStart } from './started.js';
import { workerStacks, type PlanMessage, type PoolThreadInit } from './worker-kernels.js';
import { MAX_THREADS } from '../graph/ops.js';
import { intOption } from '../options.js';

const WORKER_STACK = 512 * 1024;

/** A platform's workers: everything that differs between pool.ts and pool-web.ts. */
export interface PoolWorkers {
  /**
   * The control block for nThreads (CTL_INTS int32s): shared wherever workers
   * run; throws where nThreads > 1 needs memory this platform cannot share.
   */
  control(nThreads: number): ArrayBufferLike;
  /** Starts worker init.ith; resolves once it says it is ready, rejects (ThreadError) if it cannot start. */
  start(init: PoolThreadInit): Promise<void>;
  /** Sends a plan message to every worker. */
  post(message: PlanMessage): void;
  /** Ends every worker (called once, after the exit job is posted). */
  close(): void;
}

export abstract class PoolBase {
  private readonly kernels: readonly Kernels[];
  private readonly ctl: Int32Array;
  private readonly barrier: () => void;
  /** How many threads take part in each run (all, unless the machine is busy: governor.ts). */
  readonly governor: ThreadGovernor;
  private readonly plans = new Map<number, ReturnType<typeof bindPlan>>();
  /** Each worker's stack in each memory: malloc'd here, freed at dispose. */
  private readonly stacks: { k: Kernels; ptr: number }[] = [];
  private nextId = 0;
  private disposed = false;

  /**
   * Starts nThreads - 1 workers (none for one thread), each with an instance
   * of the kernels on every memory (kernels: one per memory, index = Tensor.mem).
   * Returns at once: a run posted while workers are still starting waits for
   * them at its first barrier (and started.ts reports one that fails to start).
   */
  protected constructor(
    kernels: Kernels | readonly Kernels[],
    readonly nThreads: number,
    options: ThreadPoolOptions,
    private readonly workers: PoolWorkers,
  ) {
    const all = Array.isArray(kernels) ? kernels as readonly Kernels[] : [kernels as Kernels];
    const k0 = all[0]!;
    intOption('threads', nThreads, 1, MAX_THREADS);
    const control = workers.control(nThreads);
    this.kernels = all;
    this.ctl = new Int32Array(control);
    this.barrier = createBarrier(this.ctl);
    this.governor = new ThreadGovernor(nThreads, options.adaptive ?? true);
    const started: Promise<void>[] = [];
    for (let ith = 1; ith < nThreads; ith++) {
      const { stacks, memories } = workerStacks(all, WORKER_STACK);
      this.stacks.push(...stacks);
      started.push(workers.start({
        module: k0.module, relaxedModule: k0.relaxedModule, memories,
        // more than one thread means the platform gave a SharedArrayBuffer
        control: control as SharedArrayBuffer, ith, nth: nThreads,
      }));
    }
    if (started.length > 0) trackStart(Promise.all(started).then(() => {}));
  }

  /** Makes a plan runnable on every thread; returns its id. */
  register(plan: EncodedPlan): number {
    const id = this.nextId++;
    this.plans.set(id, bindPlan(plan, this.kernels));
    this.workers.post({ id, plan });
    return id;
  }

  unregister(id: number): void {
    this.plans.delete(id);
    this.governor.forget(id);
    if (!this.disposed) this.workers.post({ id });
  }

  /** Runs a registered plan on all threads; returns when every thread is done. */
  run(id: number): void {
    if (this.disposed) throw new RangeError('thread pool is disposed');
    const phases = this.plans.get(id);
    if (!phases) throw new RangeError(`plan ${id} is not registered`);
    runAsMain(this.ctl, this.governor, id, phases, this.barrier);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // plan -1 tells every worker to leave its loop (control.ts serveJobs)
    if (this.nThreads > 1) postJob(this.ctl, -1, this.nThreads);
    this.workers.close();
    // a worker's stacks are freed once it cannot run
    for (const s of this.stacks) s.k.free(s.ptr);
  }
}
