// IBM Granite 4.0 hybrid (granite-4.0-h-micro/tiny/small): Mamba-2 layers
// beside GQA attention layers, which ones written in the file
// (attention.head_count_kv is an array, 0 for a Mamba-2 layer). Around them,
// Granite's decoder: embedding_scale, residual_scale on each branch,
// attention.scale, logit_scale, RMSNorm pre-norms, SwiGLU (dense, optional
// biases) or renormalised experts with an optional shared expert. Rope in
// NORM mode unless rope.scaling.finetuned is false (Granite 4.0-H uses no
// positions: its attention layers rely on the Mamba-2 layers for order).
import { ModelError } from '../errors.js';
import type { HParams } from '../hparams.js';
import { ROPE_NORM, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder, sequential } from './decoder.js';
import {
  attention, dim, dims, embeddingsAndHead, experts, ffn, layers, norm, opt, req, type Architecture, type DeclareTensors, type RecurrentLayout,
} from './declare.js';
import { moeOrDense, sharedExpert } from './ffn.js';
import { mamba2, mamba2Dims, mamba2State } from './recurrent.js';

/** llama.cpp's is_recr for granitehybrid: a layer without KV heads. */
export function graniteHybridRecurrent(hp: HParams): RecurrentLayout {
  return { layers: hp.n_head_kv_arr.map((h) => h === 0), ...mamba2State(hp) };
}

export function buildGraniteHybrid(c: BuildContext) {
  const hp = c.hp;
  const rope = hp.rope_finetuned === false ? null : ropeParams(c, ROPE_NORM, c.wOpt('rope_freqs.weight'));
  const kqScale = hp.f_attention_scale || undefined;
  const recurrent = hp.n_head_kv_arr.map((h) => h === 0);
  return buildDecoder(c, {
    embeddingScale: hp.f_embedding_scale,
    attention: () => ({ rope, kqScale }),
    layer: sequential({ mixer: (c, il, h, attend) => (recurrent[il] ? mamba2(c, il, h) : attend(h)) }),
    ffn: hp.n_expert > 0 ? moeOrDense({ normWeights: true }, hp.n_ff_shexp > 0 ? sharedExpert : undefined) : undefined,
    residualScale: hp.f_residual_scale,
    logitScale: hp.f_logit_scale,
  });
}

const graniteHybridTensors: DeclareTensors = (hp, file) => {
  const D = dims(hp);
  const m = mamba2Dims(hp);
  // llama.cpp: "only an expansion factor of 2 is supported for now"
  if (m.dInner !== 2 * hp.n_embd) throw new ModelError(`${hp.arch}.ssm.inner_size = ${m.dInner}: expected 2 * n_embd = ${2 * hp.n_embd}`, file.path, `${hp.arch}.ssm.inner_size`);
  const nHead = dim('ssm.time_step_rank', m.nHead);
  const nCh = dim('d_inner+2*n_group*d_state', m.nCh);
  const one = dim('1', 1);
  return [
    ...embeddingsAndHead(D, { output: 'optional' }),
    opt('rope_freqs.weight', D.n_rot_half),
    ...layers(hp, (p, il) => [
      ...norm(`${p}.attn_norm`, D),
      ...(hp.n_head_kv_arr[il] === 0
        ? [
          req(`${p}.ssm_in.weight`, D.n_embd, dim('d_in_proj', m.dInProj)),
          req(`${p}.ssm_conv1d.weight`, dim('ssm.conv_kernel', m.dConv), nCh),
          opt(`${p}.ssm_conv1d.bias`, nCh),
          req(`${p}.ssm_dt.bias`, nHead),
          req(`${p}.ssm_a`, one, nHead),
          req(`${p}.ssm_d`, one, nHead),
          req(`${p}.ssm_norm.weight`, dim('d_inner/n_group', m.dInner / m.nGroup), dim('ssm.group_count', m.nGroup)),
          req(`${p}.ssm_out.weight`, dim('ssm.inner_size', m.dInner), D.n_embd),
        ]
        : attention(p, D, file, { qkv: 'either', qkvBias: 'optional', outBias: 'optional' })),
      ...norm(`${p}.ffn_norm`, D),
      ...(hp.n_expert === 0
        ? ffn(p, D, { gate: 'separate', bias: 'optional' })
        : [
          ...experts(p, D, D.n_ff),
          ...(hp.n_ff_shexp > 0 ? ffn(p, D, { gate: 'separate', n_ff: dim('n_ff_shexp', hp.n_ff_shexp), suffix: '_shexp' }) : []),
        ]),
    ]),
  ];
};

export const granitehybrid: Architecture = { build: buildGraniteHybrid, tensors: graniteHybridTensors, recurrent: graniteHybridRecurrent };
