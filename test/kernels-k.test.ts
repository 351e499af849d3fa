// The k-quant WASM kernels (kernels/kquants.c, kernels/kquants-dot.c) against
// the scalar TypeScript references in formats/quant:
// - quantize_row_q8_K gives the reference's bytes exactly;
// - dequantize_row_<t> gives the reference's floats exactly (bit for bit),
//   on rows quantized by the reference and on random bytes;
// - vec_dot_<t>_q8_K and matvec_<t> agree with the float64 dot of the
//   reference dequantizations within DOT_TOL (see there), matvec rows equal
//   vec_dot bit for bit, and matvec writes only rows [r0, r1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { fp16BitsToFp32Bits } from '../formats/f16.js';
import { dequantizeRow, quantizeRow } from '../formats/quant/index.js';
import { loadKernels, type Kernels, type MatvecFn, type RowFn, type VecDotFn } from '../wasm/loader.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const K_TYPES = [GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K] as const;
const QK_K = 256;
const nameOf = (t: GGMLType): string => ggmlTypeInfo(t)!.name;

/**
 * Tolerance of vec_dot/matvec, relative to sum |w_i * a_i| over the row.
 * The kernels sum sc*q*a over each super-block in exact int32 and then do
 * a few f32 operations per super-block (the i32 -> f32 lane conversions,
 * d*ad and dmin*ad, their products, one add into a 4-lane f32 sum) plus a
 * final 4-lane sum: about (n/256 + 8) roundings of 2^-24 relative to partial
 * sums bounded by sum |terms|, i.e. under 3e-6 for n = 10240. The reference
 * differs from the exact value by the f32 rounding of each dequantized
 * weight (ggml rounds d*sc, d*sc*q and the min term separately), a few
 * 2^-24 of |d*sc*q| + |dmin*m|, which is the same order as |w| for weights
 * quantized from real data. 1e-5 leaves room for both (the worst seen here
 * is 1.1e-6, rows with outliers where the terms cancel); a wrong scale, bit
 * or group is off by far more (one quant in 4096 is ~1e-4).
 */
const DOT_TOL = 1e-5;

let k: Kernels;

function fn<T extends (...args: never[]) => unknown>(name: string): T {
  const f = k.lookup<T>(name);
  if (!f) throw new Error(`kernels.wasm lacks ${name}; rebuild it with npm run build:wasm`);
  return f;
}

/** Copy bytes into fresh WASM memory; returns the pointer (caller frees). */
function put(src: ArrayBufferView, extra = 0): number {
  const p = k.malloc(src.byteLength + extra);
  k.write(p, src);
  return p;
}

// ---------------------------------------------------------------- test data

interface Case {
  label: string;
  x: Float32Array;
}

/** Rows that stress quantizers and kernels, for row length n (a multiple of 256). */
function cases(n: number, seed: number): Case[] {
  const rand = mulberry32(seed);
  const g = (sigma = 1) => gaussian(rand, n, sigma);
  const out: Case[] = [];
  out.push({ label: 'gaussian', x: g() });
  out.push({ label: 'gaussian 1e4', x: g(1e4) });
  out.push({ label: 'gaussian 1e-6', x: g(1e-6) });
  {
    const x = g();
    for (let i = 7; i < n; i += 97) x[i]! *= 60; // outliers of both signs
    x[n - 1] = -500;
    out.push({ label: 'outliers', x });
  }
  {
    // an all-zero super-block (the last one), and mixed magnitudes per block
    const x = g();
    for (let b = 0; b < n / QK_K; b++) for (let j = 0; j < QK_K; j++) x[b * QK_K + j]! *= 10 ** ((b % 5) - 2);
    x.fill(0, n - QK_K);
    out.push({ label: 'zero block, scales 1e-2..1e2', x });
  }
  {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = 1 + 3 * rand(); // all positive: mins at their bounds
    out.push({ label: 'positive', x });
  }
  {
    // +m and -m both present: q8_K takes the first one's sign
    const x = g(0.1);
    for (let b = 0; b < n / QK_K; b++) {
      const s = b % 2 ? 1 : -1;
      x[b * QK_K + 5] = 2 * s;
      x[b * QK_K + 200] = -2 * s;
    }
    out.push({ label: 'magnitude ties', x });
  }
  out.push({ label: 'constant', x: new Float32Array(n).fill(-0.75) });
  out.push({ label: 'all zero', x: new Float32Array(n) });
  return out;
}

