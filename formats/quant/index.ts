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
import { IQ_GRID_QUANTIZERS, type GridQuantizer } from './iq-grid-quantize.js';
import { IQ1_QUANTIZERS } from './iq1-quantize.js';

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
 * The grid i-quants: no BlockCodec, as their quantizers take importance
 * weights (quantizeRowWeighted); quantizeRow gives ggml's quantizer without
 * weights where ggml has one (iq3_xxs, iq3_s, iq2_s, iq1_m) and refuses the
 * others (iq2_xxs, iq2_xs, iq1_s), as ggml_quantize_chunk does.
 */
const DEQUANTIZERS: Partial<Record<GGMLType, (src: Uint8Array, dst: Float32Array) => void>> = {
  ...IQ1_DEQUANTIZERS,
  ...IQ2_DEQUANTIZERS,
  ...IQ3_DEQUANTIZERS,
};

const GRID_QUANTIZERS: Partial<Record<GGMLType, GridQuantizer>> = {
  ...IQ_GRID_QUANTIZERS,
  ...IQ1_QUANTIZERS,
};

/** ggml's quantizer of a grid i-quant, taking the imatrix row (weighted.ts). */
export function gridQuantizer(type: GGMLType): GridQuantizer | undefined {
  return GRID_QUANTIZERS[type];
}

/** Types with a reference dequantizer but no BlockCodec: the grid i-quants (quantized through gridQuantizer). */
export function dequantizeOnlyTypes(): GGMLType[] {
  return Object.keys(DEQUANTIZERS).map(Number) as GGMLType[];
}

/** Types with a reference codec here. */
export function referenceTypes(): GGMLType[] {
  return Object.keys(CODECS).map(Number) as GGMLType[];
}

/** Types this module both dequantizes and quantizes (the grid i-quants some only with importance weights). */
export function quantizableTypes(): GGMLType[] {
  return [...referenceTypes(), ...(Object.keys(GRID_QUANTIZERS).map(Number) as GGMLType[])];
}

function codecFor(type: GGMLType): BlockCodec {
  const codec = CODECS[type];
  if (!codec) {
    const name = ggmlTypeInfo(type)?.name ?? `type ${type}`;
    throw new RangeError(`no reference codec for ${name}`);
  }
  return codec;
}

/** Quantize one row of f32 values to `type` blocks (ggml's reference quantizer). */
export function quantizeRow(type: GGMLType, src: Float32Array): Uint8Array {
  const dst = new Uint8Array(rowSize(type, src.length));
  const grid = GRID_QUANTIZERS[type];
  if (grid) grid(src, dst, undefined);
  else codecFor(type).quantize(src, dst);
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
