// Q2_K with relaxed SIMD (read relaxed.h and q4_K-relaxed.c first). The
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
// Decode is bound by its ops, not by memory: per unit and group (32 bytes
// of quants) eight byte dots, eight masks, two shifts, eight i16 adds and
// shifts, one i32 dot and add (q2_Kx4_unit: 28 in V8's x64 code, against
// q4_0x4's 14 per 32 bytes), and per super-block some fifty more (scales,
// mins, d and dmin, the float steps). Counted in V8's code (node
// --print-wasm-code on a matvec run until TurboFan compiles it).
//
// Measured (4096 columns, one thread, CPU time, medians of alternating
// rounds against the build before, shared 2-core Xeon at load 5-7.5),
// GB/s of weights: in cache (4096 rows) q2_Kx4 11.4-12.7 against 8.6-9.6
// before (1.25-1.35x), q4_0x4 14.5-17.4: 0.74-0.77 of q4_0x4 per byte
// (0.53-0.6 before); from memory (32768 rows, 640 MiB, bench --memory) one
// thread 8.1-9.3 against 6.7-7.1 (1.2-1.24x; q4_0x4 11.0-11.3: 0.72-0.83),
// two threads (CPU time per thread) 1.13-1.16x. Prefill (64 tokens, the
// layout's batch path) unchanged. Tried and dropped, per unit and group:
// the splats loaded per group instead of shared by the four (0.94x: twice
// the loads); each packed vector's dots combined on its own with the four
// groups interleaved by half unit (fewer spills in V8's code, two more
// ops: 0.98-1.0x, also with the x1 and x4 sums carried across halves
// instead); eight spread groups (0.94x in cache, 1.0x from memory: more
// spills); keeping the pointers opaque to clang's loop strength reduction
// so V8 folds the offsets (no change); a PIN inside the unit (no change),
// none after it (0.95x);
// the unit loop unrolled by two (0.98x).
// Not possible with exact sums: the scales applied by an i16 multiply (a
// unit's sums reach 16 * 128 * 3, times 15 overflows int16); quants taken
// at 16x (mask 48: a third class to normalise, more ops) or combined with
// the activation (a nibble's two quants need activation differences that
// leave int8); the mins in fewer than eight i32 dots per super-block (64
// products for four rows, eight per dot).
// Before: 8.6-9.6 GB/s with three shifts and four masks per packed vector,
// the scales and mins as bytes widened by two extends, the bsum pairs
// shuffled per group, d and dmin by f16x4_to_f32x4 (some forty ops, a
// tenth of the decode).
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
// q2_Kx4. Details and what was dropped beside q2_Kx4_rows.
//
// Every path reduces a super-block to exact int32 sums per row, then takes
// the same f32 steps per row: sum += (d * ad) * isum, msum += (dmin * ad) *
// mins, result sum - msum. So a batch gives the bits of token by token, and
// q2_Kx4 the bits of the plain layout (the dot-add build's decode sums rows
// 2 and 3 four times over and takes 0.25 of their f32 sums, exactly).
//
// qs[32n + l]: elements 128n + 32s + l in bits 2s..2s+1 (s = 0..3).
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
  const v128_t a01 = wasm_i8x16_shuffle(s0, s1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t a23 = wasm_i8x16_shuffle(s2, s3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t b01 = wasm_i8x16_shuffle(s0, s1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t b23 = wasm_i8x16_shuffle(s2, s3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t v[4] = {wasm_i16x8_shuffle(a01, a23, 0, 8, 1, 9, 2, 10, 3, 11), wasm_i16x8_shuffle(a01, a23, 4, 12, 5, 13, 6, 14, 7, 15),
                       wasm_i16x8_shuffle(b01, b23, 0, 8, 1, 9, 2, 10, 3, 11), wasm_i16x8_shuffle(b01, b23, 4, 12, 5, 13, 6, 14, 7, 15)};
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

#ifdef RELAXED_DOT_ADD
// Decode, the dot-add build: its scale bytes hold min | scale << 4, row j's
// for sub-blocks 4q, 4q + 2, 4q + 1, 4q + 3 in bytes 4j .. 4j + 3 of vector
// q (repack_q2_Kx4), so that the u16 lanes give unit 2q's and 2q + 1's
// scales as i16 in lanes 2j, 2j + 1 (q2_Kx4_sc_even: two ops, _odd: one;
// taken in the unit loop, from a load), and one mask gives the mins as
// bytes, row j's four in i32 lane j, for DOTADD against the token's bsums
// split into bytes (q2_Kx4_mins). Twelve ops per super-block and group.
typedef int8_t q2_bb_t;  // bsum_pairs_q8_K's per-token table
#define BB_PER_SB 32
static inline v128_t q2_Kx4_sc_even(v128_t v) { return wasm_v128_and(wasm_u16x8_shr(v, 4), wasm_i16x8_const_splat(0x000F)); }
static inline v128_t q2_Kx4_sc_odd(v128_t v) { return wasm_u16x8_shr(v, 12); }

// A token's bsums (|bsum| <= 16 * 128) as bytes: bsum = 256 h + l, l the
// low byte as signed, h in -8..8; per super-block the sixteen l then the
// sixteen h, in the mins' order (q2_Kx4_mins_of: 4q, 4q + 2, 4q + 1, 4q + 3).
static inline void bsum_pairs_q8_K(const block_q8_K* y, q2_bb_t* bb, int nb) {
  for (int i = 0; i < nb; i++) {
    const v128_t b0 = LOAD(y[i].bsums), b1 = LOAD(y[i].bsums + 8);
    const v128_t l0 = wasm_i16x8_shr(wasm_i16x8_shl(b0, 8), 8), l1 = wasm_i16x8_shr(wasm_i16x8_shl(b1, 8), 8);
    const v128_t l = wasm_i8x16_narrow_i16x8(l0, l1);
    const v128_t h = wasm_i8x16_narrow_i16x8(wasm_i16x8_shr(wasm_i16x8_sub(b0, l0), 8), wasm_i16x8_shr(wasm_i16x8_sub(b1, l1), 8));
    wasm_v128_store(bb + 32 * i, wasm_i8x16_shuffle(l, l, 0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15));
    wasm_v128_store(bb + 32 * i + 16, wasm_i8x16_shuffle(h, h, 0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15));
  }
}

// The mins as bytes (row j's four of vector q in i32 lane j). Decode takes
// them, the mins term, d and dmin and msum's step at the start of each
// super-block (q2_Kx4_groups), which loads each group's first lines early
// and keeps only d * ad across the unit loop.
static inline void q2_Kx4_mins_of(const block_q2_Kx4* g, v128_t mp[4]) {
  for (int q = 0; q < 4; q++) mp[q] = wasm_v128_and(LOAD(g->sc + 16 * q), wasm_i8x16_const_splat(0x0F));
}

// Four rows' mins term: the mins against the l and the h bytes, two DOTADD
// chains of four (|sum| <= 16 * 15 * 128), the h sum times 256 added.
// Fourteen ops with the masks where the byte-dot build's (the mins' four
// nibble masks, eight i32 dots, their adds and the shift) take twenty.
static inline v128_t q2_Kx4_mins(const v128_t* mp, const q2_bb_t* bb) {
  const v128_t z = wasm_i32x4_const_splat(0);
  v128_t l = DOTADD(SPLAT4(bb), mp[0], z), h = DOTADD(SPLAT4(bb + 16), mp[0], z);
  for (int q = 1; q < 4; q++) l = DOTADD(SPLAT4(bb + 4 * q), mp[q], l), h = DOTADD(SPLAT4(bb + 16 + 4 * q), mp[q], h);
  return wasm_i32x4_add(l, wasm_i32x4_shl(h, 8));
}
#else
typedef int16_t q2_bb_t;
#define BB_PER_SB 64
// Decode: the rows' scales (sp[u], unit u's two sub-blocks in lanes 2j, 2j+1)
// and mins (mp[u], the same sub-blocks, against bsums pair u) as i16: one op
// per nibble of the u16 lanes (see block_q2_Kx4), the mins left in place:
// times 16 (even units) and 256 (odd), which bsum_pairs_q8_K's even pairs
// times 16 make 256 for all (q2_Kx4_mins). Sixteen ops per super-block; the
// layout before this one (bytes, two extends per vector) took 28, nibbles
// shifted down 24.
static inline void q2_Kx4_pairs_of(const block_q2_Kx4* g, v128_t sp[8], v128_t mp[8]) {
  for (int q = 0; q < 4; q++) {
    const v128_t v = LOAD(g->sc + 16 * q);
    sp[2 * q] = wasm_v128_and(v, wasm_i16x8_const_splat(0x000F)), mp[2 * q] = wasm_v128_and(v, wasm_i16x8_const_splat(0x00F0));
    mp[2 * q + 1] = wasm_v128_and(v, wasm_i16x8_const_splat(0x0F00)), sp[2 * q + 1] = wasm_u16x8_shr(v, 12);
  }
}

// Decode: a token's bsums as the pairs q2_K_mins multiplies (bb[8p .. 8p + 7]:
// pair p in every i32 lane; even pairs times 16, exact in i16: |bsum| <=
// 16 * 128), once per token, so that the mins of every group are eight i32
// dots against loads (not eight shuffles more per group).
static inline void bsum_pairs_q8_K(const block_q8_K* y, q2_bb_t* bb, int nb) {
  for (int i = 0; i < nb; i++)
    for (int p = 0; p < 8; p++) {
      const v128_t b = SPLAT4(y[i].bsums + 2 * p);
      wasm_v128_store(bb + 64 * i + 8 * p, p % 2 ? b : wasm_i16x8_shl(b, 4));
    }
}

// Four rows' mins term (q2_K_mins' sums, in another order: i32 adds are
// exact in any), from q2_Kx4_pairs_of's mins and bsum_pairs_q8_K's pairs:
// every product 256 times min * bsum (|sum| <= 256 * 16 * 15 * 2048 < 2^31),
// divided once, exactly.
static inline v128_t q2_Kx4_mins(const v128_t* mp, const int16_t* bb) {
  v128_t m[8];
  for (int p = 0; p < 8; p++) m[p] = wasm_i32x4_dot_i16x8(mp[p], LOAD(bb + 8 * p));
  return wasm_i32x4_shr(wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_add(m[0], m[1]), wasm_i32x4_add(m[2], m[3])),
                                       wasm_i32x4_add(wasm_i32x4_add(m[4], m[5]), wasm_i32x4_add(m[6], m[7]))), 8);
}

#endif

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

// Decode of repacked rows, gn groups at a time: n iterations, the first
// group of iteration it at row r + step * it, its gn groups `stride` rows
// apart. Each unit's eight broadcasts (of the reordered activation ap)
// serve every group, each group is a stream of its own for the prefetcher,
// and the steps end with PIN (relaxed.h). The integer sums are exact and the
// float steps per row are q2_K_step's, so every gn and stride give the same
// bits. bb: the token's bsum pairs (bsum_pairs_q8_K).
#ifdef RELAXED_DOT_ADD
#define GN_MAX 8  // groups at a time (q2_Kx4_rows)
#else
#define GN_MAX 4
#endif
static inline __attribute__((always_inline)) void q2_Kx4_groups(const uint8_t* w, int row_bytes, const block_q8_K* y,
                                                                const int8_t* ap, const q2_bb_t* bb, float* out, int nb,
                                                                int r, int n, int step, int stride, int r0, int r1,
                                                                int first, const int gn) {
  v128_t pins[GN_MAX];
  for (int it = 0; it < n; it++, r += step) {
    const block_q2_Kx4* g[GN_MAX];
    v128_t sum[GN_MAX], msum[GN_MAX];
    UNROLL for (int k = 0; k < gn; k++) {
      g[k] = (const block_q2_Kx4*)(w + (size_t)(r + stride * k) * row_bytes);
      sum[k] = msum[k] = wasm_f32x4_const_splat(0.0f);
    }
    const int8_t* a = ap;
    for (int i = 0; i < nb; i++) {
#ifdef RELAXED_DOT_ADD
      v128_t dd[GN_MAX], isum[GN_MAX];
      const uint8_t* q[GN_MAX];
      const v128_t ad = wasm_v128_load32_splat(&y[i].d);
      UNROLL for (int k = 0; k < gn; k++) {
        v128_t mp[4], d, dmin;
        q2_Kx4_mins_of(g[k], mp);
        q2_Kx4_d_dmin(g[k]->d, &d, &dmin);
        const v128_t mn = q2_Kx4_mins(mp, bb + BB_PER_SB * i);
        msum[k] = wasm_f32x4_add(msum[k], wasm_f32x4_mul(wasm_f32x4_mul(dmin, ad), wasm_f32x4_convert_i32x4(mn)));
        dd[k] = wasm_f32x4_mul(d, ad);
        isum[k] = wasm_i32x4_const_splat(0);
        q[k] = &g[k]->qs[0][0][0];
      }
      // units 2c and 2c + 1, their scales from one load per group (not stored and reloaded)
      NOUNROLL for (unsigned c = 0; c < 4; c++, a += 64) {
        const v128_t s0[4] = {wasm_v128_load64_splat(a), wasm_v128_load64_splat(a + 8), wasm_v128_load64_splat(a + 16),
                              wasm_v128_load64_splat(a + 24)};
        UNROLL for (int k = 0; k < gn; k++) {
          const v128_t p = q2_Kx4_unit(q[k], s0);
          PIN(p, pins[k]);
          isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(p, q2_Kx4_sc_even(LOAD(g[k]->sc + 16 * c))));
        }
        const v128_t s1[4] = {wasm_v128_load64_splat(a + 32), wasm_v128_load64_splat(a + 40), wasm_v128_load64_splat(a + 48),
                              wasm_v128_load64_splat(a + 56)};
        UNROLL for (int k = 0; k < gn; k++) {
          const v128_t p = q2_Kx4_unit(q[k] + 32, s1);
          PIN(p, pins[k]);
          isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(p, q2_Kx4_sc_odd(LOAD(g[k]->sc + 16 * c))));
          q[k] += 64;
        }
      }
#else
      v128_t sp[GN_MAX][8], mp[GN_MAX][8], isum[GN_MAX];
      const uint8_t* q[GN_MAX];
      UNROLL for (int k = 0; k < gn; k++) {
        q2_Kx4_pairs_of(g[k], sp[k], mp[k]);
        isum[k] = wasm_i32x4_const_splat(0);
        q[k] = &g[k]->qs[0][0][0];
      }
      NOUNROLL for (unsigned u = 0; u < 8; u++, a += 32) {
        const v128_t s[8] = {SPLAT4(a), SPLAT4(a + 4), SPLAT4(a + 8), SPLAT4(a + 12),
                             SPLAT4(a + 16), SPLAT4(a + 20), SPLAT4(a + 24), SPLAT4(a + 28)};
        UNROLL for (int k = 0; k < gn; k++) {
          const v128_t p = q2_Kx4_unit(q[k], s);
          PIN(p, pins[k]);
          isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(p, sp[k][u]));
          q[k] += 32;
        }
      }
#endif
#ifdef RELAXED_DOT_ADD
      UNROLL for (int k = 0; k < gn; k++) {
        // rows 2, 3 summed four times over (q2_Kx4_unit): f32(4x) / 4 is f32(x), exactly
        const v128_t fsum = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum[k]), wasm_f32x4_const(1.0f, 1.0f, 0.25f, 0.25f));
        sum[k] = wasm_f32x4_add(sum[k], wasm_f32x4_mul(dd[k], fsum));
        g[k]++;
      }
