// Qwen3-Next (80B-A3B): three gated delta net layers (linear attention with
// a recurrent [S, S] state per head) to each attention layer, every layer
// with a mixture of experts and a sigmoid-gated shared expert. Qwen3.5
// (qwen35: dense SwiGLU; qwen35moe: qwen3next's experts) is the same stack
// with separate ssm_beta / ssm_alpha projections, value heads reading key
// heads tiled (h % n_k_head) rather than grouped, and M-RoPE sections
// (interleaved; for text every section sees the token's position, so it is
// NEOX rope over n_rot unless a section is left to the 4th component).
//   Linear attention: attn_qkv gives q, k, v (convolved causally over
//   ssm.conv_kernel tokens, SiLU), q and k l2-normed per head; ssm_ba gives
//   beta = sigmoid(b) and the decay exp(softplus(a + ssm_dt.bias) * ssm_a)
//   per value head; the gated delta rule; then an RMSNorm per head
//   (ssm_norm) times silu(attn_gate · x), and ssm_out.
//   Attention: attn_q gives q and an output gate interleaved per head; q/k
//   RMSNorm per head, partial NEOX rope, attention, times sigmoid(gate).
//   Layers: x + mixer(attn_norm(x)), then + ffn(post_attention_norm(that)).
// Which layers are linear: attention.recurrent_layers when the file has it,
// else all but every full_attention_interval-th (default 4), as llama.cpp.
import { ModelError } from '../errors.js';
import type { Tensor } from '../graph/graph.js';
import type { HParams } from '../hparams.js';
import { attend, ROPE_NEOX, ropeParams } from './blocks.js';
import type { BuildContext } from './context.js';
import { buildDecoder, sequential } from './decoder.js';
import {
  dim, dims, embeddingsAndHead, experts, ffn, layers, norm, req, requireExperts, type Architecture, type DeclareTensors, type RecurrentLayout,
} from './declare.js';
import { buildMoeFfn, gatedSharedExpert } from './ffn.js';
import { kvRows, layerState } from './recurrent.js';

/** llama.cpp's is_recr for qwen3next. */
export function qwen3nextRecurrentLayers(hp: HParams): boolean[] {
  if (hp.recurrent_layers) return hp.recurrent_layers.slice(0, hp.n_layer);
  const interval = hp.full_attention_interval || 4;
  return Array.from({ length: hp.n_layer }, (_, il) => (il + 1) % interval !== 0);
}

/** The gated delta net's sizes (ssm.*: state_size is the head size, group_count the key heads, time_step_rank the value heads). */
export function deltaNetDims(hp: HParams) {
  const S = hp.ssm_d_state;
  const nKHead = hp.ssm_n_group;
  const nVHead = hp.ssm_dt_rank;
  const key = (k: string) => `${hp.arch}.ssm.${k}`;
  if (!(S > 0 && S <= 512)) throw new ModelError(`${key('state_size')} = ${S}: expected 1..512`, undefined, key('state_size'));
  if (!(nKHead > 0 && nVHead > 0 && nVHead % nKHead === 0)) throw new ModelError(`${key('time_step_rank')} = ${nVHead} is not a multiple of ${key('group_count')} = ${nKHead}`, undefined, key('group_count'));
  if (hp.ssm_d_inner !== S * nVHead) throw new ModelError(`${key('inner_size')} = ${hp.ssm_d_inner}: expected state_size * time_step_rank = ${S * nVHead}`, undefined, key('inner_size'));
  if (!(hp.ssm_d_conv >= 2 && hp.ssm_d_conv <= 16)) throw new ModelError(`${key('conv_kernel')} = ${hp.ssm_d_conv}: expected 2..16`, undefined, key('conv_kernel'));
  const keyDim = S * nKHead;
  const valueDim = S * nVHead;
  return { S, nKHead, nVHead, keyDim, valueDim, convDim: 2 * keyDim + valueDim, dConv: hp.ssm_d_conv };
}

export function qwen3nextRecurrent(hp: HParams): RecurrentLayout {
  const d = deltaNetDims(hp);
  return { layers: qwen3nextRecurrentLayers(hp), rFloats: (d.dConv - 1) * d.convDim, sFloats: d.S * d.valueDim };
}

/** qwen3next's fused ssm_ba and grouped heads, or qwen35's ssm_beta / ssm_alpha and tiled heads. */
export type DeltaNetVariant = 'qwen3next' | 'qwen35';

