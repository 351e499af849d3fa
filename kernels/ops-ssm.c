// Recurrent layers' ops: the short causal convolution with its rolling state
// (ggml_ssm_conv over [state, batch], as lfm2, Mamba-2 and the gated delta
// net use it).
//
// The state of a sequence is, per channel, the last d_conv - 1 inputs in time
// order; the kernel reads it as the tokens before the batch and leaves the
// batch's last d_conv - 1 inputs in it. Threads split channels, so each
// channel's state is read and written by one thread. Each output is summed in
// ggml's order (tap 0 = oldest first), one multiply and one add per tap: the
// SIMD lanes (four channels) do the scalar steps, so bits do not depend on
// the split or the batch.
#include "common.h"

#define SSM_CONV_MAX 16

// void ssm_conv_f32(const float* x, int x_stride, float* state, const float* w, float* y,
//                   int n_ch, int n_tok, int d_conv, int ith, int nth)
// x: n_tok rows of n_ch inputs, x_stride floats apart; state: [n_ch][d_conv - 1];
// w: [n_ch][d_conv]; y: [n_tok][n_ch].
// y[t][c] = sum_k win[t + k][c] * w[c][k], win = the state's d_conv - 1 inputs then x's.
void EXPORT(ssm_conv_f32)(const float* x, int x_stride, float* state, const float* w, float* y,
                          int n_ch, int n_tok, int d_conv, int ith, int nth) {
  if (d_conv < 1 || d_conv > SSM_CONV_MAX) return;
  const int nh = d_conv - 1;
  // whole groups of four channels per thread
  int g0, g1;
  rows_range((n_ch + 3) / 4, ith, nth, &g0, &g1);
  const int c0 = g0 * 4, c1 = g1 * 4 < n_ch ? g1 * 4 : n_ch;
  int c = c0;
  for (; c + 4 <= c1; c += 4) {
    v128_t hist[SSM_CONV_MAX], wk[SSM_CONV_MAX];
    for (int k = 0; k < d_conv; k++)
      wk[k] = wasm_f32x4_make(w[(size_t)c * d_conv + k], w[(size_t)(c + 1) * d_conv + k],
                              w[(size_t)(c + 2) * d_conv + k], w[(size_t)(c + 3) * d_conv + k]);
    for (int k = 0; k < nh; k++)
      hist[k] = wasm_f32x4_make(state[(size_t)c * nh + k], state[(size_t)(c + 1) * nh + k],
                                state[(size_t)(c + 2) * nh + k], state[(size_t)(c + 3) * nh + k]);
    for (int t = 0; t < n_tok; t++) {
      const v128_t xt = wasm_v128_load(x + (size_t)t * x_stride + c);
      v128_t sum = wasm_f32x4_splat(0.0f);
      for (int k = 0; k < nh; k++) sum = wasm_f32x4_add(sum, wasm_f32x4_mul(hist[k], wk[k]));
      sum = wasm_f32x4_add(sum, wasm_f32x4_mul(xt, wk[nh]));
      wasm_v128_store(y + (size_t)t * n_ch + c, sum);
      for (int k = 0; k + 1 < nh; k++) hist[k] = hist[k + 1];
      if (nh > 0) hist[nh - 1] = xt;
    }
    for (int k = 0; k < nh; k++) {
      float lanes[4];
      wasm_v128_store(lanes, hist[k]);
      for (int j = 0; j < 4; j++) state[(size_t)(c + j) * nh + k] = lanes[j];
    }
  }
  for (; c < c1; c++) {
    float hist[SSM_CONV_MAX];
    const float* wc = w + (size_t)c * d_conv;
    for (int k = 0; k < nh; k++) hist[k] = state[(size_t)c * nh + k];
    for (int t = 0; t < n_tok; t++) {
      const float xt = x[(size_t)t * x_stride + c];
      float sum = 0.0f;
      for (int k = 0; k < nh; k++) sum += hist[k] * wc[k];
      sum += xt * wc[nh];
      y[(size_t)t * n_ch + c] = sum;
      for (int k = 0; k + 1 < nh; k++) hist[k] = hist[k + 1];
      if (nh > 0) hist[nh - 1] = xt;
    }
    for (int k = 0; k < nh; k++) state[(size_t)c * nh + k] = hist[k];
  }
}
