// The i-quant quantizers against ggml itself (libggml-base's
// ggml_quantize_chunk through koffi, test/helpers/ggml-quants.ts). ggml
// builds its grid tables the first time a process quantizes a grid type,
// which takes many seconds (iq1_s, iq2_s, iq2_xs): only this file asks it
// to; the other tests quantize with the C quantizers checked here.
// - formats/quant's TypeScript quantizers (iq-grid-quantize.ts,
//   iq1-quantize.ts; IQ4 in quant-iq.test.ts), the executable spec:
//   quantizeRowWeighted writes ggml's bytes for every grid type with a random
//   imatrix (zeros included) and one of ones, quantizeRow without one where
//   ggml has that quantizer, on one row of the row sets that reach their
//   branches (they are slow); an imatrix ignored gives other bytes.
// - the C quantizers (kernels/iq*-quantize.c with iq-search.h's tables, what
//   `run-gguf quantize` runs through runtime/quantize/wasm-quantizer.ts),
//   for every grid type and IQ4_NL / IQ4_XS: ggml's bytes on every row set of
//   test/helpers/iq-rows.ts, three rows per call, with a random imatrix, one
//   of ones and none (where ggml quantizes without one), and formats/quant's
//   bytes on the first row of four of the sets; non-finite input refused
//   (or written) exactly as formats/quant does. Broken variants must be
//   caught: the neighbour lists cut to their first four points (every grid
//   type), the imatrix shifted by one column (IQ4). quantize's row
//   conversion (formats/quantize/rows.ts) with the C quantizer equals the
//   TypeScript path on stacked experts with an imatrix.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { quantizeRow, quantizeRowWeighted } from '../formats/quant/index.js';
import { convertRowBytes, type RowJob } from '../formats/quantize/rows.js';
import { WasmQuantizer } from '../runtime/quantize/wasm-quantizer.js';
import { loadKernels, type Kernels } from '../wasm/loader.js';
import { ggmlQuants } from './helpers/ggml-quants.js';
import { IQ_GRID_TYPES } from './helpers/iq-blocks.js';
import { firstDiff, iqQuantizeRows, randomImatrix } from './helpers/iq-rows.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const T = GGMLType;
const N = 512; // two super-blocks per row
const ROWS = 3;
const TS_ROWS = 1;
/** The row sets compared with formats/quant (all of them are compared with ggml through the C quantizers). */
const TS_SETS = new Set(['gaussian', 'outliers', 'zero and tiny groups', 'ties']);
const tsRows = (seed: number) => iqQuantizeRows(seed, N, TS_ROWS).filter((r) => TS_SETS.has(r.label));
const name = (t: GGMLType) => ggmlTypeInfo(t)!.name;
/** The types ggml quantizes without an imatrix (quantize_row_*_ref); the others assert one, and so do we. */
const UNWEIGHTED = new Set<GGMLType>([T.IQ3_XXS, T.IQ3_S, T.IQ2_S, T.IQ1_M, T.IQ4_NL, T.IQ4_XS]);
const C_TYPES = [...IQ_GRID_TYPES, T.IQ4_NL, T.IQ4_XS];

const oracle = await ggmlQuants();
const fast = await WasmQuantizer.load();

function sameBytes(got: Uint8Array, want: Uint8Array, what: string, type: GGMLType, who: string): void {
  const i = firstDiff(got, want);
  if (i < 0) return;
  const size = ggmlTypeInfo(type)!.typeSize;
  assert.unreachable(`${name(type)} ${what}: byte ${i} (block ${Math.floor(i / size)}, offset ${i % size}) is ${got[i]}, ${who} writes ${want[i]}`);
}

/** Each row through `q`, concatenated. */
function perRow(type: GGMLType, x: Float32Array, q: (row: Float32Array) => Uint8Array): Uint8Array {
  const size = rowSize(type, N);
  const out = new Uint8Array((x.length / N) * size);
  for (let r = 0; r < x.length / N; r++) out.set(q(x.subarray(r * N, (r + 1) * N)), r * size);
  return out;
}

/** formats/quant's bytes, row by row. */
const tsBytes = (type: GGMLType, x: Float32Array, w: Float32Array | undefined): Uint8Array =>
  perRow(type, x, (row) => (w ? quantizeRowWeighted(type, row, w) : quantizeRow(type, row)));

