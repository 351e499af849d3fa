// The oracle for the WASM dot-product kernels: the exact meaning of
// vec_dot(w, a), free of any summation order. Kernels sum in float32 in their
// own order, so tests compare against this within a rounding bound.

import { GGMLType } from '../ggml-types.js';
import { dequantizeRow, quantizeRow } from './index.js';

/**
 * sum_i dequant(w)_i * dequant(a)_i over n elements, each product and the
 * sum in float64 (every product of two float32 values is exact in float64,
 * so the only error is the float64 summation, far below the kernels').
 */
export function referenceVecDot(wType: GGMLType, wBytes: Uint8Array, aType: GGMLType, aBytes: Uint8Array, n: number): number {
  const w = dequantizeRow(wType, wBytes, n);
  const a = dequantizeRow(aType, aBytes, n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += w[i]! * a[i]!;
  return sum;
}

/** The activation row as ggml hands it to vec_dot: quantized to vecDotType. */
export function quantizeActivation(vecDotType: GGMLType, f32: Float32Array): Uint8Array {
  return quantizeRow(vecDotType, f32);
}
