// The 2-bit grid i-quants (256-element super-blocks, one f16 scale d):
// every 8 values are one point of a lattice table (formats/quant/iq-grids.ts)
// times a sign pattern, times a per-group scale. Dequantizers, equal to
// ggml's dequantize_row_iq2_* bit for bit (the quantizers, which take an
// importance matrix, are in iq-grid-quantize.ts).
//
// block_iq2_xxs (66 bytes): d, then 8 groups of 32 values in 8 bytes each:
//   bytes 0-3 are four 8-bit grid indices (one per 8 values); the u32 in
//   bytes 4-7 holds four 7-bit sign indices (bits 7l..7l+6) and a 4-bit
//   scale s in bits 28-31; value = d * (0.5 + s) / 4 * grid * sign.
// block_iq2_xs (74 bytes): d, 32 u16 (9-bit grid index, 7-bit sign index),
//   then 8 bytes of two 4-bit scales per group of 32 (low nibble: first 16).
// block_iq2_s (82 bytes): d, 32 bytes of low 8 index bits, 32 bytes of
//   explicit 8-bit signs, 8 bytes qh (2 high index bits per 8 values), 8
//   bytes of scales as iq2_xs.

import { GGMLType } from '../ggml-types.js';
import { IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID } from './iq-grids.js';
import { checkSizes, f32, readF16 } from './kquant-common.js';
import { KSIGNS_IQ2XS } from './iq-signs.js';

export const IQ2_XXS_BLOCK_BYTES = 66;
export const IQ2_XS_BLOCK_BYTES = 74;
export const IQ2_S_BLOCK_BYTES = 82;

const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** Eight values of grid point `p` with sign bits `signs`, times `db`, to dst[o..o+8). */
function put8(dst: Float32Array, o: number, grid: Uint8Array, p: number, signs: number, db: number): void {
  for (let j = 0; j < 8; j++) {
    const v = f32(db * grid[8 * p + j]!);
    dst[o + j] = signs & (1 << j) ? -v : v;
  }
}

/** dequantize_row_iq2_xxs. */
function dequantizeIq2Xxs(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('iq2_xxs', dst.length, src.length, IQ2_XXS_BLOCK_BYTES);
  let o = 0;
  for (let i = 0; i < nb; i++) {
    const b = i * IQ2_XXS_BLOCK_BYTES;
    const d = readF16(src, b);
    for (let ib = 0; ib < 8; ib++) {
      const q = b + 2 + 8 * ib;
      const aux = u32(src, q + 4);
      const db = f32(f32(d * (0.5 + (aux >>> 28))) * 0.25);
      for (let l = 0; l < 4; l++, o += 8) put8(dst, o, IQ2XXS_GRID, src[q + l]!, KSIGNS_IQ2XS[(aux >>> (7 * l)) & 127]!, db);
    }
  }
}

/** dequantize_row_iq2_xs. */
function dequantizeIq2Xs(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('iq2_xs', dst.length, src.length, IQ2_XS_BLOCK_BYTES);
  let o = 0;
  for (let i = 0; i < nb; i++) {
    const b = i * IQ2_XS_BLOCK_BYTES;
    const d = readF16(src, b);
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[b + 66 + ib]!;
      const db = [f32(f32(d * (0.5 + (sc & 0xf))) * 0.25), f32(f32(d * (0.5 + (sc >> 4))) * 0.25)];
      for (let l = 0; l < 4; l++, o += 8) {
        const qo = b + 2 + 2 * (4 * ib + l);
        const q = src[qo]! | (src[qo + 1]! << 8);
        put8(dst, o, IQ2XS_GRID, q & 511, KSIGNS_IQ2XS[q >> 9]!, db[l >> 1]!);
      }
    }
  }
}

/** dequantize_row_iq2_s. */
function dequantizeIq2S(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('iq2_s', dst.length, src.length, IQ2_S_BLOCK_BYTES);
  let o = 0;
  for (let i = 0; i < nb; i++) {
    const b = i * IQ2_S_BLOCK_BYTES;
    const d = readF16(src, b);
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[b + 74 + ib]!;
      const qh = src[b + 66 + ib]!;
      const db = [f32(f32(d * (0.5 + (sc & 0xf))) * 0.25), f32(f32(d * (0.5 + (sc >> 4))) * 0.25)];
      for (let l = 0; l < 4; l++, o += 8) {
        const p = src[b + 2 + 4 * ib + l]! | ((qh << (8 - 2 * l)) & 0x300);
        put8(dst, o, IQ2S_GRID, p, src[b + 34 + 4 * ib + l]!, db[l >> 1]!);
      }
    }
  }
}

export const IQ2_DEQUANTIZERS: Partial<Record<GGMLType, (src: Uint8Array, dst: Float32Array) => void>> = {
  [GGMLType.IQ2_XXS]: dequantizeIq2Xxs,
  [GGMLType.IQ2_XS]: dequantizeIq2Xs,
  [GGMLType.IQ2_S]: dequantizeIq2S,
};
