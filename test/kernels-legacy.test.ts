// The WASM float and legacy-quant kernels (kernels/floats.c, kernels/legacy.c)
// against the scalar TypeScript reference in formats/quant, which follows
// ggml's reference code:
// - activation quantizers and f32 -> f16/bf16 converters: identical bytes;
// - dequantize_row_*: identical f32 bits;
// - vec_dot_* and matvec_*: within a rounding bound of the reference dot
//   (see dotBound), matvec equal to vec_dot row by row, and only rows
//   [r0, r1) written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { fp16ToFp32 } from '../formats/f16.js';
import { referenceVecDot } from '../formats/quant/dot.js';
import { dequantizeRow, quantizeRow } from '../formats/quant/index.js';
import { loadKernels, type Kernels, type MatvecFn, type Ptr, type RowFn, type VecDotFn } from '../wasm/loader.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const T = GGMLType;
const LEGACY = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0] as const;
const FLOATS = [T.F32, T.F16, T.BF16] as const;
// one block, a few blocks (odd count), a real row, and one longer than the
// kernels' activation chunk (8192) so the multi-pass path runs
const LEGACY_LENGTHS = [32, 64, 96, 4096, 8192 + 96];
// the float kernels take any length: SIMD steps of 16 and 8 plus a scalar tail
const FLOAT_LENGTHS = [1, 7, 16, 33, 100, 4096, 8192 + 40];

const k: Kernels = await loadKernels();
const name = (t: GGMLType) => ggmlTypeInfo(t)!.name;
const u = 2 ** -24; // f32 unit roundoff

// --- memory helpers: every test frees what it allocates ---------------------
let live: Ptr[] = [];
function put(data: ArrayBufferView): Ptr {
  const p = k.malloc(Math.max(data.byteLength, 1));
  k.write(p, data);
  live.push(p);
  return p;
}
function alloc(bytes: number): Ptr {
  const p = k.malloc(Math.max(bytes, 1));
  live.push(p);
  return p;
}
function freeAll(): void {
  for (const p of live) k.free(p);
  live = [];
}
const fn = <F extends (...args: never[]) => unknown>(n: string): F => {
  const f = k.lookup<F>(n);
  if (!f) throw new Error(`kernels.wasm has no ${n}`);
  return f;
};

// --- test data ----------------------------------------------------------------
type Gen = (n: number, rand: () => number) => Float32Array;
const DATA: Record<string, Gen> = {
  gaussian: (n, r) => gaussian(r, n, 1),
  // f16 scales and mins top out at 65504; rows are scaled up to 2x below
  'large (to ~1e4)': (n, r) => gaussian(r, n, 3e3),
  'tiny (~1e-6, f16 subnormal scales)': (n, r) => gaussian(r, n, 1e-6),
  'all negative': (n, r) => gaussian(r, n, 1).map((v) => -Math.abs(v) - 1e-3),
  'zero blocks': (n, r) => {
    const x = gaussian(r, n, 1);
    for (const b of [0, 2, Math.floor(n / 32) - 1]) x.fill(0, b * 32, Math.min(n, b * 32 + 32));
    return x;
  },
  'block magnitudes 1e-3..1e3': (n, r) => {
    const x = gaussian(r, n, 1);
    for (let i = 0; i < n; i += 32) {
      const s = 10 ** (Math.floor(r() * 7) - 3);
      for (let j = i; j < Math.min(n, i + 32); j++) x[j]! *= s;
    }
    return x;
  },
};

// Values whose quantization lands exactly on .5: roundf rounds them away from
// zero (wasm's f32x4.nearest would round to even).
function tieBlock(): Float32Array {
  const x = new Float32Array(32);
  x.set([127, 2.5, -2.5, 0.5, -0.5, 1.5, -1.5, 126.5, -126.5, 0.49999997, -0.49999997, 3.5, 64.5]);
  return x;
}

// --- the kernels ----------------------------------------------------------------
function wasmRow(fname: string, x: Float32Array, outBytes: number): Uint8Array {
  const px = put(x);
  const py = alloc(outBytes);
  fn<RowFn>(fname)(px, py, x.length);
  return k.bytes(py, outBytes).slice();
}

function wasmDequantize(type: GGMLType, bytes: Uint8Array, n: number): Float32Array {
  const px = put(bytes);
  const py = alloc(n * 4);
  fn<RowFn>(`dequantize_row_${name(type)}`)(px, py, n);
  return k.floats(py, n).slice();
}

