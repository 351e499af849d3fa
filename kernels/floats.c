// Float weight types: f32, f16, bf16. Dot products, row-range matvecs,
// f16/bf16 <-> f32 row conversions. The scalar references (the test oracle)
// are in formats/quant/floats.ts.
//
// wasm SIMD128 has no FMA outside relaxed-simd, so every accumulation is a
// mul then an add, each rounded to f32. Several independent accumulators
// keep the adds from serialising on their latency.
#include "common.h"

// ---------------------------------------------------------------------------
// conversions

// f32 -> f16, round to nearest even, exactly fp32_to_fp16 (common.h) lane by
// lane: the normal range by integer rounding on the bits, the subnormal range
// by letting the FPU round |x| + 0.5 (whose ulp is the f16 subnormal step),
// then overflow and nan by selects.
static inline v128_t f32x4_to_f16_bits(v128_t x) {
  const v128_t ax = wasm_v128_and(x, wasm_i32x4_const_splat(0x7FFFFFFF));
  const v128_t odd = wasm_v128_and(wasm_u32x4_shr(ax, 13), wasm_i32x4_const_splat(1));
  // + 0xFFF + odd rounds half to even; - (112 << 23) rebiases the exponent
  const v128_t normal = wasm_u32x4_shr(
      wasm_i32x4_add(wasm_i32x4_add(ax, odd), wasm_i32x4_const_splat(0xFFF - (112 << 23))), 13);
  const v128_t sub = wasm_i32x4_sub(wasm_f32x4_add(ax, wasm_f32x4_const_splat(0.5f)),
                                    wasm_i32x4_const_splat(0x3F000000));
  v128_t h = wasm_v128_bitselect(sub, normal, wasm_u32x4_lt(ax, wasm_i32x4_const_splat(0x38800000)));
  h = wasm_v128_bitselect(wasm_i32x4_const_splat(0x7C00), h,
                          wasm_u32x4_ge(ax, wasm_i32x4_const_splat(0x477FF000)));
  const v128_t qnan = wasm_v128_or(wasm_i32x4_const_splat(0x7E00),
                                   wasm_v128_and(wasm_u32x4_shr(ax, 13), wasm_i32x4_const_splat(0x3FF)));
  h = wasm_v128_bitselect(qnan, h, wasm_u32x4_gt(ax, wasm_i32x4_const_splat(0x7F800000)));
  return wasm_v128_or(h, wasm_u32x4_shr(wasm_v128_and(x, wasm_i32x4_const_splat((int32_t)0x80000000u)), 16));
}

void EXPORT(convert_row_f32_to_f16)(const float* x, uint16_t* y, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const v128_t lo = f32x4_to_f16_bits(wasm_v128_load(x + i));
    const v128_t hi = f32x4_to_f16_bits(wasm_v128_load(x + i + 4));
    wasm_v128_store(y + i, i32x4_pair_to_u16x8(lo, hi));
  }
  for (; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}

// ggml's rule (ggml_compute_fp32_to_bf16): nan -> quiet nan with the top
// mantissa bits kept; everything else, subnormals included, rounds to
// nearest even on the dropped 16 bits.
static inline uint16_t fp32_to_bf16(float f) {
  const uint32_t u = fp32_to_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 64);
  return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

static inline v128_t f32x4_to_bf16_bits(v128_t x) {
  const v128_t odd = wasm_v128_and(wasm_u32x4_shr(x, 16), wasm_i32x4_const_splat(1));
  const v128_t rounded = wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(x, odd), wasm_i32x4_const_splat(0x7FFF)), 16);
  const v128_t qnan = wasm_v128_or(wasm_u32x4_shr(x, 16), wasm_i32x4_const_splat(64));
  const v128_t isnan = wasm_u32x4_gt(wasm_v128_and(x, wasm_i32x4_const_splat(0x7FFFFFFF)),
                                     wasm_i32x4_const_splat(0x7F800000));
  return wasm_v128_bitselect(qnan, rounded, isnan);
}

void EXPORT(convert_row_f32_to_bf16)(const float* x, uint16_t* y, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const v128_t lo = f32x4_to_bf16_bits(wasm_v128_load(x + i));
    const v128_t hi = f32x4_to_bf16_bits(wasm_v128_load(x + i + 4));
    wasm_v128_store(y + i, i32x4_pair_to_u16x8(lo, hi));
  }
  for (; i < n; i++) y[i] = fp32_to_bf16(x[i]);
}

void EXPORT(dequantize_row_f16)(const void* vx, float* y, int n) {
  const uint16_t* x = vx;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const v128_t h = wasm_v128_load(x + i);
    wasm_v128_store(y + i, f16x8_lo_to_f32x4(h));
    wasm_v128_store(y + i + 4, f16x8_hi_to_f32x4(h));
  }
  for (; i < n; i++) y[i] = fp16_to_fp32(x[i]);
}

void EXPORT(dequantize_row_bf16)(const void* vx, float* y, int n) {
  const uint16_t* x = vx;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const v128_t h = wasm_v128_load(x + i);
    wasm_v128_store(y + i, bf16x8_lo_to_f32x4(h));
    wasm_v128_store(y + i + 4, bf16x8_hi_to_f32x4(h));
  }
  for (; i < n; i++) y[i] = bf16_to_fp32(x[i]);
}

// ---------------------------------------------------------------------------
// dot products and matvecs
//
// All three float types share one shape: the activation is (or is first
// converted, once per matvec, to) f32, and each row streams past it with its
// f16/bf16 weights converted in registers. f16 x f16 and bf16 x bf16 products
// are exact in f32, so converting first loses nothing. One row at a time:
// measured faster than two rows sharing each activation load (V8 keeps the
// smaller loop in registers).

