// formats/f16.ts against the IEEE rules computed a different way: values
// from sign/exponent/mantissa formulas and rounding done in float64
// arithmetic, never by the bit manipulation the module uses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bf16ToFp32,
  bf16ToFp32Array,
  fp16BitsToFp32Bits,
  fp16ToFp32,
  fp16ToFp32Array,
  fp32Bits,
  fp32BitsToBf16,
  fp32BitsToFp16,
  fp32FromBits,
  fp32ToBf16,
  fp32ToBf16Array,
  fp32ToFp16,
  fp32ToFp16Array,
} from '../formats/f16.js';
import { mulberry32 } from './helpers/rng.js';

const hex = (v: number) => '0x' + (v >>> 0).toString(16);

/** The value of an f16 pattern from the IEEE 754 definition. */
function halfValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * Round the finite value v (a float32) to a float with `bits` significant
 * bits (implicit one included), smallest normal exponent `emin`, round half
 * to even, and overflow to inf at or above `overflow`. All in float64, where
 * every step here is exact (power-of-two scaling, floor, subtraction).
 */
function roundToFormat(v: number, bits: number, emin: number, overflow: number): number {
  if (v === 0) return v;
  const a = Math.abs(v);
  if (a >= overflow) return Math.sign(v) * Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 may be off by one next to powers of two
  if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, emin) - (bits - 1));
  const q = a / ulp;
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  const out = r * ulp;
  return v < 0 ? -out : out; // -0 for a negative value that rounds to zero
}
// f16: 11 bits, normals down to 2^-14, inf from 65504 + half an ulp (16) up
const roundToHalf = (v: number) => roundToFormat(v, 11, -14, 65520);
// bf16: 8 bits, the f32 exponent range (subnormals from 2^-126 down), inf from
// the largest bf16 (2^128 - 2^120) plus half its ulp
const roundToBf16 = (v: number) => roundToFormat(v, 8, -126, 2 ** 128 - 2 ** 119);

test('all 65536 halves convert to the exact f32 value', () => {
  for (let h = 0; h < 0x10000; h++) {
    const want = halfValue(h);
    const got = fp16ToFp32(h);
    if (!Object.is(got, want)) assert.unreachable(`fp16ToFp32(${hex(h)}) = ${got}, want ${want}`);
    const bits = fp16BitsToFp32Bits(h);
    // nan: quiet/signalling bit and payload move up unchanged, sign kept
    const wantBits = Number.isNaN(want) ? ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13) : fp32Bits(want);
    if (bits !== wantBits >>> 0) assert.unreachable(`fp16BitsToFp32Bits(${hex(h)}) = ${hex(bits)}, want ${hex(wantBits)}`);
  }
});

test('every non-nan half round-trips through f32; nans come back quiet', () => {
  for (let h = 0; h < 0x10000; h++) {
    const back = fp32BitsToFp16(fp16BitsToFp32Bits(h));
    const isNan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    const want = isNan ? h | 0x200 : h;
    if (back !== want) assert.unreachable(`${hex(h)} came back as ${hex(back)}`);
  }
});

test('f32 -> f16: named cases (ties, subnormals, limits)', () => {
  // each: value, expected half, why
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [0, 0x0000],
    [-0, 0x8000],
    [65504, 0x7bff], // largest half
    [65519.99609375, 0x7bff], // largest f32 below 65520: rounds down
    [65520, 0x7c00], // tie between 65504 and 65536 (= inf): to even = inf
    [-1e6, 0xfc00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [NaN, 0x7e00], // JS's nan is f32 0x7fc00000: quiet, no payload
    [1 + 2 ** -11, 0x3c00], // tie: to even (down)
    [1 + 3 * 2 ** -11, 0x3c02], // tie: to even (up)
    [1 + 2 ** -11 + 2 ** -23, 0x3c01], // just above the tie
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -14 - 2 ** -25, 0x0400], // tie between the largest subnormal and it: to even (up)
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: to even (0)
    [2 ** -25 + 2 ** -40, 0x0001],
    [3 * 2 ** -25, 0x0002], // 1.5 units: tie to even (2)
    [5 * 2 ** -25, 0x0002], // 2.5 units: tie to even (2)
    [-(2 ** -26), 0x8000], // underflow keeps the sign
    [2 ** -149, 0x0000], // f32 subnormal
  ];
  for (const [v, h] of cases) assert.is(hex(fp32ToFp16(v)), hex(h), `fp32ToFp16(${v})`);
});

