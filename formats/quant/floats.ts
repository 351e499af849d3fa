// Plain float "codecs": f32, f16 and bf16 rows, stored little-endian as GGUF
// and ggml keep them. Quantizing f16/bf16 is ggml's from_float_ref for those
// types (ggml_fp32_to_fp16_row, ggml_fp32_to_bf16_row_ref); see formats/f16.ts
// for the rounding rules.
//
// Everything goes through 32-bit patterns rather than JS numbers so that nan
// payloads and -0 survive. Byte order: the typed-array views below are
// platform-endian, and every JS engine this runs on (x86, ARM, WASM) is
// little-endian, like the file format.

import { GGMLType } from '../ggml-types.js';
import { fp16BitsToFp32Bits, fp32BitsToBf16, fp32BitsToFp16 } from '../f16.js';
import type { BlockCodec } from './codec.js';

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function checkBytes(name: string, n: number, bytes: number, size: number): void {
  if (bytes < n * size) throw new RangeError(`${name}: ${n} elements need ${n * size} bytes, got ${bytes}`);
}

const F32_CODEC: BlockCodec = {
  quantize(src, dst) {
    checkBytes('f32', src.length, dst.length, 4);
    dst.set(new Uint8Array(src.buffer, src.byteOffset, src.length * 4));
  },
  dequantize(src, dst) {
    checkBytes('f32', dst.length, src.length, 4);
    new Uint8Array(dst.buffer, dst.byteOffset, dst.length * 4).set(src.subarray(0, dst.length * 4));
  },
};

/** A 16-bit float type: conversion of one f32 bit pattern to 16 bits, and back. */
function halfCodec(name: string, encode: (w: number) => number, decode: (h: number) => number): BlockCodec {
  return {
    quantize(src, dst) {
      checkBytes(name, src.length, dst.length, 2);
      const w = bitsOf(src);
      for (let i = 0; i < w.length; i++) {
        const h = encode(w[i]!);
        dst[2 * i] = h & 0xff;
        dst[2 * i + 1] = h >>> 8;
      }
    },
    dequantize(src, dst) {
      checkBytes(name, dst.length, src.length, 2);
      const w = bitsOf(dst);
      for (let i = 0; i < w.length; i++) w[i] = decode(src[2 * i]! | (src[2 * i + 1]! << 8));
    },
  };
}

export const FLOAT_CODECS: Partial<Record<GGMLType, BlockCodec>> = {
  [GGMLType.F32]: F32_CODEC,
  [GGMLType.F16]: halfCodec('f16', fp32BitsToFp16, fp16BitsToFp32Bits),
  [GGMLType.BF16]: halfCodec('bf16', fp32BitsToBf16, (h) => h << 16),
};
