// Mistral 3 text models as llama.cpp's "mistral3" runs them (Ministral 3
// 3B/8B/14B, Mistral Small 3.x converted with the mistral3 architecture):
// the Llama decoder (RMSNorm, NORM rope with rope_freqs when present, GQA,
// SwiGLU, optional attn_output and FFN biases, tied or untied head) plus
// two settings from the file:
//   - llama 4's attention temperature (attention.temperature_scale): q, after
//     rope, times 1 + scale * ln(floor(pos / n_ctx_orig) + 1), so from each
//     multiple of the original context on attention sharpens a step;
//   - yarn with rope.scaling.yarn_log_multiplier (mscale_all_dim), which sets
//     rope's attention factor (runtime/hparams.ts reads it for every file).
// A file with experts runs llama.cpp's mistral3 MoE branch: a softmax router,
// top-k experts renormalised. Its loader also takes Granite-style shared
// expert tensors but the graph never reads them; we do the same.
import { ROPE_NORM, ropeParams, type AttentionOptions } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder } from './decoder.js';
import type { Architecture, DeclareTensors } from './declare.js';
import { ModelError } from '../errors.js';
import { llamaTensorsWith } from './llama.js';
import { moeOrDense } from './ffn.js';

/** Layer il's attention: llama's, plus the temperature when the file asks for it. */
export function mistral3Attention(c: BuildContext): (il: number) => AttentionOptions {
  const hp = c.hp;
  const rope = ropeParams(c, ROPE_NORM, c.wOpt('rope_freqs.weight'));
  // llama.cpp takes the floor from n_ctx_orig_yarn and no position offset for mistral3
  // (and ignores attention.scale: q·k is scaled by 1/sqrt(head_dim))
  const temperature = hp.f_attn_temp_scale !== 0 ? { floor: hp.n_ctx_orig_yarn, scale: hp.f_attn_temp_scale, offset: 0 } : undefined;
  return () => ({ rope, temperature });
}

export function buildMistral3(c: BuildContext) {
  return buildDecoder(c, {
    attention: mistral3Attention(c),
    ffn: c.hp.n_expert > 0 ? moeOrDense({ normWeights: true }) : undefined,
  });
}

const llamaLayout = llamaTensorsWith({ qkv: 'either' });

const mistral3Tensors: DeclareTensors = (hp, file) => {
  if (hp.f_attn_temp_scale !== 0 && hp.n_ctx_orig_yarn === 0) {
    throw new ModelError('invalid n_ctx_orig_yarn for attention temperature scaling', file.path, `${hp.arch}.rope.scaling.original_context_length`);
  }
  return llamaLayout(hp, file);
};

export const mistral3: Architecture = { build: buildMistral3, tensors: mistral3Tensors };
