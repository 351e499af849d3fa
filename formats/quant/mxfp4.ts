// MXFP4 (the OCP microscaling 4-bit float): 32 elements per block, one
// shared E8M0 exponent byte e and 16 bytes of 4-bit E2M1 codes (byte j:
// element j in the low nibble, element j + 16 in the high one).
//
// ggml keeps the E2M1 values doubled, as integers (MXFP4_LEVELS: sign bit 3,
// magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6 times two), and halves the scale to
// match: x = L[q] * 2^(e - 128) (ggml_e8m0_to_fp32_half; e = 0 and 1 give the
// subnormals 2^-128 and 2^-127, e = 255 gives +inf: ggml does not special-case it).
//
// The quantizer is quantize_row_mxfp4_ref: e = floor(log2(amax)) - 2 + 127
// (the largest magnitude lands in [4, 8) times the half scale, i.e. near the
// top level 12), then each element takes the level nearest to it (the first
// one on ties, so 0 wins over -0). ggml has no imatrix variant.

import { GGMLType } from '../ggml-types.js';
import type { BlockCodec } from './codec.js';

const f32 = Math.fround;

/** ggml's kvalues_mxfp4: E2M1 values times two, indexed by the 4-bit code. */
export const MXFP4_LEVELS: readonly number[] = Object.freeze([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]);

const QK = 32;
const BYTES = 1 + QK / 2;

const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);

/** ggml_e8m0_to_fp32_half: 2^(e - 128) as a float32 (subnormal for e < 2). */
export function e8m0Half(e: number): number {
  bits[0] = e < 2 ? 0x00200000 << e : (e - 1) << 23;
  return asFloat[0]!;
}

/**
 * float -> uint8_t as gcc does it on x86-64 (cvttss2si to 32 bits, low byte):
 * only reached with out-of-range values when amax is inf (exponent 0) or
 * below 2^-125 (it wraps, as in ggml).
 */
function toU8(v: number): number {
  const i = v > -2147483649 && v < 2147483648 ? Math.trunc(v) : -2147483648;
  return i & 0xff;
}

function blockCount(name: string, n: number, bytes: number): number {
  if (n % QK !== 0) throw new RangeError(`${name}: ${n} elements is not a multiple of ${QK}`);
  const nb = n / QK;
  if (bytes < nb * BYTES) throw new RangeError(`${name}: ${n} elements need ${nb * BYTES} bytes, got ${bytes}`);
  return nb;
}

/** best_index_mxfp4: the first code whose level times d is nearest to x, in float32 steps. */
function bestCode(x: number, d: number): number {
  let best = 0;
  let bestErr = Math.abs(f32(f32(MXFP4_LEVELS[0]! * d) - x));
  for (let i = 1; i < 16; i++) {
    const err = Math.abs(f32(f32(MXFP4_LEVELS[i]! * d) - x));
    if (err < bestErr) {
      best = i;
      bestErr = err;
    }
  }
  return best;
}

function quantizeMxfp4(src: Float32Array, dst: Uint8Array): void {
  const nb = blockCount('mxfp4', src.length, dst.length);
  for (let i = 0; i < nb; i++) {
    const x = i * QK;
    let amax = 0;
    for (let j = 0; j < QK; j++) if (amax < Math.abs(src[x + j]!)) amax = Math.abs(src[x + j]!);
    // log2f rounded to float32; floorf(...) - 2 + 127 is exact in float
    const e = amax > 0 ? toU8(Math.floor(f32(Math.log2(amax))) - 2 + 127) : 0;
    const d = e8m0Half(e);
    const y = i * BYTES;
    dst[y] = e;
    for (let j = 0; j < QK / 2; j++) dst[y + 1 + j] = bestCode(src[x + j]!, d) | (bestCode(src[x + QK / 2 + j]!, d) << 4);
  }
}

function dequantizeMxfp4(src: Uint8Array, dst: Float32Array): void {
  const nb = blockCount('mxfp4', dst.length, src.length);
  for (let i = 0; i < nb; i++) {
    const y = i * BYTES;
    const d = e8m0Half(src[y]!);
    for (let j = 0; j < QK / 2; j++) {
      const q = src[y + 1 + j]!;
      dst[i * QK + j] = f32(MXFP4_LEVELS[q & 0xf]! * d);
      dst[i * QK + j + QK / 2] = f32(MXFP4_LEVELS[q >> 4]! * d);
    }
  }
}

export const MXFP4_CODECS: Partial<Record<GGMLType, BlockCodec>> = {
  [GGMLType.MXFP4]: { quantize: quantizeMxfp4, dequantize: dequantizeMxfp4 },
};
