// Qwen 1.5 / 2 / 2.5: the Llama decoder with biases on q, k and v, rotary
// embeddings in NEOX mode (halves rotated, not adjacent pairs), and an
// optional output bias.
import { ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { preNormDecoder } from './decoder.js';

export function buildQwen2(c: BuildContext) {
  return preNormDecoder(c, ropeParams(c, ROPE_NEOX));
}
