// Scalar references of the recurrent layers' ops (kernels/ops-ssm.c), the
// test oracle of the kernels: every float step rounded to f32 in ggml's order.
const f = Math.fround;

/**
 * ggml_ssm_conv with its rolling state: x is n_tok rows of n_ch inputs, state
 * [n_ch][d_conv - 1] the inputs before them (oldest first), w [n_ch][d_conv].
 * Returns y [n_tok][n_ch], y[t][c] = sum over taps k (oldest first) of
 * window[t + k][c] * w[c][k], and the state after the batch.
 */
export function ssmConvRef(x: Float32Array, state: Float32Array, w: Float32Array, nCh: number, nTok: number, dConv: number): { y: Float32Array; state: Float32Array } {
  const nh = dConv - 1;
  const y = new Float32Array(nTok * nCh);
  const next = new Float32Array(nh * nCh);
  for (let c = 0; c < nCh; c++) {
    const win = [...state.subarray(c * nh, (c + 1) * nh)];
    for (let t = 0; t < nTok; t++) win.push(x[t * nCh + c]!);
    for (let t = 0; t < nTok; t++) {
      let sum = 0;
      for (let k = 0; k < dConv; k++) sum = f(sum + f(win[t + k]! * w[c * dConv + k]!));
      y[t * nCh + c] = sum;
    }
    for (let k = 0; k < nh; k++) next[c * nh + k] = win[nTok + k]!;
  }
  return { y, state: next };
}

export interface SsmScanArgs {
  /** [n_head][head_dim][d_state], updated in place. */
  state: Float32Array;
  /** n_tok rows of xbcStride: x (head_dim * n_head), then B and C (n_group * d_state each). */
  xbc: Float32Array;
  xbcStride: number;
  /** n_tok rows of dtStride: n_head values each. */
  dt: Float32Array;
  dtStride: number;
  dtBias: Float32Array;
  A: Float32Array;
  /** The D skip per head; absent: none. */
  D?: Float32Array;
  dState: number;
  headDim: number;
  nHead: number;
  nGroup: number;
  nTok: number;
}

/**
 * Mamba-2's selective scan (ggml_ssm_scan, scalar decay per head) with the dt
 * bias and D skip: see kernels/ops-ssm.c. Returns y [n_tok][head_dim * n_head];
 * the state is left as after the last token. The d_state sum is grouped as
 * ggml's AVX build groups it.
 */
export function ssmScanRef(a: SsmScanArgs): Float32Array {
  const { state, xbc, dState, headDim, nHead, nGroup, nTok } = a;
  const dInner = headDim * nHead;
  const y = new Float32Array(nTok * dInner);
  const np = dState & ~31;
  for (let t = 0; t < nTok; t++) {
    const x0 = t * a.xbcStride;
    for (let h = 0; h < nHead; h++) {
      const v = f(a.dt[t * a.dtStride + h]! + a.dtBias[h]!);
      const dtSp = v > 20 ? v : f(Math.log(f(1 + f(Math.exp(v)))));
      const dA = f(Math.exp(f(dtSp * a.A[h]!)));
      const g = Math.floor(h / (nHead / nGroup));
      const b0 = x0 + dInner + g * dState;
      const c0 = x0 + dInner + nGroup * dState + g * dState;
      for (let i1 = 0; i1 < headDim; i1++) {
        const ii = i1 + h * headDim;
        const s0 = ii * dState;
        const xv = xbc[x0 + ii]!;
        const xDt = f(xv * dtSp);
        const lanes = new Float64Array(32);
        const step = (i: number) => {
          const st = f(f(state[s0 + i]! * dA) + f(xbc[b0 + i]! * xDt));
          state[s0 + i] = st;
          return f(st * xbc[c0 + i]!);
        };
        for (let i = 0; i < np; i += 32) for (let k = 0; k < 32; k++) lanes[k] = f(lanes[k]! + step(i + k));
        let sum = 0;
        if (np > 0) {
          // lane l of accumulator j is lanes[8j + l]: (a0 + a2) + (a1 + a3), halves added, then pairs
          const r = (l: number) => f(f(lanes[l]! + lanes[16 + l]!) + f(lanes[8 + l]! + lanes[24 + l]!));
          const q = [0, 1, 2, 3].map((l) => f(r(l) + r(l + 4)));
          sum = f(f(q[0]! + q[1]!) + f(q[2]! + q[3]!));
        }
        for (let i = np; i < dState; i++) sum = f(sum + step(i));
        y[t * dInner + ii] = a.D ? f(sum + f(xv * a.D[h]!)) : sum;
      }
    }
  }
  return y;
}

