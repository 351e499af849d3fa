// Scalar reference codecs for f32/f16/bf16 and the legacy block quants
// (formats/quant/floats.ts, legacy.ts) and the dot oracle (dot.ts).
// Expected bytes are worked by hand from ggml's rules (quantize_row_*_ref,
// dequantize_row_*), never taken from the codecs' own output. Byte-for-byte
// agreement with ggml's own quantize_row_*_ref/dequantize_row_*, compiled with
// gcc, was checked once outside the repository on 200K mixed random blocks
// (all identical); these tests pin the rules down without needing ggml.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { dequantizeRow, quantizeRow } from '../formats/quant/index.js';
import { quantizeActivation, referenceVecDot } from '../formats/quant/dot.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const T = GGMLType;
const LEGACY = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q8_1] as const;
const name = (t: GGMLType) => ggmlTypeInfo(t)!.name;
const hexBytes = (b: Uint8Array) => Array.from(b, (v) => v.toString(16).padStart(2, '0')).join(' ');
const ramp = () => Float32Array.from({ length: 32 }, (_, i) => i - 16);

function rmse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s / a.length);
}

// --- (a) error on Gaussian data -------------------------------------------

test('round-trip error on 64K Gaussian values: bounded, and as uniform rounding noise predicts', () => {
  const x = gaussian(mulberry32(1), 65536, 1);
  // The quant step of each block, from the type's rule: with errors uniform
  // in +-step/2 the RMSE would be sqrt(mean(step^2 / 12)). Measured is a bit
  // below (the extreme element of each block is exact): 0.96-1.0 of it on
  // several seeds. A wrong rounding (truncation) or scale would move it far.
  const step: Record<number, (amax: number, min: number, max: number) => number> = {
    [T.Q4_0]: (amax) => amax / 8,
    [T.Q4_1]: (_, min, max) => (max - min) / 15,
    [T.Q5_0]: (amax) => amax / 16,
    [T.Q5_1]: (_, min, max) => (max - min) / 31,
    [T.Q8_0]: (amax) => amax / 127,
    [T.Q8_1]: (amax) => amax / 127,
  };
  // measured (seed 1): q4_0 0.0849, q4_1 0.0772, q5_0 0.0421, q5_1 0.0374,
  // q8_0 0.00527, f16 2.06e-4, bf16 1.65e-3; bounds about 20% above.
  const bound: Record<number, number> = {
    [T.Q4_0]: 0.102, [T.Q4_1]: 0.093, [T.Q5_0]: 0.051, [T.Q5_1]: 0.045,
    [T.Q8_0]: 0.0064, [T.Q8_1]: 0.0064, [T.F16]: 2.5e-4, [T.BF16]: 2e-3,
  };
  const rows: string[] = [];
  for (const t of [T.F16, T.BF16, ...LEGACY]) {
    const y = dequantizeRow(t, quantizeRow(t, x), x.length);
    const err = rmse(x, y);
    let ratio = NaN;
    if (step[t]) {
      let predicted = 0;
      for (let b = 0; b < x.length; b += 32) {
        let amax = 0, min = Infinity, max = -Infinity;
        for (let j = b; j < b + 32; j++) {
          amax = Math.max(amax, Math.abs(x[j]!));
          min = Math.min(min, x[j]!);
          max = Math.max(max, x[j]!);
        }
        predicted += (32 * step[t]!(amax, min, max) ** 2) / 12;
      }
      ratio = err / Math.sqrt(predicted / x.length);
      assert.ok(ratio > 0.9 && ratio < 1.05, `${name(t)}: RMSE / uniform-noise prediction = ${ratio}`);
    }
    rows.push(`${name(t).padEnd(5)} rmse ${err.toExponential(3)}  bound ${bound[t]!.toExponential(2)}${step[t] ? `  vs noise model ${ratio.toFixed(3)}` : ''}`);
    assert.ok(err < bound[t]!, `${name(t)}: rmse ${err} >= ${bound[t]}`);
  }
  console.log(rows.join('\n'));
  // f32 is the identity, bits included
  const y = dequantizeRow(T.F32, quantizeRow(T.F32, x), x.length);
  assert.ok(y.every((v, i) => Object.is(v, x[i])));
});

