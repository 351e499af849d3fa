// Quantizers of the 2- and 3-bit grid i-quants (iq2_xxs, iq2_xs, iq2_s,
// iq3_xxs, iq3_s), equal byte for byte to ggml's quantize_iq* for the same
// row and importance weights. All five share one search per group of 16 or
// 32 values:
// - weights w = importance * sqrt(sigma2 + x^2) (sigma2 the super-block's
//   mean square, doubled for some types), or a fixed function of x without
//   an imatrix where ggml allows that;
// - values are taken as magnitudes with a sign byte per 8; the types whose
//   signs are a 7-bit index (iq2_xxs, iq2_xs, iq3_xxs) need an even number of
//   minus signs, so the cheapest value (least w x^2) of an odd 8 is flipped;
// - a sweep of inverse scales around (2 kMaxQ - 1) / max rounds each value to
//   a level, looks the group of levels up on the grid (or takes the best of
//   its neighbours, formats/quant/iq-grid-search.ts), and keeps the scale with
//   the best weighted least-squares fit; groups left off the grid are then
//   re-rounded at the fitted scale and the scale refitted;
// - the group scales are stored as 4-bit multiples of the largest / 31.
// Every float operation is float32 as in ggml (see kquant-common.ts).

import { GGMLType } from '../ggml-types.js';
import { type GridSearch, iq2sSearch, iq2xsSearch, iq2xxsSearch, iq3sSearch, iq3xxsSearch } from './iq-grid-search.js';
import { IQ2_S_BLOCK_BYTES, IQ2_XS_BLOCK_BYTES, IQ2_XXS_BLOCK_BYTES } from './iq2.js';
import { IQ3_S_BLOCK_BYTES, IQ3_XXS_BLOCK_BYTES } from './iq3.js';
import { checkSizes, f32, nearestInt, writeF16 } from './kquant-common.js';
import { makeQpQuants } from './weighted-search.js';

const QK_K = 256;
const F_0_1 = f32(0.1);
const F_0_2 = f32(0.2);
const GROUP_MAX_EPS = f32(1e-15);
const GROUP_MAX_EPS_IQ3_XXS = f32(1e-8);
const GROUP_MAX_EPS_IQ2_S = f32(1e-8);

/** A grid quantizer: `weights` is the imatrix row (undefined only for the types ggml quantizes without one). */
export type GridQuantizer = (src: Float32Array, dst: Uint8Array, weights: Float32Array | undefined) => void;

// scratch for one group (at most 32 values, 8 grid points)
const weight = new Float32Array(32);
const waux = new Float32Array(32);
const xval = new Float32Array(32);
const L = new Int8Array(32);
const Lu8 = new Uint8Array(L.buffer);
const Laux = new Int8Array(32);
const onGrid = new Uint8Array(8);
const onGridAux = new Uint8Array(8);
const signs = new Uint8Array(4);
const gridIndex = new Int32Array(8);

/** Sum of squares of a super-block and ggml's sigma2 from it (times `mul`: 1 or 2). */
function sigma2Of(x: Float32Array, o: number, mul: number): number {
  let sumx2 = 0;
  for (let i = 0; i < QK_K; i++) sumx2 = f32(sumx2 + f32(x[o + i]! * x[o + i]!));
  return f32(f32(mul * sumx2) / QK_K);
}

/** weight[i] = qw * sqrt(sigma2 + x^2) for the n values at x[o], qw at w[o]; then waux = sqrt(weight). */
function importanceWeights(x: Float32Array, o: number, n: number, w: Float32Array, sigma2: number): void {
  for (let i = 0; i < n; i++) weight[i] = f32(w[o + i]! * f32(Math.sqrt(f32(sigma2 + f32(x[o + i]! * x[o + i]!)))));
}

function auxWeights(n: number): void {
  for (let i = 0; i < n; i++) waux[i] = f32(Math.sqrt(weight[i]!));
}

