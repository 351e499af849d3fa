// Recurrent layers' ops: the short causal convolution with its rolling state
// (ggml_ssm_conv over [state, batch], as lfm2, Mamba-2 and the gated delta
// net use it).
//
// The state of a sequence is, per channel, the last d_conv - 1 inputs in time
// order; the kernel reads it as the tokens before the batch and leaves the
// batch's last d_conv - 1 inputs in it.
//
// Every recurrent kernel takes its states as (state, per_seq, kv_rows): the
// state tensor holds one block of per_seq floats per sequence slot, and token
// t's block is slot kv_rows[2t] (the batch's kv rows input, as attention reads
// it). A batch may hold the rows of several sequences, each sequence's rows in
// order (runtime/batch.ts); each token updates its own sequence's state, so a
// sequence's results do not depend on what else shares the batch. Threads split channels, so each
// channel's state is read and written by one thread. Each output is summed in
// ggml's order (tap 0 = oldest first), one multiply and one add per tap: the
// SIMD lanes (four channels) do the scalar steps, so bits do not depend on
// the split or the batch.
#include "common.h"
#include <math.h>

#define SSM_CONV_MAX 16

// The state block of token t (see above).
static float* state_of(float* state, int per_seq, const int32_t* kv_rows, int t) {
  return state + (size_t)kv_rows[2 * t] * (size_t)per_seq;
}

