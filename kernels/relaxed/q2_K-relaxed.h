// Q2_K with relaxed SIMD (read relaxed.h and q4_K-relaxed.h first). The
// quants are 0..3, a 4-bit scale and a 4-bit min per 16 elements; the mins
// pair with the q8_K bsums as q4_K's do with the sums of 32.
//
// Plain rows: decode one row at a time (q2_K_rows), prefill four rows at a
// time after transposing the quants into lanes.
//
// q2_Kx4 (block_q2_Kx4, written at load by repack_q2_Kx4, runtime/repack.ts):
// four rows' super-block with their scale bytes interleaved by row: per 32
// elements of the four rows (a "unit", sub-blocks 2u and 2u + 1) eight
// vectors of quants packed in two, vector m at bits 2 (m % 4). As q3_Kx4's,
// vector i holds, for row j, elements 2i, 2i + 1 of sub-block 2u (bytes 4j,
// 4j + 1) and of sub-block 2u + 1 (bytes 4j + 2, 4j + 3), so one dot with
// the rows' two scales (i16 nibbles, no shuffles) serves a unit, against
// the activation reordered once per token (act_pairs_q8_K, relaxed.h).
//
// The dot-add build (RELAXED_DOT_ADD, relaxed.h) has its own q2_Kx4 order,
// written by its own repack_q2_Kx4 (runtime/repack.ts calls the loaded
// module's): each i32 lane of a quant vector one row's four elements of one
// sub-block, so a DOTADD chain sums a sub-block per lane (21 ops per unit and
// group instead of 28, four broadcasts instead of eight: q2_Kx4_unit), the
// scale bytes min | scale << 4 so the mins are bytes for DOTADD against the
// bsums split in two bytes (q2_Kx4_mins), eight spread groups. Issue 19,
// session 10, measured (Node 24, 32768x4096 from memory or 4096x4096 in
// cache, CPU time, each build's kernels alternating in one process, the
// shared machine at load 1.1-1.4), GB/s of weights: from memory one thread
// 11.8-12.4 against 10.4-10.9 before (1.11-1.16x; q4_0x4 12.7-12.9: 0.91-0.98
// per byte), two threads 23.9-24.7 against 20.5-21.4 (1.11-1.17x; q4_0x4
// 25.0-25.5: 0.94-0.99), in cache 16.9-17.5 against 13.6-13.8 (1.23-1.27x;
// q4_0x4 17.7-18.7: 0.91-0.95); prefill (64 tokens, DOTADD per sub-block,
// the scale in the low i16 of an i32 dot) 1.08-1.10x plain, 1.11-1.13x
// q2_Kx4. Details and what was dropped beside q2_Kx4_rows (q2_K-decode.h).
//
// Every path reduces a super-block to exact int32 sums per row, then takes
// the same f32 steps per row: sum += (d * ad) * isum, msum += (dmin * ad) *
// mins, result sum - msum. So a batch gives the bits of token by token, and
// q2_Kx4 the bits of the plain layout (the dot-add build's decode sums rows
// 2 and 3 four times over and takes 0.25 of their f32 sums, exactly).
//
// qs[32n + l]: elements 128n + 32s + l in bits 2s..2s+1 (s = 0..3).
//
// The Q2_K kernels are one translation unit, q2_K-relaxed.c (its entries
// inline every path): this header holds the layouts and what decode and
// prefill share, q2_K-decode.h the one-token kernels, q2_K-prefill.h the
// batch kernels' super-block.
#pragma once
#include "../kquants.h"
#include "relaxed.h"

