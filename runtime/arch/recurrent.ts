// The token mixers of recurrent layers, as llama.cpp's graph builders write
// them: lfm2's gated short convolution (build_shortconv_block). Each keeps
// its per-sequence state in the layer's LayerState (c.state[il]), which the
// context allocates from the architecture's RecurrentLayout.
import { ModelError } from '../errors.js';
import type { Tensor } from '../graph/graph.js';
import type { LayerState } from '../graph/ops.js';
import type { BuildContext } from './context.js';

/** Layer il's recurrent state; a ModelError when the context gave it none. */
export function layerState(c: BuildContext, il: number): LayerState {
  const st = c.state[il];
  if (!st) throw new ModelError(`layer ${il} has no recurrent state (the architecture's layout says it attends)`, undefined, `blk.${il}`);
  return st;
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
  const conv = ops.ssmConv(bx, layerState(c, il).r, c.w(`${p}.conv.weight`), `conv_conv-${il}`);
  const y = ops.mul(gate, conv, `conv_y-${il}`);
  return ops.matmul(c.w(`${p}.out_proj.weight`), y, `conv_out_proj-${il}`);
}
