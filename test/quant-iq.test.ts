// The reference codecs of iq4_nl, iq4_xs, mxfp4, tq1_0 and tq2_0
// (formats/quant/iq4.ts, mxfp4.ts, ternary.ts) against ggml itself: the
// libggml-base node-llama-cpp ships, through koffi (test/helpers/ggml-quants.ts).
// - dequantize equals type_traits.to_float bit for bit on random bytes
//   (every code, every scale field; nan equals nan, as an f32 store may
//   change a nan's payload) and on rows ggml quantized;
// - quantizeRow's bytes equal ggml_quantize_chunk's (no imatrix), and
//   quantizeRowWeighted's equal ggml_quantize_chunk's with an imatrix, on
//   rows of many shapes: gaussian at 1, 1e4, 1e-6, outliers, zero blocks,
//   constants, magnitude ties, values around powers of two (mxfp4's exponent
//   boundary), near FLT_MAX and in the f32 subnormal range;
// - from_float_ref: the same bytes for the types whose reference is their
//   quantizer, and quantizeIq4NlNoSearch's for iq4_nl.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { dequantizeRow, quantizeRow, quantizeRowWeighted } from '../formats/quant/index.js';
import { quantizeIq4NlNoSearch } from '../formats/quant/iq4.js';
import { ggmlQuants } from './helpers/ggml-quants.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const T = GGMLType;
const TYPES = [T.IQ4_NL, T.IQ4_XS, T.MXFP4, T.TQ1_0, T.TQ2_0] as const;
const WEIGHTED = new Set<GGMLType>([T.IQ4_NL, T.IQ4_XS]);
const N = 1024; // four super-blocks, 32 small blocks
const name = (t: GGMLType) => ggmlTypeInfo(t)!.name;

const oracle = await ggmlQuants();

/** Offsets of every f16 scale in a block of `type`, to keep random scales finite where asked. */
const F16_AT: Record<number, number[]> = { [T.IQ4_NL]: [0], [T.IQ4_XS]: [0], [T.TQ1_0]: [52], [T.TQ2_0]: [64], [T.MXFP4]: [] };

function randomBytes(type: GGMLType, n: number, seed: number, finite: boolean): Uint8Array {
  const rand = mulberry32(seed);
  const { typeSize, blockSize } = ggmlTypeInfo(type)!;
  const b = new Uint8Array((n / blockSize) * typeSize);
  for (let i = 0; i < b.length; i++) b[i] = (rand() * 256) | 0;
  if (finite) for (let i = 0; i < n / blockSize; i++) for (const o of F16_AT[type]!) b[i * typeSize + o + 1]! &= 0xbb;
  return b;
}

function rows(seed: number): { label: string; x: Float32Array }[] {
  const rand = mulberry32(seed);
  const g = (s = 1) => gaussian(rand, N, s);
  const out = [
    { label: 'gaussian', x: g() },
    { label: 'gaussian 1e4', x: g(1e4) },
    { label: 'gaussian 1e-6', x: g(1e-6) },
    { label: 'gaussian 1e-20', x: g(1e-20) },
  ];
  {
    const x = g();
    for (let i = 3; i < N; i += 37) x[i]! *= 50;
    out.push({ label: 'outliers', x });
  }
  {
    const x = g();
    x.fill(0, 256, 512); // a zero super-block
    x.fill(0, 40, 72); // a zero 32-block straddling two blocks
    x.fill(1e-17, 600, 632); // below iq4's GROUP_MAX_EPS
    out.push({ label: 'zero blocks', x });
  }
  out.push({ label: 'constant', x: new Float32Array(N).fill(-0.375) });
  out.push({ label: 'all zero', x: new Float32Array(N) });
  {
    const x = new Float32Array(N);
    for (let i = 0; i < N; i++) x[i] = 1 + 3 * rand();
    out.push({ label: 'positive', x });
  }
  {
    const x = g(0.1);
    for (let b = 0; b < N / 32; b++) {
      x[b * 32 + 3] = 2;
      x[b * 32 + 20] = -2;
    }
    out.push({ label: 'magnitude ties', x });
  }
  {
    // maxima exactly at, just under and just over powers of two, over a wide range of exponents
    const x = g(0.01);
    const u = new Uint32Array(1);
    const f = new Float32Array(u.buffer);
    for (let b = 0; b < N / 32; b++) {
      u[0] = ((b * 7 + 60) << 23) + [0, -1, 1, -3][b % 4]!;
      x[b * 32 + (b % 32)] = (b % 2 ? -1 : 1) * f[0]!;
      for (let j = 0; j < 32; j++) if (j !== b % 32) x[b * 32 + j]! *= f[0]!;
    }
    out.push({ label: 'powers of two', x });
  }
  out.push({ label: 'near FLT_MAX', x: g(1e37) });
  {
    const x = g(1e-39);
    x[5] = 3e-45;
    out.push({ label: 'f32 subnormals', x });
  }
  {
    // exact halves: trits at +-0.5, iq4 levels at midpoints
    const x = new Float32Array(N);
    for (let i = 0; i < N; i++) x[i] = [1, 0.5, -0.5, -1, 0.25, 0][i % 6]!;
    out.push({ label: 'halves', x });
  }
  return out;
}

