// k-quant reference codecs (formats/quant/kquant-*.ts): layouts, accuracy,
// edge cases, and bit-exactness against llama.cpp's own quantizers.
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { dequantizeRow, quantizeRow } from '../formats/quant/index.js';
import { KQUANT_CODECS } from '../formats/quant/kquants.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const T = GGMLType;
const KTYPES = [T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_K] as const;
const name = (t: GGMLType): string => ggmlTypeInfo(t)!.name;

const F16_ONE = [0x00, 0x3c];
const F16_ZERO = [0x00, 0x00];

function rmse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s / a.length);
}

function roundTrip(t: GGMLType, x: Float32Array): Float32Array {
  return dequantizeRow(t, quantizeRow(t, x), x.length);
}

/** A 256-element expected output: `fill` everywhere, `at` overriding single elements. */
function expected(fill: number | ((e: number) => number), at: Record<number, number> = {}): Float32Array {
  const out = new Float32Array(256);
  for (let e = 0; e < 256; e++) out[e] = typeof fill === 'number' ? fill : fill(e);
  for (const [e, v] of Object.entries(at)) out[Number(e)] = v;
  return out;
}

function assertSameValues(actual: Float32Array, want: Float32Array, what: string): void {
  for (let e = 0; e < want.length; e++) {
    if (!Object.is(actual[e], want[e]) && actual[e] !== want[e]) {
      assert.unreachable(`${what}: element ${e} is ${actual[e]}, expected ${want[e]}`);
    }
  }
}

test('block sizes agree with the ggml type table', () => {
  for (const t of KTYPES) {
    assert.ok(KQUANT_CODECS[t], `${name(t)} has a codec`);
    assert.is(quantizeRow(t, new Float32Array(512)).length, rowSize(t, 512), name(t));
  }
  assert.equal(KTYPES.map((t) => ggmlTypeInfo(t)!.typeSize), [84, 110, 144, 176, 210, 292]);
});

// (a) Accuracy on N(0, 1). Bounds: measured (seed 42, 65536 values) and
// widened by 20% each way; the floor catches a "codec" that is too good to
// be true (e.g. passing values through).
test('round-trip RMSE on Gaussian data, ordered by bit width', () => {
  const x = gaussian(mulberry32(42), 65536, 1);
  const measured: Record<string, number> = {
    q2_K: 0.29426, q3_K: 0.14941, q4_K: 0.07092, q5_K: 0.03589, q6_K: 0.01759, q8_K: 0.00694,
  };
  const rows: string[] = [];
  const got: number[] = [];
  for (const t of KTYPES) {
    const e = rmse(x, roundTrip(t, x));
    got.push(e);
    const m = measured[name(t)]!;
    rows.push(`    ${name(t).padEnd(5)} ${e.toFixed(5)}  (bounds ${(0.8 * m).toFixed(5)}..${(1.2 * m).toFixed(5)})`);
    assert.ok(e <= 1.2 * m && e >= 0.8 * m, `${name(t)} RMSE ${e} outside [${0.8 * m}, ${1.2 * m}]`);
  }
  console.log('  k-quant RMSE, N(0,1), 65536 values:\n' + rows.join('\n'));
  for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]! > got[i]!, `${name(KTYPES[i - 1]!)} > ${name(KTYPES[i]!)}`);
});

// (b) Hand-built blocks: each expectation is worked out from the layout in
// ggml-common.h and the element formula of dequantize_row_*, not from our
// encoder.

