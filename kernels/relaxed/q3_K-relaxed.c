// Q3_K with relaxed SIMD (read relaxed.h and q4_K-relaxed.c first). The
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
  const v128_t a01 = wasm_i8x16_shuffle(s0, s1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t a23 = wasm_i8x16_shuffle(s2, s3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t b01 = wasm_i8x16_shuffle(s0, s1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t b23 = wasm_i8x16_shuffle(s2, s3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t v[4] = {wasm_i16x8_shuffle(a01, a23, 0, 8, 1, 9, 2, 10, 3, 11), wasm_i16x8_shuffle(a01, a23, 4, 12, 5, 13, 6, 14, 7, 15),
                       wasm_i16x8_shuffle(b01, b23, 0, 8, 1, 9, 2, 10, 3, 11), wasm_i16x8_shuffle(b01, b23, 4, 12, 5, 13, 6, 14, 7, 15)};
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

#ifdef RELAXED_DOT_ADD
// The dot-add build's unit: W0..W3 hold rows 0 and 1, W4..W7 rows 2 and 3,
// i32 lane l of W(4h + k) row 2h + l / 2's elements 4k .. 4k + 3 of
// sub-block 2u + l % 2 (q3_Kx4_elem); the activation reordered to match
// once per token (q3_Kx4_act: eight bytes per k, elements 4k .. 4k + 3 of
// sub-block 2u, then of 2u + 1, broadcast to both halves by one 64-bit
// splat load). So four dot-adds per row pair leave each (row, sub-block)
// sum in an i32 lane, started at the -4 offset (b4: -4 * bsum of sub-blocks
// 2u, 2u + 1, twice; |lane| <= 16 * 4 * 128, the sum of (q - 4) * a); one
// saturating narrow (which never saturates here) puts row j's two sums in
// i16 lanes 2j, 2j + 1, where one i32x4.dot_i16x8 applies the pair vector
// of scales, as the i16 build's unit ends. No i16 adds and no shifts of
// sums: 30 ops per unit and group where the i16 build takes 36, and four
// activation vectors live instead of eight: in V8's code (Node 24, eight
// groups) 48.5 instructions per unit and group against the i16 build's 65
// (whose eight broadcasts, isums and constants spill some eleven times).
// Measured (issue 19; Node 24, CPU time, alternating builds, the shared
// 2-core Xeon at load 1.3-1.8), against the dot-add build before (the i16
// unit): 32768x4096 from memory 12.06-12.12 -> 12.63-12.80 GB/s at one
// thread (1.05-1.06x), 23.6-23.7 -> 25.0-25.1 at two (1.05-1.06x, wall);
// per byte against q4_0x4 (12.55, 24.8) 0.96 -> 1.01-1.02 and 0.95 -> 1.01.
// In cache (4096x4096) 14.9-15.0 -> 17.2-17.4 (1.16x), 0.82 -> 0.95 of
// q4_0x4 per byte (18.2-18.4); with 4000 rows (below) 18.1 against 19.0.
// The prefill of this order (two i32 shuffles per pair of vectors where the
// mixed order's un-mix takes six ops) 1.01x (64 tokens), 1.11x (4 tokens).
// Tried and dropped here: no PIN (1.0-1.01x), each group's pointer OPAQUE
// (1.0x), four spread groups (0.93x one thread, 0.91x two), six (0.93x at
// two), ten or twelve (in cache 1.04-1.06x; from memory 1.0-1.05x with
// 32768 rows, 0.96-0.98x with 32000), sixteen
// (0.89x in cache, 0.92x from memory). Ten and twelve won in cache only
// because 4096 and 32768 rows put eight streams a multiple of 4 KiB apart
// (the same first-level sets: 4000 rows, eight = ten = twelve); shortening
// the parts until no two streams share sets won 1.05x in cache but lost
// 0.96x from memory and 0.93-0.99x end to end (TinyLlama Q3_K_M, tg32).
static inline v128_t q3_Kx4_unit(const uint8_t* q, const v128_t s[4], v128_t b4, v128_t mp) {
  const v128_t m3f = wasm_i8x16_const_splat(0x3F), m40 = wasm_i8x16_const_splat(0x40), m80 = wasm_i8x16_const_splat((int8_t)0x80);
  const v128_t s0 = LOAD(q), s1 = LOAD(q + 16), s2 = LOAD(q + 32);
  v128_t a01 = DOTADD(s[0], wasm_v128_and(s0, Q3_M7), b4);
  v128_t a23 = DOTADD(s[0], wasm_v128_and(s2, Q3_M7), b4);
  a01 = DOTADD(s[1], wasm_v128_and(wasm_u16x8_shr(s0, 3), Q3_M7), a01);
  a23 = DOTADD(s[1], wasm_v128_and(wasm_u16x8_shr(s2, 3), Q3_M7), a23);
  a01 = DOTADD(s[2], wasm_v128_and(s1, Q3_M7), a01);
  a23 = DOTADD(s[2], wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(s0, m3f), 6), wasm_u16x8_shr(wasm_v128_and(s1, m40), 4)), a23);
  a01 = DOTADD(s[3], wasm_v128_and(wasm_u16x8_shr(s1, 3), Q3_M7), a01);
  a23 = DOTADD(s[3], wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(s2, m3f), 6), wasm_u16x8_shr(wasm_v128_and(s1, m80), 5)), a23);
  return wasm_i32x4_dot_i16x8(wasm_i16x8_narrow_i32x4(a01, a23), mp);
}