// Four rows' super-block: d, dmin (one vector); the scale bytes in pair
// order, sc[16q + 4j + 2e + h] for row j's sub-block 4q + 2h + e: as u16
// lanes, lane 2j + e of vector q holds unit 2q's byte (scale | min << 4) low
// and unit 2q + 1's with its nibbles swapped (min | scale << 4) high, so the
// four nibbles come out as i16 with one op each (q2_Kx4_pairs_of); then
// eight units of two vectors.
typedef struct {
  uint16_t d[4], dmin[4];
  uint8_t sc[64];
  uint8_t qs[8][2][16];
} block_q2_Kx4;
_Static_assert(sizeof(block_q2_Kx4) == 4 * sizeof(block_q2_K), "a group takes four rows' bytes");

// The eight f16 d[0..3], dmin[0..3] (adjacent in a group) as f32, exactly as
// f16x4_to_f32x4 gives them for finite f16 (an inf or NaN scale comes out
// finite): each f16's exponent and mantissa placed under an f32's
// (fp16_unscaled: the value times 2^-112, exact also for subnormals), times
// 2^112 (exact). Seven ops where two f16x4_to_f32x4 take some forty (a
// tenth of the decode's ops before).
static inline void q2_Kx4_d_dmin(const uint16_t* h8, v128_t* d, v128_t* dmin) {
  const v128_t h = LOAD(h8);
  const v128_t hi = wasm_v128_and(wasm_i16x8_shr(h, 3), wasm_i16x8_const_splat((int16_t)0x8FFF));  // sign, then exponent and mantissa's top
  const v128_t lo = wasm_i16x8_shl(h, 13);
  const v128_t k = wasm_f32x4_const_splat(F16_UNSCALE);
  *d = wasm_f32x4_mul(wasm_i16x8_shuffle(lo, hi, 0, 8, 1, 9, 2, 10, 3, 11), k);
  *dmin = wasm_f32x4_mul(wasm_i16x8_shuffle(lo, hi, 4, 12, 5, 13, 6, 14, 7, 15), k);
}

// Four rows' mins term for one token: sum over sub-blocks of min * bsum, row j
// in lane j (bsums pair 2p, 2p+1 is i32 lane p % 4 of b0 (p < 4) or b1).
static inline v128_t q2_K_mins(const v128_t* mp, const block_q8_K* yb) {
  const v128_t b0 = LOAD(yb->bsums), b1 = LOAD(yb->bsums + 8);
  const v128_t m = wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[0], wasm_i32x4_shuffle(b0, b0, 0, 0, 0, 0)),
                     wasm_i32x4_dot_i16x8(mp[1], wasm_i32x4_shuffle(b0, b0, 1, 1, 1, 1))),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[2], wasm_i32x4_shuffle(b0, b0, 2, 2, 2, 2)),
                     wasm_i32x4_dot_i16x8(mp[3], wasm_i32x4_shuffle(b0, b0, 3, 3, 3, 3))));
  return wasm_i32x4_add(m, wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[4], wasm_i32x4_shuffle(b1, b1, 0, 0, 0, 0)),
                     wasm_i32x4_dot_i16x8(mp[5], wasm_i32x4_shuffle(b1, b1, 1, 1, 1, 1))),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[6], wasm_i32x4_shuffle(b1, b1, 2, 2, 2, 2)),
                     wasm_i32x4_dot_i16x8(mp[7], wasm_i32x4_shuffle(b1, b1, 3, 3, 3, 3)))));
}

// The float steps of four rows for super-block i (d, dmin per lane).
static inline void q2_K_step(v128_t* sum, v128_t* msum, v128_t isum, v128_t mn, v128_t d, v128_t dmin, const block_q8_K* yi) {
  const v128_t ad = wasm_f32x4_splat(yi->d);
  *sum = wasm_f32x4_add(*sum, wasm_f32x4_mul(wasm_f32x4_mul(d, ad), wasm_f32x4_convert_i32x4(isum)));
  *msum = wasm_f32x4_add(*msum, wasm_f32x4_mul(wasm_f32x4_mul(dmin, ad), wasm_f32x4_convert_i32x4(mn)));
}