test('q2_K layout: scale/min nibbles per 16-element sub-block, 2-bit quant positions', () => {
  // d = 1, dmin = 1; scales[j] = (min j) << 4 | (scale j%4 + 1); qs all
  // 0x55 (q = 1): element e is in sub-block j = e>>4 and equals scale - min.
  const b = new Uint8Array(84);
  for (let j = 0; j < 16; j++) b[j] = (j << 4) | ((j % 4) + 1);
  b.fill(0x55, 16, 80);
  b.set([...F16_ONE, ...F16_ONE], 80);
  assertSameValues(dequantizeRow(T.Q2_K, b, 256), expected((e) => ((e >> 4) % 4) + 1 - (e >> 4)), 'q2_K scales');

  // Placement: scale 1, min 0 everywhere; qs[0] = 0b11100100 holds elements
  // 0, 32, 64, 96 (bits 0-1, 2-3, 4-5, 6-7) = 0, 1, 2, 3; qs[16] bits 2-3
  // hold element 48; qs[33] bits 0-1 hold element 129; qs[63] bits 6-7 hold 255.
  const p = new Uint8Array(84);
  p.fill(0x01, 0, 16);
  p[16 + 0] = 0xe4;
  p[16 + 16] = 0x0c;
  p[16 + 33] = 0x03;
  p[16 + 63] = 0x80;
  p.set([...F16_ONE, ...F16_ZERO], 80);
  assertSameValues(dequantizeRow(T.Q2_K, p, 256), expected(0, { 32: 1, 64: 2, 96: 3, 48: 3, 129: 3, 255: 2 }), 'q2_K quants');
});

test('q3_K layout: 12-byte 6-bit scale packing, hmask bit planes, 2-bit quants', () => {
  // Raw 6-bit scales r_j = 24 + j (signed scale j - 8). Low nibbles: bytes
  // 0-7 hold r_0..r_7 (low) and r_8..r_15 (high); top 2 bits (1 for j < 8, 2
  // for j >= 8) at bits 2*(j/4) of byte 8 + j%4 = 0b10100101 for all four.
  const b = new Uint8Array(110);
  b.set([0x08, 0x19, 0x2a, 0x3b, 0x4c, 0x5d, 0x6e, 0x7f, 0xa5, 0xa5, 0xa5, 0xa5], 96);
  b.set(F16_ONE, 108);
  // All high bits set and low bits 01: q - 4 + 4 = 1, so element = scale.
  b.fill(0xff, 0, 32);
  b.fill(0x55, 32, 96);
  assertSameValues(dequantizeRow(T.Q3_K, b, 256), expected((e) => (e >> 4) - 8), 'q3_K scales, q=+1');
  // No high bits and low bits 00: q = -4.
  b.fill(0, 0, 96);
  assertSameValues(dequantizeRow(T.Q3_K, b, 256), expected((e) => -4 * ((e >> 4) - 8)), 'q3_K scales, q=-4');

  // Placement, every scale raw 33 (= +1): bytes 0-7 0x11, bytes 8-11 0xAA.
  // hmask[0] bits 0,1 = elements 0, 32; hmask[5] bit 7 = element 229.
  // qs[0] = 0b11100100: low bits of elements 0, 32, 64, 96 = 0, 1, 2, 3;
  // qs[37] = 0x40: element 128 + 96 + 5 = 229 gets low bits 1.
  // Element = low - (high ? 0 : 4): 0, 1, -2, -1, 229 -> 1, all others -4.
  const p = new Uint8Array(110);
  p[0] = 0x03;
  p[5] = 0x80;
  p[32 + 0] = 0xe4;
  p[32 + 37] = 0x40;
  p.fill(0x11, 96, 104);
  p.fill(0xaa, 104, 108);
  p.set(F16_ONE, 108);
  assertSameValues(dequantizeRow(T.Q3_K, p, 256), expected(-4, { 0: 0, 32: 1, 64: -2, 96: -1, 229: 1 }), 'q3_K quants');
});

// get_scale_min_k4 with scales [1,2,3,4,17,33,49,63] and mins
// [5,6,7,8,20,36,52,0]: bytes 0-3 = scale low 6 bits | top 2 bits of scale
// j+4 (17 -> 1, 33 -> 2, 49 -> 3, 63 -> 3) << 6; bytes 4-7 likewise for mins
// (20 -> 1, 36 -> 2, 52 -> 3, 0 -> 0); bytes 8-11 = low nibble of scale j+4
// | low nibble of min j+4 << 4.
const K4_SCALES = [0x41, 0x82, 0xc3, 0xc4, 0x45, 0x86, 0xc7, 0x08, 0x41, 0x41, 0x41, 0x0f];
const K4_SC = [1, 2, 3, 4, 17, 33, 49, 63];
const K4_MIN = [5, 6, 7, 8, 20, 36, 52, 0];

