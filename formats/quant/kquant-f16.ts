// Private stand-in for formats/f16.ts (being written elsewhere): IEEE half
// conversions, round to nearest even like x86 F16C. Delete this file and
// import from '../f16.js' once that exists.

const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);

/** float32 (given as a number, rounded to float32 first) -> f16 bits, RNE. */
export function fp32ToFp16(x: number): number {
  f[0] = x;
  const b = u[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 | (mant >>> 13) : 0x7c00);
  const e = exp - 112; // f16 biased exponent
  if (e >= 31) return sign | 0x7c00;
  let v: number;
  let shift: number;
  if (e > 0) {
    // Rounding may carry into the exponent, which is exactly the right answer
    // (up to 0x7c00 = infinity).
    v = (e << 10) | (mant >>> 13);
    shift = 13;
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (v & 1))) v++;
    return sign | v;
  }
  if (e < -10) return sign; // below half the smallest subnormal
  shift = 14 - e;
  const full = mant | 0x800000;
  v = full >>> shift;
  const rem = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (v & 1))) v++;
  return sign | v;
}

/** f16 bits -> value (exact). */
export function fp16ToFp32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1024 + m) * 2 ** (e - 25);
}
