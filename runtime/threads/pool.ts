// The thread pool in Node: worker_threads on the kernels' shared WebAssembly
// memory, started once per context, each worker reading its plans from a
// MessagePort (worker.ts). Everything else about a pool is pool-base.ts.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Kernels } from '../../wasm/loader.js';
import { CTL_INTS } from './control.js';
import type { ThreadPoolOptions } from './governor.js';
import { PoolBase, type PoolWorkers } from './pool-base.js';
import type { PlanMessage, PoolThreadInit } from './worker-kernels.js';
import { ThreadError } from '../errors.js';

/** What worker.ts receives as workerData: then plans arrive on `plans`. */
export interface NodeWorkerInit extends PoolThreadInit {
  plans: MessagePort;
}

class NodeWorkers implements PoolWorkers {
  private readonly url = new URL('./worker.js', import.meta.url);
  private readonly workers: Worker[] = [];
  private readonly ports: MessagePort[] = [];

  control(): SharedArrayBuffer {
    return new SharedArrayBuffer(CTL_INTS * 4);
  }

  start(init: PoolThreadInit): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const workerData: NodeWorkerInit = { ...init, plans: port2 };
    const w = new Worker(this.url, { workerData, transferList: [port2] });
    // the worker says 'ready' once its kernels are instantiated (see started.ts)
    const ready = new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
      w.once('exit', (code) => reject(new ThreadError(`run-gguf worker ${init.ith} exited (code ${code}) before it was ready`)));
    });
    // a worker sleeping in Atomics.wait must not keep the process alive
    w.unref();
    this.workers.push(w);
    this.ports.push(port1);
    return ready;
  }

  post(message: PlanMessage): void {
    for (const p of this.ports) p.postMessage(message);
  }

  close(): void {
    for (const p of this.ports) p.close();
    // workers exit on their own (exit job); terminate only makes sure
    for (const w of this.workers) void w.terminate();
  }
}

export class ThreadPool extends PoolBase {
  static create(kernels: Kernels | readonly Kernels[], nThreads: number, options: ThreadPoolOptions = {}): ThreadPool {
    return new ThreadPool(kernels, nThreads, options, new NodeWorkers());
  }
}