test('f16 and bf16 rows: error within half an ulp of each value', () => {
  const x = gaussian(mulberry32(2), 4096, 10);
  const h = dequantizeRow(T.F16, quantizeRow(T.F16, x), x.length);
  const b = dequantizeRow(T.BF16, quantizeRow(T.BF16, x), x.length);
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    if (a < 2 ** -14) continue; // f16 subnormals have an absolute, not relative, ulp
    assert.ok(Math.abs(h[i]! - x[i]!) <= a * 2 ** -11, `f16 ${x[i]} -> ${h[i]}`);
    assert.ok(Math.abs(b[i]! - x[i]!) <= a * 2 ** -8, `bf16 ${x[i]} -> ${b[i]}`);
  }
});

test("ggml's own acceptance check (test-quantize-fns) passes for every legacy type", () => {
  // ggml: data 0.1 + 2*cos(i), 4096 values; error = sqrt(sum of squares) / n
  // must stay below 0.002 (i.e. RMSE below 0.128)
  const n = 4096;
  const x = Float32Array.from({ length: n }, (_, i) => 0.1 + 2 * Math.cos(i));
  for (const t of [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]) {
    const y = dequantizeRow(t, quantizeRow(t, x), n);
    const err = (rmse(x, y) * Math.sqrt(n)) / n;
    assert.ok(err < 0.002, `${name(t)}: ${err}`);
  }
});

// --- (b) exact bytes on hand-worked blocks ---------------------------------

test('q4_0: the ramp -16..15, worked by hand', () => {
  // max |x| is 16 at x[0] = -16, so max = -16 (signed), d = -16 / -8 = 2,
  // f16 0x4000 -> bytes 00 40. id = 0.5, q = trunc(x/2 + 8.5), clamped to 15:
  //   x = -16 -15 -14 -13 ... -2 -1 |  0  1  2 ... 13 14 15
  //   q =   0   1   1   2 ...  7  8 |  8  9  9 ... 14 15 15(16 clamped)
  // i.e. ties (x odd) round up, and x = 15 hits the MIN(15, .) clamp.
  // Byte j = q[j] | q[j+16] << 4.
  const want = [0x00, 0x40, 0x80, 0x91, 0x91, 0xa2, 0xa2, 0xb3, 0xb3, 0xc4, 0xc4, 0xd5, 0xd5, 0xe6, 0xe6, 0xf7, 0xf7, 0xf8];
  const q = quantizeRow(T.Q4_0, ramp());
  assert.is(hexBytes(q), hexBytes(Uint8Array.from(want)));
  // dequantized: (q - 8) * 2
  const y = dequantizeRow(T.Q4_0, q, 32);
  assert.equal(Array.from(y.subarray(0, 4)), [-16, -14, -14, -12]);
  assert.equal(Array.from(y.subarray(28)), [12, 14, 14, 14]);
});

test('q4_0: d takes the sign of the largest-magnitude value', () => {
  // all 1 except x[9] = -10: max = -10, d = -10 / -8 = 1.25 = f16 0x3d00.
  // id = f32(1 / 1.25) = 0.800000011920929: x = -10 -> -8.0000001 + 8.5 -> 0,
  // x = 1 -> 9.3 -> 9. All nibbles 9 except element 9 (low nibble of byte 9).
  const x = new Float32Array(32).fill(1);
  x[9] = -10;
  const want = [0x00, 0x3d, ...new Array(16).fill(0x99)];
  want[2 + 9] = 0x90;
  assert.is(hexBytes(quantizeRow(T.Q4_0, x)), hexBytes(Uint8Array.from(want)));
  assert.is(dequantizeRow(T.Q4_0, quantizeRow(T.Q4_0, x), 32)[9], -10); // the extreme is exact

  // all -1 except x[20] = +12: d = 12 / -8 = -1.5 = f16 0xbe00; x = 12 -> 0,
  // x = -1 -> 0.667 + 8.5 -> 9. Element 20 is the high nibble of byte 4.
  const z = new Float32Array(32).fill(-1);
  z[20] = 12;
  const wantZ = [0x00, 0xbe, ...new Array(16).fill(0x99)];
  wantZ[2 + 4] = 0x09;
  assert.is(hexBytes(quantizeRow(T.Q4_0, z)), hexBytes(Uint8Array.from(wantZ)));
});