if (typeof oracle === 'string') {
  test('formats/quant\'s grid i-quant quantizers against ggml (skipped)', () => {
    console.log(`  skip: ${oracle} (the C quantizers are still checked against formats/quant)`);
  });
} else {
  const o = oracle;
  for (const type of IQ_GRID_TYPES) {
    test(`${name(type)}: quantizeRowWeighted writes ggml_quantize_chunk's bytes with an imatrix`, () => {
      const rand = mulberry32(0x6a6a + type);
      for (const { label, x } of tsRows(0x1000 + type)) {
        for (const [wl, w] of [['random imatrix', randomImatrix(rand, N)], ['imatrix of ones', new Float32Array(N).fill(1)]] as const) {
          const want = o.quantizeChunk(type, x, N, w);
          sameBytes(perRow(type, x, (row) => quantizeRowWeighted(type, row, w)), want, `${label}, ${wl}`, type, 'ggml');
        }
      }
    });

    test(`${name(type)}: ggml's bytes depend on the imatrix, and an imatrix ignored gives other bytes`, () => {
      const rand = mulberry32(0x7b7b + type);
      const x = gaussian(rand, N * TS_ROWS, 1);
      const w = randomImatrix(rand, N);
      const want = o.quantizeChunk(type, x, N, w);
      const ignored = perRow(type, x, (row) => quantizeRowWeighted(type, row, new Float32Array(N).fill(1)));
      assert.ok(firstDiff(ignored, want) >= 0, 'quantizing with the imatrix ignored gives ggml\'s bytes');
    });

    if (UNWEIGHTED.has(type)) {
      test(`${name(type)}: quantizeRow writes ggml_quantize_chunk's bytes without an imatrix`, () => {
        for (const { label, x } of tsRows(0x2000 + type)) sameBytes(perRow(type, x, (row) => quantizeRow(type, row)), o.quantizeChunk(type, x, N), label, type, 'ggml');
      });
    } else {
      test(`${name(type)}: ggml requires an imatrix, and quantizeRow refuses without one`, () => {
        assert.ok(o.requiresImatrix(type));
        assert.throws(() => quantizeRow(type, new Float32Array(N)), /needs importance weights/);
      });
    }
  }
}


for (const type of C_TYPES) {
  test(`${name(type)}: the C quantizer writes formats/quant's and ggml's bytes (imatrix random, ones, none)`, () => {
    const rand = mulberry32(0x5151 + type);
    for (const { label, x } of iqQuantizeRows(0x4000 + type, N, ROWS)) {
      const imatrices: [string, Float32Array | undefined][] = [['random imatrix', randomImatrix(rand, N)], ['imatrix of ones', new Float32Array(N).fill(1)]];
      if (UNWEIGHTED.has(type)) imatrices.push(['no imatrix', undefined]);
      for (const [wl, w] of imatrices) {
        const got = fast.quantize(type, x, N, w);
        if (typeof oracle !== 'string') sameBytes(got, oracle.quantizeChunk(type, x, N, w), `${label}, ${wl}`, type, 'ggml');
        // the TypeScript quantizers are slow: their first row, on the sets that reach their branches
        if (TS_SETS.has(label)) sameBytes(got.subarray(0, rowSize(type, N)), tsBytes(type, x.subarray(0, N), w), `${label}, ${wl}`, type, 'formats/quant');
      }
    }
    if (!UNWEIGHTED.has(type)) {
      assert.throws(() => fast.quantize(type, new Float32Array(N), N), /needs importance weights/);
      if (typeof oracle !== 'string') assert.ok(oracle.requiresImatrix(type));
    }
  });
}

test('values or weights that are not finite: the C quantizers refuse (or write) exactly as formats/quant does', () => {
  const rand = mulberry32(0x99);
  for (const type of C_TYPES) {
    for (const bad of [NaN, Infinity, 3e38]) {
      const x = gaussian(rand, N, 1);
      x[100] = bad;
      const w = randomImatrix(rand, N);
      let want: Uint8Array | Error, got: Uint8Array | Error;
      try { want = tsBytes(type, x, w); } catch (e) { want = e as Error; }
      try { got = fast.quantize(type, x, N, w); } catch (e) { got = e as Error; }
      if (want instanceof Error) {
        assert.instance(got, RangeError, `${name(type)} with ${bad}: formats/quant threw, C did not`);
        assert.is((got as Error).message, want.message);
      } else {
        assert.ok(got instanceof Uint8Array, `${name(type)} with ${bad}: C threw ${(got as Error).message}`);
        sameBytes(got as Uint8Array, want, `with ${bad}`, type, 'formats/quant');
      }
    }
  }
});

