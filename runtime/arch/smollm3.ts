// SmolLM3 (3B): the Llama decoder (RMSNorm, SwiGLU, GQA, rope in NORM mode)
// where every fourth layer has no positional encoding at all: layers
// 3, 7, 11... attend over q and k as projected (NoPE), the others rope them.
// The head is tied to token_embd unless the file has output.weight. Unlike
// llama, llama.cpp passes no rope_freqs here, so the files hold none.
import { ROPE_NORM, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder } from './decoder.js';
import { attention, dims, embeddingsAndHead, ffn, layers, norm, type Architecture, type DeclareTensors } from './declare.js';

/**
 * llama.cpp's n_no_rope_layer_step: fixed at 4 for SmolLM3 by its loader, not
 * read from the file (the converter writes no key for it).
 */
export const SMOLLM3_NO_ROPE_STEP = 4;

/** Whether layer il ropes q and k: all but every `step`-th layer (counting from 1). */
export function smollm3UsesRope(il: number, step = SMOLLM3_NO_ROPE_STEP): boolean {
  return (il + 1) % step !== 0;
}

export function buildSmolLM3(c: BuildContext) {
  const rope = ropeParams(c, ROPE_NORM);
  return buildDecoder(c, { attention: (il) => ({ rope: smollm3UsesRope(il) ? rope : null }) });
}

const smollm3Tensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  return [
    ...embeddingsAndHead(D, { output: 'optional' }),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D),
      // create_tensor_qkv: a fused attn_qkv when the file has one, optional q/k/v biases
      ...attention(p, D, file, { qkv: 'either', qkvBias: 'optional' }),
      ...norm(`${p}.ffn_norm`, D),
      ...ffn(p, D, { gate: 'separate' }),
    ]),
  ];
};

export const smollm3: Architecture = { build: buildSmolLM3, tensors: smollm3Tensors };
