// Pieces every k-quant codec shares: float32 arithmetic as ggml's C does it,
// ggml's nearest_int, f16 fields, and the 6-bit scale packing of q4_K/q5_K.
//
// Why Math.fround everywhere: ggml's reference quantizers compute in float32
// and make choices from the results (comparisons, rounding to integers), so a
// double-precision intermediate can flip a choice and change the bytes. Each
// + - * / sqrt of two float32 values done in double and then rounded once to
// float32 gives exactly the float32 result (53 >= 2*24 + 2), so f32(a op b)
// reproduces C's `a op b` on floats, one operation at a time. The C is
// compiled without FMA contraction (llama.cpp's x64 libggml-base has none in
// these functions), so a*b + c is two roundings here too.

import { QK_K } from '../ggml-types.js';
import { fp16ToFp32, fp32ToFp16 } from '../f16.js';

export { QK_K };

export const f32 = Math.fround;

const magicF = new Float32Array(1);
const magicI = new Int32Array(magicF.buffer);

/**
 * ggml's nearest_int: add 1.5 * 2^23 in float32 so the FPU rounds to an
 * integer (round half to even), then read the integer from the mantissa.
 * For |fval| <= 4194303 (ggml asserts this) it equals round-half-even; it is
 * reproduced bit by bit rather than as a rounding rule so that out-of-range
 * inputs (which ggml does not check in release builds) give what ggml gives.
 * `fval` must already be a float32 value.
 */
export function nearestInt(fval: number): number {
  magicF[0] = fval + 12582912;
  return (magicI[0]! & 0x007fffff) - 0x00400000;
}

/** C's conversion of an int to uint8_t / int8_t (wraps modulo 256). */
export const toU8 = (v: number): number => v & 0xff;
export const toI8 = (v: number): number => (v << 24) >> 24;

export function readF16(b: Uint8Array, off: number): number {
  return fp16ToFp32(b[off]! | (b[off + 1]! << 8));
}

export function writeF16(b: Uint8Array, off: number, x: number): void {
  const h = fp32ToFp16(x);
  b[off] = h & 0xff;
  b[off + 1] = h >>> 8;
}

/**
 * get_scale_min_k4: the 12-byte scales field of q4_K/q5_K holds eight 6-bit
 * scales and eight 6-bit mins. Sub-blocks 0-3 keep their low 6 bits in bytes
 * 0-3 (scale) and 4-7 (min); sub-blocks 4-7 keep their low 4 bits in the
 * nibbles of bytes 8-11 and their top 2 bits in the spare top bits of bytes
 * 0-3 (scale) and 4-7 (min).
 */
export function scaleK4(j: number, q: Uint8Array): number {
  return j < 4 ? q[j]! & 63 : (q[j + 4]! & 0xf) | ((q[j - 4]! >> 6) << 4);
}

export function minK4(j: number, q: Uint8Array): number {
  return j < 4 ? q[j + 4]! & 63 : (q[j + 4]! >> 4) | ((q[j]! >> 6) << 4);
}

/** Inverse of scaleK4/minK4 for 8 pairs of 6-bit values; q must be zeroed. */
export function packScaleMinK4(ls: ArrayLike<number>, lm: ArrayLike<number>, q: Uint8Array): void {
  for (let j = 0; j < 8; ++j) {
    if (j < 4) {
      q[j] = ls[j]!;
      q[j + 4] = lm[j]!;
    } else {
      q[j + 4] = (ls[j]! & 0xf) | ((lm[j]! & 0xf) << 4);
      q[j - 4]! |= (ls[j]! >> 4) << 6;
      q[j]! |= (lm[j]! >> 4) << 6;
    }
  }
}

export function checkSizes(name: string, n: number, bytes: number, typeSize: number): number {
  if (n % QK_K !== 0) throw new RangeError(`${name}: ${n} elements is not a multiple of ${QK_K}`);
  const nb = n / QK_K;
  if (bytes < nb * typeSize) throw new RangeError(`${name}: ${n} elements need ${nb * typeSize} bytes, got ${bytes}`);
  return nb;
}
