// The grid i-quants' block layouts (ggml's, byte for byte), shared by the
// baseline kernels (iquants-grid.c) and the relaxed ones
// (relaxed/iq-grid-relaxed.c).
#pragma once
#include "kquants.h"

typedef struct {
  uint16_t d;
  uint16_t qs[QK_K / 8];
} block_iq2_xxs;

typedef struct {
  uint16_t d;
  uint16_t qs[QK_K / 8];
  uint8_t scales[QK_K / 32];
} block_iq2_xs;

typedef struct {
  uint16_t d;
  uint8_t qs[QK_K / 4];  // low index bytes, then explicit sign bytes
  uint8_t qh[QK_K / 32];
  uint8_t scales[QK_K / 32];
} block_iq2_s;

typedef struct {
  uint16_t d;
  uint8_t qs[3 * QK_K / 8];  // index bytes, then per 32 a u32 of signs and scale
} block_iq3_xxs;

typedef struct {
  uint16_t d;
  uint8_t qs[QK_K / 4];
  uint8_t qh[QK_K / 32];
  uint8_t signs[QK_K / 8];
  uint8_t scales[QK_K / 64];
} block_iq3_s;

typedef struct {
  uint16_t d;
  uint8_t qs[QK_K / 8];
  uint16_t qh[QK_K / 32];
} block_iq1_s;

typedef struct {
  uint8_t qs[QK_K / 8];
  uint8_t qh[QK_K / 16];
  uint8_t scales[QK_K / 32];  // 3-bit scales; the top nibbles of the u16s hold the f16 d
} block_iq1_m;

_Static_assert(sizeof(block_iq2_xxs) == 66, "iq2_xxs layout");
_Static_assert(sizeof(block_iq2_xs) == 74, "iq2_xs layout");
_Static_assert(sizeof(block_iq2_s) == 82, "iq2_s layout");
_Static_assert(sizeof(block_iq3_xxs) == 98, "iq3_xxs layout");
_Static_assert(sizeof(block_iq3_s) == 110, "iq3_s layout");
_Static_assert(sizeof(block_iq1_s) == 50, "iq1_s layout");
_Static_assert(sizeof(block_iq1_m) == 56, "iq1_m layout");

static inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

// iq1_m keeps its f16 d in the top nibbles of its four scale u16s.
static inline uint16_t iq1_m_d(const block_iq1_m* x) {
  const uint8_t* s = x->scales;
  return (load_u16(s) >> 12) | ((load_u16(s + 2) >> 8) & 0x00f0) | ((load_u16(s + 4) >> 4) & 0x0f00) |
         (load_u16(s + 6) & 0xf000);
}
