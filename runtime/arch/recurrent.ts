// The token mixers of recurrent layers, as llama.cpp's graph builders write
// them: lfm2's gated short convolution (build_shortconv_block) and the
// Mamba-2 mixer (build_mamba2_layer: granitehybrid, falcon-h1...). Each keeps
// its per-sequence state in the layer's LayerState (c.state[il]), which the
// context allocates from the architecture's RecurrentLayout.
import { ModelError } from '../errors.js';
import type { Tensor } from '../graph/graph.js';
import type { LayerState } from '../graph/ops.js';
import type { HParams } from '../hparams.js';
import type { BuildContext } from './context.js';

/** Layer il's recurrent state; a ModelError when the context gave it none. */
export function layerState(c: BuildContext, il: number): LayerState {
  const st = c.state[il];
  if (!st) throw new ModelError(`layer ${il} has no recurrent state (the architecture's layout says it attends)`, undefined, `blk.${il}`);
  return st;
}

/** The batch rows' sequences, which pick each row's state block; a graph without them (an encoder's) has no recurrent state. */
export function kvRows(c: BuildContext): Tensor {
  if (!c.inpKvRows) throw new Error('a recurrent layer needs the batch rows\' sequences (inpKvRows)');
  return c.inpKvRows;
}

/**
 * lfm2's gated short convolution: in_proj gives b, c and x (three chunks of
 * n_embd per token); b*x is convolved causally over the last l_cache inputs
 * (the d_conv = l_cache - 1 before the batch come from the state), gated by
 * c, and projected by out_proj.
 */
export function shortConv(c: BuildContext, il: number, cur: Tensor): Tensor {
  const { ops } = c;
  const p = `blk.${il}.shortconv`;
  const bcx = ops.matmul(c.w(`${p}.in_proj.weight`), cur, `conv_in_proj-${il}`);
  const n = bcx.ne[0]! / 3;
  const nTok = bcx.ne[1]!;
  const row = bcx.ne[0]! * 4;
  const b = ops.g.view(bcx, `conv_b-${il}`, [n, nTok], 0, row);
  const gate = ops.g.view(bcx, `conv_c-${il}`, [n, nTok], n * 4, row);
  const x = ops.g.view(bcx, `conv_x-${il}`, [n, nTok], 2 * n * 4, row);
  const bx = ops.mul(b, x, `conv_bx-${il}`);
  const conv = ops.ssmConv(bx, layerState(c, il).r, kvRows(c), c.w(`${p}.conv.weight`), `conv_conv-${il}`);
  const y = ops.mul(gate, conv, `conv_y-${il}`);
  return ops.matmul(c.w(`${p}.out_proj.weight`), y, `conv_out_proj-${il}`);
}

/** Mamba-2's sizes from hparams (ssm.*), as llama.cpp's loader names them. */
export function mamba2Dims(hp: HParams) {
  const dInner = hp.ssm_d_inner;
  const dState = hp.ssm_d_state;
  const nHead = hp.ssm_dt_rank;
  const nGroup = hp.ssm_n_group;
  const dConv = hp.ssm_d_conv;
  const key = (k: string) => `${hp.arch}.ssm.${k}`;
  const bad = (k: string, what: string) => new ModelError(`${key(k)}: ${what}`, undefined, key(k));
  if (!(dConv >= 2 && dConv <= 16)) throw bad('conv_kernel', `${dConv}, expected 2..16`);
  if (!(dState > 0)) throw bad('state_size', `${dState}, expected > 0`);
  if (!(nHead > 0 && dInner % nHead === 0)) throw bad('time_step_rank', `${nHead} heads do not divide inner_size ${dInner}`);
  if (!(nGroup > 0 && nHead % nGroup === 0 && dInner % nGroup === 0)) throw bad('group_count', `${nGroup} groups for ${nHead} heads`);
  const nCh = dInner + 2 * nGroup * dState;
  return { dInner, dState, nHead, nGroup, dConv, headDim: dInner / nHead, nCh, dInProj: dInner + nCh + nHead };
}

/** A Mamba-2 layer's state: the convolution's last d_conv - 1 inputs of x, B and C, and the SSM state. */
export function mamba2State(hp: HParams): { rFloats: number; sFloats: number } {
  const d = mamba2Dims(hp);
  return { rFloats: (d.dConv - 1) * d.nCh, sFloats: d.dState * d.dInner };
}

/**
 * The Mamba-2 mixer: ssm_in gives z, then x, B and C, then dt per token;
 * x|B|C go through the causal convolution (ssm_conv1d, plus its bias when
 * the file has one) and SiLU; the selective scan (dt bias, A, the D skip)
 * gives y, gated by silu(z), RMS-normed per group (ssm_norm) and projected by
 * ssm_out.
 */
export function mamba2(c: BuildContext, il: number, cur: Tensor): Tensor {
  const { ops, hp } = c;
  const p = `blk.${il}`;
  const d = mamba2Dims(hp);
  const st = layerState(c, il);
  if (!st.s) throw new ModelError(`layer ${il}: a Mamba-2 layer needs an SSM state`, undefined, `blk.${il}`);
  const zxBCdt = ops.matmul(c.w(`${p}.ssm_in.weight`), cur, `ssm_in-${il}`);
  const nTok = zxBCdt.ne[1]!;
  const row = zxBCdt.ne[0]! * 4;
  const z = ops.g.view(zxBCdt, `ssm_z-${il}`, [d.dInner, nTok], 0, row);
  const xBC = ops.g.view(zxBCdt, `ssm_xBC-${il}`, [d.nCh, nTok], d.dInner * 4, row);
  const dt = ops.g.view(zxBCdt, `ssm_dt-${il}`, [d.nHead, nTok], (d.dInner + d.nCh) * 4, row);
  let conv = ops.ssmConv(xBC, st.r, kvRows(c), c.w(`${p}.ssm_conv1d.weight`), `ssm_conv-${il}`);
  const convBias = c.wOpt(`${p}.ssm_conv1d.bias`);
  if (convBias) conv = ops.add(conv, convBias, `ssm_conv_b-${il}`);
  conv = ops.silu(conv, `ssm_conv_silu-${il}`);
  let y = ops.ssmScan(conv, dt, c.w(`${p}.ssm_dt.bias`), c.w(`${p}.ssm_a`), c.w(`${p}.ssm_d`), st.s, kvRows(c),
    { dState: d.dState, headDim: d.headDim, nHead: d.nHead, nGroup: d.nGroup }, `ssm_scan-${il}`);
  y = ops.glu('silu', z, y, `ssm_y_gated-${il}`);
  const norm = c.wOpt(`${p}.ssm_norm.weight`);
  if (norm) {
    // RMSNorm over each group's d_inner / n_group values, then times the weight of the whole row
    const normed = ops.rmsNorm(ops.heads(y, d.dInner / d.nGroup), null, hp.f_norm_rms_eps, `ssm_norm_rows-${il}`);
    const flat: Tensor = { ...norm, ne: [d.dInner] };
    y = ops.mul(ops.g.view(normed, `ssm_normed-${il}`, [d.dInner, nTok], 0, d.dInner * 4), flat, `ssm_norm-${il}`);
  }
  return ops.matmul(c.w(`${p}.ssm_out.weight`), y, `ssm_out-${il}`);
}