test('q4_K layout: 6-bit scales and mins (get_scale_min_k4), nibble positions', () => {
  const b = new Uint8Array(144);
  b.set([...F16_ONE, ...F16_ZERO, ...K4_SCALES], 0);
  b.fill(0x11, 16); // q = 1 everywhere
  assertSameValues(dequantizeRow(T.Q4_K, b, 256), expected((e) => K4_SC[e >> 5]!), 'q4_K scales');
  b.set([...F16_ZERO, ...F16_ONE], 0);
  assertSameValues(dequantizeRow(T.Q4_K, b, 256), expected((e) => -K4_MIN[e >> 5]!), 'q4_K mins');

  // Placement with every scale 1, min 0 (bytes 0-3 = 1, 4-7 = 0, 8-11 = 0x01):
  // qs[32c + l] low nibble = element 64c + l, high nibble = 64c + 32 + l.
  const p = new Uint8Array(144);
  p.set([...F16_ONE, ...F16_ZERO, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1], 0);
  p[16 + 0] = 0x21;
  p[16 + 32 + 5] = 0xf0;
  p[16 + 127] = 0x07;
  assertSameValues(dequantizeRow(T.Q4_K, p, 256), expected(0, { 0: 1, 32: 2, 101: 15, 223: 7 }), 'q4_K quants');
});

test('q5_K layout: q4_K scales, qh fifth-bit planes, nibble positions', () => {
  const b = new Uint8Array(176);
  b.set([...F16_ONE, ...F16_ZERO, ...K4_SCALES], 0);
  b.fill(0xff, 16, 48); // fifth bit everywhere: q = 16 + 1
  b.fill(0x11, 48);
  assertSameValues(dequantizeRow(T.Q5_K, b, 256), expected((e) => 17 * K4_SC[e >> 5]!), 'q5_K scales');

  // Scale 1, min 0 everywhere. qh[0] bits 0, 1 = elements 0, 32; qh[3] bit 7
  // = element 64*3 + 32 + 3 = 227; qh[31] bit 4 = element 128 + 31 = 159.
  // qs[0] = 0x21: elements 0, 32 get low nibbles 1, 2.
  const p = new Uint8Array(176);
  p.set([...F16_ONE, ...F16_ZERO, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1], 0);
  p[16 + 0] = 0x03;
  p[16 + 3] = 0x80;
  p[16 + 31] = 0x10;
  p[48 + 0] = 0x21;
  p[48 + 64 + 31] = 0x0a; // element 128 + 31 low nibble 10
  assertSameValues(dequantizeRow(T.Q5_K, p, 256), expected(0, { 0: 17, 32: 18, 227: 16, 159: 26 }), 'q5_K quants');
});

test('q6_K layout: int8 scales per 16, ql nibbles and qh 2-bit planes', () => {
  // d = 1, scales[j] = j - 8 (int8), all quants 0 -> q - 32 = -32.
  const b = new Uint8Array(210);
  for (let j = 0; j < 16; j++) b[192 + j] = (j - 8) & 0xff;
  b.set(F16_ONE, 208);
  assertSameValues(dequantizeRow(T.Q6_K, b, 256), expected((e) => -32 * ((e >> 4) - 8)), 'q6_K scales');

  // Scales all 1. In half h, element 128h + 32s + l: low nibble in
  // ql[64h + l] (s = 0: low, s = 2: high) or ql[64h + 32 + l] (s = 1: low,
  // s = 3: high); top 2 bits at bits 2s of qh[32h + l].
  // ql[0] = 0x21: element 0 low 1, element 64 low 2. qh[0] = 0b11100100:
  // elements 0, 32, 64, 96 top bits 0, 1, 2, 3. ql[64 + 32 + 1] = 0xf0:
  // element 128 + 96 + 1 = 225 low 15.
  // q - 32: element 0 -> -31, 32 -> 16-32 = -16, 64 -> 34-32 = 2,
  // 96 -> 48-32 = 16, 225 -> -17, all others -32.
  const p = new Uint8Array(210);
  p.fill(1, 192, 208);
  p.set(F16_ONE, 208);
  p[0] = 0x21;
  p[128 + 0] = 0xe4;
  p[64 + 32 + 1] = 0xf0;
  assertSameValues(dequantizeRow(T.Q6_K, p, 256), expected(-32, { 0: -31, 32: -16, 64: 2, 96: 16, 225: -17 }), 'q6_K quants');
});

