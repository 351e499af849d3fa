// The 4-bit non-linear quants: iq4_nl (32-element blocks) and iq4_xs
// (256-element super-blocks of eight 32-element blocks). Each 4-bit code
// indexes a fixed table of 16 int8 levels (IQ4_LEVELS, ggml's kvalues_iq4nl),
// denser near zero than a uniform grid.
//
// Block layouts (little-endian, f16 scales):
//   iq4_nl  d, qs[16]                          x = d * L[q]
//   iq4_xs  d, scales_h (u16), scales_l[4], qs[128]
//           block b's 6-bit scale s_b: low 4 bits in nibble b%2 of
//           scales_l[b/2], top 2 bits at bit 2b of scales_h;
//           x = (d * (s_b - 32)) * L[q]
// In both, byte j of a block's 16 code bytes holds element j in its low
// nibble and element j + 16 in its high one.
//
// The quantizer is ggml's quantize_row_iq4_nl_impl: per 32-element block a
// signed scale fitted by least squares over 15 candidate inverse scales
// (ntry = 7) with weights x^2, or imatrix * sqrt(sigma2 + x^2) when there is
// an importance matrix; iq4_xs then quantizes the eight block scales to 6
// bits against one f16 super-scale and re-picks every code for its rounded
// scale. quantizeRow(IQ4_NL) is quantize_iq4_nl(..., NULL) (ntry 7, what
// ggml_quantize_chunk and llama-quantize write); ggml's from_float_ref for
// iq4_nl (quantize_row_iq4_nl_ref) skips the search (ntry -1) and is exported
// as quantizeIq4NlNoSearch. Every float step is rounded to float32 one at a
// time (see kquant-common.ts for why that reproduces ggml's C).

import { GGMLType } from '../ggml-types.js';
import { signedAbsMax } from './block-max.js';
import type { BlockCodec } from './codec.js';
import { f32, nearestInt, QK_K, readF16, writeF16 } from './kquant-common.js';

/** ggml's kvalues_iq4nl: the 16 levels a 4-bit code stands for. */
export const IQ4_LEVELS: readonly number[] = Object.freeze([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]);

const QK4_NL = 32;
const IQ4_NL_BYTES = 2 + QK4_NL / 2;
const IQ4_XS_BYTES = 2 + 2 + QK_K / 64 + QK_K / 2;
const GROUP_MAX_EPS = f32(1e-15);

/**
 * ggml's best_index_int8 over IQ4_LEVELS: the nearest level to the float32
 * x by binary search, the lower one when x - lower < upper - x is false
 * (ties go up). A nan x ends at the top level, as the C's comparisons do.
 */
export function bestLevel(x: number): number {
  const v = IQ4_LEVELS;
  if (x <= v[0]!) return 0;
  if (x >= v[15]!) return 15;
  let ml = 0;
  let mu = 15;
  while (mu - ml > 1) {
    const mav = (ml + mu) >> 1;
    if (x < v[mav]!) mu = mav;
    else ml = mav;
  }
  return f32(x - v[mu - 1]!) < f32(v[mu]! - x) ? mu - 1 : mu;
}

function blockCount(name: string, n: number, bytes: number, qk: number, typeSize: number): number {
  if (n % qk !== 0) throw new RangeError(`${name}: ${n} elements is not a multiple of ${qk}`);
  const nb = n / qk;
  if (bytes < nb * typeSize) throw new RangeError(`${name}: ${n} elements need ${nb * typeSize} bytes, got ${bytes}`);
  return nb;
}

/**
 * quantize_row_iq4_nl_impl for one super-block of `sbs` elements (32:
 * iq4_nl, 256: iq4_xs) at x[0..sbs): writes the f16 d at dst[dOff], the
 * codes at dst[qsOff..], and for iq4_xs the packed 6-bit scales at
 * dst[dOff + 2..dOff + 8). `qw` is the importance weights of these elements
 * or null. `L` is scratch of sbs codes: ggml reuses its array across blocks
 * and leaves a block whose max is below GROUP_MAX_EPS unwritten when ntry < 0
 * (iq4_nl's no-search path), so the caller keeps one L per row like ggml.
 */
