// block_q8_K (292 bytes, 256 elements): the activation format k-quant dot
// products use.
//   d          float32 scale
//   qs[256]    int8 quants
//   bsums[16]  int16 sum of each 16 consecutive quants (lets a dot product
//              with q2_K..q5_K apply the per-sub-block min in one multiply)
// Element = d*q.

import { signedAbsMax } from './block-max.js';
import type { BlockCodec } from './codec.js';
import { checkSizes, f32, nearestInt, QK_K } from './kquant-common.js';

export const Q8_K_BLOCK_BYTES = 292;
const D = 0;
const QS = 4;
const BSUMS = 260;

/** quantize_row_q8_K_ref. */
function quantize(src: Float32Array, dst: Uint8Array): void {
  const nb = checkSizes('q8_K', src.length, dst.length, Q8_K_BLOCK_BYTES);
  const view = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let i = 0; i < nb; i++) {
    const x = src.subarray(i * QK_K, (i + 1) * QK_K);
    const b = i * Q8_K_BLOCK_BYTES;
    const max = signedAbsMax(x, 0, QK_K);
    if (!max) {
      // ggml zeroes d and qs and leaves bsums as they were; we write the
      // true sums (0) so the output does not depend on the buffer's history.
      dst.fill(0, b, b + Q8_K_BLOCK_BYTES);
      continue;
    }
    // -127 rather than -128 keeps every quant in [-127, 127] (ggml changed
    // this for the IQ2 dot products); the sign makes the largest-magnitude
    // element quantize to -127.
    const iscale = f32(-127 / max);
    for (let j = 0; j < QK_K; ++j) view.setInt8(b + QS + j, Math.min(127, nearestInt(f32(iscale * x[j]!))));
    for (let j = 0; j < QK_K / 16; ++j) {
      let sum = 0;
      for (let ii = 0; ii < 16; ++ii) sum += view.getInt8(b + QS + 16 * j + ii);
      view.setInt16(b + BSUMS + 2 * j, sum, true);
    }
    view.setFloat32(b + D, f32(1 / iscale), true);
  }
}

/** dequantize_row_q8_K. */
function dequantize(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('q8_K', dst.length, src.length, Q8_K_BLOCK_BYTES);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let i = 0; i < nb; i++) {
    const b = i * Q8_K_BLOCK_BYTES;
    const d = view.getFloat32(b + D, true);
    for (let j = 0; j < QK_K; ++j) dst[QK_K * i + j] = d * view.getInt8(b + QS + j);
  }
}

export const Q8_K_CODEC: BlockCodec = { quantize, dequantize };
