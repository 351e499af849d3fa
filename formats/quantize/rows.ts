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

/** Each row dequantized to f32 and quantized to job.to by the reference (or imatrix) quantizer. */
export function convertRowBytes(job: RowJob): Uint8Array {
  const { from, to, ne0, src, importance } = job;
  const inRow = rowSize(from, ne0);
  const outRow = rowSize(to, ne0);
  if (src.length % inRow !== 0) throw new RangeError(`convertRowBytes: ${src.length} bytes are not whole rows of ${inRow}`);
  const n = src.length / inRow;
  const nMatrices = importance ? importance.length / ne0 : 1;
  // an f32 row is read in place when aligned, copied otherwise
  const f32 = from === GGMLType.F32 && src.byteOffset % 4 === 0 ? new Float32Array(src.buffer, src.byteOffset, n * ne0) : undefined;
  const out = new Uint8Array(n * outRow);
  for (let i = 0; i < n; i++) {
    const bytes = src.subarray(i * inRow, (i + 1) * inRow);
    const row = f32 ? f32.subarray(i * ne0, (i + 1) * ne0)
      : from === GGMLType.F32 ? new Float32Array(bytes.slice().buffer)
        : dequantizeRow(from, bytes, ne0);
    if (importance) {
      const expert = Math.floor((job.firstRow + i) / job.rowsPerMatrix) % nMatrices;
      out.set(quantizeRowWeighted(to, row, importance.subarray(expert * ne0, (expert + 1) * ne0)), i * outRow);
    } else {
      out.set(quantizeRow(to, row), i * outRow);
    }
  }
  return out;
}