/** ggml_vec_dot_f32 grouped as ggml's AVX build groups it (as kernels/ops-ssm.c's dot_f32_ggml). */
function dotGgml(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  const np = n & ~31;
  const lanes = new Float64Array(32);
  for (let i = 0; i < np; i += 32) for (let k = 0; k < 32; k++) lanes[k] = f(lanes[k]! + f(a[ao + i + k]! * b[bo + i + k]!));
  let r = 0;
  if (np > 0) {
    const g = (l: number) => f(f(lanes[l]! + lanes[16 + l]!) + f(lanes[8 + l]! + lanes[24 + l]!));
    const q = [0, 1, 2, 3].map((l) => f(g(l) + g(l + 4)));
    r = f(f(q[0]! + q[1]!) + f(q[2]! + q[3]!));
  }
  for (let i = np; i < n; i++) r += f(a[ao + i]! * b[bo + i]!);
  return f(r);
}

/** ggml_l2_norm of each head_dim-wide head of n_tok rows (x_stride apart): [head_dim, n_head, n_tok]. */
export function l2NormHeadsRef(x: Float32Array, xStride: number, nTok: number, nHead: number, headDim: number, eps: number): Float32Array {
  const y = new Float32Array(nTok * nHead * headDim);
  for (let t = 0; t < nTok; t++) {
    for (let h = 0; h < nHead; h++) {
      const o = t * xStride + h * headDim;
      let sum = 0;
      for (let i = 0; i < headDim; i++) sum += f(x[o + i]! * x[o + i]!);
      const n = f(Math.sqrt(f(sum)));
      const scale = f(1 / Math.max(n, f(eps)));
      for (let i = 0; i < headDim; i++) y[(t * nHead + h) * headDim + i] = f(x[o + i]! * scale);
    }
  }
  return y;
}

export interface GatedDeltaNetArgs {
  /** [n_v_head][S][S] (row j of a head: S[:, j]), updated in place. */
  state: Float32Array;
  /** [S, n_k_head, n_tok] each. */
  q: Float32Array;
  k: Float32Array;
  /** n_tok rows of vStride, S * n_v_head values each. */
  v: Float32Array;
  vStride: number;
  /** n_tok rows of abStride each: b and a (grouped: b is the fused ba row, per k head its value heads' b's then a's; a is unused). */
  b: Float32Array;
  a?: Float32Array;
  abStride: number;
  /** qwen3next's layout (key head h / r, fused ba) or qwen35's (key head h % n_k_head, b and a at h). */
  grouped: boolean;
  dtBias: Float32Array;
  A: Float32Array;
  S: number;
  nKHead: number;
  nVHead: number;
  nTok: number;
}

/** The gated delta rule (see kernels/ops-ssm.c): out [S, n_v_head, n_tok]. */
export function gatedDeltaNetRef(a: GatedDeltaNetArgs): Float32Array {
  const { S, nKHead, nVHead, nTok, state: M } = a;
  const rep = nVHead / nKHead;
  const scale = f(1 / f(Math.sqrt(S)));
  const out = new Float32Array(S * nVHead * nTok);
  const delta = new Float32Array(S);
  for (let h = 0; h < nVHead; h++) {
    const m0 = h * S * S;
    const hk = a.grouped ? Math.floor(h / rep) : h % nKHead;
    const iab = a.grouped ? hk * 2 * rep + (h % rep) : h;
    const aRow = a.grouped ? a.b : a.a!;
    const aOff = a.grouped ? rep : 0;
    for (let t = 0; t < nTok; t++) {
      const beta = f(1 / f(1 + f(Math.exp(-a.b[t * a.abStride + iab]!))));
      const av = f(aRow[t * a.abStride + aOff + iab]! + a.dtBias[h]!);
      const sp = av > 20 ? av : f(Math.log(f(1 + f(Math.exp(av)))));
      const eg = f(Math.exp(f(sp * a.A[h]!)));
      const q0 = (t * nKHead + hk) * S;
      const v0 = t * a.vStride + h * S;
      for (let i = 0; i < S * S; i++) M[m0 + i] = f(M[m0 + i]! * eg);
      for (let j = 0; j < S; j++) delta[j] = f(f(a.v[v0 + j]! - dotGgml(M, m0 + j * S, a.k, q0, S)) * beta);
      for (let j = 0; j < S; j++) for (let c = 0; c < S; c++) M[m0 + j * S + c] = f(M[m0 + j * S + c]! + f(a.k[q0 + c]! * delta[j]!));
      for (let j = 0; j < S; j++) out[(t * nVHead + h) * S + j] = f(dotGgml(M, m0 + j * S, a.q, q0, S) * scale);
    }
  }
  return out;
}
