// The legacy 32-element block quantizers ggml runs with an importance matrix:
// quantize_row_q{4_0,4_1,5_0,5_1}_impl (ggml-quants.c). Instead of the
// block's max (q4_0/q5_0) or its min and max (q4_1/q5_1), the scale (and
// min) come from a search weighted by imatrix[column] * sqrt(sigma2 + x^2),
// sigma2 being the mean square of the whole row. Block layouts in legacy.ts.

import { f32, toU8, writeF16 } from './kquant-common.js';
import { makeQkx3Quants, makeQxQuantsWeighted } from './weighted-search.js';

const QK = 32;
const RMIN = f32(-0.9);
const RDELTA = f32(0.05);

function blocks(name: string, n: number, bytes: number, blockBytes: number): number {
  if (n % QK !== 0) throw new RangeError(`${name}: ${n} elements is not a multiple of ${QK}`);
  const nb = n / QK;
  if (bytes < nb * blockBytes) throw new RangeError(`${name}: ${n} elements need ${nb * blockBytes} bytes, got ${bytes}`);
  return nb;
}

/** sigma2 = sum(x^2) / n_per_row over the whole row, in float. */
function rowSigma2(x: Float32Array): number {
  let s = 0;
  for (let j = 0; j < x.length; ++j) s = f32(s + f32(x[j]! * x[j]!));
  return f32(s / x.length);
}

function blockWeights(x: Float32Array, qw: Float32Array, o: number, sigma2: number, out: Float32Array): void {
  for (let j = 0; j < QK; ++j) out[j] = f32(qw[o + j]! * f32(Math.sqrt(f32(sigma2 + f32(x[o + j]! * x[o + j]!)))));
}

/** bit j of the little-endian uint32 qh: the fifth bit of element j. */
function pack5(L: ArrayLike<number>, y: Uint8Array, qhAt: number, qsAt: number): void {
  let qh = 0;
  for (let j = 0; j < 16; ++j) {
    const x0 = toU8(L[j]!);
    const x1 = toU8(L[j + 16]!);
    y[qsAt + j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
    qh |= ((x0 & 0x10) >> 4) << j;
    qh |= ((x1 & 0x10) >> 4) << (j + 16);
  }
  y[qhAt] = qh & 0xff;
  y[qhAt + 1] = (qh >>> 8) & 0xff;
  y[qhAt + 2] = (qh >>> 16) & 0xff;
  y[qhAt + 3] = qh >>> 24;
}

/** low nibbles of elements 0..15, high nibbles of 16..31: q4_0's and q4_1's qs[16]. */
function pack4(L: ArrayLike<number>, y: Uint8Array, qsAt: number): void {
  for (let j = 0; j < 16; ++j) y[qsAt + j] = toU8(L[j]! | (L[j + 16]! << 4));
}

type Quantize = (x: Float32Array, dst: Uint8Array, qw: Float32Array) => void;

/**
 * q4_0 (d @0, qs[16] @2) and q5_0 (d @0, qh @2, qs[16] @6): one scale from
 * make_qx_quants' weighted search over [-nmax, nmax-1].
 */
function symmetric(name: string, blockBytes: number, nmax: number, pack: (L: Int8Array, y: Uint8Array, at: number) => void): Quantize {
  return (x, dst, qw) => {
    const nb = blocks(name, x.length, dst.length, blockBytes);
    const sigma2 = rowSigma2(x);
    const weight = new Float32Array(QK);
    const L = new Int8Array(QK);
    for (let ib = 0; ib < nb; ++ib) {
      blockWeights(x, qw, QK * ib, sigma2, weight);
      const d = makeQxQuantsWeighted(QK, nmax, x.subarray(QK * ib), L, weight);
      const y = blockBytes * ib;
      writeF16(dst, y, d);
      pack(L, dst, y + 2);
    }
  };
}

/**
 * q4_1 (d @0, m @2, qs[16] @4) and q5_1 (d @0, m @2, qh @4, qs[16] @8): scale
 * and min from make_qkx3_quants over [0, nmax].
 */
function affine(name: string, blockBytes: number, nmax: number, pack: (L: Uint8Array, y: Uint8Array, at: number) => void): Quantize {
  return (x, dst, qw) => {
    const nb = blocks(name, x.length, dst.length, blockBytes);
    const sigma2 = rowSigma2(x);
    const weight = new Float32Array(QK);
    const L = new Uint8Array(QK);
    const Laux = new Uint8Array(QK);
    const min = new Float32Array(1);
    for (let ib = 0; ib < nb; ++ib) {
      blockWeights(x, qw, QK * ib, sigma2, weight);
      const d = makeQkx3Quants(QK, nmax, x.subarray(QK * ib), weight, L, min, 0, Laux, RMIN, RDELTA, 36, false);
      const y = blockBytes * ib;
      writeF16(dst, y, d);
      writeF16(dst, y + 2, -min[0]!);
      pack(L, dst, y + 4);
    }
  };
}

export const LEGACY_WEIGHTED = {
  quantizeQ4_0: symmetric('q4_0', 18, 8, pack4),
  quantizeQ4_1: affine('q4_1', 20, 15, pack4),
  quantizeQ5_0: symmetric('q5_0', 22, 16, (L, y, at) => pack5(L, y, at, at + 4)),
  quantizeQ5_1: affine('q5_1', 24, 31, (L, y, at) => pack5(L, y, at, at + 4)),
} as const;
