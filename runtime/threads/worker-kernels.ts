// The start of every pool worker, Node's (worker.ts) and the browser's
// (pool-worker.ts): its own instance of the kernels on the shared memory,
// moved to its own stack.
import { loadKernels, type Kernels } from '../../wasm/loader.js';
import { CTL } from './control.js';

export interface WorkerKernelsInit {
  module: WebAssembly.Module;
  relaxedModule: WebAssembly.Module | null;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  stackTop: number;
}

/** Instantiates the kernels; on failure marks the pool failed (others may already wait at a barrier) and rethrows. */
export async function startWorkerKernels(init: WorkerKernelsInit): Promise<Kernels> {
  try {
    const kernels = await loadKernels({ module: init.module, relaxedModule: init.relaxedModule, memory: init.memory });
    // every instance starts on the module's one stack: move to our own region
    kernels.moveStack(init.stackTop);
    return kernels;
  } catch (e) {
    const ctl = new Int32Array(init.control);
    Atomics.store(ctl, CTL.FAILED, 1);
    Atomics.notify(ctl, CTL.BAR_GEN);
    throw e;
  }
}
