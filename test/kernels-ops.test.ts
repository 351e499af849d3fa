// The non-matmul kernels (kernels/ops-*.c) against their scalar references
// (test/reference/ops.ts): each op on random data and several shapes, within
// a stated bound, and bit-identical whatever the thread split (every op is
// run with nth = 1, 2, 3, calling ith = 0..nth-1 in turn on one thread).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadKernels, type Kernels, type Ptr } from '../wasm/loader.js';
import { gaussian, mulberry32 } from './helpers/rng.js';
import * as ref from './reference/ops.js';
import { GGMLType } from '../formats/ggml-types.js';
import { quantizeRow } from '../formats/quant/index.js';

type Fn = (...args: number[]) => number;

let K: Kernels;
const live: Ptr[] = [];

test.before(async () => {
  K = await loadKernels();
});

test.after(() => {
  for (const p of live.splice(0)) K.free(p);
});

function fn(name: string): Fn {
  const f = K.lookup<Fn>(name);
  if (!f) throw new Error(`wasm/kernels.wasm has no export ${name}; rebuild it with npm run build:wasm`);
  return f;
}

/** 16-byte aligned allocation, freed after the suite. */
function alloc(bytes: number): Ptr {
  const p = K.malloc(bytes + 16);
  live.push(p);
  return (p + 15) & ~15;
}

function put(data: Float32Array | Int32Array | Uint16Array): Ptr {
  const p = alloc(Math.max(data.byteLength, 4));
  K.write(p, data);
  return p;
}

const getF32 = (p: Ptr, n: number) => new Float32Array(K.floats(p, n));
const getU16 = (p: Ptr, n: number) => new Uint16Array(K.u8().buffer.slice(p, p + 2 * n));

/**
 * Runs call(ith, nth) for ith = 0..nth-1 with nth = 1, 2, 3 into an output
 * prefilled with a nan pattern each time; asserts the three results are the
 * same bytes (so no row is skipped or computed differently by another split)
 * and returns the output bytes.
 */
function runSplits(what: string, out: Ptr, outBytes: number, call: (ith: number, nth: number) => void, before?: () => void): Uint8Array {
  let first: Uint8Array | null = null;
  for (const nth of [1, 2, 3]) {
    K.u8().fill(0xff, out, out + outBytes);
    before?.();
    for (let ith = 0; ith < nth; ith++) call(ith, nth);
    const got = K.u8().slice(out, out + outBytes);
    if (!first) first = got;
    else if (Buffer.compare(first, got) !== 0) assert.unreachable(`${what}: nth = ${nth} differs from nth = 1`);
  }
  return first!;
}

const asF32 = (b: Uint8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);

/** Distance in units in the last place between two floats (0 when equal, both zero or both nan). */
function ulps(a: number, b: number): number {
  if (Object.is(a, b) || a === b || (Number.isNaN(a) && Number.isNaN(b))) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  const ia = ref.f32Bits(a), ib = ref.f32Bits(b);
  const oa = ia & 0x80000000 ? -(ia & 0x7fffffff) : ia;
  const ob = ib & 0x80000000 ? -(ib & 0x7fffffff) : ib;
  return Math.abs(oa - ob);
}

function maxUlps(got: Float32Array, want: Float32Array): { max: number; at: number } {
  let max = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const u = ulps(got[i]!, want[i]!);
    if (u > max) (max = u), (at = i);
  }
  return { max, at };
}

