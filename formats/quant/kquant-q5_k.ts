// block_q5_K (176 bytes, 256 elements = 8 sub-blocks of 32):
//   d, dmin     f16 super-block scales for the scales and for the mins
//   scales[12]  eight 6-bit scales and eight 6-bit mins (as q4_K)
//   qh[32]      fifth bit of each quant
//   qs[128]     low 4 bits, placed as in q4_K
// Element = d*scale*q - dmin*min, q in 0..31.
//
// High bits: in 64-element chunk c, element 64c + l (l < 32) has its fifth
// bit at bit 2c of qh[l], element 64c + 32 + l at bit 2c + 1.

import type { BlockCodec } from './codec.js';
import { checkSizes, f32, minK4, QK_K, readF16, scaleK4 } from './kquant-common.js';
import { quantizeK4Scales } from './kquant-q4_k.js';

export const Q5_K_BLOCK_BYTES = 176;
const D = 0;
const DMIN = 2;
const SCALES = 4;
const QH = 16;
const QS = 48;

/** quantize_row_q5_K_ref. */
function quantize(src: Float32Array, dst: Uint8Array): void {
  const nb = checkSizes('q5_K', src.length, dst.length, Q5_K_BLOCK_BYTES);
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const x = src.subarray(i * QK_K, (i + 1) * QK_K);
    const y = dst.subarray(i * Q5_K_BLOCK_BYTES, (i + 1) * Q5_K_BLOCK_BYTES);
    quantizeK4Scales(x, y, D, DMIN, SCALES, 31, -0.5, 15, L);
    y.fill(0, QH, QH + 32);
    for (let c = 0; c < 4; ++c) {
      const m1 = 1 << (2 * c);
      const m2 = m1 << 1;
      for (let j = 0; j < 32; ++j) {
        let l1 = L[64 * c + j]!;
        if (l1 > 15) {
          l1 -= 16;
          y[QH + j]! |= m1;
        }
        let l2 = L[64 * c + j + 32]!;
        if (l2 > 15) {
          l2 -= 16;
          y[QH + j]! |= m2;
        }
        y[QS + 32 * c + j] = l1 | (l2 << 4);
      }
    }
  }
}

/** dequantize_row_q5_K. */
function dequantize(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('q5_K', dst.length, src.length, Q5_K_BLOCK_BYTES);
  let o = 0;
  for (let i = 0; i < nb; i++) {
    const b = i * Q5_K_BLOCK_BYTES;
    const d = readF16(src, b + D);
    const min = readF16(src, b + DMIN);
    const sm = src.subarray(b + SCALES, b + SCALES + 12);
    for (let c = 0; c < 4; ++c) {
      const ql = b + QS + 32 * c;
      const u1 = 1 << (2 * c);
      const u2 = u1 << 1;
      const d1 = f32(d * scaleK4(2 * c, sm));
      const m1 = f32(min * minK4(2 * c, sm));
      const d2 = f32(d * scaleK4(2 * c + 1, sm));
      const m2 = f32(min * minK4(2 * c + 1, sm));
      for (let l = 0; l < 32; ++l) {
        dst[o++] = f32(d1 * ((src[ql + l]! & 0xf) + (src[b + QH + l]! & u1 ? 16 : 0))) - m1;
      }
      for (let l = 0; l < 32; ++l) {
        dst[o++] = f32(d2 * ((src[ql + l]! >> 4) + (src[b + QH + l]! & u2 ? 16 : 0))) - m2;
      }
    }
  }
}

export const Q5_K_CODEC: BlockCodec = { quantize, dequantize };