#else
      const v128_t ad = wasm_v128_load32_splat(&y[i].d);
      UNROLL for (int k = 0; k < gn; k++) {
        v128_t d, dmin;
        q2_Kx4_d_dmin(g[k]->d, &d, &dmin);
        const v128_t mn = q2_Kx4_mins(mp[k], bb + BB_PER_SB * i);
        sum[k] = wasm_f32x4_add(sum[k], wasm_f32x4_mul(wasm_f32x4_mul(d, ad), wasm_f32x4_convert_i32x4(isum[k])));
        msum[k] = wasm_f32x4_add(msum[k], wasm_f32x4_mul(wasm_f32x4_mul(dmin, ad), wasm_f32x4_convert_i32x4(mn)));
        g[k]++;
      }
#endif
    }
    UNROLL for (int k = 0; k < gn; k++) store4(wasm_f32x4_sub(sum[k], msum[k]), out, r + stride * k, r0, r1, first);
  }
}

// Decode of the thread's q2_Kx4 groups (from r0 & ~3; store4 keeps only
// the thread's rows): four at a time, each reading its own quarter of the
// thread's rows, then two side by side, then one.
//
// Measured (32768x4096 from memory, one thread, CPU time, medians of
// alternating rounds on a shared machine, load average 2.2-3.5), against
// two groups side by side (what this replaced): four side by side 1.05x,
// four spread 1.4x (5.9 -> 8.3 GB/s), eight spread no better than four
// (again with the leaner unit: 1.0x from memory, 0.94x in cache). In cache
// (1024 and 4096 rows, alternating with the old build only) 1.01-1.03x
// (q2_K's decode is bound by its ops there).
//
// Issue 19, session 9 (Q2_K at Q4_0's speed per byte; CPU time, alternating
// builds, the shared machine at load 2-6): the decode is at the floor of its
// vector ops. Per unit and group V8 runs exactly the 28 of q2_Kx4_unit (8
// byte dots, 8 masks, 2 shifts, 7 i16 adds, the x4 sum's shift, one i32 dot
// and add) and per super-block and group some 47 (scales and mins 16, the
// mins' eight i32 dots and their sum 16, d and dmin 7, the float steps 8):
// 34 per 42 bytes against q4_0x4's 28 per 72. A Q2_K weight costs what a
// Q4_0 weight costs and has 0.58 of its bytes, so where the ops bind (in
// cache: q2_Kx4 12.5 GB/s against q4_0x4's 16.5, 0.76x; from memory 9.9
// against 11.3-12.3, 0.81-0.88x at one thread) per-byte parity is out of
// reach without fewer ops per weight: taking the eight masks away (wrong
// sums, as a bound) gave 1.2x in cache, 1.08x from memory. None of these
// cut one: no mask is removable (each of the 8 operands is one field; a
// field at bits 6-7 is no valid 7-bit operand), the x4 sum's shift and add
// cost what two i32 dots would, and the mins need their 64 products (8 i32
// dots; byte dots need the bsums split in two). Tried and dropped here:
// both pointers of the unit loop hidden from clang (OPAQUE): the address
// adds go, GPR reloads come, 1.0x; each group running its super-block alone
// (groups outside the unit loop, the broadcasts reloaded per group): V8
// unrolls that loop by 3 and still spills, 53 instructions per unit and
// group against 50, 0.92x in cache, 0.87x from memory; two, three, six and
// eight spread groups instead of four: 0.97-0.98x (2, 3) and 0.95-1.0x
// (6, 8) in cache, 0.84-0.86x (2, 3), 0.96x (6) and 1.0-1.02x (8) from memory.
//
// Session 10, the dot-add build (the unit's DOTADD chains, see the top of the
// file; Node 24, CPU time, builds alternating in one process, load 1.1-2.4):
// against session 9's decode run by that build, each step in turn: the unit
// 1.08x from memory, 1.17x in cache; the mins as DOTADD bytes 1.01x, 1.02x;
// eight spread groups 1.02-1.04x, 0.99x; units 2c, 2c + 1 per loop step with
// their scales loaded there 1.02-1.03x, 1.03x; the mins term, d, dmin and
// msum's step at the super-block's start (before: the mins masked there,
// the rest after the unit loop) 1.02-1.05x, 1.035x. Where it stands: in V8's code
// the unit is its 21 vector ops (8 vpdpbusd, 8 masks, 2 shifts, packssdw,
// pmaddwd, add) plus a zero load per chain, the isum's spill and reload, a
// PIN store and the address adds; per super-block and group some 45 more (the
// scales in the loop 12, mins 14, d and dmin 8, float steps 9). As a bound,
// the d, dmin and mins steps taken away (wrong sums) gave 1.12x in cache,
// 1.03x from memory. Tried and dropped: no PIN (1.0x), or the PIN on isum
// after its add instead of on the unit's sums (V8 defers the even unit's
// dot past the odd unit's loads, spilling its sums and scales: 1.0x); the mins masked after
// the unit loop, where they are used (1.03-1.07x in cache, 0.95-0.99x from
// memory: loads at the super-block's start touch each group's first lines
// early); a volatile byte load two super-blocks ahead per group, as a
// prefetch (0.75x from memory, 0.92x in cache: the missing loads hold up
// retirement); eight spread groups in the byte-dot build too (1.0x from
// memory, 0.98x in cache); F16_UNSCALE folded into the activation's d (two
// mul fewer per super-block and group; exact only while ad * 2^112 stays
// finite, so behind a branch on |ad| < 2^16): 1.0-1.015x here, 0.99x in the
// byte-dot build, within the noise; in the byte-dot build, the scales
// loaded in the unit loop as here (0.98x from memory, 1.0x in cache) and
// the mins term, d, dmin and msum's step at the super-block's start as here
// (0.98-0.99x from memory and in cache, Node 20). Not
// tried: 0.25 folded into rows 2 and 3's d (one mul; exact unless d * ad / 4
// is subnormal).
static void q2_Kx4_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, const int8_t* ap, const q2_bb_t* bb, float* out,
                        int nb, int r0, int r1, int first) {
  int r = r0 & ~3;
#ifdef RELAXED_DOT_ADD
  // The dot-add build: eight spread groups first (each reading its own eighth), as q4_0x4's decode.
  // Against four spread (Node 24, CPU time, alternating variants, shared machine at load 1.5-1.8):
  // from memory 1.02-1.04x at one thread, 1.04x at two; in cache (4096 rows) 0.99x. The byte-dot
  // build keeps four: there eight gave 1.0x from memory and 0.98x in cache (again this session).
  const int part8 = (r1 - r + 3) / 4 / 8;
  q2_Kx4_groups(w, row_bytes, y, ap, bb, out, nb, r, part8, 4, 4 * part8, r0, r1, first, 8);
  r += 32 * part8;
#endif
  const int part = (r1 - r + 3) / 4 / 4;  // groups per quarter
  q2_Kx4_groups(w, row_bytes, y, ap, bb, out, nb, r, part, 4, 4 * part, r0, r1, first, 4);
  r += 16 * part;
  const int pairs = (r1 - r + 3) / 4 / 2;
  q2_Kx4_groups(w, row_bytes, y, ap, bb, out, nb, r, pairs, 8, 4, r0, r1, first, 2);
  r += 8 * pairs;
  q2_Kx4_groups(w, row_bytes, y, ap, bb, out, nb, r, (r1 - r + 3) / 4, 4, 4, r0, r1, first, 1);
}

