// Worker threads for `quantize`, started once per run: each chunk of a
// tensor's rows is cut into one contiguous range per worker, the ranges are
// converted in parallel and put back together in order. Every row's bytes
// depend only on the row (formats/quantize/rows.ts), so the file is the same
// for any number of threads.
import { Worker } from 'node:worker_threads';
import { rowSize } from '../../formats/ggml-types.js';
import type { RowConverter, RowJob } from '../../formats/quantize/rows.js';
import { MAX_THREADS } from '../graph/ops.js';
import { intOption } from '../options.js';

export interface PoolRequest {
  id: number;
  job: RowJob;
}

export type PoolReply = { id: number; out: Uint8Array; error?: undefined } | { id: number; error: string; out?: undefined };

interface Pending {
  resolve: (out: Uint8Array) => void;
  reject: (e: Error) => void;
}

class QuantizeWorker {
  readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  constructor(readonly worker: Worker, index: number) {
    // idle workers must not keep the process alive; busy ones must
    worker.unref();
    worker.on('message', (m: PoolReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.out);
    });
    const fail = (e: Error) => {
      this.failure ??= e;
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
      worker.unref();
    };
    worker.on('error', (e) => fail(new Error(`quantize worker ${index} failed: ${e.message}`)));
    worker.on('exit', (code) => fail(new Error(`quantize worker ${index} exited (code ${code})`)));
  }

  run(id: number, job: RowJob): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      const request: PoolRequest = { id, job };
      this.worker.postMessage(request, [job.src.buffer as ArrayBuffer]);
    });
  }
}

/** Posting a view clones its whole buffer: a view into a large one (an imatrix file's) is copied out once. */
const compacted = new WeakMap<Float32Array, Float32Array>();
function compact(v: Float32Array): Float32Array {
  if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) return v;
  let c = compacted.get(v);
  if (!c) compacted.set(v, (c = v.slice()));
  return c;
}

export class QuantizePool {
  private nextId = 0;
  private closed = false;

  private constructor(private readonly workers: QuantizeWorker[]) {}

  /** Starts `nThreads` workers; they load the quantizers while the first tensors are read. */
  static start(nThreads: number): QuantizePool {
    intOption('threads', nThreads, 1, MAX_THREADS);
    const url = new URL('./worker.js', import.meta.url);
    return new QuantizePool(Array.from({ length: nThreads }, (_, i) => new QuantizeWorker(new Worker(url), i)));
  }

  get nThreads(): number {
    return this.workers.length;
  }

  /** A RowConverter for formats/quantize: the job's rows split over the workers. */
  readonly convert: RowConverter = async (job) => {
    if (this.closed) throw new Error('quantize pool is closed');
    const inRow = rowSize(job.from, job.ne0);
    const nRows = job.src.length / inRow;
    const parts = Math.max(1, Math.min(this.workers.length, nRows));
    const base = Math.floor(nRows / parts), extra = nRows % parts;
    const importance = job.importance && compact(job.importance);
    const runs: Promise<Uint8Array>[] = [];
    for (let k = 0, r = 0; k < parts; k++) {
      const n = base + (k < extra ? 1 : 0);
      // a copy of its own, so the worker can take the buffer
      const src = job.src.slice(r * inRow, (r + n) * inRow);
      runs.push(this.workers[k]!.run(this.nextId++, { ...job, firstRow: job.firstRow + r, src, ...(importance ? { importance } : {}) }));
      r += n;
    }
    const outs = await Promise.all(runs);
    if (outs.length === 1) return outs[0]!;
    const out = new Uint8Array(outs.reduce((s, o) => s + o.length, 0));
    let at = 0;
    for (const o of outs) {
      out.set(o, at);
      at += o.length;
    }
    return out;
  };

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
