// Qwen 1.5 / 2 / 2.5: the Llama decoder with biases on q, k and v, rotary
// embeddings in NEOX mode (halves rotated, not adjacent pairs), and an
// optional output bias. Qwen3 is the same without the biases and with an
// RMSNorm on each head of q and k before rope (attn_q_norm, attn_k_norm):
// the shared attention block applies whichever of these the file has.
import { ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { preNormDecoder } from './decoder.js';

export function buildQwen2(c: BuildContext) {
  return preNormDecoder(c, ropeParams(c, ROPE_NEOX));
}

export const buildQwen3 = buildQwen2;