// (c) q8_K.

test('q8_K layout: f32 d, int8 qs in order, int16 bsums after', () => {
  const b = new Uint8Array(292);
  const v = new DataView(b.buffer);
  v.setFloat32(0, 0.5, true);
  for (let j = 0; j < 256; j++) v.setInt8(4 + j, (j % 11) - 5);
  v.setInt8(4 + 200, -128);
  assertSameValues(dequantizeRow(T.Q8_K, b, 256), expected((e) => 0.5 * ((e % 11) - 5), { 200: -64 }), 'q8_K');
});

test('q8_K quantize: hand-worked blocks, round half to even, bsums', () => {
  // Integers with -127 first (the largest magnitude, negative): iscale =
  // -127/-127 = 1, so qs = x exactly and d = 1.
  const x = new Float32Array(256);
  for (let j = 0; j < 256; j++) x[j] = ((j * 37) % 255) - 127;
  const q = quantizeRow(T.Q8_K, x);
  const v = new DataView(q.buffer);
  assert.is(v.getFloat32(0, true), 1);
  for (let j = 0; j < 256; j++) assert.is(v.getInt8(4 + j), x[j], `qs[${j}]`);
  for (let g = 0; g < 16; g++) {
    let s = 0;
    for (let i = 0; i < 16; i++) s += x[16 * g + i]!;
    assert.is(v.getInt16(260 + 2 * g, true), s, `bsums[${g}]`);
  }

  // Largest magnitude positive (63.5): iscale = -127/63.5 = -2 exactly, d = -0.5.
  // 0.75 -> -1.5 -> -2 and -1.25 -> 2.5 -> 2 (ties to even, not Math.round);
  // 0.25 -> -0.5 -> 0; -10 -> 20.
  const y = new Float32Array(256);
  y.set([63.5, 0.75, -1.25, 0.25, -10]);
  const r = new DataView(quantizeRow(T.Q8_K, y).buffer);
  assert.is(r.getFloat32(0, true), -0.5);
  assert.equal([0, 1, 2, 3, 4, 5].map((j) => r.getInt8(4 + j)), [-127, -2, 2, 0, 20, 0]);
  assert.is(r.getInt16(260, true), -127 - 2 + 2 + 0 + 20);
});

test('q8_K on random data: bsums are the sums of qs, d*qs within |d|/2 of x', () => {
  const x = gaussian(mulberry32(9), 256 * 16, 3);
  const q = quantizeRow(T.Q8_K, x);
  const v = new DataView(q.buffer);
  for (let b = 0; b < 16; b++) {
    const o = 292 * b;
    const d = v.getFloat32(o, true);
    let maxQ = 0;
    for (let g = 0; g < 16; g++) {
      let s = 0;
      for (let i = 0; i < 16; i++) s += v.getInt8(o + 4 + 16 * g + i);
      assert.is(v.getInt16(o + 260 + 2 * g, true), s);
    }
    for (let j = 0; j < 256; j++) {
      const qj = v.getInt8(o + 4 + j);
      maxQ = Math.max(maxQ, Math.abs(qj));
      // |d|/2 plus float32 rounding of iscale*x.
      assert.ok(Math.abs(d * qj - x[256 * b + j]!) <= Math.abs(d) * 0.5 * (1 + 1e-5), `block ${b} element ${j}`);
    }
    assert.is(maxQ, 127);
  }
});

// (d) Edge cases.

test('all-zero blocks quantize to all-zero bytes and dequantize to zeros', () => {
  // Every *_ref takes its "no scale" path: d, dmin, scales and quants all 0
  // (q3_K's search leaves L = 0 and hmask 0; q6_K/q8_K zero the block).
  const x = new Float32Array(512);
  for (const t of KTYPES) {
    const q = quantizeRow(t, x);
    assert.ok(q.every((b) => b === 0), `${name(t)} bytes`);
    assert.ok(dequantizeRow(t, q, 512).every((v) => v === 0), `${name(t)} values`);
  }
});