// Sixteen elements 128n + 32s + l0 .. + 15 (s = 0..3) of one plain row.
static inline void q2_K_decode(const block_q2_K* x, int n, int l0, v128_t q[4]) {
  const v128_t m3 = wasm_i8x16_const_splat(3);
  const v128_t v = LOAD(x->qs + 32 * n + l0);
  q[0] = wasm_v128_and(v, m3), q[1] = wasm_v128_and(wasm_u16x8_shr(v, 2), m3);
  q[2] = wasm_v128_and(wasm_u16x8_shr(v, 4), m3), q[3] = wasm_v128_and(wasm_u16x8_shr(v, 6), m3);
}

// Decode of plain rows: one row at a time; the super-block's integer sum
// (lane 0) and mins term (lane 1) are reduced before the group kernels'
// float steps, taken per lane with (d, dmin).
static void q2_K_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r0, int r1, int first) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  for (int r = r0; r < r1; r++) {
    const block_q2_K* x = (const block_q2_K*)(w + (size_t)r * row_bytes);
    v128_t sm2 = wasm_f32x4_const_splat(0.0f);  // lane 0: sum, lane 1: msum
    for (int i = 0; i < nb; i++, x++) {
      const v128_t sb = LOAD(x->scales), scv = wasm_v128_and(sb, m4), mnv = wasm_v128_and(wasm_u16x8_shr(sb, 4), m4);
      int16_t sc[16];  // as int16 in memory: each scale is then one broadcast load
      wasm_v128_store(sc, wasm_u16x8_extend_low_u8x16(scv));
      wasm_v128_store(sc + 8, wasm_u16x8_extend_high_u8x16(scv));
      v128_t acc = wasm_i32x4_const_splat(0);
      NOUNROLL for (int j = 0; j < 4; j++) {
        const int n = j >> 1, l0 = 16 * (j & 1);
        v128_t q[4];
        q2_K_decode(x, n, l0, q);
        const int8_t* a = y[i].qs + 128 * n + l0;
        const int16_t* s = sc + 8 * n + (j & 1);
        acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(a), q[0]), wasm_v128_load16_splat(s)),
                                                 wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 32), q[1]), wasm_v128_load16_splat(s + 2))));
        acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 64), q[2]), wasm_v128_load16_splat(s + 4)),
                                                 wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 96), q[3]), wasm_v128_load16_splat(s + 6))));
      }
      const v128_t mn = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_u16x8_extend_low_u8x16(mnv), LOAD(y[i].bsums)),
                                       wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(mnv), LOAD(y[i].bsums + 8)));
      const v128_t u = wasm_i32x4_add(wasm_i32x4_shuffle(acc, mn, 0, 1, 4, 5), wasm_i32x4_shuffle(acc, mn, 2, 3, 6, 7));
      const v128_t v = wasm_i32x4_add(wasm_i32x4_shuffle(u, u, 0, 2, 0, 2), wasm_i32x4_shuffle(u, u, 1, 3, 1, 3));
      // d and dmin (adjacent f16s) as f32 lanes 0 and 1
      const v128_t dd = f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load32_zero(&x->d)));
      sm2 = wasm_f32x4_add(sm2, wasm_f32x4_mul(wasm_f32x4_mul(dd, wasm_f32x4_splat(y[i].d)), wasm_f32x4_convert_i32x4(v)));
    }
    const float val = wasm_f32x4_extract_lane(sm2, 0) - wasm_f32x4_extract_lane(sm2, 1);
    out[r] = first ? val : out[r] + val;
  }
}

