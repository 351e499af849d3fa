// Recurrent layers (kernels/ops-ssm.c): lfm2's short convolutions, Mamba-2's
// selective scan, the gated delta net (qwen3next, qwen35) and its per-head
// l2 norm. Each row's state block is found by its sequence slot at run time.
import { GGMLType } from '../../../formats/ggml-types.js';
import { elementCount, type Tensor } from '../graph.js';
import { NULL, at } from './core.js';
import { MoeOps } from './moe.js';

/**
 * The recurrent state of one layer for every sequence of a context (lfm2's
 * short convolutions, Mamba-2, the gated delta net): f32 tensors
 * [n_embd_r, 1, 1, n_seq] (the rolling convolution inputs, llama.cpp's r_l)
 * and [n_embd_s, 1, 1, n_seq] (the SSM state, s_l; absent when the layer has
 * none). Like the KV cache, each batch row's block is data: the kernels read
 * the row's sequence slot from the kv rows input, so the rows of several
 * sequences may share a run (each sequence's rows in order). Unlike the KV
 * cache, a state holds no positions: the context zeroes a sequence's blocks
 * when it starts over.
 */
export interface LayerState {
  r: Tensor;
  s?: Tensor;
}

function checkKvRows(kvRows: Tensor, nTok: number, name: string): void {
  if (kvRows.type !== GGMLType.I32 || kvRows.ne[0] !== 2 || kvRows.ne[1] !== nTok) throw new Error(`${name}: kv rows [${kvRows.ne}] for ${nTok} tokens`);
}

/** Floats of one sequence's block of a per-sequence state tensor ([..., n_seq]). */
function perSeqFloats(t: Tensor): number {
  if (t.type !== GGMLType.F32) throw new Error(`${t.name}: a recurrent state must be f32`);
  return elementCount(t.ne.slice(0, 3));
}

export class SsmOps extends MoeOps {
  /**
   * ggml_ssm_conv over the sequence's rolling state then x: per channel c of
   * x [n_ch, n_tokens] (a strided view allowed), y[c, t] = sum over the
   * d_conv taps k of w[k, c] times the k-th of the d_conv inputs ending at t,
   * the inputs before the batch coming from `state` (each row's sequence's
   * [d_conv - 1, n_ch] block of a LayerState's r, by the row's slot in
   * kvRows), which is left holding that sequence's last d_conv - 1 inputs.
   * w is f32 [d_conv, n_ch]. Returns [n_ch, n_tokens].
   */
  ssmConv(x: Tensor, state: Tensor, kvRows: Tensor, w: Tensor, name: string): Tensor {
    const [dConv, nCh] = [w.ne[0]!, w.ne[1]!];
    if (w.type !== GGMLType.F32) throw new Error(`${name}: ${w.name} must be f32 (ggml_ssm_conv reads f32 taps)`);
    if (x.ne[0] !== nCh) throw new Error(`${name}: ${nCh} channels of taps for rows of ${x.ne[0]}`);
    if (!(dConv >= 1 && dConv <= 16)) throw new Error(`${name}: a convolution of ${dConv} taps (1..16)`);
    if (elementCount(state.ne.slice(0, 3)) < (dConv - 1) * nCh) throw new Error(`${name}: ${state.name} holds fewer than ${(dConv - 1) * nCh} floats per sequence`);
    const nTok = elementCount(x.ne) / nCh;
    checkKvRows(kvRows, nTok, name);
    const out = this.g.f32(name, [nCh, nTok]);
    const xs = (x.rowStride ?? nCh * 4) / 4;
    return this.g.add({
      name, inputs: [x, state, kvRows, w], output: out,
      phases: [this.phase('ssm_conv_f32', at(x), xs, at(state), perSeqFloats(state), at(kvRows), at(w), at(out), nCh, nTok, dConv)],
    });
  }

  /**
   * Mamba-2's selective scan over the batch (ggml_ssm_scan, one decay per
   * head), for each row's sequence's SSM state (its slot in kvRows) ([n_head][head_dim][d_state]
   * of a LayerState's s, updated in place): xbc rows hold x (head_dim *
   * n_head), then B and C (n_group * d_state each); dt [n_head, n_tokens] (a
   * strided view allowed) gets dtBias added before its softplus; A and D are
   * one value per head (D: the skip, x * D added to y; null: none). Returns y [head_dim * n_head, n_tokens].
   */
  ssmScan(xbc: Tensor, dt: Tensor, dtBias: Tensor, A: Tensor, D: Tensor | null, state: Tensor, kvRows: Tensor,
    d: { dState: number; headDim: number; nHead: number; nGroup: number }, name: string): Tensor {
    const dInner = d.headDim * d.nHead;
    const nCh = dInner + 2 * d.nGroup * d.dState;
    if (xbc.ne[0] !== nCh) throw new Error(`${name}: rows of ${xbc.ne[0]}, expected x, B and C: ${nCh}`);
    if (d.nHead % d.nGroup !== 0) throw new Error(`${name}: ${d.nHead} heads in ${d.nGroup} groups`);
    if (elementCount(state.ne.slice(0, 3)) < dInner * d.dState) throw new Error(`${name}: ${state.name} holds fewer than ${dInner * d.dState} floats per sequence`);
    for (const t of [dtBias, A, ...(D ? [D] : [])]) {
      if (t.type !== GGMLType.F32 || elementCount(t.ne) !== d.nHead) throw new Error(`${name}: ${t.name} must be ${d.nHead} f32 values`);
    }
    const nTok = elementCount(xbc.ne) / nCh;
    checkKvRows(kvRows, nTok, name);
    const out = this.g.f32(name, [dInner, nTok]);
    return this.g.add({
      name, inputs: [xbc, dt, dtBias, A, ...(D ? [D] : []), state, kvRows], output: out,
      phases: [this.phase('ssm_scan_f32', at(state), perSeqFloats(state), at(kvRows), at(xbc), (xbc.rowStride ?? nCh * 4) / 4, at(dt), (dt.rowStride ?? d.nHead * 4) / 4,
        at(dtBias), at(A), D ? at(D) : NULL, at(out), d.dState, d.headDim, d.nHead, d.nGroup, nTok)],
    });
  }

