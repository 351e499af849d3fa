// Scalar reference quantize/dequantize for every computable ggml type.
import { GGMLType, ggmlTypeInfo, rowSize } from '../ggml-types.js';
import type { BlockCodec } from './codec.js';
import { FLOAT_CODECS } from './floats.js';
import { LEGACY_CODECS } from './legacy.js';
import { KQUANT_CODECS } from './kquants.js';
import { IQ1_DEQUANTIZERS } from './iq1.js';
import { IQ2_DEQUANTIZERS } from './iq2.js';
import { IQ3_DEQUANTIZERS } from './iq3.js';
import { IQ4_CODECS } from './iq4.js';
import { MXFP4_CODECS } from './mxfp4.js';
import { TERNARY_CODECS } from './ternary.js';

export type { BlockCodec } from './codec.js';
export { quantizeRowWeighted, weightedTypes } from './weighted.js';

const CODECS: Partial<Record<GGMLType, BlockCodec>> = {
  ...FLOAT_CODECS,
  ...LEGACY_CODECS,
  ...KQUANT_CODECS,
  ...IQ4_CODECS,
  ...MXFP4_CODECS,
  ...TERNARY_CODECS,
};

/**
 * Types read but not yet written here: the grid i-quants, whose quantizers
 * need an importance matrix and ggml's grid-search tables.
 */
const DEQUANTIZERS: Partial<Record<GGMLType, (src: Uint8Array, dst: Float32Array) => void>> = {
  ...IQ1_DEQUANTIZERS,
  ...IQ2_DEQUANTIZERS,
  ...IQ3_DEQUANTIZERS,
};

/** Types with a reference dequantizer but no quantizer here. */
export function dequantizeOnlyTypes(): GGMLType[] {
  return Object.keys(DEQUANTIZERS).map(Number) as GGMLType[];
}

/** Types with a reference codec here. */
export function referenceTypes(): GGMLType[] {
  return Object.keys(CODECS).map(Number) as GGMLType[];
}

function codecFor(type: GGMLType): BlockCodec {
  const codec = CODECS[type];
  if (!codec) {
    const name = ggmlTypeInfo(type)?.name ?? `type ${type}`;
    if (DEQUANTIZERS[type]) throw new RangeError(`no reference codec for ${name}: it is dequantized here but not quantized yet`);
    throw new RangeError(`no reference codec for ${name}`);
  }
  return codec;
}

/** Quantize one row of f32 values to `type` blocks (ggml's reference quantizer). */
export function quantizeRow(type: GGMLType, src: Float32Array): Uint8Array {
  const dst = new Uint8Array(rowSize(type, src.length));
  codecFor(type).quantize(src, dst);
  return dst;
}

/** Dequantize `n` elements of `type` blocks to f32. */
export function dequantizeRow(type: GGMLType, src: Uint8Array, n: number): Float32Array {
  const need = rowSize(type, n);
  if (src.length < need) throw new RangeError(`dequantizeRow: ${n} elements need ${need} bytes, got ${src.length}`);
  const dst = new Float32Array(n);
  const only = DEQUANTIZERS[type];
  if (only) only(src.subarray(0, need), dst);
  else codecFor(type).dequantize(src.subarray(0, need), dst);
  return dst;
}
