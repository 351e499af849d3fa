// Quantizers of the 1-bit grid i-quants (iq1_s, iq1_m), equal byte for byte
// to ggml's quantize_iq1_s / quantize_iq1_m for the same row and importance.
// With three levels (-1, 0, 1) shifted by a delta of +-1/8, the best split of
// a group into the three levels is found exactly: the values sorted, every
// pair of boundaries scored by its weighted least-squares fit (for each sign
// of the delta; iq1_m picks one per half-group of 8). Each 8 of levels is then
// looked up on the grid (or the nearest neighbour taken,
// formats/quant/iq-grid-search.ts) and the scale refitted. ggml sorts with
// qsort, which glibc makes a stable merge sort: equal values keep their order,
// as the insertion sort here does.
// Every float operation is float32 as in ggml (see kquant-common.ts).

import { fp32ToFp16 } from '../f16.js';
import { absMax } from './block-max.js';
import { GGMLType } from '../ggml-types.js';
import { type GridSearch, iq1sSearch } from './iq-grid-search.js';
import type { GridQuantizer } from './iq-grid-quantize.js';
import { IQ1_DELTA, IQ1_M_BLOCK_BYTES, IQ1_S_BLOCK_BYTES } from './iq1.js';
import { checkSizes, f32, nearestInt, writeF16 } from './kquant-common.js';

const QK_K = 256;
const FLT_MAX = f32(3.4028234663852886e38);
const GROUP_MAX_EPS_IQ1_S = f32(1e-12);
const GROUP_MAX_EPS_IQ1_M = f32(1e-7);
const X_P = [f32(-1 + IQ1_DELTA), f32(IQ1_DELTA), f32(1 + IQ1_DELTA)];
const X_M = [f32(-1 - IQ1_DELTA), f32(-IQ1_DELTA), f32(1 - IQ1_DELTA)];

const weight = new Float32Array(32);
const L = new Int8Array(32);
const idx = new Int32Array(32);
const sumx = new Float32Array(33);
const sumw = new Float32Array(33);
const index = new Int32Array(4);

function sigma2Of(x: Float32Array, o: number): number {
  let sumx2 = 0;
  for (let i = 0; i < QK_K; i++) sumx2 = f32(sumx2 + f32(x[o + i]! * x[o + i]!));
  return f32(f32(2 * sumx2) / QK_K);
}

function weights(x: Float32Array, o: number, n: number, w: Float32Array | undefined, sigma2: number): void {
  if (w) for (let i = 0; i < n; i++) weight[i] = f32(w[o + i]! * f32(Math.sqrt(f32(sigma2 + f32(x[o + i]! * x[o + i]!)))));
  else for (let i = 0; i < n; i++) weight[i] = f32(x[o + i]! * x[o + i]!);
}

/** idx[0..n) = 0..n-1 ordered by x[o + i], ties in index order. */
function sortIndices(x: Float32Array, o: number, n: number): void {
  for (let j = 0; j < n; j++) {
    const v = x[o + j]!;
    let k = j;
    while (k > 0 && x[o + idx[k - 1]!]! > v) { idx[k] = idx[k - 1]!; k--; }
    idx[k] = j;
  }
}

const term = new Float32Array(24);

/**
 * ggml's iq1_find_best_neighbour2: the neighbour of least weighted squared
 * error with levels xx at `scale` (the per-coordinate, per-level terms
 * computed once, then summed in float32 in ggml's order).
 */
function bestNeighbour(g: GridSearch, u: number, x: Float32Array, o: number, lo: number, scale: number, xx: readonly number[]): number {
  const nb = g.neighbours(u);
  const lev = g.lev;
  for (let i = 0; i < 8; i++) {
    for (let l = 0; l < 3; l++) {
      const diff = f32(f32(scale * xx[l]!) - x[o + i]!);
      term[3 * i + l] = f32(f32(weight[lo + i]! * diff) * diff);
    }
  }
  let best = FLT_MAX, gi = -1;
  for (let j = 0; j < nb.length; j++) {
    const p = nb[j]! * 8;
    let d2 = 0;
    for (let i = 0; i < 8; i++) d2 = f32(d2 + term[3 * i + lev[p + i]!]!);
    if (d2 < best) { best = d2; gi = nb[j]!; }
  }
  if (gi < 0) throw new RangeError('iq1 grid i-quant: no grid point fits (values or importance weights not finite, or too large to square in float32; ggml aborts here)');
  for (let i = 0; i < 8; i++) L[lo + i] = lev[gi * 8 + i]!;
  return gi;
}