test('all-zero blocks: d = 0 (q4_0, q5_0: -0), quants at the zero point', () => {
  const x = new Float32Array(32);
  // q4_0: max = 0, d = 0 / -8 = -0 in IEEE, stored as f16 0x8000 (ggml does
  // the same); id = 0 since -0 is false, so every q = trunc(8.5) = 8.
  assert.is(hexBytes(quantizeRow(T.Q4_0, x)), hexBytes(Uint8Array.from([0x00, 0x80, ...new Array(16).fill(0x88)])));
  // q5_0: d = 0 / -16 = -0; q = trunc(16.5) = 16: low nibbles 0, every qh bit set
  assert.is(hexBytes(quantizeRow(T.Q5_0, x)), hexBytes(Uint8Array.from([0x00, 0x80, 0xff, 0xff, 0xff, 0xff, ...new Array(16).fill(0)])));
  // q4_1/q5_1: min = max = 0, d = 0, m = 0, q = 0
  assert.is(hexBytes(quantizeRow(T.Q4_1, x)), hexBytes(new Uint8Array(20)));
  assert.is(hexBytes(quantizeRow(T.Q5_1, x)), hexBytes(new Uint8Array(24)));
  // q8_0/q8_1: amax = 0, d = +0
  assert.is(hexBytes(quantizeRow(T.Q8_0, x)), hexBytes(new Uint8Array(34)));
  assert.is(hexBytes(quantizeRow(T.Q8_1, x)), hexBytes(new Uint8Array(36)));
  for (const t of LEGACY) assert.ok(dequantizeRow(t, quantizeRow(t, x), 32).every((v) => v === 0), name(t));
});

test('q8_0 and q8_1: the ramp -16..15, worked by hand', () => {
  // amax = 16, d = f32(16/127) = 0x1.020408p-3; as f16: exponent -3 (biased
  // 12), mantissa bits 0000001000|00 0100 0000 1000 -> 8, below half: 0x3008.
  // id = f32(1/d) rounds to exactly 7.9375 = 127/16, so q = roundf(k * 127/16)
  // for k = x: k = -16 -> -127, -15 -> -119.0625 -> -119, ..., -8 -> -63.5 ->
  // -64 (half away from zero), 8 -> 64, 15 -> 119.
  const q = [-127, -119, -111, -103, -95, -87, -79, -71, -64, -56, -48, -40, -32, -24, -16, -8,
    0, 8, 16, 24, 32, 40, 48, 56, 64, 71, 79, 87, 95, 103, 111, 119];
  const qBytes = q.map((v) => v & 0xff);
  assert.is(hexBytes(quantizeRow(T.Q8_0, ramp())), hexBytes(Uint8Array.from([0x08, 0x30, ...qBytes])));
  // q8_1 adds s = f16(sum(q) * d): the positives cancel all negatives but -127,
  // and -127 * d = -(2^31 - 8) * 2^-27 rounds in f32 to exactly -16: f16 0xcc00.
  assert.is(hexBytes(quantizeRow(T.Q8_1, ramp())), hexBytes(Uint8Array.from([0x08, 0x30, 0x00, 0xcc, ...qBytes])));
});

test('q8_1: s comes from the float32 d, not from the stored f16 d', () => {
  // d = 1 + 3 * 2^-12 is an f32; every x = 127 * d (exact), so amax / 127 = d
  // exactly and every q = 127, sum = 4064. As f16, d rounds to 1 + 2^-10
  // (0x3c01). s = f16(4064 * d) = f16(4066.9765625): f16 spacing is 2 there,
  // so 4066 = 2^11 * (1 + 1009/1024) -> 0x6bf1. From the f16 d it would be
  // 4064 * (1 + 2^-10) = 4067.97 -> 4068 (0x6bf2).
  const x = new Float32Array(32).fill(127 * (1 + 3 * 2 ** -12));
  const want = [0x01, 0x3c, 0xf1, 0x6b, ...new Array(32).fill(0x7f)];
  assert.is(hexBytes(quantizeRow(T.Q8_1, x)), hexBytes(Uint8Array.from(want)));
});