/** A 32-block whose largest magnitude is below iq4's GROUP_MAX_EPS (1e-15). */
function hasTinyBlock(x: Float32Array): boolean {
  for (let b = 0; b < x.length; b += 32) if (x.subarray(b, b + 32).every((v) => Math.abs(v) < 1e-15)) return true;
  return false;
}

function sameFloats(got: Float32Array, want: Float32Array, what: string): void {
  const gb = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const wb = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < want.length; i++) {
    if (gb[i] !== wb[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      assert.unreachable(`${what}: element ${i} is ${got[i]} (0x${gb[i]!.toString(16)}), ggml gives ${want[i]} (0x${wb[i]!.toString(16)})`);
    }
  }
}

function sameBytes(got: Uint8Array, want: Uint8Array, what: string, typeSize: number): void {
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      assert.unreachable(`${what}: byte ${i} (block ${Math.floor(i / typeSize)}, offset ${i % typeSize}) is ${got[i]}, ggml writes ${want[i]}`);
    }
  }
}

if (typeof oracle === 'string') {
  test('reference codecs against ggml (skipped)', () => {
    console.log(`  skip: ${oracle}`);
  });
} else {
  const o = oracle;
  for (const type of TYPES) {
    const { typeSize } = ggmlTypeInfo(type)!;
    test(`${name(type)}: dequantize equals ggml's to_float bit for bit`, () => {
      assert.is(o.requiresImatrix(type), false);
      for (let s = 0; s < 6; s++) {
        const bytes = randomBytes(type, N, 0x1000 + 17 * type + s, s % 2 === 0);
        sameFloats(dequantizeRow(type, bytes, N), o.dequantize(type, bytes, N), `random bytes, seed ${s}`);
      }
      for (const { label, x } of rows(0x77 + type)) {
        const bytes = o.quantizeChunk(type, x, N);
        sameFloats(dequantizeRow(type, bytes, N), o.dequantize(type, bytes, N), `ggml-quantized ${label}`);
      }
    });

    test(`${name(type)}: quantizeRow writes ggml_quantize_chunk's bytes`, () => {
      for (const { label, x } of rows(0x99 + type)) {
        // three rows of N/4 in one call, as llama-quantize hands them over, and one row
        sameBytes(quantizeRow(type, x), o.quantizeChunk(type, x, N), label, typeSize);
        const want = o.quantizeChunk(type, x, N / 4);
        for (let r = 0; r < 4; r++) {
          const got = quantizeRow(type, x.subarray((r * N) / 4, ((r + 1) * N) / 4));
          sameBytes(got, want.subarray(r * got.length, (r + 1) * got.length), `${label}, row ${r} of 4`, typeSize);
        }
      }
    });

    test(`${name(type)}: from_float_ref`, () => {
      for (const { label, x } of rows(0x55 + type)) {
        if (type === T.IQ4_NL) {
          // ggml leaves a below-GROUP_MAX_EPS block's codes as the previous block's (or uninitialised): skip those rows
          if (hasTinyBlock(x)) continue;
          const got = new Uint8Array(rowSize(type, N));
          quantizeIq4NlNoSearch(x, got);
          sameBytes(got, o.quantizeRef(type, x), label, typeSize);
        } else {
          sameBytes(quantizeRow(type, x), o.quantizeRef(type, x), label, typeSize);
        }
      }
    });

    test(`${name(type)}: quantizeRowWeighted writes ggml_quantize_chunk's bytes with an imatrix`, () => {
      const rand = mulberry32(0x3131 + type);
      for (const { label, x } of rows(0x1234 + type)) {
        const imat = new Float32Array(N / 2);
        for (let i = 0; i < imat.length; i++) imat[i] = i % 11 === 0 ? 0 : rand() ** 3 * 10;
        const got = new Uint8Array(rowSize(type, N));
        for (let r = 0; r < 2; r++) {
          const row = x.subarray((r * N) / 2, ((r + 1) * N) / 2);
          got.set(quantizeRowWeighted(type, row, imat), (r * got.length) / 2);
        }
        const want = o.quantizeChunk(type, x, N / 2, imat);
        if (!WEIGHTED.has(type)) sameBytes(want, o.quantizeChunk(type, x, N / 2), `${label}: ggml ignores the imatrix`, typeSize);
        sameBytes(got, want, label, typeSize);
      }
    });
  }
}

test.run();
