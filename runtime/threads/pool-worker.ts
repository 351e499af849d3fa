// A browser worker of pool-web.ts: its own instance of the kernels on the
// shared memory, with its own stack, running its share of every phase.
import type { BoundPhase } from '../graph/exec.js';
import { serveJobs } from './control.js';
import type { PoolWorkerInit, PoolWorkerPlan } from './pool-web.js';
import { startWorkerKernels, WorkerPlans } from './worker-kernels.js';

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  close(): void;
}
const scope = globalThis as unknown as WorkerScope;

/** This worker's plans, once its kernels are started. */
let plans: WorkerPlans | undefined;
/** Plans that came before the kernels were ready. */
const early: PoolWorkerPlan[] = [];
let waiting: { id: number; resolve: (p: BoundPhase[]) => void } | undefined;

function takePlan(m: PoolWorkerPlan): void {
  if (!plans) {
    early.push(m);
    return;
  }
  plans.take(m);
  const p = waiting && plans.get(waiting.id);
  if (p) {
    const w = waiting!;
    waiting = undefined;
    w.resolve(p);
  }
}

/** A plan not received yet: it is queued behind this turn of the event loop. */
function planArrival(id: number): Promise<BoundPhase[]> {
  return new Promise((resolve) => {
    waiting = { id, resolve };
  });
}

async function serve(init: PoolWorkerInit): Promise<void> {
  const ctl = new Int32Array(init.control);
  const mine = new WorkerPlans(await startWorkerKernels(init));
  plans = mine;
  for (const m of early.splice(0)) takePlan(m);
  scope.postMessage({ type: 'ready' });
  await serveJobs(ctl, init.ith, (id) => mine.get(id) ?? planArrival(id));
  scope.close();
}

scope.addEventListener('message', (e: MessageEvent) => {
  const m = e.data as PoolWorkerInit | PoolWorkerPlan;
  if (m.type === 'plan') {
    takePlan(m);
    return;
  }
  serve(m).catch((err: unknown) => {
    console.error(`run-gguf thread ${m.ith}:`, err);
    scope.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  });
});
