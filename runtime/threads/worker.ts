// A worker thread of the Node pool (pool.ts): its own instance of the kernels
// module on the shared memory, with its own stack, running its share of every phase.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { serveJobs } from './control.js';
import type { NodeWorkerInit } from './pool.js';
import { startWorkerKernels, WorkerPlans, type PlanMessage } from './worker-kernels.js';
import { ThreadError } from '../errors.js';

const init = workerData as NodeWorkerInit;
const ctl = new Int32Array(init.control);
const plans = new WorkerPlans(await startWorkerKernels(init));
parentPort?.postMessage('ready');

function planFor(id: number) {
  // plans are posted before the run that needs them starts, so they are queued by now
  for (let msg = receiveMessageOnPort(init.plans); msg; msg = receiveMessageOnPort(init.plans)) {
    plans.take(msg.message as PlanMessage);
  }
  const p = plans.get(id);
  if (!p) throw new ThreadError(`worker ${init.ith}: plan ${id} never arrived`);
  return p;
}

try {
  await serveJobs(ctl, init.ith, planFor);
} catch (e) {
  console.error(`run-gguf worker ${init.ith}:`, e);
}
process.exit(0);
