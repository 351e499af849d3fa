// The start of every pool worker, Node's (worker.ts) and the browser's
// (pool-worker.ts): its own instance of the kernels on each of the model's
// shared memories (one, unless the model is spread over several), each
// moved to this worker's own stack in that memory.
import { loadKernels, type Kernels } from '../../wasm/loader.js';
import { CTL } from './control.js';

export interface WorkerKernelsInit {
  module: WebAssembly.Module;
  relaxedModule: WebAssembly.Module | null;
  /** Per memory: the memory and the top of this worker's stack in it. */
  memories: { memory: WebAssembly.Memory; stackTop: number }[];
  control: SharedArrayBuffer;
}

/** Instantiates the kernels; on failure marks the pool failed (others may already wait at a barrier) and rethrows. */
export async function startWorkerKernels(init: WorkerKernelsInit): Promise<Kernels[]> {
  try {
    const all: Kernels[] = [];
    for (const m of init.memories) {
      const kernels = await loadKernels({ module: init.module, relaxedModule: init.relaxedModule, memory: m.memory });
      // every instance starts on the module's one stack: move to our own region
      kernels.moveStack(m.stackTop);
      all.push(kernels);
    }
    return all;
  } catch (e) {
    const ctl = new Int32Array(init.control);
    Atomics.store(ctl, CTL.FAILED, 1);
    Atomics.notify(ctl, CTL.BAR_GEN);
    throw e;
  }
}

/** Each memory's stack region for one worker: malloc'd on the main thread, freed when the pool goes. */
export function workerStacks(kernels: readonly Kernels[], bytes: number): { stacks: { k: Kernels; ptr: number }[]; memories: WorkerKernelsInit['memories'] } {
  const stacks = kernels.map((k) => ({ k, ptr: k.malloc(bytes) }));
  return { stacks, memories: stacks.map(({ k, ptr }) => ({ memory: k.memory, stackTop: (ptr + bytes) & ~15 })) };
}
