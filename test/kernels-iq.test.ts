// The kernels of iq4_nl, iq4_xs, mxfp4, tq1_0 and tq2_0 (kernels/iquants.c
// and ternary.c) against the scalar references in formats/quant (which
// test/quant-iq.test.ts holds to ggml's bits):
// - dequantize_row_<t> (get_rows' decoder) gives the reference's floats bit
//   for bit, on quantized rows and on random bytes;
// - vec_dot_<t>_<vdt> is within DOT_TOL of the exact dot of the reference
//   dequantizations (activation quantized by the WASM quantizer, as a matmul
//   does), and matvec_<t> gives vec_dot's bits for every row and writes only
//   rows [r0, r1);
// - mat_rows_<t> as a graph op gives the same bits on 1 and 3 threads, and
//   get_rows_q_<t> the reference rows.
// - iq4_nl and iq4_xs: the baseline build's mul_mat gives the relaxed
//   build's bits (both reduce each block or super-block to a row's exact
//   int32 sum and take the same f32 steps), where the engine has relaxed SIMD.
// Batch = token by token (mul_mat vs matvec) is in kernels-matmul.test.ts,
// the expert matmul in kernels-moe.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { dequantizeRow, quantizeRow } from '../formats/quant/index.js';
import { Graph } from '../runtime/graph/graph.js';
import { Ops } from '../runtime/graph/ops.js';
import { loadKernels, type Kernels, type MatvecFn, type RowFn, type VecDotFn } from '../wasm/loader.js';
import { gaussian, mulberry32 } from './helpers/rng.js';
import { runAsThreads, wasmArena } from './helpers/run-graph.js';

const T = GGMLType;
const TYPES = [T.IQ4_NL, T.IQ4_XS, T.MXFP4, T.TQ1_0, T.TQ2_0] as const;
const name = (t: GGMLType) => ggmlTypeInfo(t)!.name;

/**
 * Tolerance of vec_dot, relative to sum |w_i * a_i|. The kernels sum each
 * block's (iq4_nl, mxfp4) or super-block's (the others) products exactly in
 * int32, convert to f32 exactly (|lane| < 2^24), and then per block round
 * fl(d_w * d_a), the product and one add: into one of four f32 lanes summed
 * pairwise at the end (at most n/128 + 3 roundings of 2^-24 per lane), or,
 * in the relaxed build's mxfp4 (four rows side by side), into one f32 per
 * row, block after block as ggml's reference does (at most n/32 + 1
 * roundings). Relative to partial sums bounded by sum |terms|: under 1.7e-5
 * at n = 8256. The reference (float64 over the reference's exactly
 * dequantized f32 values: levels times scales are exact in f32 for all five
 * types) adds nothing. A wrong level, bit or scale moves the result by far
 * more (one element in 8192 is ~1e-4 of the magnitude).
 */
const DOT_TOL = 2e-5;

const k: Kernels = await loadKernels();
const arena = wasmArena(k);
const put = arena.put;
test.after(arena.free);

function fn<F extends (...args: never[]) => unknown>(n: string): F {
  const f = k.lookup<F>(n);
  if (!f) throw new Error(`kernels.wasm lacks ${n}; rebuild it with npm run build:wasm`);
  return f;
}

/** Scale field offsets per block (f16, or mxfp4's exponent byte, which random bytes may set to 255: inf). */
const F16_AT: Record<number, number[]> = { [T.IQ4_NL]: [0], [T.IQ4_XS]: [0], [T.TQ1_0]: [52], [T.TQ2_0]: [64], [T.MXFP4]: [] };

function randomBytes(type: GGMLType, n: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  const { typeSize, blockSize } = ggmlTypeInfo(type)!;
  const b = new Uint8Array((n / blockSize) * typeSize);
  for (let i = 0; i < b.length; i++) b[i] = (rand() * 256) | 0;
  for (let i = 0; i < n / blockSize; i++) {
    for (const o of F16_AT[type]!) b[i * typeSize + o + 1]! &= 0xbb; // finite f16
    if (type === T.MXFP4) b[i * typeSize] = 100 + (b[i * typeSize]! % 50); // scales 2^-28..2^21
  }
  return b;
}

function rowsOf(n: number, seed: number): { label: string; x: Float32Array }[] {
  const rand = mulberry32(seed);
  const out = [
    { label: 'gaussian', x: gaussian(rand, n, 1) },
    { label: 'gaussian 1e3', x: gaussian(rand, n, 1e3) },
    { label: 'gaussian 1e-4', x: gaussian(rand, n, 1e-4) },
  ];
  const x = gaussian(rand, n, 1);
  for (let i = 5; i < n; i += 61) x[i]! *= 40;
  x.fill(0, 0, Math.min(n, 256));
  out.push({ label: 'outliers, a zero super-block', x });
  return out;
}

