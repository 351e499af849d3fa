// The thread pool for browsers and Electron renderers: Web Workers in place of
// worker_threads, the same control block, barrier and plans as pool.ts (the
// browser bundle maps pool.js here). Thread 0 is the caller's thread, which
// must itself be a worker (Atomics.wait is not allowed on a page's main thread).
//
// Differences from Node: a worker cannot read its message port synchronously,
// so a worker that meets a run whose plan has not reached it yet returns to
// its event loop for it (the plan was posted before the run, so it is queued);
// and without cross-origin isolation there is no SharedArrayBuffer, so only
// one thread is possible (the control block is then a plain buffer).
import type { Kernels } from '../../wasm/loader.js';
import { bindPlan, type EncodedPlan } from '../graph/exec.js';
import { CTL, CTL_INTS, createBarrier, postJob, runAsMain } from './control.js';
import { ThreadGovernor, type ThreadPoolOptions } from './governor.js';
import { trackStart } from './started.js';
import { workerStacks, type WorkerKernelsInit } from './worker-kernels.js';
import { ThreadError } from '../errors.js';
import { MAX_THREADS } from '../graph/ops.js';
import { intOption } from '../options.js';

const WORKER_STACK = 512 * 1024;

/** What pool-worker.ts receives first. */
export interface PoolWorkerInit extends WorkerKernelsInit {
  type: 'init';
  ith: number;
  nth: number;
}

/** Then plans: {type: 'plan', id, plan} registers, {type: 'plan', id} drops. */
export interface PoolWorkerPlan {
  type: 'plan';
  id: number;
  plan?: EncodedPlan;
}

/** True where memory can be shared with other workers (cross-origin isolated pages, Node). */
export function canShareMemory(): boolean {
  return typeof SharedArrayBuffer === 'function';
}

export class ThreadPool {
  private readonly ctl: Int32Array;
  private readonly barrier: () => void;
  /** How many threads take part in each run (all, unless the machine is busy: governor.ts). */
  readonly governor: ThreadGovernor;
  private readonly plans = new Map<number, ReturnType<typeof bindPlan>>();
  private nextId = 0;
  private disposed = false;

  private constructor(
    private readonly kernels: readonly Kernels[],
    readonly nThreads: number,
    private readonly workers: Worker[],
    private readonly stacks: { k: Kernels; ptr: number }[],
    control: ArrayBufferLike,
    adaptive: boolean,
  ) {
    this.ctl = new Int32Array(control);
    this.barrier = createBarrier(this.ctl);
    this.governor = new ThreadGovernor(nThreads, adaptive);
  }

  static create(kernels: Kernels | readonly Kernels[], nThreads: number, options: ThreadPoolOptions = {}): ThreadPool {
    const all = Array.isArray(kernels) ? kernels as readonly Kernels[] : [kernels as Kernels];
    const k0 = all[0]!;
    intOption('threads', nThreads, 1, MAX_THREADS);
    if (nThreads > 1 && !canShareMemory()) {
      throw new RangeError(`threads: ${nThreads} needs SharedArrayBuffer, which this page lacks (it is not cross-origin isolated: ` +
        'serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp); use threads: 1');
    }
    const control = canShareMemory() ? new SharedArrayBuffer(CTL_INTS * 4) : new ArrayBuffer(CTL_INTS * 4);
    const workers: Worker[] = [];
    const stacks: { k: Kernels; ptr: number }[] = [];
    const started: Promise<void>[] = [];
    const url = new URL('./pool-worker.js', import.meta.url);
    for (let ith = 1; ith < nThreads; ith++) {
      const { stacks: mine, memories } = workerStacks(all, WORKER_STACK);
      stacks.push(...mine);
      const w = new Worker(url, { type: 'module', name: `run-gguf thread ${ith}` });
      started.push(new Promise<void>((resolve, reject) => {
        w.addEventListener('message', (e: MessageEvent) => {
          if (e.data?.type === 'ready') resolve();
          else if (e.data?.type === 'error') reject(new ThreadError(`run-gguf thread ${ith}: ${e.data.message}`));
        });
        w.addEventListener('error', (e: ErrorEvent) => reject(new ThreadError(`run-gguf thread ${ith} failed to start: ${e.message || url.href}`)));
      }));
      const init: PoolWorkerInit = {
        type: 'init', module: k0.module, relaxedModule: k0.relaxedModule, memories,
        control: control as SharedArrayBuffer, ith, nth: nThreads,
      };
      w.postMessage(init);
      workers.push(w);
    }
    if (started.length > 0) trackStart(Promise.all(started).then(() => {}));
    return new ThreadPool(all, nThreads, workers, stacks, control, options.adaptive ?? true);
  }

  register(plan: EncodedPlan): number {
    const id = this.nextId++;
    this.plans.set(id, bindPlan(plan, this.kernels));
    const msg: PoolWorkerPlan = { type: 'plan', id, plan };
    for (const w of this.workers) w.postMessage(msg);
    return id;
  }

  unregister(id: number): void {
    this.plans.delete(id);
    this.governor.forget(id);
    const msg: PoolWorkerPlan = { type: 'plan', id };
    if (!this.disposed) for (const w of this.workers) w.postMessage(msg);
  }

  run(id: number): void {
    if (this.disposed) throw new RangeError('thread pool is disposed');
    const phases = this.plans.get(id);
    if (!phases) throw new RangeError(`plan ${id} is not registered`);
    runAsMain(this.ctl, this.governor, id, phases, this.barrier);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.nThreads > 1) {
      Atomics.store(this.ctl, CTL.JOB_PLAN, -1);
      Atomics.add(this.ctl, CTL.JOB_GEN, 1);
      Atomics.notify(this.ctl, CTL.JOB_GEN);
    }
    for (const w of this.workers) w.terminate();
    for (const s of this.stacks) s.k.free(s.ptr);
  }
}
