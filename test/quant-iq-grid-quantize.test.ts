// The grid i-quant quantizers (formats/quant/iq-grid-quantize.ts,
// iq1-quantize.ts) against ggml itself: quantizeRowWeighted must write the
// bytes of libggml-base's ggml_quantize_chunk with the same imatrix (through
// koffi, test/helpers/ggml-quants.ts), for every grid type, on gaussian rows
// with a random importance matrix (zeros included) and on edge rows: all zero,
// zero and tiny groups, constant, one large value, outliers, ties, huge and
// tiny magnitudes; several rows in one ggml call, sharing the imatrix, as
// llama-quantize hands them over. quantizeRow equals ggml's quantizer without
// an imatrix for the types ggml has one for. Quantizing with the imatrix
// ignored (all ones) must give other bytes: the test sees the weights.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { quantizeRow, quantizeRowWeighted } from '../formats/quant/index.js';
import { ggmlQuants } from './helpers/ggml-quants.js';
import { IQ_GRID_TYPES } from './helpers/iq-blocks.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const T = GGMLType;
const N = 512; // two super-blocks per row
const ROWS = 2;
const name = (t: GGMLType) => ggmlTypeInfo(t)!.name;
/** ggml_quantize_chunk takes a null imatrix for these (quantize_row_*_ref); the others assert one. */
const UNWEIGHTED = new Set<GGMLType>([T.IQ3_XXS, T.IQ3_S, T.IQ2_S, T.IQ1_M]);

const oracle = await ggmlQuants();

/** ROWS rows of N each, as one array. */
function rows(seed: number): { label: string; x: Float32Array }[] {
  const rand = mulberry32(seed);
  const g = (s = 1) => gaussian(rand, N * ROWS, s);
  const out = [{ label: 'gaussian', x: g() }, { label: 'gaussian 1e3', x: g(1e3) }, { label: 'gaussian 1e-5', x: g(1e-5) }];
  { const x = g(); for (let i = 3; i < x.length; i += 29) x[i]! *= 40; out.push({ label: 'outliers', x }); }
  {
    const x = g();
    x.fill(0, 0, 256); // a zero super-block
    x.fill(0, 272, 288); // a zero group of 16
    x.fill(0, 320, 352); // a zero group of 32
    x.fill(1e-9, 384, 416); // below iq3_xxs's / iq2_s's / iq1_m's group epsilon
    x.fill(-1e-13, 416, 448); // below iq1_s's
    out.push({ label: 'zero and tiny groups', x });
  }
  out.push({ label: 'all zero', x: new Float32Array(N * ROWS) });
  out.push({ label: 'constant', x: new Float32Array(N * ROWS).fill(0.75) });
  { const x = new Float32Array(N * ROWS); x[37] = 5; x[N + 300] = -1e4; out.push({ label: 'one large value', x }); }
  { const x = g(0.01); for (let i = 0; i < x.length; i += 8) x[i] = 1; out.push({ label: 'one large value per 8', x }); }
  {
    // repeated values: ties in iq1's sort and in the level rounding
    const x = new Float32Array(N * ROWS);
    for (let i = 0; i < x.length; i++) x[i] = [1, -1, 0.5, 0, -0.25, 1, 2, -0.5][(i * 7) % 8]! * (1 + (i >> 7));
    out.push({ label: 'ties', x });
  }
  return out;
}

function randomImatrix(rand: () => number): Float32Array {
  const w = new Float32Array(N);
  for (let i = 0; i < N; i++) w[i] = i % 13 === 0 ? 0 : rand() ** 3 * 20;
  return w;
}

function firstDiff(got: Uint8Array, want: Uint8Array): number {
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return i;
  return got.length === want.length ? -1 : want.length;
}

function sameBytes(got: Uint8Array, want: Uint8Array, what: string, type: GGMLType): void {
  const i = firstDiff(got, want);
  if (i < 0) return;
  const size = ggmlTypeInfo(type)!.typeSize;
  assert.unreachable(`${what}: byte ${i} (block ${Math.floor(i / size)}, offset ${i % size}) is ${got[i]}, ggml writes ${want[i]}`);
}

/** Each row through `q`, concatenated. */
function perRow(type: GGMLType, x: Float32Array, q: (row: Float32Array) => Uint8Array): Uint8Array {
  const size = rowSize(type, N);
  const out = new Uint8Array(size * ROWS);
  for (let r = 0; r < ROWS; r++) out.set(q(x.subarray(r * N, (r + 1) * N)), r * size);
  return out;
}

if (typeof oracle === 'string') {
  test('grid i-quant quantizers against ggml (skipped)', () => {
    console.log(`  skip: ${oracle}`);
  });
} else {
  const o = oracle;
  for (const type of IQ_GRID_TYPES) {
    test(`${name(type)}: quantizeRowWeighted writes ggml_quantize_chunk's bytes with an imatrix`, () => {
      const rand = mulberry32(0x6a6a + type);
      for (const { label, x } of rows(0x1000 + type)) {
        for (const [wl, w] of [['random imatrix', randomImatrix(rand)], ['imatrix of ones', new Float32Array(N).fill(1)]] as const) {
          const want = o.quantizeChunk(type, x, N, w);
          sameBytes(perRow(type, x, (row) => quantizeRowWeighted(type, row, w)), want, `${label}, ${wl}`, type);
        }
      }
    });

    test(`${name(type)}: ggml's bytes depend on the imatrix, and an imatrix ignored gives other bytes`, () => {
      const rand = mulberry32(0x7b7b + type);
      const x = gaussian(rand, N * ROWS, 1);
      const w = randomImatrix(rand);
      const want = o.quantizeChunk(type, x, N, w);
      const ignored = perRow(type, x, (row) => quantizeRowWeighted(type, row, new Float32Array(N).fill(1)));
      assert.ok(firstDiff(ignored, want) >= 0, 'quantizing with the imatrix ignored gives ggml\'s bytes');
    });

    if (UNWEIGHTED.has(type)) {
      test(`${name(type)}: quantizeRow writes ggml_quantize_chunk's bytes without an imatrix`, () => {
        for (const { label, x } of rows(0x2000 + type)) sameBytes(perRow(type, x, (row) => quantizeRow(type, row)), o.quantizeChunk(type, x, N), label, type);
      });
    } else {
      test(`${name(type)}: ggml requires an imatrix, and quantizeRow refuses without one`, () => {
        assert.ok(o.requiresImatrix(type));
        assert.throws(() => quantizeRow(type, new Float32Array(N)), /needs importance weights/);
      });
    }
  }
}

test.run();