// Once per token: the activation in q3_Kx4_unit's order (per 32 elements,
// groups of four of the two halves alternating), and the -4 offsets (bq[8i
// + u]: -4 * bsum of sub-blocks 2u, 2u + 1 in i32 lanes 0, 1 and 2, 3).
static inline void q3_Kx4_act(const block_q8_K* y, int8_t* ap, v128_t* bq, int nb) {
  for (int i = 0; i < nb; i++) {
    for (int u = 0; u < 8; u++) {
      const v128_t lo = LOAD(y[i].qs + 32 * u), hi = LOAD(y[i].qs + 32 * u + 16);
      wasm_v128_store(ap + 256 * i + 32 * u, wasm_i32x4_shuffle(lo, hi, 0, 4, 1, 5));
      wasm_v128_store(ap + 256 * i + 32 * u + 16, wasm_i32x4_shuffle(lo, hi, 2, 6, 3, 7));
    }
    for (int h = 0; h < 2; h++) {
      const v128_t b = LOAD(y[i].bsums + 8 * h);
      const v128_t lo = wasm_i32x4_mul(wasm_i32x4_extend_low_i16x8(b), wasm_i32x4_const_splat(-4));
      const v128_t hi = wasm_i32x4_mul(wasm_i32x4_extend_high_i16x8(b), wasm_i32x4_const_splat(-4));
      bq[8 * i + 4 * h] = wasm_i32x4_shuffle(lo, lo, 0, 1, 0, 1), bq[8 * i + 4 * h + 1] = wasm_i32x4_shuffle(lo, lo, 2, 3, 2, 3);
      bq[8 * i + 4 * h + 2] = wasm_i32x4_shuffle(hi, hi, 0, 1, 0, 1), bq[8 * i + 4 * h + 3] = wasm_i32x4_shuffle(hi, hi, 2, 3, 2, 3);
    }
  }
}
#else
// Four broadcasts against four quant vectors: int16 pair sums (|lane| <= 4 * 2 * 127 * 7).
static inline v128_t q3_dot4(const v128_t s[4], const v128_t w[4]) {
  return wasm_i16x8_add(wasm_i16x8_add(RDOT(s[0], w[0]), RDOT(s[1], w[1])), wasm_i16x8_add(RDOT(s[2], w[2]), RDOT(s[3], w[3])));
}

// Eight broadcasts against eight quant vectors of a unit: int16 sums, two sub-blocks per row (|lane| <= 16 * 127 * 7).
// W1 and W3 are read as 8 * W (masked in place, 0..56, no shift) into a sum
// of their own (|lane| <= 2 * 2 * 128 * 56 < 2^15), divided once, exactly (a
// multiple of 8): one op fewer per unit and group.
static inline v128_t q3_Kx4_unit(const uint8_t* q, const v128_t s[8], v128_t* pin) {
  const v128_t m38 = wasm_i8x16_const_splat(0x38);
  const v128_t s0 = LOAD(q), s1 = LOAD(q + 16);
  const v128_t p8 = wasm_i16x8_add(RDOT(s[1], wasm_v128_and(s0, m38)), RDOT(s[3], wasm_v128_and(s1, m38)));
  const v128_t p = wasm_i16x8_add(RDOT(s[0], wasm_v128_and(s0, Q3_M7)), RDOT(s[2], wasm_v128_and(s1, Q3_M7)));
  PIN(p, *pin);
  v128_t wv[4];
  q3_Kx4_hi(q, wv);
  return wasm_i16x8_add(wasm_i16x8_add(p, q3_dot4(s + 4, wv)), wasm_i16x8_shr(p8, 3));
}