function assertUlps(got: Float32Array, want: Float32Array, bound: number, what: string): void {
  assert.is(got.length, want.length);
  const { max, at } = maxUlps(got, want);
  if (max > bound) assert.unreachable(`${what}: ${max} ulps at ${at} (got ${got[at]}, want ${want[at]}), bound ${bound}`);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

// ---------------------------------------------------------------------------
// exp and tanh, seen through silu and softcap(cap = 1)

test('silu over [-88, 88] within 3 ulps of x / (1 + expf(-x))', () => {
  const n = 20001;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = -88 + (176 * i) / (n - 1);
  const px = put(x), py = alloc(4 * n);
  fn('silu_f32')(px, py, n, 0, 1);
  const want = x.map(ref.silu);
  const { max } = maxUlps(getF32(py, n), want);
  // the kernel's SIMD exp error shows through silu unattenuated for x < 0
  console.log(`  silu (SIMD exp) max error: ${max} ulp`);
  assertUlps(getF32(py, n), want, 3, 'silu');
  // the ends: silu(very negative) = -0 as in ggml, silu(large) = x
  const ends = new Float32Array([-1000, -100, 1000, 0]);
  const pe = put(ends), pye = alloc(16);
  fn('silu_f32')(pe, pye, 4, 0, 1);
  const ge = getF32(pye, 4);
  assert.ok(Object.is(ge[0], -0) && Object.is(ge[1], -0), 'silu(-1000) = silu(-100) = -0');
  assert.is(ge[2], 1000);
  assert.is(ge[3], 0);
});

test('tanh (softcap with cap 1) within 2 ulps, tiny and huge arguments included', () => {
  const xs: number[] = [];
  for (let i = -3000; i <= 3000; i++) xs.push(i / 250);
  for (let e = -40; e <= -2; e++) xs.push(2 ** e, -(3 * 2 ** e));
  xs.push(0, 20, -50, 1e6);
  const x = new Float32Array(xs);
  const px = put(x), py = alloc(4 * x.length);
  fn('softcap_f32')(px, py, x.length, 1, 0, 1);
  const want = x.map((v) => ref.softcap(v, 1));
  const { max } = maxUlps(getF32(py, x.length), want);
  console.log(`  tanh (SIMD) max error: ${max} ulp`);
  assertUlps(getF32(py, x.length), want, 2, 'tanh');
});

// ---------------------------------------------------------------------------
// norms

test('rms_norm_f32: float squares summed in double, optional weight', () => {
  const rand = mulberry32(1);
  for (const [nRows, n] of [[1, 64], [3, 67], [5, 1000], [2, 4096]] as const) {
    for (const withW of [false, true]) {
      const x = gaussian(rand, nRows * n, 3);
      const w = gaussian(rand, n);
      const eps = 1e-6;
      const px = put(x), pw = withW ? put(w) : 0, py = alloc(4 * nRows * n);
      const got = asF32(runSplits('rms_norm', py, 4 * nRows * n, (ith, nth) => fn('rms_norm_f32')(px, py, pw, nRows, n, eps, ith, nth)));
      assertUlps(got, ref.rmsNorm(x, nRows, n, eps, withW ? w : undefined), 1, `rms_norm ${nRows}x${n} w=${withW}`);
    }
  }
  // in place, and a huge eps that dominates (a wrong eps placement shows)
  const x = gaussian(mulberry32(2), 3 * 8);
  const px = put(x);
  fn('rms_norm_f32')(px, px, 0, 3, 8, 1e4, 0, 1);
  assertUlps(getF32(px, 24), ref.rmsNorm(x, 3, 8, 1e4), 1, 'rms_norm in place');
});

test('norm_f32 (LayerNorm) with and without weight and bias', () => {
  const rand = mulberry32(3);
  for (const [nRows, n] of [[1, 64], [4, 33], [3, 768]] as const) {
    for (const [withW, withB] of [[false, false], [true, false], [true, true]] as const) {
      // an offset mean makes the centring matter
      const x = gaussian(rand, nRows * n, 2).map((v) => v + 5);
      const w = gaussian(rand, n), b = gaussian(rand, n);
      const eps = 1e-5;
      const px = put(x), pw = withW ? put(w) : 0, pb = withB ? put(b) : 0, py = alloc(4 * nRows * n);
      const got = asF32(runSplits('norm', py, 4 * nRows * n, (ith, nth) => fn('norm_f32')(px, py, pw, pb, nRows, n, eps, ith, nth)));
      const want = ref.norm(x, nRows, n, eps, withW ? w : undefined, withB ? b : undefined);
      assertUlps(got, want, 1, `norm ${nRows}x${n} w=${withW} b=${withB}`);
    }
  }
});

// ---------------------------------------------------------------------------
// rope

interface RopeCase extends ref.RopeParams { nTokens: number; nHead: number; headDim: number }

function runRope(c: RopeCase, x: Float32Array, pos: Int32Array): Float32Array {
  const n = c.nTokens * c.nHead * c.headDim;
  const px = put(x), ppos = put(pos), py = alloc(4 * n);
  const pff = c.freqFactors ? put(c.freqFactors) : 0;
  const stride = c.nHead * c.headDim;
  return asF32(runSplits(`rope ${JSON.stringify({ ...c, freqFactors: !!c.freqFactors })}`, py, 4 * n, (ith, nth) =>
    fn('rope_f32')(px, py, ppos, pff, c.nTokens, c.nHead, c.headDim, stride, stride, c.nRot, c.mode, c.nCtxOrig,
      c.freqBase, c.freqScale, c.extFactor, c.attnFactor, c.betaFast, c.betaSlow, ith, nth)));
}

test('rope_f32: norm and neox, partial, YaRN, freq_factors, positions up to 1e5', () => {
  const rand = mulberry32(4);
  const cases: RopeCase[] = [];
  for (const mode of [ref.ROPE_NORM, ref.ROPE_NEOX])
    for (const [headDim, nRot] of [[64, 64], [80, 32], [128, 128]] as const)
      for (const yarn of [false, true])
        for (const ff of [false, true]) {
          const freqFactors = ff ? new Float32Array(nRot / 2).map(() => 1 + 7 * rand()) : undefined;
          cases.push({
            nTokens: 5, nHead: 3, headDim, nRot, mode, nCtxOrig: 4096,
            // without YaRN, linear scaling (freq_scale 0.5) when freq_factors are on too
            freqBase: yarn ? 1e6 : 10000, freqScale: yarn ? 0.25 : ff ? 0.5 : 1,
            extFactor: yarn ? 1 : 0, attnFactor: yarn ? 0.9 : 1, betaFast: 32, betaSlow: 1, freqFactors,
          });
        }
  // YaRN (cases[2]: 64 of 64 dims) with the correction dims clamped at 0 and
  // n_rot - 1 (unclamped: -13 and 84; the ramp runs over pair indices 0..31)
  const clampBoth: RopeCase = { ...cases[2]!, nCtxOrig: 1e6, freqBase: 100, betaFast: 1e6 };
  const clampLow: RopeCase = { ...cases[2]!, nCtxOrig: 64 };
  assert.equal(ref.ropeYarnCorrDims(64, 1e6, 100, 1e6, 1), [0, 63]);
  assert.equal(ref.ropeYarnCorrDims(64, 64, 10000, 32, 1), [0, 9]);
  cases.push(clampBoth, clampLow);
  for (const c of cases) {
    const x = gaussian(rand, c.nTokens * c.nHead * c.headDim);
    const pos = new Int32Array([0, 1, 17, 4095, 100000].slice(0, c.nTokens));
    const got = runRope(c, x, pos);
    const want = ref.rope(x, pos, c.nTokens, c.nHead, c.headDim, c);
    // cos/sin from musl vs a correctly rounded reference differ by at most an
    // ulp; through x0*cos - x1*sin that is at most ~2^-23 (|x0| + |x1|)
    const bound = 2 ** -21 * maxAbs(x);
    for (let i = 0; i < want.length; i++) {
      if (!(Math.abs(got[i]! - want[i]!) <= bound))
        assert.unreachable(`rope mode ${c.mode} nRot ${c.nRot}/${c.headDim} yarn ${c.extFactor} ff ${!!c.freqFactors}: element ${i} got ${got[i]} want ${want[i]}`);
    }
    // dims past n_rot are copied bit for bit; position 0 is the identity (no YaRN mscale)
    for (let r = 0; r < c.nTokens * c.nHead; r++)
      for (let d = c.nRot; d < c.headDim; d++) assert.ok(Object.is(got[r * c.headDim + d], x[r * c.headDim + d]));
    if (c.extFactor === 0)
      for (let i = 0; i < c.nHead * c.headDim; i++) assert.is(got[i], x[i]);
  }
});

test('rope_f32: YaRN ramp dims as ggml_rope_yarn_corr_dims, in place with token strides', () => {
  // llama.cpp's defaults for a 4096-context model stretched by 4
  assert.equal(ref.ropeYarnCorrDims(128, 4096, 10000, 32, 1), [20, 46]);
  const c: RopeCase = {
    nTokens: 3, nHead: 2, headDim: 16, nRot: 16, mode: ref.ROPE_NEOX, nCtxOrig: 4096,
    freqBase: 10000, freqScale: 1, extFactor: 0, attnFactor: 1, betaFast: 32, betaSlow: 1,
  };
  // rows of 3 heads of which the first 2 are roped (a q view of a fused qkv)
  const rand = mulberry32(5);
  const stride = 3 * 16;
  const buf = gaussian(rand, c.nTokens * stride);
  const pos = new Int32Array([3, 9, 27]);
  const p = put(buf), ppos = put(pos);
  fn('rope_f32')(p, p, ppos, 0, c.nTokens, c.nHead, c.headDim, stride, stride, c.nRot, c.mode, c.nCtxOrig,
    c.freqBase, c.freqScale, c.extFactor, c.attnFactor, c.betaFast, c.betaSlow, 0, 1);
  const got = getF32(p, buf.length);
  const dense = new Float32Array(c.nTokens * 32);
  for (let t = 0; t < c.nTokens; t++) dense.set(buf.subarray(t * stride, t * stride + 32), t * 32);
  const want = ref.rope(dense, pos, c.nTokens, c.nHead, c.headDim, c);
  for (let t = 0; t < c.nTokens; t++) {
    for (let i = 0; i < 32; i++) assert.ok(Math.abs(got[t * stride + i]! - want[t * 32 + i]!) < 1e-5);
    for (let i = 32; i < 48; i++) assert.is(got[t * stride + i], buf[t * stride + i]); // third head untouched
  }
});

// ---------------------------------------------------------------------------
// softmax

test('soft_max_f32: scale, f32 / f16 broadcast masks, fully masked rows', () => {
  const rand = mulberry32(6);
  for (const [nRows, n, nMaskRows] of [[4, 37, 2], [6, 256, 3], [3, 5, 1]] as const) {
    for (const maskKind of ['none', 'f32', 'f16'] as const) {
      const x = gaussian(rand, nRows * n, 4);
      const mask = new Float32Array(nMaskRows * n).map(() => (rand() < 0.3 ? -Infinity : 0));
      mask[0] = 0; // row 0 keeps at least one entry
      const scale = 0.125;
      const px = put(x), py = alloc(4 * nRows * n);
      const pm = maskKind === 'f32' ? put(mask) : maskKind === 'f16' ? put(new Uint16Array(mask.map(ref.f32ToF16Bits))) : 0;
      const got = asF32(runSplits('soft_max', py, 4 * nRows * n, (ith, nth) =>
        fn('soft_max_f32')(px, py, pm, maskKind === 'f16' ? 1 : 0, nMaskRows, nRows, n, scale, ith, nth)));
      const want = ref.softMax(x, nRows, n, scale, maskKind === 'none' ? undefined : mask, nMaskRows);
      // exp within 2-3 ulps, then one product: 6 ulps; the masked entries exactly 0
      assertUlps(got, want, 6, `soft_max ${nRows}x${n} mask ${maskKind}`);
      for (let r = 0; r < nRows; r++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += got[r * n + i]!;
        const fullyMasked = maskKind !== 'none' && mask.subarray((r % nMaskRows) * n, (r % nMaskRows + 1) * n).every((m) => m === -Infinity);
        assert.ok(fullyMasked ? s === 0 : Math.abs(s - 1) < 1e-5, `row ${r} sums to ${s}`);
      }
    }
  }
  const allMasked = new Float32Array(8).fill(-Infinity);
  const px = put(new Float32Array(8).fill(1)), pm = put(allMasked), py = alloc(32);
  fn('soft_max_f32')(px, py, pm, 0, 1, 1, 8, 1, 0, 1);
  assert.equal(Array.from(getF32(py, 8)), new Array(8).fill(0), 'a fully masked row gives zeros');
});

// ---------------------------------------------------------------------------
// KV store and attention

test('kv_store_f16: rows to cache cells at their positions, RNE like ggml', () => {
  const nTokens = 3, nHeadKv = 2, headDim = 12, nCtx = 10;
  const rand = mulberry32(7);
  const src = gaussian(rand, nTokens * nHeadKv * headDim, 2);
  // the rounding edge cases: overflow, halfway, f16 subnormals, f32 subnormal, -0
  src.set([65504, 65519.99, 65520, -1e9, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -20, 3 * 2 ** -25, 1e-40, -0, 2 ** -14 - 2 ** -26, 2 ** -24 * 0.5]);
  const pos = new Int32Array([7, 2, 5]);
  const ps = put(src), ppos = put(pos), pc = alloc(2 * nHeadKv * nCtx * headDim);
  const pkv = put(new Int32Array(2 * nTokens).map((_, i) => (i % 2 ? nCtx : 0))); // all in sequence 0
  const bytes = 2 * nHeadKv * nCtx * headDim;
  const got = runSplits('kv_store', pc, bytes, (ith, nth) => fn('kv_store_f16')(ps, pc, ppos, pkv, nTokens, nHeadKv, headDim, nHeadKv * headDim, nCtx, ith, nth));
  const want = new Uint16Array(nHeadKv * nCtx * headDim).fill(0xffff);
  ref.kvStore(src, want, pos, nTokens, nHeadKv, headDim, nCtx);
  assert.equal(Array.from(new Uint16Array(got.buffer, got.byteOffset, got.byteLength / 2)), Array.from(want));
  assert.is(want[7 * headDim + 0], 0x7bff);
  assert.is(want[7 * headDim + 2], 0x7c00);
});

interface AttnCase extends ref.AttentionParams { pos0: number; causal: boolean }

function attnInputs(c: AttnCase, seed: number) {
  const rand = mulberry32(seed);
  const q = gaussian(rand, c.nTokens * c.nHead * c.headDim);
  const kf = gaussian(rand, c.nHeadKv * c.nCtx * c.headDim);
  const vf = gaussian(rand, c.nHeadKv * c.nCtx * c.headDim);
  const k = new Uint16Array(kf.map(ref.f32ToF16Bits));
  const v = new Uint16Array(vf.map(ref.f32ToF16Bits));
  const pos = new Int32Array(c.nTokens).map((_, t) => c.pos0 + t);
  return { q, k, v, pos };
}

/** q8_0 rows (blocks of 32) of f16 cache values, as kv_store_q8_0 would have stored them. */
function q8Cache(c: AttnCase, x: Uint16Array): Uint8Array {
  const rowBytes = (c.headDim / 32) * 34;
  const out = new Uint8Array(c.nHeadKv * c.nCtx * rowBytes);
  const xf = Float32Array.from(x, ref.f16BitsToF32);
  for (let r = 0; r < c.nHeadKv * c.nCtx; r++) out.set(quantizeRow(GGMLType.Q8_0, xf.subarray(r * c.headDim, (r + 1) * c.headDim)), r * rowBytes);
  return out;
}

/** attention_kv over one sequence's caches; K and V f16 unless given as q8_0 (kQ8 / vQ8 of c); tile: the whole context unless c.tile. */
function runAttention(c: AttnCase, q: Float32Array, k: Uint16Array, v: Uint16Array, pos: Int32Array): Float32Array {
  const n = c.nTokens * c.nHead * c.headDim;
  const kb = c.kQ8 ?? k, vb = c.vQ8 ?? v;
  const pq = put(q), pk = alloc(kb.byteLength), pv = alloc(vb.byteLength), ppos = c.causal ? put(pos) : 0, po = alloc(4 * n);
  K.write(pk, new Uint8Array(kb.buffer, kb.byteOffset, kb.byteLength));
  K.write(pv, new Uint8Array(vb.buffer, vb.byteOffset, vb.byteLength));
  // every row in sequence 0 (the caches hold one), nKv cells in use
  const pkv = put(new Int32Array(2 * c.nTokens).map((_, i) => (i % 2 ? c.nKv : 0)));
  const tile = c.tile ?? c.nCtx;
  const wsize = fn('attention_kv_wsize')(c.nHead, c.nHeadKv, c.headDim, c.headDim, tile);
  const pw = alloc(3 * wsize);
  const psk = c.sinks ? put(c.sinks) : 0;
  const types = (c.kQ8 ? 1 : 0) | (c.vQ8 ? 2 : 0);
  return asF32(runSplits(`attention ${JSON.stringify({ ...c, sinks: undefined, kQ8: undefined, vQ8: undefined })}`, po, 4 * n, (ith, nth) =>
    fn('attention_kv')(pq, pk, pv, po, ppos, pkv, c.nTokens, c.nHead, c.nHeadKv, c.headDim, c.headDim, c.headDim, c.nHead * c.headDim,
      c.nCtx, c.kqScale, c.softcap, c.nSwa, c.chunked ? 1 : 0, psk, types, tile, pw, ith, nth)));
}

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

test('attention_kv (f16, one tile): decode and prefill, GQA 1/2/4, sliding window, chunks, soft-cap, non-causal', () => {
  const base = { softcap: 0, nSwa: 0, causal: true };
  const cases: AttnCase[] = [
    // decode: one token at the last position
    { ...base, nTokens: 1, nHead: 4, nHeadKv: 4, headDim: 64, nKv: 300, nCtx: 320, kqScale: 1 / 8, pos0: 299 },
    { ...base, nTokens: 1, nHead: 8, nHeadKv: 2, headDim: 128, nKv: 77, nCtx: 96, kqScale: 128 ** -0.5, pos0: 76 },
    // prefill from 0, and a batch continuing a cache
    { ...base, nTokens: 19, nHead: 4, nHeadKv: 2, headDim: 64, nKv: 19, nCtx: 32, kqScale: 1 / 8, pos0: 0 },
    { ...base, nTokens: 6, nHead: 8, nHeadKv: 2, headDim: 36, nKv: 46, nCtx: 50, kqScale: 1 / 6, pos0: 40 },
    // sliding window, soft-cap (gemma2-like: q pre-scaled, kq_scale 1), both
    { ...base, nTokens: 9, nHead: 4, nHeadKv: 1, headDim: 64, nKv: 60, nCtx: 64, kqScale: 1 / 8, pos0: 51, nSwa: 7 },
    { ...base, nTokens: 5, nHead: 2, nHeadKv: 1, headDim: 64, nKv: 30, nCtx: 30, kqScale: 1, pos0: 25, softcap: 5 },
    { ...base, nTokens: 4, nHead: 4, nHeadKv: 2, headDim: 40, nKv: 70, nCtx: 80, kqScale: 0.4, pos0: 66, softcap: 3, nSwa: 16 },
    // llama 4's chunked attention: a batch across a chunk boundary (chunks of 16 cells)
    { ...base, nTokens: 12, nHead: 4, nHeadKv: 2, headDim: 32, nKv: 54, nCtx: 64, kqScale: 32 ** -0.5, pos0: 42, nSwa: 16, chunked: true },
    // non-causal (embedding models): every token sees every cell
    { ...base, nTokens: 7, nHead: 2, nHeadKv: 2, headDim: 32, nKv: 7, nCtx: 8, kqScale: 32 ** -0.5, pos0: 0, causal: false },
  ];
  let seed = 100;
  for (const c of cases) {
    const { q, k, v, pos } = attnInputs(c, seed++);
    const got = runAttention(c, q, k, v, pos);
    const want = ref.attention(q, k, v, c.causal ? pos : null, c);
    // A probability whose f32 value sits within rounding noise of an f16
    // rounding boundary may round the other way than in the reference: one f16
    // ulp (2^-11 relative) of that p_j, so |error| <= 2^-10 max|v| covers it.
    const maxV = maxAbs(Array.from(v, ref.f16BitsToF32));
    const bound = 2 ** -10 * maxV;
    for (let i = 0; i < want.length; i++)
      if (!(Math.abs(got[i]! - want[i]!) <= bound)) assert.unreachable(`attention ${JSON.stringify(c)}: element ${i} got ${got[i]} want ${want[i]}`);
    // ...and such flips are rare: the kernel is far closer to the f16-rounding
    // reference than to the same attention without llama.cpp's f16 roundings.
    const unrounded = ref.attention(q, k, v, c.causal ? pos : null, { ...c, roundF16: false });
    const dRef = meanAbsDiff(got, want), dUnrounded = meanAbsDiff(got, unrounded);
    assert.ok(dRef * 8 < dUnrounded, `attention ${JSON.stringify(c)}: mean error ${dRef} vs ${dUnrounded} without f16 rounding`);
  }
});

test('attention_kv: a single visible cell returns its V row; window of 1 as well', () => {
  const c: AttnCase = { nTokens: 2, nHead: 2, nHeadKv: 1, headDim: 16, nKv: 6, nCtx: 8, kqScale: 0.25, softcap: 0, nSwa: 1, pos0: 4, causal: true };
  const { q, k, v, pos } = attnInputs(c, 9);
  const got = runAttention(c, q, k, v, pos);
  for (let t = 0; t < 2; t++)
    for (let h = 0; h < 2; h++)
      for (let d = 0; d < 16; d++) assert.is(got[(t * 2 + h) * 16 + d], ref.f16BitsToF32(v[(c.pos0 + t) * 16 + d]!));
});

test('attention_kv with sinks (gpt-oss): each head\'s sink joins its softmax; without sinks, unchanged', () => {
  const base = { softcap: 0, nSwa: 0, causal: true };
  const cases: AttnCase[] = [
    { ...base, nTokens: 1, nHead: 8, nHeadKv: 2, headDim: 64, nKv: 90, nCtx: 96, kqScale: 1 / 8, pos0: 89 },
    { ...base, nTokens: 7, nHead: 4, nHeadKv: 1, headDim: 64, nKv: 40, nCtx: 48, kqScale: 1 / 8, pos0: 33, nSwa: 9 },
    { ...base, nTokens: 5, nHead: 6, nHeadKv: 3, headDim: 36, nKv: 5, nCtx: 8, kqScale: 1 / 6, pos0: 0 },
  ];
  let seed = 300;
  for (const c0 of cases) {
    const { q, k, v, pos } = attnInputs(c0, seed++);
    const rand = mulberry32(seed++);
    // sinks around the scores' scale, some above every score (they then take most of the mass)
    const sinks = new Float32Array(c0.nHead).map(() => (rand() * 2 - 1) * 4);
    const c = { ...c0, sinks };
    const got = runAttention(c, q, k, v, pos);
    const want = ref.attention(q, k, v, pos, c);
    const bound = 2 ** -10 * maxAbs(Array.from(v, ref.f16BitsToF32));
    for (let i = 0; i < want.length; i++)
      if (!(Math.abs(got[i]! - want[i]!) <= bound)) assert.unreachable(`sinks ${JSON.stringify(c0)}: element ${i} got ${got[i]} want ${want[i]}`);
    // the sinks matter: the same attention without them is far off
    const plain = runAttention(c0, q, k, v, pos);
    assert.ok(meanAbsDiff(got, want) * 20 < meanAbsDiff(plain, want), `sinks ${JSON.stringify(c0)}: ignored`);
    // a sink of -inf adds e^-inf = 0: the bits of no sink at all
    const none = runAttention({ ...c0, sinks: new Float32Array(c0.nHead).fill(-Infinity) }, q, k, v, pos);
    assert.equal(Array.from(none), Array.from(plain), 'a -inf sink is no sink');
  }
});

// ---------------------------------------------------------------------------
// element-wise and get_rows

test('kv_store_q8_0: each (token, kv head) row as ggml\'s reference q8_0 blocks at its cell', () => {
  const nTokens = 3, nHeadKv = 2, headDim = 64, nCtx = 6, rowBytes = (headDim / 32) * 34;
  const src = gaussian(mulberry32(8), nTokens * nHeadKv * headDim, 3);
  src.fill(0, 0, 32); // an all-zero block: d = 0
  const pos = new Int32Array([4, 0, 2]);
  const pkv = put(new Int32Array(2 * nTokens).map((_, i) => (i % 2 ? nCtx : 0)));
  const ps = put(src), ppos = put(pos), bytes = nHeadKv * nCtx * rowBytes, pc = alloc(bytes);
  const got = runSplits('kv_store_q8_0', pc, bytes, (ith, nth) => fn('kv_store_q8_0')(ps, pc, ppos, pkv, nTokens, nHeadKv, headDim, nHeadKv * headDim, nCtx, ith, nth));
  for (let t = 0; t < nTokens; t++)
    for (let g = 0; g < nHeadKv; g++) {
      const want = quantizeRow(GGMLType.Q8_0, src.subarray((t * nHeadKv + g) * headDim, (t * nHeadKv + g + 1) * headDim));
      const cell = (g * nCtx + pos[t]!) * rowBytes;
      assert.equal(Array.from(got.subarray(cell, cell + rowBytes)), Array.from(want), `token ${t} head ${g}`);
    }
});

test('attention_kv, q8_0 K (q rows to q8_0), f16 V: the q8_0 reference, not the f16-K one', () => {
  const base = { softcap: 0, nSwa: 0, causal: true };
  const cases: AttnCase[] = [
    { ...base, nTokens: 1, nHead: 8, nHeadKv: 2, headDim: 64, nKv: 200, nCtx: 224, kqScale: 1 / 8, pos0: 199 },
    { ...base, nTokens: 11, nHead: 4, nHeadKv: 4, headDim: 128, nKv: 40, nCtx: 48, kqScale: 128 ** -0.5, pos0: 29 },
    { ...base, nTokens: 5, nHead: 6, nHeadKv: 2, headDim: 32, nKv: 60, nCtx: 64, kqScale: 0.3, pos0: 55, nSwa: 9, softcap: 4 },
  ];
  let seed = 300;
  for (const c of cases) {
    const { q, k, v, pos } = attnInputs(c, seed++);
    const kQ8 = q8Cache(c, k);
    const got = runAttention({ ...c, kQ8 }, q, k, v, pos);
    const want = ref.attention(q, k, v, pos, { ...c, kQ8 });
    const bound = 2 ** -10 * maxAbs(Array.from(v, ref.f16BitsToF32));
    for (let i = 0; i < want.length; i++)
      if (!(Math.abs(got[i]! - want[i]!) <= bound)) assert.unreachable(`attention q8_0 K ${JSON.stringify(c)}: element ${i} got ${got[i]} want ${want[i]}`);
    // the K quantization shows: far closer to the q8_0 reference than to f16 K's
    const dRef = meanAbsDiff(got, want), dF16 = meanAbsDiff(got, ref.attention(q, k, v, pos, c));
    assert.ok(dRef * 8 < dF16, `attention q8_0 K ${JSON.stringify(c)}: mean error ${dRef} vs ${dF16} against f16 K`);
  }
});

test('attention_kv in tiles: each tile the non-flash steps, tiles merged; a row within one tile unchanged', () => {
  const base = { softcap: 0, nSwa: 0, causal: true };
  const cases: AttnCase[] = [
    // decode over 300 cells in tiles of 32 (the last tile partial), and of 7 (odd, not a multiple of 4)
    { ...base, nTokens: 1, nHead: 8, nHeadKv: 2, headDim: 64, nKv: 300, nCtx: 320, kqScale: 1 / 8, pos0: 299, tile: 32 },
    { ...base, nTokens: 1, nHead: 4, nHeadKv: 4, headDim: 64, nKv: 100, nCtx: 128, kqScale: 1 / 8, pos0: 99, tile: 7 },
    // prefill continuing a cache; sliding window with soft-cap; chunked; non-causal
    { ...base, nTokens: 6, nHead: 8, nHeadKv: 2, headDim: 36, nKv: 46, nCtx: 50, kqScale: 1 / 6, pos0: 40, tile: 16 },
    { ...base, nTokens: 4, nHead: 4, nHeadKv: 2, headDim: 40, nKv: 70, nCtx: 80, kqScale: 0.4, pos0: 66, softcap: 3, nSwa: 16, tile: 5 },
    { ...base, nTokens: 12, nHead: 4, nHeadKv: 2, headDim: 32, nKv: 54, nCtx: 64, kqScale: 32 ** -0.5, pos0: 42, nSwa: 16, chunked: true, tile: 8 },
    { ...base, nTokens: 7, nHead: 2, nHeadKv: 2, headDim: 32, nKv: 40, nCtx: 40, kqScale: 32 ** -0.5, pos0: 33, causal: false, tile: 12 },
  ];
  let seed = 500;
  for (const c of cases) {
    const { q, k, v, pos } = attnInputs(c, seed++);
    const rand = mulberry32(seed++);
    const maxV = maxAbs(Array.from(v, ref.f16BitsToF32));
    for (const sinks of [undefined, new Float32Array(c.nHead).map(() => (rand() * 2 - 1) * 4)]) {
      const cs = { ...c, sinks };
      const label = `tiles ${JSON.stringify({ ...c, sinks: !!sinks })}`;
      const got = runAttention(cs, q, k, v, pos);
      const want = ref.attention(q, k, v, c.causal ? pos : null, cs);
      // as the one-tile bound: an f16 flip of a probability, plus the merge's f32 weights
      for (let i = 0; i < want.length; i++)
        if (!(Math.abs(got[i]! - want[i]!) <= 2 ** -10 * maxV)) assert.unreachable(`${label}: element ${i} got ${got[i]} want ${want[i]}`);
      // the merge is the softmax of the whole row: against the untiled reference the
      // difference is only where the f16 rounding of each probability falls
      const whole = ref.attention(q, k, v, c.causal ? pos : null, { ...cs, tile: undefined });
      const unrounded = ref.attention(q, k, v, c.causal ? pos : null, { ...cs, tile: undefined, roundF16: false });
      const dWhole = meanAbsDiff(got, whole), dTiled = meanAbsDiff(got, want);
      assert.ok(dWhole < 2 * meanAbsDiff(whole, unrounded), `${label}: ${dWhole} from the untiled result, more than f16 rounding moves it`);
      // and the kernel follows its tiles: closer to the tiled reference than to the untiled one
      assert.ok(dTiled < dWhole, `${label}: ${dTiled} from the tiled reference, ${dWhole} from the untiled one`);
      // a tile as large as the row: the untiled kernel's bits
      const one = runAttention({ ...cs, tile: c.nCtx }, q, k, v, pos);
      const oneRef = runAttention({ ...cs, tile: c.nKv }, q, k, v, pos);
      assert.equal(Array.from(oneRef), Array.from(one), `${label}: a tile of the whole row differs from the untiled kernel`);
    }
  }
  // a broken merge (tiles averaged without their weights) would fail the bound: the reference can tell
  const c = cases[0]!;
  const { q, k, v, pos } = attnInputs(c, 500);
  const got = runAttention(c, q, k, v, pos), firstTileOnly = ref.attention(q, k, v, pos, { ...c, nKv: 32, pos0: 31 } as AttnCase);
  assert.ok(meanAbsDiff(got, firstTileOnly) > 100 * meanAbsDiff(got, ref.attention(q, k, v, pos, c)), 'the tiles after the first count');
});

test('attention_kv, q8_0 V (and q8_0 K and V): V dequantized as ggml, in one tile and in several', () => {
  const base = { softcap: 0, nSwa: 0, causal: true };
  const cases: AttnCase[] = [
    { ...base, nTokens: 1, nHead: 8, nHeadKv: 2, headDim: 64, nKv: 200, nCtx: 224, kqScale: 1 / 8, pos0: 199 },
    { ...base, nTokens: 1, nHead: 8, nHeadKv: 2, headDim: 64, nKv: 200, nCtx: 224, kqScale: 1 / 8, pos0: 199, tile: 24 },
    { ...base, nTokens: 11, nHead: 4, nHeadKv: 4, headDim: 128, nKv: 40, nCtx: 48, kqScale: 128 ** -0.5, pos0: 29, tile: 16 },
    { ...base, nTokens: 5, nHead: 6, nHeadKv: 2, headDim: 32, nKv: 60, nCtx: 64, kqScale: 0.3, pos0: 55, nSwa: 9, softcap: 4, tile: 4 },
  ];
  let seed = 700;
  for (const c0 of cases) {
    const { q, k, v, pos } = attnInputs(c0, seed++);
    const vQ8 = q8Cache(c0, v);
    for (const kQ8 of [undefined, q8Cache(c0, k)]) {
      const c = { ...c0, vQ8, kQ8 };
      const label = `q8_0 V ${JSON.stringify({ ...c0, kQ8: !!kQ8 })}`;
      const got = runAttention(c, q, k, v, pos);
      const want = ref.attention(q, k, v, pos, c);
      const bound = 2 ** -10 * maxAbs(Array.from(v, ref.f16BitsToF32));
      for (let i = 0; i < want.length; i++)
        if (!(Math.abs(got[i]! - want[i]!) <= bound)) assert.unreachable(`${label}: element ${i} got ${got[i]} want ${want[i]}`);
      // the V quantization shows: far closer to the q8_0-V reference than to the f16-V one
      const dRef = meanAbsDiff(got, want), dF16 = meanAbsDiff(got, ref.attention(q, k, v, pos, { ...c, vQ8: undefined }));
      assert.ok(dRef * 8 < dF16, `${label}: mean error ${dRef} vs ${dF16} against f16 V`);
    }
  }
});

test('kv_store_f16 + attention_kv, rows of 3 sequences in one batch: each row as its sequence alone, bit for bit', () => {
  // three sequences at different lengths in one [n_seq][n_head_kv][n_ctx][head_dim] cache; the
  // batch's rows interleave them (decode of one, prefill of another, a window-limited third)
  const nSeq = 3, nHead = 4, nHeadKv = 2, headDim = 40, nCtx = 24, kqScale = 0.3;
  const blockEl = nHeadKv * nCtx * headDim;
  const rand = mulberry32(77);
  const cacheK = new Uint16Array(gaussian(rand, nSeq * blockEl).map(ref.f32ToF16Bits));
  const cacheV = new Uint16Array(gaussian(rand, nSeq * blockEl).map(ref.f32ToF16Bits));
  // rows: [seq, pos]; each sequence's rows continue its cells (n_kv = its last pos + 1)
  const rows: [number, number][] = [[1, 17], [0, 5], [2, 9], [0, 6], [0, 7], [2, 10], [1, 18]];
  const nKv = [8, 19, 11];
  const nTokens = rows.length;
  const q = gaussian(rand, nTokens * nHead * headDim);
  const kNew = gaussian(rand, nTokens * nHeadKv * headDim), vNew = gaussian(rand, nTokens * nHeadKv * headDim);
  const run = (kc: Uint16Array, vc: Uint16Array, rws: [number, number][], n: number[], qq: Float32Array, kn: Float32Array, vn: Float32Array,
    nSwa: number, kvRows?: Int32Array) => {
    const nt = rws.length;
    const pk = put(kc), pv = put(vc), pq = put(qq), pkn = put(kn), pvn = put(vn);
    const ppos = put(Int32Array.from(rws.map(([, p]) => p)));
    const pkv = put(kvRows ?? Int32Array.from(rws.flatMap(([s]) => [s, n[s]!])));
    const po = alloc(4 * nt * nHead * headDim), pw = alloc(3 * fn('attention_kv_wsize')(nHead, nHeadKv, headDim, headDim, 8));
    const kv0 = kc.slice(), vv0 = vc.slice();
    return asF32(runSplits('batched attention', po, 4 * nt * nHead * headDim, (ith, nth) => {
      // a phase per kernel with every thread's share, as the plan runs them
      if (ith === 0) {
        K.u16().set(kv0, pk >> 1);
        K.u16().set(vv0, pv >> 1);
        for (let i = 0; i < nth; i++) fn('kv_store_f16')(pkn, pk, ppos, pkv, nt, nHeadKv, headDim, nHeadKv * headDim, nCtx, i, nth);
        for (let i = 0; i < nth; i++) fn('kv_store_f16')(pvn, pv, ppos, pkv, nt, nHeadKv, headDim, nHeadKv * headDim, nCtx, i, nth);
      }
      // tiles of 8 cells: sequences of 8..19 cells take one to three
      fn('attention_kv')(pq, pk, pv, po, ppos, pkv, nt, nHead, nHeadKv, headDim, headDim, headDim, nHead * headDim, nCtx, kqScale, 0, nSwa, 0, 0, 0, 8, pw, ith, nth);
    })).slice();
  };
  for (const nSwa of [0, 4]) {
    const got = run(cacheK, cacheV, rows, nKv, q, kNew, vNew, nSwa);
    // each sequence alone: its block as a one-sequence cache, its rows in order
    for (let s = 0; s < nSeq; s++) {
      const mine = rows.map((r, i) => [r, i] as const).filter(([[rs]]) => rs === s);
      const pick = (x: Float32Array, w: number) => {
        const o = new Float32Array(mine.length * w);
        mine.forEach(([, i], j) => o.set(x.subarray(i * w, (i + 1) * w), j * w));
        return o;
      };
      const alone = run(cacheK.slice(s * blockEl, (s + 1) * blockEl), cacheV.slice(s * blockEl, (s + 1) * blockEl),
        mine.map(([[, p]]) => [0, p]), [nKv[s]!], pick(q, nHead * headDim), pick(kNew, nHeadKv * headDim), pick(vNew, nHeadKv * headDim), nSwa);
      const want = pick(got, nHead * headDim);
      assert.equal(Array.from(alone), Array.from(want), `sequence ${s} (window ${nSwa}) alone differs from batched`);
    }
    // a wrong row -> sequence map reads another sequence's cells: the result must change
    const wrong = Int32Array.from(rows.flatMap(([s]) => [s === 1 ? 2 : s, nKv[s]!]));
    const broken = run(cacheK, cacheV, rows, nKv, q, kNew, vNew, nSwa, wrong);
    assert.not.equal(Array.from(broken.subarray(0, nHead * headDim)), Array.from(got.subarray(0, nHead * headDim)), 'a wrong sequence map must change row 0');
  }
});

test('add_f32 / mul_f32 with row broadcast, scale_f32: exact', () => {
  const rand = mulberry32(10);
  for (const [nRows, n, nBRows] of [[1, 4096, 1], [5, 33, 1], [4, 10, 4], [6, 7, 2]] as const) {
    const a = gaussian(rand, nRows * n), b = gaussian(rand, nBRows * n);
    const pa = put(a), pb = put(b), py = alloc(4 * nRows * n);
    for (const [name, op] of [['add_f32', (x: number, y: number) => x + y], ['mul_f32', (x: number, y: number) => x * y]] as const) {
      const got = asF32(runSplits(name, py, 4 * nRows * n, (ith, nth) => fn(name)(pa, pb, py, nRows, n, nBRows, ith, nth)));
      assertUlps(got, ref.mapRows(a, b, nRows, n, nBRows, op), 0, `${name} ${nRows}x${n}/${nBRows}`);
    }
  }
  const x = gaussian(rand, 103), px = put(x), py = alloc(4 * 103);
  const got = asF32(runSplits('scale', py, 4 * 103, (ith, nth) => fn('scale_f32')(px, py, 103, 0.3, ith, nth)));
  assertUlps(got, x.map((v) => Math.fround(v * Math.fround(0.3))), 0, 'scale');
});

test('swiglu_oai_f32 (gpt-oss): clamps, alpha 1.702, limit 7, strided rows, within 3 ulps, splits bit-identical', () => {
  const rand = mulberry32(41);
  const nRows = 5, n = 37;
  // a fused-looking layout: gate and up halves of rows of 2n; values past +-limit on both
  const f = gaussian(rand, nRows * 2 * n, 6);
  const pf = put(f), py = alloc(4 * nRows * n);
  const got = asF32(runSplits('swiglu_oai', py, 4 * nRows * n, (ith, nth) => fn('swiglu_oai_f32')(pf, pf + 4 * n, py, nRows, n, 2 * n, 2 * n, 1.702, 7, ith, nth)));
  const want = new Float32Array(nRows * n);
  let clampedG = 0, clampedU = 0;
  for (let r = 0; r < nRows; r++)
    for (let i = 0; i < n; i++) {
      const g = f[r * 2 * n + i]!, u = f[r * 2 * n + n + i]!;
      if (g > 7) clampedG++;
      if (Math.abs(u) > 7) clampedU++;
      want[r * n + i] = ref.swigluOai(g, u, 1.702, 7);
    }
  assert.ok(clampedG > 0 && clampedU > 0, 'the inputs reach both clamps');
  assertUlps(got, want, 3, 'swiglu_oai');
});

test('moe_add_id_f32: each (token, slot) row plus its expert\'s bias row, exact', () => {
  const rand = mulberry32(42);
  const n = 13, k = 3, nTok = 4, nExpert = 6;
  const x = gaussian(rand, nTok * k * n), bias = gaussian(rand, nExpert * n);
  const ids = new Int32Array(nTok * k).map(() => Math.floor(rand() * nExpert));
  const px = put(x), pb = put(bias), pi = put(ids), py = alloc(4 * x.length);
  const got = asF32(runSplits('add_id', py, 4 * x.length, (ith, nth) => fn('moe_add_id_f32')(px, pb, pi, py, n, k, nTok, ith, nth)));
  const want = x.map((v, i) => Math.fround(v + bias[ids[Math.floor(i / n)]! * n + (i % n)]!));
  assertUlps(got, want, 0, 'add_id');
});

test('attn_temp_scale_f32: each token\'s row times llama.cpp\'s temperature (float floor, double log), exact', () => {
  const rand = mulberry32(11);
  const n = 37, pos = new Int32Array([0, 1, 31, 32, 33, 95, 96, 1000, 16383, 16384, 100000]);
  const x = gaussian(rand, pos.length * n);
  const px = put(x), pp = put(pos), py = alloc(4 * pos.length * n);
  for (const [floor, temp, offset] of [[32, 0.6, 0], [16384, 0.1, 0], [7, 0.25, 3]] as const) {
    const got = asF32(runSplits('attn_temp', py, 4 * pos.length * n, (ith, nth) => fn('attn_temp_scale_f32')(px, pp, py, n, pos.length, floor, temp, offset, ith, nth)));
    const want = new Float32Array(x.length);
    pos.forEach((p, r) => {
      // llm_graph_input_attn_temp: float position and floor, the log and the sum in double
      const fl = Math.floor(Math.fround(Math.fround(p + Math.fround(offset)) / floor));
      const s = Math.fround(Math.log(fl + 1) * Math.fround(temp) + 1);
      for (let i = 0; i < n; i++) want[r * n + i] = Math.fround(x[r * n + i]! * s);
    });
    assertUlps(got, want, 0, `attn_temp_scale floor ${floor} temp ${temp} offset ${offset}`);
  }
});

test('silu_f32 / swiglu_f32 within 3 ulps (strided gate/up of a fused tensor), splits bit-identical', () => {
  const rand = mulberry32(11);
  const nRows = 3, n = 45;
  // fused [n_rows][2n]: gate in the first half, up in the second
  const fused = gaussian(rand, nRows * 2 * n, 4);
  const pf = put(fused), py = alloc(4 * nRows * n);
  const got = asF32(runSplits('swiglu', py, 4 * nRows * n, (ith, nth) => fn('swiglu_f32')(pf, pf + 4 * n, py, nRows, n, 2 * n, 2 * n, ith, nth)));
  const want = new Float32Array(nRows * n);
  for (let r = 0; r < nRows; r++) for (let i = 0; i < n; i++) want[r * n + i] = ref.swiglu(fused[r * 2 * n + i]!, fused[r * 2 * n + n + i]!);
  assertUlps(got, want, 3, 'swiglu');
  const x = gaussian(rand, 101, 5), px = put(x), ps = alloc(4 * 101);
  const s = asF32(runSplits('silu', ps, 4 * 101, (ith, nth) => fn('silu_f32')(px, ps, 101, ith, nth)));
  assertUlps(s, x.map(ref.silu), 3, 'silu');
});

test('gelu_f32 / geglu_f32: exactly ggml\'s f16-table GELU, every f16 input and the +-10 clamps', () => {
  // every finite f16 value with |x| < 12, plus values between f16s and the clamps
  const xs: number[] = [];
  for (let h = 0; h < 0x10000; h++) {
    const v = ref.f16BitsToF32(h);
    if (Number.isFinite(v) && Math.abs(v) < 12) xs.push(v);
  }
  const rand = mulberry32(12);
  for (let i = 0; i < 5000; i++) xs.push((rand() - 0.5) * 30);
  xs.push(-10, 10, Math.fround(-10 + 1e-5), Math.fround(10 - 1e-5), -1e30, 1e30);
  const x = new Float32Array(xs), n = x.length;
  const px = put(x), py = alloc(4 * n);
  const got = asF32(runSplits('gelu', py, 4 * n, (ith, nth) => fn('gelu_f32')(px, py, n, ith, nth)));
  assertUlps(got, x.map(ref.gelu), 0, 'gelu');
  // not merely the exact GELU: the f16 table's rounding is visible
  const exact = x.map(ref.geluTanh);
  assert.ok(maxUlps(got, exact).max > 100, 'gelu goes through the f16 table');

  const up = gaussian(rand, n), pu = put(up), pg = alloc(4 * n);
  const g = asF32(runSplits('geglu', pg, 4 * n, (ith, nth) => fn('geglu_f32')(px, pu, pg, 1, n, n, n, ith, nth)));
  assertUlps(g, x.map((v, i) => ref.geglu(v, up[i]!)), 0, 'geglu');
});

test('softcap_f32 within 4 ulps (gemma2 final logits: cap 30)', () => {
  const rand = mulberry32(13);
  const x = gaussian(rand, 1003, 40);
  const px = put(x), py = alloc(4 * 1003);
  const got = asF32(runSplits('softcap', py, 4 * 1003, (ith, nth) => fn('softcap_f32')(px, py, 1003, 30, ith, nth)));
  assertUlps(got, x.map((v) => ref.softcap(v, 30)), 4, 'softcap');
  assert.ok(maxAbs(got) < 30);
});

test('get_rows_f32 / get_rows_f16: token embeddings, f16 exact incl. subnormal, inf, nan', () => {
  const rand = mulberry32(14);
  const nVocab = 11, n = 21;
  const table = gaussian(rand, nVocab * n);
  const t16 = new Uint16Array(table.map(ref.f32ToF16Bits));
  t16.set([0x0001, 0x03ff, 0x8400, 0x7c00, 0xfc00, 0x7e01, 0x8000, 0x3c00, 0x7bff]);
  const ids = new Int32Array([3, 0, 10, 3, 7]);
  const pt = put(table), pt16 = put(t16), pid = put(ids), py = alloc(4 * ids.length * n);
  const g32 = asF32(runSplits('get_rows_f32', py, 4 * ids.length * n, (ith, nth) => fn('get_rows_f32')(pt, pid, py, ids.length, n, ith, nth)));
  const g16 = asF32(runSplits('get_rows_f16', py, 4 * ids.length * n, (ith, nth) => fn('get_rows_f16')(pt16, pid, py, ids.length, n, ith, nth)));
  for (let r = 0; r < ids.length; r++)
    for (let i = 0; i < n; i++) {
      assert.ok(Object.is(g32[r * n + i], table[ids[r]! * n + i]));
      const w = ref.f16BitsToF32(t16[ids[r]! * n + i]!);
      assert.ok(Object.is(g16[r * n + i], w) || (Number.isNaN(w) && Number.isNaN(g16[r * n + i]!)), `f16 row ${r} col ${i}`);
    }
  // the special values sit in row 0, which ids[1] fetches
  assert.is(g16[n + 3], Infinity);
  assert.ok(Number.isNaN(g16[n + 5]!));
  assert.is(g16[n + 0], 2 ** -24);
});

test.run();
