// Quantizing a row with importance weights, as ggml_quantize_chunk does when
// it is given an imatrix: the k-quants and q4_0/q4_1/q5_0/q5_1 run their
// *_impl quantizers, iq4_nl/iq4_xs weight their scale search, and the grid i-quants
// (iq1/iq2/iq3) their grid search; every other
// type (q8_0, f16, bf16, f32, mxfp4, tq1_0, tq2_0...) ignores the weights in
// ggml, so it gets the reference quantizer here too.
import { GGMLType, ggmlTypeInfo, rowSize } from '../ggml-types.js';
import { quantizeRow } from './index.js';
import { IQ_GRID_QUANTIZERS } from './iq-grid-quantize.js';
import { IQ1_QUANTIZERS } from './iq1-quantize.js';
import { KQUANT_WEIGHTED, type WeightedQuantizer } from './kquant-weighted.js';
import { LEGACY_WEIGHTED } from './legacy-weighted.js';
import { IQ4_WEIGHTED } from './iq4.js';

const WEIGHTED: Partial<Record<GGMLType, WeightedQuantizer>> = {
  [GGMLType.Q2_K]: KQUANT_WEIGHTED.quantizeQ2K,
  [GGMLType.Q3_K]: KQUANT_WEIGHTED.quantizeQ3K,
  [GGMLType.Q4_K]: KQUANT_WEIGHTED.quantizeQ4K,
  [GGMLType.Q5_K]: KQUANT_WEIGHTED.quantizeQ5K,
  [GGMLType.Q6_K]: KQUANT_WEIGHTED.quantizeQ6K,
  [GGMLType.Q4_0]: LEGACY_WEIGHTED.quantizeQ4_0,
  [GGMLType.Q4_1]: LEGACY_WEIGHTED.quantizeQ4_1,
  [GGMLType.Q5_0]: LEGACY_WEIGHTED.quantizeQ5_0,
  [GGMLType.Q5_1]: LEGACY_WEIGHTED.quantizeQ5_1,
  [GGMLType.IQ4_NL]: IQ4_WEIGHTED.quantizeIq4Nl,
  [GGMLType.IQ4_XS]: IQ4_WEIGHTED.quantizeIq4Xs,
};
for (const [t, q] of Object.entries({ ...IQ_GRID_QUANTIZERS, ...IQ1_QUANTIZERS })) WEIGHTED[Number(t) as GGMLType] = q;

/** Types whose quantizer uses importance weights (the others ignore them, as in ggml). */
export function weightedTypes(): GGMLType[] {
  return Object.keys(WEIGHTED).map(Number) as GGMLType[];
}

/**
 * One row quantized to `type` with one importance weight per column
 * (llama-quantize's imatrix values for this tensor: in_sum2 / count), as
 * ggml_quantize_chunk(type, ..., imatrix) writes it.
 */
export function quantizeRowWeighted(type: GGMLType, src: Float32Array, weights: Float32Array): Uint8Array {
  const q = WEIGHTED[type];
  if (!q) return quantizeRow(type, src);
  if (weights.length !== src.length) {
    throw new RangeError(`quantizeRowWeighted(${ggmlTypeInfo(type)!.name}): ${weights.length} weights for a row of ${src.length}`);
  }
  const dst = new Uint8Array(rowSize(type, src.length));
  q(src, dst, weights);
  return dst;
}
