// The 4-bit non-linear quants: iq4_nl (32-element blocks, against q8_0
// activations) and iq4_xs (256-element super-blocks with 6-bit block scales,
// against q8_K), as ggml_vec_dot_iq4_nl_q8_0 / ggml_vec_dot_iq4_xs_q8_K
// define them. The scalar references are in formats/quant/iq4.ts.
//
// A 4-bit code indexes 16 int8 levels: one i8x16.swizzle turns 16 codes
// into their levels, which multiply the int8 activation exactly in int16
// (extmul) and add up exactly in int32. Per block (iq4_nl) or super-block
// (iq4_xs) the integer sum is then scaled in f32 as ggml does: iq4_nl by
// fl(d_w * d_a) per block, iq4_xs by its 6-bit block scales in int32 and by
// fl(d_w * d_a) per super-block (as ggml's x86 kernels sum it, where the
// generic C scales each 32-block in float). Four f32 lanes accumulate
// the blocks, summed pairwise at the end.
#include "rowdot.h"
#include "legacy-blocks.h"
#include "kquants.h"

typedef struct { uint16_t d; uint8_t qs[16]; } block_iq4_nl;
typedef struct { uint16_t d; uint16_t scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; } block_iq4_xs;
_Static_assert(sizeof(block_iq4_nl) == 18, "iq4_nl layout");
_Static_assert(sizeof(block_iq4_xs) == 136, "iq4_xs layout");

// ggml's kvalues_iq4nl
static inline v128_t iq4_levels(void) {
  return wasm_i8x16_const(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
}

// 16 code bytes -> the levels of elements 0-15 (low nibbles) and 16-31 (high).
#define IQ4_DECODE(qs, lo, hi) do { const v128_t v_ = wasm_v128_load(qs);                       \
    lo = wasm_i8x16_swizzle(iq4_levels(), wasm_v128_and(v_, wasm_i8x16_const_splat(0x0f)));  \
    hi = wasm_i8x16_swizzle(iq4_levels(), wasm_u8x16_shr(v_, 4)); } while (0)

static float dot_iq4_nl(const block_iq4_nl* x, const block_q8_0* y, int nb) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int b = 0; b < nb; b++) {
    v128_t lo, hi;
    IQ4_DECODE(x[b].qs, lo, hi);
    const v128_t p = wasm_i32x4_add(dot_i8x16(lo, wasm_v128_load(y[b].qs)), dot_i8x16(hi, wasm_v128_load(y[b].qs + 16)));
    const float d = fp16_to_fp32(y[b].d) * fp16_to_fp32(x[b].d);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(p), wasm_f32x4_splat(d)));
  }
  return f32x4_hsum(acc);
}

// Block ib's 6-bit scale: low 4 bits in nibble ib%2 of scales_l[ib/2], top 2 at bit 2ib of scales_h.
static inline int iq4_xs_scale(const block_iq4_xs* x, int ib) {
  return ((x->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x->scales_h >> 2 * ib) & 3) << 4);
}

// Per super-block |sum| <= 8 blocks * 32 * 127 * 127 * 32 < 2^27: exact in int32.
static float dot_iq4_xs(const block_iq4_xs* x, const block_q8_K* y, int nb) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < nb; i++) {
    v128_t isum = wasm_i32x4_splat(0);
    for (int ib = 0; ib < QK_K / 32; ib++) {
      v128_t lo, hi;
      IQ4_DECODE(x[i].qs + 16 * ib, lo, hi);
      const int8_t* q8 = y[i].qs + 32 * ib;
      const v128_t p = wasm_i32x4_add(dot_i8x16(lo, wasm_v128_load(q8)), dot_i8x16(hi, wasm_v128_load(q8 + 16)));
      isum = wasm_i32x4_add(isum, wasm_i32x4_mul(p, wasm_i32x4_splat(iq4_xs_scale(&x[i], ib) - 32)));
    }
    const float d = fp16_to_fp32(x[i].d) * y[i].d;
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d)));
  }
  return f32x4_hsum(acc);
}

DEFINE_ROW_KERNELS(iq4_nl, q8_0, 32)
DEFINE_ROW_KERNELS(iq4_xs, q8_K, QK_K)

// ---------------------------------------------------------------------------
// dequantize: levels times the (block) scale, one f32 multiply each as in
// ggml. Every product is exact (at most 11 + 6 + 7 significant bits).

static inline void store_levels(float* y, v128_t lv, float d) {
  const v128_t vd = wasm_f32x4_splat(d);
  const v128_t l16 = wasm_i16x8_extend_low_i8x16(lv), h16 = wasm_i16x8_extend_high_i8x16(lv);
  wasm_v128_store(y, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(l16))));
  wasm_v128_store(y + 4, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(l16))));
  wasm_v128_store(y + 8, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(h16))));
  wasm_v128_store(y + 12, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(h16))));
}

void EXPORT(dequantize_row_iq4_nl)(const void* vx, float* y, int n) {
  const block_iq4_nl* x = vx;
  for (int b = 0; b < n / 32; b++, y += 32) {
    v128_t lo, hi;
    IQ4_DECODE(x[b].qs, lo, hi);
    const float d = fp16_to_fp32(x[b].d);
    store_levels(y, lo, d);
    store_levels(y + 16, hi, d);
  }
}

void EXPORT(dequantize_row_iq4_xs)(const void* vx, float* y, int n) {
  const block_iq4_xs* x = vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < QK_K / 32; ib++, y += 32) {
      v128_t lo, hi;
      IQ4_DECODE(x[i].qs + 16 * ib, lo, hi);
      const float dl = d * (float)(iq4_xs_scale(&x[i], ib) - 32);
      store_levels(y, lo, dl);
      store_levels(y + 16, hi, dl);
    }
  }
}
