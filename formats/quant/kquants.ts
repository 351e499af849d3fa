import type { GGMLType } from '../ggml-types.js';
import type { BlockCodec } from './codec.js';

// TODO(helper): filled in by the quant reference work.
export const KQUANT_CODECS: Partial<Record<GGMLType, BlockCodec>> = {};