test('q8_0: roundf rounds halves away from zero', () => {
  // x[0] = 127 makes d = 127/127 = 1 (f16 0x3c00) and id = 1, so q = roundf(x):
  // 0.5 -> 1, -0.5 -> -1, 2.5 -> 3, -2.5 -> -3, 126.5 -> 127 (round-half-even
  // would give 0, 0, 2, -2, 126), -127 -> -127.
  const x = new Float32Array(32);
  x.set([127, 0.5, -0.5, 2.5, -2.5, 126.5, -127, 1.49]);
  const want = [0x00, 0x3c, 0x7f, 0x01, 0xff, 0x03, 0xfd, 0x7f, 0x81, 0x01, ...new Array(24).fill(0)];
  assert.is(hexBytes(quantizeRow(T.Q8_0, x)), hexBytes(Uint8Array.from(want)));
});

test('q4_1, q5_0, q5_1: the ramp -16..15, worked by hand', () => {
  // q4_1: min = -16, max = 15, d = 31/15 = 2.0667 = 2 * 1.0333: f16 mantissa
  // 0.0333 * 1024 = 34.1 -> 34 = 0x22, exponent 1 -> 0x4022; m = -16 = 0xcc00.
  // q = trunc((x + 16) * id + 0.5) with id = 15/31: x+16 = i, q = round(i * 15/31),
  // none of which is a tie: 0 0 1 1 2 2 3 3 4 4 5 5 6 6 7 7 | 8 8 9 9 ... 15 15.
  const q41 = Array.from({ length: 32 }, (_, i) => Math.round((i * 15) / 31));
  const b41 = Array.from({ length: 16 }, (_, j) => q41[j]! | (q41[j + 16]! << 4));
  assert.equal(q41.slice(0, 4), [0, 0, 1, 1]); // the table above, checked
  assert.is(hexBytes(quantizeRow(T.Q4_1, ramp())), hexBytes(Uint8Array.from([0x22, 0x40, 0x00, 0xcc, ...b41])));
  // q5_0: max = -16, d = -16 / -16 = 1 (0x3c00), id = 1, q = trunc(x + 16.5) = i:
  // low nibbles j | j << 4 (the high-nibble element j + 16 has low bits j),
  // fifth bits set for i >= 16: qh = 0xffff0000, little-endian 00 00 ff ff.
  const lowNibbles = Array.from({ length: 16 }, (_, j) => j | (j << 4));
  assert.is(hexBytes(quantizeRow(T.Q5_0, ramp())), hexBytes(Uint8Array.from([0x00, 0x3c, 0x00, 0x00, 0xff, 0xff, ...lowNibbles])));
  // q5_1: d = 31/31 = 1, m = -16, q = trunc(x + 16 + 0.5) = i: same quants.
  assert.is(hexBytes(quantizeRow(T.Q5_1, ramp())), hexBytes(Uint8Array.from([0x00, 0x3c, 0x00, 0xcc, 0x00, 0x00, 0xff, 0xff, ...lowNibbles])));
  // 5-bit types represent the ramp exactly
  assert.equal(Array.from(dequantizeRow(T.Q5_0, quantizeRow(T.Q5_0, ramp()), 32)), Array.from(ramp()));
  assert.equal(Array.from(dequantizeRow(T.Q5_1, quantizeRow(T.Q5_1, ramp()), 32)), Array.from(ramp()));
});

// --- (c) idempotence ----------------------------------------------------------

test('q8_0 and q4_0: quantize(dequantize(q)) == q on random blocks', () => {
  // Holds by construction: the dequantized block's extreme is 127*d16 (q8_0)
  // or -8*d16 (q4_0, unique: the other end is only 7*d16), so the new d is
  // d16 itself (127*d16 and 8*d16 are exact in f32, and so is the division
  // back), and each value q*d16 times f32(1/d16) is within a few f32 ulps of
  // q (q8_0: far from a .5 rounding edge; q4_0: q - 8 + 8.5 far from an
  // integer edge). Blocks of mixed scale, so d16 covers many exponents.
  const rand = mulberry32(7);
  const nb = 2000;
  const x = new Float32Array(nb * 32);
  for (let b = 0; b < nb; b++) {
    const scale = 2 ** Math.floor(rand() * 20 - 10);
    x.set(gaussian(rand, 32, scale), b * 32);
  }
  for (const t of [T.Q8_0, T.Q4_0]) {
    const q = quantizeRow(t, x);
    const again = quantizeRow(t, dequantizeRow(t, q, x.length));
    const size = ggmlTypeInfo(t)!.typeSize;
    for (let b = 0; b < nb; b++) {
      const a = q.subarray(b * size, (b + 1) * size);
      const c = again.subarray(b * size, (b + 1) * size);
      if (hexBytes(a) !== hexBytes(c)) assert.unreachable(`${name(t)} block ${b}: ${hexBytes(a)} -> ${hexBytes(c)}`);
    }
  }
});

