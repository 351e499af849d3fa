// The grid i-quant WASM kernels (kernels/iquants-grid.c) against the scalar
// references in formats/quant (themselves equal to ggml's, quant-iq-grid.test.ts):
// - dequantize_row_<t> gives the reference floats bit for bit;
// - vec_dot_<t>_q8_K is within dotTol(n) of the float64 dot of the reference
//   dequantizations; matvec_<t> rows equal vec_dot bit for bit and it
//   writes only rows [r0, r1);
// - mul_mat_<t> (a batch) equals matvec_<t> token by token bit for bit;
// - mat_rows_<t>, mat_rows_id_<t> and get_rows_q_<t> give the same bits on
//   1, 2 and 3 threads, and mat_rows_id_<t> gives each expert's rows the bits
//   of a dense mul_mat by that expert;
// - the relaxed-SIMD module's kernels (relaxed/iq-grid-relaxed.c, over the
//   baseline module's tables) give the baseline kernels' bits: both reduce a
//   super-block to the same exact int32 sum and take the same float steps.
// The file runs on both builds (test/run.mjs: relaxed, then baseline), so
// the reference checks above cover each.
// Weights are random blocks (every field's every value; quant-iq-grid.test.ts
// also covers ggml-quantized ones for the references).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { dequantizeRow, quantizeRow } from '../formats/quant/index.js';
import { RELAXED_OVERRIDES } from '../wasm/kernel-table.js';
import { loadKernels, type Kernels, type MatvecFn, type Ptr, type RowFn, type VecDotFn } from '../wasm/loader.js';
import { IQ_GRID_TYPES, randomIqBlocks } from './helpers/iq-blocks.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const QK_K = 256;
const name = (t: GGMLType) => ggmlTypeInfo(t)!.name;

/**
 * Tolerance of vec_dot for a row of n, relative to sum |w_i * a_i|. The
 * kernel sums each super-block exactly in int32 and then does three f32
 * roundings per super-block (d * d_act, times the sum, added to the row's
 * sum) and one at the end (a power of two: exact), each at most 2^-24 of a
 * partial sum bounded by sum |terms|. The reference rounds each weight up to
 * three times in f32 (ggml's d * (0.5 + s), times 1/4, times the grid
 * value): 3 * 2^-24 of |w|. So (3 * n/256 + 4) * 2^-24: 9.5e-7 at n = 256,
 * 6e-6 at n = 8192; seen here: at most 1.4e-8 (random blocks). A wrong grid
 * point, sign pattern or scale changes a group of 8 or more values, ~1e-3
 * of the sum.
 */
const dotTol = (n: number) => (3 * (n / QK_K) + 4) * 2 ** -24;

type MulMatFn = (w: Ptr, rowBytes: number, a: Ptr, aRowBytes: number, out: Ptr, outStride: number, n: number,
  nTok: number, r0: number, r1: number) => void;
type MatRowsFn = (w: Ptr, rowBytes: number, a: Ptr, aRowBytes: number, out: Ptr, outStride: number, n: number,
  nTok: number, nRows: number, ith: number, nth: number) => void;
type MatRowsIdFn = (w: Ptr, rowBytes: number, expertBytes: number, meta: Ptr, nExpert: number, act: Ptr,
  actRowBytes: number, sorted: Ptr, nOut: number, n: number, ith: number, nth: number) => void;
type GetRowsFn = (table: Ptr, rowBytes: number, ids: Ptr, y: Ptr, nIds: number, n: number, ith: number, nth: number) => void;

const k: Kernels = await loadKernels();
let live: Ptr[] = [];
function alloc(bytes: number): Ptr {
  const p = k.malloc(Math.max(bytes, 1));
  live.push(p);
  return p;
}
function put(data: ArrayBufferView): Ptr {
  const p = alloc(data.byteLength);
  k.write(p, data);
  return p;
}
function freeAll(): void {
  for (const p of live) k.free(p);
  live = [];
}
function fn<F extends (...args: never[]) => unknown>(n: string): F {
  const f = k.lookup<F>(n);
  if (!f) throw new Error(`kernels.wasm has no ${n}; rebuild it with npm run build:wasm`);
  return f;
}
const bitsAt = (p: Ptr, n: number) => new Uint32Array(k.u8().buffer, p, n).slice();

function sameBits(got: Float32Array, want: Float32Array, what: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < g.length; i++) {
    if (g[i] !== w[i]) assert.unreachable(`${what}: element ${i} is ${got[i]}, reference ${want[i]}`);
  }
}

