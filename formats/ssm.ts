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