/** Grid id (kernels/iq-quantize.h IQG_*), points and values per point of each grid type's tables. */
const GRID: Partial<Record<GGMLType, [number, number, number]>> = {
  [T.IQ2_XXS]: [0, 256, 8], [T.IQ2_XS]: [1, 512, 8], [T.IQ2_S]: [2, 1024, 8], [T.IQ3_XXS]: [3, 256, 4], [T.IQ3_S]: [4, 512, 4],
  [T.IQ1_S]: [5, 2048, 8], [T.IQ1_M]: [5, 2048, 8],
};

/** The type's search tables with every neighbour list cut to its first four points (in effect). */
function truncatedTables(k: Kernels, type: GGMLType): number {
  const [grid, size, dim] = GRID[type]!;
  const e = k.exports;
  const bytes = e.iq_grid_search_bytes(grid) as number;
  const p = k.malloc(bytes);
  assert.is(e.iq_grid_search_init(grid, p), bytes);
  const i32 = k.i32();
  const mapSize = i32[(p >> 2) + 1]!;
  const lists = p + ((8 + 4 * mapSize + size * dim + 15) & ~15);
  let cut = 0;
  for (let u = 0; u < mapSize; u++) {
    const v = i32[(p >> 2) + 2 + u]!;
    if (v >= 0) continue;
    const rec = lists + 16 * (-1 - v);
    const count4 = i32[(rec >> 2) + 1]!;
    if (count4 <= 4) continue;
    cut++;
    // the vector search reads lane blocks of four candidates (4 * dim bytes): later blocks repeat the first, whose candidates win the ties
    for (let b = 4; b < count4; b += 4) k.u8().copyWithin(rec + 16 + dim * b, rec + 16, rec + 16 + 4 * dim);
  }
  assert.ok(cut > 0, `${name(type)}: no list longer than four`);
  return p;
}

test('broken variants are caught: neighbour lists cut short (grid types), the imatrix shifted by a column (IQ4)', async () => {
  const k = await loadKernels({ simd: 'baseline' });
  const rand = mulberry32(0x77);
  const x = gaussian(rand, N * 8, 1);
  const w = randomImatrix(rand, N);
  const xp = k.malloc(x.byteLength), wp = k.malloc(w.byteLength), yp = k.malloc(rowSize(T.IQ4_NL, N) * 8 * 2);
  k.write(xp, x);
  k.write(wp, w);
  for (const type of C_TYPES) {
    const want = fast.quantize(type, x, N, w);
    if (typeof oracle !== 'string') sameBytes(want, oracle.quantizeChunk(type, x, N, w), 'gaussian', type, 'ggml');
    let broken: Uint8Array;
    const fn = k.lookup<(...a: number[]) => number>(`quantize_rows_${name(type)}`)!;
    if (GRID[type]) {
      assert.is(fn(xp, yp, 8, N, wp, truncatedTables(k, type)), 0);
    } else {
      k.write(wp, Float32Array.from(w, (_, i) => w[(i + 1) % N]!));
      assert.is(fn(xp, yp, 8, N, wp), 0);
      k.write(wp, w);
    }
    broken = k.bytes(yp, want.length).slice();
    assert.ok(firstDiff(broken, want) >= 0, `${name(type)}: the broken variant writes the right bytes`);
  }
});

test('quantize\'s row conversion: the C path equals the TypeScript one on stacked experts with an imatrix', () => {
  const rand = mulberry32(0x31);
  const ne0 = 512, rowsPerMatrix = 3, nRows = 7;
  const x = gaussian(rand, ne0 * nRows, 0.02);
  const importance = Float32Array.from({ length: ne0 * 4 }, () => Math.exp(6 * (rand() - 0.5)));
  for (const to of [T.IQ2_XXS, T.IQ1_M, T.IQ4_XS]) {
    for (const imp of [importance, undefined]) {
      if (!imp && !UNWEIGHTED.has(to)) continue;
      // rows 2..8 of a tensor: experts 0, 1 and 2 (row 2 ends expert 0), from F32 at an odd offset (copied rows)
      const src = new Uint8Array(x.byteLength + 1).subarray(1);
      src.set(new Uint8Array(x.buffer));
      const job: RowJob = { from: T.F32, to, ne0, firstRow: 2, src, rowsPerMatrix, ...(imp ? { importance: imp } : {}) };
      const got = convertRowBytes(job, fast);
      sameBytes(got, convertRowBytes(job), `rows 2..8 of stacked experts${imp ? ', imatrix' : ''}`, to, 'the TypeScript path');
      if (imp) {
        // the wrong expert's weights would be caught
        const shifted = convertRowBytes({ ...job, firstRow: 3 }, fast);
        assert.ok(firstDiff(shifted, got) >= 0, `${name(to)}: rows quantized with the next expert's weights give the same bytes`);
      }
    }
  }
});

test.run();
