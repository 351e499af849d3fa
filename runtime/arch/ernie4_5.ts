// Baidu ERNIE 4.5 text models as llama.cpp runs them.
//   ernie4_5     (ERNIE-4.5-0.3B): the Llama decoder (RMSNorm, NORM rope
//                without rope_freqs, GQA, SwiGLU), tied or untied head.
//   ernie4_5-moe (ERNIE-4.5-21B-A3B, 300B-A47B): the same attention; the
//                first leading_dense_block_count layers keep a dense SwiGLU
//                FFN, the others route each token to n_expert_used of
//                n_expert SwiGLU experts (softmax router, weights
//                renormalised over the chosen ones; exp_probs_b, when the
//                file has it, biases only which experts are chosen) and add
//                an ungated shared expert of expert_shared_feed_forward_length.
// llama.cpp's loader takes an optional attn_output.bias and q/k/v biases;
// its graphs add the q/k/v biases but never the output one, so neither do we.
import { ModelError } from '../errors.js';
import { ROPE_NORM, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder } from './decoder.js';
import {
  attention, dim, dims, embeddingsAndHead, experts, ffn, layers, norm, opt, req, requireExperts,
  type Architecture, type DeclareTensors, type TensorDecl,
} from './declare.js';
import { moeOrDense, sharedExpert, type FFNBlock } from './ffn.js';

/** The weights as ERNIE's graph reads them: attn_output.bias left out. */
function withoutOutputBias(c: BuildContext): BuildContext {
  return { ...c, wOpt: (name) => (name.endsWith('.attn_output.bias') ? undefined : c.wOpt(name)) };
}

function ernieDecoder(c: BuildContext, ffn?: FFNBlock) {
  const rope = ropeParams(c, ROPE_NORM);
  return buildDecoder(withoutOutputBias(c), { attention: () => ({ rope }), ffn });
}

export const buildErnie45 = (c: BuildContext) => ernieDecoder(c);

/** Routed experts (renormalised) plus the shared expert when the file declares its width. */
export const buildErnie45Moe = (c: BuildContext) =>
  ernieDecoder(c, moeOrDense({ normWeights: true }, c.hp.n_ff_shexp > 0 ? sharedExpert : undefined));

function ernieTensors(moe: boolean): DeclareTensors {
  return (hp, file) => {
    if (moe) {
      requireExperts(hp, file);
      const key = (k: string) => `${hp.arch}.${k}`;
      if (hp.n_moe_layer_step <= 0) throw new ModelError(`${hp.arch} needs ${key('interleave_moe_layer_step')} > 0`, file.path, key('interleave_moe_layer_step'));
      // llama.cpp's loader gives every layer past the dense lead expert tensors, while its
      // graph runs experts only on every step-th of them: a file with a step above 1 cannot run there
      if (hp.n_moe_layer_step !== 1) throw new ModelError(`${key('interleave_moe_layer_step')} = ${hp.n_moe_layer_step}: llama.cpp runs ${hp.arch} only with 1`, file.path, key('interleave_moe_layer_step'));
      if (hp.n_ff_exp <= 0) throw new ModelError(`${hp.arch} needs ${key('expert_feed_forward_length')}`, file.path, key('expert_feed_forward_length'));
    }
    const D = dims(hp);
    const moeLayer = (p: string): TensorDecl[] => [
      req(`${p}.ffn_gate_inp.weight`, D.n_embd, D.n_expert),
      opt(`${p}.exp_probs_b.bias`, D.n_expert),
      ...experts(p, D, dim('n_ff_exp', hp.n_ff_exp)).filter((t) => t.name !== `${p}.ffn_gate_inp.weight`),
      ...(hp.n_ff_shexp > 0 ? ffn(p, D, { gate: 'separate', n_ff: dim('n_ff_shexp', hp.n_ff_shexp), suffix: '_shexp' }) : []),
    ];
    return [
      ...embeddingsAndHead(D, { output: 'optional' }),
      ...layers(hp, (p, il) => [
        ...norm(`${p}.attn_norm`, D),
        ...attention(p, D, file, { qkv: 'either', qkvBias: 'optional', outBias: 'optional' }),
        ...norm(`${p}.ffn_norm`, D),
        ...(moe && il >= hp.n_layer_dense_lead ? moeLayer(p) : ffn(p, D, { gate: 'separate' })),
      ]),
    ];
  };
}

export const ernie4_5: Architecture = { build: buildErnie45, tensors: ernieTensors(false) };
export const ernie4_5moe: Architecture = { build: buildErnie45Moe, tensors: ernieTensors(true) };
