// Llama (1, 2, 3.x), Mistral, TinyLlama, SmolLM...: the pre-norm decoder with
// RMSNorm, rotary embeddings in NORM mode (llama3: rope_freqs as frequency
// factors), grouped-query attention and a SwiGLU feed-forward.
import { ROPE_NORM, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { preNormDecoder } from './decoder.js';

export function buildLlama(c: BuildContext) {
  return preNormDecoder(c, ropeParams(c, ROPE_NORM, c.wOpt('rope_freqs.weight')));
}
