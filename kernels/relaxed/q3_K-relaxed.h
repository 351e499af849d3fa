// Q3_K with relaxed SIMD (read relaxed.h and q4_K-relaxed.h first). The
// quants are used as 0..7 (two low bits | the hmask bit << 2, i.e. q + 4,
// so the byte dot's i7 operand is exact) and 4 * sum(scale * bsum) is taken
// away per super-block, as the baseline kernel does. Scales are 6-bit,
// signed after the -32 bias, one per 16 elements.
//
// Plain rows: decode one row at a time (q3_K_rows), prefill four rows at a
// time after transposing the decoded quants into lanes.
//
// q3_Kx4 (block_q3_Kx4, written at load by repack_q3_Kx4, runtime/repack.ts):
// four rows' super-block with the scales interleaved by row and each quant's
// three bits whole: per 32 elements of the four rows (a "unit", sub-blocks
// 2u and 2u + 1) eight vectors of quants, stored in three: S0 holds W0
// (bits 0-2) and W1 (bits 3-5), S1 W2 and W3, S2 W4 and W5; W6 and W7 are
// the top bits (q3_Kx4_hi). 19 ops per eight vectors where the file's 2-bit
// planes and hmask take 40. Vector Wi holds, for row j, elements 2i, 2i + 1
// of sub-block 2u (bytes 4j, 4j + 1) and of sub-block 2u + 1 (bytes 4j + 2,
// 4j + 3): a byte dot then leaves row j's sums of the two sub-blocks in
// int16 lanes 2j and 2j + 1, and one i32x4.dot_i16x8 with the rows' two
// scales (a widened load, no shuffles) applies both. The activation is
// reordered to match once per token (act_pairs_q8_K, relaxed.h). Building sixteen
// scale vectors per super-block by swizzles instead cost a sixth of the time.
// That order is the relaxed build's; the dot-add build (RELAXED_DOT_ADD,
// wasm/kernels-relaxed-dot.wasm) writes the same vectors in its own order,
// four elements of one sub-block per i32 lane (q3_Kx4_elem, its
// q3_Kx4_unit): each module repacks for its own kernels (runtime/repack.ts
// asks the loaded module), so the two builds' q3_Kx4 bytes differ and their
// results do not.
//
// Measured (4096 columns, one thread, CPU time, medians of alternating
// rounds, shared 2-core Xeon at load 7-9), GB/s of weights and per byte
// against q4_0x4: decode 4096 rows (in cache) q3_Kx4 9.4-10.5 (0.79-0.88x:
// a Q3_K weight is 0.76 of a Q4_0 weight's bytes and costs about as many
// ops), plain q3_K 4.5 (0.41x), the baseline it replaces 3.6 (0.33x);
// 131072 rows (from memory) q3_Kx4 6.0-6.4 (0.90x), plain 4.2, baseline
// 3.6. The mixed sub-block pairs made decode 1.1-1.2x faster than
// transpose4-ordered units with sixteen scale vectors, and the prefill of
// q3_Kx4, which un-mixes them per super-block, 2% (64 tokens) to 16% (4
// tokens) slower. Prefill, 64 tokens: 29-32 ms against the baseline's 52-55;
// 2-8 tokens 1.5-3x.
//
// Every path reduces a super-block to exact int32 sums per row, then takes
// the same f32 step per row: sum += (d * ad) * isum. So a batch gives the
// bits of token by token, and q3_Kx4 the bits of the plain layout.
//
// qs[32n + l]: elements 128n + 32s + l in bits 2s..2s+1 (s = 0..3);
// hmask[l] bit 4n + s: their third bit.
//
// The Q3_K kernels are one translation unit, q3_K-relaxed.c (its entries
// inline every path): this header holds the layouts, the scales and what
// decode and prefill share, q3_K-decode.h the one-token kernels,
// q3_K-prefill.h the batch kernels' super-block.
#pragma once
#include "kquant-loop.h"

