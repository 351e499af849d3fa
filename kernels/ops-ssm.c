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
#include <math.h>

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

// Mamba-2's selective scan (ggml_ssm_scan with a scalar decay per head), with
// the dt bias and the D skip folded in:
//   dt' = softplus(dt[h] + dt_bias[h]),  dA = exp(dt' * A[h])
//   state[h][i][s] = state[h][i][s] * dA + B[g][s] * (x[h][i] * dt')
//   y[h][i] = sum_s state[h][i][s] * C[g][s]  +  x[h][i] * D[h]
// for each token in order, g = h / (n_head / n_group). x, B and C are rows of
// xbc (x: d_inner = head_dim * n_head values, then B and C: n_group * d_state
// each), xbc_stride floats apart; dt rows dt_stride apart; state is the
// sequence's [n_head][head_dim][d_state] block, updated in place. The sum over
// d_state follows ggml's AVX build (four accumulators of eight lanes, reduced
// pairwise, then the remainder one by one); threads split heads, as ggml does.

static float softplus_f32(float v) { return v > 20.0f ? v : logf(1.0f + expf(v)); }

// void ssm_scan_f32(float* state, const float* xbc, int xbc_stride, const float* dt, int dt_stride,
//                   const float* dt_bias, const float* A, const float* D, float* y, int d_state,
//                   int head_dim, int n_head, int n_group, int n_tok, int ith, int nth)
void EXPORT(ssm_scan_f32)(float* state, const float* xbc, int xbc_stride, const float* dt, int dt_stride,
                          const float* dt_bias, const float* A, const float* D, float* y, int d_state,
                          int head_dim, int n_head, int n_group, int n_tok, int ith, int nth) {
  int h0, h1;
  rows_range(n_head, ith, nth, &h0, &h1);
  const int d_inner = head_dim * n_head;
  const int heads_per_group = n_head / n_group;
  const int np = d_state & ~31;
  for (int t = 0; t < n_tok; t++) {
    const float* x = xbc + (size_t)t * xbc_stride;
    const float* Bt = x + d_inner;
    const float* Ct = Bt + (size_t)n_group * d_state;
    float* yt = y + (size_t)t * d_inner;
    for (int h = h0; h < h1; h++) {
      const float dt_sp = softplus_f32(dt[(size_t)t * dt_stride + h] + dt_bias[h]);
      const float dA = expf(dt_sp * A[h]);
      const int g = h / heads_per_group;
      const float* B = Bt + (size_t)g * d_state;
      const float* C = Ct + (size_t)g * d_state;
      const v128_t vdA = wasm_f32x4_splat(dA);
      for (int i1 = 0; i1 < head_dim; i1++) {
        const int ii = i1 + h * head_dim;
        float* s = state + (size_t)ii * d_state;
        const float x_dt = x[ii] * dt_sp;
        const v128_t vxdt = wasm_f32x4_splat(x_dt);
        // eight lanes of four accumulators, as two f32x4 halves each
        v128_t acc[8];
        for (int j = 0; j < 8; j++) acc[j] = wasm_f32x4_splat(0.0f);
        for (int i = 0; i < np; i += 32) {
          for (int j = 0; j < 8; j++) {
            const int o = i + 4 * j;
            const v128_t st = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(s + o), vdA),
                                             wasm_f32x4_mul(wasm_v128_load(B + o), vxdt));
            acc[j] = wasm_f32x4_add(acc[j], wasm_f32x4_mul(st, wasm_v128_load(C + o)));
            wasm_v128_store(s + o, st);
          }
        }
        float sumf = 0.0f;
        if (np > 0) {
          // accumulator k (of four) is acc[2k] (lanes 0-3) and acc[2k+1] (lanes 4-7): (a0 + a2) + (a1 + a3)
          const v128_t lo = wasm_f32x4_add(wasm_f32x4_add(acc[0], acc[4]), wasm_f32x4_add(acc[2], acc[6]));
          const v128_t hi = wasm_f32x4_add(wasm_f32x4_add(acc[1], acc[5]), wasm_f32x4_add(acc[3], acc[7]));
          float l[4];
          wasm_v128_store(l, wasm_f32x4_add(lo, hi));
          sumf = (l[0] + l[1]) + (l[2] + l[3]);
        }
        for (int i0 = np; i0 < d_state; i0++) {
          const float st = s[i0] * dA + B[i0] * x_dt;
          sumf += st * C[i0];
          s[i0] = st;
        }
        yt[ii] = D ? sumf + x[ii] * D[h] : sumf;
      }
    }
  }
}