// Weights as f32x4, eight elements per step, for the three storage types.
#define LOAD8_F32(p, i, lo, hi) do { lo = wasm_v128_load((const float*)(p) + (i)); \
                                     hi = wasm_v128_load((const float*)(p) + (i) + 4); } while (0)
// f16 weights are converted without their 2^112 factor (see fp16_unscaled),
// which the activation carries instead: 3 ops per 4 weights instead of 10.
// Exact for finite weights; inf/nan weights give wrong finite products.
// The half goes to the top of an i32 lane (as for bf16), an arithmetic shift
// right by 3 leaves it sign-extended at bit 13, the mask keeps the sign.
#define F16X4_UNSCALED(top) wasm_v128_and(wasm_i32x4_shr(top, 3), wasm_i32x4_const_splat((int32_t)0x8FFFE000u))
#define LOAD8_F16(p, i, lo, hi) do { const v128_t h_ = wasm_v128_load((const uint16_t*)(p) + (i)); \
                                     lo = F16X4_UNSCALED(bf16x8_lo_to_f32x4(h_)); \
                                     hi = F16X4_UNSCALED(bf16x8_hi_to_f32x4(h_)); } while (0)
#define LOAD8_BF16(p, i, lo, hi) do { const v128_t h_ = wasm_v128_load((const uint16_t*)(p) + (i)); \
                                      lo = bf16x8_lo_to_f32x4(h_); hi = bf16x8_hi_to_f32x4(h_); } while (0)

static inline float f32_elem(const void* p, int i) { return ((const float*)p)[i]; }
static inline float f16_elem(const void* p, int i) { return fp16_unscaled((const uint16_t*)p + i); }
static inline float bf16_elem(const void* p, int i) { return bf16_to_fp32(((const uint16_t*)p)[i]); }

// One row against an f32 activation of n elements (any n: 16 per step, then
// scalar). Four accumulators: 16 partial sums in flight, so the adds do not
// wait on each other.
#define DEFINE_DOT(NAME, LOAD8, ELEM)                                             \
  static float NAME(const void* w, const float* a, int n) {                       \
    v128_t p0 = wasm_f32x4_splat(0.0f), p1 = p0, p2 = p0, p3 = p0;                \
    int i = 0;                                                                    \
    for (; i + 16 <= n; i += 16) {                                                \
      v128_t x0, x1, x2, x3;                                                      \
      LOAD8(w, i, x0, x1);                                                        \
      LOAD8(w, i + 8, x2, x3);                                                    \
      p0 = wasm_f32x4_add(p0, wasm_f32x4_mul(x0, wasm_v128_load(a + i)));         \
      p1 = wasm_f32x4_add(p1, wasm_f32x4_mul(x1, wasm_v128_load(a + i + 4)));     \
      p2 = wasm_f32x4_add(p2, wasm_f32x4_mul(x2, wasm_v128_load(a + i + 8)));     \
      p3 = wasm_f32x4_add(p3, wasm_f32x4_mul(x3, wasm_v128_load(a + i + 12)));    \
    }                                                                             \
    float s = f32x4_hsum(wasm_f32x4_add(wasm_f32x4_add(p0, p1), wasm_f32x4_add(p2, p3))); \
    for (; i < n; i++) s += ELEM(w, i) * a[i];                                    \
    return s;                                                                     \
  }

DEFINE_DOT(dot_f32, LOAD8_F32, f32_elem)
DEFINE_DOT(dot_f16, LOAD8_F16, f16_elem)
DEFINE_DOT(dot_bf16, LOAD8_BF16, bf16_elem)

void EXPORT(matvec_f32)(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1) {
  for (int r = r0; r < r1; r++) out[r] = dot_f32((const uint8_t*)w + (size_t)r * row_bytes, a, n);
}

// The f16 activation as f32 times 2^112: finite for every finite f16
// (65504 * 2^112 < FLT_MAX), exact, and its products with the unscaled
// weights are exactly the f32 products of the true values.
static void f16_to_f32_scaled(const uint16_t* x, float* y, int n) {
  dequantize_row_f16(x, y, n);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(y + i), wasm_f32x4_const_splat(F16_UNSCALE)));
  for (; i < n; i++) y[i] *= F16_UNSCALE;
}

// The f16/bf16 activation is converted to f32 once per chunk of columns, not
// once per row; rows longer than a chunk accumulate over several passes.
#define HALF_MATVEC(NAME, DOT, TO_F32)                                                       \
  void EXPORT(NAME)(const void* w, int row_bytes, const void* a, float* out, int n, int r0,  \
                    int r1) {                                                                \
    float af[ACT_CHUNK] __attribute__((aligned(16)));                                        \
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {                                              \
      const int cn = n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK;                                \
      TO_F32((const uint16_t*)a + c0, af, cn);                                               \
      for (int r = r0; r < r1; r++) {                                                        \
        const float s = DOT((const uint8_t*)w + (size_t)r * row_bytes + (size_t)c0 * 2, af, cn); \
        out[r] = c0 == 0 ? s : out[r] + s;                                                   \
      }                                                                                      \
    }                                                                                        \
  }

HALF_MATVEC(matvec_f16, dot_f16, f16_to_f32_scaled)
HALF_MATVEC(matvec_bf16, dot_bf16, dequantize_row_bf16)

float EXPORT(vec_dot_f32_f32)(int n, const void* w, const void* a) {
  return dot_f32(w, a, n);
}

float EXPORT(vec_dot_f16_f16)(int n, const void* w, const void* a) {
  float out;
  matvec_f16(w, 0, a, &out, n, 0, 1);
  return out;
}

float EXPORT(vec_dot_bf16_bf16)(int n, const void* w, const void* a) {
  float out;
  matvec_bf16(w, 0, a, &out, n, 0, 1);
  return out;
}
