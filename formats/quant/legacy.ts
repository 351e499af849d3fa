// The legacy 32-element block quants: q4_0, q4_1, q5_0, q5_1, q8_0, q8_1.
// Quantizers follow ggml's quantize_row_*_ref bit for bit, dequantizers
// dequantize_row_* (q8_1 has none in ggml: it only ever feeds dot products,
// so its dequantize here is the plain d * qs those dots mean).
//
// Block layouts (all little-endian, f16 scales):
//   q4_0  d, qs[16]            x = d * (q - 8),   q = 4 bits
//   q4_1  d, m, qs[16]         x = d * q + m,     q = 4 bits
//   q5_0  d, qh[4], qs[16]     x = d * (q - 16),  q = 5 bits
//   q5_1  d, m, qh[4], qs[16]  x = d * q + m,     q = 5 bits
//   q8_0  d, qs[32]            x = d * q,         q = int8
//   q8_1  d, s, qs[32]         x = d * q,         s = d * sum(q) (for the q4_1/q5_1 dots)
// In the 4- and 5-bit types, byte j of qs holds element j in its low nibble
// and element j + 16 in its high nibble; bit j of qh (a little-endian uint32)
// is the fifth bit of element j.
//
// Why the care with float32: ggml computes in float32 and rounds to integers
// from the results, so every float operation here is rounded with Math.fround
// one at a time (exact emulation, as in kquant-common.ts). ggml-base is built
// without FMA contraction, so x*id + 8.5f is two roundings there too.

import { GGMLType } from '../ggml-types.js';
import { fp16ToFp32, fp32ToFp16 } from '../f16.js';
import { absMax, signedAbsMax } from './block-max.js';
import type { BlockCodec } from './codec.js';

const f32 = Math.fround;
const FLT_MAX = 3.4028234663852886e38;

const QK4_0 = 32;
const QK4_1 = 32;
const QK5_0 = 32;
const QK5_1 = 32;
const QK8_0 = 32;
const QK8_1 = 32;

const Q4_0_BYTES = 2 + QK4_0 / 2;
const Q4_1_BYTES = 4 + QK4_1 / 2;
const Q5_0_BYTES = 2 + 4 + QK5_0 / 2;
const Q5_1_BYTES = 4 + 4 + QK5_1 / 2;
const Q8_0_BYTES = 2 + QK8_0;
const Q8_1_BYTES = 4 + QK8_1;

// --- C's conversions, as gcc does them on x86-64 ------------------------------

/**
 * float -> int as cvttss2si does it: truncate toward zero; nan and values
 * outside int32 give INT32_MIN. Conversions to int8_t/uint8_t go through this
 * 32-bit result and keep its low byte. ggml never hits the out-of-range cases
 * with finite inputs; they are undefined behaviour in C, mirrored here as x86
 * runs them so that odd inputs (inf, nan) still give what llama.cpp's files hold.
 */
function cvtt(v: number): number {
  return v > -2147483649 && v < 2147483648 ? Math.trunc(v) : -2147483648;
}
const toI8 = (v: number): number => (v << 24) >> 24;
const toU8 = (v: number): number => v & 0xff;

/** C's roundf: halves away from zero. `v + 0.5` is exact in double for any float32 that can round to nonzero. */
function roundf(v: number): number {
  return v < 0 ? -Math.floor(0.5 - v) : Math.floor(v + 0.5);
}

function readF16(b: Uint8Array, off: number): number {
  return fp16ToFp32(b[off]! | (b[off + 1]! << 8));
}

function writeF16(b: Uint8Array, off: number, x: number): void {
  const h = fp32ToFp16(x);
  b[off] = h & 0xff;
  b[off + 1] = h >>> 8;
}

function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = v >>> 24;
}

function blockCount(name: string, n: number, bytes: number, qk: number, typeSize: number): number {
  if (n % qk !== 0) throw new RangeError(`${name}: ${n} elements is not a multiple of ${qk}`);
  const nb = n / qk;
  if (bytes < nb * typeSize) throw new RangeError(`${name}: ${n} elements need ${nb * typeSize} bytes, got ${bytes}`);
  return nb;
}

