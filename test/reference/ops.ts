// Scalar references for the non-matmul ops (kernels/ops-*.c): the executable
// spec the kernels are tested against. Plain loops over numbers, following
// ggml's CPU backend (ggml-cpu/ops.cpp, vec.h) and llama.cpp's graph
// (build_attn_mha): Math.fround wherever ggml computes in float, plain
// doubles where ggml accumulates in ggml_float (double). Transcendentals
// (exp, tanh, sin, cos, log, pow) are double-precision results rounded to
// float: what a correctly rounded libm gives, within an ulp of glibc's.

import { GGMLType } from '../../formats/ggml-types.js';
import { referenceVecDot } from '../../formats/quant/dot.js';
import { quantizeRow } from '../../formats/quant/index.js';

const f = Math.fround;

// ---------------------------------------------------------------------------
// f16 (IEEE half) conversions, round to nearest even

const cvtBuf = new DataView(new ArrayBuffer(4));

export function f32Bits(x: number): number {
  cvtBuf.setFloat32(0, x, true);
  return cvtBuf.getUint32(0, true);
}

export function bitsF32(u: number): number {
  cvtBuf.setUint32(0, u >>> 0, true);
  return cvtBuf.getFloat32(0, true);
}

/** float -> f16 bits, round to nearest even; beyond 65520 -> inf; nan -> quiet nan. */
export function f32ToF16Bits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(f(x));
  if (Number.isNaN(a)) return 0x7e00;
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // subnormal: integer multiple of 2^-24, ties to even
    const m = a * 2 ** 24;
    let r = Math.floor(m);
    const frac = m - r;
    if (frac > 0.5 || (frac === 0.5 && (r & 1) === 1)) r++;
    return sign | r; // r = 1024 is the smallest normal, 0x0400: still right
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 rounding near powers of two
  if (2 ** (e + 1) <= a) e++;
  const m = a / 2 ** e - 1; // [0, 1), exact: a has 24 bits
  const scaled = m * 1024;
  let mr = Math.floor(scaled);
  const frac = scaled - mr;
  if (frac > 0.5 || (frac === 0.5 && (mr & 1) === 1)) mr++;
  if (mr === 1024) {
    mr = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | mr;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** The f16 value nearest to x (ties to even), as a number. */
export function f16Round(x: number): number {
  return f16BitsToF32(f32ToF16Bits(x));
}

// ---------------------------------------------------------------------------
// norms

/** ggml rms_norm (+ optional weight): squares in float, summed in double, mean rounded to float. */
export function rmsNorm(x: Float32Array, nRows: number, n: number, eps: number, w?: Float32Array): Float32Array {
  const y = new Float32Array(nRows * n);
  for (let r = 0; r < nRows; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += f(x[r * n + i]! * x[r * n + i]!);
    const mean = f(sum / n);
    const scale = f(1 / f(Math.sqrt(f(mean + f(eps)))));
    for (let i = 0; i < n; i++) {
      let v = f(x[r * n + i]! * scale);
      if (w) v = f(v * w[i]!);
      y[r * n + i] = v;
    }
  }
  return y;
}

/** ggml norm (LayerNorm) then optional mul by w and add of b. */
export function norm(
  x: Float32Array, nRows: number, n: number, eps: number, w?: Float32Array, b?: Float32Array,
): Float32Array {
  const y = new Float32Array(nRows * n);
  for (let r = 0; r < nRows; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += x[r * n + i]!;
    const mean = f(f(sum) / n);
    let sum2 = 0;
    const c = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      c[i] = f(x[r * n + i]! - mean);
      sum2 += f(c[i]! * c[i]!);
    }
    const variance = f(sum2 / n);
    const scale = f(1 / f(Math.sqrt(f(variance + f(eps)))));
    for (let i = 0; i < n; i++) {
      let v = f(c[i]! * scale);
      if (w) v = f(v * w[i]!);
      if (b) v = f(v + b[i]!);
      y[r * n + i] = v;
    }
  }
  return y;
}

// ---------------------------------------------------------------------------
// rope

export const ROPE_NORM = 0;
export const ROPE_NEOX = 2;

export interface RopeParams {
  nRot: number;
  mode: number; // ROPE_NORM or ROPE_NEOX
  nCtxOrig: number;
  freqBase: number;
  freqScale: number;
  extFactor: number;
  attnFactor: number;
  betaFast: number;
  betaSlow: number;
  freqFactors?: Float32Array; // nRot/2 divisors of theta
}

