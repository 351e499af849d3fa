// The prefill kernels (kernels/matmul-*.c): mul_mat_<t> must give, for every
// token, exactly the bits matvec_<t> gives for that token alone (so a prompt
// run as one batch has the same logits as token by token), and must write
// only rows [r0, r1) of each token's output row.
//
// Weights: rows quantized by the formats/ reference quantizer (a few distinct
// rows, cycled); activations: quantized/converted by the WASM kernels, one
// row per token, with padding between rows. Token counts cover a single
// token, counts below the kernels' tile threshold (matvec fallback), padded
// tiles (7, and 33 = full tiles + one left over) and full tiles; row counts
// are not multiples of any tile, and sub-ranges [r0, r1) start and end
// mid-block. Lengths cover one pass (n <= 4096) and rows longer than a
// sub-chunk and an 8192-column chunk (n = 8192 + 256), where accumulators
// are carried between passes and more than one row block is needed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { quantizeRow } from '../formats/quant/index.js';
import { loadKernels, type Kernels, type MatvecFn, type Ptr, type RowFn } from '../wasm/loader.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

/** mul_mat_<t>(w, rowBytes, a, aRowBytes, out, outStride (floats), n, nTok, r0, r1). */
type MulMatFn = (w: Ptr, rowBytes: number, a: Ptr, aRowBytes: number, out: Ptr, outStride: number, n: number,
  nTok: number, r0: number, r1: number) => void;

const T = GGMLType;
const TYPES = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K,
  T.IQ4_NL, T.IQ4_XS, T.MXFP4, T.TQ1_0, T.TQ2_0];
const TOKENS = [1, 3, 4, 7, 8, 33];
const ROWS = 70; // more than one 64-row block, not a multiple of any tile
const DISTINCT = 7; // distinct quantized rows, cycled (coprime with the tiles)
const SENTINEL = 0x7fc0beef; // a NaN that no kernel produces

const k: Kernels = await loadKernels();
const name = (t: GGMLType) => ggmlTypeInfo(t)!.name;

let live: Ptr[] = [];
function alloc(bytes: number): Ptr {
  const p = k.malloc(Math.max(bytes, 1));
  live.push(p);
  return p;
}
function put(data: ArrayBufferView): Ptr {
  const p = alloc(data.byteLength);
  k.write(p, data);
  return p;
}
function freeAll(): void {
  for (const p of live) k.free(p);
  live = [];
}
function fn<F extends (...args: never[]) => unknown>(n: string): F {
  const f = k.lookup<F>(n);
  if (!f) throw new Error(`kernels.wasm has no ${n}; rebuild it with npm run build:wasm`);
  return f;
}

/** Lengths per type: quants need whole blocks; floats take any n. */
function lengths(type: GGMLType): number[] {
  const info = ggmlTypeInfo(type)!;
  if (!info.isQuantized) return [100, 4096 + 8, 8192 + 40];
  return info.blockSize === 256 ? [512, 8192 + 256] : [96, 4096, 8192 + 256];
}

/** ROWS weight rows of `type` (DISTINCT distinct ones), contiguous. */
function weights(type: GGMLType, n: number, rand: () => number, scale: number): { ptr: Ptr; rowBytes: number } {
  const rowBytes = rowSize(type, n);
  const distinct = Array.from({ length: DISTINCT }, () => {
    const x = gaussian(rand, n, scale);
    return type === T.F32 ? new Uint8Array(x.buffer) : quantizeRow(type, x);
  });
  const all = new Uint8Array(rowBytes * ROWS);
  for (let r = 0; r < ROWS; r++) all.set(distinct[r % DISTINCT]!, r * rowBytes);
  return { ptr: put(all), rowBytes };
}