// Four rows' super-block: d; the scales, signed (scale - 32, six bits, two's
// complement), as q3_Kx4_pairs_of reads them: pair vector u (u = 0..7) has
// in i16 lane 2j + e row j's scale for sub-block 2u + e; u = 0..5 are bits
// 10-15 (u even) and 4-9 (u odd) of sc[u / 2]'s lanes, 6 and 7 are split:
// their top four bits in bits 0-3 of sc[0] (6) and sc[1] (7), their low two
// in bits 0-1 (6) and 2-3 (7) of sc[2]. Each pair vector is then one or two
// shifts (the arithmetic shift right sign-extends), 6 and 7 four and five
// ops: 18 for the eight, where the layout before (low nibbles and top pairs
// in bytes, the -32 and two extends per vector) took 33 in V8's code. Then
// eight units of three vectors.
typedef struct {
  uint16_t d[4];
  uint16_t sc[3][8];
  uint8_t qs[8][3][16];
} block_q3_Kx4;
_Static_assert(sizeof(block_q3_Kx4) == 4 * sizeof(block_q3_K), "a group takes four rows' bytes");

// A super-block's scales for four rows: sc[k] has row j's scale for
// sub-block k in i16 lanes 2j, 2j+1 (against a byte dot's pair sums); mp[p]
// has row j's scales for sub-blocks 2p, 2p+1 in lanes 2j, 2j+1 (against the
// q8_K bsums' pairs, for the offset).
typedef struct {
  v128_t sc[16], mp[8];
  v128_t d;
} q3_K_scales4;