/** The activation in the weight type's vecDotType, by the WASM quantizer/converter. */
function wasmActivation(wType: GGMLType, x: Float32Array): { aType: GGMLType; bytes: Uint8Array } {
  const aType = ggmlTypeInfo(wType)!.vecDotType!;
  const size = rowSize(aType, x.length);
  if (aType === T.F32) return { aType, bytes: new Uint8Array(x.slice().buffer) };
  const f = aType === T.F16 || aType === T.BF16 ? `convert_row_f32_to_${name(aType)}` : `quantize_row_${name(aType)}`;
  return { aType, bytes: wasmRow(f, x, size) };
}

function encodeWeights(type: GGMLType, x: Float32Array): Uint8Array {
  return type === T.F32 ? new Uint8Array(x.slice().buffer) : quantizeRow(type, x);
}

function bitsEqual(got: Float32Array, want: Float32Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < g.length; i++) {
    if (g[i] !== w[i]) assert.unreachable(`${what}: element ${i} is ${got[i]}, reference ${want[i]}`);
  }
}

function bytesEqual(got: Uint8Array, want: Uint8Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want[i]) assert.unreachable(`${what}: byte ${i} is ${got[i]}, reference ${want[i]}`);
  }
}

// --- the error bound ---------------------------------------------------------------
const f16 = (bytes: Uint8Array, at: number): number => fp16ToFp32(bytes[at]! | (bytes[at + 1]! << 8));

/** The activation's values: floats through dequantizeRow, q8_0/q8_1 as q * d. */
function activationValues(aType: GGMLType, a: Uint8Array, n: number): Float64Array {
  const out = new Float64Array(n);
  if (aType === T.F32) out.set(new Float32Array(a.slice().buffer));
  else if (aType === T.F16 || aType === T.BF16) out.set(dequantizeRow(aType, a, n));
  else {
    const size = ggmlTypeInfo(aType)!.typeSize;
    const qOff = aType === T.Q8_1 ? 4 : 2;
    for (let i = 0; i < n; i++) {
      const b = Math.floor(i / 32);
      out[i] = ((a[b * size + qOff + (i % 32)]! << 24) >> 24) * f16(a, b * size);
    }
  }
  return out;
}

/**
 * How far a kernel's f32 dot may be from the reference (a float64 sum of the
 * dequantized products), by the standard forward error bound of floating
 * point summation: every term goes through at most L f32 roundings (its
 * product, scale product, and the additions of the accumulator it lives in),
 * so |error| <= L * u * (sum of |terms|) with u = 2^-24, to first order.
 *
 * Floats: terms are w_i * a_i; 16 partial sums of n/16 terms each, then a
 * pairwise reduction, a scalar tail of < 16, and one add per 8192-column
 * pass: L <= n/16 + 32.
 *
 * Legacy quants: one term per block and lane (4 per block), each an exact
 * integer sum times fl(d_w * d_a): L <= nb + 10 with nb blocks. The integer
 * parts are sums of q_w * q_a before q4_0's -8 offset and without the min, so
 * the bound's "sum of |terms|" uses |w_i| + 16 |d_b| + |m_b| for the weight
 * (>= |d_b q_i| and the offset part); q4_1/q5_1 add m_b * s_b per block. And
 * like ggml, those use the activation's stored f16 s = fl16(d_a * sum q_a),
 * not sum a_i: the difference |m_b| * |s_b - sum a_i| is added to the bound
 * (it is zero if the reference also uses s).
 * Subnormal scale products can lose up to 2^-149 each: nb * 2^-149 more.
 */