function sameFloats(got: Float32Array, want: Float32Array, what: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < want.length; i++) {
    if (g[i] !== w[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      assert.unreachable(`${what}: element ${i} is ${got[i]}, reference ${want[i]}`);
    }
  }
}

function wasmDequant(type: GGMLType, bytes: Uint8Array, n: number): Float32Array {
  const px = put(bytes);
  const py = put(new Float32Array(n));
  fn<RowFn>(`dequantize_row_${name(type)}`)(px, py, n);
  return k.floats(py, n).slice();
}

function wasmActivation(vdt: GGMLType, x: Float32Array): Uint8Array {
  const px = put(x);
  const py = put(new Uint8Array(rowSize(vdt, x.length)));
  fn<RowFn>(`quantize_row_${name(vdt)}`)(px, py, x.length);
  return k.bytes(py, rowSize(vdt, x.length)).slice();
}

for (const type of TYPES) {
  const nm = name(type);
  const vdt = ggmlTypeInfo(type)!.vecDotType!;
  const lengths = ggmlTypeInfo(type)!.blockSize === 32 ? [32, 96, 4096, 8192 + 64] : [256, 512, 8192 + 256];

  test(`dequantize_row_${nm}: the reference floats, on quantized rows and random bytes`, () => {
    for (const n of lengths) {
      for (const { label, x } of rowsOf(n, 3 + n + type)) {
        const q = quantizeRow(type, x);
        sameFloats(wasmDequant(type, q, n), dequantizeRow(type, q, n), `${nm} n=${n} ${label}`);
      }
      const q = randomBytes(type, n, 5 + n + type);
      sameFloats(wasmDequant(type, q, n), dequantizeRow(type, q, n), `${nm} n=${n} random bytes`);
    }
  });

  test(`vec_dot_${nm}_${name(vdt)} within ${DOT_TOL} of sum |w*a|; matvec_${nm} gives its bits on rows [r0, r1) only`, () => {
    const vecDot = fn<VecDotFn>(`vec_dot_${nm}_${name(vdt)}`);
    const matvec = fn<MatvecFn>(`matvec_${nm}`);
    let worst = 0;
    for (const n of lengths) {
      const weights = rowsOf(n, 11 + n + type).map((c) => ({ label: c.label, q: quantizeRow(type, c.x) }));
      weights.push({ label: 'random bytes', q: randomBytes(type, n, 13 + n + type) });
      const wf = weights.map((w) => dequantizeRow(type, w.q, n));
      const stride = rowSize(type, n) + 12; // rows need not be packed
      const wbuf = new Uint8Array(stride * weights.length).fill(0x5a);
      weights.forEach((w, r) => wbuf.set(w.q, r * stride));
      const pw = put(wbuf);
      const rows = weights.length;
      const pout = put(new Float32Array(rows));
      for (const act of rowsOf(n, 17 + n)) {
        const aq = wasmActivation(vdt, act.x);
        const af = dequantizeRow(vdt, aq, n);
        const pa = put(aq);
        const dots: number[] = [];
        for (let r = 0; r < rows; r++) {
          const got = vecDot(n, pw + r * stride, pa);
          let dot = 0;
          let mag = 0;
          for (let i = 0; i < n; i++) {
            dot += wf[r]![i]! * af[i]!;
            mag += Math.abs(wf[r]![i]! * af[i]!);
          }
          const err = Math.abs(got - dot);
          if (mag > 0) worst = Math.max(worst, err / mag);
          if (!(err <= DOT_TOL * mag)) {
            assert.unreachable(`${nm} n=${n} w=${weights[r]!.label} a=${act.label}: vec_dot ${got}, reference ${dot} (${(err / mag).toExponential(2)} of sum |w*a|)`);
          }
          dots.push(got);
        }
        const sentinel = -12345.5;
        k.floats(pout, rows).fill(sentinel);
        matvec(pw, stride, pa, pout, n, 1, rows - 1);
        const part = k.floats(pout, rows).slice();
        for (let r = 0; r < rows; r++) {
          const want = r >= 1 && r < rows - 1 ? Math.fround(dots[r]!) : sentinel;
          if (!Object.is(part[r], want)) assert.unreachable(`${nm} n=${n}: matvec [1, ${rows - 1}) row ${r} is ${part[r]}, want ${want}`);
        }
      }
    }
    console.log(`  ${nm}: worst vec_dot error ${worst.toExponential(2)} of sum |w*a| (bound ${DOT_TOL})`);
  });

  test(`mat_rows_${nm}: 1 and 3 threads give the same bits; get_rows_q_${nm}: the reference rows`, () => {
    const rand = mulberry32(0xabc + type);
    const nIn = lengths[lengths.length - 2]!, nOut = 29, nTok = 9, nVocab = 7;
    const rb = rowSize(type, nIn);
    const wBytes = new Uint8Array(rb * nOut);
    for (let r = 0; r < nOut; r++) wBytes.set(quantizeRow(type, gaussian(rand, nIn, 0.05)), r * rb);
    const pw = put(wBytes);
    const px = put(gaussian(rand, nIn * nTok, 1));
    const ids = [6, 0, 3, 3, 1];
    const pids = put(Int32Array.from(ids));
    const results: Uint32Array[] = [];
    for (const nth of [1, 3]) {
      const g = new Graph();
      const ops = new Ops(g, k);
      const w = g.tensor({ name: 'w', type, ne: [nIn, nOut], kind: 'weight', ptr: pw });
      const x = g.tensor({ name: 'x', type: T.F32, ne: [nIn, nTok], kind: 'input', ptr: px });
      const table = g.tensor({ name: 'table', type, ne: [nIn, nVocab], kind: 'weight', ptr: pw });
      const idt = g.tensor({ name: 'ids', type: T.I32, ne: [ids.length], kind: 'input', ptr: pids });
      const y = ops.matmul(w, x, 'y');
      const e = ops.getRows(table, idt, 'e');
      g.markOutput(y);
      g.markOutput(e);
      const plan = runAsThreads(k, g, nth);
      results.push(new Uint32Array(k.floats(plan.ptr(y), nOut * nTok).slice().buffer));
      const emb = k.floats(plan.ptr(e), nIn * ids.length).slice();
      ids.forEach((id, i) => sameFloats(emb.subarray(i * nIn, (i + 1) * nIn), dequantizeRow(type, wBytes.subarray(id * rb, (id + 1) * rb), nIn), `get_rows id ${id}, ${nth} threads`));
      plan.dispose();
    }
    assert.equal(Array.from(results[1]!), Array.from(results[0]!), '3 threads vs 1');
  });
}

