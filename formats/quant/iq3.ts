// The 3-bit grid i-quants (256-element super-blocks, one f16 scale d):
// every 4 values are one point of a lattice table (formats/quant/iq-grids.ts).
// Dequantizers, equal to ggml's dequantize_row_iq3_* bit for bit (the
// quantizers are in iq-grid-quantize.ts).
//
// block_iq3_xxs (98 bytes): d, 64 8-bit grid indices (one per 4 values),
//   then per group of 32 a u32: four 7-bit sign indices (ksigns, one per 8
//   values) and a 4-bit scale s in bits 28-31; value = d * (0.5 + s) / 2 *
//   grid * sign.
// block_iq3_s (110 bytes): d, 64 low index bytes, 8 bytes qh (the 9th index
//   bit, one byte per 32 values), 32 bytes of explicit 8-bit signs, 4 bytes
//   of two 4-bit scales s per 64 values; value = d * (1 + 2s) * grid * sign.

import { GGMLType } from '../ggml-types.js';
import { IQ3S_GRID, IQ3XXS_GRID } from './iq-grids.js';
import { KSIGNS_IQ2XS } from './iq-signs.js';
import { checkSizes, f32, readF16 } from './kquant-common.js';

export const IQ3_XXS_BLOCK_BYTES = 98;
export const IQ3_S_BLOCK_BYTES = 110;

const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** Eight values from grid points p1 (values 0-3) and p2 (4-7), sign bits `signs`, times db. */
function put8(dst: Float32Array, o: number, grid: Uint8Array, p1: number, p2: number, signs: number, db: number): void {
  for (let j = 0; j < 4; j++) {
    const a = f32(db * grid[4 * p1 + j]!);
    const b = f32(db * grid[4 * p2 + j]!);
    dst[o + j] = signs & (1 << j) ? -a : a;
    dst[o + j + 4] = signs & (1 << (j + 4)) ? -b : b;
  }
}

/** dequantize_row_iq3_xxs. */
function dequantizeIq3Xxs(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('iq3_xxs', dst.length, src.length, IQ3_XXS_BLOCK_BYTES);
  let o = 0;
  for (let i = 0; i < nb; i++) {
    const b = i * IQ3_XXS_BLOCK_BYTES;
    const d = readF16(src, b);
    for (let ib = 0; ib < 8; ib++) {
      const aux = u32(src, b + 66 + 4 * ib);
      const db = f32(f32(d * (0.5 + (aux >>> 28))) * 0.5);
      const qs = b + 2 + 8 * ib;
      for (let l = 0; l < 4; l++, o += 8) {
        put8(dst, o, IQ3XXS_GRID, src[qs + 2 * l]!, src[qs + 2 * l + 1]!, KSIGNS_IQ2XS[(aux >>> (7 * l)) & 127]!, db);
      }
    }
  }
}

/** dequantize_row_iq3_s. */
function dequantizeIq3S(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('iq3_s', dst.length, src.length, IQ3_S_BLOCK_BYTES);
  let o = 0;
  for (let i = 0; i < nb; i++) {
    const b = i * IQ3_S_BLOCK_BYTES;
    const d = readF16(src, b);
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[b + 106 + (ib >> 1)]!;
      const db = f32(d * (1 + 2 * (ib & 1 ? sc >> 4 : sc & 0xf)));
      const qh = src[b + 66 + ib]!;
      const qs = b + 2 + 8 * ib;
      for (let l = 0; l < 4; l++, o += 8) {
        const p1 = src[qs + 2 * l]! | ((qh << (8 - 2 * l)) & 256);
        const p2 = src[qs + 2 * l + 1]! | ((qh << (7 - 2 * l)) & 256);
        put8(dst, o, IQ3S_GRID, p1, p2, src[b + 74 + 4 * ib + l]!, db);
      }
    }
  }
}

export const IQ3_DEQUANTIZERS: Partial<Record<GGMLType, (src: Uint8Array, dst: Float32Array) => void>> = {
  [GGMLType.IQ3_XXS]: dequantizeIq3Xxs,
  [GGMLType.IQ3_S]: dequantizeIq3S,
};