function ropeYarnCorrDim(nDims: number, nCtxOrig: number, nRot: number, base: number): number {
  const piF = f(Math.PI);
  return f(f(nDims * f(Math.log(f(nCtxOrig / f(f(nRot * 2) * piF))))) / f(2 * f(Math.log(f(base)))));
}

/** ggml_rope_yarn_corr_dims: the dims where YaRN's ramp starts and ends. */
export function ropeYarnCorrDims(nDims: number, nCtxOrig: number, freqBase: number, betaFast: number, betaSlow: number): [number, number] {
  const start = Math.floor(ropeYarnCorrDim(nDims, nCtxOrig, betaFast, freqBase));
  const end = Math.ceil(ropeYarnCorrDim(nDims, nCtxOrig, betaSlow, freqBase));
  return [Math.max(0, start), Math.min(nDims - 1, end)];
}

/** cos/sin (times magnitude scale) of each of the nRot/2 pair angles at position pos. */
export function ropeCache(pos: number, p: RopeParams): Float32Array {
  const thetaScale = f(Math.pow(f(p.freqBase), f(-2 / p.nRot)));
  const corr = ropeYarnCorrDims(p.nRot, p.nCtxOrig, p.freqBase, p.betaFast, p.betaSlow);
  const cache = new Float32Array(p.nRot);
  let theta = f(pos);
  for (let i0 = 0; i0 < p.nRot; i0 += 2) {
    const ff = p.freqFactors ? p.freqFactors[i0 / 2]! : 1;
    const thetaExtrap = f(theta / ff);
    const thetaInterp = f(f(p.freqScale) * thetaExtrap);
    let th = thetaInterp;
    let mscale = f(p.attnFactor);
    if (p.extFactor !== 0) {
      const y = f(f(f(Math.floor(i0 / 2)) - corr[0]) / Math.max(f(0.001), f(corr[1] - corr[0])));
      const ramp = f(1 - Math.min(1, Math.max(0, y)));
      const rampMix = f(ramp * f(p.extFactor));
      th = f(f(thetaInterp * f(1 - rampMix)) + f(thetaExtrap * rampMix));
      mscale = f(mscale * f(1 + f(f(0.1) * f(Math.log(f(1 / f(p.freqScale)))))));
    }
    cache[i0] = f(f(Math.cos(th)) * mscale);
    cache[i0 + 1] = f(f(Math.sin(th)) * mscale);
    theta = f(theta * thetaScale);
  }
  return cache;
}

/** rope on x [nTokens][nHead][headDim] (contiguous); dims from nRot on are copied. */
export function rope(x: Float32Array, pos: Int32Array, nTokens: number, nHead: number, headDim: number, p: RopeParams): Float32Array {
  const y = new Float32Array(x);
  const half = p.nRot / 2;
  for (let t = 0; t < nTokens; t++) {
    const c = ropeCache(pos[t]!, p);
    for (let h = 0; h < nHead; h++) {
      const o = (t * nHead + h) * headDim;
      for (let i = 0; i < half; i++) {
        const [a, b] = p.mode === ROPE_NEOX ? [o + i, o + i + half] : [o + 2 * i, o + 2 * i + 1];
        const x0 = x[a]!, x1 = x[b]!;
        const cos = c[2 * i]!, sin = c[2 * i + 1]!;
        y[a] = f(f(x0 * cos) - f(x1 * sin));
        y[b] = f(f(x0 * sin) + f(x1 * cos));
      }
    }
  }
  return y;
}

// ---------------------------------------------------------------------------
// softmax and attention

/** ggml soft_max_ext: softmax(x*scale + mask row r % nMaskRows); sum in double. */
export function softMax(
  x: Float32Array, nRows: number, n: number, scale: number, mask?: Float32Array, nMaskRows = 1,
): Float32Array {
  const y = new Float32Array(nRows * n);
  const w = new Float64Array(n);
  for (let r = 0; r < nRows; r++) {
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      let v = f(x[r * n + i]! * f(scale));
      if (mask) v = f(v + mask[(r % nMaskRows) * n + i]!);
      w[i] = v;
      max = Math.max(max, v);
    }
    if (max === -Infinity) continue; // fully masked row: zeros (ggml would assert)
    let sum = 0;
    for (let i = 0; i < n; i++) {
      w[i] = f(Math.exp(f(w[i]! - max)));
      sum += w[i]!;
    }
    const inv = f(1 / sum);
    for (let i = 0; i < n; i++) y[r * n + i] = f(w[i]! * inv);
  }
  return y;
}