// --- (d) byte layouts, read by dequantize ---------------------------------------

/** Dequantize a hand-built block and return the elements that differ from `base`. */
function moved(t: GGMLType, block: number[], base: number): [number, number][] {
  const y = dequantizeRow(t, Uint8Array.from(block), 32);
  const out: [number, number][] = [];
  y.forEach((v, i) => {
    if (v !== base) out.push([i, v]);
  });
  return out;
}

test('q4_0 layout: d at 0, byte j = element j (low) and j + 16 (high)', () => {
  const zero = [0x00, 0x40, ...new Array(16).fill(0x88)]; // d = 2, every q = 8
  assert.equal(moved(T.Q4_0, zero, 0), []);
  const a = zero.slice();
  a[2 + 3] = 0x89; // low nibble of byte 3 -> element 3 = (9 - 8) * 2
  assert.equal(moved(T.Q4_0, a, 0), [[3, 2]]);
  const b = zero.slice();
  b[2 + 3] = 0x08; // high nibble of byte 3 -> element 19 = (0 - 8) * 2
  assert.equal(moved(T.Q4_0, b, 0), [[19, -16]]);
});

test('q4_1 layout: d at 0, m at 2, nibbles from byte 4', () => {
  const base = [0x00, 0x40, 0x00, 0x38, ...new Array(16).fill(0)]; // d = 2, m = 0.5, q = 0
  assert.equal(moved(T.Q4_1, base, 0.5), []);
  const a = base.slice();
  a[4 + 15] = 0x30; // high nibble of byte 15 -> element 31 = 3 * 2 + 0.5
  assert.equal(moved(T.Q4_1, a, 0.5), [[31, 6.5]]);
  const b = base.slice();
  b[4] = 0x0f; // low nibble of byte 0 -> element 0 = 15 * 2 + 0.5
  assert.equal(moved(T.Q4_1, b, 0.5), [[0, 30.5]]);
});

test('q5_0 layout: d at 0, qh (LE u32) at 2, nibbles from byte 6', () => {
  const zero = [0x00, 0x3c, 0xff, 0xff, 0xff, 0xff, ...new Array(16).fill(0)]; // d = 1, every q = 16
  assert.equal(moved(T.Q5_0, zero, 0), []);
  const a = zero.slice();
  a[2] = 0xdf; // clear qh bit 5 -> element 5 = 0 - 16
  assert.equal(moved(T.Q5_0, a, 0), [[5, -16]]);
  const b = zero.slice();
  b[2 + 2] = 0xfb; // clear qh bit 18 (byte 2, bit 2) -> element 18
  assert.equal(moved(T.Q5_0, b, 0), [[18, -16]]);
  const c = zero.slice();
  c[6 + 7] = 0x50; // high nibble 5 of byte 7 -> element 23 = (16 | 5) - 16
  assert.equal(moved(T.Q5_0, c, 0), [[23, 5]]);
});

test('q5_1 layout: d at 0, m at 2, qh at 4, nibbles from byte 8', () => {
  const base = [0x00, 0x3c, 0x00, 0xbc, 0x00, 0x00, 0x00, 0x00, ...new Array(16).fill(0)]; // d = 1, m = -1, q = 0
  assert.equal(moved(T.Q5_1, base, -1), []);
  const a = base.slice();
  a[4 + 3] = 0x40; // qh bit 30 -> element 30 = 16 * 1 - 1
  assert.equal(moved(T.Q5_1, a, -1), [[30, 15]]);
  const b = base.slice();
  b[8 + 1] = 0x02; // low nibble of byte 1 -> element 1 = 2 - 1
  assert.equal(moved(T.Q5_1, b, -1), [[1, 1]]);
});