/** The linear attention (gated delta net) mixer of layer il. */
export function gatedDeltaNetLayer(c: BuildContext, il: number, cur: Tensor, variant: DeltaNetVariant = 'qwen3next'): Tensor {
  const { ops, hp } = c;
  const p = `blk.${il}`;
  const d = deltaNetDims(hp);
  const st = layerState(c, il);
  if (!st.s) throw new ModelError(`layer ${il}: a gated delta net layer needs a state`, undefined, p);
  const qkv = ops.matmul(c.w(`${p}.attn_qkv.weight`), cur, `linear_attn_qkv_mixed-${il}`);
  const z = ops.matmul(c.w(`${p}.attn_gate.weight`), cur, `z-${il}`);
  const ab = variant === 'qwen3next'
    ? { ba: ops.matmul(c.w(`${p}.ssm_ba.weight`), cur, `linear_attn_mixed_ba-${il}`) }
    : { b: ops.matmul(c.w(`${p}.ssm_beta.weight`), cur, `beta-${il}`), a: ops.matmul(c.w(`${p}.ssm_alpha.weight`), cur, `alpha-${il}`) };
  const conv = ops.silu(ops.ssmConv(qkv, st.r, kvRows(c), c.w(`${p}.ssm_conv1d.weight`), `conv_output_raw-${il}`), `conv_output_silu-${il}`);
  const nTok = conv.ne[1]!;
  const row = d.convDim * 4;
  const eps = hp.f_norm_rms_eps;
  const q = ops.l2NormHeads(ops.g.view(conv, `q_conv-${il}`, [d.keyDim, nTok], 0, row), d.nKHead, d.S, eps, `q_conv_normed-${il}`);
  const k = ops.l2NormHeads(ops.g.view(conv, `k_conv-${il}`, [d.keyDim, nTok], d.keyDim * 4, row), d.nKHead, d.S, eps, `k_conv_normed-${il}`);
  const v = ops.g.view(conv, `v_conv-${il}`, [d.valueDim, nTok], 2 * d.keyDim * 4, row);
  const o = ops.gatedDeltaNet(q, k, v, ab, c.w(`${p}.ssm_dt.bias`), c.w(`${p}.ssm_a`), st.s, kvRows(c),
    { S: d.S, nKHead: d.nKHead, nVHead: d.nVHead }, `attn_output-${il}`);
  // build_norm_gated: RMSNorm per head, times silu(z)
  const normed = ops.rmsNorm(ops.heads(o, d.S), c.w(`${p}.ssm_norm.weight`), eps, `attn_out_norm-${il}`);
  const gated = ops.mul(ops.g.view(normed, `attn_out_norm_rows-${il}`, [d.valueDim, nTok], 0, d.valueDim * 4), ops.silu(z, `z_silu-${il}`), `attn_out_gated-${il}`);
  return ops.matmul(c.w(`${p}.ssm_out.weight`), gated, `linear_attn_out-${il}`);
}

/** The gated full attention of layer il: q and its output gate from one projection. */
export function gatedAttentionLayer(c: BuildContext, il: number, cur: Tensor): Tensor {
  const { ops, hp } = c;
  const p = `blk.${il}`;
  const hd = hp.n_embd_head_k;
  const qFull = ops.matmul(c.w(`${p}.attn_q.weight`), cur, `Qcur_full-${il}`);
  const nTok = qFull.ne[1]!;
  const rows = hp.n_head * nTok;
  let q = ops.cont(ops.g.view(qFull, `Qcur_view-${il}`, [hd, rows], 0, 2 * hd * 4), `Qcur-${il}`);
  const gate = ops.cont(ops.g.view(qFull, `gate_view-${il}`, [hd, rows], hd * 4, 2 * hd * 4), `gate-${il}`);
  let k = ops.matmul(c.w(`${p}.attn_k.weight`), cur, `Kcur-${il}`);
  const v = ops.matmul(c.w(`${p}.attn_v.weight`), cur, `Vcur-${il}`);
  q = ops.rmsNorm(q, c.w(`${p}.attn_q_norm.weight`), hp.f_norm_rms_eps, `Qcur_normed-${il}`);
  k = ops.rmsNorm(ops.heads(k, hd), c.w(`${p}.attn_k_norm.weight`), hp.f_norm_rms_eps, `Kcur_normed-${il}`);
  const rope = ropeParams(c, ROPE_NEOX);
  if (hp.rope_sections.length > 0) checkTextSections(hp);
  const attn = attend(c, il, q, k, v, { rope, kqScale: hp.f_attention_scale || undefined });
  const gated = ops.mul(attn, ops.sigmoid(ops.g.view(gate, `gate_rows-${il}`, [hd * hp.n_head, nTok], 0, hd * hp.n_head * 4), `gate_sigmoid-${il}`), `attn_gated-${il}`);
  return ops.matmul(c.w(`${p}.attn_output.weight`), gated, `attn_output-${il}`);
}

/**
 * For text, M-RoPE gives the t, h and w sections the token's position and
 * the 4th (e) position 0; with interleaved sections (ggml's IMROPE) a rotary
 * pair takes t, h or w by its index mod 3 within the sections, else e.
 * When no pair falls to e, that is NEOX rope over n_rot; refuse the rest.
 */
