// block_q3_K (110 bytes, 256 elements = 16 sub-blocks of 16):
//   hmask[32]   high (third) bit of each quant
//   qs[64]      low 2 bits of each quant, placed as in q2_K
//   scales[12]  sixteen 6-bit signed scales, stored +32 (see below)
//   d           f16 super-block scale
// Element = d*(scale - 32)*(q - 4), q = low2 | high << 2 in 0..7.
//
// Scale packing: scale j's low nibble is the low nibble of byte j (j < 8) or
// the high nibble of byte j-8 (j >= 8); its top 2 bits are bits
// 2*(j/4)..2*(j/4)+1 of byte 8 + j%4.
// hmask: element e's high bit is bit (e / 32) of hmask[e % 32].

import type { BlockCodec } from './codec.js';
import { checkSizes, f32, nearestInt, QK_K, readF16, toI8, writeF16 } from './kquant-common.js';
import { makeQ3Quants } from './kquant-search.js';

export const Q3_K_BLOCK_BYTES = 110;
const HMASK = 0;
const QS = 32;
const SCALES = 96;
const D = 108;

/** The signed 6-bit scale j (-32..31) from the 12-byte scales field at s. */
function scaleQ3(b: Uint8Array, s: number, j: number): number {
  const low = j < 8 ? b[s + j]! & 0xf : b[s + j - 8]! >> 4;
  const high = (b[s + 8 + (j % 4)]! >> (2 * (j >> 2))) & 3;
  return (low | (high << 4)) - 32;
}

/** quantize_row_q3_K_ref. */
function quantize(src: Float32Array, dst: Uint8Array): void {
  const nb = checkSizes('q3_K', src.length, dst.length, Q3_K_BLOCK_BYTES);
  const L = new Int8Array(QK_K);
  const scales = new Float32Array(QK_K / 16);

  for (let i = 0; i < nb; i++) {
    const x = src.subarray(i * QK_K, (i + 1) * QK_K);
    const y = dst.subarray(i * Q3_K_BLOCK_BYTES, (i + 1) * Q3_K_BLOCK_BYTES);
    let maxScale = 0;
    let amax = 0;
    for (let j = 0; j < QK_K / 16; ++j) {
      scales[j] = makeQ3Quants(16, 4, x.subarray(16 * j, 16 * j + 16), L.subarray(16 * j, 16 * j + 16));
      const scale = Math.abs(scales[j]!);
      if (scale > amax) {
        amax = scale;
        maxScale = scales[j]!;
      }
    }

    y.fill(0, SCALES, SCALES + 12);
    if (maxScale) {
      const iscale = f32(-32 / maxScale);
      for (let j = 0; j < QK_K / 16; ++j) {
        // ggml rounds into an int8_t before clamping.
        let l = Math.max(-32, Math.min(31, toI8(nearestInt(f32(iscale * scales[j]!))))) + 32;
        if (j < 8) y[SCALES + j] = l & 0xf;
        else y[SCALES + j - 8]! |= (l & 0xf) << 4;
        l >>= 4;
        y[SCALES + 8 + (j % 4)]! |= l << (2 * (j >> 2));
      }
      writeF16(y, D, f32(1 / iscale));
    } else {
      writeF16(y, D, 0);
    }

    // Requantize against the rounded scales; a sub-block whose scale rounded
    // to 0 keeps the quants from its search.
    const dAll = readF16(y, D);
    for (let j = 0; j < QK_K / 16; ++j) {
      const d = f32(dAll * scaleQ3(y, SCALES, j));
      if (!d) continue;
      for (let ii = 0; ii < 16; ++ii) {
        const l = nearestInt(f32(x[16 * j + ii]! / d));
        L[16 * j + ii] = Math.max(-4, Math.min(3, l)) + 4;
      }
    }

    y.fill(0, HMASK, HMASK + 32);
    let m = 0;
    let hm = 1;
    for (let j = 0; j < QK_K; ++j) {
      if (L[j]! > 3) {
        y[HMASK + m]! |= hm;
        L[j] = L[j]! - 4;
      }
      if (++m === QK_K / 8) {
        m = 0;
        hm <<= 1;
      }
    }
    for (let j = 0; j < QK_K; j += 128) {
      for (let l = 0; l < 32; ++l) {
        y[QS + j / 4 + l] = L[j + l]! | (L[j + l + 32]! << 2) | (L[j + l + 64]! << 4) | (L[j + l + 96]! << 6);
      }
    }
  }
}

/** dequantize_row_q3_K. */
function dequantize(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('q3_K', dst.length, src.length, Q3_K_BLOCK_BYTES);
  let o = 0;
  for (let i = 0; i < nb; i++) {
    const b = i * Q3_K_BLOCK_BYTES;
    const dAll = readF16(src, b + D);
    let is = 0;
    let m = 1;
    for (let half = 0; half < 2; ++half) {
      const q = b + QS + 32 * half;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let k = 0; k < 32; k += 16) {
          const dl = f32(dAll * scaleQ3(src, b + SCALES, is++));
          for (let l = 0; l < 16; ++l) {
            const low = (src[q + k + l]! >> shift) & 3;
            const high = src[b + HMASK + k + l]! & m ? 0 : 4;
            dst[o++] = dl * (low - high);
          }
        }
        m <<= 1;
      }
    }
  }
}

export const Q3_K_CODEC: BlockCodec = { quantize, dequantize };
