// gpt-oss (gpt-oss-20b, gpt-oss-120b; llama.cpp's LLM_ARCH_OPENAI_MOE):
//   - pre-norm decoder, RMSNorm; the norm before the FFN is stored as
//     post_attention_norm; untied LM head.
//   - attention: q/k/v/output projections all with biases, GQA, NEOX rope
//     (YaRN-scaled in the released files), scale 1/sqrt(head_dim), and one
//     learned sink logit per head (attn_sinks) in each softmax's denominator.
//   - sliding window (attention.sliding_window, 128) on alternate layers,
//     the first one sliding: llama.cpp's swa pattern of period 2, which
//     sliding_window_pattern may override; sliding layers take
//     rope.freq_base_swa when the file has one.
//   - every layer's FFN is a mixture of experts: the router has a bias; the
//     top n_expert_used router logits are picked and their softmax is the
//     weights (SOFTMAX_WEIGHT gating, no renormalisation); each expert's
//     gate/up/down carry per-expert biases and the GLU is swiglu_oai
//     (clamped at 7, sigmoid(1.702 x), times up + 1).
import { ModelError } from '../errors.js';
import type { RopeParams } from '../graph/ops.js';
import { ROPE_NEOX, ropeParams, type AttentionOptions } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder, isSwaLayer, sequential } from './decoder.js';
import {
  dim, dims, embeddingsAndHead, layers, norm, req, requireExperts,
  type Architecture, type DeclareTensors,
} from './declare.js';
import { buildMoeFfn, type MoeOptions } from './ffn.js';

/** What the test's broken variants switch off; every field true is gpt-oss. */
export interface GptOssOptions {
  sinks: boolean;
  slidingWindow: boolean;
  /** swiglu_oai (else plain SwiGLU). */
  swigluOai: boolean;
  /** SOFTMAX_WEIGHT gating (else softmax over all experts, then top k). */
  softmaxWeight: boolean;
}

export const GPT_OSS: GptOssOptions = { sinks: true, slidingWindow: true, swigluOai: true, softmaxWeight: true };

/** The gpt-oss graph, or (for tests) a variant with some of its features off. */
export function gptOssGraph(o: GptOssOptions = GPT_OSS) {
  return (c: BuildContext) => {
    const hp = c.hp;
    const period = hp.n_swa_pattern || 2;
    const global = ropeParams(c, ROPE_NEOX);
    const local: RopeParams = { ...global, freqBase: hp.rope_freq_base_swa || hp.rope_freq_base };
    const moe: MoeOptions = {
      normWeights: false,
      gating: o.softmaxWeight ? 'softmax-weight' : 'softmax',
      act: o.swigluOai ? 'swiglu-oai' : 'silu',
    };
    return buildDecoder(c, {
      layer: sequential({ ffnNorm: 'post_attention_norm' }),
      attention: (il): AttentionOptions => {
        const sinks = o.sinks ? c.w(`blk.${il}.attn_sinks.weight`) : undefined;
        // llama.cpp scales by 1/sqrt(n_rot), which is the head size in these files
        const kqScale = 1 / Math.sqrt(hp.n_rot);
        return o.slidingWindow && isSwaLayer(il, period)
          ? { rope: local, kqScale, sinks, nSwa: hp.n_swa }
          : { rope: global, kqScale, sinks };
      },
      ffn: (c, il, cur) => buildMoeFfn(c, il, cur, moe),
    });
  };
}

export const buildGptOss = gptOssGraph();

const gptOssTensors: DeclareTensors = (hp, file) => {
  requireExperts(hp, file);
  // llama.cpp requires the window size for this architecture (no default)
  if (!(hp.n_swa > 0)) throw new ModelError(`${hp.arch} needs ${hp.arch}.attention.sliding_window > 0`, file.path, `${hp.arch}.attention.sliding_window`);
  const D = dims(hp);
  // llama.cpp sizes q/k/v by n_rot (the head size) and each expert by n_ff_exp
  const q = dim('n_head*n_rot', hp.n_head * hp.n_rot);
  const kv = dim('n_head_kv*n_rot', hp.n_head_kv * hp.n_rot);
  const nFF = dim('n_ff_exp', hp.n_ff_exp);
  return [
    ...embeddingsAndHead(D, { output: 'required' }),
    ...layers(hp, (p) => [
      ...norm(`${p}.attn_norm`, D),
      ...norm(`${p}.post_attention_norm`, D),
      req(`${p}.attn_q.weight`, D.n_embd, q),
      req(`${p}.attn_k.weight`, D.n_embd, kv),
      req(`${p}.attn_v.weight`, D.n_embd, kv),
      req(`${p}.attn_output.weight`, q, D.n_embd),
      req(`${p}.attn_sinks.weight`, D.n_head),
      req(`${p}.ffn_gate_inp.weight`, D.n_embd, D.n_expert),
      req(`${p}.ffn_gate_exps.weight`, D.n_embd, nFF, D.n_expert),
      req(`${p}.ffn_down_exps.weight`, nFF, D.n_embd, D.n_expert),
      req(`${p}.ffn_up_exps.weight`, D.n_embd, nFF, D.n_expert),
      req(`${p}.attn_q.bias`, q),
      req(`${p}.attn_k.bias`, kv),
      req(`${p}.attn_v.bias`, kv),
      req(`${p}.attn_output.bias`, D.n_embd),
      req(`${p}.ffn_gate_inp.bias`, D.n_expert),
      req(`${p}.ffn_gate_exps.bias`, nFF, D.n_expert),
      req(`${p}.ffn_down_exps.bias`, D.n_embd, D.n_expert),
      req(`${p}.ffn_up_exps.bias`, nFF, D.n_expert),
    ]),
  ];
};

export const gptOss: Architecture = { build: buildGptOss, tensors: gptOssTensors };
