// The row conversion at the heart of quantize, as a pure function of a
// contiguous run of rows: every row depends only on its own bytes and (with
// an imatrix) on the importance of its expert, so any split of a tensor into
// row ranges, converted anywhere (a worker thread, say), gives the same bytes.
import { GGMLType, rowSize } from '../ggml-types.js';
import { dequantizeRow, quantizeRow, quantizeRowWeighted } from '../quant/index.js';

/** A contiguous run of a tensor's rows to convert from `from` to `to`. */
export interface RowJob {
  from: GGMLType;
  to: GGMLType;
  /** Elements per row (the tensor's ne0). */
  ne0: number;
  /** Index of the first row in the tensor: it picks the expert of each row. */
  firstRow: number;
  /** The rows' bytes in `from`, whole rows only. */
  src: Uint8Array;
  /** ne0 weights per expert, experts in order (ggml_quantize_chunk's imatrix); none for plain quantization. */
  importance?: Float32Array;
  /** Rows per expert matrix (ne1): with stacked experts, row r belongs to expert floor(r / ne1) mod n_expert. */
  rowsPerMatrix: number;
}

/** Converts a RowJob's rows somewhere, resolving to the output rows in order. */
export type RowConverter = (job: RowJob) => Promise<Uint8Array>;

/**
 * Quantizes whole runs of rows at once, for the types it handles: the C
 * quantizers (runtime/quantize/wasm-quantizer.ts) behind this interface, so
 * formats/ need not load WebAssembly. Its bytes must be what quantizeRow /
 * quantizeRowWeighted write for every row.
 */
export interface RowsQuantizer {
  handles(type: GGMLType): boolean;
  /** rows.length / ne0 rows; `importance` is ne0 weights shared by every row (absent: quantizeRow's quantizer). */
  quantize(type: GGMLType, rows: Float32Array, ne0: number, importance?: Float32Array): Uint8Array;
}

/**
 * Each row dequantized to f32 and quantized to job.to by the reference (or
 * imatrix) quantizer, or by `fast` for the types it handles (every run of
 * rows of one expert in one call).
 */
export function convertRowBytes(job: RowJob, fast?: RowsQuantizer): Uint8Array {
  const { from, to, ne0, src, importance } = job;
  const inRow = rowSize(from, ne0);
  const outRow = rowSize(to, ne0);
  if (src.length % inRow !== 0) throw new RangeError(`convertRowBytes: ${src.length} bytes are not whole rows of ${inRow}`);
  const n = src.length / inRow;
  const nMatrices = importance ? importance.length / ne0 : 1;
  // an f32 row is read in place when aligned, copied otherwise
  const f32 = from === GGMLType.F32 && src.byteOffset % 4 === 0 ? new Float32Array(src.buffer, src.byteOffset, n * ne0) : undefined;
  const rowOf = (i: number): Float32Array => {
    const bytes = src.subarray(i * inRow, (i + 1) * inRow);
    return f32 ? f32.subarray(i * ne0, (i + 1) * ne0)
      : from === GGMLType.F32 ? new Float32Array(bytes.slice().buffer)
        : dequantizeRow(from, bytes, ne0);
  };
  const expertOf = (i: number): number => Math.floor((job.firstRow + i) / job.rowsPerMatrix) % nMatrices;
  const out = new Uint8Array(n * outRow);
  if (fast?.handles(to)) {
    for (let i0 = 0; i0 < n;) {
      // the run of rows sharing row i0's expert (all of them without an imatrix)
      const e = expertOf(i0);
      let i1 = i0 + 1;
      while (i1 < n && (!importance || expertOf(i1) === e)) i1++;
      let rows: Float32Array;
      if (f32) rows = f32.subarray(i0 * ne0, i1 * ne0);
      else {
        rows = new Float32Array((i1 - i0) * ne0);
        for (let i = i0; i < i1; i++) rows.set(rowOf(i), (i - i0) * ne0);
      }
      out.set(fast.quantize(to, rows, ne0, importance?.subarray(e * ne0, (e + 1) * ne0)), i0 * outRow);
      i0 = i1;
    }
    return out;
  }
  for (let i = 0; i < n; i++) {
    const row = rowOf(i);
    if (importance) {
      out.set(quantizeRowWeighted(to, row, importance.subarray(expertOf(i) * ne0, (expertOf(i) + 1) * ne0)), i * outRow);
    } else {
      out.set(quantizeRow(to, row), i * outRow);
    }
  }
  return out;
}
