// Llama 4 (Scout 17B-16E, Maverick 17B-128E) text models as llama.cpp runs them:
//   - the llama stack (RMSNorm before each branch, NORM rope with rope_freqs
//     when the file has them, GQA, attention.scale or 1/sqrt(head_dim));
//   - chunked attention: on three layers of four (sliding_window_pattern,
//     default 4; the fourth is global) a token sees only the positions of its
//     own 8192-token chunk, up to itself. llama.cpp fixes the chunk at 8192
//     whatever attention.sliding_window says; those layers take
//     rope.freq_base_swa when the file has one;
//   - no rope on every fourth layer (the global ones): there q is instead
//     multiplied by the attention temperature 1 + 0.1 * ln(floor((pos + 1) /
//     8192) + 1); on the roped layers q and k are RMS-normalised per head
//     after rope, without weights (Llama4TextL2Norm; not for the 128-expert
//     Maverick);
//   - interleaved MoE: every interleave_moe_layer_step-th layer routes each
//     token to n_expert_used experts by the router logits, the sigmoid of
//     the chosen logits weighting the experts' input (not their output), plus
//     a shared expert of expert_feed_forward_length; the other layers are
//     dense SwiGLU.
// Files that write attention.sliding_window = 0 (llama.cpp's unchunked
// variant) are refused.
import { ModelError } from '../errors.js';
import type { Tensor } from '../graph/graph.js';
import type { RopeParams } from '../graph/ops.js';
import { attend, linear, qkvProjections, ROPE_NORM, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder, isSwaLayer } from './decoder.js';
import {
  attention, dim, dims, embeddingsAndHead, experts, ffn, layers, norm, opt,
  type Architecture, type DeclareTensors,
} from './declare.js';
import { moeOrDense, sharedExpert, type MoeOptions } from './ffn.js';

/** llama.cpp's fixed chunk, temperature floor, scale and offset for llama 4. */
export const LLAMA4_CHUNK = 8192;
const TEMP_SCALE = 0.1;
const TEMP_OFFSET = 1;
/** Every n-th layer has no rope (llama.cpp's n_no_rope_layer_step default). */
const NO_ROPE_STEP = 4;

/** What the tests' broken variants switch off; every field true is llama 4. */
export interface Llama4Options {
  chunked: boolean;
  temperature: boolean;
  /** No rope on every fourth layer. */
  noRopeLayers: boolean;
  /** The experts' input weighted (else their output, as other MoE models). */
  weightBeforeFfn: boolean;
}

export const LLAMA4: Llama4Options = { chunked: true, temperature: true, noRopeLayers: true, weightBeforeFfn: true };

export function llama4Graph(o: Llama4Options = LLAMA4) {
  return (c: BuildContext) => {
    const hp = c.hp;
    const period = hp.n_swa_pattern || 4;
    const global = ropeParams(c, ROPE_NORM, c.wOpt('rope_freqs.weight'));
    const local: RopeParams = { ...global, freqBase: hp.rope_freq_base_swa || hp.rope_freq_base };
    const kqNorm = hp.n_expert !== 128;
    const kqScale = hp.f_attention_scale || 1 / Math.sqrt(hp.n_embd_head_k);
    const attentionBlock = (c: BuildContext, il: number, cur: Tensor): Tensor => {
      const { ops } = c;
      const swa = isSwaLayer(il, period);
      const useRope = !o.noRopeLayers || (il + 1) % NO_ROPE_STEP !== 0;
      let { q, k, v } = qkvProjections(c, il, cur);
      if (useRope) {
        const rope = swa ? local : global;
        q = ops.rope(q, c.inpPos, hp.n_head, hp.n_embd_head_k, rope, `Qcur_rope-${il}`);
        k = ops.rope(k, c.inpPos, hp.n_head_kv, hp.n_embd_head_k, rope, `Kcur_rope-${il}`);
        if (kqNorm) {
          q = ops.rmsNorm(ops.heads(q, hp.n_embd_head_k), null, hp.f_norm_rms_eps, `Qcur_normed-${il}`);
          k = ops.rmsNorm(ops.heads(k, hp.n_embd_head_k), null, hp.f_norm_rms_eps, `Kcur_normed-${il}`);
        }
      }
      const temperature = !useRope && o.temperature ? { floor: LLAMA4_CHUNK, scale: TEMP_SCALE, offset: TEMP_OFFSET } : undefined;
      const out = attend(c, il, q, k, v, {
        rope: null, kqScale, temperature, ...(swa && o.chunked ? { nSwa: LLAMA4_CHUNK, chunked: true } : {}),
      });
      return linear(c, `blk.${il}.attn_output`, out, `attn_out-${il}`);
    };
    const moe: MoeOptions = { normWeights: false, weightsScale: hp.expert_weights_scale, gating: 'sigmoid', weightBeforeFfn: o.weightBeforeFfn };
    return buildDecoder(c, { attentionBlock, ffn: moeOrDense(moe, sharedExpert) });
  };
}

export const buildLlama4 = llama4Graph();

const llama4Tensors: DeclareTensors = (hp, file) => {
  const key = (k: string) => `${hp.arch}.${k}`;
  const fail = (what: string, k: string): never => { throw new ModelError(what, file.path, key(k)); };
  if (!(hp.n_expert > 0)) fail(`${hp.arch} cannot have zero experts`, 'expert_count');
  if (!(hp.n_moe_layer_step > 0)) fail(`${hp.arch} needs interleave_moe_layer_step > 0`, 'interleave_moe_layer_step');
  if (!(hp.n_ff_exp > 0)) fail(`${hp.arch} needs expert_feed_forward_length`, 'expert_feed_forward_length');
  if (hp.has_swa_key && hp.n_swa === 0) fail(`${hp.arch} with attention.sliding_window = 0 (no chunked attention) is not supported`, 'attention.sliding_window');
  if (hp.n_embd_head_k !== hp.n_embd_head_v || hp.n_embd_head_k !== hp.n_rot) fail(`${hp.arch} needs key_length = value_length = rope.dimension_count`, 'rope.dimension_count');
  const D = dims(hp);
  const nFFExp = dim('n_ff_exp', hp.n_ff_exp);
  return [
    ...embeddingsAndHead(D, { output: 'optional' }),
    opt('rope_freqs.weight', D.n_rot_half),
    ...layers(hp, (p, il) => [
      ...norm(`${p}.attn_norm`, D),
      ...attention(p, D, file, { qkv: 'either', qkvBias: 'optional' }),
      ...norm(`${p}.ffn_norm`, D),
      ...((il + 1) % hp.n_moe_layer_step === 0
        ? [...experts(p, D, nFFExp), ...ffn(p, D, { gate: 'separate', n_ff: nFFExp, suffix: '_shexp' })]
        : ffn(p, D, { gate: 'separate' })),
    ]),
  ];
};

export const llama4: Architecture = { build: buildLlama4, tensors: llama4Tensors };
