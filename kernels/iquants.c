// The 4-bit codebook types in the baseline build: iq4_nl and mxfp4 (32-element
// blocks against q8_0 activations, as ggml_vec_dot_iq4_nl_q8_0 /
// ggml_vec_dot_mxfp4_q8_0) and iq4_xs (256-element super-blocks with 6-bit
// block scales, against q8_K, as ggml_vec_dot_iq4_xs_q8_K). Block layouts,
// levels and scales are in nl4.h; the scalar references in
// formats/quant/iq4.ts and mxfp4.ts.
//
// One i8x16.swizzle turns 16 codes into their levels, which multiply the
// int8 activation exactly in int16 (extmul) and add up exactly in int32. Per
// block (iq4_nl, mxfp4) or super-block (iq4_xs) the integer sum is then
// scaled in f32 as ggml does: iq4_nl and mxfp4 by fl(d_w * d_a) per block,
// iq4_xs by its 6-bit block scales in int32 and by fl(d_w * d_a) per
// super-block (as ggml's x86 kernels sum it, where the generic C scales each
// 32-block in float). Four f32 lanes accumulate the blocks, summed pairwise
// at the end.
#include "rowdot.h"
#include "legacy-blocks.h"
#include "kquants.h"
#include "nl4.h"

// A 32-element block's exact sum of level * activation, as four i32 lanes.
static inline v128_t nl4_block32(v128_t levels, const uint8_t* qs, const int8_t* a) {
  v128_t lo, hi;
  NL4_DECODE(wasm_i8x16_swizzle, levels, qs, lo, hi);
  return wasm_i32x4_add(dot_i8x16(lo, wasm_v128_load(a)), dot_i8x16(hi, wasm_v128_load(a + 16)));
}

// dot_<W> for a q8_0-activated codebook type whose block has its scale
// (SCALE(block), as f32) then 16 code bytes.
#define DEFINE_NL4_Q8_0(W, LEVELS, SCALE)                                                            \
  static float dot_##W(const block_##W* x, const block_q8_0* y, int nb) {                           \
    const v128_t levels = LEVELS();                                                                 \
    v128_t acc = wasm_f32x4_splat(0.0f);                                                            \
    for (int b = 0; b < nb; b++) {                                                                  \
      const v128_t p = nl4_block32(levels, x[b].qs, y[b].qs);                                       \
      const float d = fp16_to_fp32(y[b].d) * SCALE(&x[b]);                                          \
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(p), wasm_f32x4_splat(d)));  \
    }                                                                                               \
    return f32x4_hsum(acc);                                                                         \
  }                                                                                                 \
  DEFINE_ROW_KERNELS(W, q8_0, 32)

#define IQ4_NL_SCALE(x) fp16_to_fp32((x)->d)
#define MXFP4_SCALE(x) e8m0_half((x)->e)
DEFINE_NL4_Q8_0(iq4_nl, iq4_levels, IQ4_NL_SCALE)
DEFINE_NL4_Q8_0(mxfp4, mxfp4_levels, MXFP4_SCALE)

// Per super-block |sum| <= 8 blocks * 32 * 127 * 127 * 32 < 2^27: exact in int32.
static float dot_iq4_xs(const block_iq4_xs* x, const block_q8_K* y, int nb) {
  const v128_t levels = iq4_levels();
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < nb; i++) {
    v128_t isum = wasm_i32x4_splat(0);
    for (int ib = 0; ib < QK_K / 32; ib++) {
      const v128_t p = nl4_block32(levels, x[i].qs + 16 * ib, y[i].qs + 32 * ib);
      isum = wasm_i32x4_add(isum, wasm_i32x4_mul(p, wasm_i32x4_splat(iq4_xs_scale(&x[i], ib) - 32)));
    }
    const float d = fp16_to_fp32(x[i].d) * y[i].d;
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d)));
  }
  return f32x4_hsum(acc);
}

DEFINE_ROW_KERNELS(iq4_xs, q8_K, QK_K)

// ---------------------------------------------------------------------------
// dequantize: levels times the (block) scale, one f32 multiply each as in
// ggml. Every product is exact (at most 11 + 6 + 7 significant bits; mxfp4:
// a power of two times at most 4 bits).

static inline void store_levels(float* y, v128_t lv, float d) {
  const v128_t vd = wasm_f32x4_splat(d);
  const v128_t l16 = wasm_i16x8_extend_low_i8x16(lv), h16 = wasm_i16x8_extend_high_i8x16(lv);
  wasm_v128_store(y, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(l16))));
  wasm_v128_store(y + 4, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(l16))));
  wasm_v128_store(y + 8, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(h16))));
  wasm_v128_store(y + 12, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(h16))));
}

#define DEFINE_NL4_DEQUANT(W, LEVELS, SCALE)                                \
  void EXPORT(dequantize_row_##W)(const void* vx, float* y, int n) {       \
    const block_##W* x = vx;                                               \
    for (int b = 0; b < n / 32; b++, y += 32) {                            \
      v128_t lo, hi;                                                       \
      NL4_DECODE(wasm_i8x16_swizzle, LEVELS(), x[b].qs, lo, hi);           \
      const float d = SCALE(&x[b]);                                        \
      store_levels(y, lo, d);                                              \
      store_levels(y + 16, hi, d);                                         \
    }                                                                      \
  }

DEFINE_NL4_DEQUANT(iq4_nl, iq4_levels, IQ4_NL_SCALE)
DEFINE_NL4_DEQUANT(mxfp4, mxfp4_levels, MXFP4_SCALE)

void EXPORT(dequantize_row_iq4_xs)(const void* vx, float* y, int n) {
  const block_iq4_xs* x = vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < QK_K / 32; ib++, y += 32) {
      v128_t lo, hi;
      NL4_DECODE(wasm_i8x16_swizzle, iq4_levels(), x[i].qs + 16 * ib, lo, hi);
      const float dl = d * (float)(iq4_xs_scale(&x[i], ib) - 32);
      store_levels(y, lo, dl);
      store_levels(y + 16, hi, dl);
    }
  }
}