// Decode's -4 offset, per super-block and unit u of a token: 4 * the q8_K
// bsums of sub-blocks 2u and 2u + 1 in i16 lanes 2j and 2j + 1 (every j),
// taken away from the unit's int16 sums before its scales apply (|lane| <=
// 16 * 128 * 7 + 4 * 16 * 128 < 2^15), so the super-block's int32 sum needs
// no offset dots: the same integer as isum - 4 * offset.
static inline void q3_Kx4_bsums4(const block_q8_K* y, v128_t* bq, int nb) {
  for (int i = 0; i < nb; i++)
    for (int h = 0; h < 2; h++) {
      const v128_t b = wasm_i16x8_shl(LOAD(y[i].bsums + 8 * h), 2);
      bq[8 * i + 4 * h] = wasm_i32x4_shuffle(b, b, 0, 0, 0, 0), bq[8 * i + 4 * h + 1] = wasm_i32x4_shuffle(b, b, 1, 1, 1, 1);
      bq[8 * i + 4 * h + 2] = wasm_i32x4_shuffle(b, b, 2, 2, 2, 2), bq[8 * i + 4 * h + 3] = wasm_i32x4_shuffle(b, b, 3, 3, 3, 3);
    }
}


// Once per token: the activation in q3_Kx4_unit's order (act_pairs_q8_K) and the offsets (q3_Kx4_bsums4).
static inline void q3_Kx4_act(const block_q8_K* y, int8_t* ap, v128_t* bq, int nb) {
  act_pairs_q8_K(y->qs, sizeof(block_q8_K), ap, nb);
  q3_Kx4_bsums4(y, bq, nb);
}
#endif

// Decode of repacked rows, gn groups at a time: n iterations, the first
// group of iteration it at row r + step * it, its gn groups `stride` rows
// apart. Each unit's eight broadcasts (of the reordered activation ap) and
// its offset vector (bq, q3_Kx4_bsums4) serve every group, each group is a
// stream of its own for the prefetcher, read front to back (its scales at
// the head of each super-block, then its units), and the steps end with
// PIN (relaxed.h). The integer sums are exact and the float step per row is
// q3_K_step's, so every gn and stride give the same bits.
static inline __attribute__((always_inline)) void q3_Kx4_groups(const uint8_t* w, int row_bytes, const block_q8_K* y,
                                                                const int8_t* ap, const v128_t* bq, float* out, int nb, int r, int n,
                                                                int step, int stride, int r0, int r1, int first,
                                                                const int gn) {
  v128_t pins[16];
  for (int it = 0; it < n; it++, r += step) {
    const block_q3_Kx4* g[8];
    v128_t sum[8];
    UNROLL for (int k = 0; k < gn; k++) {
      g[k] = (const block_q3_Kx4*)(w + (size_t)(r + stride * k) * row_bytes);
      sum[k] = wasm_f32x4_const_splat(0.0f);
    }
    const int8_t* a = ap;
    for (int i = 0; i < nb; i++) {
      v128_t mp[8][8], isum[8];
      const uint8_t* q[8];
      UNROLL for (int k = 0; k < gn; k++) {
        q3_Kx4_pairs_of(g[k], mp[k]);
        isum[k] = wasm_i32x4_const_splat(0);
        q[k] = &g[k]->qs[0][0][0];
      }
      const v128_t* b = bq + 8 * i;
      NOUNROLL for (unsigned u = 0; u < 8; u++, a += 32, b++) {
        const v128_t b4 = LOAD(b);
#ifdef RELAXED_DOT_ADD
        const v128_t s[4] = {wasm_v128_load64_splat(a), wasm_v128_load64_splat(a + 8), wasm_v128_load64_splat(a + 16),
                             wasm_v128_load64_splat(a + 24)};
        UNROLL for (int k = 0; k < gn; k++) {
          isum[k] = wasm_i32x4_add(isum[k], q3_Kx4_unit(q[k], s, b4, mp[k][u]));
          PIN(isum[k], pins[k]);
          q[k] += 48;
        }
#else
        const v128_t s[8] = {SPLAT4(a), SPLAT4(a + 4), SPLAT4(a + 8), SPLAT4(a + 12),
                             SPLAT4(a + 16), SPLAT4(a + 20), SPLAT4(a + 24), SPLAT4(a + 28)};
        UNROLL for (int k = 0; k < gn; k++) {
          const v128_t p = q3_Kx4_unit(q[k], s, &pins[2 * k]);
          PIN(p, pins[2 * k + 1]);
          isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(wasm_i16x8_sub(p, b4), mp[k][u]));
          q[k] += 48;
        }
#endif
      }
      UNROLL for (int k = 0; k < gn; k++) {
        sum[k] = q3_K_step(sum[k], isum[k], wasm_i32x4_const_splat(0), q3_Kx4_d(g[k]->d), &y[i]);  // offset already in isum
        g[k]++;
      }
    }
    UNROLL for (int k = 0; k < gn; k++) store4(sum[k], out, r + stride * k, r0, r1, first);
  }
}

