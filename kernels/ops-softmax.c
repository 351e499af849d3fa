// Row softmax with ggml's soft_max_ext semantics: y = softmax(x*scale + mask).
// As in ggml, the exponentials are f32 and their sum is accumulated in double;
// the row is then multiplied by (float)(1.0/sum). y serves as the scratch row,
// so no work buffer is needed.
#include "ops-math.h"

// void soft_max_f32(const float* x, float* y, const void* mask, int mask_f16, int n_mask_rows,
//                   int n_rows, int n, float scale, int ith, int nth)
// x, y: [n_rows][n] (y may equal x). mask: NULL, or [n_mask_rows][n] of f32
// (mask_f16 = 0) or f16 (mask_f16 = 1); row r adds mask row r % n_mask_rows,
// so a [n_tokens][n_kv] mask broadcasts over a [n_head][n_tokens][n_kv] kq.
// A row whose every entry is -inf comes out as zeros (ggml would assert).
void EXPORT(soft_max_f32)(const float* x, float* y, const void* mask, int mask_f16, int n_mask_rows,
                          int n_rows, int n, float scale, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  const v128_t vscale = wasm_f32x4_splat(scale);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (size_t)r * n;
    float* yr = y + (size_t)r * n;
    const size_t mrow = mask ? (size_t)(r % n_mask_rows) * n : 0;
    const float* m32 = mask && !mask_f16 ? (const float*)mask + mrow : NULL;
    const uint16_t* m16 = mask && mask_f16 ? (const uint16_t*)mask + mrow : NULL;

    // pass 1: y = x*scale (+ mask); the body and the tail round identically
    int i = 0;
    if (m16) {
      for (; i < n; i++) yr[i] = xr[i] * scale + fp16_to_fp32(m16[i]);
    } else {
      for (; i + 4 <= n; i += 4) {
        v128_t v = wasm_f32x4_mul(wasm_v128_load(xr + i), vscale);
        if (m32) v = wasm_f32x4_add(v, wasm_v128_load(m32 + i));
        wasm_v128_store(yr + i, v);
      }
      for (; i < n; i++) yr[i] = m32 ? xr[i] * scale + m32[i] : xr[i] * scale;
    }
    v128_t vmax = wasm_f32x4_splat(-INFINITY);
    for (i = 0; i + 4 <= n; i += 4) vmax = wasm_f32x4_max(vmax, wasm_v128_load(yr + i));
    float max = fmaxf(fmaxf(wasm_f32x4_extract_lane(vmax, 0), wasm_f32x4_extract_lane(vmax, 1)),
                      fmaxf(wasm_f32x4_extract_lane(vmax, 2), wasm_f32x4_extract_lane(vmax, 3)));
    for (; i < n; i++) max = fmaxf(max, yr[i]);

    if (max == -INFINITY) {
      memset(yr, 0, (size_t)n * sizeof(float));
      continue;
    }

    // pass 2: y = exp(y - max), summed in double (each f32 term exact in double)
    const v128_t vmaxs = wasm_f32x4_splat(max);
    v128_t s0 = wasm_f64x2_splat(0), s1 = wasm_f64x2_splat(0);
    for (i = 0; i + 4 <= n; i += 4) {
      const v128_t e = ops_exp_f32x4(wasm_f32x4_sub(wasm_v128_load(yr + i), vmaxs));
      wasm_v128_store(yr + i, e);
      s0 = wasm_f64x2_add(s0, wasm_f64x2_promote_low_f32x4(e));
      s1 = wasm_f64x2_add(s1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(e, e, 2, 3, 0, 1)));
    }
    if (i < n) {
      // the tail, zero-padded: exp of padding lanes is never stored nor summed
      const int k = n - i;
      const v128_t e = ops_exp_f32x4(wasm_f32x4_sub(ops_load_partial(yr + i, k), vmaxs));
      ops_store_partial(yr + i, e, k);
      double t = 0;
      for (int j = 0; j < k; j++) t += (double)yr[i + j];
      s0 = wasm_f64x2_add(s0, wasm_f64x2_make(t, 0));
    }
    const v128_t s = wasm_f64x2_add(s0, s1);
    const double sum = wasm_f64x2_extract_lane(s, 0) + wasm_f64x2_extract_lane(s, 1);

    // pass 3: normalise
    const v128_t vinv = wasm_f32x4_splat((float)(1.0 / sum));
    for (i = 0; i + 4 <= n; i += 4) wasm_v128_store(yr + i, wasm_f32x4_mul(wasm_v128_load(yr + i), vinv));
    for (; i < n; i++) yr[i] *= (float)(1.0 / sum);
  }
}
