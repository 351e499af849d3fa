// MXFP4 weights against q8_0 activations (ggml_vec_dot_mxfp4_q8_0): 32
// elements per block, 4-bit E2M1 codes and one E8M0 exponent. ggml keeps the
// E2M1 values doubled as int8 (kvalues_mxfp4) and halves the scale, so a
// block is integers times 2^(e - 128): the codes become levels with one
// i8x16.swizzle, their products with the activation are exact in int16 and
// their sum in int32, then f32(sum) * fl(d_a * 2^(e-128)) per block into four
// f32 lanes. The scalar reference is formats/quant/mxfp4.ts.
#include "rowdot.h"
#include "legacy-blocks.h"

typedef struct { uint8_t e; uint8_t qs[16]; } block_mxfp4;
_Static_assert(sizeof(block_mxfp4) == 17, "mxfp4 layout");

// ggml_e8m0_to_fp32_half: 2^(e-128); e = 0 and 1 are the subnormals 2^-128
// and 2^-127; e = 255 gives +inf (ggml does not special-case it).
static inline float e8m0_half(uint8_t e) {
  return fp32_from_bits(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}

static inline v128_t mxfp4_levels(void) {
  return wasm_i8x16_const(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
}

#define MXFP4_DECODE(qs, lo, hi) do { const v128_t v_ = wasm_v128_load(qs);                       \
    lo = wasm_i8x16_swizzle(mxfp4_levels(), wasm_v128_and(v_, wasm_i8x16_const_splat(0x0f)));  \
    hi = wasm_i8x16_swizzle(mxfp4_levels(), wasm_u8x16_shr(v_, 4)); } while (0)

static float dot_mxfp4(const block_mxfp4* x, const block_q8_0* y, int nb) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int b = 0; b < nb; b++) {
    v128_t lo, hi;
    MXFP4_DECODE(x[b].qs, lo, hi);
    const v128_t p = wasm_i32x4_add(dot_i8x16(lo, wasm_v128_load(y[b].qs)), dot_i8x16(hi, wasm_v128_load(y[b].qs + 16)));
    const float d = fp16_to_fp32(y[b].d) * e8m0_half(x[b].e);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(p), wasm_f32x4_splat(d)));
  }
  return f32x4_hsum(acc);
}

DEFINE_ROW_KERNELS(mxfp4, q8_0, 32)

// level * d, one f32 multiply each as ggml's dequantize_row_mxfp4 does
static inline void store_levels(float* y, v128_t lv, float d) {
  const v128_t vd = wasm_f32x4_splat(d);
  const v128_t l16 = wasm_i16x8_extend_low_i8x16(lv), h16 = wasm_i16x8_extend_high_i8x16(lv);
  wasm_v128_store(y, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(l16)), vd));
  wasm_v128_store(y + 4, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(l16)), vd));
  wasm_v128_store(y + 8, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(h16)), vd));
  wasm_v128_store(y + 12, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(h16)), vd));
}

void EXPORT(dequantize_row_mxfp4)(const void* vx, float* y, int n) {
  const block_mxfp4* x = vx;
  for (int b = 0; b < n / 32; b++, y += 32) {
    v128_t lo, hi;
    MXFP4_DECODE(x[b].qs, lo, hi);
    const float d = e8m0_half(x[b].e);
    store_levels(y, lo, d);
    store_levels(y + 16, hi, d);
  }
}