/**
 * |x| into xval and a sign byte per 8 into `signs`; with `even`, an odd
 * number of minus signs is made even by flipping the value of least w x^2
 * (its xval goes negative) and the sign bytes keep 7 bits.
 */
function splitSigns(x: Float32Array, o: number, n: number, even: boolean): void {
  for (let k = 0; k < n / 8; k++) {
    let s = 0, nflip = 0;
    for (let i = 0; i < 8; i++) {
      const v = x[o + 8 * k + i]!;
      if (v >= 0) xval[8 * k + i] = v;
      else { xval[8 * k + i] = -v; nflip++; s |= 1 << i; }
    }
    if (even) {
      if (nflip % 2) {
        let imin = 0;
        let min = f32(f32(weight[8 * k]! * x[o + 8 * k]!) * x[o + 8 * k]!);
        for (let i = 1; i < 8; i++) {
          const ax = f32(f32(weight[8 * k + i]! * x[o + 8 * k + i]!) * x[o + 8 * k + i]!);
          if (ax < min) { min = ax; imin = i; }
        }
        xval[8 * k + imin] = -xval[8 * k + imin]!;
        s ^= 1 << imin;
      }
      s &= 127;
    }
    signs[k] = s;
  }
}

// term[8 i + l]: the error term of coordinate i at level l, for bestNeighbour
const term = new Float32Array(64);

/**
 * ggml's iq2/iq3_find_best_neighbour: the neighbour of least waux-weighted
 * squared error at `scale`; its levels into out[lo..]. Each coordinate's term
 * w (scale q - x)^2 depends only on its level, so the few possible terms are
 * computed once and each candidate's error is their float32 sum in ggml's order.
 */
function bestNeighbour(g: GridSearch, u: number, lo: number, scale: number, out: Int8Array): number {
  const nb = g.neighbours(u);
  const dim = g.dim, lev = g.lev;
  let best = Number.MAX_VALUE, index = -1;
  if (nb.length <= g.nLevels) {
    // a short list (most of iq3's): each candidate's terms directly, the same float32 values
    for (let j = 0; j < nb.length; j++) {
      const p = nb[j]! * dim;
      let d2 = 0;
      for (let i = 0; i < dim; i++) {
        const diff = f32(f32(scale * (2 * lev[p + i]! + 1)) - xval[lo + i]!);
        d2 = f32(d2 + f32(f32(waux[lo + i]! * diff) * diff));
      }
      if (d2 < best) { best = d2; index = nb[j]!; }
    }
    if (index < 0) throw new RangeError('grid i-quant: no grid point fits (values or importance weights not finite, or too large to square in float32; ggml aborts here)');
    for (let i = 0; i < dim; i++) out[lo + i] = lev[index * dim + i]!;
    return index;
  }
  for (let i = 0; i < dim; i++) {
    for (let l = 0; l < g.nLevels; l++) {
      const diff = f32(f32(scale * (2 * l + 1)) - xval[lo + i]!);
      term[8 * i + l] = f32(f32(waux[lo + i]! * diff) * diff);
    }
  }
  for (let j = 0; j < nb.length; j++) {
    const p = nb[j]! * dim;
    let d2 = 0;
    for (let i = 0; i < dim; i++) d2 = f32(d2 + term[8 * i + lev[p + i]!]!);
    if (d2 < best) { best = d2; index = nb[j]!; }
  }
  if (index < 0) throw new RangeError('grid i-quant: no grid point fits (values or importance weights not finite, or too large to square in float32; ggml aborts here)');
  for (let i = 0; i < dim; i++) out[lo + i] = lev[index * dim + i]!;
  return index;
}

