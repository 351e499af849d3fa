// The thread pool for browsers and Electron renderers: Web Workers in place of
// worker_threads (the browser bundle maps pool.js here); the control block,
// barrier, plans and runs are pool-base.ts's, as in Node. Thread 0 is the
// caller's thread, which must itself be a worker (Atomics.wait is not allowed
// on a page's main thread).
//
// Differences from Node: a worker cannot read its message port synchronously,
// so a worker that meets a run whose plan has not reached it yet returns to
// its event loop for it (the plan was posted before the run, so it is queued:
// pool-worker.ts); and without cross-origin isolation there is no
// SharedArrayBuffer, so only one thread is possible (the control block is then
// a plain buffer).
import type { Kernels } from '../../wasm/loader.js';
import { CTL_INTS } from './control.js';
import type { ThreadPoolOptions } from './governor.js';
import { PoolBase, type PoolWorkers } from './pool-base.js';
import type { PlanMessage, PoolThreadInit } from './worker-kernels.js';
import { ThreadError } from '../errors.js';

/** What pool-worker.ts receives first. */
export interface PoolWorkerInit extends PoolThreadInit {
  type: 'init';
}

/** Then plans: {type: 'plan', id, plan} registers, {type: 'plan', id} drops. */
export interface PoolWorkerPlan extends PlanMessage {
  type: 'plan';
}

/** True where memory can be shared with other workers (cross-origin isolated pages, Node). */
export function canShareMemory(): boolean {
  return typeof SharedArrayBuffer === 'function';
}

class WebWorkers implements PoolWorkers {
  private readonly url = new URL('./pool-worker.js', import.meta.url);
  private readonly workers: Worker[] = [];

  control(nThreads: number): ArrayBufferLike {
    if (nThreads > 1 && !canShareMemory()) {
      throw new RangeError(`threads: ${nThreads} needs SharedArrayBuffer, which this page lacks (it is not cross-origin isolated: ` +
        'serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp); use threads: 1');
    }
    return canShareMemory() ? new SharedArrayBuffer(CTL_INTS * 4) : new ArrayBuffer(CTL_INTS * 4);
  }

  start(init: PoolThreadInit): Promise<void> {
    const { ith } = init;
    const url = this.url;
    const w = new Worker(url, { type: 'module', name: `run-gguf thread ${ith}` });
    const ready = new Promise<void>((resolve, reject) => {
      w.addEventListener('message', (e: MessageEvent) => {
        if (e.data?.type === 'ready') resolve();
        else if (e.data?.type === 'error') reject(new ThreadError(`run-gguf thread ${ith}: ${e.data.message}`));
      });
      w.addEventListener('error', (e: ErrorEvent) => reject(new ThreadError(`run-gguf thread ${ith} failed to start: ${e.message || url.href}`)));
    });
    const message: PoolWorkerInit = { type: 'init', ...init };
    w.postMessage(message);
    this.workers.push(w);
    return ready;
  }

  post(message: PlanMessage): void {
    const m: PoolWorkerPlan = { type: 'plan', ...message };
    for (const w of this.workers) w.postMessage(m);
  }

  close(): void {
    for (const w of this.workers) w.terminate();
  }
}

export class ThreadPool extends PoolBase {
  static create(kernels: Kernels | readonly Kernels[], nThreads: number, options: ThreadPoolOptions = {}): ThreadPool {
    return new ThreadPool(kernels, nThreads, options, new WebWorkers());
  }
}
