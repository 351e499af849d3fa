// Shared by every kernel family: the export macro, fp16/bf16 conversion and
// the SIMD header. Kernels take pointers, counts and strides; they know
// nothing of GGUF or of the TypeScript runtime.
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#ifndef NO_WASM_SIMD_HEADER
#include <wasm_simd128.h>
#endif

#define EXPORT(name) __attribute__((export_name(#name))) name

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
