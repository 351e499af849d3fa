// The ternary types tq1_0 and tq2_0 against q8_K activations
// (ggml_vec_dot_tq1_0_q8_K, ggml_vec_dot_tq2_0_q8_K): every weight is
// d * t, t in {-1, 0, 1}, one f16 d per 256 elements. The super-block's
// integer sum of t * a is exact in int32; then f32(sum) * fl(d_a * d_w), as
// ggml, into four f32 lanes. The scalar references (and the packings) are in
// formats/quant/ternary.ts.
#include "rowdot.h"
#include "kquants.h"

typedef struct { uint8_t qs[48]; uint8_t qh[4]; uint16_t d; } block_tq1_0;
typedef struct { uint8_t qs[64]; uint16_t d; } block_tq2_0;
_Static_assert(sizeof(block_tq1_0) == 54, "tq1_0 layout");
_Static_assert(sizeof(block_tq2_0) == 66, "tq2_0 layout");

// ---------------------------------------------------------------- tq2_0

// Byte 32c + m holds element 128c + 32l + m at bits 2l, 2l+1, as t + 1.
static float dot_tq2_0(const block_tq2_0* x, const block_q8_K* y, int nb) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < nb; i++) {
    v128_t isum = wasm_i32x4_splat(0);
    for (int c = 0; c < 2; c++) {
      for (int h = 0; h < 2; h++) {
        const v128_t v = wasm_v128_load(x[i].qs + 32 * c + 16 * h);
        _Pragma("clang loop unroll(full)") for (int l = 0; l < 4; l++) {
          const v128_t t = wasm_i8x16_sub(wasm_v128_and(wasm_u8x16_shr(v, 2 * l), wasm_i8x16_const_splat(3)),
                                          wasm_i8x16_const_splat(1));
          isum = wasm_i32x4_add(isum, dot_i8x16(t, wasm_v128_load(y[i].qs + 128 * c + 32 * l + 16 * h)));
        }
      }
    }
    const float d = y[i].d * fp16_to_fp32(x[i].d);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d)));
  }
  return f32x4_hsum(acc);
}

// ---------------------------------------------------------------- tq1_0

// Trit n of a packed byte b is ((b * 3^n mod 256) * 3) >> 8; here in u16
// lanes (b * 81 < 2^16), minus one: t as int16. `p` holds 3^n per lane.
static inline v128_t trits(v128_t b16, v128_t p) {
  const v128_t q = wasm_v128_and(wasm_i16x8_mul(b16, p), wasm_i16x8_const_splat(0xff));
  return wasm_i16x8_sub(wasm_u16x8_shr(wasm_i16x8_mul(q, wasm_i16x8_const_splat(3)), 8), wasm_i16x8_const_splat(1));
}

// 16 packed bytes at `qs` hold, in trit n, the 16 elements at a + stride * n.
static inline v128_t dot_trit_planes(const uint8_t* qs, const int8_t* a, int stride, int planes) {
  const v128_t v = wasm_v128_load(qs);
  const v128_t lo = wasm_u16x8_extend_low_u8x16(v), hi = wasm_u16x8_extend_high_u8x16(v);
  v128_t s = wasm_i32x4_splat(0);
  int p = 1;
  for (int n = 0; n < planes; n++, p *= 3) {
    const v128_t pv = wasm_i16x8_splat((int16_t)p);
    const v128_t av = wasm_v128_load(a + stride * n);
    s = wasm_i32x4_add(s, wasm_i32x4_dot_i16x8(trits(lo, pv), wasm_i16x8_extend_low_i8x16(av)));
    s = wasm_i32x4_add(s, wasm_i32x4_dot_i16x8(trits(hi, pv), wasm_i16x8_extend_high_i8x16(av)));
  }
  return s;
}

// qs[m] (m < 32): elements m + 32n, n < 5; qs[32 + m] (m < 16): 160 + m + 16n;
// qh[j]: 240 + j + 4n, n < 4.
static float dot_tq1_0(const block_tq1_0* x, const block_q8_K* y, int nb) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < nb; i++) {
    const int8_t* a = y[i].qs;
    v128_t isum = wasm_i32x4_add(dot_trit_planes(x[i].qs, a, 32, 5), dot_trit_planes(x[i].qs + 16, a + 16, 32, 5));
    isum = wasm_i32x4_add(isum, dot_trit_planes(x[i].qs + 32, a + 160, 16, 5));
    // qh: lane 4n + j of the splatted u32 is qh[j]; it needs trit n
    const v128_t h = wasm_v128_load32_splat(x[i].qh);
    const v128_t av = wasm_v128_load(a + 240);
    const v128_t tl = trits(wasm_u16x8_extend_low_u8x16(h), wasm_i16x8_const(1, 1, 1, 1, 3, 3, 3, 3));
    const v128_t th = trits(wasm_u16x8_extend_high_u8x16(h), wasm_i16x8_const(9, 9, 9, 9, 27, 27, 27, 27));
    isum = wasm_i32x4_add(isum, wasm_i32x4_add(wasm_i32x4_dot_i16x8(tl, wasm_i16x8_extend_low_i8x16(av)),
                                               wasm_i32x4_dot_i16x8(th, wasm_i16x8_extend_high_i8x16(av))));
    const float d = fp16_to_fp32(x[i].d) * y[i].d;
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d)));
  }
  return f32x4_hsum(acc);
}

DEFINE_ROW_KERNELS(tq1_0, q8_K, QK_K)
DEFINE_ROW_KERNELS(tq2_0, q8_K, QK_K)

// ---------------------------------------------------------------- dequantize
// (t - 1) * d, exact; scalar: these only serve get_rows (embeddings).

static inline int trit_of(uint8_t b, int n) {
  static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
  return (((uint8_t)(b * pow3[n])) * 3) >> 8;
}

void EXPORT(dequantize_row_tq1_0)(const void* vx, float* y, int n) {
  const block_tq1_0* x = vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int p = 0; p < 5; p++)
      for (int m = 0; m < 32; m++) *y++ = (float)(trit_of(x[i].qs[m], p) - 1) * d;
    for (int p = 0; p < 5; p++)
      for (int m = 0; m < 16; m++) *y++ = (float)(trit_of(x[i].qs[32 + m], p) - 1) * d;
    for (int p = 0; p < 4; p++)
      for (int j = 0; j < 4; j++) *y++ = (float)(trit_of(x[i].qh[j], p) - 1) * d;
  }
}

void EXPORT(dequantize_row_tq2_0)(const void* vx, float* y, int n) {
  const block_tq2_0* x = vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int c = 0; c < 2; c++)
      for (int l = 0; l < 4; l++)
        for (int m = 0; m < 32; m++) *y++ = (float)(((x[i].qs[32 * c + m] >> (2 * l)) & 3) - 1) * d;
  }
}