/**
 * Looks every 8 of L up on the grid (neighbours for those off it) into
 * `index`, with levels xx0 for the first 8 and xx1 for the others; returns
 * whether all were on it.
 */
function placeOnGrid(g: GridSearch, x: Float32Array, o: number, n: number, scale: number, xx0: readonly number[], xx1: readonly number[]): boolean {
  let all = true;
  for (let k = 0; k < n / 8; k++) {
    let u = 0;
    for (let j = 0; j < 8; j++) u |= L[8 * k + j]! << (2 * j);
    let gi = g.map[u]!;
    if (gi < 0) {
      all = false;
      gi = bestNeighbour(g, u, x, o + 8 * k, 8 * k, scale, k === 0 ? xx0 : xx1);
    }
    index[k] = gi;
  }
  return all;
}

/** The least-squares scale of the grid points in `index` with levels xx0 / xx1 (as placeOnGrid), or `scale` if it is not positive. */
function refit(g: GridSearch, x: Float32Array, o: number, n: number, scale: number, xx0: readonly number[], xx1: readonly number[]): number {
  let sumqx = 0, sumq2 = 0;
  for (let k = 0; k < n / 8; k++) {
    const xx = k === 0 ? xx0 : xx1;
    for (let j = 0; j < 8; j++) {
      const w = weight[8 * k + j]!;
      const q = xx[g.lev[index[k]! * 8 + j]!]!;
      sumqx = f32(sumqx + f32(f32(w * q) * x[o + 8 * k + j]!));
      sumq2 = f32(sumq2 + f32(f32(w * q) * q));
    }
  }
  return sumqx > 0 && sumq2 > 0 ? f32(sumqx / sumq2) : scale;
}

function setLevels(n: number, i1: number, i2: number): void {
  for (let j = 0; j < i1; j++) L[idx[j]!] = 0;
  for (let j = i1; j < i2; j++) L[idx[j]!] = 1;
  for (let j = i2; j < n; j++) L[idx[j]!] = 2;
}

const scaleCode = (id: number, scale: number): number => Math.max(0, Math.min(7, nearestInt(f32(0.5 * f32(f32(id * scale) - 1)))));

/** quantize_iq1_s (one row; weights required). */
function quantizeIq1S(src: Float32Array, dst: Uint8Array, w: Float32Array | undefined): void {
  if (!w) throw new RangeError('iq1_s needs importance weights (an imatrix) to quantize, as in ggml');
  const nb = checkSizes('iq1_s', src.length, dst.length, IQ1_S_BLOCK_BYTES);
  const g = iq1sSearch();
  const scales = new Float32Array(8);
  const shifts = new Int8Array(8);
  const qh = new Uint16Array(8);
  for (let ibl = 0; ibl < nb; ibl++) {
    const b = ibl * IQ1_S_BLOCK_BYTES;
    const xo = ibl * QK_K;
    dst.fill(0, b, b + IQ1_S_BLOCK_BYTES);
    qh.fill(0);
    let maxScale = 0;
    const sigma2 = sigma2Of(src, xo);
    for (let ib = 0; ib < 8; ib++) {
      const o = xo + 32 * ib;
      weights(src, o, 32, w, sigma2);
      const max = absMax(src, o, 32);
      if (max < GROUP_MAX_EPS_IQ1_S) { scales[ib] = 0; shifts[ib] = 1; continue; }
      sortIndices(src, o, 32);
      sumx[0] = sumw[0] = 0;
      for (let j = 0; j < 32; j++) {
        const i = idx[j]!;
        sumx[j + 1] = f32(sumx[j]! + f32(weight[i]! * src[o + i]!));
        sumw[j + 1] = f32(sumw[j]! + weight[i]!);
      }
      let best = -FLT_MAX, scale = max, bi1 = -1, bi2 = -1, bestShift = 0;
      for (let i1 = 0; i1 <= 32; i1++) {
        for (let i2 = i1; i2 <= 32; i2++) {
          const a = f32(sumx[i1]! - sumx[0]!), bb = f32(sumx[i2]! - sumx[i1]!), c = f32(sumx[32]! - sumx[i2]!);
          const wa = f32(sumw[i1]! - sumw[0]!), wb = f32(sumw[i2]! - sumw[i1]!), wc = f32(sumw[32]! - sumw[i2]!);
          for (let sh = 1; sh >= -1; sh -= 2) {
            const xx = sh === 1 ? X_P : X_M;
            const sumqx = f32(f32(f32(a * xx[0]!) + f32(bb * xx[1]!)) + f32(c * xx[2]!));
            const sumq2 = f32(f32(f32(f32(wa * xx[0]!) * xx[0]!) + f32(f32(wb * xx[1]!) * xx[1]!)) + f32(f32(wc * xx[2]!) * xx[2]!));
            if (sumq2 > 0 && f32(sumqx * sumqx) > f32(best * sumq2)) {
              scale = f32(sumqx / sumq2);
              best = f32(scale * sumqx);
              bi1 = i1; bi2 = i2; bestShift = sh;
            }
          }
        }
      }
      if (bi1 < 0 || bi2 < 0 || bestShift === 0) { scales[ib] = 0; shifts[ib] = 1; continue; }
      setLevels(32, bi1, bi2);
      if (scale < 0) {
        for (let j = 0; j < 32; j++) L[j] = 2 - L[j]!;
        scale = -scale;
        bestShift = -bestShift;
      }
      const xx = bestShift === 1 ? X_P : X_M;
      if (!placeOnGrid(g, src, o, 32, scale, xx, xx)) scale = refit(g, src, o, 32, scale, xx, xx);
      let h = 0;
      for (let k = 0; k < 4; k++) {
        dst[b + 2 + 4 * ib + k] = index[k]! & 255;
        h |= (index[k]! >> 8) << (3 * k);
      }
      qh[ib] = h;
      scales[ib] = scale;
      shifts[ib] = bestShift;
      maxScale = maxScale > scale ? maxScale : scale;
    }
    if (maxScale) {
      const d = f32(maxScale / 15);
      writeF16(dst, b, f32(d * f32(1.125)));
      const id = f32(1 / d);
      for (let ib = 0; ib < 8; ib++) {
        let l = scaleCode(id, scales[ib]!);
        if (shifts[ib] === -1) l |= 8;
        qh[ib]! |= l << 12;
      }
    }
    for (let ib = 0; ib < 8; ib++) {
      dst[b + 34 + 2 * ib] = qh[ib]! & 0xff;
      dst[b + 35 + 2 * ib] = qh[ib]! >> 8;
    }
  }
}