test('q8_0 / q8_1 layout: signed quants after d (q8_0) or d, s (q8_1)', () => {
  const q80 = [0x00, 0x40, ...new Array(32).fill(0)]; // d = 2
  q80[2 + 7] = 0xff; // element 7 = -1 * 2
  q80[2 + 31] = 0x80; // element 31 = -128 * 2
  assert.equal(moved(T.Q8_0, q80, 0), [[7, -2], [31, -256]]);
  const q81 = [0x00, 0x40, 0x12, 0x34, ...new Array(32).fill(0)]; // d = 2, s ignored
  q81[4] = 0x7f; // element 0 = 127 * 2
  assert.equal(moved(T.Q8_1, q81, 0), [[0, 254]]);
});

test('float codecs: little-endian f32, f16, bf16 bytes', () => {
  const x = new Float32Array([1, -2, 0.5]);
  assert.is(hexBytes(quantizeRow(T.F32, x)), '00 00 80 3f 00 00 00 c0 00 00 00 3f');
  assert.is(hexBytes(quantizeRow(T.F16, x)), '00 3c 00 c0 00 38');
  assert.is(hexBytes(quantizeRow(T.BF16, x)), '80 3f 00 c0 00 3f');
  // dequantize reads from any byte offset (rows inside a file buffer)
  const buf = Uint8Array.from([0xaa, 0x00, 0x3c, 0x00, 0xc0]);
  assert.equal(Array.from(dequantizeRow(T.F16, buf.subarray(1), 2)), [1, -2]);
  // nan payloads survive f32 bit for bit
  const nan = new Float32Array(new Uint32Array([0x7fa00001]).buffer);
  assert.is(hexBytes(quantizeRow(T.F32, nan)), '01 00 a0 7f');
  assert.is(new Uint32Array(dequantizeRow(T.F32, Uint8Array.from([1, 0, 0xa0, 0x7f]), 1).buffer)[0], 0x7fa00001);
});

test('codecs reject lengths that are not whole blocks', () => {
  for (const t of LEGACY) assert.throws(() => quantizeRow(t, new Float32Array(48)), RangeError, name(t));
  assert.throws(() => dequantizeRow(T.Q4_0, new Uint8Array(17), 32), RangeError);
  assert.is(rowSize(T.Q5_1, 64), 48);
});

// --- dot.ts ---------------------------------------------------------------------

test('referenceVecDot: float64 sum of dequantized products, hand-worked', () => {
  // q4_0 of the ramp dequantizes to (q - 8) * 2 with q from the ramp test:
  // sum(q) = 64 + 191 = 255, so sum of values = 2 * (255 - 32 * 8) = -2.
  const w = quantizeRow(T.Q4_0, ramp());
  const ones = quantizeRow(T.F32, new Float32Array(32).fill(1));
  assert.is(referenceVecDot(T.Q4_0, w, T.F32, ones, 32), -2);
  // q8_0 activation of the same ramp: q * d16, d16 = 0x3008 = (1 + 8/1024)/8;
  // with weights all 1: sum(q) * d16 = -127 * 1.0078125 / 8
  const a = quantizeActivation(T.Q8_0, ramp());
  assert.equal(a, quantizeRow(T.Q8_0, ramp()));
  const wOnes = quantizeRow(T.Q8_0, new Float32Array(32).fill(1)); // d = 1/127: 127 * d16 != 1 exactly
  const w0 = dequantizeRow(T.Q8_0, wOnes, 32)[0]!; // 127 * f16(1/127)
  assert.is(referenceVecDot(T.Q8_0, wOnes, T.Q8_0, a, 32), (w0 * -127 * 1.0078125) / 8);
  // two blocks: the sum runs over both
  const w2 = quantizeRow(T.F16, new Float32Array(64).fill(0.5));
  const a2 = quantizeRow(T.F16, Float32Array.from({ length: 64 }, (_, i) => i));
  assert.is(referenceVecDot(T.F16, w2, T.F16, a2, 64), 0.5 * ((63 * 64) / 2));
});

test.run();