/** Random bytes in every field, with finite f16 scales (inf/nan scales are garbage in either path). */
function randomBlocks(type: GGMLType, nb: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  const { typeSize } = ggmlTypeInfo(type)!;
  const b = new Uint8Array(nb * typeSize);
  for (let i = 0; i < b.length; i++) b[i] = (rand() * 256) | 0;
  const f16At: Record<number, number[]> = {
    [GGMLType.Q2_K]: [80, 82],
    [GGMLType.Q3_K]: [108],
    [GGMLType.Q4_K]: [0, 2],
    [GGMLType.Q5_K]: [0, 2],
    [GGMLType.Q6_K]: [208],
  };
  for (let i = 0; i < nb; i++) {
    for (const off of f16At[type]!) b[i * typeSize + off + 1]! &= 0xbb; // exponent < 31
  }
  return b;
}

// ---------------------------------------------------------------- wasm calls

function wasmQ8K(x: Float32Array): Uint8Array {
  const px = put(x);
  const py = k.malloc(rowSize(GGMLType.Q8_K, x.length));
  fn<RowFn>('quantize_row_q8_K')(px, py, x.length);
  const y = k.bytes(py, rowSize(GGMLType.Q8_K, x.length)).slice();
  k.free(px);
  k.free(py);
  return y;
}

function wasmDequant(type: GGMLType, bytes: Uint8Array, n: number): Float32Array {
  const px = put(bytes);
  const py = k.malloc(4 * n);
  fn<RowFn>(`dequantize_row_${nameOf(type)}`)(px, py, n);
  const y = k.floats(py, n).slice();
  k.free(px);
  k.free(py);
  return y;
}

/** float64 dot of reference dequantizations, and sum |w_i a_i|. */
function referenceDot(wf: Float32Array, af: Float32Array): { dot: number; mag: number } {
  const n = wf.length;
  let dot = 0;
  let mag = 0;
  for (let i = 0; i < n; i++) {
    dot += wf[i]! * af[i]!;
    mag += Math.abs(wf[i]! * af[i]!);
  }
  return { dot, mag };
}

function sameFloats(got: Float32Array, want: Float32Array, what: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < got.length; i++) {
    if (g[i] !== w[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      assert.unreachable(`${what}: element ${i} is ${got[i]}, reference ${want[i]}`);
    }
  }
}

// ---------------------------------------------------------------- tests

test.before(async () => {
  k = await loadKernels();
});

test('quantize_row_q8_K: the reference bytes', () => {
  for (const n of [256, 512, 4096]) {
    for (const { label, x } of cases(n, 11 + n)) {
      const got = wasmQ8K(x);
      const want = quantizeRow(GGMLType.Q8_K, x);
      for (let i = 0; i < want.length; i++) {
        if (got[i] !== want[i]) assert.unreachable(`n=${n} ${label}: byte ${i} is ${got[i]}, reference ${want[i]}`);
      }
    }
  }
});

test('dequantize_row_q8_K: the reference floats', () => {
  for (const n of [256, 4096]) {
    for (const { label, x } of cases(n, 21 + n)) {
      const q = quantizeRow(GGMLType.Q8_K, x);
      sameFloats(wasmDequant(GGMLType.Q8_K, q, n), dequantizeRow(GGMLType.Q8_K, q, n), `q8_K n=${n} ${label}`);
    }
  }
});