function checkTextSections(hp: HParams): void {
  const s = hp.rope_sections;
  const [t, h, w] = [s[0] ?? 0, s[1] ?? 0, s[2] ?? 0];
  const total = s.reduce((a, b) => a + b, 0);
  const key = `${hp.arch}.rope.dimension_sections`;
  if (!(total > 0 && total * 2 <= hp.n_rot)) throw new ModelError(`${key} = [${s.join(', ')}] for n_rot ${hp.n_rot}`, undefined, key);
  for (let pair = 0; pair < hp.n_rot / 2; pair++) {
    const sector = pair % total;
    const text = (sector % 3 === 0 && sector < 3 * t) || (sector % 3 === 1 && sector < 3 * h) || (sector % 3 === 2 && sector < 3 * w);
    if (!text) throw new ModelError(`${key} = [${s.join(', ')}] leaves rotary pair ${pair} to M-RoPE's 4th position component, which run-gguf does not run`, undefined, key);
  }
}

function buildQwen3NextFamily(variant: DeltaNetVariant, moe: boolean) {
  return (c: BuildContext) => {
    const recurrent = qwen3nextRecurrentLayers(c.hp);
    return buildDecoder(c, {
      layer: sequential({
        ffnNorm: 'post_attention_norm',
        mixer: (c, il, h) => (recurrent[il] ? gatedDeltaNetLayer(c, il, h, variant) : gatedAttentionLayer(c, il, h)),
      }),
      ffn: moe
        ? (c, il, cur) => c.ops.add(buildMoeFfn(c, il, cur, { normWeights: true }), gatedSharedExpert(c, il, cur), `ffn_out-${il}`)
        : undefined,
    });
  };
}

export const buildQwen3Next = buildQwen3NextFamily('qwen3next', true);
export const buildQwen35 = buildQwen3NextFamily('qwen35', false);
export const buildQwen35Moe = buildQwen3NextFamily('qwen35', true);

const familyTensors = (variant: DeltaNetVariant, moe: boolean): DeclareTensors => (hp, file) => {
  if (moe) requireExperts(hp, file);
  const D = dims(hp);
  const d = deltaNetDims(hp);
  const recurrent = qwen3nextRecurrentLayers(hp);
  const nFFExp = dim('n_ff_exp', hp.n_ff_exp || Math.floor(hp.n_ff / Math.max(1, hp.n_expert_used)));
  const nFFShexp = dim('n_ff_shexp', hp.n_ff_shexp || hp.n_ff);
  const S = dim('ssm.state_size', d.S);
  const nV = dim('ssm.time_step_rank', d.nVHead);
  const valueDim = dim('value_dim', d.valueDim);
  const hd = D.n_embd_head_k;
  return [
    ...embeddingsAndHead(D, { output: 'optional' }),
    ...layers(hp, (p, il) => [
      ...norm(`${p}.attn_norm`, D),
      ...norm(`${p}.post_attention_norm`, D),
      ...(recurrent[il]
        ? [
          req(`${p}.attn_qkv.weight`, D.n_embd, dim('2*key_dim+value_dim', d.convDim)),
          req(`${p}.attn_gate.weight`, D.n_embd, valueDim),
          req(`${p}.ssm_conv1d.weight`, dim('ssm.conv_kernel', d.dConv), dim('conv_dim', d.convDim)),
          req(`${p}.ssm_dt.bias`, nV),
          req(`${p}.ssm_a`, nV),
          ...(variant === 'qwen3next'
            ? [req(`${p}.ssm_ba.weight`, D.n_embd, dim('2*time_step_rank', 2 * d.nVHead))]
            : [req(`${p}.ssm_beta.weight`, D.n_embd, nV), req(`${p}.ssm_alpha.weight`, D.n_embd, nV)]),
          req(`${p}.ssm_norm.weight`, S),
          req(`${p}.ssm_out.weight`, valueDim, D.n_embd),
        ]
        : [
          req(`${p}.attn_q.weight`, D.n_embd, dim('n_embd_head_k*n_head*2', 2 * hp.n_embd_head_k * hp.n_head)),
          req(`${p}.attn_k.weight`, D.n_embd, D.n_embd_k_gqa),
          req(`${p}.attn_v.weight`, D.n_embd, D.n_embd_v_gqa),
          req(`${p}.attn_output.weight`, D.n_embd_q, D.n_embd),
          req(`${p}.attn_q_norm.weight`, hd),
          req(`${p}.attn_k_norm.weight`, hd),
        ]),
      ...(moe
        ? [
          ...experts(p, D, nFFExp),
          req(`${p}.ffn_gate_inp_shexp.weight`, D.n_embd),
          ...ffn(p, D, { gate: 'separate', n_ff: nFFShexp, suffix: '_shexp' }),
        ]
        : ffn(p, D, { gate: 'separate' })),
    ]),
  ];
};

export const qwen3next: Architecture = { build: buildQwen3Next, tensors: familyTensors('qwen3next', true), recurrent: qwen3nextRecurrent };
export const qwen35: Architecture = { build: buildQwen35, tensors: familyTensors('qwen35', false), recurrent: qwen3nextRecurrent };
export const qwen35moe: Architecture = { build: buildQwen35Moe, tensors: familyTensors('qwen35', true), recurrent: qwen3nextRecurrent };
