// The scale searches ggml's quantizers run when they have importance weights
// (an imatrix): make_qx_quants with caller weights, make_qkx3_quants and
// make_qp_quants (ggml-quants.c). kquant-search.ts has the forms the
// unweighted reference quantizers call; these differ in their weights,
// their step grids and, for make_qp_quants, in being a search over the
// sub-block scales themselves.
//
// Float32 one operation at a time, ggml's loop and accumulation order, and
// C's integer conversions (uint8 stores wrap): see kquant-common.ts for why.

import { signedAbsMax } from './block-max.js';
import { f32, nearestInt, toU8 } from './kquant-common.js';
import { makeQkx2Quants } from './kquant-search.js';

const GROUP_MAX_EPS = f32(1e-15);
const F_0_1 = f32(0.1);

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

/**
 * make_qx_quants(n, nmax, x, L, rmse_type = 1, qw): symmetric quants in
 * [-nmax, nmax-1] with the least-squares scale under weights qw, trying the
 * plain rounding and 18 nearby inverse scales. Writes L[i] = q + nmax (all 0
 * for an all-zero group) and returns the scale.
 */
export function makeQxQuantsWeighted(n: number, nmax: number, x: Float32Array, L: Int8Array, qw: Float32Array): number {
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
    const w = qw[i]!;
    sumlx = f32(sumlx + f32(f32(w * xi) * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  let scale = suml2 ? f32(sumlx / suml2) : 0;
  let best = f32(scale * sumlx);
  for (let is = -9; is <= 9; ++is) {
    if (is === 0) continue;
    iscale = f32(-f32(nmax + f32(F_0_1 * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; ++i) {
      const xi = x[i]!;
      const l = clamp(nearestInt(f32(iscale * xi)), -nmax, nmax - 1);
      const w = qw[i]!;
      sumlx = f32(sumlx + f32(f32(w * xi) * l));
      suml2 = f32(suml2 + f32(f32(w * l) * l));
    }
    if (suml2 > 0 && f32(sumlx * sumlx) > f32(best * suml2)) {
      for (let i = 0; i < n; ++i) L[i] = nmax + clamp(nearestInt(f32(iscale * x[i]!)), -nmax, nmax - 1);
      scale = f32(sumlx / suml2);
      best = f32(scale * sumlx);
    }
  }
  return scale;
}

/**
 * make_qkx3_quants with caller weights. ggml's make_qkx3_quants differs from
 * make_qkx2_quants only where no weights are given (it then weighs each value
 * by x^2); every caller here gives weights, so it is the same computation.
 */
export const makeQkx3Quants = makeQkx2Quants;

/**
 * make_qp_quants: quantizes n non-negative values (a super-block's sub-block
 * scales or mins) to [0, nmax] with one scale, weighted by qw: the best of 9
 * inverse scales by weighted squared error, then coordinate descent on the
 * least-squares fit. L is uint8 as in ggml, so a negative level wraps when
 * stored and later passes read the wrapped value. Returns the scale.
 */
export function makeQpQuants(n: number, nmax: number, x: Float32Array, L: Uint8Array, qw: Float32Array): number {
  let max = 0;
  for (let i = 0; i < n; ++i) max = max > x[i]! ? max : x[i]!;
  if (max < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  let iscale = f32(nmax / max);
  for (let i = 0; i < n; ++i) L[i] = toU8(nearestInt(f32(iscale * x[i]!)));
  const scale = f32(1 / iscale);
  let bestMse = 0;
  for (let i = 0; i < n; ++i) {
    const diff = f32(x[i]! - f32(scale * L[i]!));
    bestMse = f32(bestMse + f32(f32(qw[i]! * diff) * diff));
  }
  for (let is = -4; is <= 4; ++is) {
    if (is === 0) continue;
    const iscaleIs = f32(f32(f32(F_0_1 * is) + nmax) / max);
    const scaleIs = f32(1 / iscaleIs);
    let mse = 0;
    for (let i = 0; i < n; ++i) {
      const l = Math.min(nmax, nearestInt(f32(iscaleIs * x[i]!)));
      const diff = f32(x[i]! - f32(scaleIs * l));
      mse = f32(mse + f32(f32(qw[i]! * diff) * diff));
    }
    if (mse < bestMse) {
      bestMse = mse;
      iscale = iscaleIs;
    }
  }
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; ++i) {
    const l = Math.min(nmax, nearestInt(f32(iscale * x[i]!)));
    L[i] = toU8(l);
    const w = qw[i]!;
    sumlx = f32(sumlx + f32(f32(w * x[i]!) * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  for (let itry = 0; itry < 5; ++itry) {
    let nChanged = 0;
    for (let i = 0; i < n; ++i) {
      const w = qw[i]!;
      const xi = x[i]!;
      const Li = L[i]!;
      let slx = f32(sumlx - f32(f32(w * xi) * Li));
      let sl2 = f32(suml2 - f32(f32(w * Li) * Li));
      if (slx > 0 && sl2 > 0) {
        const newL = Math.min(nmax, nearestInt(f32(f32(xi * sl2) / slx)));
        if (newL !== Li) {
          slx = f32(slx + f32(f32(w * xi) * newL));
          sl2 = f32(sl2 + f32(f32(w * newL) * newL));
          if (f32(f32(slx * slx) * suml2) > f32(f32(sumlx * sumlx) * sl2)) {
            L[i] = toU8(newL);
            sumlx = slx;
            suml2 = sl2;
            ++nChanged;
          }
        }
      }
    }
    if (!nChanged) break;
  }
  return suml2 > 0 ? f32(sumlx / suml2) : 0;
}