typedef struct { v128_t isum, sum, msum; } q2_K_acc;

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

// The batch loop (kquant-loop.h's kq_mul_mat written out, as there says
// why): tokens in passes of MM_TOK, columns in chunks of ACT_CHUNK; one token
// goes to the decode paths, more to four-row groups (plain: from r0, the
// last group repeating row r1 - 1; x4: the layout's groups), lanes outside
// [r0, r1) dropped.
static inline void q2_K_mul_mat(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                int n, int n_tok, int r0, int r1, int x4) {
  const block_q8_K* y[MM_TOK];
  q2_K_acc acc[MM_TOK];
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
      const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / QK_K;
      for (int t = 0; t < nt; t++) y[t] = (const block_q8_K*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / QK_K;
      const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / QK_K) * (x4 ? sizeof(block_q2_Kx4) : sizeof(block_q2_K));
      float* o = out + (size_t)t0 * out_stride;
      if (nt == 1) {
        if (x4) {
          int8_t ap[(ACT_CHUNK / QK_K) * QK_K] __attribute__((aligned(16)));
          q2_bb_t bb[(ACT_CHUNK / QK_K) * BB_PER_SB] __attribute__((aligned(16)));
#ifdef RELAXED_DOT_ADD
          act_quads_q8_K(y[0]->qs, sizeof(block_q8_K), ap, nb);
#else
          act_pairs_q8_K(y[0]->qs, sizeof(block_q8_K), ap, nb);
#endif
          bsum_pairs_q8_K(y[0], bb, nb);
          q2_Kx4_rows(wc, row_bytes, y[0], ap, bb, o, nb, r0, r1, c0 == 0);
        } else {
          q2_K_rows(wc, row_bytes, y[0], o, nb, r0, r1, c0 == 0);
        }
        continue;
      }
      for (int r = x4 ? r0 & ~3 : r0; r < r1; r += 4) {
        for (int t = 0; t < nt; t++) acc[t].sum = acc[t].msum = wasm_f32x4_const_splat(0.0f);
        q2_K_scales4 s;
        v128_t q[64];
        if (x4) {
          const block_q2_Kx4* g = (const block_q2_Kx4*)(wc + (size_t)r * row_bytes);
          for (int i = 0; i < nb; i++) {
            q2_Kx4_scales(g + i, &s);
            for (int u = 0; u < 8; u++) {
#ifdef RELAXED_DOT_ADD
              q2_Kx4_unit_plain(g[i].qs[u][0], q + 8 * u);
#else
              v128_t m[8];  // mixed: sub-blocks 2u, 2u + 1 in i16 lanes 2j, 2j + 1 -> q[4k + g]
              q2_Kx4_w(g[i].qs[u][0], m);
              q2_Kx4_w(g[i].qs[u][1], m + 4);
              for (int e = 0; e < 4; e++) unmix_pairs(m[2 * e], m[2 * e + 1], q + 8 * u + e, q + 8 * u + 4 + e);
#endif
            }
            q2_K_superblock(&s, q, i, y, acc, nt);
          }
        } else {
          const block_q2_K* x[4];
          for (int j = 0; j < 4; j++) x[j] = (const block_q2_K*)(wc + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes);
          for (int i = 0; i < nb; i++) {
            q2_K_scales(x, i, &s);
            v128_t rv[4][16];  // row j's elements 16v .. 16v + 15
            for (int j = 0; j < 4; j++)
              for (int h = 0; h < 4; h++) {
                v128_t d4[4];
                q2_K_decode(x[j] + i, h >> 1, 16 * (h & 1), d4);
                for (int e = 0; e < 4; e++) rv[j][8 * (h >> 1) + 2 * e + (h & 1)] = d4[e];
              }
            for (int v = 0; v < 16; v++) transpose4(rv[0][v], rv[1][v], rv[2][v], rv[3][v], q + 4 * v);
            q2_K_superblock(&s, q, i, y, acc, nt);
          }
        }
        for (int t = 0; t < nt; t++) store4(wasm_f32x4_sub(acc[t].sum, acc[t].msum), o + (size_t)t * out_stride, r, r0, r1, c0 == 0);
      }
    }
  }
}

