// IEEE binary16 (f16) and bfloat16 (bf16) <-> binary32 conversions, bit for
// bit as ggml and kernels/common.h do them.
//
// f32 -> f16 rounds to nearest even (x86 F16C's vcvtps2ph, and the same
// rounding as ggml's GGML_FP32_TO_FP16), overflows to inf from 65520 up, and
// keeps subnormal halves. A nan becomes a quiet nan that keeps the top 10
// payload bits, as F16C and common.h's fp32_to_fp16 do; ggml's portable C
// fallback (ggml-impl.h) instead returns 0x7E00 | sign for every nan. Only nan
// payloads differ between the two, and no quantizer stores a nan on purpose.
//
// f32 -> bf16 is ggml_compute_fp32_to_bf16: round to nearest even on the top
// 16 bits, nan -> (bits >> 16) | 0x40 (quiet, sign and top payload kept),
// subnormals not flushed, values that round past the largest bf16 become inf.
//
// The scalar functions take and return JS numbers; a number cannot carry a
// nan payload reliably, so the *Bits variants and the array helpers work on
// raw bit patterns and are exact for every input, nans included.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary32 bit pattern of `x` rounded to float32. */
export function fp32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/** The float32 value of a 32-bit pattern (a nan's payload is not kept). */
export function fp32FromBits(w: number): number {
  u32[0] = w;
  return f32[0]!;
}

/** f32 bit pattern -> f16 bit pattern, round to nearest even. */
export function fp32BitsToFp16(w: number): number {
  const sign = (w >>> 16) & 0x8000;
  const a = w & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00 | ((a >>> 13) & 0x3ff);
  if (a >= 0x477ff000) return sign | 0x7c00; // 65520 = 65504 + half an ulp: ties to even go up, to inf
  const e = a >>> 23;
  if (e < 113) {
    // Result is a subnormal half (or rounds up to the smallest normal, 0x0400,
    // which the carry out of the mantissa produces by itself). Count in units
    // of 2^-24: the f32 significand `full` is worth full * 2^(e - 150), so
    // shift it right by 126 - e and round the bits shifted out.
    if (e < 102) return sign; // below 2^-25 (half a unit): rounds to zero
    const full = (a & 0x7fffff) | 0x800000;
    const shift = 126 - e; // 14..24
    const q = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (q + (rem > half || (rem === half && (q & 1)) ? 1 : 0));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa
  // bits to even by adding just under half (0xfff) plus the kept lowest bit.
  // A carry out of the mantissa bumps the exponent, which is the right answer;
  // it cannot reach the inf encoding since |x| < 65520 here.
  const r = a - (112 << 23) + 0xfff + ((a >>> 13) & 1);
  return sign | (r >>> 13);
}

/** f16 bit pattern -> f32 bit pattern, exact (subnormals, inf, nan payload). */
export function fp16BitsToFp32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return (sign | 0x7f800000 | (m << 13)) >>> 0;
  if (e !== 0) return (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
  if (m === 0) return sign >>> 0;
  // Subnormal half m * 2^-24: its top set bit p is worth 2^(p - 24), so the
  // f32 exponent is p - 24 + 127 and the bits below p become the mantissa.
  const p = 31 - Math.clz32(m);
  return (sign | ((p + 103) << 23) | ((m ^ (1 << p)) << (23 - p))) >>> 0;
}

/** f32 value -> f16 bits, round to nearest even (x is rounded to f32 first). */
export function fp32ToFp16(x: number): number {
  return fp32BitsToFp16(fp32Bits(x));
}

/** f16 bits -> its exact value. */
export function fp16ToFp32(h: number): number {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1024 + m) * 2 ** (e - 25);
}

/** f32 bit pattern -> bf16 bit pattern (ggml_compute_fp32_to_bf16). */
export function fp32BitsToBf16(w: number): number {
  w >>>= 0;
  if ((w & 0x7fffffff) > 0x7f800000) return ((w >>> 16) | 0x40) & 0xffff;
  // At most 0xff800000 + 0x8000 for -inf: no overflow past 2^32 in doubles.
  return ((w + 0x7fff + ((w >>> 16) & 1)) >>> 16) & 0xffff;
}

/** f32 value -> bf16 bits, round to nearest even (x is rounded to f32 first). */
export function fp32ToBf16(x: number): number {
  return fp32BitsToBf16(fp32Bits(x));
}

/** bf16 bits -> its exact value. */
export function bf16ToFp32(h: number): number {
  return fp32FromBits((h & 0xffff) << 16);
}

// --- arrays: bit-exact, nans included ----------------------------------------

/** Converts every element of `src` to f16 bits. */
export function fp32ToFp16Array(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  const w = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < w.length; i++) dst[i] = fp32BitsToFp16(w[i]!);
  return dst;
}

/** Expands f16 bits to f32, exactly. */
export function fp16ToFp32Array(src: Uint16Array, dst = new Float32Array(src.length)): Float32Array {
  const w = new Uint32Array(dst.buffer, dst.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) w[i] = fp16BitsToFp32Bits(src[i]!);
  return dst;
}

/** Converts every element of `src` to bf16 bits. */
export function fp32ToBf16Array(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  const w = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < w.length; i++) dst[i] = fp32BitsToBf16(w[i]!);
  return dst;
}

/** Expands bf16 bits to f32, exactly. */
export function bf16ToFp32Array(src: Uint16Array, dst = new Float32Array(src.length)): Float32Array {
  const w = new Uint32Array(dst.buffer, dst.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) w[i] = src[i]! << 16;
  return dst;
}