/** nTok activation rows in the weight type's vec_dot_type, aRowBytes apart (padded). */
function activations(type: GGMLType, n: number, nTok: number, rand: () => number): { ptr: Ptr; aRowBytes: number } {
  const aType = ggmlTypeInfo(type)!.vecDotType!;
  const size = rowSize(aType, n);
  const aRowBytes = size + 48; // rows need not be packed
  const ptr = alloc(aRowBytes * nTok);
  const px = alloc(n * 4);
  for (let t = 0; t < nTok; t++) {
    // tokens of different magnitudes, one with a zero stretch
    const x = gaussian(rand, n, 10 ** (t % 5 - 2));
    if (t === 2) x.fill(0, 0, Math.min(n, 300));
    if (aType === T.F32) {
      k.write(ptr + t * aRowBytes, x);
      continue;
    }
    k.write(px, x);
    const f = aType === T.F16 || aType === T.BF16 ? `convert_row_f32_to_${name(aType)}` : `quantize_row_${name(aType)}`;
    fn<RowFn>(f)(px, ptr + t * aRowBytes, n);
  }
  return { ptr, aRowBytes };
}

function check(type: GGMLType, n: number, nTok: number, scale: number, seed: number): void {
  const rand = mulberry32(seed);
  const what = `${name(type)} n=${n} tokens=${nTok} scale=${scale}`;
  const { ptr: w, rowBytes } = weights(type, n, rand, scale);
  const { ptr: a, aRowBytes } = activations(type, n, nTok, rand);
  const mulMat = fn<MulMatFn>(`mul_mat_${name(type)}`);
  const matvec = fn<MatvecFn>(`matvec_${name(type)}`);
  const outStride = ROWS + 5;
  const out = alloc(outStride * nTok * 4);
  const ref = alloc(ROWS * 4);
  for (const [r0, r1] of [[0, ROWS], [3, 67], [65, ROWS], [9, 10], [20, 20]] as const) {
    new Uint32Array(k.u8().buffer, out, outStride * nTok).fill(SENTINEL);
    mulMat(w, rowBytes, a, aRowBytes, out, outStride, n, nTok, r0, r1);
    const got = new Uint32Array(k.u8().buffer, out, outStride * nTok).slice();
    for (let t = 0; t < nTok; t++) {
      matvec(w, rowBytes, a + t * aRowBytes, ref, n, r0, r1);
      const want = new Uint32Array(k.u8().buffer, ref, ROWS);
      const wantF = new Float32Array(want.buffer, want.byteOffset, ROWS);
      for (let r = 0; r < outStride; r++) {
        const g = got[t * outStride + r]!;
        if (r < r0 || r >= r1) {
          if (g !== SENTINEL) assert.unreachable(`${what} [${r0},${r1}): token ${t} row ${r} written outside the range`);
        } else if (g !== want[r]) {
          const gf = new Float32Array(new Uint32Array([g]).buffer)[0];
          assert.unreachable(`${what} [${r0},${r1}): token ${t} row ${r} is ${gf}, matvec gives ${wantF[r]}`);
        }
      }
    }
  }
  assert.ok(true);
}

for (const type of TYPES) {
  test(`mul_mat_${name(type)} equals matvec_${name(type)} token by token, bit for bit`, () => {
    try {
      let seed = 0x600d + type * 97;
      for (const n of lengths(type)) {
        for (const nTok of TOKENS) check(type, n, nTok, 1, seed++);
      }
      // tiny weights: f16 subnormal block scales and f32 subnormal products
      check(type, lengths(type)[0]!, 8, 1e-6, seed++);
    } finally {
      freeAll();
    }
  });
}

test('mul_mat with no tokens or an empty row range writes nothing', () => {
  try {
    const rand = mulberry32(7);
    const n = 256;
    const { ptr: w, rowBytes } = weights(T.Q4_K, n, rand, 1);
    const { ptr: a, aRowBytes } = activations(T.Q4_K, n, 8, rand);
    const out = alloc(ROWS * 8 * 4);
    const view = () => new Uint32Array(k.u8().buffer, out, ROWS * 8);
    view().fill(SENTINEL);
    fn<MulMatFn>('mul_mat_q4_K')(w, rowBytes, a, aRowBytes, out, ROWS, n, 0, 0, ROWS);
    fn<MulMatFn>('mul_mat_q4_K')(w, rowBytes, a, aRowBytes, out, ROWS, n, 8, 5, 5);
    assert.ok(view().every((v) => v === SENTINEL));
  } finally {
    freeAll();
  }
});

test.run();
