// The per-sub-block scale searches behind ggml's k-quant reference
// quantizers: make_qx_quants (q6_K), make_q3_quants (q3_K) and
// make_qkx2_quants (q2_K, q4_K, q5_K). Only the forms those *_ref quantizers
// call are here; the imatrix quantizers use other arguments and other
// searches.
//
// Every float operation is float32 (see kquant-common.ts), and loops,
// comparisons and accumulation order are ggml's, because the chosen quants
// depend on them.

import { signedAbsMax } from './block-max.js';
import { f32, nearestInt } from './kquant-common.js';

/** ggml's threshold below which a group counts as all zero. */
const GROUP_MAX_EPS = f32(1e-15);

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

/**
 * make_qx_quants with rmse_type = 1 (weights x^2) and no importance
 * weights, as quantize_row_q6_K_ref calls it. Symmetric quants in
 * [-nmax, nmax-1]; writes L[i] = q + nmax (0..2*nmax-1) and returns the scale,
 * negative when the largest-magnitude element is positive (q = -nmax is the
 * extreme level, and it takes the sign of that element).
 * Tries the plain rounding at iscale = -nmax/max, then 18 nearby iscales,
 * keeping the one with the best weighted least-squares fit.
 */
export function makeQxQuants(n: number, nmax: number, x: Float32Array, L: Int8Array | Uint8Array): number {
  const max = signedAbsMax(x, 0, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  let iscale = f32(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; ++i) {
    const xi = x[i]!;
    const l = clamp(nearestInt(f32(iscale * xi)), -nmax, nmax - 1);
    L[i] = l + nmax;
    const w = f32(xi * xi);
    sumlx = f32(sumlx + f32(f32(w * xi) * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  let scale = suml2 ? f32(sumlx / suml2) : 0;
  let best = f32(scale * sumlx);
  for (let is = -9; is <= 9; ++is) {
    if (is === 0) continue;
    iscale = f32(-f32(nmax + f32(f32(0.1) * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; ++i) {
      const xi = x[i]!;
      const l = clamp(nearestInt(f32(iscale * xi)), -nmax, nmax - 1);
      const w = f32(xi * xi);
      sumlx = f32(sumlx + f32(f32(w * xi) * l));
      suml2 = f32(suml2 + f32(f32(w * l) * l));
    }
    if (suml2 > 0 && f32(sumlx * sumlx) > f32(best * suml2)) {
      for (let i = 0; i < n; ++i) {
        L[i] = nmax + clamp(nearestInt(f32(iscale * x[i]!)), -nmax, nmax - 1);
      }
      scale = f32(sumlx / suml2);
      best = f32(scale * sumlx);
    }
  }
  return scale;
}

/**
 * make_q3_quants with do_rmse = true, as quantize_row_q3_K_ref calls it.
 * Starts from rounding at iscale = -nmax/max, then up to 5 passes of
 * coordinate descent: each quant moves to its best level given the others if
 * that improves the x^2-weighted fit. Writes L[i] = q + nmax and returns the
 * least-squares scale (sign as in makeQxQuants).
 */
export function makeQ3Quants(n: number, nmax: number, x: Float32Array, L: Int8Array): number {
  const max = signedAbsMax(x, 0, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    // ggml leaves these at 0 (not 0 + nmax); the sub-block's scale is 0 so
    // nothing downstream reads them as values.
    L.fill(0, 0, n);
    return 0;
  }
  const iscale = f32(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; ++i) {
    const xi = x[i]!;
    const l = clamp(nearestInt(f32(iscale * xi)), -nmax, nmax - 1);
    L[i] = l;
    const w = f32(xi * xi);
    sumlx = f32(sumlx + f32(f32(w * xi) * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  for (let itry = 0; itry < 5; ++itry) {
    let nChanged = 0;
    for (let i = 0; i < n; ++i) {
      const xi = x[i]!;
      const Li = L[i]!;
      const w = f32(xi * xi);
      let slx = f32(sumlx - f32(f32(w * xi) * Li));
      if (slx > 0) {
        let sl2 = f32(suml2 - f32(f32(w * Li) * Li));
        const newL = clamp(nearestInt(f32(f32(xi * sl2) / slx)), -nmax, nmax - 1);
        if (newL !== Li) {
          slx = f32(slx + f32(f32(w * xi) * newL));
          sl2 = f32(sl2 + f32(f32(w * newL) * newL));
          if (sl2 > 0 && f32(f32(slx * slx) * suml2) > f32(f32(sumlx * sumlx) * sl2)) {
            L[i] = newL;
            sumlx = slx;
            suml2 = sl2;
            ++nChanged;
          }
        }
      }
    }
    if (!nChanged) break;
  }
  for (let i = 0; i < n; ++i) L[i] = L[i]! + nmax;
  return suml2 > 0 ? f32(sumlx / suml2) : 0;
}

/**
 * make_qkx2_quants: asymmetric quants x ~ scale*L - theMin with L in
 * [0, nmax], min clamped so that theMin >= 0. Starts from the full-range
 * rounding, then tries iscale = (rmin + rdelta*is + nmax)/(max - min) for
 * is = 0..nstep, solving the weighted least-squares (scale, min) for each
 * rounding and keeping the smallest weighted error (|diff| when useMad,
 * diff^2 otherwise). Returns the scale; the min (as a positive offset to
 * subtract) goes to theMin[theMinAt].
 */
export function makeQkx2Quants(
  n: number,
  nmax: number,
  x: Float32Array,
  weights: Float32Array,
  L: Uint8Array,
  theMin: Float32Array,
  theMinAt: number,
  Laux: Uint8Array,
  rmin: number,
  rdelta: number,
  nstep: number,
  useMad: boolean,
): number {
  let min = x[0]!;
  let max = x[0]!;
  let sumW = weights[0]!;
  let sumX = f32(sumW * x[0]!);
  for (let i = 1; i < n; ++i) {
    const xi = x[i]!;
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i]!;
    sumW = f32(sumW + w);
    sumX = f32(sumX + f32(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, 0, n);
    theMin[theMinAt] = -min;
    return 0;
  }
  let iscale = f32(nmax / f32(max - min));
  let scale = f32(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; ++i) {
    const l = nearestInt(f32(iscale * f32(x[i]! - min)));
    L[i] = clamp(l, 0, nmax);
    let diff = f32(f32(f32(scale * L[i]!) + min) - x[i]!);
    diff = useMad ? Math.abs(diff) : f32(diff * diff);
    bestError = f32(bestError + f32(weights[i]! * diff));
  }
  if (nstep < 1) {
    theMin[theMinAt] = -min;
    return scale;
  }
  for (let is = 0; is <= nstep; ++is) {
    // min moves when a step wins, and later steps use the new one (ggml does).
    iscale = f32(f32(f32(rmin + f32(rdelta * is)) + nmax) / f32(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; ++i) {
      const xi = x[i]!;
      const l = clamp(nearestInt(f32(iscale * f32(xi - min))), 0, nmax);
      Laux[i] = l;
      const wl = f32(weights[i]! * l);
      sumL = f32(sumL + wl);
      sumL2 = f32(sumL2 + f32(wl * l));
      sumXL = f32(sumXL + f32(wl * xi));
    }
    const D = f32(f32(sumW * sumL2) - f32(sumL * sumL));
    if (D > 0) {
      let thisScale = f32(f32(f32(sumW * sumXL) - f32(sumX * sumL)) / D);
      let thisMin = f32(f32(f32(sumL2 * sumX) - f32(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f32(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; ++i) {
        let diff = f32(f32(f32(thisScale * Laux[i]!) + thisMin) - x[i]!);
        diff = useMad ? Math.abs(diff) : f32(diff * diff);
        curError = f32(curError + f32(weights[i]! * diff));
      }
      if (curError < bestError) {
        L.set(Laux.subarray(0, n));
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  theMin[theMinAt] = -min;
  return scale;
}