// Decode of the thread's q3_Kx4 groups (from r0 & ~3; store4 keeps only
// the thread's rows): Q3_SPREAD at a time, each reading its own part of the
// thread's rows, then two side by side, then one.
//
// Measured (32768x4096 from memory, one thread, CPU time, medians of
// alternating rounds on a shared machine, load average 2.2-3.1), against
// two groups side by side (what this replaced): four side by side 1.3x,
// four spread 1.55x (6.3 -> 9.6 GB/s), eight spread no better than four. In
// cache (1024 and 4096 rows, alternating with the old build only) 1.08-1.12x
// (10.5 -> 11.3-11.9 GB/s).
//
// Issue 19 (decode at Q4_0's speed per byte; CPU time, the shared 2-core
// Xeon at load 4-6, alternating builds): q6_Kx4's gap was its read streams
// (scales in a block tail: two pointers per group); q3_Kx4 has none to
// close: each group is one stream read front to back, its scales at the
// head of each super-block. What the V8 code (node --print-wasm-code)
// shows is work: per unit and group about 64 instructions for 48 bytes
// where q4_0x4 has 73 for 72, of them 16 on the two ports that take byte
// dots, i16 dots and shifts (8 byte dots, 1 i16 dot, 7 shifts for the
// 3-bit decode) against q4_0x4's 13 per 72 bytes; per super-block and group
// another ~140 (the scale pairs, the -4 offset's eight i16 dots, d). A
// Q3_K weight has 0.76 of a Q4_0 weight's bytes, so parity per byte in
// cache would need the 3-bit decode nearly free. What paid:
// - the offset taken from the units' int16 sums (q3_Kx4_bsums4): no offset
//   dots per super-block and group (829 -> 594 instructions per super-block
//   of four groups): in cache 1.03-1.15x, from memory 1.02-1.03x;
// - with it eight spread groups instead of four: against the old kernel in
//   cache 1.05-1.24x, from memory 1.05-1.08x at 1 thread, 1.01-1.16x at 2
//   (four spread without the fold had measured no worse than eight). Per
//   byte against q4_0x4 that is 0.72-0.75x -> 0.77-0.84x in cache,
//   0.81-0.89x -> 0.87-0.93x from memory at 1 thread, 0.74-0.86x ->
//   0.84-0.91x at 2 (bench:kernels --memory, 32768x4096).
// Tried and dropped: d through an exact 9-op f16 conversion (q5_K-relaxed.c:
// an f16 subnormal scale becomes an f32 subnormal operand, whose multiply
// takes a microcode assist); each group's pointer hidden from clang per
// unit (q5_K-relaxed.c's OPAQUE): 514 -> 495 instructions per unit of eight
// groups, 1.0x in cache, 1.02-1.03x from memory; W1 and W3 read as 8 * W
// (masked, not shifted) into a sum of their own, shifted once (exact: a
// multiple of 8 within int16): one shift fewer per unit, 1.02x in cache,
// 1.0x from memory (kept since session 9, below).
// Session 9 (issue 19, decode per byte; the machine shared, load 3-5): the
// kernel is bound by its vector ops (taking 24% of a unit's ops away made
// q2_Kx4 1.2x faster in cache, 1.08x from memory), and a tenth of q3_Kx4's
// were per super-block and group: the scales' decode (33 in V8's code: two
// nibble planes and a pair plane, the -32, two extends per vector) and d by
// f16x4_to_f32x4 (some 25: its subnormal path converts unsigned integers).
// The scales as 6-bit fields of 16-bit lanes read by shifts (18 ops, see
// block_q3_Kx4) and d by q3_Kx4_d (13, exact for every finite f16, checked
// against f16x4_to_f32x4 on all 63488): against the build before, CPU time,
// 1.06x in cache (4096 rows), 1.04x from memory at 1 thread. Then W1 and W3
// as 8 * W (q3_Kx4_unit; 36 ops per unit and group): 1.02x in cache,
// 1.01-1.02x from memory.
// Session 10 (issue 19; Node 20, CPU time, the machine shared, load 0.5-1.9):
// this build against q4_0x4 per byte, 32768x4096 from memory 12.2-12.3
// against 13.1 GB/s at one thread (0.93-0.94), 24.2-24.3 against 25.4-25.7
// at two (0.95); in cache 15.1-15.3 against 17.1 (0.88-0.89). (The dot-add
// build reaches q4_0x4's speed per byte: its q3_Kx4_unit.) It is bound by
// its 36 vector ops: the eight broadcasts' spills cost little (four
// broadcasts used twice, wrong sums as a bound: 1.03x in cache, 1.0x from
// memory), so the dot-add build's order, which would need four more ops
// here (two i16 sums per unit, each with its offset and a pair-scale
// shuffle) to halve the broadcasts, was not built; the broadcasts loaded
// per group instead of held: 0.99x. The offset's i16 subtraction (one op
// per unit and group) has no cheaper place: per super-block it takes eight
// i32 dots and adds, and folded into the x8 sum it overflows int16 (8 * 4 *
// |bsum| reaches 2^16). d folded into the activation's scale (an f16x4_unscaled
// d, 2^112 moved to ad) would save some eight ops per super-block and
// group (1%) but make an f16-subnormal d an f32-subnormal operand (q5_K-
// relaxed.c: 0.66x on such rows): not taken. No PIN after the unit: 0.93x
// in cache; none inside it: 1.0x. Two threads: on a quiet machine q3_Kx4
// scales as q4_0x4 (1.98x against 1.95x from one thread to two, wall);
// with another job on the second core (CPU time per thread half the wall
// time, /proc/pressure/cpu up) both types' two-thread times came near their
// one-thread ones (q4_0x4 6.3-6.6 ms against 5.9), so two-thread ratios
// vary with the machine, not the kernel. Four and six spread groups, both
// builds: 0.91-1.0x of eight at one thread; at two 0.85-0.95x in the
// quieter runs, 0.97-1.09x under contention: eight kept.
#ifndef Q3_SPREAD
#define Q3_SPREAD 8
#endif
static void q3_Kx4_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, const int8_t* ap, const v128_t* bq, float* out, int nb, int r0, int r1,
                        int first) {
  int r = r0 & ~3;
  const int part = (r1 - r + 3) / 4 / Q3_SPREAD;  // groups per part
  q3_Kx4_groups(w, row_bytes, y, ap, bq, out, nb, r, part, 4, 4 * part, r0, r1, first, Q3_SPREAD);
  r += 4 * Q3_SPREAD * part;
  const int pairs = (r1 - r + 3) / 4 / 2;
  q3_Kx4_groups(w, row_bytes, y, ap, bq, out, nb, r, pairs, 8, 4, r0, r1, first, 2);
  r += 8 * pairs;
  q3_Kx4_groups(w, row_bytes, y, ap, bq, out, nb, r, (r1 - r + 3) / 4, 4, 4, r0, r1, first, 1);
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

// Decode of plain rows: one row at a time; the super-block's integer sums
// and its offset are reduced to one int32 before the group kernels' float
// step, done in lane 0.
static void q3_K_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r0, int r1, int first) {
  for (int r = r0; r < r1; r++) {
    const block_q3_K* x = (const block_q3_K*)(w + (size_t)r * row_bytes);
    v128_t sum = wasm_f32x4_const_splat(0.0f);
    for (int i = 0; i < nb; i++, x++) {
      const v128_t scv = unpack_scales_q3_K(x->scales);
      int16_t sc[16];  // as int16 in memory: each scale is then one broadcast load
      wasm_v128_store(sc, wasm_i16x8_extend_low_i8x16(scv));
      wasm_v128_store(sc + 8, wasm_i16x8_extend_high_i8x16(scv));
      v128_t acc = wasm_i32x4_const_splat(0);
      NOUNROLL for (int j = 0; j < 4; j++) {
        const int n = j >> 1, l0 = 16 * (j & 1);
        v128_t q[4];
        q3_K_decode(x, n, l0, q);
        const int8_t* a = y[i].qs + 128 * n + l0;
        const int16_t* s = sc + 8 * n + (j & 1);
        acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(a), q[0]), wasm_v128_load16_splat(s)),
                                                 wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 32), q[1]), wasm_v128_load16_splat(s + 2))));
        acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 64), q[2]), wasm_v128_load16_splat(s + 4)),
                                                 wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 96), q[3]), wasm_v128_load16_splat(s + 6))));
      }
      const v128_t off = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(scv), LOAD(y[i].bsums)),
                                        wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(scv), LOAD(y[i].bsums + 8)));
      // lane 0: the sum of acc's lanes, lane 1: of off's
      const v128_t u = wasm_i32x4_add(wasm_i32x4_shuffle(acc, off, 0, 1, 4, 5), wasm_i32x4_shuffle(acc, off, 2, 3, 6, 7));
      const v128_t v = wasm_i32x4_add(wasm_i32x4_shuffle(u, u, 0, 2, 0, 2), wasm_i32x4_shuffle(u, u, 1, 3, 1, 3));
      const v128_t d = f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load16_splat(&x->d)));
      sum = q3_K_step(sum, v, wasm_i32x4_shuffle(v, v, 1, 1, 1, 1), d, &y[i]);
    }
    const float val = wasm_f32x4_extract_lane(sum, 0);
    out[r] = first ? val : out[r] + val;
  }
}

