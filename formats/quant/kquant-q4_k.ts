// block_q4_K (144 bytes, 256 elements = 8 sub-blocks of 32):
//   d, dmin     f16 super-block scales for the scales and for the mins
//   scales[12]  eight 6-bit scales and eight 6-bit mins (get_scale_min_k4)
//   qs[128]     4-bit quants
// Element = d*scale*q - dmin*min, q in 0..15.
//
// Quant placement: in each 64-element chunk c, element 64c + l (l < 32) is
// the low nibble of qs[32c + l] and element 64c + 32 + l its high nibble.

import type { BlockCodec } from './codec.js';
import { checkSizes, f32, minK4, nearestInt, packScaleMinK4, QK_K, readF16, scaleK4, toU8, writeF16 } from './kquant-common.js';
import { makeQkx2Quants } from './kquant-search.js';

export const Q4_K_BLOCK_BYTES = 144;
const D = 0;
const DMIN = 2;
const SCALES = 4;
const QS = 16;

/**
 * The part q4_K and q5_K share: per 32-element sub-block, make_qkx2_quants
 * with weights av_x + |x| (av_x = RMS of the sub-block), then the 6-bit
 * scales/mins and d/dmin written into `y`, then every quant re-rounded against
 * the stored scales. Leaves the quants (0..nmax) in L.
 * rmin/nstep differ between the two types: (-1, 20) for q4_K, (-0.5, 15) for q5_K.
 */
export function quantizeK4Scales(
  x: Float32Array, y: Uint8Array, offD: number, offDmin: number, offScales: number,
  nmax: number, rmin: number, nstep: number, L: Uint8Array,
): void {
  const Laux = new Uint8Array(32);
  const weights = new Float32Array(32);
  const mins = new Float32Array(QK_K / 32);
  const scales = new Float32Array(QK_K / 32);
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < QK_K / 32; ++j) {
    const xj = x.subarray(32 * j, 32 * j + 32);
    let sumX2 = 0;
    for (let l = 0; l < 32; ++l) sumX2 = f32(sumX2 + f32(xj[l]! * xj[l]!));
    const avX = f32(Math.sqrt(f32(sumX2 / 32)));
    for (let l = 0; l < 32; ++l) weights[l] = avX + Math.abs(xj[l]!);
    scales[j] = makeQkx2Quants(32, nmax, xj, weights, L.subarray(32 * j), mins, j, Laux, rmin, f32(0.1), nstep, false);
    if (scales[j]! > maxScale) maxScale = scales[j]!;
    if (mins[j]! > maxMin) maxMin = mins[j]!;
  }

  const invScale = maxScale > 0 ? f32(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f32(63 / maxMin) : 0;
  const ls = new Uint8Array(8);
  const lm = new Uint8Array(8);
  for (let j = 0; j < QK_K / 32; ++j) {
    // ggml stores nearest_int into a uint8_t before the MIN, so a negative
    // value wraps (and then clamps to 63).
    ls[j] = Math.min(63, toU8(nearestInt(f32(invScale * scales[j]!))));
    lm[j] = Math.min(63, toU8(nearestInt(f32(invMin * mins[j]!))));
  }
  const sm = y.subarray(offScales, offScales + 12);
  sm.fill(0);
  packScaleMinK4(ls, lm, sm);
  writeF16(y, offD, f32(maxScale / 63));
  writeF16(y, offDmin, f32(maxMin / 63));

  // A sub-block whose scale rounded to 0 keeps the quants from its search.
  const dAll = readF16(y, offD);
  const dminAll = readF16(y, offDmin);
  for (let j = 0; j < QK_K / 32; ++j) {
    const d = f32(dAll * scaleK4(j, sm));
    if (!d) continue;
    const dm = f32(dminAll * minK4(j, sm));
    for (let ii = 0; ii < 32; ++ii) {
      const l = nearestInt(f32(f32(x[32 * j + ii]! + dm) / d));
      L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
    }
  }
}

/** quantize_row_q4_K_ref. */
function quantize(src: Float32Array, dst: Uint8Array): void {
  const nb = checkSizes('q4_K', src.length, dst.length, Q4_K_BLOCK_BYTES);
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const x = src.subarray(i * QK_K, (i + 1) * QK_K);
    const y = dst.subarray(i * Q4_K_BLOCK_BYTES, (i + 1) * Q4_K_BLOCK_BYTES);
    quantizeK4Scales(x, y, D, DMIN, SCALES, 15, -1, 20, L);
    for (let c = 0; c < 4; ++c) {
      for (let l = 0; l < 32; ++l) y[QS + 32 * c + l] = L[64 * c + l]! | (L[64 * c + l + 32]! << 4);
    }
  }
}

/** dequantize_row_q4_K. */
function dequantize(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('q4_K', dst.length, src.length, Q4_K_BLOCK_BYTES);
  let o = 0;
  for (let i = 0; i < nb; i++) {
    const b = i * Q4_K_BLOCK_BYTES;
    const d = readF16(src, b + D);
    const min = readF16(src, b + DMIN);
    const sm = src.subarray(b + SCALES, b + SCALES + 12);
    for (let c = 0; c < 4; ++c) {
      const q = b + QS + 32 * c;
      const d1 = f32(d * scaleK4(2 * c, sm));
      const m1 = f32(min * minK4(2 * c, sm));
      const d2 = f32(d * scaleK4(2 * c + 1, sm));
      const m2 = f32(min * minK4(2 * c + 1, sm));
      for (let l = 0; l < 32; ++l) dst[o++] = f32(d1 * (src[q + l]! & 0xf)) - m1;
      for (let l = 0; l < 32; ++l) dst[o++] = f32(d2 * (src[q + l]! >> 4)) - m2;
    }
  }
}

export const Q4_K_CODEC: BlockCodec = { quantize, dequantize };
