// Row normalisations: rms_norm (Llama family) and norm (LayerNorm). Rows are
// split across threads; each row is computed by one thread in a fixed order,
// so the output does not depend on nth.
//
// Precision follows ggml: squares (and for norm the values) are f32, summed in
// double, and the mean is rounded to float before 1/sqrtf. The weight and bias
// are applied as separate f32 operations, exactly what ggml's rms_norm/norm
// followed by mul and add gives.
#include "ops-math.h"

// Sum of a row's float squares in double. The squares are rounded to f32 as
// ggml's (float)(x*x) is; each is then exact in double, so only the double
// additions round (order-dependence ~1e-16, far below the f32 result).
static double sum_sq_f64(const float* x, int n) {
  v128_t s0 = wasm_f64x2_splat(0), s1 = wasm_f64x2_splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t v = wasm_v128_load(x + i);
    const v128_t sq = wasm_f32x4_mul(v, v);
    s0 = wasm_f64x2_add(s0, wasm_f64x2_promote_low_f32x4(sq));
    s1 = wasm_f64x2_add(s1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(sq, sq, 2, 3, 0, 1)));
  }
  const v128_t s = wasm_f64x2_add(s0, s1);
  double sum = wasm_f64x2_extract_lane(s, 0) + wasm_f64x2_extract_lane(s, 1);
  for (; i < n; i++) sum += (double)(x[i] * x[i]);
  return sum;
}

static double sum_f64(const float* x, int n) {
  v128_t s0 = wasm_f64x2_splat(0), s1 = wasm_f64x2_splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t v = wasm_v128_load(x + i);
    s0 = wasm_f64x2_add(s0, wasm_f64x2_promote_low_f32x4(v));
    s1 = wasm_f64x2_add(s1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)));
  }
  const v128_t s = wasm_f64x2_add(s0, s1);
  double sum = wasm_f64x2_extract_lane(s, 0) + wasm_f64x2_extract_lane(s, 1);
  for (; i < n; i++) sum += (double)x[i];
  return sum;
}

// y = x * scale, then * w[i] when w is given, then + b[i] when b is given.
static void scale_row(const float* x, float* y, const float* w, const float* b, int n, float scale) {
  const v128_t vs = wasm_f32x4_splat(scale);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_f32x4_mul(wasm_v128_load(x + i), vs);
    if (w) v = wasm_f32x4_mul(v, wasm_v128_load(w + i));
    if (b) v = wasm_f32x4_add(v, wasm_v128_load(b + i));
    wasm_v128_store(y + i, v);
  }
  for (; i < n; i++) {
    float v = x[i] * scale;
    if (w) v *= w[i];
    if (b) v += b[i];
    y[i] = v;
  }
}

// void rms_norm_f32(const float* x, float* y, const float* w, int n_rows, int n,
//                   float eps, int ith, int nth)
// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) (* w when w != NULL). Rows contiguous,
// y may equal x.
void EXPORT(rms_norm_f32)(const float* x, float* y, const float* w, int n_rows, int n, float eps,
                          int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (size_t)r * n;
    const float mean = (float)(sum_sq_f64(xr, n) / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    scale_row(xr, y + (size_t)r * n, w, NULL, n, scale);
  }
}

// void norm_f32(const float* x, float* y, const float* w, const float* b, int n_rows,
//               int n, float eps, int ith, int nth)
// LayerNorm: y[r] = (x[r] - mean) / sqrt(var + eps) (* w) (+ b); w, b may be NULL.
void EXPORT(norm_f32)(const float* x, float* y, const float* w, const float* b, int n_rows, int n,
                      float eps, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (size_t)r * n;
    float* yr = y + (size_t)r * n;
    // ggml: the sum is rounded to float, then divided in float
    const float mean = (float)sum_f64(xr, n) / (float)n;
    // centre into y (x - mean is one f32 rounding, as ggml's), variance of that
    const v128_t vm = wasm_f32x4_splat(mean);
    int i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(yr + i, wasm_f32x4_sub(wasm_v128_load(xr + i), vm));
    for (; i < n; i++) yr[i] = xr[i] - mean;
    const float variance = (float)(sum_sq_f64(yr, n) / n);
    const float scale = 1.0f / sqrtf(variance + eps);
    scale_row(yr, yr, w, b, n, scale);
  }
}
