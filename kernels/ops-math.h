// Helpers shared by the ops-*.c kernels (norms, rope, softmax, attention,
// element-wise): work splitting, and SIMD exp / tanh / f16 rounding written so
// that every lane gives the same bits whichever thread or loop position
// computes it. That is what makes an op's output independent of nth.
#pragma once
#include <math.h>

#include "common.h"

// Element-wise ops split a flat range in blocks of whole vectors, so that
// thread blocks stay vector-aligned (tails go through the same SIMD math as
// bodies anyway, so an element's bits never depend on the split).
static inline void flat_range(int n, int ith, int nth, int* i0, int* i1) {
  const int nv = (n + 3) / 4;
  int a, b;
  rows_range(nv, ith, nth, &a, &b);
  a *= 4;
  b *= 4;
  *i0 = a > n ? n : a;
  *i1 = b > n ? n : b;
}

// e^x for 4 lanes. n = round(x / ln2) and r = x - n*ln2 (two-part ln2, so
// that n*LN2_HI is exact), e^r by its degree-7 Taylor polynomial (|r| <= 0.35,
// truncation below 1e-8 relative), then 2^n applied as two factors so that
// results down to the subnormal range are rounded once. The clamp makes
// -inf -> +0 (what a -inf attention mask needs) and x > 88.73 -> +inf.
// Max error measured in test/kernels-ops.test.ts.
static inline v128_t ops_exp_f32x4(v128_t x) {
  x = wasm_f32x4_pmax(x, wasm_f32x4_splat(-110.0f));  // pmax keeps a nan x
  x = wasm_f32x4_pmin(x, wasm_f32x4_splat(89.0f));
  const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.0f / 5040.0f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 720.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  // n in [-159, 128]: both halves stay inside the normal exponent range
  const v128_t ni = wasm_i32x4_trunc_sat_f32x4(n);
  const v128_t n1 = wasm_i32x4_shr(ni, 1);
  const v128_t n2 = wasm_i32x4_sub(ni, n1);
  const v128_t s1 = wasm_i32x4_shl(wasm_i32x4_add(n1, wasm_i32x4_splat(127)), 23);
  const v128_t s2 = wasm_i32x4_shl(wasm_i32x4_add(n2, wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(wasm_f32x4_mul(p, s1), s2);
}

// tanh for 4 lanes, as e/(e + 2) with e = expm1(2|x|), sign put back. expm1
// is built from 2^n and a polynomial for expm1(r) so that small |x| keeps its
// relative accuracy (1 - 2/(e^2x + 1) would cancel). |x| is clamped at 10,
// where tanh is 1 in float.
static inline v128_t ops_tanh_f32x4(v128_t x) {
  const v128_t sign = wasm_v128_and(x, wasm_i32x4_splat((int32_t)0x80000000u));
  v128_t y = wasm_f32x4_add(wasm_v128_xor(x, sign), wasm_v128_xor(x, sign));  // 2|x|
  y = wasm_f32x4_pmin(y, wasm_f32x4_splat(20.0f));
  const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(y, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(y, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  // expm1(r) = r + r^2 (1/2 + r/6 + ... + r^6/40320)
  v128_t p = wasm_f32x4_splat(1.0f / 40320.0f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 5040.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 720.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  const v128_t q = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, r), r), r);
  // expm1(y) = 2^n q + (2^n - 1); n <= 29, so 2^n - 1 is exact
  const v128_t two_n = (v128_t)wasm_i32x4_shl(
      wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  const v128_t e = wasm_f32x4_add(wasm_f32x4_mul(two_n, q),
                                  wasm_f32x4_sub(two_n, wasm_f32x4_splat(1.0f)));
  const v128_t t = wasm_f32x4_div(e, wasm_f32x4_add(e, wasm_f32x4_splat(2.0f)));
  return wasm_v128_or(t, sign);
}

// Rounds each lane to the nearest f16 value (ties to even) and returns it as
// f32: what a ggml f32 -> f16 conversion followed by f16 -> f32 gives. Used
// for q and for the attention probabilities, which ggml converts to f16
// before its f16 matmuls. Normal range by integer rounding of the bits;
// f16-subnormal range by letting the FPU round |x| + 0.5 (ulp 2^-24).
static inline v128_t ops_round_f16_f32x4(v128_t x) {
  const v128_t sign = wasm_v128_and(x, wasm_i32x4_splat((int32_t)0x80000000u));
  const v128_t a = wasm_v128_xor(x, sign);
  const v128_t odd = wasm_v128_and(wasm_u32x4_shr(a, 13), wasm_i32x4_splat(1));
  const v128_t rn = wasm_v128_and(wasm_i32x4_add(wasm_i32x4_add(a, odd), wasm_i32x4_splat(0xFFF)),
                                  wasm_i32x4_splat(~0x1FFF));
  const v128_t half = wasm_f32x4_splat(0.5f);
  const v128_t rs = wasm_f32x4_sub(wasm_f32x4_add(a, half), half);
  v128_t r = wasm_v128_bitselect(rs, rn, wasm_u32x4_lt(a, wasm_i32x4_splat(0x38800000)));
  r = wasm_v128_bitselect(wasm_i32x4_splat(0x7F800000), r,
                          wasm_u32x4_ge(a, wasm_i32x4_splat(0x477FF000)));
  return wasm_v128_or(r, sign);  // nan inputs are not expected (activations, probabilities)
}

// 8 f16 values (one v128) -> two f32x4. Exact for zero, subnormal and normal
// halves: sign, exponent and mantissa placed where an f32 has them, then the
// exponent rebiased by a multiply by 2^112 (which also scales subnormals
// right). With exact = 0, inf and nan come out as large finite numbers (fewer
// ops, for the KV cache, which holds none); exact = 1 maps them too.
static inline v128_t ops_f16_hi_to_f32x4(v128_t w, int exact) {
  // w: each half in the top 16 bits of a lane. The arithmetic shift moves
  // exponent and mantissa down 3 bits and copies the sign into bits 28..30,
  // which the mask clears again.
  const v128_t b = wasm_v128_and(wasm_i32x4_shr(w, 3), wasm_i32x4_splat((int32_t)0x8FFFFFFFu));
  v128_t f = wasm_f32x4_mul(b, wasm_f32x4_splat(0x1.0p112f));
  if (exact) {
    const v128_t e31 = wasm_u32x4_ge(wasm_v128_and(b, wasm_i32x4_splat(0x7FFFFFFF)),
                                     wasm_i32x4_splat(0x0F800000));
    f = wasm_v128_bitselect(wasm_v128_or(b, wasm_i32x4_splat(0x7F800000)), f, e31);
  }
  return f;
}

static inline void ops_f16x8_to_f32x4x2(v128_t h, v128_t* lo, v128_t* hi, int exact) {
  const v128_t z = wasm_i32x4_splat(0);
  *lo = ops_f16_hi_to_f32x4(wasm_i16x8_shuffle(z, h, 0, 8, 1, 9, 2, 10, 3, 11), exact);
  *hi = ops_f16_hi_to_f32x4(wasm_i16x8_shuffle(z, h, 4, 12, 5, 13, 6, 14, 7, 15), exact);
}

static inline void ops_row_f16_to_f32_impl(const uint16_t* h, float* f, int n, int exact) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t lo, hi;
    ops_f16x8_to_f32x4x2(wasm_v128_load(h + i), &lo, &hi, exact);
    wasm_v128_store(f + i, lo);
    wasm_v128_store(f + i + 4, hi);
  }
  for (; i < n; i++) f[i] = fp16_to_fp32(h[i]);
}

// n halves -> f32, inf/nan not handled (KV cache rows)
static inline void ops_row_f16_to_f32(const uint16_t* h, float* f, int n) {
  ops_row_f16_to_f32_impl(h, f, n, 0);
}

// n halves -> f32, exact for every input (embedding tables)
static inline void ops_row_f16_to_f32_exact(const uint16_t* h, float* f, int n) {
  ops_row_f16_to_f32_impl(h, f, n, 1);
}

static inline float ops_hsum_f32x4(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

// Loads up to 4 floats (the rest zero) and stores back only n lanes: lets a
// row's tail go through the same SIMD math as its body.
static inline v128_t ops_load_partial(const float* p, int n) {
  float t[4] = {0, 0, 0, 0};
  for (int i = 0; i < n; i++) t[i] = p[i];
  return wasm_v128_load(t);
}
static inline void ops_store_partial(float* p, v128_t v, int n) {
  float t[4];
  wasm_v128_store(t, v);
  for (int i = 0; i < n; i++) p[i] = t[i];
}
