// The start of every pool worker, Node's (worker.ts) and the browser's
// (pool-worker.ts): its own instance of the kernels on each of the model's
// shared memories (one, unless the model is spread over several), each
// moved to this worker's own stack in that memory; and its table of plans.
import { loadKernels, type Kernels } from '../../wasm/loader.js';
import { bindPlan, type BoundPhase, type EncodedPlan } from '../graph/exec.js';
import { CTL } from './control.js';

export interface WorkerKernelsInit {
  module: WebAssembly.Module;
  relaxedModule: WebAssembly.Module | null;
  /** Per memory: the memory and the top of this worker's stack in it. */
  memories: { memory: WebAssembly.Memory; stackTop: number }[];
  control: SharedArrayBuffer;
}

/** What every pool worker starts from (pool-base.ts): its kernels and its place among the threads. */
export interface PoolThreadInit extends WorkerKernelsInit {
  ith: number;
  nth: number;
}

/** A plan for the workers: with `plan` it registers id, without it drops id. */
export interface PlanMessage {
  id: number;
  plan?: EncodedPlan;
}

/** A worker's plans, bound to its own kernels as the pool's plan messages register and drop them. */
export class WorkerPlans {
  private readonly bound = new Map<number, BoundPhase[]>();

  constructor(private readonly kernels: readonly Kernels[]) {}

  take(m: PlanMessage): void {
    if (m.plan) this.bound.set(m.id, bindPlan(m.plan, this.kernels));
    else this.bound.delete(m.id);
  }

  get(id: number): BoundPhase[] | undefined {
    return this.bound.get(id);
  }
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
