// A quantize worker: converts the row ranges the pool posts, one at a time,
// with the formats/ reference quantizers, the i-quants with their C versions
// (wasm-quantizer.ts, loaded once per worker), and hands the bytes back.
import { parentPort } from 'node:worker_threads';
import { convertRowBytes, type RowJob } from '../../formats/quantize/rows.js';
import type { PoolReply, PoolRequest } from './pool.js';
import { WasmQuantizer } from './wasm-quantizer.js';

const port = parentPort!;
// loaded while the first tensors are read; a job waits for it (and fails with its error, if any)
const fast = WasmQuantizer.load();
fast.catch(() => {});
let queue: Promise<void> = Promise.resolve();
port.on('message', ({ id, job }: PoolRequest) => {
  queue = queue.then(async () => {
    let reply: PoolReply;
    try {
      const out = convertRowBytes(job as RowJob, await fast);
      reply = { id, out };
      port.postMessage(reply, [out.buffer as ArrayBuffer]);
    } catch (e) {
      reply = { id, error: e instanceof Error ? e.message : String(e) };
      port.postMessage(reply);
    }
  });
});