typedef kq_acc q3_K_acc;

#ifdef RELAXED_DOT_ADD
// -4 * bsum of each sub-block of a q8_K super-block as int32 (o[k]: sub-block
// k), q6_K_neg32's way: two i32x4.dot_i16x8 per eight bsums (against -4 in
// even or odd i16 lanes) and two shuffles back into order.
static inline void q3_K_neg4(const block_q8_K* yb, int32_t* o) {
  const v128_t ce = wasm_i32x4_const_splat(0x0000FFFC), co = wasm_i32x4_const_splat((int32_t)0xFFFC0000u);
  UNROLL for (int h = 0; h < 2; h++) {
    const v128_t v = LOAD(yb->bsums + 8 * h);
    const v128_t e = wasm_i32x4_dot_i16x8(v, ce), od = wasm_i32x4_dot_i16x8(v, co);
    wasm_v128_store(o + 8 * h, wasm_i32x4_shuffle(e, od, 0, 4, 1, 5));
    wasm_v128_store(o + 8 * h + 4, wasm_i32x4_shuffle(e, od, 2, 6, 3, 7));
  }
}

// The dot-add build's prefill: super-block i of four rows against nt
// tokens, q6_K_isums' loop (q6_K-relaxed.c): four tokens at a time over the
// sixteen sub-blocks, each weight vector (q[4k + g]: sub-block k, elements
// 16k + 4g .. + 3 of each row, transpose4's order) loaded once for the four,
// each sub-block's sum per row from four dot-adds started at its -4 offset
// (|lane| <= 16 * 4 * 128, so the rows' scales apply by one
// i32x4.dot_i16x8 against the scale in each lane's low i16, where Q6_K
// needs an i32x4.mul), PINned every second step. Measured (Node 24, 4096x4096,
// one thread, CPU time, bench:kernels --prefill --dot --old, load 1.4-1.5)
// against this build's i16 loop before (the relaxed build's, below): 64
// tokens 1.35x (q3_Kx4) and 1.31x (plain rows), 16 tokens 1.34x and 1.30x,
// 4 tokens 1.31x and 1.27x; against the relaxed module 1.31-1.38x.
static inline void q3_K_superblock(const q3_K_scales4* s, const v128_t* q, int i, const block_q8_K* const* y, q3_K_acc* acc, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
  v128_t pin[4];
  int32_t off[4][16] __attribute__((aligned(16)));
  int t = 0;
  for (; t + 4 <= nt; t += 4) {
    UNROLL for (int u = 0; u < 4; u++) q3_K_neg4(&y[t + u][i], off[u]);
    const int32_t* o0 = off[0];
    const int8_t* a0 = y[t][i].qs;
    const int8_t* a1 = y[t + 1][i].qs;
    const int8_t* a2 = y[t + 2][i].qs;
    const int8_t* a3 = y[t + 3][i].qs;
    const v128_t* w = q;
    const v128_t* sc = s->sc;
    v128_t i0 = zero, i1 = zero, i2 = zero, i3 = zero;
    NOUNROLL for (int sb = 0; sb < 16; sb++, a0 += 16, a1 += 16, a2 += 16, a3 += 16, w += 4, sc++) {
      v128_t p0 = wasm_v128_load32_splat(o0), p1 = wasm_v128_load32_splat(o0 + 16);
      v128_t p2 = wasm_v128_load32_splat(o0 + 32), p3 = wasm_v128_load32_splat(o0 + 48);
      o0++;
      OPAQUE4(a0, a1, a2, a3);  // so a0 + 4 * k is a load offset (relaxed.h)
      UNROLL for (unsigned k = 0; k < 4; k++) {
        const v128_t wk = w[k];
        p0 = DOTADD(SPLAT4(a0 + 4 * k), wk, p0);
        p1 = DOTADD(SPLAT4(a1 + 4 * k), wk, p1);
        p2 = DOTADD(SPLAT4(a2 + 4 * k), wk, p2);
        p3 = DOTADD(SPLAT4(a3 + 4 * k), wk, p3);
        if (k & 1) {
          PIN(p0, pin[0]);
          PIN(p1, pin[1]);
          PIN(p2, pin[2]);
          PIN(p3, pin[3]);
        }
      }
      const v128_t scv = *sc;
      i0 = wasm_i32x4_add(i0, wasm_i32x4_dot_i16x8(p0, scv));
      i1 = wasm_i32x4_add(i1, wasm_i32x4_dot_i16x8(p1, scv));
      i2 = wasm_i32x4_add(i2, wasm_i32x4_dot_i16x8(p2, scv));
      i3 = wasm_i32x4_add(i3, wasm_i32x4_dot_i16x8(p3, scv));
    }
    acc[t].isum = i0, acc[t + 1].isum = i1, acc[t + 2].isum = i2, acc[t + 3].isum = i3;
  }
  for (; t < nt; t++) {
    const int8_t* a = y[t][i].qs;
    v128_t isum = zero;
    q3_K_neg4(&y[t][i], off[0]);
    NOUNROLL for (int sb = 0; sb < 16; sb++, a += 16) {
      v128_t p = wasm_v128_load32_splat(off[0] + sb);
      UNROLL for (unsigned k = 0; k < 4; k++) p = DOTADD(SPLAT4(a + 4 * k), q[4 * sb + k], p);
      isum = wasm_i32x4_add(isum, wasm_i32x4_dot_i16x8(p, s->sc[sb]));
    }
    acc[t].isum = isum;
  }
  for (t = 0; t < nt; t++) acc[t].sum = q3_K_step(acc[t].sum, acc[t].isum, zero, s->d, &y[t][i]);  // offset already in isum
}
#else
// Super-block i of four rows against nt tokens; q[4k + g]: sub-block k,
// elements 16k + 4g .. + 3 of each row (transpose4's order).
static inline void q3_K_superblock(const q3_K_scales4* s, const v128_t* q, int i, const block_q8_K* const* y, q3_K_acc* acc, int nt) {
  for (int t = 0; t < nt; t++) acc[t].isum = wasm_i32x4_const_splat(0);
  NOUNROLL for (int k = 0; k < 16; k++) {
    const v128_t* w = q + 4 * k;
    const v128_t sc = s->sc[k];
    for (int t = 0; t < nt; t++) {
      const int8_t* a = y[t][i].qs + 16 * k;
      const v128_t p = wasm_i16x8_add(wasm_i16x8_add(RDOT(SPLAT4(a), w[0]), RDOT(SPLAT4(a + 4), w[1])),
                                      wasm_i16x8_add(RDOT(SPLAT4(a + 8), w[2]), RDOT(SPLAT4(a + 12), w[3])));
      acc[t].isum = wasm_i32x4_add(acc[t].isum, wasm_i32x4_dot_i16x8(p, sc));
    }
  }
  for (int t = 0; t < nt; t++) acc[t].sum = q3_K_step(acc[t].sum, acc[t].isum, q3_K_offset(s->mp, &y[t][i]), s->d, &y[t][i]);
}
#endif

