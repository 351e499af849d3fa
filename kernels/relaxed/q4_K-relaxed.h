// Q4_K with relaxed SIMD. q4_K's nibbles are 0..15, so the byte dot is
// exact; the q8_K activation is used as stored (int8 quants, bsums, d).
//
// Prefill: four rows at a time, one row per lane (relaxed.h). A sub-block's
// eight byte dots leave row j's two pair sums in int16 lanes 2j, 2j+1; one
// i32x4.dot_i16x8 against the rows' scales ([s0 s0 s1 s1 s2 s2 s3 s3])
// applies them and lands row j's scaled sum in lane j. The mins pair with
// the activation's sums of 32 the same way, two sub-blocks per dot. The
// decoded super-block serves every token of the pass.
//
// Decode: plain rows one at a time (a four-row group would rebuild its
// scales for a single use); rows repacked at load (q4_Kx4,
// runtime/repack.ts) four at a time, their scales already in lane order.
//
// Every path reduces a super-block to exact int32 sums per row, then takes
// the same f32 steps per row: sum += (d * ad) * isum, msum += (dmin * ad) *
// mins, result sum - msum. So a batch gives the same bits as token by token,
// and the repacked layout the same bits as the file's.
//
// qs[32c + l]: element 64c + l in the low nibble, 64c + 32 + l in the high.
//
// The Q4_K kernels are one translation unit, q4_K-relaxed.c (its entries
// inline every path): this header holds the layouts, the scales and what
// decode and prefill share, q4_K-prefill.h the batch kernels, q4_K-decode.h
// the one-token kernels.
#pragma once
#include "kquant-loop.h"

// A super-block's scales for four rows, in the shapes the dots take.
typedef struct {
#ifdef RELAXED_DOT_ADD
  v128_t sc[8];    // sub-block k: i32 lane j = row j's scale
#else
  v128_t sc[8];    // sub-block k: i16 lanes 2j, 2j+1 = row j's scale
#endif
  v128_t mp[4];    // sub-blocks 2p, 2p+1: i16 lanes 2j, 2j+1 = row j's two mins
  v128_t d, dmin;  // f32 per row
} q4_K_scales4;

// Swizzle indices (i8x16.swizzle gives 0 for an index >= 16): i16 lanes 2j
// and 2j+1 <- byte q + j (SC_IDX), or bytes q + j and q + 4 + j (MP_IDX).
#define SC_IDX(q) wasm_i8x16_const(q, -128, q, -128, q + 1, -128, q + 1, -128, q + 2, -128, q + 2, -128, q + 3, -128, q + 3, -128)
#define SC32_IDX(q) wasm_i8x16_const(q, -128, -128, -128, q + 1, -128, -128, -128, q + 2, -128, -128, -128, q + 3, -128, -128, -128)
#define MP_IDX(q) wasm_i8x16_const(q, -128, q + 4, -128, q + 1, -128, q + 5, -128, q + 2, -128, q + 6, -128, q + 3, -128, q + 7, -128)

// From bytes 4k + j (row j, sub-block k; k < 4 in the first vector) of the
// four rows' scales (sc0, sc1) and mins (mn0, mn1).
static inline void q4_K_scales_from(v128_t sc0, v128_t sc1, v128_t mn0, v128_t mn1, q4_K_scales4* s) {
#ifdef RELAXED_DOT_ADD
  // i32 lane j <- byte q + j (SC32_IDX), for i32x4.mul after the dot-adds
  s->sc[0] = wasm_i8x16_swizzle(sc0, SC32_IDX(0)), s->sc[1] = wasm_i8x16_swizzle(sc0, SC32_IDX(4));
  s->sc[2] = wasm_i8x16_swizzle(sc0, SC32_IDX(8)), s->sc[3] = wasm_i8x16_swizzle(sc0, SC32_IDX(12));
  s->sc[4] = wasm_i8x16_swizzle(sc1, SC32_IDX(0)), s->sc[5] = wasm_i8x16_swizzle(sc1, SC32_IDX(4));
  s->sc[6] = wasm_i8x16_swizzle(sc1, SC32_IDX(8)), s->sc[7] = wasm_i8x16_swizzle(sc1, SC32_IDX(12));
#else
  s->sc[0] = wasm_i8x16_swizzle(sc0, SC_IDX(0)), s->sc[1] = wasm_i8x16_swizzle(sc0, SC_IDX(4));
  s->sc[2] = wasm_i8x16_swizzle(sc0, SC_IDX(8)), s->sc[3] = wasm_i8x16_swizzle(sc0, SC_IDX(12));
  s->sc[4] = wasm_i8x16_swizzle(sc1, SC_IDX(0)), s->sc[5] = wasm_i8x16_swizzle(sc1, SC_IDX(4));
  s->sc[6] = wasm_i8x16_swizzle(sc1, SC_IDX(8)), s->sc[7] = wasm_i8x16_swizzle(sc1, SC_IDX(12));
#endif
  s->mp[0] = wasm_i8x16_swizzle(mn0, MP_IDX(0)), s->mp[1] = wasm_i8x16_swizzle(mn0, MP_IDX(8));
  s->mp[2] = wasm_i8x16_swizzle(mn1, MP_IDX(0)), s->mp[3] = wasm_i8x16_swizzle(mn1, MP_IDX(8));
}