  /**
   * ggml_l2_norm of each head of x's token rows ([n_head * head_dim, n_tokens],
   * a strided view allowed): x / max(|x|, eps) per head. Returns [head_dim, n_head, n_tokens].
   */
  l2NormHeads(x: Tensor, nHead: number, headDim: number, eps: number, name: string): Tensor {
    if (x.ne[0] !== nHead * headDim) throw new Error(`${name}: rows of ${x.ne[0]} for ${nHead} heads of ${headDim}`);
    const nTok = elementCount(x.ne) / x.ne[0]!;
    const out = this.g.f32(name, [headDim, nHead, nTok]);
    return this.g.add({
      name, inputs: [x], output: out,
      phases: [this.phase('l2_norm_heads_f32', at(x), (x.rowStride ?? x.ne[0]! * 4) / 4, at(out), nTok, nHead, headDim, eps)],
    });
  }

  /**
   * The gated delta rule over the batch (ggml_gated_delta_net with one decay
   * per head: qwen3next's and qwen35's linear attention), for each row's
   * sequence's state (its slot in kvRows) ([n_v_head][S][S] of a LayerState's s, updated in
   * place). q, k: [S, n_k_head, n_tokens] (l2-normed); v: [S * n_v_head,
   * n_tokens] (a strided view allowed); beta = sigmoid(b), decay
   * exp(softplus(a + dtBias) * A). `ab` is qwen3next's fused ba
   * ([2 * n_v_head, n_tokens]: per key head the b's then the a's of its
   * value heads, which read that key head) or qwen35's separate b and a
   * ([n_v_head, n_tokens] each; value head h reads key head h % n_k_head).
   * Returns [S, n_v_head, n_tokens].
   */
  gatedDeltaNet(q: Tensor, k: Tensor, v: Tensor, ab: { ba: Tensor } | { b: Tensor; a: Tensor }, dtBias: Tensor, A: Tensor, state: Tensor, kvRows: Tensor,
    d: { S: number; nKHead: number; nVHead: number }, name: string): Tensor {
    const nTok = elementCount(v.ne) / v.ne[0]!;
    if (v.ne[0] !== d.S * d.nVHead || elementCount(q.ne) !== d.S * d.nKHead * nTok || elementCount(k.ne) !== elementCount(q.ne)) throw new Error(`${name}: shapes of q, k, v`);
    if (d.nVHead % d.nKHead !== 0 || d.S > 512) throw new Error(`${name}: ${d.nVHead} value heads of ${d.S} for ${d.nKHead} key heads`);
    if (elementCount(state.ne.slice(0, 3)) < d.S * d.S * d.nVHead) throw new Error(`${name}: ${state.name} holds fewer than ${d.S * d.S * d.nVHead} floats per sequence`);
    for (const t of [dtBias, A]) if (t.type !== GGMLType.F32 || elementCount(t.ne) !== d.nVHead) throw new Error(`${name}: ${t.name} must be ${d.nVHead} f32 values`);
    const grouped = 'ba' in ab;
    const [b, a] = grouped ? [ab.ba, ab.ba] : [ab.b, ab.a];
    const rowLen = grouped ? 2 * d.nVHead : d.nVHead;
    for (const t of grouped ? [b] : [b, a]) {
      if (t.ne[0] !== rowLen || (t.rowStride !== undefined && t.rowStride !== rowLen * 4)) throw new Error(`${name}: ${t.name} must be contiguous rows of ${rowLen}`);
    }
    checkKvRows(kvRows, nTok, name);
    const out = this.g.f32(name, [d.S, d.nVHead, nTok]);
    return this.g.add({
      name, inputs: [q, k, v, ...(grouped ? [b] : [b, a]), dtBias, A, state, kvRows], output: out,
      phases: [this.phase('gated_delta_net_f32', at(state), perSeqFloats(state), at(kvRows), at(q), at(k), at(v), (v.rowStride ?? v.ne[0]! * 4) / 4,
        at(b), at(a, grouped ? (d.nVHead / d.nKHead) * 4 : 0), rowLen, grouped ? 1 : 0, at(dtBias), at(A), at(out), d.S, d.nKHead, d.nVHead, nTok)],
    });
  }
}
