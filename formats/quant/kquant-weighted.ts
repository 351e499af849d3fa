// The k-quant quantizers ggml runs when it has an importance matrix:
// quantize_row_q{2,3,4,5,6}_K_impl (ggml-quants.c), reached through
// quantize_q*_K(..., quant_weights) when quant_weights is not NULL. Without
// weights ggml runs the *_ref quantizers (kquant-q*_k.ts) instead.
//
// What the imatrix changes: each element's weight in the scale searches is
// imatrix[column] * sqrt(sigma2 + x^2) instead of a function of x alone, the
// sub-block fits use make_qkx3_quants (a finer step grid), and the
// super-block scales are themselves fitted (make_qp_quants / make_qx_quants)
// weighted by each sub-block's total weight rather than scaled from the max.
// Block layouts are in the kquant-q*_k.ts files.

import { checkSizes, f32, nearestInt, QK_K, readF16, scaleK4, minK4, toI8, toU8, writeF16 } from './kquant-common.js';
import { makeQkx3Quants, makeQpQuants, makeQxQuantsWeighted } from './weighted-search.js';

const GROUP_MAX_EPS = f32(1e-15);
const RMIN = f32(-0.9);
const RDELTA = f32(0.05);

/** sum of x^2 over one super-block, in float as ggml adds it. */
function sumSquares(x: Float32Array): number {
  let s = 0;
  for (let j = 0; j < QK_K; ++j) s = f32(s + f32(x[j]! * x[j]!));
  return s;
}

/** weight[l] = qw[l] * sqrtf(sigma2 + x[l]^2) for n elements from `off`; returns their float sum. */
function elementWeights(x: Float32Array, qw: Float32Array, off: number, n: number, sigma2: number, out: Float32Array): number {
  let sum = 0;
  for (let l = 0; l < n; ++l) {
    const xv = x[off + l]!;
    out[l] = f32(qw[off + l]! * f32(Math.sqrt(f32(sigma2 + f32(xv * xv)))));
  }
  for (let l = 0; l < n; ++l) sum = f32(sum + out[l]!);
  return sum;
}

/** The 2-bit-per-value packing q2_K and q3_K share (see kquant-q2_k.ts). */
function packQ2(L: Int8Array | Uint8Array, y: Uint8Array, qs: number): void {
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; ++l) {
      y[qs + j / 4 + l] = L[j + l]! | (L[j + l + 32]! << 2) | (L[j + l + 64]! << 4) | (L[j + l + 96]! << 6);
    }
  }
}

// --- q2_K: scales[16] @0, qs[64] @16, d @80, dmin @82 ------------------------

function quantizeQ2K(src: Float32Array, dst: Uint8Array, qwRow: Float32Array): void {
  const nb = checkSizes('q2_K', src.length, dst.length, 84);
  const L = new Uint8Array(QK_K);
  const Laux = new Uint8Array(16);
  const mins = new Float32Array(16);
  const scales = new Float32Array(16);
  const sw = new Float32Array(16);
  const weight = new Float32Array(16);
  const Ls = new Uint8Array(16);
  const Lm = new Uint8Array(16);
  for (let i = 0; i < nb; i++) {
    const x = src.subarray(i * QK_K, (i + 1) * QK_K);
    const qw = qwRow.subarray(i * QK_K, (i + 1) * QK_K);
    const y = dst.subarray(i * 84, (i + 1) * 84);
    const sigma2 = f32(sumSquares(x) / QK_K); // q2_K: no factor 2
    for (let j = 0; j < 16; ++j) {
      sw[j] = elementWeights(x, qw, 16 * j, 16, sigma2, weight);
      scales[j] = makeQkx3Quants(16, 3, x.subarray(16 * j), weight, L.subarray(16 * j), mins, j, Laux, RMIN, RDELTA, 36, false);
    }
    const dm0 = makeQpQuants(16, 15, scales, Ls, sw);
    const mm0 = makeQpQuants(16, 15, mins, Lm, sw);
    writeF16(y, 80, dm0);
    writeF16(y, 82, mm0);
    const dm = readF16(y, 80);
    const mm = readF16(y, 82);
    for (let j = 0; j < 16; ++j) y[j] = toU8(Ls[j]! | (Lm[j]! << 4));
    for (let j = 0; j < 16; ++j) {
      const d = f32(dm * (y[j]! & 0xf));
      if (!d) continue;
      const m = f32(mm * (y[j]! >> 4));
      for (let ii = 0; ii < 16; ++ii) {
        L[16 * j + ii] = Math.max(0, Math.min(3, nearestInt(f32(f32(x[16 * j + ii]! + m) / d))));
      }
    }
    packQ2(L, y, 16);
  }
}

// --- q3_K: hmask[32] @0, qs[64] @32, scales[12] @96, d @108 ------------------

