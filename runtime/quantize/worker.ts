// A quantize worker: converts the row ranges the pool posts, one at a time,
// with the formats/ reference quantizers, and hands the bytes back.
import { parentPort } from 'node:worker_threads';
import { convertRowBytes, type RowJob } from '../../formats/quantize/rows.js';
import type { PoolReply, PoolRequest } from './pool.js';

const port = parentPort!;
port.on('message', ({ id, job }: PoolRequest) => {
  let reply: PoolReply;
  try {
    const out = convertRowBytes(job as RowJob);
    reply = { id, out };
    port.postMessage(reply, [out.buffer as ArrayBuffer]);
  } catch (e) {
    reply = { id, error: e instanceof Error ? e.message : String(e) };
    port.postMessage(reply);
  }
});
