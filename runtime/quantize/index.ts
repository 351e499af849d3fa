// quantizeGGUF (formats/quantize) with its rows converted on worker threads.
import { availableParallelism } from 'node:os';
import { quantizeGGUF, type QuantizeFileOptions, type QuantizeResult } from '../../formats/quantize/index.js';
import { convertRowBytes } from '../../formats/quantize/rows.js';
import { QuantizePool } from './pool.js';
import { WasmQuantizer } from './wasm-quantizer.js';
import { MAX_THREADS } from '../graph/ops.js';
import { intOption } from '../options.js';

export { QuantizePool } from './pool.js';
export { QuantizeProgressLine } from './progress.js';
export { WasmQuantizer } from './wasm-quantizer.js';

export interface QuantizeModelOptions extends QuantizeFileOptions {
  /** Threads converting rows (default: the number of cores); 1 converts on the calling thread, with no workers. The i-quants use the C quantizers either way. */
  threads?: number;
}

/** Quantizes `inPath` into `outPath` as quantizeGGUF does, on `threads` threads; the bytes are the same for any count. */
export async function quantizeModel(inPath: string, outPath: string, typeName: string, options: QuantizeModelOptions = {}): Promise<QuantizeResult> {
  const { threads = availableParallelism(), ...rest } = options;
  intOption('threads', threads, 1, MAX_THREADS);
  if (threads === 1) {
    const fast = await WasmQuantizer.load();
    return quantizeGGUF(inPath, outPath, typeName, { ...rest, convertRows: async (job) => convertRowBytes(job, fast) });
  }
  const pool = QuantizePool.start(threads);
  try {
    return await quantizeGGUF(inPath, outPath, typeName, { ...rest, convertRows: pool.convert });
  } finally {
    await pool.close();
  }
}