function dotBound(wType: GGMLType, w: Uint8Array, aType: GGMLType, a: Uint8Array, n: number): number {
  const wd = wType === T.F32 ? new Float32Array(w.slice().buffer) : dequantizeRow(wType, w, n);
  if (FLOATS.includes(wType as (typeof FLOATS)[number])) {
    const ad = activationValues(aType, a, n);
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(wd[i]! * ad[i]!);
    return (Math.ceil(n / 16) + 32) * u * s;
  }
  const wInfo = ggmlTypeInfo(wType)!;
  const hasMin = wType === T.Q4_1 || wType === T.Q5_1;
  const aBlock = ggmlTypeInfo(aType)!.typeSize;
  const qOff = aType === T.Q8_1 ? 4 : 2;
  const nb = n / 32;
  let s = 0;
  let sExtra = 0;
  for (let b = 0; b < nb; b++) {
    const dw = Math.abs(f16(w, b * wInfo.typeSize));
    const mw = hasMin ? Math.abs(f16(w, b * wInfo.typeSize + 2)) : 0;
    const da = f16(a, b * aBlock);
    let sumA = 0;
    for (let j = 0; j < 32; j++) {
      const ai = ((a[b * aBlock + qOff + j]! << 24) >> 24) * da;
      sumA += ai;
      s += (Math.abs(wd[b * 32 + j]!) + 16 * dw + mw) * Math.abs(ai);
    }
    if (hasMin) {
      const sa = f16(a, b * aBlock + 2);
      s += mw * Math.abs(sa);
      sExtra += mw * Math.abs(sa - sumA);
    }
  }
  return (nb + 10) * u * s + sExtra + nb * 2 ** -149;
}

// --- tests ---------------------------------------------------------------------------
test('quantize_row_q8_0 / q8_1: the same bytes as the reference', () => {
  const rand = mulberry32(1);
  for (const [aType, f] of [[T.Q8_0, 'quantize_row_q8_0'], [T.Q8_1, 'quantize_row_q8_1']] as const) {
    for (const n of LEGACY_LENGTHS) {
      for (const [label, gen] of Object.entries(DATA)) {
        // q8_1's s = d * sum(q) is an f16: ~1e4 activations overflow it, in ggml too
        const x = aType === T.Q8_1 && label.startsWith('large') ? gen(n, rand).map((v) => v / 10) : gen(n, rand);
        bytesEqual(wasmRow(f, x, rowSize(aType, n)), quantizeRow(aType, x), `${f} n=${n} ${label}`);
        freeAll();
      }
    }
    bytesEqual(wasmRow(f, tieBlock(), rowSize(aType, 32)), quantizeRow(aType, tieBlock()), `${f} ties`);
    freeAll();
  }
});

test('convert_row_f32_to_f16 / bf16: the same bits as the reference', () => {
  const rand = mulberry32(2);
  const special = new Float32Array([
    0, -0, 1, -1, 65504, -65504, 65519.99, 65520, 1e6, -1e6, Infinity, -Infinity, NaN,
    2 ** -14, 2 ** -15, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -26, 1e-8, -1e-8, 1e-40, -1e-40, 3e38,
    1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 0.1, 1 / 3,
  ]);
  const inputs: Float32Array[] = [special];
  for (const n of FLOAT_LENGTHS) inputs.push(gaussian(rand, n, 10 ** (Math.floor(rand() * 12) - 6)));
  // random bit patterns: every exponent, rounding case and subnormal, no nan
  const bits = new Uint32Array(20000).map(() => (rand() * 2 ** 32) >>> 0).filter((b) => (b & 0x7fffffff) <= 0x7f800000);
  inputs.push(new Float32Array(bits.buffer, 0, bits.length));
  for (const t of [T.F16, T.BF16]) {
    for (const x of inputs) {
      const got = wasmRow(`convert_row_f32_to_${name(t)}`, x, 2 * x.length);
      bytesEqual(got, quantizeRow(t, x), `convert_row_f32_to_${name(t)} (${x.length} values)`);
      freeAll();
    }
  }
});