test('a huge outlier is kept, and the rest of its block stays finite', () => {
  const x = gaussian(mulberry32(5), 256, 1);
  x[77] = 1000;
  for (const t of KTYPES) {
    const y = roundTrip(t, x);
    assert.ok(y.every(Number.isFinite), name(t));
    // The outlier's sub-block owns the largest scale, which is stored with
    // the full scale range, so only f16 and scale rounding remain.
    assert.ok(Math.abs(y[77]! - 1000) < 2, `${name(t)} outlier -> ${y[77]}`);
  }
});

test('constant blocks (positive, negative) reconstruct closely', () => {
  for (const c of [0.7, -0.7, 1234.5]) {
    const x = new Float32Array(256).fill(c);
    for (const t of KTYPES) {
      const y = roundTrip(t, x);
      for (let e = 0; e < 256; e++) {
        assert.ok(Math.abs(y[e]! - c) <= Math.abs(c) * 2e-3, `${name(t)} const ${c}: element ${e} = ${y[e]}`);
      }
    }
  }
});

test('negative-only blocks: finite, and no worse than on zero-centred data of the same range', () => {
  const rand = mulberry32(11);
  const neg = new Float32Array(4096);
  const centred = new Float32Array(4096);
  for (let i = 0; i < neg.length; i++) {
    const u = rand();
    neg[i] = -0.1 - 2 * u; // [-2.1, -0.1]
    centred[i] = 2 * u - 1; // width 2 as well
  }
  for (const t of KTYPES) {
    const yn = roundTrip(t, neg);
    assert.ok(yn.every(Number.isFinite), name(t));
    // Symmetric types (q3_K, q6_K, q8_K) spend one sign on nothing, so allow
    // a factor of 2.5 over a centred range of equal width.
    const en = rmse(neg, yn);
    const ec = rmse(centred, roundTrip(t, centred));
    assert.ok(en <= 2.5 * ec, `${name(t)}: negative ${en} vs centred ${ec}`);
  }
});

test('scales beyond f16 range overflow to infinity, as in ggml', () => {
  // ggml stores d = fp16(max_scale/63) without a clamp: values near 1e8 give
  // d = +inf (0x7c00). A writer should refuse such tensors; the codec mirrors
  // llama.cpp.
  const x = new Float32Array(256).map((_, i) => Math.sin(i) * 1e8);
  const q = quantizeRow(T.Q4_K, x);
  assert.is(q[0]! | (q[1]! << 8), 0x7c00);
});

// (e) Determinism. Idempotence (quantize(dequantize(q)) == q) is NOT a
// property of ggml's rules for the searched types: re-running a search on
// its own output can pick another scale (measured on N(0,1): q2_K, q3_K and
// q5_K change some values). q8_K keeps its quants; its d can move by an ulp.

test('quantizers are deterministic and ignore what the destination held', () => {
  const x = gaussian(mulberry32(3), 1024, 1);
  for (const t of KTYPES) {
    const a = quantizeRow(t, x);
    const dirty = new Uint8Array(a.length).fill(0xff);
    KQUANT_CODECS[t]!.quantize(x, dirty);
    assert.equal(dirty, a, name(t));
    assert.equal(quantizeRow(t, x), a, name(t));
  }
});

test('q8_K re-quantizing its own output keeps the quants, d within one ulp', () => {
  // The quants come back exactly, except that a block holding both +127 and
  // -127 may flip sign as a whole (the first largest-magnitude element sets
  // the sign of d), which leaves every value d*q unchanged.
  const x = gaussian(mulberry32(4), 256 * 32, 1);
  const q1 = quantizeRow(T.Q8_K, x);
  const q2 = quantizeRow(T.Q8_K, dequantizeRow(T.Q8_K, q1, x.length));
  const v1 = new DataView(q1.buffer);
  const v2 = new DataView(q2.buffer);
  let flipped = 0;
  for (let b = 0; b < 32; b++) {
    const o = 292 * b;
    const d1 = v1.getFloat32(o, true);
    const d2 = v2.getFloat32(o, true);
    const s = Math.sign(d1) === Math.sign(d2) ? 1 : -1;
    if (s < 0) flipped++;
    assert.ok(Math.abs(Math.abs(d2) - Math.abs(d1)) <= Math.abs(d1) * 2 ** -23, `block ${b} d`);
    for (let j = 0; j < 256; j++) assert.is(v2.getInt8(o + 4 + j), s * v1.getInt8(o + 4 + j), `block ${b} qs[${j}]`);
    for (let g = 0; g < 16; g++) assert.is(v2.getInt16(o + 260 + 2 * g, true), s * v1.getInt16(o + 260 + 2 * g, true));
  }
  assert.ok(flipped < 32, 'most blocks keep their sign');
});