#ifdef RELAXED_DOT_ADD
// The dot-add build's q2_Kx4 quants (its own layout: repack_q2_Kx4 of the
// module that runs the kernels writes it): per unit two packed vectors, the
// i32 lanes of their fields one row's four elements of ONE sub-block, so
// that DOTADD sums a sub-block per lane with no i16 adds. Field f of packed
// vector h holds elements 4g .. 4g + 3 (g = 2h + f / 2) of sub-blocks 2u, 2u
// + 1 in lanes (row 0, 2u), (row 0, 2u + 1), (row 1, 2u), (row 1, 2u + 1)
// for even f ("A", taken x1: masks 3) and of rows 2, 3 for odd f ("B",
// taken x4: masks 12), against the activation reordered per unit as
// 8-byte pairs (sub-block 2u's four elements, then 2u + 1's: one 64-bit
// broadcast serves an A and a B vector; act_quads_q8_K).
//
// Decode: a unit's four broadcasts against its eight quant vectors: two
// DOTADD chains of four (A: rows 0, 1; B: rows 2, 3, four times the
// quants: |lane| <= 16 * 128 * 12 < 2^15), narrowed to i16 (exact: no lane
// saturates) in the scales' order, row j's sub-blocks 2u, 2u + 1 in lanes
// 2j, 2j + 1, for the one i32 dot with them (q2_Kx4_sc_even, _odd). Rows
// 2, 3 come out four times their sums; q2_Kx4_groups takes that out after
// the convert to f32 (times 0.25, exact). 21 ops per unit and group where
// the byte-dot unit takes 28, and four broadcasts per unit instead of eight.
static inline v128_t q2_Kx4_unit(const uint8_t* q, const v128_t s[4]) {
  const v128_t m3 = wasm_i8x16_const_splat(3), m12 = wasm_i8x16_const_splat(12), z = wasm_i32x4_const_splat(0);
  const v128_t p0 = LOAD(q), t0 = wasm_u16x8_shr(p0, 4), p1 = LOAD(q + 16), t1 = wasm_u16x8_shr(p1, 4);
  v128_t a = DOTADD(s[0], wasm_v128_and(p0, m3), z), b = DOTADD(s[0], wasm_v128_and(p0, m12), z);
  a = DOTADD(s[1], wasm_v128_and(t0, m3), a), b = DOTADD(s[1], wasm_v128_and(t0, m12), b);
  a = DOTADD(s[2], wasm_v128_and(p1, m3), a), b = DOTADD(s[2], wasm_v128_and(p1, m12), b);
  a = DOTADD(s[3], wasm_v128_and(t1, m3), a), b = DOTADD(s[3], wasm_v128_and(t1, m12), b);
  return wasm_i16x8_narrow_i32x4(a, b);
}

// The activation for it: per 32 elements (unit u) four 8-byte pairs, pair g
// = elements 4g .. 4g + 3 of sub-block 2u, then of 2u + 1. nb super-blocks
// of qs at stride `stride` bytes to ap, 256 bytes each.
static inline void act_quads_q8_K(const int8_t* qs, int stride, int8_t* ap, int nb) {
  for (int i = 0; i < nb; i++, qs += stride)
    for (int u = 0; u < 8; u++) {
      const v128_t lo = LOAD(qs + 32 * u), hi = LOAD(qs + 32 * u + 16);
      wasm_v128_store(ap + 256 * i + 32 * u, wasm_i32x4_shuffle(lo, hi, 0, 4, 1, 5));
      wasm_v128_store(ap + 256 * i + 32 * u + 16, wasm_i32x4_shuffle(lo, hi, 2, 6, 3, 7));
    }
}