export interface AttentionParams {
  nTokens: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nKv: number; // cells 0..nKv-1 hold positions 0..nKv-1
  nCtx: number; // cache capacity (cells per kv head)
  kqScale: number;
  softcap: number; // 0: none
  nSwa: number; // 0: no sliding window
  chunked?: boolean; // nSwa is llama 4's chunk size: cells from pos rounded down to a multiple of nSwa
  /** Round q and the probabilities to f16 as llama.cpp does; false only for negative controls. */
  roundF16?: boolean;
  /** One sink logit per query head (gpt-oss), joining each softmax's max and denominator. */
  sinks?: Float32Array;
  /**
   * The K cache as q8_0 blocks (llama.cpp's --cache-type-k q8_0), in place of
   * the f16 K: each q row is quantized to q8_0 and a score is the exact dot of
   * the two dequantized rows.
   */
  kQ8?: Uint8Array;
  /** The V cache as q8_0 blocks in place of the f16 V: each V value is d * q, as ggml dequantizes. */
  vQ8?: Uint8Array;
  /**
   * Tiles of this many cells from each row's first visible cell, as the
   * kernel streams them: each tile is the non-flash computation on its own
   * (max, exp, sum, f16 probabilities relative to the tile's sum), the sink
   * joins the first, and tiles merge as partial softmaxes (weights
   * l_t e^(m_t - M) / L). Absent: the whole row is one tile.
   */
  tile?: number;
}

/**
 * llama.cpp's non-flash attention over f16 K/V caches laid out [nHeadKv][nCtx][headDim].
 * q: [nTokens][nHead][headDim]; pos null = non-causal. Returns [nTokens][nHead][headDim].
 * Dot products and the output sums are exact (double) over the f16-rounded operands.
 */
export function attention(q: Float32Array, k: Uint16Array, v: Uint16Array, pos: Int32Array | null, p: AttentionParams): Float32Array {
  const { nTokens, nHead, nHeadKv, headDim: hd, nKv, nCtx } = p;
  const round = p.roundF16 ?? true;
  const rnd = round ? f16Round : (x: number) => x;
  const nRep = nHead / nHeadKv;
  const out = new Float32Array(nTokens * nHead * hd);
  const rowBytes = (hd / 32) * 34;
  const vAt = p.vQ8
    ? (row: number, d: number) => {
      const b = row * rowBytes + Math.floor(d / 32) * 34;
      const scale = f16BitsToF32(p.vQ8![b]! | (p.vQ8![b + 1]! << 8));
      return f(scale * ((p.vQ8![b + 2 + (d % 32)]! << 24) >> 24));
    }
    : (row: number, d: number) => f16BitsToF32(v[row * hd + d]!);
  for (let t = 0; t < nTokens; t++) {
    for (let h = 0; h < nHead; h++) {
      const g = Math.floor(h / nRep);
      const qh = q.subarray((t * nHead + h) * hd, (t * nHead + h + 1) * hd);
      let lo = 0, hi = nKv - 1;
      if (pos) {
        hi = Math.min(hi, pos[t]!);
        if (p.nSwa > 0) lo = Math.max(lo, p.chunked ? Math.floor(pos[t]! / p.nSwa) * p.nSwa : pos[t]! - p.nSwa + 1);
      }
      if (hi < lo) continue;
      const q8 = p.kQ8 && quantizeRow(GGMLType.Q8_0, qh);
      // one tile [a, b]: its max, sum and output (probabilities relative to its own sum)
      const tileOut = (a: number, b: number, sink: number | undefined) => {
        const s = new Float64Array(b - a + 1);
        let max = -Infinity;
        for (let j = a; j <= b; j++) {
          let dot = 0;
          if (p.kQ8) dot = referenceVecDot(GGMLType.Q8_0, p.kQ8.subarray((g * nCtx + j) * rowBytes, (g * nCtx + j + 1) * rowBytes), GGMLType.Q8_0, q8!, hd);
          else for (let d = 0; d < hd; d++) dot += rnd(qh[d]!) * f16BitsToF32(k[(g * nCtx + j) * hd + d]!);
          let sc = f(dot);
          if (p.softcap !== 0) sc = f(f(Math.tanh(f(sc * f(1 / p.softcap)))) * f(p.softcap));
          sc = f(sc * f(p.kqScale));
          s[j - a] = sc;
          max = Math.max(max, sc);
        }
        if (sink !== undefined) max = Math.max(max, sink);
        let sum = 0;
        for (let j = 0; j < s.length; j++) {
          s[j] = f(Math.exp(f(s[j]! - max)));
          sum += s[j]!;
        }
        if (sink !== undefined) sum += f(Math.exp(f(sink - max)));
        const inv = f(1 / sum);
        for (let j = 0; j < s.length; j++) s[j] = rnd(f(s[j]! * inv));
        const o = new Float64Array(hd);
        for (let d = 0; d < hd; d++) {
          let acc = 0;
          for (let j = a; j <= b; j++) acc += s[j - a]! * vAt(g * nCtx + j, d);
          o[d] = acc;
        }
        return { max, sum, o };
      };
      const tile = p.tile ?? hi - lo + 1;
      let run = tileOut(lo, Math.min(hi, lo + tile - 1), p.sinks?.[h]);
      for (let a = lo + tile; a <= hi; a += tile) {
        const next = tileOut(a, Math.min(hi, a + tile - 1), undefined);
        const m = Math.max(run.max, next.max);
        const wa = run.sum * Math.exp(run.max - m), wb = next.sum * Math.exp(next.max - m);
        run = { max: m, sum: wa + wb, o: run.o.map((x, d) => (x * wa + next.o[d]! * wb) / (wa + wb)) };
      }
      out.set(Array.from(run.o, f), (t * nHead + h) * hd);
    }
  }
  return out;
}