RELAXED_ENTRIES(q2_K, q2_K_mul_mat, 0)
RELAXED_ENTRIES(q2_Kx4, q2_K_mul_mat, 1)

RELAXED_VEC_DOT(q2_K, q8_K, q2_K_mul_mat)

// Rewrites n_rows (a multiple of 4) plain q2_K rows as q2_Kx4 groups, in
// place: group G takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_q2_Kx4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_q2_K);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    block_q2_Kx4* g = (block_q2_Kx4*)base;
    for (int i = 0; i < nb; i++) {
      for (int j = 0; j < 4; j++) {
        const block_q2_K* x = (const block_q2_K*)((const uint8_t*)scratch + (size_t)j * row_bytes) + i;
        g[i].d[j] = x->d;
        g[i].dmin[j] = x->dmin;
#ifdef RELAXED_DOT_ADD
        for (int k = 0; k < 16; k++) {  // min | scale << 4, sub-blocks 4q, 4q + 2, 4q + 1, 4q + 3 (q2_Kx4_pairs_of)
          const int b = x->scales[k];
          g[i].sc[16 * (k >> 2) + 4 * j + 2 * (k & 1) + ((k >> 1) & 1)] = (uint8_t)((b >> 4) | (b << 4));
        }
#else
        for (int k = 0; k < 16; k++) {  // odd units (sub-blocks 4q + 2 + e) with their nibbles swapped
          const int h = (k >> 1) & 1, b = x->scales[k];
          g[i].sc[16 * (k >> 2) + 4 * j + 2 * (k & 1) + h] = (uint8_t)(h ? (b >> 4) | (b << 4) : b);
        }
#endif
#ifndef RELAXED_DOT_ADD
        for (int u = 0; u < 8; u++)
          for (int l = 0; l < 4; l++)
            for (int h = 0; h < 2; h++) {
              int b = 0;  // vectors 4h .. 4h + 3 at bits 2 (m % 4); byte 4j + l: element 32u + 16 (l / 2) + 2m + l % 2
              for (int m = 4 * h; m < 4 * h + 4; m++) {
                const int e = 32 * u + 16 * (l >> 1) + 2 * m + (l & 1), n = e >> 7, s = (e >> 5) & 3, p = e & 31;
                b |= ((x->qs[32 * n + p] >> (2 * s)) & 3) << (2 * (m & 3));
              }
              g[i].qs[u][h][4 * j + l] = (uint8_t)b;
            }
#endif
      }
#ifdef RELAXED_DOT_ADD
      // byte 4L + c of packed vector h of unit u, field f: row L / 2 + 2 (f % 2), sub-block 2u + L % 2,
      // element 4 (2h + f / 2) + c (see q2_Kx4_unit)
      for (int u = 0; u < 8; u++)
        for (int h = 0; h < 2; h++)
          for (int L = 0; L < 4; L++)
            for (int c = 0; c < 4; c++) {
              int b = 0;
              for (int f = 0; f < 4; f++) {
                const block_q2_K* x = (const block_q2_K*)((const uint8_t*)scratch + (size_t)(L / 2 + 2 * (f % 2)) * row_bytes) + i;
                const int e = 16 * (2 * u + L % 2) + 4 * (2 * h + f / 2) + c, n = e >> 7, s = (e >> 5) & 3, p = e & 31;
                b |= ((x->qs[32 * n + p] >> (2 * s)) & 3) << (2 * f);
              }
              g[i].qs[u][h][4 * L + c] = (uint8_t)b;
            }
#endif
    }
  }
}