// One token: the decode paths (q3_Kx4: the activation reordered and its bsums, once per token).
KQ_HOOK void q3_K_one_token(const uint8_t* wc, int row_bytes, const block_q8_K* y, const v128_t* b32, float* o, int nb, int r0,
                            int r1, int first, int x4) {
  (void)b32;
  if (x4) {
    int8_t ap[KB * QK_K] __attribute__((aligned(16)));
    v128_t bq[KB * 8];
    q3_Kx4_act(y, ap, bq, nb);
    q3_Kx4_rows(wc, row_bytes, y, ap, bq, o, nb, r0, r1, first);
  } else {
    q3_K_rows(wc, row_bytes, y, o, nb, r0, r1, first);
  }
}

// Prefill, one q3_Kx4 group: each super-block's quants in q3_K_superblock's order.
KQ_HOOK void q3_Kx4_group(const uint8_t* gp, int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc, int nt) {
  (void)b32;
  const block_q3_Kx4* g = (const block_q3_Kx4*)gp;
  q3_K_scales4 s;
  v128_t q[64];
  for (int i = 0; i < nb; i++) {
    q3_Kx4_scales(g + i, &s);
    for (int u = 0; u < 8; u++) {
      v128_t m[8];
      q3_Kx4_lo(g[i].qs[u][0], m);
      q3_Kx4_hi(g[i].qs[u][0], m + 4);
#ifdef RELAXED_DOT_ADD
      // W(k), W(4 + k): rows 0, 1 and 2, 3 of sub-blocks 2u, 2u + 1 in alternate i32 lanes -> q[4k + g]
      for (int k = 0; k < 4; k++) {
        q[8 * u + k] = wasm_i32x4_shuffle(m[k], m[4 + k], 0, 2, 4, 6);
        q[8 * u + 4 + k] = wasm_i32x4_shuffle(m[k], m[4 + k], 1, 3, 5, 7);
      }
#else
      // mixed: sub-blocks 2u, 2u + 1 in i16 lanes 2j, 2j + 1 -> q[4k + g]
      for (int e = 0; e < 4; e++) unmix_pairs(m[2 * e], m[2 * e + 1], q + 8 * u + e, q + 8 * u + 4 + e);
#endif
    }
    q3_K_superblock(&s, q, i, y, acc, nt);
  }
}