test('f32 -> f16 on 3M patterns equals float64 round-half-even', () => {
  const rand = mulberry32(16);
  const u32 = () => (rand() * 2 ** 32) >>> 0;
  const check = (w: number) => {
    const got = fp32BitsToFp16(w);
    if ((w & 0x7fffffff) > 0x7f800000) {
      // nan: quiet bit set, top 10 payload bits and sign kept (F16C, common.h)
      const want = ((w >>> 16) & 0x8000) | 0x7e00 | ((w >>> 13) & 0x3ff);
      if (got !== want) assert.unreachable(`nan ${hex(w)} -> ${hex(got)}, want ${hex(want)}`);
      return;
    }
    const v = fp32FromBits(w);
    const want = roundToHalf(v);
    if (!Object.is(halfValue(got), want)) assert.unreachable(`${hex(w)} (${v}) -> ${hex(got)} = ${halfValue(got)}, want ${want}`);
  };
  // uniformly random bit patterns: mostly far outside the half range
  for (let i = 0; i < 1_000_000; i++) check(u32());
  // exponents around the half range (f32 exponent 95..145), random mantissas
  for (let i = 0; i < 1_000_000; i++) check((u32() & 0x807fffff) | ((95 + Math.floor(rand() * 51)) << 23));
  // the same exponents with the dropped mantissa bits at and next to a tie
  // (low 13 bits for normals; the subnormal range drops more, and its ties
  // are in the named cases and the dense sweep below)
  const lows = [0, 1, 0xfff, 0x1000, 0x1001, 0x1fff];
  for (let i = 0; i < 1_000_000; i++) {
    const e = 95 + Math.floor(rand() * 51);
    check((u32() & 0x807fe000) | (e << 23) | lows[i % lows.length]!);
  }
  // every f32 in [2^-25, 2^-23] with a stride: all subnormal rounding cases
  for (let w = 0x33000000; w <= 0x34000000; w += 61) check(w);
});

test('f32 -> bf16: named cases', () => {
  const cases: [number, number][] = [
    [1, 0x3f80],
    [-1, 0xbf80],
    [1 + 2 ** -8, 0x3f80], // tie: to even (down)
    [1 + 3 * 2 ** -8, 0x3f82], // tie: to even (up)
    [1 + 2 ** -8 + 2 ** -20, 0x3f81],
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
    [NaN, 0x7fc0],
    [fp32FromBits(0x7f7fffff), 0x7f80], // largest f32 rounds up to inf
    [fp32FromBits(0x7f7f7fff), 0x7f7f], // just below the tie: largest bf16
    [2 ** -126, 0x0080],
    [fp32FromBits(0x00010000), 0x0001], // subnormals are kept, not flushed
    [fp32FromBits(0x00008000), 0x0000], // tie: to even (0)
    [fp32FromBits(0x00018000), 0x0002], // tie: to even (2)
    [fp32FromBits(0x80008001), 0x8001],
  ];
  for (const [v, h] of cases) assert.is(hex(fp32ToBf16(v)), hex(h), `fp32ToBf16(${v})`);
  assert.is(bf16ToFp32(0x0001), 2 ** -133);
  assert.is(bf16ToFp32(0xc040), -3);
});

test('f32 -> bf16 on 2M patterns equals float64 round-half-even; nans quiet with sign', () => {
  const rand = mulberry32(30);
  for (let i = 0; i < 2_000_000; i++) {
    // half the draws keep the low 16 bits near a tie
    let w = (rand() * 2 ** 32) >>> 0;
    if (i & 1) w = ((w & 0xffff0000) | [0, 1, 0x7fff, 0x8000, 0x8001, 0xffff][i % 6]!) >>> 0;
    const got = fp32BitsToBf16(w);
    if ((w & 0x7fffffff) > 0x7f800000) {
      const want = (w >>> 16) | 0x40;
      if (got !== want) assert.unreachable(`nan ${hex(w)} -> ${hex(got)}, want ${hex(want)}`);
      continue;
    }
    const v = fp32FromBits(w);
    const want = roundToBf16(v);
    if (!Object.is(bf16ToFp32(got), want)) assert.unreachable(`${hex(w)} (${v}) -> ${hex(got)}, want ${want}`);
  }
});

test('array helpers are bit-exact, nan payloads included', () => {
  const bits = new Uint32Array([0x3f800000, 0x7fa00001, 0xffc00000, 0x80000000, 0x477ff000, 0x33000001]);
  const f = new Float32Array(bits.buffer);
  const h = fp32ToFp16Array(f);
  // 0x7fa00001: signalling nan, payload top bits 0x100 -> quiet 0x7f00
  assert.equal(Array.from(h, hex), ['0x3c00', '0x7f00', '0xfe00', '0x8000', '0x7c00', '0x1'].map(String));
  const back = new Uint32Array(fp16ToFp32Array(h).buffer);
  assert.equal(Array.from(back, hex), ['0x3f800000', '0x7fe00000', '0xffc00000', '0x80000000', '0x7f800000', '0x33800000']);
  const b = fp32ToBf16Array(f);
  assert.equal(Array.from(b, hex), ['0x3f80', '0x7fe0', '0xffc0', '0x8000', '0x4780', '0x3300']);
  assert.equal(Array.from(new Uint32Array(bf16ToFp32Array(b).buffer), hex), [
    '0x3f800000', '0x7fe00000', '0xffc00000', '0x80000000', '0x47800000', '0x33000000',
  ]);
  // a destination view at an offset is filled in place
  const dst = new Uint16Array(8);
  fp32ToFp16Array(new Float32Array([1, 2]), dst.subarray(3, 5));
  assert.equal(Array.from(dst), [0, 0, 0, 0x3c00, 0x4000, 0, 0, 0]);
});

test.run();