function quantizeQ3K(src: Float32Array, dst: Uint8Array, qwRow: Float32Array): void {
  const nb = checkSizes('q3_K', src.length, dst.length, 110);
  const L = new Int8Array(QK_K);
  const scales = new Float32Array(16);
  const weight = new Float32Array(16);
  const sw = new Float32Array(16);
  const Ls = new Int8Array(16);
  for (let i = 0; i < nb; i++) {
    const x = src.subarray(i * QK_K, (i + 1) * QK_K);
    const qw = qwRow.subarray(i * QK_K, (i + 1) * QK_K);
    const y = dst.subarray(i * 110, (i + 1) * 110);
    const sigma2 = f32(f32(2 * sumSquares(x)) / QK_K);
    for (let j = 0; j < 16; ++j) {
      sw[j] = elementWeights(x, qw, 16 * j, 16, sigma2, weight);
      scales[j] = makeQxQuantsWeighted(16, 4, x.subarray(16 * j), L.subarray(16 * j), weight);
    }
    y.fill(0, 96, 108);
    const dBlock = makeQxQuantsWeighted(16, 32, scales, Ls, sw);
    for (let j = 0; j < 16; ++j) {
      let l = Ls[j]!;
      if (j < 8) y[96 + j] = l & 0xf;
      else y[96 + j - 8] = toU8(y[96 + j - 8]! | ((l & 0xf) << 4));
      l >>= 4;
      y[96 + 8 + (j % 4)] = toU8(y[96 + 8 + (j % 4)]! | (l << (2 * (j >> 2))));
    }
    writeF16(y, 108, dBlock);
    const dAll = readF16(y, 108);
    for (let j = 0; j < 16; ++j) {
      const low = j < 8 ? y[96 + j]! & 0xf : y[96 + j - 8]! >> 4;
      const sc = toI8(low | (((y[96 + 8 + (j % 4)]! >> (2 * (j >> 2))) & 3) << 4)) - 32;
      const d = f32(dAll * sc);
      if (!d) continue;
      for (let ii = 0; ii < 16; ++ii) {
        L[16 * j + ii] = Math.max(-4, Math.min(3, nearestInt(f32(x[16 * j + ii]! / d)))) + 4;
      }
    }
    y.fill(0, 0, 32);
    let m = 0;
    let hm = 1;
    for (let j = 0; j < QK_K; ++j) {
      if (L[j]! > 3) {
        y[m] = y[m]! | hm;
        L[j] = L[j]! - 4;
      }
      if (++m === QK_K / 8) {
        m = 0;
        hm <<= 1;
      }
    }
    packQ2(L, y, 32);
  }
}

// --- q4_K / q5_K: d @0, dmin @2, scales[12] @4, then (q5_K) qh[32] and qs -------

/**
 * The part quantize_row_q4_K_impl and q5_K_impl share: per 32-element
 * sub-block make_qkx3_quants, then the 6-bit scales and mins fitted by
 * make_qp_quants and packed, d/dmin written, and every quant re-rounded
 * against the stored scales. Leaves the quants (0..nmax) in L.
 */
// scratch of quantizeK4Weighted, which runs once per super-block (no reentry: it calls nothing that calls it)
const K4 = {
  Laux: new Uint8Array(32), weights: new Float32Array(32), sw: new Float32Array(8), mins: new Float32Array(8),
  scales: new Float32Array(8), Ls: new Uint8Array(8), Lm: new Uint8Array(8),
};

function quantizeK4Weighted(x: Float32Array, qw: Float32Array, y: Uint8Array, nmax: number, clampLs: boolean, L: Uint8Array): void {
  const { Laux, weights, sw, mins, scales, Ls, Lm } = K4;
  const sigma2 = f32(f32(2 * sumSquares(x)) / QK_K);
  for (let j = 0; j < 8; ++j) {
    sw[j] = elementWeights(x, qw, 32 * j, 32, sigma2, weights);
    scales[j] = makeQkx3Quants(32, nmax, x.subarray(32 * j), weights, L.subarray(32 * j), mins, j, Laux, RMIN, RDELTA, 36, false);
  }
  const dBlock = makeQpQuants(8, 63, scales, Ls, sw);
  const mBlock = makeQpQuants(8, 63, mins, Lm, sw);
  const s = y.subarray(4, 16); // Uint8Array stores wrap like C's uint8_t
  for (let j = 0; j < 8; ++j) {
    // q5_K clamps to 63 first; q4_K stores the level as it is
    const ls = clampLs ? Math.min(63, Ls[j]!) : Ls[j]!;
    const lm = clampLs ? Math.min(63, Lm[j]!) : Lm[j]!;
    if (j < 4) {
      s[j] = ls;
      s[j + 4] = lm;
    } else {
      s[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      s[j - 4] = s[j - 4]! | ((ls >> 4) << 6);
      s[j] = s[j]! | ((lm >> 4) << 6);
    }
  }
  writeF16(y, 0, dBlock);
  writeF16(y, 2, mBlock);
  const dAll = readF16(y, 0);
  const dminAll = readF16(y, 2);
  for (let j = 0; j < 8; ++j) {
    const d = f32(dAll * scaleK4(j, s));
    if (!d) continue;
    const dm = f32(dminAll * minK4(j, s));
    for (let ii = 0; ii < 32; ++ii) {
      L[32 * j + ii] = Math.max(0, Math.min(nmax, nearestInt(f32(f32(x[32 * j + ii]! + dm) / d))));
    }
  }
}

function quantizeQ4K(src: Float32Array, dst: Uint8Array, qwRow: Float32Array): void {
  const nb = checkSizes('q4_K', src.length, dst.length, 144);
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const y = dst.subarray(i * 144, (i + 1) * 144);
    quantizeK4Weighted(src.subarray(i * QK_K, (i + 1) * QK_K), qwRow.subarray(i * QK_K, (i + 1) * QK_K), y, 15, false, L);
    for (let c = 0; c < 4; ++c) {
      for (let l = 0; l < 32; ++l) y[16 + 32 * c + l] = L[64 * c + l]! | (L[64 * c + l + 32]! << 4);
    }
  }
}