// Prefill, four plain rows: each super-block decoded and transposed to q3_K_superblock's order.
KQ_HOOK void q3_K_group(const uint8_t* const xp[4], int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc,
                        int nt, int layout) {
  (void)b32, (void)layout;
  const block_q3_K* x[4] = KQ_ROWS(block_q3_K, xp);
  q3_K_scales4 s;
  v128_t q[64];
  for (int i = 0; i < nb; i++) {
    q3_K_scales(x, i, &s);
    v128_t rv[4][16];  // row j's elements 16v .. 16v + 15
    for (int j = 0; j < 4; j++)
      for (int h = 0; h < 4; h++) {
        v128_t d4[4];
        q3_K_decode(x[j] + i, h >> 1, 16 * (h & 1), d4);
        for (int e = 0; e < 4; e++) rv[j][8 * (h >> 1) + 2 * e + (h & 1)] = d4[e];
      }
    for (int v = 0; v < 16; v++) transpose4(rv[0][v], rv[1][v], rv[2][v], rv[3][v], q + 4 * v);
    q3_K_superblock(&s, q, i, y, acc, nt);
  }
}

static const kq_type q3_K_loop = {.block = sizeof(block_q3_K), .block_x4 = sizeof(block_q3_Kx4)};

// x4: 0 plain rows, 1 q3_Kx4 (kquant-loop.h's loop).
static inline void q3_K_mul_mat(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                int n, int n_tok, int r0, int r1, int x4) {
  kq_mul_mat(&q3_K_loop, 0, q3_K_one_token, q3_Kx4_group, q3_K_group, 0, w, row_bytes, a, a_row_bytes, out, out_stride, n,
             n_tok, r0, r1, x4, x4);
}