function quantizeSuperBlock(sbs: number, x: Float32Array, qw: Float32Array | null, ntry: number, L: Uint8Array,
  dst: Uint8Array, dOff: number, qsOff: number): void {
  let sigma2 = 0;
  for (let j = 0; j < sbs; ++j) sigma2 = f32(sigma2 + f32(x[j]! * x[j]!));
  sigma2 = f32(sigma2 * f32(2 / sbs));

  dst.fill(0, qsOff, qsOff + sbs / 2);
  writeF16(dst, dOff, 0);

  const nBlocks = sbs / 32;
  const scales = new Float32Array(nBlocks);
  const weight = new Float32Array(32);
  const v0 = IQ4_LEVELS[0]!;
  let maxScale = 0;
  let amaxScale = 0;
  for (let ib = 0; ib < nBlocks; ++ib) {
    const o = ib * 32;
    for (let j = 0; j < 32; ++j) {
      const xj = x[o + j]!;
      weight[j] = qw ? f32(qw[o + j]! * f32(Math.sqrt(f32(sigma2 + f32(xj * xj))))) : f32(xj * xj);
    }
    const max = signedAbsMax(x, o, 32);
    if (Math.abs(max) < GROUP_MAX_EPS) {
      scales[ib] = 0;
      continue;
    }
    let d = ntry > 0 ? f32(-max / v0) : f32(max / v0);
    let id = f32(1 / d);
    let sumqx = 0;
    let sumq2 = 0;
    for (let j = 0; j < 32; ++j) {
      const xj = x[o + j]!;
      const l = bestLevel(f32(id * xj));
      L[o + j] = l;
      const q = IQ4_LEVELS[l]!;
      const wq = f32(weight[j]! * q);
      sumqx = f32(sumqx + f32(wq * xj));
      sumq2 = f32(sumq2 + f32(wq * q));
    }
    d = sumq2 > 0 ? f32(sumqx / sumq2) : 0;
    let best = f32(d * sumqx);
    for (let itry = -ntry; itry <= ntry; ++itry) {
      id = f32((itry + v0) / max);
      sumqx = 0;
      sumq2 = 0;
      for (let j = 0; j < 32; ++j) {
        const xj = x[o + j]!;
        const q = IQ4_LEVELS[bestLevel(f32(id * xj))]!;
        const wq = f32(weight[j]! * q);
        sumqx = f32(sumqx + f32(wq * xj));
        sumq2 = f32(sumq2 + f32(wq * q));
      }
      if (sumq2 > 0 && f32(sumqx * sumqx) > f32(best * sumq2)) {
        d = f32(sumqx / sumq2);
        best = f32(d * sumqx);
      }
    }
    scales[ib] = d;
    if (Math.abs(d) > amaxScale) {
      amaxScale = Math.abs(d);
      maxScale = d;
    }
  }

  if (nBlocks > 1) {
    // iq4_xs: 6-bit block scales against one f16 super-scale
    let scalesH = 0;
    const d = f32(-maxScale / 32);
    writeF16(dst, dOff, d);
    const id = d !== 0 ? f32(1 / d) : 0; // C's `d ? 1/d : 0`: a nan d is true
    for (let ib = 0; ib < nBlocks; ++ib) {
      let l = nearestInt(f32(id * scales[ib]!));
      l = Math.max(-32, Math.min(31, l));
      const dl = f32(d * l);
      const idl = dl !== 0 ? f32(1 / dl) : 0;
      for (let j = 0; j < 32; ++j) L[ib * 32 + j] = bestLevel(f32(idl * x[ib * 32 + j]!));
      l += 32;
      const lo = dOff + 4 + (ib >> 1);
      if (ib % 2 === 0) dst[lo] = l & 0xf;
      else dst[lo]! |= (l & 0xf) << 4;
      scalesH |= (l >> 4) << (2 * (ib % 8));
    }
    dst[dOff + 2] = scalesH & 0xff;
    dst[dOff + 3] = scalesH >>> 8;
  } else {
    writeF16(dst, dOff, scales[0]!);
    if (ntry > 0) {
      const id = scales[0] !== 0 ? f32(1 / scales[0]!) : 0;
      for (let j = 0; j < sbs; ++j) L[j] = bestLevel(f32(id * x[j]!));
    }
  }

  for (let i = 0; i < sbs / 32; ++i) {
    for (let j = 0; j < 16; ++j) dst[qsOff + 16 * i + j] = L[32 * i + j]! | (L[32 * i + 16 + j]! << 4);
  }
}