// Plain rows: unpack each row's 6-bit fields, then interleave the rows.
static inline void q4_K_scales(const block_q4_K* const x[4], int i, q4_K_scales4* s) {
  const v128_t s0 = unpack_scales_k4(x[0][i].scales), s1 = unpack_scales_k4(x[1][i].scales);
  const v128_t s2 = unpack_scales_k4(x[2][i].scales), s3 = unpack_scales_k4(x[3][i].scales);
  v128_t v[4];
  interleave_rows4_bytes(s0, s1, s2, s3, v);
  q4_K_scales_from(v[0], v[1], v[2], v[3], s);
  s->d = f16x4_to_f32x4(ROWS4_F16(x, i, d));
  s->dmin = f16x4_to_f32x4(ROWS4_F16(x, i, dmin));
}

// Four rows' super-block, repacked at load (repack_q4_Kx4): their d and
// dmin; scales and mins at byte 4k + j for row j's sub-block k, sm = scale |
// (min >> 4) << 6 and the min's low nibble in ml (index 4k + j: byte
// (4k + j) % 16, low nibble for k < 4); then sub-block k's nibbles, both of
// a byte from that sub-block: in qs[k][m], bytes 4j..4j+3 hold row j's
// elements 4m..4m+3 of the sub-block in their low nibbles and 16 + 4m..
// 16 + 4m + 3 in their high (transpose4's order), so a byte's two dots share
// one scale and decode sums a whole sub-block in one int16 accumulator per
// group, as q4_0x4 does a block (q4_Kx4_groups). The file's q4_K pairs
// sub-block 2c's element l with 2c + 1's in a byte instead.
typedef struct {
  uint16_t d[4], dmin[4];
  uint8_t sm[32], ml[16];
  uint8_t qs[8][4][16];
} block_q4_Kx4;

// The nibbles of one row's chunk c (v0, v1: qs bytes 32c.., 32c + 16..) in
// block_q4_Kx4's pairing: lo holds sub-block 2c (elements l and 16 + l in
// byte l's nibbles), hi sub-block 2c + 1.
static inline void q4_K_pair_nibbles(v128_t v0, v128_t v1, v128_t* lo, v128_t* hi) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), h4 = wasm_i8x16_const_splat((int8_t)0xF0);
  *lo = wasm_v128_or(wasm_v128_and(v0, m4), wasm_v128_and(wasm_i16x8_shl(v1, 4), h4));
  *hi = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v0, 4), m4), wasm_v128_and(v1, h4));
}

// Sub-block sb's eight weight vectors at wq[8 * sb] as 0..15 (vector k:
// elements 4k..4k+3 of every row), from q[4 * sb + m] in block_q4_Kx4's
// order (q4_K_isums16, q4_K_isums_pair_few).
static inline void q4_K_unpack(const v128_t* q, v128_t* wq) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  for (int sb = 0; sb < 8; sb++)
    for (int m = 0; m < 4; m++) {
      wq[8 * sb + m] = wasm_v128_and(q[4 * sb + m], m4);
      wq[8 * sb + 4 + m] = wasm_v128_and(wasm_u16x8_shr(q[4 * sb + m], 4), m4);
    }
}
_Static_assert(sizeof(block_q4_Kx4) == 4 * sizeof(block_q4_K), "a group takes four rows' bytes");

// The scale and min bytes of a repacked group, rows already interleaved.
static inline void q4_Kx4_fields(const block_q4_Kx4* g, v128_t* sc0, v128_t* sc1, v128_t* mn0, v128_t* mn1) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), m6 = wasm_i8x16_const_splat(0x3F);
  const v128_t sm0 = LOAD(g->sm), sm1 = LOAD(g->sm + 16), ml = LOAD(g->ml);
  *sc0 = wasm_v128_and(sm0, m6), *sc1 = wasm_v128_and(sm1, m6);
  // the min's top two bits: (sm & 0xC0) >> 2 is them times 16 (the mask keeps u16 shifts inside bytes)
  *mn0 = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(sm0, m6), 2), wasm_v128_and(ml, m4));
  *mn1 = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(sm1, m6), 2), wasm_v128_and(wasm_u16x8_shr(ml, 4), m4));
}

static inline void q4_K_scales_x4(const block_q4_Kx4* g, q4_K_scales4* s) {
  v128_t sc0, sc1, mn0, mn1;
  q4_Kx4_fields(g, &sc0, &sc1, &mn0, &mn1);
  q4_K_scales_from(sc0, sc1, mn0, mn1, s);
  s->d = f16x4_at(g->d);
  s->dmin = f16x4_at(g->dmin);
}

// The mins term of four rows for one token: sum over sub-blocks of min * (sum of 32 activations).
static inline v128_t q4_K_mins(const v128_t* mp, v128_t b) {
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[0], wasm_i32x4_shuffle(b, b, 0, 0, 0, 0)),
                                       wasm_i32x4_dot_i16x8(mp[1], wasm_i32x4_shuffle(b, b, 1, 1, 1, 1))),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[2], wasm_i32x4_shuffle(b, b, 2, 2, 2, 2)),
                                       wasm_i32x4_dot_i16x8(mp[3], wasm_i32x4_shuffle(b, b, 3, 3, 3, 3))));
}