RELAXED_ENTRIES(q3_K, q3_K_mul_mat, 0)
RELAXED_ENTRIES(q3_Kx4, q3_K_mul_mat, 1)

RELAXED_VEC_DOT(q3_K, q8_K, q3_K_mul_mat)

// Where byte p of unit u's quant vector Wm comes from: *row (0..3) and *e,
// the element of the super-block (see block_q3_Kx4; the dot-add build's
// order at q3_Kx4_unit).
static inline void q3_Kx4_elem(int u, int m, int p, int* row, int* e) {
#ifdef RELAXED_DOT_ADD
  const int l = p >> 2;  // i32 lane l: row 2 (m / 4) + l / 2, sub-block 2u + l % 2, its elements 4 (m % 4) ..
  *row = 2 * (m >> 2) + (l >> 1), *e = 32 * u + 16 * (l & 1) + 4 * (m & 3) + (p & 3);
#else
  const int b = p & 3;  // row p / 4: elements 2m, 2m + 1 of sub-block 2u (b = 0, 1) and of 2u + 1 (b = 2, 3)
  *row = p >> 2, *e = 32 * u + 16 * (b >> 1) + 2 * m + (b & 1);
#endif
}

// Rewrites n_rows (a multiple of 4) plain q3_K rows as q3_Kx4 groups, in
// place: group G takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_q3_Kx4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_q3_K);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    block_q3_Kx4* g = (block_q3_Kx4*)base;
    for (int i = 0; i < nb; i++) {
      for (int v = 0; v < 3; v++)
        for (int l = 0; l < 8; l++) g[i].sc[v][l] = 0;
      for (int j = 0; j < 4; j++) {
        const block_q3_K* x = (const block_q3_K*)((const uint8_t*)scratch + (size_t)j * row_bytes) + i;
        g[i].d[j] = x->d;
        const uint8_t* sq = x->scales;
        for (int k = 0; k < 16; k++) {  // sub-block k = 2u + e: pair vector u, lane 2j + e (see block_q3_Kx4)
          const int sc = ((k < 8 ? sq[k] : sq[k - 8] >> 4) & 0x0F) | (((sq[8 + k % 4] >> (2 * (k / 4))) & 3) << 4);
          const int t = (sc - 32) & 63, u = k >> 1, l = 2 * j + (k & 1);
          if (u < 6) {
            g[i].sc[u >> 1][l] |= (uint16_t)(t << (u & 1 ? 4 : 10));
          } else {
            g[i].sc[u - 6][l] |= (uint16_t)(t >> 2);
            g[i].sc[2][l] |= (uint16_t)((t & 3) << (u == 6 ? 0 : 2));
          }
        }
      }
      for (int u = 0; u < 8; u++)
        for (int p = 0; p < 16; p++) {
          int W[8];  // byte p of Wm, as 0..7
          for (int m = 0; m < 8; m++) {
            int row, e;
            q3_Kx4_elem(u, m, p, &row, &e);
            const block_q3_K* x = (const block_q3_K*)((const uint8_t*)scratch + (size_t)row * row_bytes) + i;
            const int n = e >> 7, sh = (e >> 5) & 3, l = e & 31;
            W[m] = ((x->qs[32 * n + l] >> (2 * sh)) & 3) | (((x->hmask[l] >> (4 * n + sh)) & 1) << 2);
          }
          uint8_t* o = &g[i].qs[u][0][p];
          o[0] = (uint8_t)(W[0] | W[1] << 3 | (W[6] & 3) << 6);
          o[16] = (uint8_t)(W[2] | W[3] << 3 | (W[6] >> 2) << 6 | (W[7] >> 2) << 7);
          o[32] = (uint8_t)(W[4] | W[5] << 3 | (W[7] & 3) << 6);
        }
    }
  }
}
