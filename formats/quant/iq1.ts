// The 1-bit grid i-quants (256-element super-blocks): every 8 values are one
// point of iq1s_grid (values -1, 0, +1; formats/quant/iq-grids.ts) shifted by
// a delta of +-1/8, times a group scale. Dequantizers, equal to ggml's
// dequantize_row_iq1_* bit for bit (the quantizers are in iq1-quantize.ts).
//
// block_iq1_s (50 bytes): f16 d, 32 low index bytes, 8 u16 qh, one per 32
//   values: bits 3l..3l+2 the high index bits of the l-th 8, bits 12-14 a
//   3-bit scale s, bit 15 the delta's sign; value = d * (2s + 1) * (grid + delta).
// block_iq1_m (56 bytes): 32 low index bytes, 16 bytes qh (per 8 values a
//   nibble: 3 high index bits and the delta's sign), 8 bytes of 3-bit scales
//   (one per 16 values, four per u16), whose spare top nibbles hold the f16
//   super-block scale.

import { fp16ToFp32 } from '../f16.js';
import { GGMLType } from '../ggml-types.js';
import { IQ1S_GRID } from './iq-grids.js';
import { checkSizes, f32, readF16 } from './kquant-common.js';

export const IQ1_S_BLOCK_BYTES = 50;
export const IQ1_M_BLOCK_BYTES = 56;
/** IQ1S_DELTA and IQ1M_DELTA. */
export const IQ1_DELTA = 0.125;

function put8(dst: Float32Array, o: number, p: number, delta: number, dl: number): void {
  for (let j = 0; j < 8; j++) dst[o + j] = f32(dl * (IQ1S_GRID[8 * p + j]! + delta));
}

/** dequantize_row_iq1_s. */
function dequantizeIq1S(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('iq1_s', dst.length, src.length, IQ1_S_BLOCK_BYTES);
  let o = 0;
  for (let i = 0; i < nb; i++) {
    const b = i * IQ1_S_BLOCK_BYTES;
    const d = readF16(src, b);
    for (let ib = 0; ib < 8; ib++) {
      const qh = src[b + 34 + 2 * ib]! | (src[b + 35 + 2 * ib]! << 8);
      const dl = f32(d * (2 * ((qh >> 12) & 7) + 1));
      const delta = qh & 0x8000 ? -IQ1_DELTA : IQ1_DELTA;
      for (let l = 0; l < 4; l++, o += 8) put8(dst, o, src[b + 2 + 4 * ib + l]! | (((qh >> (3 * l)) & 7) << 8), delta, dl);
    }
  }
}

/** dequantize_row_iq1_m. */
function dequantizeIq1M(src: Uint8Array, dst: Float32Array): void {
  const nb = checkSizes('iq1_m', dst.length, src.length, IQ1_M_BLOCK_BYTES);
  let o = 0;
  for (let i = 0; i < nb; i++) {
    const b = i * IQ1_M_BLOCK_BYTES;
    const sc = [0, 1, 2, 3].map((k) => src[b + 48 + 2 * k]! | (src[b + 49 + 2 * k]! << 8));
    const d = fp16ToFp32((sc[0]! >> 12) | ((sc[1]! >> 8) & 0x00f0) | ((sc[2]! >> 4) & 0x0f00) | (sc[3]! & 0xf000));
    for (let ib = 0; ib < 8; ib++) {
      const s = sc[ib >> 1]! >> (6 * (ib & 1));
      const dl1 = f32(d * (2 * (s & 7) + 1));
      const dl2 = f32(d * (2 * ((s >> 3) & 7) + 1));
      const qs = b + 4 * ib;
      const h0 = src[b + 32 + 2 * ib]!;
      const h1 = src[b + 33 + 2 * ib]!;
      const idx = [
        src[qs]! | ((h0 << 8) & 0x700), src[qs + 1]! | ((h0 << 4) & 0x700),
        src[qs + 2]! | ((h1 << 8) & 0x700), src[qs + 3]! | ((h1 << 4) & 0x700),
      ];
      const delta = [h0 & 0x08, h0 & 0x80, h1 & 0x08, h1 & 0x80].map((m) => (m ? -IQ1_DELTA : IQ1_DELTA));
      for (let l = 0; l < 4; l++, o += 8) put8(dst, o, idx[l]!, delta[l]!, l < 2 ? dl1 : dl2);
    }
  }
}

export const IQ1_DEQUANTIZERS: Partial<Record<GGMLType, (src: Uint8Array, dst: Float32Array) => void>> = {
  [GGMLType.IQ1_S]: dequantizeIq1S,
  [GGMLType.IQ1_M]: dequantizeIq1M,
};