// From four vectors of signed scales, byte 4k + j of v[q] = row j's scale 4q + k.
static inline void q3_K_scales_from(const v128_t v[4], q3_K_scales4* s) {
  const v128_t dup0 = wasm_i8x16_const(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const v128_t dup8 = wasm_i8x16_const(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  const v128_t pair = wasm_i8x16_const(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);
  for (int q = 0; q < 4; q++) {
    const v128_t a = wasm_i8x16_swizzle(v[q], dup0), b = wasm_i8x16_swizzle(v[q], dup8), p = wasm_i8x16_swizzle(v[q], pair);
    s->sc[4 * q] = wasm_i16x8_extend_low_i8x16(a), s->sc[4 * q + 1] = wasm_i16x8_extend_high_i8x16(a);
    s->sc[4 * q + 2] = wasm_i16x8_extend_low_i8x16(b), s->sc[4 * q + 3] = wasm_i16x8_extend_high_i8x16(b);
    s->mp[2 * q] = wasm_i16x8_extend_low_i8x16(p), s->mp[2 * q + 1] = wasm_i16x8_extend_high_i8x16(p);
  }
#ifdef RELAXED_DOT_ADD
  // i32 lane j: row j's scale in the low i16, 0 in the high (q3_K_superblock's i32x4.dot_i16x8 against an int32 sum)
  for (int k = 0; k < 16; k++) s->sc[k] = wasm_v128_and(s->sc[k], wasm_i32x4_const_splat(0xFFFF));
#endif
}

// Plain rows: each row's sixteen scales, then the rows interleaved (byte 4k + j <- row j's byte k).
static inline void q3_K_scales(const block_q3_K* const x[4], int i, q3_K_scales4* s) {
  const v128_t s0 = unpack_scales_q3_K(x[0][i].scales), s1 = unpack_scales_q3_K(x[1][i].scales);
  const v128_t s2 = unpack_scales_q3_K(x[2][i].scales), s3 = unpack_scales_q3_K(x[3][i].scales);
  v128_t v[4];
  interleave_rows4_bytes(s0, s1, s2, s3, v);
  q3_K_scales_from(v, s);
  s->d = f16x4_to_f32x4(ROWS4_F16(x, i, d));
}

// Decode: the pair vectors (mp[u] serves unit u's dot and the offset), see block_q3_Kx4.
static inline void q3_Kx4_pairs_of(const block_q3_Kx4* g, v128_t mp[8]) {
  const v128_t v0 = LOAD(g->sc[0]), v1 = LOAD(g->sc[1]), v2 = LOAD(g->sc[2]), m3 = wasm_i16x8_const_splat(3);
  mp[0] = wasm_i16x8_shr(v0, 10), mp[1] = wasm_i16x8_shr(wasm_i16x8_shl(v0, 6), 10);
  mp[2] = wasm_i16x8_shr(v1, 10), mp[3] = wasm_i16x8_shr(wasm_i16x8_shl(v1, 6), 10);
  mp[4] = wasm_i16x8_shr(v2, 10), mp[5] = wasm_i16x8_shr(wasm_i16x8_shl(v2, 6), 10);
  // the top four bits sign-extended, times 4, plus the low two
  mp[6] = wasm_i16x8_add(wasm_i16x8_shr(wasm_i16x8_shl(v0, 12), 10), wasm_v128_and(v2, m3));
  mp[7] = wasm_i16x8_add(wasm_i16x8_shr(wasm_i16x8_shl(v1, 12), 10), wasm_v128_and(wasm_u16x8_shr(v2, 2), m3));
}

// Prefill: every shape, from the pair vectors narrowed to bytes (byte 8h + 2j + e of
// vector q: row j's scale for sub-block 4q + 2h + e) reshuffled to q3_K_scales_from's
// order (byte 4k + j <- 8 (k / 2) + 2j + k % 2).
static inline void q3_Kx4_scales(const block_q3_Kx4* g, q3_K_scales4* s) {
  v128_t mp[8], v[4];
  q3_Kx4_pairs_of(g, mp);
  for (int q = 0; q < 4; q++) {
    const v128_t b = wasm_i8x16_narrow_i16x8(mp[2 * q], mp[2 * q + 1]);
    v[q] = wasm_i8x16_shuffle(b, b, 0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
  }
  q3_K_scales_from(v, s);
  s->d = f16x4_at(g->d);
}

// Four adjacent f16 (a group's d) as f32, the bits f16x4_to_f32x4 gives for
// every finite f16, in thirteen ops where it takes some twenty-five in V8's
// code (its subnormal path converts unsigned integers), and with no f32
// subnormal operand (no microcode assist, see f16x4_to_f32x4): exponent and
// mantissa moved under an f32's and rebiased by 112 in integers; a subnormal
// m * 2^-24 (exponent 0) is made as 2^-14 * (1 + m / 1024) - 2^-14, both
// normal, exactly. An inf or NaN d comes out finite.
static inline v128_t q3_Kx4_d(const uint16_t* d) {
  const v128_t h = wasm_u32x4_extend_low_u16x8(wasm_v128_load64_zero(d));
  const v128_t sub = wasm_i32x4_eq(wasm_v128_and(h, wasm_i32x4_const_splat(0x7C00)), wasm_i32x4_const_splat(0));
  const v128_t mag = wasm_i32x4_add(wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_const_splat(0x7FFF)), 13),
                                    wasm_i32x4_add(wasm_i32x4_const_splat(112 << 23), wasm_v128_and(sub, wasm_i32x4_const_splat(1 << 23))));
  const v128_t f = wasm_f32x4_sub(mag, wasm_v128_and(sub, wasm_f32x4_const_splat(0x1.0p-14f)));
  return wasm_v128_or(f, wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_const_splat(0x8000)), 16));
}

#ifndef RELAXED_DOT_ADD
// Four rows' offset for one token: sum over sub-blocks of scale * bsum, row j
// in lane j (bsums pair 2p, 2p+1 is i32 lane p % 4 of b0 (p < 4) or b1).
static inline v128_t q3_K_offset(const v128_t* mp, const block_q8_K* yb) {
  const v128_t b0 = LOAD(yb->bsums), b1 = LOAD(yb->bsums + 8);
  const v128_t off = wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[0], wasm_i32x4_shuffle(b0, b0, 0, 0, 0, 0)),
                     wasm_i32x4_dot_i16x8(mp[1], wasm_i32x4_shuffle(b0, b0, 1, 1, 1, 1))),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[2], wasm_i32x4_shuffle(b0, b0, 2, 2, 2, 2)),
                     wasm_i32x4_dot_i16x8(mp[3], wasm_i32x4_shuffle(b0, b0, 3, 3, 3, 3))));
  return wasm_i32x4_add(off, wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[4], wasm_i32x4_shuffle(b1, b1, 0, 0, 0, 0)),
                     wasm_i32x4_dot_i16x8(mp[5], wasm_i32x4_shuffle(b1, b1, 1, 1, 1, 1))),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[6], wasm_i32x4_shuffle(b1, b1, 2, 2, 2, 2)),
                     wasm_i32x4_dot_i16x8(mp[7], wasm_i32x4_shuffle(b1, b1, 3, 3, 3, 3)))));
}
#endif