/** Rounds group k of xval at inverse scale id to levels in `out`, returns the packed levels. */
function roundGroup(g: GridSearch, k: number, id: number, kMaxQ: number, out: Int8Array): number {
  let u = 0;
  for (let i = 0; i < g.dim; i++) {
    let l = nearestInt(f32(0.5 * f32(f32(id * xval[g.dim * k + i]!) - 1)));
    l = Math.max(0, Math.min(kMaxQ - 1, l));
    out[g.dim * k + i] = l;
    u |= l << (g.bits * i);
  }
  return u;
}

// fit's results (module state rather than an array per call: the sweep calls it often)
let fitQx = 0, fitQ2 = 0;

/** The weighted sums sum w x q and sum w q^2 of `levels` (q = 2l + 1) into fitQx, fitQ2. */
function fit(n: number, levels: Int8Array): void {
  let sumqx = 0, sumq2 = 0;
  for (let i = 0; i < n; i++) {
    const w = weight[i]!;
    const q = 2 * levels[i]! + 1;
    sumqx = f32(sumqx + f32(f32(w * xval[i]!) * q));
    sumq2 = f32(sumq2 + f32(f32(w * q) * q));
  }
  fitQx = sumqx;
  fitQ2 = sumq2;
}

/** Which groups are re-rounded at the fitted scale after the sweep. */
const enum Refit {
  /** every group, whenever the scale is positive (iq2_xxs) */
  Always,
  /** the groups off the grid, if any (iq2_xs, iq2_s, iq3_xxs) */
  OffGrid,
  /** every group, if any is off the grid, none counting as on it before the sweep finds one (iq3_s) */
  AllIfAnyOff,
}

interface Sweep {
  grid: GridSearch;
  /** values per group */
  n: number;
  kMaxQ: number;
  /** inverse scales (2 kMaxQ - 1 + is * step) / ref for is in [-range, range] */
  range: number;
  step: number;
  refit: Refit;
}

/**
 * The sweep and refit over xval/weight/waux (n values); L ends with the
 * levels, gridIndex with each grid point's index. Returns the scale (> 0 or
 * the flipped negative one; signs are flipped with it).
 */
function sweep(s: Sweep, ref: number, scale: number, plainSigns: boolean): number {
  const { grid: g, n, kMaxQ } = s;
  const nGroups = n / g.dim;
  let best = 0;
  onGrid.fill(s.refit === Refit.AllIfAnyOff ? 0 : 1, 0, nGroups);
  for (let is = -s.range; is <= s.range; is++) {
    const id = f32(f32(2 * kMaxQ - 1 + f32(is * s.step)) / ref);
    const thisScale = f32(1 / id);
    for (let k = 0; k < nGroups; k++) {
      const u = roundGroup(g, k, id, kMaxQ, Laux);
      onGridAux[k] = 1;
      if (g.map[u]! < 0) {
        onGridAux[k] = 0;
        bestNeighbour(g, u, g.dim * k, thisScale, Laux);
      }
    }
    fit(n, Laux);
    if (fitQ2 > 0 && f32(fitQx * fitQx) > f32(best * fitQ2)) {
      scale = f32(fitQx / fitQ2);
      best = f32(scale * fitQx);
      for (let i = 0; i < n; i++) L[i] = Laux[i]!;
      for (let k = 0; k < nGroups; k++) onGrid[k] = onGridAux[k]!;
    }
  }
  let nOff = 0;
  for (let k = 0; k < nGroups; k++) if (!onGrid[k]) nOff++;
  if ((s.refit === Refit.Always || nOff > 0) && scale > 0) {
    const id = f32(1 / scale);
    for (let k = 0; k < nGroups; k++) {
      if (s.refit === Refit.OffGrid && onGrid[k]) continue;
      const u = roundGroup(g, k, id, kMaxQ, L);
      if (g.map[u]! < 0) bestNeighbour(g, u, g.dim * k, scale, L);
    }
    fit(n, L);
    if (fitQ2 > 0) scale = f32(fitQx / fitQ2);
  }
  if (scale < 0) {
    scale = -scale;
    for (let k = 0; k < n / 8; k++) signs[k] = ~signs[k]! & (plainSigns ? 0xff : 0x7f);
  }
  for (let k = 0; k < nGroups; k++) {
    let u = 0;
    for (let i = 0; i < g.dim; i++) u |= L[g.dim * k + i]! << (g.bits * i);
    const gi = g.map[u]!;
    if (gi < 0) throw new Error(`iq grid search: point ${u} is not on the grid`);
    gridIndex[k] = gi;
  }
  return scale;
}