test('iq4_nl, iq4_xs: the baseline build gives the relaxed build\'s bits, one token and a batch', async () => {
  let relaxed: Kernels;
  try {
    relaxed = await loadKernels({ simd: 'relaxed' });
  } catch (e) {
    console.log(`  skipped: no relaxed SIMD here (${(e as Error).message})`);
    return;
  }
  const builds = [await loadKernels({ simd: 'baseline' }), relaxed];
  const rand = mulberry32(0x1b4);
  for (const type of [T.IQ4_NL, T.IQ4_XS]) {
    const vdt = ggmlTypeInfo(type)!.vecDotType!;
    for (const n of [512, 8192 + 256]) {
      // 7 rows (a group of four and a short one), one with tiny scales (f16 subnormal d), one of random bytes
      const rb = rowSize(type, n), rows = 7, nTok = 5;
      const w = new Uint8Array(rb * rows);
      for (let r = 0; r < rows - 1; r++) w.set(quantizeRow(type, gaussian(rand, n, r === 2 ? 1e-6 : 0.05)), r * rb);
      w.set(randomBytes(type, n, 0x77 + n), (rows - 1) * rb);
      const x = Array.from({ length: nTok }, (_, t) => gaussian(rand, n, 10 ** (t - 2)));
      const outs = builds.map((kk) => {
        const pw = kk.malloc(w.length), pa = kk.malloc(rowSize(vdt, n) * nTok), po = kk.malloc(rows * nTok * 4), px = kk.malloc(n * 4);
        kk.write(pw, w);
        x.forEach((xt, t) => {
          kk.write(px, xt);
          kk.lookup<RowFn>(`quantize_row_${name(vdt)}`)!(px, pa + t * rowSize(vdt, n), n);
        });
        const out: Uint32Array[] = [];
        for (const nt of [1, nTok]) {
          kk.floats(po, rows * nTok).fill(0);
          kk.lookup<(...a: number[]) => void>(`mul_mat_${name(type)}`)!(pw, rb, pa, rowSize(vdt, n), po, rows, n, nt, 1, rows);
          out.push(new Uint32Array(kk.floats(po, rows * nt).slice().buffer));
        }
        for (const p of [pw, pa, po, px]) kk.free(p);
        return out;
      });
      assert.equal(Array.from(outs[0]![0]!), Array.from(outs[1]![0]!), `${name(type)} n=${n}: one token`);
      assert.equal(Array.from(outs[0]![1]!), Array.from(outs[1]![1]!), `${name(type)} n=${n}: ${nTok} tokens`);
    }
  }
});

test.run();