// Prefill: unit u's quants (0..3) to q[4k + g] (sub-block k = 2u, 2u + 1,
// elements 4g .. 4g + 3, row j in lane j).
static inline void q2_Kx4_unit_plain(const uint8_t* qs, v128_t* q) {
  const v128_t m3 = wasm_i8x16_const_splat(3);
  for (int h = 0; h < 2; h++) {
    const v128_t p = LOAD(qs + 16 * h);
    const v128_t f[4] = {wasm_v128_and(p, m3), wasm_v128_and(wasm_u16x8_shr(p, 2), m3),
                         wasm_v128_and(wasm_u16x8_shr(p, 4), m3), wasm_v128_and(wasm_u16x8_shr(p, 6), m3)};
    for (int e = 0; e < 2; e++) {
      const int g = 2 * h + e;
      q[g] = wasm_i32x4_shuffle(f[2 * e], f[2 * e + 1], 0, 2, 4, 6);
      q[4 + g] = wasm_i32x4_shuffle(f[2 * e], f[2 * e + 1], 1, 3, 5, 7);
    }
  }
}
#else
// One packed vector's four quant vectors (vector m at bits 2m; the u16
// shifts' spill from the next byte is masked off).
static inline void q2_Kx4_w(const uint8_t* q, v128_t w[4]) {
  const v128_t m3 = wasm_i8x16_const_splat(3);
  const v128_t s = LOAD(q);
  w[0] = wasm_v128_and(s, m3), w[1] = wasm_v128_and(wasm_u16x8_shr(s, 2), m3);
  w[2] = wasm_v128_and(wasm_u16x8_shr(s, 4), m3), w[3] = wasm_v128_and(wasm_u16x8_shr(s, 6), m3);
}

// Eight broadcasts against a unit's eight quant vectors: int16 sums, two
// sub-blocks per row (|lane| <= 16 * 128 * 3). Each packed vector gives four
// with one shift: bits 0-1 and (after the u16 shift by 4) 4-5 masked with 3,
// bits 2-3 and 6-7 masked with 12, the latter four times the quants (a
// valid 7-bit operand) summed apart (|lane| <= 4 * 2 * 128 * 12 < 2^15) and
// divided once, exactly, by an arithmetic shift. Ten ops of unpacking per
// unit where the three shifts and four masks per packed vector took fourteen.
static inline v128_t q2_Kx4_unit(const uint8_t* q, const v128_t s[8]) {
  const v128_t m3 = wasm_i8x16_const_splat(3), m12 = wasm_i8x16_const_splat(12);
  const v128_t p0 = LOAD(q), t0 = wasm_u16x8_shr(p0, 4);
  v128_t a1 = wasm_i16x8_add(RDOT(s[0], wasm_v128_and(p0, m3)), RDOT(s[2], wasm_v128_and(t0, m3)));
  v128_t a4 = wasm_i16x8_add(RDOT(s[1], wasm_v128_and(p0, m12)), RDOT(s[3], wasm_v128_and(t0, m12)));
  const v128_t p1 = LOAD(q + 16), t1 = wasm_u16x8_shr(p1, 4);
  a1 = wasm_i16x8_add(a1, wasm_i16x8_add(RDOT(s[4], wasm_v128_and(p1, m3)), RDOT(s[6], wasm_v128_and(t1, m3))));
  a4 = wasm_i16x8_add(a4, wasm_i16x8_add(RDOT(s[5], wasm_v128_and(p1, m12)), RDOT(s[7], wasm_v128_and(t1, m12))));
  return wasm_i16x8_add(a1, wasm_i16x8_shr(a4, 2));
}
#endif

// Sixteen elements 128n + 32s + l0 .. + 15 (s = 0..3) of one plain row.
static inline void q2_K_decode(const block_q2_K* x, int n, int l0, v128_t q[4]) {
  const v128_t m3 = wasm_i8x16_const_splat(3);
  const v128_t v = LOAD(x->qs + 32 * n + l0);
  q[0] = wasm_v128_and(v, m3), q[1] = wasm_v128_and(wasm_u16x8_shr(v, 2), m3);
  q[2] = wasm_v128_and(wasm_u16x8_shr(v, 4), m3), q[3] = wasm_v128_and(wasm_u16x8_shr(v, 6), m3);
}