/** The 4-bit code of a group scale given the super-block's 1/d. */
const scaleCode = (id: number, scale: number): number => Math.max(0, Math.min(15, nearestInt(f32(0.5 * f32(f32(id * scale) - 1)))));

const IQ2_XXS_SWEEP = (): Sweep => ({ grid: iq2xxsSearch(), n: 32, kMaxQ: 3, range: 6, step: F_0_1, refit: Refit.Always });
const IQ2_XS_SWEEP = (): Sweep => ({ grid: iq2xsSearch(), n: 16, kMaxQ: 3, range: 9, step: F_0_1, refit: Refit.OffGrid });
const IQ2_S_SWEEP = (): Sweep => ({ grid: iq2sSearch(), n: 16, kMaxQ: 3, range: 9, step: F_0_1, refit: Refit.OffGrid });
const IQ3_XXS_SWEEP = (): Sweep => ({ grid: iq3xxsSearch(), n: 32, kMaxQ: 8, range: 15, step: F_0_2, refit: Refit.OffGrid });
const IQ3_S_SWEEP = (): Sweep => ({ grid: iq3sSearch(), n: 32, kMaxQ: 8, range: 9, step: F_0_2, refit: Refit.AllIfAnyOff });

function needWeights(name: string, w: Float32Array | undefined): Float32Array {
  if (!w) throw new RangeError(`${name} needs importance weights (an imatrix) to quantize, as in ggml`);
  return w;
}

/** quantize_iq2_xxs (one row; weights required). */
function quantizeIq2Xxs(src: Float32Array, dst: Uint8Array, weights: Float32Array | undefined): void {
  const w = needWeights('iq2_xxs', weights);
  const nb = checkSizes('iq2_xxs', src.length, dst.length, IQ2_XXS_BLOCK_BYTES);
  const s = IQ2_XXS_SWEEP();
  const scales = new Float32Array(8);
  const q2 = new Uint32Array(16);
  const q2bytes = new Uint8Array(q2.buffer);
  for (let ibl = 0; ibl < nb; ibl++) {
    const b = ibl * IQ2_XXS_BLOCK_BYTES;
    const xo = ibl * QK_K;
    q2.fill(0);
    let maxScale = 0;
    const sigma2 = sigma2Of(src, xo, 1);
    for (let ib = 0; ib < 8; ib++) {
      const o = xo + 32 * ib;
      importanceWeights(src, o, 32, w, sigma2);
      auxWeights(32);
      splitSigns(src, o, 32, true);
      let max = xval[0]!;
      for (let i = 1; i < 32; i++) max = max > xval[i]! ? max : xval[i]!;
      if (max < GROUP_MAX_EPS) { scales[ib] = 0; continue; }
      const scale0 = makeQpQuants(32, 4, xval, Lu8, weight);
      const effMax = f32(scale0 * 3);
      if (effMax <= 0) { scales[ib] = 0; continue; }
      const scale = sweep(s, effMax, scale0, false);
      for (let k = 0; k < 4; k++) {
        q2[2 * ib]! |= gridIndex[k]! << (8 * k);
        q2[2 * ib + 1]! |= signs[k]! << (7 * k);
      }
      scales[ib] = scale;
      maxScale = maxScale > scale ? maxScale : scale;
    }
    dst.fill(0, b, b + IQ2_XXS_BLOCK_BYTES);
    if (!maxScale) continue;
    const d = f32(maxScale / 31);
    writeF16(dst, b, d);
    const id = f32(1 / d);
    for (let ib = 0; ib < 8; ib++) q2[2 * ib + 1]! |= scaleCode(id, scales[ib]!) << 28;
    dst.set(q2bytes, b + 2);
  }
}