function quantizeQ5K(src: Float32Array, dst: Uint8Array, qwRow: Float32Array): void {
  const nb = checkSizes('q5_K', src.length, dst.length, 176);
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const y = dst.subarray(i * 176, (i + 1) * 176);
    quantizeK4Weighted(src.subarray(i * QK_K, (i + 1) * QK_K), qwRow.subarray(i * QK_K, (i + 1) * QK_K), y, 31, true, L);
    y.fill(0, 16, 48);
    for (let c = 0; c < 4; ++c) {
      const m1 = 1 << (2 * c);
      const m2 = m1 << 1;
      for (let j = 0; j < 32; ++j) {
        let l1 = L[64 * c + j]!;
        if (l1 > 15) {
          l1 -= 16;
          y[16 + j] = y[16 + j]! | m1;
        }
        let l2 = L[64 * c + j + 32]!;
        if (l2 > 15) {
          l2 -= 16;
          y[16 + j] = y[16 + j]! | m2;
        }
        y[48 + 32 * c + j] = l1 | (l2 << 4);
      }
    }
  }
}

// --- q6_K: ql[128] @0, qh[64] @128, scales[16] (int8) @192, d @208 ------------

function quantizeQ6K(src: Float32Array, dst: Uint8Array, qwRow: Float32Array): void {
  const nb = checkSizes('q6_K', src.length, dst.length, 210);
  const L = new Int8Array(QK_K);
  const scales = new Float32Array(16);
  for (let i = 0; i < nb; i++) {
    const x = src.subarray(i * QK_K, (i + 1) * QK_K);
    const qw = qwRow.subarray(i * QK_K, (i + 1) * QK_K);
    const y = dst.subarray(i * 210, (i + 1) * 210);
    let maxScale = 0;
    let maxAbsScale = 0;
    // q6_K weighs by the imatrix alone (ggml's sigma2 form is commented out there)
    for (let ib = 0; ib < 16; ++ib) {
      const scale = makeQxQuantsWeighted(16, 32, x.subarray(16 * ib), L.subarray(16 * ib), qw.subarray(16 * ib));
      scales[ib] = scale;
      const a = Math.abs(scale);
      if (a > maxAbsScale) {
        maxAbsScale = a;
        maxScale = scale;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      y.fill(0);
      continue;
    }
    const iscale = f32(-128 / maxScale);
    writeF16(y, 208, f32(1 / iscale));
    for (let ib = 0; ib < 16; ++ib) y[192 + ib] = toU8(toI8(Math.min(127, nearestInt(f32(iscale * scales[ib]!)))));
    const dAll = readF16(y, 208);
    for (let j = 0; j < 16; ++j) {
      const d = f32(dAll * toI8(y[192 + j]!));
      if (!d) continue;
      for (let ii = 0; ii < 16; ++ii) {
        L[16 * j + ii] = Math.max(-32, Math.min(31, nearestInt(f32(x[16 * j + ii]! / d)))) + 32;
      }
    }
    for (let h = 0; h < 2; ++h) {
      const j = 128 * h;
      const ql = 64 * h;
      const qh = 128 + 32 * h;
      for (let l = 0; l < 32; ++l) {
        const q1 = L[j + l]!;
        const q2 = L[j + l + 32]!;
        const q3 = L[j + l + 64]!;
        const q4 = L[j + l + 96]!;
        y[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        y[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        y[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
}

/** quantize_row_q*_K_impl for one row; qw has one importance per column of the row. */
export type WeightedQuantizer = (src: Float32Array, dst: Uint8Array, qw: Float32Array) => void;

export const KQUANT_WEIGHTED = { quantizeQ2K, quantizeQ3K, quantizeQ4K, quantizeQ5K, quantizeQ6K } as const;
