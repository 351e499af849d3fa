// A pool of worker threads sharing the kernels' WebAssembly memory, started
// once per context. The main thread is thread 0 and takes part in every run:
// run() returns when all threads have finished the graph.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Kernels } from '../../wasm/loader.js';
import { bindPlan, type EncodedPlan } from '../graph/exec.js';
import { CTL_INTS, createBarrier, postJob, runAsMain } from './control.js';
import { ThreadGovernor, type ThreadPoolOptions } from './governor.js';
import { trackStart } from './started.js';
import { workerStacks } from './worker-kernels.js';
import { ThreadError } from '../errors.js';
import { MAX_THREADS } from '../graph/ops.js';
import { intOption } from '../options.js';

const WORKER_STACK = 512 * 1024;

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
    private readonly ports: MessagePort[],
    private readonly stacks: { k: Kernels; ptr: number }[],
    control: SharedArrayBuffer,
    adaptive: boolean,
  ) {
    this.ctl = new Int32Array(control);
    this.barrier = createBarrier(this.ctl);
    this.governor = new ThreadGovernor(nThreads, adaptive);
  }

  /**
   * Starts nThreads - 1 workers (none for one thread), each with an instance
   * of the kernels on every memory (kernels: one per memory, index = Tensor.mem).
   * Returns at once: a run posted while workers are still starting waits for
   * them at its first barrier.
   */
  static create(kernels: Kernels | readonly Kernels[], nThreads: number, options: ThreadPoolOptions = {}): ThreadPool {
    const all = Array.isArray(kernels) ? kernels as readonly Kernels[] : [kernels as Kernels];
    const k0 = all[0]!;
    intOption('threads', nThreads, 1, MAX_THREADS);
    const control = new SharedArrayBuffer(CTL_INTS * 4);
    const workers: Worker[] = [];
    const ports: MessagePort[] = [];
    const stacks: { k: Kernels; ptr: number }[] = [];
    const url = new URL('./worker.js', import.meta.url);
    const started: Promise<void>[] = [];
    for (let ith = 1; ith < nThreads; ith++) {
      const { stacks: mine, memories } = workerStacks(all, WORKER_STACK);
      stacks.push(...mine);
      const { port1, port2 } = new MessageChannel();
      const w = new Worker(url, {
        workerData: { module: k0.module, relaxedModule: k0.relaxedModule, memories, control, ith, nth: nThreads, plans: port2 },
        transferList: [port2],
      });
      // the worker says 'ready' once its kernels are instantiated (see started.ts)
      started.push(new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
        w.once('exit', (code) => reject(new ThreadError(`run-gguf worker ${ith} exited (code ${code}) before it was ready`)));
      }));
      // a worker sleeping in Atomics.wait must not keep the process alive
      w.unref();
      workers.push(w);
      ports.push(port1);
    }
    if (started.length > 0) trackStart(Promise.all(started).then(() => {}));
    return new ThreadPool(all, nThreads, workers, ports, stacks, control, options.adaptive ?? true);
  }

  /** Makes a plan runnable on every thread; returns its id. */
  register(plan: EncodedPlan): number {
    const id = this.nextId++;
    this.plans.set(id, bindPlan(plan, this.kernels));
    for (const p of this.ports) p.postMessage({ id, plan });
    return id;
  }

  unregister(id: number): void {
    this.plans.delete(id);
    this.governor.forget(id);
    if (!this.disposed) for (const p of this.ports) p.postMessage({ id });
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
    postJob(this.ctl, -1, this.nThreads);
    for (const p of this.ports) p.close();
    // workers exit on their own; their stacks are freed once they cannot run
    for (const w of this.workers) void w.terminate();
    for (const s of this.stacks) s.k.free(s.ptr);
  }
}