/** Shared body of iq2_xs and iq2_s: 16 groups of 16, two grid points each. */
function quantizeIq2_16(
  name: string, src: Float32Array, dst: Uint8Array, weights: Float32Array | undefined, blockBytes: number,
  s: Sweep, plain: boolean, put: (b: number, ib: number) => void, fudge: number,
): void {
  const nb = checkSizes(name, src.length, dst.length, blockBytes);
  const scales = new Float32Array(16);
  for (let ibl = 0; ibl < nb; ibl++) {
    const b = ibl * blockBytes;
    const xo = ibl * QK_K;
    dst.fill(0, b, b + blockBytes);
    let maxScale = 0;
    const sigma2 = sigma2Of(src, xo, plain ? 2 : 1);
    for (let ib = 0; ib < 16; ib++) {
      const o = xo + 16 * ib;
      if (weights) importanceWeights(src, o, 16, weights, sigma2);
      else for (let i = 0; i < 16; i++) weight[i] = f32(f32(0.25 * sigma2) + f32(src[o + i]! * src[o + i]!));
      auxWeights(16);
      splitSigns(src, o, 16, !plain);
      let max = xval[0]!;
      for (let i = 1; i < 16; i++) max = max > xval[i]! ? max : xval[i]!;
      L.fill(0, 0, 16);
      if (max < (plain ? GROUP_MAX_EPS_IQ2_S : GROUP_MAX_EPS)) { scales[ib] = 0; continue; }
      const scale = sweep(s, max, f32(max / 5), plain);
      put(b, ib);
      scales[ib] = scale;
      maxScale = maxScale > scale ? maxScale : scale;
    }
    if (!maxScale) {
      if (!plain) dst.fill(0, b + 2, b + 66);
      continue;
    }
    const d = f32(maxScale / 31);
    writeF16(dst, b, fudge === 1 ? d : f32(d * fudge));
    const id = f32(1 / d);
    const so = b + blockBytes - 8;
    for (let ib = 0; ib < 16; ib++) dst[so + (ib >> 1)]! |= scaleCode(id, scales[ib]!) << (4 * (ib & 1));
  }
}

/** quantize_iq2_xs (one row; weights required). */
function quantizeIq2Xs(src: Float32Array, dst: Uint8Array, weights: Float32Array | undefined): void {
  needWeights('iq2_xs', weights);
  quantizeIq2_16('iq2_xs', src, dst, weights, IQ2_XS_BLOCK_BYTES, IQ2_XS_SWEEP(), false, (b, ib) => {
    for (let k = 0; k < 2; k++) {
      const v = gridIndex[k]! | (signs[k]! << 9);
      dst[b + 2 + 2 * (2 * ib + k)] = v & 0xff;
      dst[b + 3 + 2 * (2 * ib + k)] = v >> 8;
    }
  }, 1);
}

/** quantize_iq2_s (one row; ggml quantizes it without weights too). */
function quantizeIq2S(src: Float32Array, dst: Uint8Array, weights: Float32Array | undefined): void {
  quantizeIq2_16('iq2_s', src, dst, weights, IQ2_S_BLOCK_BYTES, IQ2_S_SWEEP(), true, (b, ib) => {
    for (let k = 0; k < 2; k++) {
      const i8 = 2 * ib + k;
      dst[b + 2 + i8] = gridIndex[k]! & 255;
      dst[b + 66 + (i8 >> 2)]! |= (gridIndex[k]! >> 8) << (2 * (i8 & 3));
      dst[b + 34 + i8] = signs[k]!;
    }
  }, f32(0.9875));
}