/** The KV store: rows of src [nTokens][nHeadKv][headDim] to cache cells pos[t] of each kv head. */
export function kvStore(src: Float32Array, cache: Uint16Array, pos: Int32Array, nTokens: number, nHeadKv: number, headDim: number, nCtx: number): void {
  for (let t = 0; t < nTokens; t++)
    for (let g = 0; g < nHeadKv; g++)
      for (let d = 0; d < headDim; d++)
        cache[(g * nCtx + pos[t]!) * headDim + d] = f32ToF16Bits(src[(t * nHeadKv + g) * headDim + d]!);
}

// ---------------------------------------------------------------------------
// element-wise

/** x / (1 + e^-x), ggml's silu. */
export function silu(x: number): number {
  return f(x / f(1 + f(Math.exp(-x))));
}

/** ggml_gelu_f32: the tanh approximation, in float. */
export function geluTanh(x: number): number {
  const GELU_COEF_A = f(0.044715);
  const SQRT_2_OVER_PI = f(0.79788456080286535587989211986876);
  const inner = f(f(SQRT_2_OVER_PI * x) * f(1 + f(f(GELU_COEF_A * x) * x)));
  return f(f(f(0.5) * x) * f(1 + f(Math.tanh(inner))));
}

/** GELU as ggml's CPU backend gives it for f32: clamps at +-10, else the f16 table. */
export function gelu(x: number): number {
  if (x <= -10) return 0;
  if (x >= 10) return f(x);
  return f16Round(geluTanh(f16Round(x)));
}

export function swiglu(g: number, u: number): number {
  return f(silu(g) * u);
}

export function geglu(g: number, u: number): number {
  return g <= -10 ? 0 : f(gelu(g) * u);
}

/** cap * tanh(x / cap) as llama.cpp builds it: scale by (float)(1/cap), tanh, scale by cap. */
export function softcap(x: number, cap: number): number {
  return f(f(Math.tanh(f(x * f(1 / cap)))) * f(cap));
}

export function mapRows(a: Float32Array, b: Float32Array, nRows: number, n: number, nBRows: number, op: (x: number, y: number) => number): Float32Array {
  const y = new Float32Array(nRows * n);
  for (let r = 0; r < nRows; r++) for (let i = 0; i < n; i++) y[r * n + i] = f(op(a[r * n + i]!, b[(r % nBRows) * n + i]!));
  return y;
}

/** ggml_swiglu_oai: min(g, limit) * sigmoid(alpha * min(g, limit)) * (clamp(u, -limit, limit) + 1), in f32 steps. */
export function swigluOai(g: number, u: number, alpha: number, limit: number): number {
  const x = Math.min(g, limit);
  const uc = Math.min(Math.max(u, -limit), limit);
  const glu = f(x / f(1 + f(Math.exp(f(f(alpha) * -x)))));
  return f(glu * f(uc + 1));
}
