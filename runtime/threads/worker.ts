// A worker thread of the pool: its own instance of the kernels module on the
// shared memory, with its own stack, running its share of every phase.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { bindPlan, type EncodedPlan } from '../graph/exec.js';
import { serveJobs } from './control.js';
import { startWorkerKernels, type WorkerKernelsInit } from './worker-kernels.js';
import { ThreadError } from '../errors.js';

interface WorkerInit extends WorkerKernelsInit {
  ith: number;
  nth: number;
  plans: MessagePort;
}

const init = workerData as WorkerInit;
const ctl = new Int32Array(init.control);
const kernels = await startWorkerKernels(init);
parentPort?.postMessage('ready');
const plans = new Map<number, ReturnType<typeof bindPlan>>();

function planFor(id: number) {
  // plans are posted before the run that needs them starts, so they are queued by now
  for (let msg = receiveMessageOnPort(init.plans); msg; msg = receiveMessageOnPort(init.plans)) {
    const m = msg.message as { id: number; plan?: EncodedPlan };
    if (m.plan) plans.set(m.id, bindPlan(m.plan, kernels));
    else plans.delete(m.id);
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