/** nTok q8_K activation rows (the reference quantizer), `pad` bytes between rows. */
function activations(n: number, nTok: number, rand: () => number, pad = 36): { ptr: Ptr; rowBytes: number; rows: Uint8Array[] } {
  const size = rowSize(GGMLType.Q8_K, n);
  const rowBytes = size + pad;
  const ptr = alloc(rowBytes * nTok);
  const rows: Uint8Array[] = [];
  for (let t = 0; t < nTok; t++) {
    const x = gaussian(rand, n, 10 ** ((t % 5) - 2));
    if (t === 2) x.fill(0, 0, Math.min(n, 300));
    const q = quantizeRow(GGMLType.Q8_K, x);
    k.write(ptr + t * rowBytes, q);
    rows.push(q);
  }
  return { ptr, rowBytes, rows };
}

for (const type of IQ_GRID_TYPES) {
  const t = name(type);

  test(`dequantize_row_${t}: the reference floats bit for bit (random blocks, extreme scales)`, () => {
    try {
      const dequant = fn<RowFn>(`dequantize_row_${t}`);
      for (const [label, scale] of [['random', undefined], ['zero d', 0], ['subnormal d', 0x8003], ['largest d', 0x7bff]] as const) {
        const nb = label === 'random' ? 96 : 4;
        const q = randomIqBlocks(type, nb, 0x3100 + type, scale);
        const py = alloc(4 * nb * QK_K);
        dequant(put(q), py, nb * QK_K);
        sameBits(k.floats(py, nb * QK_K).slice(), dequantizeRow(type, q, nb * QK_K), `${t} ${label}`);
      }
    } finally {
      freeAll();
    }
  });

  test(`vec_dot_${t}_q8_K within (3n/256 + 4) * 2^-24 of sum |w*a|; matvec_${t} rows are vec_dot's bits, only [r0, r1)`, () => {
    try {
      const vecDot = fn<VecDotFn>(`vec_dot_${t}_q8_K`);
      const matvec = fn<MatvecFn>(`matvec_${t}`);
      const rand = mulberry32(0x7700 + type);
      for (const n of [256, 1024, 8192]) {
        const rows = 9;
        const rs = rowSize(type, n);
        const stride = rs + 10; // rows need not be packed
        const wbytes = new Uint8Array(stride * rows).fill(0xa5);
        const wf: Float32Array[] = [];
        for (let r = 0; r < rows; r++) {
          // row 1: tiny scales (subnormal f16); the rest random
          const q = randomIqBlocks(type, n / QK_K, 0x7800 + 31 * type + r + n, r === 1 ? 0x0011 : undefined);
          wbytes.set(q, r * stride);
          wf.push(dequantizeRow(type, q, n));
        }
        const pw = put(wbytes);
        const { ptr: pa, rowBytes: aRow, rows: acts } = activations(n, 5, rand);
        const out = alloc(4 * rows);
        for (let a = 0; a < acts.length; a++) {
          const af = dequantizeRow(GGMLType.Q8_K, acts[a]!, n);
          const dots: number[] = [];
          for (let r = 0; r < rows; r++) {
            const got = vecDot(n, pw + r * stride, pa + a * aRow);
            let dot = 0;
            let mag = 0;
            for (let i = 0; i < n; i++) {
              dot += wf[r]![i]! * af[i]!;
              mag += Math.abs(wf[r]![i]! * af[i]!);
            }
            const err = Math.abs(got - dot);
            if (!(err <= dotTol(n) * mag)) {
              assert.unreachable(`${t} n=${n} row ${r} act ${a}: vec_dot ${got}, reference ${dot} (error ${(err / mag).toExponential(2)} of sum |w*a|)`);
            }
            dots.push(got);
          }
          const sentinel = -12345.5;
          k.floats(out, rows).fill(sentinel);
          matvec(pw, stride, pa + a * aRow, out, n, 2, rows - 1);
          const got = k.floats(out, rows).slice();
          for (let r = 0; r < rows; r++) {
            const want = r >= 2 && r < rows - 1 ? Math.fround(dots[r]!) : sentinel;
            if (!Object.is(got[r], want)) assert.unreachable(`${t} n=${n} act ${a}: matvec row ${r} is ${got[r]}, want ${want}`);
          }
        }
      }
    } finally {
      freeAll();
    }
  });

  test(`mul_mat_${t} equals matvec_${t} token by token; mat_rows/mat_rows_id/get_rows_q on 1, 2, 3 threads bit-identical`, () => {
    try {
      const rand = mulberry32(0x9900 + type);
      const mulMat = fn<MulMatFn>(`mul_mat_${t}`);
      const matvec = fn<MatvecFn>(`matvec_${t}`);
      const matRows = fn<MatRowsFn>(`mat_rows_${t}`);
      const SENT = 0x7fc0beef;
      for (const n of [512, 8192 + 256]) {
        const ROWS = 13;
        const rowBytes = rowSize(type, n);
        const pw = put(randomIqBlocks(type, (ROWS * n) / QK_K, 0x9a00 + type + n));
        for (const nTok of [1, 3, 8, 9, 17, 33, 70]) {
          const { ptr: pa, rowBytes: aRow } = activations(n, nTok, rand);
          const outStride = ROWS + 3;
          const out = alloc(4 * outStride * nTok);
          const ref = alloc(4 * ROWS);
          for (const [r0, r1] of [[0, ROWS], [3, 11]] as const) {
            new Uint32Array(k.u8().buffer, out, outStride * nTok).fill(SENT);
            mulMat(pw, rowBytes, pa, aRow, out, outStride, n, nTok, r0, r1);
            const got = bitsAt(out, outStride * nTok);
            for (let tk = 0; tk < nTok; tk++) {
              matvec(pw, rowBytes, pa + tk * aRow, ref, n, r0, r1);
              const want = bitsAt(ref, ROWS);
              for (let r = 0; r < outStride; r++) {
                const g = got[tk * outStride + r]!;
                const w = r >= r0 && r < r1 ? want[r]! : SENT;
                if (g !== w) assert.unreachable(`${t} n=${n} tokens=${nTok} [${r0},${r1}): token ${tk} row ${r} differs from matvec`);
              }
            }
          }
          // the graph op: 1 thread vs 2 and 3 threads
          const outs = [1, 2, 3].map((nth) => {
            new Uint32Array(k.u8().buffer, out, outStride * nTok).fill(SENT);
            for (let ith = 0; ith < nth; ith++) matRows(pw, rowBytes, pa, aRow, out, outStride, n, nTok, ROWS, ith, nth);
            return bitsAt(out, outStride * nTok);
          });
          assert.equal(outs[1], outs[0], `${t} n=${n} tokens=${nTok}: mat_rows on 2 threads`);
          assert.equal(outs[2], outs[0], `${t} n=${n} tokens=${nTok}: mat_rows on 3 threads`);
        }
      }

      // experts: 3 experts of 10 rows, groups of 2, 0 and 5 activation rows
      {
        const n = 512;
        const nOut = 10;
        const rowBytes = rowSize(type, n);
        const expertBytes = rowBytes * nOut;
        const pw = put(randomIqBlocks(type, (3 * nOut * n) / QK_K, 0x9b00 + type));
        const offsets = [0, 2, 2, 7];
        const { ptr: pa, rowBytes: aRow } = activations(n, 7, rand, 0);
        const meta = put(Int32Array.from(offsets));
        const sorted = alloc(4 * 7 * nOut);
        const matRowsId = fn<MatRowsIdFn>(`mat_rows_id_${t}`);
        const outs = [1, 2, 3].map((nth) => {
          new Uint32Array(k.u8().buffer, sorted, 7 * nOut).fill(SENT);
          for (let ith = 0; ith < nth; ith++) matRowsId(pw, rowBytes, expertBytes, meta, 3, pa, aRow, sorted, nOut, n, ith, nth);
          return bitsAt(sorted, 7 * nOut);
        });
        assert.equal(outs[1], outs[0], `${t}: mat_rows_id on 2 threads`);
        assert.equal(outs[2], outs[0], `${t}: mat_rows_id on 3 threads`);
        const dense = alloc(4 * 7 * nOut);
        for (let e = 0; e < 3; e++) {
          const g0 = offsets[e]!;
          const cnt = offsets[e + 1]! - g0;
          if (cnt) mulMat(pw + e * expertBytes, rowBytes, pa + g0 * aRow, aRow, dense + 4 * g0 * nOut, nOut, n, cnt, 0, nOut);
        }
        assert.equal(outs[0], bitsAt(dense, 7 * nOut), `${t}: mat_rows_id rows are each expert's mul_mat`);
      }

      // token embeddings: rows by id, 1 vs 3 threads, equal to the reference dequantization
      {
        const n = 512;
        const nRows = 6;
        const rowBytes = rowSize(type, n);
        const table = randomIqBlocks(type, (nRows * n) / QK_K, 0x9c00 + type);
        const ids = Int32Array.from([5, 0, 3, 3, 1]);
        const pt = put(table);
        const pids = put(ids);
        const py = alloc(4 * n * ids.length);
        const getRows = fn<GetRowsFn>(`get_rows_q_${t}`);
        const outs = [1, 2, 3].map((nth) => {
          k.floats(py, n * ids.length).fill(NaN);
          for (let ith = 0; ith < nth; ith++) getRows(pt, rowBytes, pids, py, ids.length, n, ith, nth);
          return k.floats(py, n * ids.length).slice();
        });
        sameBits(outs[1]!, outs[0]!, `${t}: get_rows_q on 2 threads`);
        sameBits(outs[2]!, outs[0]!, `${t}: get_rows_q on 3 threads`);
        ids.forEach((id, i) => {
          const want = dequantizeRow(type, table.subarray(id * rowBytes, (id + 1) * rowBytes), n);
          sameBits(outs[0]!.subarray(i * n, (i + 1) * n), want, `${t}: get_rows_q row ${i} (id ${id})`);
        });
      }
    } finally {
      freeAll();
    }
  });
}