// void ssm_conv_f32(const float* x, int x_stride, float* state, int per_seq, const int32_t* kv_rows,
//                   const float* w, float* y, int n_ch, int n_tok, int d_conv, int ith, int nth)
// x: n_tok rows of n_ch inputs, x_stride floats apart; a sequence's state block: [n_ch][d_conv - 1];
// w: [n_ch][d_conv]; y: [n_tok][n_ch].
// y[t][c] = sum_k win[t + k][c] * w[c][k], win = the state's d_conv - 1 inputs then x's.
void EXPORT(ssm_conv_f32)(const float* x, int x_stride, float* states, int per_seq, const int32_t* kv_rows,
                          const float* w, float* y, int n_ch, int n_tok, int d_conv, int ith, int nth) {
  if (d_conv < 1 || d_conv > SSM_CONV_MAX) return;
  const int nh = d_conv - 1;
  // whole groups of four channels per thread
  int g0, g1;
  rows_range((n_ch + 3) / 4, ith, nth, &g0, &g1);
  const int c0 = g0 * 4, c1 = g1 * 4 < n_ch ? g1 * 4 : n_ch;
  // each run of consecutive tokens of one sequence, with that sequence's state
  for (int t0 = 0; t0 < n_tok;) {
    int t1 = t0 + 1;
    while (t1 < n_tok && kv_rows[2 * t1] == kv_rows[2 * t0]) t1++;
    float* state = state_of(states, per_seq, kv_rows, t0);
    int c = c0;
    for (; c + 4 <= c1; c += 4) {
      v128_t hist[SSM_CONV_MAX], wk[SSM_CONV_MAX];
      for (int k = 0; k < d_conv; k++)
        wk[k] = wasm_f32x4_make(w[(size_t)c * d_conv + k], w[(size_t)(c + 1) * d_conv + k],
                                w[(size_t)(c + 2) * d_conv + k], w[(size_t)(c + 3) * d_conv + k]);
      for (int k = 0; k < nh; k++)
        hist[k] = wasm_f32x4_make(state[(size_t)c * nh + k], state[(size_t)(c + 1) * nh + k],
                                  state[(size_t)(c + 2) * nh + k], state[(size_t)(c + 3) * nh + k]);
      for (int t = t0; t < t1; t++) {
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
      for (int t = t0; t < t1; t++) {
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
    t0 = t1;
  }
}

// Mamba-2's selective scan (ggml_ssm_scan with a scalar decay per head), with
// the dt bias and the D skip folded in:
//   dt' = softplus(dt[h] + dt_bias[h]),  dA = exp(dt' * A[h])
//   state[h][i][s] = state[h][i][s] * dA + B[g][s] * (x[h][i] * dt')
//   y[h][i] = sum_s state[h][i][s] * C[g][s]  +  x[h][i] * D[h]
// for each token in order, g = h / (n_head / n_group). x, B and C are rows of
// xbc (x: d_inner = head_dim * n_head values, then B and C: n_group * d_state
// each), xbc_stride floats apart; dt rows dt_stride apart; a sequence's state
// block is [n_head][head_dim][d_state], updated in place. The sum over
// d_state follows ggml's AVX build (four accumulators of eight lanes, reduced
// pairwise, then the remainder one by one); threads split heads, as ggml does.

static float softplus_f32(float v) { return v > 20.0f ? v : logf(1.0f + expf(v)); }

// void ssm_scan_f32(float* state, int per_seq, const int32_t* kv_rows, const float* xbc, int xbc_stride, const float* dt, int dt_stride,
//                   const float* dt_bias, const float* A, const float* D, float* y, int d_state,
//                   int head_dim, int n_head, int n_group, int n_tok, int ith, int nth)
void EXPORT(ssm_scan_f32)(float* states, int per_seq, const int32_t* kv_rows, const float* xbc, int xbc_stride, const float* dt, int dt_stride,
                          const float* dt_bias, const float* A, const float* D, float* y, int d_state,
                          int head_dim, int n_head, int n_group, int n_tok, int ith, int nth) {
  int h0, h1;
  rows_range(n_head, ith, nth, &h0, &h1);
  const int d_inner = head_dim * n_head;
  const int heads_per_group = n_head / n_group;
  const int np = d_state & ~31;
  for (int t = 0; t < n_tok; t++) {
    float* state = state_of(states, per_seq, kv_rows, t);
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

// ggml_vec_dot_f32 as ggml's AVX build sums it: four accumulators of eight
// lanes over whole steps of 32, reduced pairwise, the remainder added in
// double.
static float dot_f32_ggml(const float* a, const float* b, int n) {
  const int np = n & ~31;
  v128_t acc[8];
  for (int j = 0; j < 8; j++) acc[j] = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < np; i += 32)
    for (int j = 0; j < 8; j++)
      acc[j] = wasm_f32x4_add(acc[j], wasm_f32x4_mul(wasm_v128_load(a + i + 4 * j), wasm_v128_load(b + i + 4 * j)));
  float r = 0.0f;
  if (np > 0) {
    const v128_t lo = wasm_f32x4_add(wasm_f32x4_add(acc[0], acc[4]), wasm_f32x4_add(acc[2], acc[6]));
    const v128_t hi = wasm_f32x4_add(wasm_f32x4_add(acc[1], acc[5]), wasm_f32x4_add(acc[3], acc[7]));
    float l[4];
    wasm_v128_store(l, wasm_f32x4_add(lo, hi));
    r = (l[0] + l[1]) + (l[2] + l[3]);
  }
  double d = r;
  for (int i = np; i < n; i++) d += (double)(a[i] * b[i]);
  return (float)d;
}

// void l2_norm_heads_f32(const float* x, int x_stride, float* y, int n_tok, int n_head, int head_dim,
//                        float eps, int ith, int nth)
// ggml_l2_norm of each head: y = x / max(sqrt(sum x^2), eps), the sum in double; x's token
// rows x_stride floats apart (a view into a convolution's output), y [head_dim, n_head, n_tok].
void EXPORT(l2_norm_heads_f32)(const float* x, int x_stride, float* y, int n_tok, int n_head, int head_dim,
                               float eps, int ith, int nth) {
  int r0, r1;
  rows_range(n_tok * n_head, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const int t = r / n_head, h = r % n_head;
    const float* xr = x + (size_t)t * x_stride + (size_t)h * head_dim;
    float* yr = y + (size_t)r * head_dim;
    double sum = 0.0;
    for (int i = 0; i < head_dim; i++) sum += (double)(xr[i] * xr[i]);
    const float n = sqrtf((float)sum);
    const float scale = 1.0f / (n > eps ? n : eps);
    for (int i = 0; i < head_dim; i++) yr[i] = xr[i] * scale;
  }
}

#define GDN_MAX_HEAD 512

// The gated delta rule (ggml_gated_delta_net, one decay per head), for
// qwen3next's and qwen35's linear attention. Per value head h and token t,
// with beta = sigmoid(b) and g = softplus(a + dt_bias[h]) * A[h]. grouped = 1
// (qwen3next): value head h reads key head h / r (r = n_v_head / n_k_head,
// its q and k repeated per group) and b at [k head * 2r + h % r] of the
// fused ba row (a: the same index from `a`, which points r floats on);
// grouped = 0 (qwen35): key head h % n_k_head (q and k tiled), b and a at [h].
//   M *= exp(g);  delta[j] = (v[j] - M[j]·k) * beta;  M[j] += k * delta[j];  out[j] = M[j]·q / sqrt(S)
// M is the head's [S][S] state (row j: S[:, j]) in token t's sequence's block, updated in place.
// q, k: [S, n_k_head, n_tok] (l2-normed); v rows of S * n_v_head, v_stride floats apart; b and a
// rows ab_stride apart; out [S, n_v_head, n_tok]. Threads split value heads.
//
// void gated_delta_net_f32(float* state, int per_seq, const int32_t* kv_rows, const float* q, const float* k, const float* v, int v_stride,
//                          const float* b, const float* a, int ab_stride, int grouped, const float* dt_bias,
//                          const float* A, float* out, int S, int n_k_head, int n_v_head, int n_tok,
//                          int ith, int nth)
void EXPORT(gated_delta_net_f32)(float* states, int per_seq, const int32_t* kv_rows, const float* q, const float* k, const float* v, int v_stride,
                                 const float* b, const float* a, int ab_stride, int grouped, const float* dt_bias,
                                 const float* A, float* out, int S, int n_k_head, int n_v_head, int n_tok,
                                 int ith, int nth) {
  if (S > GDN_MAX_HEAD) return;
  int h0, h1;
  rows_range(n_v_head, ith, nth, &h0, &h1);
  const int rep = n_v_head / n_k_head;
  const float scale = 1.0f / sqrtf((float)S);
  float delta[GDN_MAX_HEAD];
  for (int h = h0; h < h1; h++) {
    const int hk = grouped ? h / rep : h % n_k_head;
    const int iab = grouped ? hk * 2 * rep + h % rep : h;
    for (int t = 0; t < n_tok; t++) {
      float* M = state_of(states, per_seq, kv_rows, t) + (size_t)h * S * S;
      const float beta = 1.f / (1.f + expf(-b[(size_t)t * ab_stride + iab]));
      const float av = a[(size_t)t * ab_stride + iab] + dt_bias[h];
      const float sp = av > 20.0f ? av : logf(1.0f + expf(av));
      const float eg = expf(sp * A[h]);
      const float* qt = q + ((size_t)t * n_k_head + hk) * S;
      const float* kt = k + ((size_t)t * n_k_head + hk) * S;
      const float* vt = v + (size_t)t * v_stride + (size_t)h * S;
      const v128_t veg = wasm_f32x4_splat(eg);
      int i = 0;
      for (; i + 4 <= S * S; i += 4) wasm_v128_store(M + i, wasm_f32x4_mul(wasm_v128_load(M + i), veg));
      for (; i < S * S; i++) M[i] *= eg;
      for (int j = 0; j < S; j++) delta[j] = (vt[j] - dot_f32_ggml(M + (size_t)j * S, kt, S)) * beta;
      for (int j = 0; j < S; j++) {
        float* Mj = M + (size_t)j * S;
        const v128_t vd = wasm_f32x4_splat(delta[j]);
        int c = 0;
        for (; c + 4 <= S; c += 4) wasm_v128_store(Mj + c, wasm_f32x4_add(wasm_v128_load(Mj + c), wasm_f32x4_mul(wasm_v128_load(kt + c), vd)));
        for (; c < S; c++) Mj[c] += kt[c] * delta[j];
      }
      float* ot = out + ((size_t)t * n_v_head + h) * S;
      for (int j = 0; j < S; j++) ot[j] = dot_f32_ggml(M + (size_t)j * S, qt, S) * scale;
    }
  }
}
