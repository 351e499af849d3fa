// Shared by every kernel family: the export macro, fp16/bf16 conversion and
// the SIMD header. Kernels take pointers, counts and strides; they know
// nothing of GGUF or of the TypeScript runtime.
#pragma once
#include <stdint.h>
#include <stddef.h>
#if __has_include(<string.h>)
#include <string.h>
#else
// the relaxed build (wasm/build.sh) has no libc: constant-size copies only
#define memcpy __builtin_memcpy
#endif
#ifndef NO_WASM_SIMD_HEADER
#include <wasm_simd128.h>
#endif

#define EXPORT(name) __attribute__((export_name(#name))) name

// Thread ith's share [r0, r1) of n rows split over nth threads: the split
// every (ith, nth) kernel uses, so phases that hand rows to each other agree.
static inline void rows_range(int n, int ith, int nth, int* r0, int* r1) {
  const int per = (n + nth - 1) / nth;
  int a = per * ith, b = a + per;
  *r0 = a > n ? n : a;
  *r1 = b > n ? n : b;
}

static inline float fp32_from_bits(uint32_t w) { float f; memcpy(&f, &w, 4); return f; }
static inline uint32_t fp32_to_bits(float f) { uint32_t w; memcpy(&w, &f, 4); return w; }

// IEEE half -> float, exact for every input (normals, subnormals, inf, nan).
static inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24 is exact in float
    const float v = (float)mant * 0x1.0p-24f;
    return fp32_from_bits(fp32_to_bits(v) | sign);
  }
  if (exp == 31) return fp32_from_bits(sign | 0x7F800000u | (mant << 13));
  return fp32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

// float -> IEEE half, round to nearest even (what F16C's vcvtps2ph does on x86,
// which is how ggml converts there), nan stays a quiet nan.
static inline uint16_t fp32_to_fp16(float f) {
  const uint32_t w = fp32_to_bits(f);
  const uint16_t sign = (uint16_t)((w >> 16) & 0x8000u);
  const uint32_t x = w & 0x7FFFFFFFu;
  if (x > 0x7F800000u) return sign | 0x7E00u | (uint16_t)((x >> 13) & 0x3FFu);
  if (x >= 0x477FF000u) return sign | 0x7C00u;  // |f| >= 65520 rounds to inf
  if (x < 0x38800000u) {  // below 2^-14: half subnormal, in units of 2^-24
    // adding 0.5 leaves the value's bits at 2^-24 resolution, rounded by the FPU (RNE)
    const float t = fp32_from_bits(x) + 0.5f;
    return sign | (uint16_t)(fp32_to_bits(t) - 0x3F000000u);
  }
  const uint32_t r = x + 0xFFFu + ((x >> 13) & 1u) - (112u << 23);
  return sign | (uint16_t)(r >> 13);
}

static inline float bf16_to_fp32(uint16_t h) { return fp32_from_bits((uint32_t)h << 16); }

// ---------------------------------------------------------------------------
// Added for the block kernels (floats.c, legacy.c); kquants.c may use them too.

// The f16 value of `h` times 2^-112, exact for every finite f16 (normals and
// subnormals alike): the f16 exponent and mantissa land unchanged in the low
// bits of an f32, whose exponent bias is 112 larger. The sign-extended load
// puts ones in bits 28..30 for a negative h; the mask clears them and keeps
// the sign. Four integer ops instead of the branches of fp16_to_fp32: callers
// fold the missing 2^112 into a factor they multiply by anyway (F16_UNSCALE).
// Not valid for inf/nan (they come out as large finite numbers).
#define F16_UNSCALE 0x1.0p112f
static inline float fp16_unscaled(const uint16_t* p) {
  const int32_t h = *(const int16_t*)p;
  return fp32_from_bits(((uint32_t)h << 13) & 0x8FFFE000u);
}

#ifndef NO_WASM_SIMD_HEADER
// Four f16 (as the low 16 bits of four u32 lanes, high bits zero) to four
// f32, exact for every input including subnormals, inf and nan (the nan
// payload is kept), with no arithmetic on f32 subnormals: x86 takes a
// microcode assist of some 150 cycles for each instruction that reads one
// (WebAssembly has no flush-to-zero), and the k-quants' super-block scales
// are often f16 subnormals (a Q6_K d is about max|w| / 4000). An earlier
// version multiplied the f16 bits placed in an f32 by 2^112; it made the
// q6_K decode 2.5x slower on such weights. Normals get their exponent
// rebiased in integers, subnormals are mant * 2^-24 (a normal f32 product).
static inline v128_t f16x4_to_f32x4(v128_t h) {
  const v128_t nosign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_const_splat(0x7FFF)), 13);
  const v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_const_splat(0x8000)), 16);
  const v128_t exp = wasm_v128_and(h, wasm_i32x4_const_splat(0x7C00));
  const v128_t normal = wasm_i32x4_add(nosign, wasm_i32x4_const_splat(112 << 23));
  const v128_t sub = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_v128_and(h, wasm_i32x4_const_splat(0x3FF))),
                                    wasm_f32x4_const_splat(0x1.0p-24f));
  const v128_t infnan = wasm_v128_or(nosign, wasm_i32x4_const_splat(0x7F800000));
  const v128_t v = wasm_v128_bitselect(infnan, normal, wasm_i32x4_eq(exp, wasm_i32x4_const_splat(0x7C00)));
  return wasm_v128_or(wasm_v128_bitselect(sub, v, wasm_i32x4_eq(exp, wasm_i32x4_const_splat(0))), sign);
}

// Eight f16 in one vector to two f32x4 (elements 0..3 and 4..7).
static inline v128_t f16x8_lo_to_f32x4(v128_t h) { return f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(h)); }
static inline v128_t f16x8_hi_to_f32x4(v128_t h) { return f16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(h)); }

// bf16 is the top half of an f32: interleaving zero half-words below it is
// the whole conversion.
static inline v128_t bf16x8_lo_to_f32x4(v128_t h) {
  return wasm_i16x8_shuffle(wasm_i16x8_const_splat(0), h, 0, 8, 1, 9, 2, 10, 3, 11);
}
static inline v128_t bf16x8_hi_to_f32x4(v128_t h) {
  return wasm_i16x8_shuffle(wasm_i16x8_const_splat(0), h, 4, 12, 5, 13, 6, 14, 7, 15);
}

// The low 16 bits of each i32 lane of a and b, as eight u16 (a's first).
// A plain truncation: wasm's narrow instructions saturate, which would
// corrupt values with the top bit set.
static inline v128_t i32x4_pair_to_u16x8(v128_t a, v128_t b) {
  return wasm_i8x16_shuffle(a, b, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
}

static inline float f32x4_hsum(v128_t v) {
  // pairwise, so the result does not depend on which lane got the big terms
  const v128_t s = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1);
}

static inline int32_t i32x4_hsum(v128_t v) {
  const v128_t s = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return wasm_i32x4_extract_lane(s, 0) + wasm_i32x4_extract_lane(s, 1);
}
#endif

// Kernels that widen or convert the activation once per matvec do it in
// column chunks of this many elements, in a stack buffer: bounded stack use
// (worker threads get small stacks), no malloc (dlmalloc here is not thread
// safe), and the chunk stays in L1/L2 while every row streams past it.
// A multiple of 256 so k-quant super-blocks never straddle two chunks.
#define ACT_CHUNK 8192
