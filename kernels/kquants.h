// K-quant block layouts (ggml's, byte for byte) and their scale unpacking,
// shared by kquants.c (q8_K quantizer, dequantizers) and kquants-dot.c
// (vec_dot, matvec).
#pragma once
#include "common.h"

#define QK_K 256

// Field order and sizes are the on-disk GGUF layout; the structs have no
// padding (every field is bytes or 2-byte halves placed at even offsets).
typedef struct {
  uint8_t scales[QK_K / 16];  // low nibble: scale, high nibble: min, per 16
  uint8_t qs[QK_K / 4];       // 2-bit quants
  uint16_t d;                 // f16 super-block scale of the scales
  uint16_t dmin;              // f16 super-block scale of the mins
} block_q2_K;

typedef struct {
  uint8_t hmask[QK_K / 8];  // third bit of each quant
  uint8_t qs[QK_K / 4];     // low 2 bits
  uint8_t scales[12];       // sixteen 6-bit scales, biased by 32
  uint16_t d;
} block_q3_K;

typedef struct {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];  // eight 6-bit scales and eight 6-bit mins
  uint8_t qs[QK_K / 2];
} block_q4_K;

typedef struct {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[QK_K / 8];  // fifth bit of each quant
  uint8_t qs[QK_K / 2];
} block_q5_K;

typedef struct {
  uint8_t ql[QK_K / 2];     // low 4 bits
  uint8_t qh[QK_K / 4];     // high 2 bits
  int8_t scales[QK_K / 16];
  uint16_t d;
} block_q6_K;

typedef struct {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];  // sum of each 16 quants
} block_q8_K;

_Static_assert(sizeof(block_q2_K) == 84, "q2_K layout");
_Static_assert(sizeof(block_q3_K) == 110, "q3_K layout");
_Static_assert(sizeof(block_q4_K) == 144, "q4_K layout");
_Static_assert(sizeof(block_q5_K) == 176, "q5_K layout");
_Static_assert(sizeof(block_q6_K) == 210, "q6_K layout");
_Static_assert(sizeof(block_q8_K) == 292, "q8_K layout");

static inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

// q4_K/q5_K scales: 12 bytes -> bytes 0-7 scales, 8-15 mins, each 6 bits.
// Bytes 0-3 hold scales 0-3 (low 6 bits) and, in their top 2 bits, the high
// bits of scales 4-7; bytes 4-7 likewise for the mins; bytes 8-11 hold the
// low nibbles of scales 4-7 (low) and mins 4-7 (high).
static inline v128_t unpack_scales_k4(const uint8_t* s) {
  const uint32_t a = load_u32(s), b = load_u32(s + 4), c = load_u32(s + 8);
  // built in a register: storing four u32 and reloading them as one v128
  // would defeat store-to-load forwarding
  return wasm_u32x4_make(a & 0x3f3f3f3fu, (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u), b & 0x3f3f3f3fu,
                         ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u));
}

// q3_K scales: 12 bytes -> sixteen 6-bit values minus 32. Bytes 0-7 hold
// the low nibbles (scales 0-7 low, 8-15 high); bytes 8-11 hold the top 2
// bits, scale j in byte j%4 at bit 2*(j/4).
static inline v128_t unpack_scales_q3_K(const uint8_t* s) {
  const uint32_t a = load_u32(s), b = load_u32(s + 4), t = load_u32(s + 8);
  const v128_t lo = wasm_u32x4_make(a, b, a >> 4, b >> 4);
  const v128_t hi = wasm_u32x4_make(t, t >> 2, t >> 4, t >> 6);
  const v128_t v = wasm_v128_or(wasm_v128_and(lo, wasm_i8x16_splat(0x0f)),
                                wasm_i8x16_shl(wasm_v128_and(hi, wasm_i8x16_splat(3)), 4));
  return wasm_i8x16_sub(v, wasm_i8x16_splat(32));
}
