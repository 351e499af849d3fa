// block_q6_K (210 bytes, 256 elements = 16 sub-blocks of 16):
//   ql[128]     low 4 bits of each quant
//   qh[64]      high 2 bits of each quant
//   scales[16]  int8 scale per sub-block
//   d           f16 super-block scale
// Element = d*scale*(q - 32), q in 0..63.
//
// Placement: in 128-element half h, element 128h + 32s + l (s = 0..3,
// l < 32) has its low 4 bits in ql[64h + 32*(s&1) + l] (low nibble for
// s < 2, high nibble for s >= 2) and its high 2 bits at bits 2s..2s+1 of
// qh[32h + l].

import type { BlockCodec } from './codec.js';
import { checkSizes, f32, nearestInt, QK_K, readF16, toI8, writeF16 } from './kquant-common.js';
import { makeQxQuants } from './kquant-search.js';

export const Q6_K_BLOCK_BYTES = 210;
const QL = 0;
const QH = 128;
const SCALES = 192;
const D = 208;

const GROUP_MAX_EPS = f32(1e-15);

/** quantize_row_q6_K_ref. */
function quantize(src: Float32Array, dst: Uint8Array): void {
  const nb = checkSizes('q6_K', src.length, dst.length, Q6_K_BLOCK_BYTES);
  const L = new Int8Array(QK_K);
  const scales = new Float32Array(QK_K / 16);

  for (let i = 0; i < nb; i++) {
    const x = src.subarray(i * QK_K, (i + 1) * QK_K);
    const y = dst.subarray(i * Q6_K_BLOCK_BYTES, (i + 1) * Q6_K_BLOCK_BYTES);
    const sc = new Int8Array(y.buffer, y.byteOffset + SCALES, 16);
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < QK_K / 16; ++ib) {
      const scale = makeQxQuants(16, 32, x.subarray(16 * ib, 16 * ib + 16), L.subarray(16 * ib, 16 * ib + 16));
      scales[ib] = scale;
      const absScale = Math.abs(scale);
      if (absScale > maxAbsScale) {
        maxAbsScale = absScale;
        maxScale = scale;
      }
    }

    if (maxAbsScale < GROUP_MAX_EPS) {
      y.fill(0);
      continue;
    }

    const iscale = f32(-128 / maxScale);
    writeF16(y, D, f32(1 / iscale));
    for (let ib = 0; ib < QK_K / 16; ++ib) sc[ib] = toI8(Math.min(127, nearestInt(f32(iscale * scales[ib]!))));

    // Requantize against the rounded scales; a sub-block whose scale rounded
    // to 0 keeps the quants from its search.
    const dAll = readF16(y, D);
    for (let j = 0; j < QK_K / 16; ++j) {
      const d = f32(dAll * sc[j]!);
      if (!d) continue;
      for (let ii = 0; ii < 16; ++ii) {
        const l = nearestInt(f32(x[16 * j + ii]! / d));
        L[16 * j + ii] = Math.max(-32, Math.min(31, l)) + 32;
      }
    }

    for (let h = 0; h < 2; ++h) {
      const j = 128 * h;
      const ql = QL + 64 * h;
      const qh = QH + 32 * h;
      for (let l = 0; l < 32; ++l) {
        const q1 = L[j + l]!;
        const q2 = L[j + l + 32]!;
        const q3 = L[j + l + 64]!;
        const q4 = L[j + l + 96]!;
        y[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        y[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        y[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
}

/** dequantize_row_q6_K. */
function dequantize(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('q6_K', dst.length, src.length, Q6_K_BLOCK_BYTES);
  for (let i = 0; i < nb; i++) {
    const b = i * Q6_K_BLOCK_BYTES;
    const d = readF16(src, b + D);
    const sc = new Int8Array(src.buffer, src.byteOffset + b + SCALES, 16);
    for (let h = 0; h < 2; ++h) {
      const y = 256 * i + 128 * h;
      const ql = b + QL + 64 * h;
      const qh = b + QH + 32 * h;
      const s = 8 * h;
      for (let l = 0; l < 32; ++l) {
        const is = l >> 4;
        const hb = src[qh + l]!;
        const q1 = ((src[ql + l]! & 0xf) | (((hb >> 0) & 3) << 4)) - 32;
        const q2 = ((src[ql + l + 32]! & 0xf) | (((hb >> 2) & 3) << 4)) - 32;
        const q3 = ((src[ql + l]! >> 4) | (((hb >> 4) & 3) << 4)) - 32;
        const q4 = ((src[ql + l + 32]! >> 4) | (((hb >> 6) & 3) << 4)) - 32;
        dst[y + l] = f32(d * sc[s + is]!) * q1;
        dst[y + l + 32] = f32(d * sc[s + is + 2]!) * q2;
        dst[y + l + 64] = f32(d * sc[s + is + 4]!) * q3;
        dst[y + l + 96] = f32(d * sc[s + is + 6]!) * q4;
      }
    }
  }
}

export const Q6_K_CODEC: BlockCodec = { quantize, dequantize };