test('dequantize_row_*: the same f32 bits as the reference', () => {
  const rand = mulberry32(3);
  for (const t of [...LEGACY, T.F16, T.BF16]) {
    for (const n of t === T.F16 || t === T.BF16 ? FLOAT_LENGTHS : LEGACY_LENGTHS) {
      for (const [label, gen] of Object.entries(DATA)) {
        const bytes = quantizeRow(t, gen(n, rand));
        bitsEqual(wasmDequantize(t, bytes, n), dequantizeRow(t, bytes, n), `dequantize_row_${name(t)} n=${n} ${label}`);
        freeAll();
      }
    }
  }
  // every f16 and bf16 bit pattern but nan
  const all = new Uint16Array(65536).map((_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0);
  const allBf = new Uint16Array(65536).map((_, i) => i).filter((h) => (h & 0x7f80) !== 0x7f80 || (h & 0x7f) === 0);
  for (const [t, h] of [[T.F16, all], [T.BF16, allBf]] as const) {
    const bytes = new Uint8Array(h.buffer, 0, h.length * 2);
    bitsEqual(wasmDequantize(t, bytes, h.length), dequantizeRow(t, bytes, h.length), `dequantize_row_${name(t)}, all values`);
    freeAll();
  }
});

function checkDots(types: readonly GGMLType[], lengths: number[], seed: number): void {
  const rand = mulberry32(seed);
  const ROWS = 5;
  for (const wType of types) {
    const vecDot = fn<VecDotFn>(`vec_dot_${name(wType)}_${name(ggmlTypeInfo(wType)!.vecDotType!)}`);
    const matvec = fn<MatvecFn>(`matvec_${name(wType)}`);
    for (const n of lengths) {
      for (const [label, gen] of Object.entries(DATA)) {
        // weights and activation take turns being the extreme one
        const extremeAct = rand() < 0.5;
        const xw = extremeAct ? gaussian(rand, n, 1) : gen(n, rand);
        let xa = extremeAct ? gen(n, rand) : gaussian(rand, n, 1);
        // q8_1's f16 s overflows beyond |sum of a block| ~ 65504, in ggml too
        if (ggmlTypeInfo(wType)!.vecDotType === T.Q8_1 && label.startsWith('large')) xa = xa.map((v) => v / 10);
        const { aType, bytes: a } = wasmActivation(wType, xa);
        const rowBytes = rowSize(wType, n);
        const w = new Uint8Array(rowBytes * ROWS);
        // rows: the data, then scaled and negated variants of it
        for (let r = 0; r < ROWS; r++) w.set(encodeWeights(wType, xw.map((v) => v * (r % 2 ? -1 : 1) * (1 + r / 4))), r * rowBytes);
        const pw = put(w);
        const pa = put(a);
        const pout = put(new Float32Array(ROWS).fill(-12345));
        matvec(pw, rowBytes, pa, pout, n, 1, ROWS - 1);
        const out = k.floats(pout, ROWS).slice();
        const what = `${name(wType)} n=${n} ${label}${extremeAct ? ' (activation)' : ' (weights)'}`;
        assert.is(out[0], -12345, `${what}: matvec wrote row 0, outside [1, ${ROWS - 1})`);
        assert.is(out[ROWS - 1], -12345, `${what}: matvec wrote row ${ROWS - 1}, outside [1, ${ROWS - 1})`);
        for (let r = 0; r < ROWS; r++) {
          const row = w.subarray(r * rowBytes, (r + 1) * rowBytes);
          const got = vecDot(n, pw + r * rowBytes, pa);
          const want = referenceVecDot(wType, row, aType, a, n);
          const bound = dotBound(wType, row, aType, a, n);
          const err = Math.abs(got - want);
          if (!(err <= bound)) assert.unreachable(`${what} row ${r}: vec_dot ${got}, reference ${want}, |error| ${err} > bound ${bound}`);
          if (r > 0 && r < ROWS - 1) assert.is(out[r], got, `${what} row ${r}: matvec equals vec_dot`);
        }
        freeAll();
      }
    }
  }
}

test('vec_dot / matvec, legacy quants: within the rounding bound of the reference', () => {
  checkDots(LEGACY, LEGACY_LENGTHS, 4);
});

test('vec_dot / matvec, f32 / f16 / bf16: within the rounding bound of the reference', () => {
  checkDots(FLOATS, FLOAT_LENGTHS, 5);
});

test('matvec: an empty or one-row range', () => {
  const n = 64;
  const w = quantizeRow(T.Q4_0, gaussian(mulberry32(6), n * 3, 1));
  const { bytes: a } = wasmActivation(T.Q4_0, gaussian(mulberry32(7), n, 1));
  const pw = put(w);
  const pa = put(a);
  const pout = put(new Float32Array(3).fill(7));
  const rowBytes = rowSize(T.Q4_0, n);
  k.exports.matvec_q4_0(pw, rowBytes, pa, pout, n, 2, 2);
  assert.equal(Array.from(k.floats(pout, 3)), [7, 7, 7]);
  k.exports.matvec_q4_0(pw, rowBytes, pa, pout, n, 2, 3);
  assert.equal(Array.from(k.floats(pout, 3)), [7, 7, k.exports.vec_dot_q4_0_q8_0(n, pw + 2 * rowBytes, pa)]);
  freeAll();
});

test.run();
