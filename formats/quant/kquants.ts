// The k-quant reference codecs (256-element super-blocks), one file per
// type; the scale searches they share are in kquant-search.ts.
import { GGMLType } from '../ggml-types.js';
import type { BlockCodec } from './codec.js';
import { Q2_K_CODEC } from './kquant-q2_k.js';
import { Q3_K_CODEC } from './kquant-q3_k.js';
import { Q4_K_CODEC } from './kquant-q4_k.js';
import { Q5_K_CODEC } from './kquant-q5_k.js';
import { Q6_K_CODEC } from './kquant-q6_k.js';
import { Q8_K_CODEC } from './kquant-q8_k.js';

export const KQUANT_CODECS: Partial<Record<GGMLType, BlockCodec>> = {
  [GGMLType.Q2_K]: Q2_K_CODEC,
  [GGMLType.Q3_K]: Q3_K_CODEC,
  [GGMLType.Q4_K]: Q4_K_CODEC,
  [GGMLType.Q5_K]: Q5_K_CODEC,
  [GGMLType.Q6_K]: Q6_K_CODEC,
  [GGMLType.Q8_K]: Q8_K_CODEC,
};
