// The 4-bit codebook types: iq4_nl and mxfp4 (32-element blocks against
// q8_0 activations) and iq4_xs (256-element super-blocks with 6-bit block
// scales, against q8_K). A 4-bit code indexes 16 int8 levels, so one
// i8x16.swizzle turns 16 codes into their levels; everything after that is
// an int8 dot product. Shared by the baseline kernels (iquants.c)
// and the relaxed-SIMD ones (relaxed/nl4-relaxed.c, iq4_xs-relaxed.c).
#pragma once
#include "common.h"

typedef struct { uint16_t d; uint8_t qs[16]; } block_iq4_nl;
typedef struct { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } block_iq4_xs;
typedef struct { uint8_t e; uint8_t qs[16]; } block_mxfp4;
_Static_assert(sizeof(block_iq4_nl) == 18, "iq4_nl layout");
_Static_assert(sizeof(block_iq4_xs) == 136, "iq4_xs layout");
_Static_assert(sizeof(block_mxfp4) == 17, "mxfp4 layout");

// ggml's kvalues_iq4nl
static inline v128_t iq4_levels(void) {
  return wasm_i8x16_const(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
}

// iq4_nl's levels as 15 * code + L(code) - 127: L(code), 0..18. The code
// (the nibble itself) and L are both valid 7-bit operands of the relaxed
// byte dot, where the levels (-127..113) are not (relaxed/nl4-relaxed.c).
static inline v128_t iq4_nl_L(void) {
  return wasm_i8x16_const(0, 8, 14, 17, 18, 17, 15, 12, 8, 5, 2, 0, 0, 1, 6, 15);
}

// ggml's kvalues_mxfp4: the E2M1 values doubled, so that they are integers
// (the block scale is halved to match: e8m0_half).
static inline v128_t mxfp4_levels(void) {
  return wasm_i8x16_const(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
}

// ggml_e8m0_to_fp32_half: 2^(e-128); e = 0 and 1 are the subnormals 2^-128
// and 2^-127; e = 255 gives 2^127 (ggml does not special-case it).
static inline float e8m0_half(uint8_t e) {
  return fp32_from_bits(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}

// e8m0_half of four exponents (the low 8 bits of u32 lanes, the rest zero):
// the larger, as int32, of (e - 1) << 23 (the normal 2^(e-128), e >= 2;
// negative for e = 0) and (e + 1) << 21 (the subnormals 2^-128 and 2^-127
// for e = 0 and 1; below the former for every e >= 2).
static inline v128_t e8m0x4_half(v128_t e) {
  return wasm_i32x4_max(wasm_i32x4_shl(wasm_i32x4_sub(e, wasm_i32x4_const_splat(1)), 23),
                        wasm_i32x4_shl(wasm_i32x4_add(e, wasm_i32x4_const_splat(1)), 21));
}

// Lane j <- the sum of the lanes of v_j (four blocks' or rows' sums, for one
// scaling step). Every shuffle is one x64 unpack (punpck{l,h}dq, then
// {l,h}qdq): shuffles of other lane patterns take V8 two shifts and a blend.
static inline v128_t i32x4_hsum4(v128_t v0, v128_t v1, v128_t v2, v128_t v3) {
  const v128_t t0 = wasm_i32x4_add(wasm_i32x4_shuffle(v0, v1, 0, 4, 1, 5), wasm_i32x4_shuffle(v0, v1, 2, 6, 3, 7));
  const v128_t t1 = wasm_i32x4_add(wasm_i32x4_shuffle(v2, v3, 0, 4, 1, 5), wasm_i32x4_shuffle(v2, v3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i64x2_shuffle(t0, t1, 0, 2), wasm_i64x2_shuffle(t0, t1, 1, 3));
}

// iq4_xs block ib's 6-bit scale: low 4 bits in nibble ib%2 of scales_l[ib/2], top 2 at bit 2ib of scales_h.
static inline int iq4_xs_scale(const block_iq4_xs* x, int ib) {
  return ((x->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x->scales_h >> 2 * ib) & 3) << 4);
}

// NL4_OPAQUE(v): where defined (iquants.c), hides v's value from the
// compiler. clang turns a multiply by the powers of two below into one
// shift per lane, which wasm does as eight scalar shifts and lane inserts
// (some 25 instructions where the multiply is one).
#ifndef NL4_OPAQUE
#define NL4_OPAQUE(v) ((void)0)
#endif

// The eight block scales of an iq4_xs super-block minus 32, as i16 lanes.
static inline v128_t iq4_xs_scales(const block_iq4_xs* x) {
  uint32_t l;
  memcpy(&l, x->scales_l, 4);
  const v128_t v = wasm_u32x4_make(l, l >> 4, 0, 0);
  // bytes: scales_l[0..3] low nibbles, then high nibbles; interleave to blocks 0..7
  const v128_t nib = wasm_v128_and(wasm_i8x16_shuffle(v, v, 0, 4, 1, 5, 2, 6, 3, 7, 8, 8, 8, 8, 8, 8, 8, 8),
                                   wasm_i8x16_const_splat(0x0f));
  // scales_h bits 2ib, 2ib+1 moved to the top of lane ib by a multiply, then down to bits 4, 5
  v128_t pow2 = wasm_i16x8_const(16384, 4096, 1024, 256, 64, 16, 4, 1);
  NL4_OPAQUE(pow2);
  const v128_t h = wasm_u16x8_shr(wasm_i16x8_mul(wasm_i16x8_splat((int16_t)x->scales_h), pow2), 14);
  return wasm_i16x8_sub(wasm_v128_or(wasm_u16x8_extend_low_u8x16(nib), wasm_i16x8_shl(h, 4)), wasm_i16x8_const_splat(32));
}

// 16 code bytes -> the levels of elements 0-15 (low nibbles) and 16-31 (high),
// with SWZ the swizzle to use (indices are always 0..15).
#define NL4_DECODE(SWZ, levels, qs, lo, hi) do { const v128_t v_ = wasm_v128_load(qs);            \
    lo = SWZ(levels, wasm_v128_and(v_, wasm_i8x16_const_splat(0x0f)));                            \
    hi = SWZ(levels, wasm_v128_and(wasm_u16x8_shr(v_, 4), wasm_i8x16_const_splat(0x0f))); } while (0)