// A group's float step for super-block i: isum - 4 * offset, times d * ad.
static inline v128_t q3_K_step(v128_t sum, v128_t isum, v128_t off, v128_t d, const block_q8_K* yi) {
  const v128_t ad = wasm_f32x4_splat(yi->d);
  return wasm_f32x4_add(sum, wasm_f32x4_mul(wasm_f32x4_mul(d, ad), wasm_f32x4_convert_i32x4(wasm_i32x4_sub(isum, wasm_i32x4_shl(off, 2)))));
}

// A unit's quant vectors W0..W3 and W4..W7 (see block_q3_Kx4) from S0..S2 at q. W6 = S0's bits 6-7 | S1's bit 6 << 2, W7 = S2's bits 6-7 |
// S1's bit 7 << 2 (each u16 shift moves only bits the masks kept within their byte).
#define Q3_M7 wasm_i8x16_const_splat(7)
static inline void q3_Kx4_lo(const uint8_t* q, v128_t w[4]) {
  const v128_t s0 = LOAD(q), s1 = LOAD(q + 16);
  w[0] = wasm_v128_and(s0, Q3_M7), w[1] = wasm_v128_and(wasm_u16x8_shr(s0, 3), Q3_M7);
  w[2] = wasm_v128_and(s1, Q3_M7), w[3] = wasm_v128_and(wasm_u16x8_shr(s1, 3), Q3_M7);
}
static inline void q3_Kx4_hi(const uint8_t* q, v128_t w[4]) {
  const v128_t m3f = wasm_i8x16_const_splat(0x3F), m40 = wasm_i8x16_const_splat(0x40), m80 = wasm_i8x16_const_splat((int8_t)0x80);
  const v128_t s0 = LOAD(q), s1 = LOAD(q + 16), s2 = LOAD(q + 32);
  w[0] = wasm_v128_and(s2, Q3_M7), w[1] = wasm_v128_and(wasm_u16x8_shr(s2, 3), Q3_M7);
  w[2] = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(s0, m3f), 6), wasm_u16x8_shr(wasm_v128_and(s1, m40), 4));
  w[3] = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(s2, m3f), 6), wasm_u16x8_shr(wasm_v128_and(s1, m80), 5));
}


// Sixteen elements 128n + 32s + l0 .. + 15 (s = 0..3) of one plain row as 0..7.
static inline void q3_K_decode(const block_q3_K* x, int n, int l0, v128_t q[4]) {
  const v128_t m3 = wasm_i8x16_const_splat(3), m4 = wasm_i8x16_const_splat(4);
  const v128_t v = LOAD(x->qs + 32 * n + l0), hm = LOAD(x->hmask + l0);
  // hmask bits 4n..4n+3 moved to bits 2..5 (the bits looked at never cross a byte)
  const v128_t hn = n ? wasm_u16x8_shr(hm, 2) : wasm_i16x8_shl(hm, 2);
  q[0] = wasm_v128_or(wasm_v128_and(v, m3), wasm_v128_and(hn, m4));
  q[1] = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v, 2), m3), wasm_v128_and(wasm_u16x8_shr(hn, 1), m4));
  q[2] = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v, 4), m3), wasm_v128_and(wasm_u16x8_shr(hn, 2), m4));
  q[3] = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v, 6), m3), wasm_v128_and(wasm_u16x8_shr(hn, 3), m4));
}