// The grid types the relaxed module has kernels for (the rest run the baseline's there too).
const RELAXED_GRID = IQ_GRID_TYPES.filter((type) => (RELAXED_OVERRIDES as readonly string[]).includes(`matvec_${name(type)}`));

test('relaxed grid kernels: the baseline build\'s bits (matvec, mul_mat of 1/3/33/70 tokens, mat_rows on 1/2/3 threads)', async () => {
  assert.ok(RELAXED_GRID.length > 0, 'the relaxed module lists grid kernels');
  const both = await Promise.all([loadKernels({ simd: 'relaxed' }), loadKernels({ simd: 'baseline' })]);
  assert.is(both[0].simd, 'relaxed');
  assert.is(both[1].simd, 'baseline');
  const rand = mulberry32(0x5151);
  for (const type of RELAXED_GRID) {
    const t = name(type);
    // 2 chunks of columns in the relaxed kernels (4096 each) and a short third; 13 rows, a split [3, 12)
    for (const n of [512, 8192 + 512]) {
      const ROWS = 13;
      const rowBytes = rowSize(type, n);
      const w = randomIqBlocks(type, (ROWS * n) / QK_K, 0x5200 + type + n);
      const nTokMax = 70;
      const aRow = rowSize(GGMLType.Q8_K, n);
      const act = new Uint8Array(aRow * nTokMax);
      for (let tk = 0; tk < nTokMax; tk++) {
        const x = gaussian(rand, n, 10 ** ((tk % 5) - 2));
        if (tk % 7 === 3) x.fill(0, 0, 300);
        act.set(quantizeRow(GGMLType.Q8_K, x), tk * aRow);
      }
      const runs = both.map((kk) => {
        const pw = kk.malloc(w.length);
        const pa = kk.malloc(act.length);
        const po = kk.malloc(4 * ROWS * nTokMax);
        kk.write(pw, w);
        kk.write(pa, act);
        const res: Uint32Array[] = [];
        const mulMat = kk.lookup<MulMatFn>(`mul_mat_${t}`)!;
        const matRows = kk.lookup<MatRowsFn>(`mat_rows_${t}`)!;
        const matvec = kk.lookup<MatvecFn>(`matvec_${t}`)!;
        const take = (count: number) => new Uint32Array(kk.u8().buffer, po, count).slice();
        matvec(pw, rowBytes, pa + 5 * aRow, po, n, 0, ROWS);
        res.push(take(ROWS));
        for (const nTok of [1, 3, 33, 70]) {
          new Uint32Array(kk.u8().buffer, po, ROWS * nTok).fill(0x7fc0beef);
          mulMat(pw, rowBytes, pa, aRow, po, ROWS, n, nTok, 3, 12);
          res.push(take(ROWS * nTok));
          for (const nth of [1, 2, 3]) {
            for (let ith = 0; ith < nth; ith++) matRows(pw, rowBytes, pa, aRow, po, ROWS, n, nTok, ROWS, ith, nth);
            res.push(take(ROWS * nTok));
          }
        }
        for (const p of [pw, pa, po]) kk.free(p);
        return res;
      });
      runs[0]!.forEach((got, i) => {
        const want = runs[1]![i]!;
        for (let e = 0; e < want.length; e++) {
          if (got[e] !== want[e]) assert.unreachable(`${t} n=${n} result ${i}: element ${e} is ${new Float32Array(got.buffer)[e]} relaxed, ${new Float32Array(want.buffer)[e]} baseline`);
        }
      });
    }
  }
});

test.run();