// Bit-exactness against llama.cpp. The hashes below are of the bytes that
// llama.cpp's quantize_row_*_ref wrote for goldenInput(), and of the floats
// its dequantize_row_* made from those bytes, using libggml-base.so from
// node-llama-cpp 3.21.1's prebuilt linux-x64 binaries (llama.cpp bundle
// v0.4.0), called through a throwaway C harness (not in the repository).
// The input uses only mulberry32 and + - * /, so it is the same on every
// platform and Node version.
function goldenInput(): Float32Array {
  const rand = mulberry32(20240601);
  const x = new Float32Array(32 * 256);
  for (let b = 0; b < 32; b++) {
    const scale = 2 ** ((b % 9) - 4);
    for (let i = 0; i < 256; i++) {
      const u = rand();
      const v = rand();
      let val: number;
      switch (b % 4) {
        case 0: val = u - 0.5; break; // uniform
        case 1: val = (u - 0.5) / (v + 0.02); break; // heavy tails
        case 2: val = v < 0.7 ? 0 : u - 0.25; break; // sparse, skewed
        default: val = -(u * u) - 0.5 * v; break; // negative only
      }
      if (b === 30) val = 0;
      if (b === 31) val = 0.3;
      x[256 * b + i] = val * scale;
    }
  }
  return x;
}

const GOLDEN: Record<string, [quantized: string, dequantized: string]> = {
  q2_K: ['11df791cdb28536b8e0f9d63a3c7d0882409fe6bc5cc791306b7db073ed6ca44', 'a800950fef0ca831ba02ee10adc90526e8a83324445f5f9476566e1255da336e'],
  q3_K: ['cd3677a3e55608180c6e82b7bfde1bf7dba8a053844c261a6e3a7136e254ea1f', '0e9a7cfef041fc453cabd252e387daa680c5bc485dd9d9b388be2e31f1d44772'],
  q4_K: ['8cbf9d041aab4589c2fce23f7ddb0cd666e8a056e6f7ef96ecbac56fe06513a7', '3bd0d414e4daf5391bbe4db9f191fd9260fb49cc248679e676d23a1ba28e73e2'],
  q5_K: ['0007878d2e182cfd3e10ba113b377cea60cbfffe918034e09edd7ba0ca343ccb', '77171af6306f99afae2412edf7075cc5e56099f191a65be2fd58694d09e04d20'],
  q6_K: ['042e931f6875abefff2611eca0d6ae89def2925a5bc72045ce3121b05fb0d0ce', 'dcb538d472a10b9af33b046ee5a4e8b7c0d966be401bc1532baf03601ef67583'],
  q8_K: ['8db0b0c50b36851394f8ecff4c2551426cef29d2b569e841e0da35967bb2fa15', '21c27ef70516762460bdab17030a09527c10e97fef77ddd448e2826378ba1ffb'],
};

const sha256 = (b: ArrayBufferView): string =>
  createHash('sha256').update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).digest('hex');

test('quantize and dequantize match llama.cpp bit for bit (golden hashes)', () => {
  const x = goldenInput();
  assert.is(sha256(x), '04a90cddba67ca5ea2fa908326bc8554d15e4f341374c1aa663ea57720555c8b', 'golden input changed');
  for (const t of KTYPES) {
    const [hq, hd] = GOLDEN[name(t)]!;
    const q = quantizeRow(t, x);
    assert.is(sha256(q), hq, `${name(t)} quantized bytes differ from llama.cpp`);
    assert.is(sha256(dequantizeRow(t, q, x.length)), hd, `${name(t)} dequantized values differ from llama.cpp`);
  }
});

test.run();