// iq1_m's split search: per sorted position j and segment s (0: below the
// first boundary, 1: between, 2: above), the terms w q x and w q^2 of the four
// delta-sign choices k (bit 1: first 8 negative, bit 0: second 8 negative)
const TX = new Float32Array(3 * 16 * 4);
const TQ = new Float32Array(3 * 16 * 4);
const accX = new Float32Array(4);
const accQ = new Float32Array(4);
const pre0X = new Float32Array(4), pre0Q = new Float32Array(4);
const pre1X = new Float32Array(4), pre1Q = new Float32Array(4);

/** The levels of choice k for value i of a group of 16 (i < 8: the first 8). */
const levelsFor = (k: number, i: number): readonly number[] => ((i < 8 ? k < 2 : k % 2 === 0) ? X_P : X_M);

/** quantize_iq1_m (one row; ggml quantizes it without weights too). */
function quantizeIq1M(src: Float32Array, dst: Uint8Array, w: Float32Array | undefined): void {
  const nb = checkSizes('iq1_m', src.length, dst.length, IQ1_M_BLOCK_BYTES);
  const g = iq1sSearch();
  const scales = new Float32Array(16);
  const shifts = new Int8Array(16);
  const masks = [0x00, 0x80, 0x08, 0x88];
  for (let ibl = 0; ibl < nb; ibl++) {
    const b = ibl * IQ1_M_BLOCK_BYTES;
    const xo = ibl * QK_K;
    dst.fill(0, b, b + IQ1_M_BLOCK_BYTES);
    let maxScale = 0;
    const sigma2 = sigma2Of(src, xo);
    for (let ib = 0; ib < 16; ib++) {
      const o = xo + 16 * ib;
      weights(src, o, 16, w, sigma2);
      const max = absMax(src, o, 16);
      if (max < GROUP_MAX_EPS_IQ1_M) { scales[ib] = 0; shifts[ib] = 0; continue; }
      sortIndices(src, o, 16);
      for (let s = 0; s < 3; s++) {
        for (let j = 0; j < 16; j++) {
          const i = idx[j]!;
          for (let k = 0; k < 4; k++) {
            const q = levelsFor(k, i)[s]!;
            const wq = f32(weight[i]! * q);
            TX[(s * 16 + j) * 4 + k] = f32(wq * src[o + i]!);
            TQ[(s * 16 + j) * 4 + k] = f32(wq * q);
          }
        }
      }
      let best = -FLT_MAX, scale = max, bi1 = -1, bi2 = -1, bestK = -1;
      // the sums run over j in order, segment by segment, as ggml adds them; the
      // prefix in segment 0 (and then 1) is shared by every later boundary
      pre0X.fill(0);
      pre0Q.fill(0);
      for (let i1 = 0; i1 <= 16; i1++) {
        if (i1 > 0) for (let k = 0; k < 4; k++) {
          pre0X[k] = f32(pre0X[k]! + TX[(i1 - 1) * 4 + k]!);
          pre0Q[k] = f32(pre0Q[k]! + TQ[(i1 - 1) * 4 + k]!);
        }
        pre1X.set(pre0X);
        pre1Q.set(pre0Q);
        for (let i2 = i1; i2 <= 16; i2++) {
          if (i2 > i1) for (let k = 0; k < 4; k++) {
            pre1X[k] = f32(pre1X[k]! + TX[(16 + i2 - 1) * 4 + k]!);
            pre1Q[k] = f32(pre1Q[k]! + TQ[(16 + i2 - 1) * 4 + k]!);
          }
          accX.set(pre1X);
          accQ.set(pre1Q);
          for (let j = i2; j < 16; j++) for (let k = 0; k < 4; k++) {
            accX[k] = f32(accX[k]! + TX[(32 + j) * 4 + k]!);
            accQ[k] = f32(accQ[k]! + TQ[(32 + j) * 4 + k]!);
          }
          for (let k = 0; k < 4; k++) {
            const sx = accX[k]!, sq = accQ[k]!;
            if (sq > 0 && f32(sx * sx) > f32(best * sq)) {
              scale = f32(sx / sq);
              best = f32(scale * sx);
              bi1 = i1; bi2 = i2; bestK = k;
            }
          }
        }
      }
      if (bi1 < 0 || bi2 < 0 || bestK < 0) { scales[ib] = 0; shifts[ib] = 0; continue; }
      setLevels(16, bi1, bi2);
      if (scale < 0) {
        for (let j = 0; j < 16; j++) L[j] = 2 - L[j]!;
        scale = -scale;
        bestK = 3 - bestK;
      }
      const xx0 = levelsFor(bestK, 0), xx1 = levelsFor(bestK, 8);
      if (!placeOnGrid(g, src, o, 16, scale, xx0, xx1)) scale = refit(g, src, o, 16, scale, xx0, xx1);
      dst[b + 2 * ib] = index[0]! & 255;
      dst[b + 2 * ib + 1] = index[1]! & 255;
      dst[b + 32 + ib] = (index[0]! >> 8) | ((index[1]! >> 8) << 4);
      scales[ib] = scale;
      shifts[ib] = bestK;
      maxScale = maxScale > scale ? maxScale : scale;
    }
    if (!maxScale) continue;
    const sc = new Uint16Array(4);
    let d = f32(maxScale / 15);
    const id = f32(1 / d);
    let sumqx = 0, sumq2 = 0;
    for (let ib = 0; ib < 16; ib++) {
      const l = scaleCode(id, scales[ib]!);
      sc[ib >> 2]! |= l << (3 * (ib & 3));
      dst[b + 32 + ib]! |= masks[shifts[ib]!]!;
      const o = xo + 16 * ib;
      weights(src, o, 16, w, sigma2);
      const qh = dst[b + 32 + ib]!;
      for (let k = 0; k < 2; k++) {
        const xx = levelsFor(shifts[ib]!, 8 * k);
        const p = (dst[b + 2 * ib + k]! + ((qh << (8 - 4 * k)) & 0x700)) * 8;
        for (let j = 0; j < 8; j++) {
          const wj = weight[8 * k + j]!;
          const q = f32(xx[g.lev[p + j]!]! * (2 * l + 1));
          sumqx = f32(sumqx + f32(f32(wj * q) * src[o + 8 * k + j]!));
          sumq2 = f32(sumq2 + f32(f32(wj * q) * q));
        }
      }
    }
    if (sumq2 > 0) d = f32(sumqx / sumq2);
    const s = fp32ToFp16(f32(d * f32(1.1125)));
    sc[0]! |= (s & 0x000f) << 12;
    sc[1]! |= (s & 0x00f0) << 8;
    sc[2]! |= (s & 0x0f00) << 4;
    sc[3]! |= s & 0xf000;
    for (let k = 0; k < 4; k++) {
      dst[b + 48 + 2 * k] = sc[k]! & 0xff;
      dst[b + 49 + 2 * k] = sc[k]! >> 8;
    }
  }
}

export const IQ1_QUANTIZERS: Partial<Record<GGMLType, GridQuantizer>> = {
  [GGMLType.IQ1_S]: quantizeIq1S,
  [GGMLType.IQ1_M]: quantizeIq1M,
};
