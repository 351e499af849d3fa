// Rows for the i-quant quantizer tests (formats/quant's TypeScript ones, the
// C ones, ggml's): gaussian at several magnitudes and the edges the
// quantizers branch on: zero and tiny groups (below each type's group
// epsilon), all zero, constant, one large value, outliers, ties.
import { gaussian, mulberry32 } from './rng.js';

export interface IqTestRows {
  label: string;
  /** nRows rows of n values, as one array. */
  x: Float32Array;
}

/** The row sets, nRows rows of n (a multiple of 512, at least two super-blocks) each. */
export function iqQuantizeRows(seed: number, n: number, nRows: number): IqTestRows[] {
  const rand = mulberry32(seed);
  const len = n * nRows;
  const g = (s = 1) => gaussian(rand, len, s);
  const out = [{ label: 'gaussian', x: g() }, { label: 'gaussian 1e3', x: g(1e3) }, { label: 'gaussian 1e-5', x: g(1e-5) }];
  { const x = g(); for (let i = 3; i < x.length; i += 29) x[i]! *= 40; out.push({ label: 'outliers', x }); }
  {
    const x = g();
    x.fill(0, 0, 256); // a zero super-block
    x.fill(0, 272, 288); // a zero group of 16
    x.fill(0, 320, 352); // a zero group of 32
    x.fill(1e-9, 384, 416); // below iq3_xxs's / iq2_s's / iq1_m's group epsilon
    x.fill(-1e-13, 416, 448); // below iq1_s's
    x.fill(1e-17, 448, 480); // below iq4's
    out.push({ label: 'zero and tiny groups', x });
  }
  out.push({ label: 'all zero', x: new Float32Array(len) });
  out.push({ label: 'constant', x: new Float32Array(len).fill(0.75) });
  { const x = new Float32Array(len); x[37] = 5; x[Math.min(len - 1, n + 300)] = -1e4; out.push({ label: 'one large value', x }); }
  { const x = g(0.01); for (let i = 0; i < x.length; i += 8) x[i] = 1; out.push({ label: 'one large value per 8', x }); }
  {
    // repeated values: ties in iq1's sort and in the level rounding
    const x = new Float32Array(len);
    for (let i = 0; i < x.length; i++) x[i] = [1, -1, 0.5, 0, -0.25, 1, 2, -0.5][(i * 7) % 8]! * (1 + (i >> 7));
    out.push({ label: 'ties', x });
  }
  return out;
}

/** A made-up imatrix row: mostly positive, spread over e^-? .. 20, every 13th weight zero. */
export function randomImatrix(rand: () => number, n: number): Float32Array {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = i % 13 === 0 ? 0 : rand() ** 3 * 20;
  return w;
}

/** The first byte where got and want differ, -1 if none. */
export function firstDiff(got: Uint8Array, want: Uint8Array): number {
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return i;
  return got.length === want.length ? -1 : want.length;
}