/** min and max of a block for the affine types, with ggml's starting values. */
function minMax(x: Float32Array, o: number, qk: number): [number, number] {
  let min = FLT_MAX;
  let max = -FLT_MAX;
  for (let j = 0; j < qk; j++) {
    const v = x[o + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

// C's `d ? 1.0f/d : 0.0f`: a nan d is true in C (falsy in JS), hence !== 0.
const inverse = (d: number): number => (d !== 0 ? f32(1 / d) : 0);

// --- q4_0 ---------------------------------------------------------------------

function quantizeQ4_0(src: Float32Array, dst: Uint8Array): void {
  const nb = blockCount('q4_0', src.length, dst.length, QK4_0, Q4_0_BYTES);
  for (let i = 0; i < nb; i++) {
    const x = i * QK4_0;
    const y = i * Q4_0_BYTES;
    const d = f32(signedAbsMax(src, x, QK4_0) / -8);
    const id = inverse(d);
    writeF16(dst, y, d);
    for (let j = 0; j < QK4_0 / 2; j++) {
      const x0 = f32(src[x + j]! * id);
      const x1 = f32(src[x + QK4_0 / 2 + j]! * id);
      // (int8_t)(x + 8.5f) truncates, so this is round-half-up of x + 8
      const xi0 = toU8(Math.min(15, toI8(cvtt(f32(x0 + 8.5)))));
      const xi1 = toU8(Math.min(15, toI8(cvtt(f32(x1 + 8.5)))));
      dst[y + 2 + j] = xi0 | (xi1 << 4);
    }
  }
}

function dequantizeQ4_0(src: Uint8Array, dst: Float32Array): void {
  const nb = blockCount('q4_0', dst.length, src.length, QK4_0, Q4_0_BYTES);
  for (let i = 0; i < nb; i++) {
    const x = i * Q4_0_BYTES;
    const y = i * QK4_0;
    const d = readF16(src, x);
    for (let j = 0; j < QK4_0 / 2; j++) {
      const q = src[x + 2 + j]!;
      dst[y + j] = ((q & 0x0f) - 8) * d;
      dst[y + QK4_0 / 2 + j] = ((q >> 4) - 8) * d;
    }
  }
}

// --- q4_1 ---------------------------------------------------------------------

function quantizeQ4_1(src: Float32Array, dst: Uint8Array): void {
  const nb = blockCount('q4_1', src.length, dst.length, QK4_1, Q4_1_BYTES);
  for (let i = 0; i < nb; i++) {
    const x = i * QK4_1;
    const y = i * Q4_1_BYTES;
    const [min, max] = minMax(src, x, QK4_1);
    const d = f32(f32(max - min) / 15);
    const id = inverse(d);
    writeF16(dst, y, d);
    writeF16(dst, y + 2, min);
    for (let j = 0; j < QK4_1 / 2; j++) {
      const x0 = f32(f32(src[x + j]! - min) * id);
      const x1 = f32(f32(src[x + QK4_1 / 2 + j]! - min) * id);
      const xi0 = toU8(Math.min(15, toI8(cvtt(f32(x0 + 0.5)))));
      const xi1 = toU8(Math.min(15, toI8(cvtt(f32(x1 + 0.5)))));
      dst[y + 4 + j] = xi0 | (xi1 << 4);
    }
  }
}

function dequantizeQ4_1(src: Uint8Array, dst: Float32Array): void {
  const nb = blockCount('q4_1', dst.length, src.length, QK4_1, Q4_1_BYTES);
  for (let i = 0; i < nb; i++) {
    const x = i * Q4_1_BYTES;
    const y = i * QK4_1;
    const d = readF16(src, x);
    const m = readF16(src, x + 2);
    for (let j = 0; j < QK4_1 / 2; j++) {
      const q = src[x + 4 + j]!;
      // q * d is exact in float32 (4 + 11 significant bits): one rounding, as in C
      dst[y + j] = (q & 0x0f) * d + m;
      dst[y + QK4_1 / 2 + j] = (q >> 4) * d + m;
    }
  }
}

// --- q5_0 ---------------------------------------------------------------------

function quantizeQ5_0(src: Float32Array, dst: Uint8Array): void {
  const nb = blockCount('q5_0', src.length, dst.length, QK5_0, Q5_0_BYTES);
  for (let i = 0; i < nb; i++) {
    const x = i * QK5_0;
    const y = i * Q5_0_BYTES;
    const d = f32(signedAbsMax(src, x, QK5_0) / -16);
    const id = inverse(d);
    writeF16(dst, y, d);
    let qh = 0;
    for (let j = 0; j < QK5_0 / 2; j++) {
      const x0 = f32(src[x + j]! * id);
      const x1 = f32(src[x + QK5_0 / 2 + j]! * id);
      const xi0 = toU8(Math.min(31, toI8(cvtt(f32(x0 + 16.5)))));
      const xi1 = toU8(Math.min(31, toI8(cvtt(f32(x1 + 16.5)))));
      dst[y + 6 + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4);
      qh |= ((xi0 & 0x10) >> 4) << j;
      qh |= ((xi1 & 0x10) >> 4) << (j + QK5_0 / 2);
    }
    writeU32(dst, y + 2, qh);
  }
}

function dequantizeQ5_0(src: Uint8Array, dst: Float32Array): void {
  const nb = blockCount('q5_0', dst.length, src.length, QK5_0, Q5_0_BYTES);
  for (let i = 0; i < nb; i++) {
    const x = i * Q5_0_BYTES;
    const y = i * QK5_0;
    const d = readF16(src, x);
    const qh = readU32(src, x + 2);
    for (let j = 0; j < QK5_0 / 2; j++) {
      const q = src[x + 6 + j]!;
      const h0 = ((qh >>> j) & 1) << 4;
      const h1 = ((qh >>> (j + 16)) & 1) << 4;
      dst[y + j] = (((q & 0x0f) | h0) - 16) * d;
      dst[y + QK5_0 / 2 + j] = (((q >> 4) | h1) - 16) * d;
    }
  }
}

// --- q5_1 ---------------------------------------------------------------------

function quantizeQ5_1(src: Float32Array, dst: Uint8Array): void {
  const nb = blockCount('q5_1', src.length, dst.length, QK5_1, Q5_1_BYTES);
  for (let i = 0; i < nb; i++) {
    const x = i * QK5_1;
    const y = i * Q5_1_BYTES;
    const [min, max] = minMax(src, x, QK5_1);
    const d = f32(f32(max - min) / 31);
    const id = inverse(d);
    writeF16(dst, y, d);
    writeF16(dst, y + 2, min);
    let qh = 0;
    for (let j = 0; j < QK5_1 / 2; j++) {
      const x0 = f32(f32(src[x + j]! - min) * id);
      const x1 = f32(f32(src[x + QK5_1 / 2 + j]! - min) * id);
      // no MIN(31, ...) in ggml here: (x - min) * id stays below 31.5
      const xi0 = toU8(cvtt(f32(x0 + 0.5)));
      const xi1 = toU8(cvtt(f32(x1 + 0.5)));
      dst[y + 8 + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4);
      qh |= ((xi0 & 0x10) >> 4) << j;
      qh |= ((xi1 & 0x10) >> 4) << (j + QK5_1 / 2);
    }
    writeU32(dst, y + 4, qh);
  }
}

function dequantizeQ5_1(src: Uint8Array, dst: Float32Array): void {
  const nb = blockCount('q5_1', dst.length, src.length, QK5_1, Q5_1_BYTES);
  for (let i = 0; i < nb; i++) {
    const x = i * Q5_1_BYTES;
    const y = i * QK5_1;
    const d = readF16(src, x);
    const m = readF16(src, x + 2);
    const qh = readU32(src, x + 4);
    for (let j = 0; j < QK5_1 / 2; j++) {
      const q = src[x + 8 + j]!;
      const h0 = ((qh >>> j) & 1) << 4;
      const h1 = ((qh >>> (j + 16)) & 1) << 4;
      // q * d exact in float32 (5 + 11 bits): one rounding, as in C
      dst[y + j] = ((q & 0x0f) | h0) * d + m;
      dst[y + QK5_1 / 2 + j] = ((q >> 4) | h1) * d + m;
    }
  }
}

// --- q8_0, q8_1 -----------------------------------------------------------------

function quantizeQ8_0(src: Float32Array, dst: Uint8Array): void {
  const nb = blockCount('q8_0', src.length, dst.length, QK8_0, Q8_0_BYTES);
  for (let i = 0; i < nb; i++) {
    const x = i * QK8_0;
    const y = i * Q8_0_BYTES;
    const d = f32(absMax(src, x, QK8_0) / 127);
    const id = inverse(d);
    writeF16(dst, y, d);
    for (let j = 0; j < QK8_0; j++) dst[y + 2 + j] = toU8(cvtt(roundf(f32(src[x + j]! * id))));
  }
}

function quantizeQ8_1(src: Float32Array, dst: Uint8Array): void {
  const nb = blockCount('q8_1', src.length, dst.length, QK8_1, Q8_1_BYTES);
  for (let i = 0; i < nb; i++) {
    const x = i * QK8_1;
    const y = i * Q8_1_BYTES;
    const d = f32(absMax(src, x, QK8_1) / 127);
    const id = inverse(d);
    writeF16(dst, y, d);
    let sum = 0;
    for (let j = 0; j < QK8_1; j++) {
      const q = toI8(cvtt(roundf(f32(src[x + j]! * id))));
      dst[y + 4 + j] = toU8(q);
      sum += q;
    }
    // s from the unrounded float d, not from the f16 d just stored
    writeF16(dst, y + 2, f32(sum * d));
  }
}

/** dequantize_row_q8_0; q8_1 shares it, skipping its s. */
function dequantizeQ8(name: string, qOff: number, blockBytes: number) {
  return (src: Uint8Array, dst: Float32Array): void => {
    const nb = blockCount(name, dst.length, src.length, 32, blockBytes);
    for (let i = 0; i < nb; i++) {
      const x = i * blockBytes;
      const d = readF16(src, x);
      for (let j = 0; j < 32; j++) dst[i * 32 + j] = toI8(src[x + qOff + j]!) * d;
    }
  };
}

export const LEGACY_CODECS: Partial<Record<GGMLType, BlockCodec>> = {
  [GGMLType.Q4_0]: { quantize: quantizeQ4_0, dequantize: dequantizeQ4_0 },
  [GGMLType.Q4_1]: { quantize: quantizeQ4_1, dequantize: dequantizeQ4_1 },
  [GGMLType.Q5_0]: { quantize: quantizeQ5_0, dequantize: dequantizeQ5_0 },
  [GGMLType.Q5_1]: { quantize: quantizeQ5_1, dequantize: dequantizeQ5_1 },
  [GGMLType.Q8_0]: { quantize: quantizeQ8_0, dequantize: dequantizeQ8('q8_0', 2, Q8_0_BYTES) },
  [GGMLType.Q8_1]: { quantize: quantizeQ8_1, dequantize: dequantizeQ8('q8_1', 4, Q8_1_BYTES) },
};