/** Shared body of iq3_xxs and iq3_s: 8 groups of 32, eight 4-value grid points each. */
function quantizeIq3(name: string, src: Float32Array, dst: Uint8Array, weights: Float32Array | undefined, xxs: boolean): void {
  const blockBytes = xxs ? IQ3_XXS_BLOCK_BYTES : IQ3_S_BLOCK_BYTES;
  const nb = checkSizes(name, src.length, dst.length, blockBytes);
  const s = xxs ? IQ3_XXS_SWEEP() : IQ3_S_SWEEP();
  const scales = new Float32Array(8);
  const sas = new Uint32Array(8);
  const sasBytes = new Uint8Array(sas.buffer);
  for (let ibl = 0; ibl < nb; ibl++) {
    const b = ibl * blockBytes;
    const xo = ibl * QK_K;
    dst.fill(0, b, b + blockBytes);
    sas.fill(0);
    let maxScale = 0;
    // iq3_s advances its qs and signs only past the groups it quantizes (ggml does so too)
    let qs = b + 2, sg = b + 74;
    const sigma2 = sigma2Of(src, xo, 2);
    for (let ib = 0; ib < 8; ib++) {
      const o = xo + 32 * ib;
      if (weights) importanceWeights(src, o, 32, weights, sigma2);
      else for (let i = 0; i < 32; i++) weight[i] = f32(src[o + i]! * src[o + i]!);
      auxWeights(32);
      splitSigns(src, o, 32, xxs);
      let max = xval[0]!;
      for (let i = 1; i < 32; i++) max = max > xval[i]! ? max : xval[i]!;
      L.fill(0, 0, 32);
      if (xxs ? max < GROUP_MAX_EPS_IQ3_XXS : max === 0) { scales[ib] = 0; continue; }
      const scale = sweep(s, max, f32(max / 15), !xxs);
      if (xxs) {
        for (let k = 0; k < 8; k++) dst[b + 2 + 8 * ib + k] = gridIndex[k]!;
        sas[ib] = (signs[0]! | (signs[1]! << 7) | (signs[2]! << 14) | (signs[3]! << 21)) >>> 0;
      } else {
        for (let k = 0; k < 8; k++) {
          dst[qs + k] = gridIndex[k]! & 255;
          dst[b + 66 + ib]! |= (gridIndex[k]! >> 8) << k;
        }
        qs += 8;
        for (let k = 0; k < 4; k++) dst[sg + k] = signs[k]!;
        sg += 4;
      }
      scales[ib] = scale;
      maxScale = maxScale > scale ? maxScale : scale;
    }
    if (!maxScale) {
      if (xxs) dst.fill(0, b + 2, b + blockBytes);
      continue;
    }
    const d = f32(maxScale / 31);
    writeF16(dst, b, f32(d * (xxs ? f32(1.0125) : f32(1.033))));
    const id = f32(1 / d);
    if (xxs) {
      for (let ib = 0; ib < 8; ib++) sas[ib] = (sas[ib]! | (scaleCode(id, scales[ib]!) << 28)) >>> 0;
      dst.set(sasBytes, b + 66);
    } else {
      for (let ib = 0; ib < 8; ib += 2) dst[b + 106 + (ib >> 1)] = scaleCode(id, scales[ib]!) | (scaleCode(id, scales[ib + 1]!) << 4);
    }
  }
}

export const IQ_GRID_QUANTIZERS: Partial<Record<GGMLType, GridQuantizer>> = {
  [GGMLType.IQ2_XXS]: quantizeIq2Xxs,
  [GGMLType.IQ2_XS]: quantizeIq2Xs,
  [GGMLType.IQ2_S]: quantizeIq2S,
  [GGMLType.IQ3_XXS]: (src, dst, w) => quantizeIq3('iq3_xxs', src, dst, w, true),
  [GGMLType.IQ3_S]: (src, dst, w) => quantizeIq3('iq3_s', src, dst, w, false),
};