function quantizeIq4Nl(src: Float32Array, dst: Uint8Array, qw: Float32Array | null, ntry: number): void {
  const nb = blockCount('iq4_nl', src.length, dst.length, QK4_NL, IQ4_NL_BYTES);
  const L = new Uint8Array(QK4_NL);
  for (let i = 0; i < nb; i++) {
    const o = i * QK4_NL;
    quantizeSuperBlock(QK4_NL, src.subarray(o, o + QK4_NL), qw ? qw.subarray(o, o + QK4_NL) : null, ntry, L,
      dst, i * IQ4_NL_BYTES, i * IQ4_NL_BYTES + 2);
  }
}

function quantizeIq4Xs(src: Float32Array, dst: Uint8Array, qw: Float32Array | null): void {
  const nb = blockCount('iq4_xs', src.length, dst.length, QK_K, IQ4_XS_BYTES);
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const o = i * QK_K;
    quantizeSuperBlock(QK_K, src.subarray(o, o + QK_K), qw ? qw.subarray(o, o + QK_K) : null, 7, L,
      dst, i * IQ4_XS_BYTES, i * IQ4_XS_BYTES + 8);
  }
}

/** quantize_row_iq4_nl_ref (ggml's from_float_ref for iq4_nl): the block's signed max over -127, no search. */
export function quantizeIq4NlNoSearch(src: Float32Array, dst: Uint8Array): void {
  quantizeIq4Nl(src, dst, null, -1);
}

function dequantizeIq4Nl(src: Uint8Array, dst: Float32Array): void {
  const nb = blockCount('iq4_nl', dst.length, src.length, QK4_NL, IQ4_NL_BYTES);
  for (let i = 0; i < nb; i++) {
    const b = i * IQ4_NL_BYTES;
    const d = readF16(src, b);
    const y = i * QK4_NL;
    for (let j = 0; j < 16; j++) {
      const q = src[b + 2 + j]!;
      dst[y + j] = f32(d * IQ4_LEVELS[q & 0xf]!);
      dst[y + j + 16] = f32(d * IQ4_LEVELS[q >> 4]!);
    }
  }
}

function dequantizeIq4Xs(src: Uint8Array, dst: Float32Array): void {
  const nb = blockCount('iq4_xs', dst.length, src.length, QK_K, IQ4_XS_BYTES);
  for (let i = 0; i < nb; i++) {
    const b = i * IQ4_XS_BYTES;
    const d = readF16(src, b);
    const scalesH = src[b + 2]! | (src[b + 3]! << 8);
    for (let ib = 0; ib < QK_K / 32; ib++) {
      const ls = ((src[b + 4 + (ib >> 1)]! >> (4 * (ib % 2))) & 0xf) | (((scalesH >> (2 * ib)) & 3) << 4);
      const dl = f32(d * (ls - 32));
      const y = i * QK_K + ib * 32;
      const qs = b + 8 + ib * 16;
      for (let j = 0; j < 16; j++) {
        const q = src[qs + j]!;
        dst[y + j] = f32(dl * IQ4_LEVELS[q & 0xf]!);
        dst[y + j + 16] = f32(dl * IQ4_LEVELS[q >> 4]!);
      }
    }
  }
}

export const IQ4_CODECS: Partial<Record<GGMLType, BlockCodec>> = {
  [GGMLType.IQ4_NL]: { quantize: (s, d) => quantizeIq4Nl(s, d, null, 7), dequantize: dequantizeIq4Nl },
  [GGMLType.IQ4_XS]: { quantize: (s, d) => quantizeIq4Xs(s, d, null), dequantize: dequantizeIq4Xs },
};

/** The same quantizers with an importance weight per element (quantize_iq4_nl / quantize_iq4_xs with quant_weights). */
export const IQ4_WEIGHTED = {
  quantizeIq4Nl: (src: Float32Array, dst: Uint8Array, qw: Float32Array) => quantizeIq4Nl(src, dst, qw, 7),
  quantizeIq4Xs: (src: Float32Array, dst: Uint8Array, qw: Float32Array) => quantizeIq4Xs(src, dst, qw),
} as const;