for (const type of K_TYPES) {
  const name = nameOf(type);

  test(`dequantize_row_${name}: the reference floats, on quantized rows and random bytes`, () => {
    for (const n of [256, 512, 4096]) {
      for (const { label, x } of cases(n, 31 + n + type)) {
        const q = quantizeRow(type, x);
        sameFloats(wasmDequant(type, q, n), dequantizeRow(type, q, n), `${name} n=${n} ${label}`);
      }
    }
    const n = 64 * QK_K;
    const q = randomBlocks(type, n / QK_K, 41 + type);
    sameFloats(wasmDequant(type, q, n), dequantizeRow(type, q, n), `${name} random bytes`);
  });

  test(`vec_dot_${name}_q8_K and matvec_${name}: the reference dot within ${DOT_TOL} of sum |w*a|`, () => {
    const vecDot = fn<VecDotFn>(`vec_dot_${name}_q8_K`);
    const matvec = fn<MatvecFn>(`matvec_${name}`);
    // 10240 > ACT_CHUNK (8192) makes matvec widen the activation in two passes
    for (const n of [256, 512, 4096, 10240]) {
      const rs = rowSize(type, n);
      const acts = cases(n, 51 + n).filter((c) => c.label !== 'all zero' || n === 256);
      const weights = cases(n, 61 + n + type).map((c) => ({ label: c.label, q: quantizeRow(type, c.x) }));
      weights.push({ label: 'random bytes', q: randomBlocks(type, n / QK_K, 71 + n + type) });
      const wfs = weights.map((w) => dequantizeRow(type, w.q, n));
      // Rows `stride` bytes apart with junk between them: matvec must use row_bytes.
      const stride = rs + 20;
      const rows = weights.length;
      const wbuf = new Uint8Array(stride * rows).fill(0xa5);
      weights.forEach((w, r) => wbuf.set(w.q, r * stride));
      const pw = put(wbuf);
      const pout = k.malloc(4 * rows);
      for (const act of acts) {
        const aq = quantizeRow(GGMLType.Q8_K, act.x);
        const af = dequantizeRow(GGMLType.Q8_K, aq, n);
        const pa = put(aq);
        const dots: number[] = [];
        for (let r = 0; r < rows; r++) {
          const got = vecDot(n, pw + r * stride, pa);
          const { dot, mag } = referenceDot(wfs[r]!, af);
          const err = Math.abs(got - dot);
          if (!(err <= DOT_TOL * mag)) {
            assert.unreachable(
              `${name} n=${n} w=${weights[r]!.label} a=${act.label}: vec_dot ${got}, reference ${dot} ` +
                `(error ${err}, ${(err / mag).toExponential(2)} of sum |w*a| ${mag})`,
            );
          }
          dots.push(got);
        }
        // full range: every row as vec_dot computes it (same operations, so same bits)
        k.floats(pout, rows).fill(NaN);
        matvec(pw, stride, pa, pout, n, 0, rows);
        const full = k.floats(pout, rows).slice();
        for (let r = 0; r < rows; r++) {
          if (!Object.is(full[r], Math.fround(dots[r]!))) {
            assert.unreachable(`${name} n=${n} a=${act.label}: matvec row ${r} is ${full[r]}, vec_dot ${dots[r]}`);
          }
        }
        // sub-range [2, rows-1): the others keep their sentinel
        const sentinel = -12345.5;
        k.floats(pout, rows).fill(sentinel);
        matvec(pw, stride, pa, pout, n, 2, rows - 1);
        const part = k.floats(pout, rows).slice();
        for (let r = 0; r < rows; r++) {
          const want = r >= 2 && r < rows - 1 ? full[r] : sentinel;
          if (!Object.is(part[r], want)) assert.unreachable(`${name} n=${n}: matvec [2, ${rows - 1}) row ${r} is ${part[r]}, want ${want}`);
        }
        k.free(pa);
      }
      k.free(pw);
      k.free(pout);
    }
  });
}

test.run();

// f16x4_to_f32x4 (kernels/common.h) converts the k-quants' super-block scales
// in the group and repacked kernels, many of them f16 subnormals; it takes
// them apart in integers (an f32 subnormal operand costs x86 a microcode
// assist). dequantize_row_f16 runs it on every half: the bits of formats/f16.
test('dequantize_row_f16 (f16x4_to_f32x4): all 65536 halves, bit for bit as formats/f16, nan payloads too', () => {
  const n = 0x10000;
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) h[i] = i;
  const px = k.malloc(2 * n);
  const py = k.malloc(4 * n);
  k.write(px, new Uint8Array(h.buffer));
  k.lookup<RowFn>('dequantize_row_f16')!(px, py, n);
  const got = new Uint32Array(k.bytes(py, 4 * n).slice().buffer);
  k.free(px);
  k.free(py);
  for (let i = 0; i < n; i++) {
    if (got[i] !== fp16BitsToFp32Bits(i)) assert.unreachable(`half 0x${i.toString(16)}: 0x${got[i]!.toString(16)}, want 0x${fp16BitsToFp32Bits(i).toString(16)}`);
  }
});
