// Q2_K prefill (more than one token): four rows' scales and a super-block
// against the pass's tokens. Included by q2_K-relaxed.c only.
#pragma once
#include "q2_K-relaxed.h"

// A super-block's scales for four rows: sc[k] has row j's scale for
// sub-block k in i16 lanes 2j, 2j+1 (the dot-add build: in i16 lane 2j,
// 0 in 2j + 1); mp[p] row j's mins for sub-blocks 2p,
// 2p+1 in lanes 2j, 2j+1 (against the bsums' pairs).
typedef struct {
  v128_t sc[16], mp[8];
  v128_t d, dmin;
} q2_K_scales4;

// i8x16.swizzle indices (an index >= 16 gives 0): i16 lanes 2j and 2j+1 <- byte q + j (SC_IDX), or q + j and q + 4 + j (MP_IDX).
#define SC_IDX(q) wasm_i8x16_const(q, -128, q, -128, q + 1, -128, q + 1, -128, q + 2, -128, q + 2, -128, q + 3, -128, q + 3, -128)
// The dot-add build's prefill: i32 lane j <- byte q + j (the scale in the low i16, 0 in the high).
#define SC32_IDX(q) wasm_i8x16_const(q, -128, -128, -128, q + 1, -128, -128, -128, q + 2, -128, -128, -128, q + 3, -128, -128, -128)
#define MP_IDX(q) wasm_i8x16_const(q, -128, q + 4, -128, q + 1, -128, q + 5, -128, q + 2, -128, q + 6, -128, q + 3, -128, q + 7, -128)

// From four vectors of scale bytes, byte 4k + j of v[q] = row j's byte for sub-block 4q + k.
static inline void q2_K_scales_from(const v128_t v[4], q2_K_scales4* s) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  for (int q = 0; q < 4; q++) {
    const v128_t sc = wasm_v128_and(v[q], m4), mn = wasm_v128_and(wasm_u16x8_shr(v[q], 4), m4);
#ifdef RELAXED_DOT_ADD
    s->sc[4 * q] = wasm_i8x16_swizzle(sc, SC32_IDX(0)), s->sc[4 * q + 1] = wasm_i8x16_swizzle(sc, SC32_IDX(4));
    s->sc[4 * q + 2] = wasm_i8x16_swizzle(sc, SC32_IDX(8)), s->sc[4 * q + 3] = wasm_i8x16_swizzle(sc, SC32_IDX(12));
#else
    s->sc[4 * q] = wasm_i8x16_swizzle(sc, SC_IDX(0)), s->sc[4 * q + 1] = wasm_i8x16_swizzle(sc, SC_IDX(4));
    s->sc[4 * q + 2] = wasm_i8x16_swizzle(sc, SC_IDX(8)), s->sc[4 * q + 3] = wasm_i8x16_swizzle(sc, SC_IDX(12));
#endif
    s->mp[2 * q] = wasm_i8x16_swizzle(mn, MP_IDX(0)), s->mp[2 * q + 1] = wasm_i8x16_swizzle(mn, MP_IDX(8));
  }
}

// Plain rows: the rows' scale bytes interleaved (byte 4k + j <- row j's byte k).
static inline void q2_K_scales(const block_q2_K* const x[4], int i, q2_K_scales4* s) {
  const v128_t s0 = LOAD(x[0][i].scales), s1 = LOAD(x[1][i].scales), s2 = LOAD(x[2][i].scales), s3 = LOAD(x[3][i].scales);
  v128_t v[4];
  interleave_rows4_bytes(s0, s1, s2, s3, v);
  q2_K_scales_from(v, s);
  s->d = f16x4_to_f32x4(ROWS4_F16(x, i, d));
  s->dmin = f16x4_to_f32x4(ROWS4_F16(x, i, dmin));
}

// Prefill: every shape, the odd bytes' nibbles swapped back and the pair
// order reshuffled to q2_K_scales_from's (byte 4k + j <- 4j + 2 (k % 2) + k / 2).
// (The dot-add build's layout: every byte's nibbles swapped, the same order.)
static inline void q2_Kx4_scales(const block_q2_Kx4* g, q2_K_scales4* s) {
#ifdef RELAXED_DOT_ADD
  const v128_t odd = wasm_i16x8_const_splat((int16_t)0xFFFF);
#else
  const v128_t odd = wasm_i16x8_const_splat((int16_t)0xFF00);
#endif
  v128_t v[4];
  for (int q = 0; q < 4; q++) {
    const v128_t b0 = LOAD(g->sc + 16 * q);
    const v128_t sw = wasm_v128_or(wasm_u16x8_shr(wasm_v128_and(b0, wasm_i8x16_const_splat((int8_t)0xF0)), 4),
                                   wasm_i16x8_shl(wasm_v128_and(b0, wasm_i8x16_const_splat(0x0F)), 4));
    const v128_t b = wasm_v128_bitselect(sw, b0, odd);
    v[q] = wasm_i8x16_shuffle(b, b, 0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15);
  }
  q2_K_scales_from(v, s);
  s->d = f16x4_at(g->d);
  s->dmin = f16x4_at(g->dmin);
}
typedef kq_acc q2_K_acc;

// Super-block i of four rows against nt tokens; q[4k + g]: sub-block k,
// elements 16k + 4g .. + 3 of each row (transpose4's order).
static inline void q2_K_superblock(const q2_K_scales4* s, const v128_t* q, int i, const block_q8_K* const* y, q2_K_acc* acc, int nt) {
  for (int t = 0; t < nt; t++) acc[t].isum = wasm_i32x4_const_splat(0);
  NOUNROLL for (int k = 0; k < 16; k++) {
    const v128_t* w = q + 4 * k;
    const v128_t sc = s->sc[k];
    for (int t = 0; t < nt; t++) {
      const int8_t* a = y[t][i].qs + 16 * k;
#ifdef RELAXED_DOT_ADD
      // a sub-block's sum per i32 lane (|sum| <= 16 * 3 * 128: its low i16 is the sum, the high one
      // its sign), so one i32 dot with the scale in the low i16 multiplies it exactly
      v128_t p = DOTADD(SPLAT4(a), w[0], wasm_i32x4_const_splat(0));
      p = DOTADD(SPLAT4(a + 4), w[1], p), p = DOTADD(SPLAT4(a + 8), w[2], p), p = DOTADD(SPLAT4(a + 12), w[3], p);
#else
      const v128_t p = wasm_i16x8_add(wasm_i16x8_add(RDOT(SPLAT4(a), w[0]), RDOT(SPLAT4(a + 4), w[1])),
                                      wasm_i16x8_add(RDOT(SPLAT4(a + 8), w[2]), RDOT(SPLAT4(a + 12), w[3])));
#endif
      acc[t].isum = wasm_i32x4_add(acc[t].isum, wasm_i32x4_dot_i16x8(p, sc));
    }
  }
  for (int t = 0; t < nt; t++) q2_K_step(&acc[t].sum, &acc[t].msum, acc[t].isum, q2_K_mins(s->mp, &y[t][i]), s->d, s->dmin, &y[t][i]);
}
