// The ternary types (BitNet b1.58, TriLM): every element is d * t with t in
// {-1, 0, 1}, one f16 d per 256-element super-block.
//
// tq2_0  qs[64], d       2 bits per element, t + 1 stored: byte 32c + m holds
//                        element 128c + 32l + m at bits 2l..2l+1 (l = 0..3).
// tq1_0  qs[48], qh[4], d   5 trits per byte in qs, 4 in qh, stored as a
//                        fixed-point fraction of 3^5: the byte is
//                        ceil(v * 256 / 243) for the base-3 number v of the
//                        trits (t + 1, first element most significant, qh's
//                        four shifted up one trit), so multiplying the byte
//                        by 3^n (mod 256) brings trit n to the top, and
//                        (b * 3) >> 8 reads it. Element order: qs[m] for
//                        m < 32 holds elements m + 32n (n = 0..4), qs[32 + m]
//                        (m < 16) elements 160 + m + 16n, qh[j] elements
//                        240 + j + 4n (n = 0..3).
//
// The quantizers are quantize_row_tq1_0_ref / quantize_row_tq2_0_ref:
// d = max |x|, t = lroundf(x / d) (x * (1/d) in float32). ggml has no imatrix
// variant (quantize_tq*_0 ignores the weights).

import { GGMLType, QK_K } from '../ggml-types.js';
import { fp16ToFp32, fp32ToFp16 } from '../f16.js';
import { absMax } from './block-max.js';
import type { BlockCodec } from './codec.js';

const f32 = Math.fround;
const TQ1_BYTES = 48 + 4 + 2;
const TQ2_BYTES = 64 + 2;
const POW3 = [1, 3, 9, 27, 81, 243] as const;

function blockCount(name: string, n: number, bytes: number, typeSize: number): number {
  if (n % QK_K !== 0) throw new RangeError(`${name}: ${n} elements is not a multiple of ${QK_K}`);
  const nb = n / QK_K;
  if (bytes < nb * typeSize) throw new RangeError(`${name}: ${n} elements need ${nb * typeSize} bytes, got ${bytes}`);
  return nb;
}

/**
 * lroundf(v) + 1 as the low byte of the C long: halves away from zero; nan
 * and out-of-range values give LONG_MIN on x86-64, whose low byte is 0.
 */
function trit(v: number): number {
  if (!(Math.abs(v) < 2 ** 63)) return 1;
  const r = v < 0 ? -Math.floor(0.5 - v) : Math.floor(v + 0.5);
  return ((r & 0xff) + 1) & 0xff; // r is an exact integer: & takes it modulo 2^32
}

/** The block's scale d = MAX over |x| (C's macro: a nan wins), its f16 stored at dst[dOff], and 1/d. */
function scaleOf(src: Float32Array, x: number, dst: Uint8Array, dOff: number): number {
  const amax = absMax(src, x, QK_K);
  const h = fp32ToFp16(amax);
  dst[dOff] = h & 0xff;
  dst[dOff + 1] = h >>> 8;
  return amax !== 0 ? f32(1 / amax) : 0;
}

/** ceil(v * 256 / 243) of the base-3 number v, kept to a byte as ggml's uint8_t does. */
const packTrits = (v: number): number => (((v & 0xff) * 256 + 242) / 243) & 0xff;

function quantizeTq1(src: Float32Array, dst: Uint8Array): void {
  const nb = blockCount('tq1_0', src.length, dst.length, TQ1_BYTES);
  for (let i = 0; i < nb; i++) {
    const y = i * TQ1_BYTES;
    let x = i * QK_K;
    const id = scaleOf(src, x, dst, y + 52);
    // qs[0..32): 5 trits each, along 32 elements
    for (let m = 0; m < 32; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = (q * 3 + trit(f32(src[x + m + 32 * n]! * id))) & 0xff;
      dst[y + m] = packTrits(q);
    }
    x += 160;
    for (let m = 0; m < 16; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = (q * 3 + trit(f32(src[x + m + 16 * n]! * id))) & 0xff;
      dst[y + 32 + m] = packTrits(q);
    }
    x += 80;
    for (let j = 0; j < 4; j++) {
      let q = 0;
      for (let m = 0; m < 4; m++) q = (q * 3 + trit(f32(src[x + j + 4 * m]! * id))) & 0xff;
      dst[y + 48 + j] = packTrits(q * 3);
    }
  }
}

/** Trit n (0 = most significant) of a packed byte: 0, 1 or 2. */
const readTrit = (b: number, n: number): number => (((b * POW3[n]!) & 0xff) * 3) >> 8;

function dequantizeTq1(src: Uint8Array, dst: Float32Array): void {
  const nb = blockCount('tq1_0', dst.length, src.length, TQ1_BYTES);
  for (let i = 0; i < nb; i++) {
    const b = i * TQ1_BYTES;
    const d = fp16ToFp32(src[b + 52]! | (src[b + 53]! << 8));
    let y = i * QK_K;
    for (let n = 0; n < 5; n++) for (let m = 0; m < 32; m++) dst[y++] = f32((readTrit(src[b + m]!, n) - 1) * d);
    for (let n = 0; n < 5; n++) for (let m = 0; m < 16; m++) dst[y++] = f32((readTrit(src[b + 32 + m]!, n) - 1) * d);
    for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) dst[y++] = f32((readTrit(src[b + 48 + j]!, n) - 1) * d);
  }
}

function quantizeTq2(src: Float32Array, dst: Uint8Array): void {
  const nb = blockCount('tq2_0', src.length, dst.length, TQ2_BYTES);
  for (let i = 0; i < nb; i++) {
    const y = i * TQ2_BYTES;
    const x = i * QK_K;
    const id = scaleOf(src, x, dst, y + 64);
    for (let c = 0; c < 2; c++) {
      for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let l = 0; l < 4; l++) q += (trit(f32(src[x + 128 * c + 32 * l + m]! * id)) & 3) << (2 * l);
        dst[y + 32 * c + m] = q & 0xff;
      }
    }
  }
}

function dequantizeTq2(src: Uint8Array, dst: Float32Array): void {
  const nb = blockCount('tq2_0', dst.length, src.length, TQ2_BYTES);
  for (let i = 0; i < nb; i++) {
    const b = i * TQ2_BYTES;
    const d = fp16ToFp32(src[b + 64]! | (src[b + 65]! << 8));
    let y = i * QK_K;
    for (let c = 0; c < 2; c++) {
      for (let l = 0; l < 4; l++) {
        for (let m = 0; m < 32; m++) dst[y++] = f32((((src[b + 32 * c + m]! >> (2 * l)) & 3) - 1) * d);
      }
    }
  }
}

export const TERNARY_CODECS: Partial<Record<GGMLType, BlockCodec>> = {
  [GGMLType.TQ1_0]: { quantize: quantizeTq1, dequantize: dequantizeTq1 },
  [GGMLType.TQ2_0]: { quantize: quantizeTq2, dequantize: dequantizeTq2 },
};
