// block_q2_K (84 bytes, 256 elements = 16 sub-blocks of 16):
//   scales[16]  low nibble: 4-bit scale, high nibble: 4-bit min, per sub-block
//   qs[64]      2-bit quants, four per byte (see below)
//   d, dmin     f16 super-block scales for the scales and for the mins
// Element = d*(scales & 0xF)*q - dmin*(scales >> 4), q in 0..3.
//
// Quant placement: the block is two halves of 128; in half h, element
// 128*h + 32*s + l (s = 0..3, l = 0..31) sits in bits 2s..2s+1 of
// qs[32*h + l].

import type { BlockCodec } from './codec.js';
import { checkSizes, f32, nearestInt, QK_K, readF16, toU8, writeF16 } from './kquant-common.js';
import { makeQkx2Quants } from './kquant-search.js';

export const Q2_K_BLOCK_BYTES = 84;
const SCALES = 0;
const QS = 16;
const D = 80;
const DMIN = 82;

/** quantize_row_q2_K_ref. */
function quantize(src: Float32Array, dst: Uint8Array): void {
  const nb = checkSizes('q2_K', src.length, dst.length, Q2_K_BLOCK_BYTES);
  const L = new Uint8Array(QK_K);
  const Laux = new Uint8Array(16);
  const weights = new Float32Array(16);
  const mins = new Float32Array(QK_K / 16);
  const scales = new Float32Array(QK_K / 16);
  const q4scale = 15;

  for (let i = 0; i < nb; i++) {
    const x = src.subarray(i * QK_K, (i + 1) * QK_K);
    const y = dst.subarray(i * Q2_K_BLOCK_BYTES, (i + 1) * Q2_K_BLOCK_BYTES);
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < QK_K / 16; ++j) {
      const xj = x.subarray(16 * j, 16 * j + 16);
      for (let l = 0; l < 16; ++l) weights[l] = Math.abs(xj[l]!);
      scales[j] = makeQkx2Quants(16, 3, xj, weights, L.subarray(16 * j), mins, j, Laux, -0.5, f32(0.1), 15, true);
      if (scales[j]! > maxScale) maxScale = scales[j]!;
      if (mins[j]! > maxMin) maxMin = mins[j]!;
    }

    if (maxScale > 0) {
      const iscale = f32(q4scale / maxScale);
      for (let j = 0; j < QK_K / 16; ++j) y[SCALES + j] = toU8(nearestInt(f32(iscale * scales[j]!)));
      writeF16(y, D, f32(maxScale / q4scale));
    } else {
      y.fill(0, SCALES, SCALES + 16);
      writeF16(y, D, 0);
    }
    if (maxMin > 0) {
      const iscale = f32(q4scale / maxMin);
      for (let j = 0; j < QK_K / 16; ++j) y[SCALES + j] = toU8(y[SCALES + j]! | (nearestInt(f32(iscale * mins[j]!)) << 4));
      writeF16(y, DMIN, f32(maxMin / q4scale));
    } else {
      writeF16(y, DMIN, 0);
    }

    // Requantize against the rounded scales. A sub-block whose scale rounded
    // to 0 keeps the quants from its search, as ggml does.
    const dAll = readF16(y, D);
    const dminAll = readF16(y, DMIN);
    for (let j = 0; j < QK_K / 16; ++j) {
      const d = f32(dAll * (y[SCALES + j]! & 0xf));
      if (!d) continue;
      const dm = f32(dminAll * (y[SCALES + j]! >> 4));
      for (let ii = 0; ii < 16; ++ii) {
        const l = nearestInt(f32(f32(x[16 * j + ii]! + dm) / d));
        L[16 * j + ii] = Math.max(0, Math.min(3, l));
      }
    }

    for (let j = 0; j < QK_K; j += 128) {
      for (let l = 0; l < 32; ++l) {
        y[QS + j / 4 + l] = L[j + l]! | (L[j + l + 32]! << 2) | (L[j + l + 64]! << 4) | (L[j + l + 96]! << 6);
      }
    }
  }
}

/** dequantize_row_q2_K. */
function dequantize(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('q2_K', dst.length, src.length, Q2_K_BLOCK_BYTES);
  let o = 0;
  for (let i = 0; i < nb; i++) {
    const b = i * Q2_K_BLOCK_BYTES;
    const d = readF16(src, b + D);
    const min = readF16(src, b + DMIN);
    let is = 0;
    for (let half = 0; half < 2; ++half) {
      const q = b + QS + 32 * half;
      for (let shift = 0; shift < 8; shift += 2) {
        // Each 32-byte run of qs holds two sub-blocks (bytes 0-15, 16-31).
        for (let k = 0; k < 32; k += 16) {
          const sc = src[b + SCALES + is++]!;
          const dl = f32(d * (sc & 0xf));
          const ml = f32(min * (sc >> 4));
          for (let l = 0; l < 16; ++l) dst[o++] = f32(dl * ((src[q + k + l]! >> shift) & 3)) - ml;
        }
      }
    }
  }
}

export const Q2_K_CODEC: BlockCodec = { quantize, dequantize };
