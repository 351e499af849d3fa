// Q6_K prefill (more than one token): four plain or q6_Kp rows, or one
// q6_Kx4 group, at a time (two groups: q6_K-prefill-pair.h). Included by
// q6_K-relaxed.c only.
#pragma once
#include "q6_K-relaxed.h"
// Prefill: four rows at a time, one row per lane, as q4_K's group kernel.
// A sub-block is sixteen elements with one int8 scale; two byte dots fill
// int16 (|lane| <= 2 * 2 * 128 * 63 < 2^15) before i32x4.dot_i16x8 applies
// the rows' scales ([s0 s0 s1 s1 s2 s2 s3 s3]).
typedef struct {
#ifdef RELAXED_DOT_ADD
  v128_t sc[16];  // sub-block k: i32 lane j = row j's scale
#else
  v128_t sc[16];  // sub-block k: i16 lanes 2j, 2j+1 = row j's scale
#endif
  v128_t sp[8];   // sub-blocks 2p, 2p+1: i16 lanes 2j, 2j+1 = row j's two scales
  v128_t d;       // f32 per row
} q6_K_scales4;

// i16 lanes from bytes of w, each sign-extended: lane 2j <- byte a + j, lane 2j+1 <- byte b + j.
#define Q6_LANES(w, a, b) wasm_i16x8_shr(wasm_i8x16_shuffle(w, w, a, a, b, b, a + 1, a + 1, b + 1, b + 1, \
                                                           a + 2, a + 2, b + 2, b + 2, a + 3, a + 3, b + 3, b + 3), 8)

#ifdef RELAXED_DOT_ADD
// i32 lanes from bytes of w, sign-extended: lane j <- byte a + j (in the lane's top byte, shifted down)
#define Q6_LANES32(w, a) wasm_i32x4_shr(wasm_i8x16_shuffle(w, w, a, a, a, a, a + 1, a + 1, a + 1, a + 1, \
                                                           a + 2, a + 2, a + 2, a + 2, a + 3, a + 3, a + 3, a + 3), 24)
#endif

// From w[g], byte 4k + j = row j's scale 4g + k (q6_K_scales interleaves four plain rows' so).
static inline void q6_K_scales_w(const v128_t w[4], q6_K_scales4* s) {
  UNROLL for (int g = 0; g < 4; g++) {
#ifdef RELAXED_DOT_ADD
    s->sc[4 * g] = Q6_LANES32(w[g], 0), s->sc[4 * g + 1] = Q6_LANES32(w[g], 4);
    s->sc[4 * g + 2] = Q6_LANES32(w[g], 8), s->sc[4 * g + 3] = Q6_LANES32(w[g], 12);
#else
    s->sc[4 * g] = Q6_LANES(w[g], 0, 0), s->sc[4 * g + 1] = Q6_LANES(w[g], 4, 4);
    s->sc[4 * g + 2] = Q6_LANES(w[g], 8, 8), s->sc[4 * g + 3] = Q6_LANES(w[g], 12, 12);
#endif
    s->sp[2 * g] = Q6_LANES(w[g], 0, 4), s->sp[2 * g + 1] = Q6_LANES(w[g], 8, 12);
  }
}

// The same from four plain rows: their scales interleaved by shuffles.
static inline void q6_K_scales(const block_q6_K* const x[4], int i, q6_K_scales4* s) {
  const v128_t s0 = LOAD(x[0][i].scales), s1 = LOAD(x[1][i].scales), s2 = LOAD(x[2][i].scales), s3 = LOAD(x[3][i].scales);
  v128_t w[4];
  interleave_rows4_bytes(s0, s1, s2, s3, w);
  q6_K_scales_w(w, s);
  s->d = f16x4_to_f32x4(ROWS4_F16(x, i, d));
}

#ifndef RELAXED_DOT_ADD
// Four rows' -32 offset for one token: sum over sub-blocks of scale * bsum,
// row j in lane j (bsums pairs 2p, 2p+1 are i32 lane p % 4 of b0 (p < 4) or b1).
static inline v128_t q6_K_offset(const v128_t* sp, const block_q8_K* yb) {
  const v128_t b0 = LOAD(yb->bsums), b1 = LOAD(yb->bsums + 8);
  const v128_t off = wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(sp[0], wasm_i32x4_shuffle(b0, b0, 0, 0, 0, 0)),
                     wasm_i32x4_dot_i16x8(sp[1], wasm_i32x4_shuffle(b0, b0, 1, 1, 1, 1))),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(sp[2], wasm_i32x4_shuffle(b0, b0, 2, 2, 2, 2)),
                     wasm_i32x4_dot_i16x8(sp[3], wasm_i32x4_shuffle(b0, b0, 3, 3, 3, 3))));
  return wasm_i32x4_add(off, wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(sp[4], wasm_i32x4_shuffle(b1, b1, 0, 0, 0, 0)),
                     wasm_i32x4_dot_i16x8(sp[5], wasm_i32x4_shuffle(b1, b1, 1, 1, 1, 1))),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(sp[6], wasm_i32x4_shuffle(b1, b1, 2, 2, 2, 2)),
                     wasm_i32x4_dot_i16x8(sp[7], wasm_i32x4_shuffle(b1, b1, 3, 3, 3, 3)))));
}
#endif

typedef kq_acc q6_K_acc;

// A super-block's float step per (row, token), after its exact int32 sums.
static inline void q6_K_finish(const q6_K_scales4* s, int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
  for (int t = 0; t < nt; t++) {
#ifdef RELAXED_DOT_ADD
    const v128_t isum = acc[t].isum;  // the -32 offset already in (q8_K_neg_bsums)
#else
    const v128_t isum = wasm_i32x4_sub(acc[t].isum, wasm_i32x4_shl(q6_K_offset(s->sp, &y[t][i]), 5));
#endif
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s->d, wasm_f32x4_splat(y[t][i].d)), wasm_f32x4_convert_i32x4(isum)));
  }
}

#ifdef RELAXED_DOT_ADD
// The dot-add build's prefill sums for a lone last group and plain rows:
// sub-block k's four weight vectors decoded once per super-block at wq[4k]
// (0..63, transpose4's order), then four tokens at a time over all sixteen
// sub-blocks, each weight vector loaded once for the four, each sub-block's
// exact sum per row from four dot-adds (|lane| <= 16 * 128 * 63) times the
// rows' i32 scales, the four sums PINned every second step (relaxed.h: so
// V8 keeps the next steps' broadcasts behind them; every step or every
// fourth was slower, none much slower). Measured (bench:kernels --prefill
// --dot, Node 24, CPU time) against the relaxed build's loops then: q6_Kx4
// 1.10-1.15x, plain q6_K 1.21-1.23x, the per-token chain in the i16 path's
// loop order 1.07x. Q4_K's lone group and plain rows now take its register
// tile with one group (q4_K_isums_tile); here that tile with one group ran
// 0.94-0.95x this loop on plain q6_K rows (64 tokens; 4 tokens 0.88x): per
// four dot-adds it takes four broadcasts, an offset load and an i32x4.mul,
// so this loop stays.
static inline void q6_K_isums(const q6_K_scales4* s, const v128_t* wq, int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
  kq_isums4_dotadd(s->sc, wq, i, y, acc, nt, 32, 0);
}
#endif

#ifndef RELAXED_DOT_ADD
// The relaxed build's prefill sums in the same structure: weights decoded
// once per super-block into wq, four tokens at a time over its sixteen
// sub-blocks. A sub-block's four byte dots cannot share one int16 sum
// (|lane| <= 4 * 2 * 128 * 63 > 2^15), so two pairs, each applied to the
// rows' scales by an i32x4.dot_i16x8, as before.
// Measured as q4_K_isums16 (q4_K-prefill.h), q6_Kx4 against the build
// before: PIN of the four int32 sums after each pair 1.09-1.13x (after each
// sub-block 0.96-1.01x, none 1.00x); with the activation pointers opaque
// 1.21-1.24x (none 1.14x). Two groups at a time in this loop's shape (the
// dot-add build's q6_Kx4_superblock_pair) 0.91-1.00x here (2-4 tokens); the
// relaxed build's own q6_Kx4_superblock_pair (weights in registers) now
// takes pairs of groups, this loop a lone last group. Plain q6_K rows keep
// the older loop (sub-blocks outer, tokens inner).
static inline void q6_K_isums16(const q6_K_scales4* s, const v128_t* wq, int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
  v128_t pin[4];
  int t = 0;
  for (; t + 4 <= nt; t += 4) {
    const int8_t* a0 = y[t][i].qs;
    const int8_t* a1 = y[t + 1][i].qs;
    const int8_t* a2 = y[t + 2][i].qs;
    const int8_t* a3 = y[t + 3][i].qs;
    const v128_t* w = wq;
    const v128_t* sc = s->sc;
    v128_t i0 = zero, i1 = zero, i2 = zero, i3 = zero;
    NOUNROLL for (int sb = 0; sb < 16; sb++, a0 += 16, a1 += 16, a2 += 16, a3 += 16, w += 4, sc++) {
      // opaque to clang: it would rewrite a0 + 4 as base + sb * 16 + 4 (an i32.add,
      // a lea per broadcast in V8's code) instead of a load offset
      OPAQUE4(a0, a1, a2, a3);
      const v128_t scv = *sc;
      UNROLL for (unsigned k = 0; k < 4; k += 2) {
        const v128_t wk = w[k], wl = w[k + 1];
        const v128_t p0 = wasm_i16x8_add(RDOT(SPLAT4(a0 + 4 * k), wk), RDOT(SPLAT4(a0 + 4 * k + 4), wl));
        const v128_t p1 = wasm_i16x8_add(RDOT(SPLAT4(a1 + 4 * k), wk), RDOT(SPLAT4(a1 + 4 * k + 4), wl));
        const v128_t p2 = wasm_i16x8_add(RDOT(SPLAT4(a2 + 4 * k), wk), RDOT(SPLAT4(a2 + 4 * k + 4), wl));
        const v128_t p3 = wasm_i16x8_add(RDOT(SPLAT4(a3 + 4 * k), wk), RDOT(SPLAT4(a3 + 4 * k + 4), wl));
        i0 = wasm_i32x4_add(i0, wasm_i32x4_dot_i16x8(p0, scv));
        i1 = wasm_i32x4_add(i1, wasm_i32x4_dot_i16x8(p1, scv));
        i2 = wasm_i32x4_add(i2, wasm_i32x4_dot_i16x8(p2, scv));
        i3 = wasm_i32x4_add(i3, wasm_i32x4_dot_i16x8(p3, scv));
        PIN(i0, pin[0]);  // every pair of byte dots
        PIN(i1, pin[1]);
        PIN(i2, pin[2]);
        PIN(i3, pin[3]);
      }
    }
    acc[t].isum = i0, acc[t + 1].isum = i1, acc[t + 2].isum = i2, acc[t + 3].isum = i3;
  }
  for (; t < nt; t++) {
    const int8_t* a = y[t][i].qs;
    v128_t isum = zero;
    NOUNROLL for (int sb = 0; sb < 16; sb++, a += 16) {
      const v128_t* w = wq + 4 * sb;
      const v128_t p0 = wasm_i16x8_add(RDOT(SPLAT4(a), w[0]), RDOT(SPLAT4(a + 4), w[1]));
      const v128_t p1 = wasm_i16x8_add(RDOT(SPLAT4(a + 8), w[2]), RDOT(SPLAT4(a + 12), w[3]));
      isum = wasm_i32x4_add(isum, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, s->sc[sb]), wasm_i32x4_dot_i16x8(p1, s->sc[sb])));
    }
    acc[t].isum = isum;
  }
}
#endif

// Prefill over q6_Kx4 groups: each unit's mixed vectors unmixed (relaxed.h
// unmix_pairs) into the plain order, so the tokens' activations are read as
// stored; the scales' pair vectors serve the -32 offset as they are.
// A q6_Kx4 group's super-block: its scales in the shapes the dots take and
// its quants unmixed into wq (sub-block k's four vectors at wq[4k]).
static inline void q6_Kx4_unpack(const block_q6_Kx4* b, q6_K_scales4* s, v128_t* wq) {
  UNROLL for (int u = 0; u < 8; u++) {
    const v128_t e = wasm_i16x8_load8x8(b->u[u].sc);
    s->sp[u] = e;
#ifdef RELAXED_DOT_ADD
    // i32 lane j: row j's scale of 2u (e's low half, sign-extended) and of 2u + 1 (its high half)
    s->sc[2 * u] = wasm_i32x4_shr(wasm_i32x4_shl(e, 16), 16);
    s->sc[2 * u + 1] = wasm_i32x4_shr(e, 16);
#else
    s->sc[2 * u] = wasm_i16x8_shuffle(e, e, 0, 0, 2, 2, 4, 4, 6, 6);
    s->sc[2 * u + 1] = wasm_i16x8_shuffle(e, e, 1, 1, 3, 3, 5, 5, 7, 7);
#endif
  }
  s->d = f16x4_at(b->d);
  for (int u = 0; u < 8; u++) {
    v128_t m[8];
    q6_Kx4_decode(b->u[u].q[0], m);
    q6_Kx4_decode(b->u[u].q[1], m + 4);
    UNROLL for (int e = 0; e < 4; e++) unmix_pairs(m[2 * e], m[2 * e + 1], &wq[8 * u + e], &wq[8 * u + 4 + e]);
  }
}

static inline void q6_Kx4_superblock(const block_q6_Kx4* b, int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
  q6_K_scales4 s;
  v128_t wq[64];
  q6_Kx4_unpack(b, &s, wq);
#ifdef RELAXED_DOT_ADD
  q6_K_isums(&s, wq, i, y, acc, nt);
#else
  q6_K_isums16(&s, wq, i, y, acc, nt);
#endif
  q6_K_finish(&s, i, y, acc, nt);
}

static inline void q6_K_superblock(const block_q6_K* const x[4], int i, const block_q8_K* const* y, q6_K_acc* acc, int nt,
                                   int packed) {
  q6_K_scales4 s;
  q6_K_scales(x, i, &s);
#ifdef RELAXED_DOT_ADD
  v128_t wq[64];  // sub-block k's transposed vectors at wq[4k], as q6_Kx4_decode leaves them
  for (int j = 0; j < 4; j++) {
    const int h = j >> 1, l0 = 16 * (j & 1);
    v128_t q[4][4];
    UNROLL for (int r = 0; r < 4; r++) q6_K_decode(&x[r][i], h, l0, q[r], packed);
    UNROLL for (int k = 0; k < 4; k++) transpose4(q[0][k], q[1][k], q[2][k], q[3][k], wq + 4 * (8 * h + l0 / 16 + 2 * k));
  }
  q6_K_isums(&s, wq, i, y, acc, nt);
#else
  for (int t = 0; t < nt; t++) acc[t].isum = wasm_i32x4_const_splat(0);
  NOUNROLL for (int j = 0; j < 4; j++) {
    const int h = j >> 1, l0 = 16 * (j & 1);
    v128_t q[4][4];
    UNROLL for (int r = 0; r < 4; r++) q6_K_decode(&x[r][i], h, l0, q[r], packed);
    NOUNROLL for (int k = 0; k < 4; k++) {
      // elements 128h + l0 + 32k .. +15 of the four rows: sub-block 8h + l0/16 + 2k
      v128_t g[4];
      transpose4(q[0][k], q[1][k], q[2][k], q[3][k], g);
      const v128_t sc = s.sc[8 * h + l0 / 16 + 2 * k];
      for (int t = 0; t < nt; t++) {
        const int8_t* a = y[t][i].qs + 128 * h + l0 + 32 * k;
        const v128_t p0 = wasm_i16x8_add(RDOT(SPLAT4(a), g[0]), RDOT(SPLAT4(a + 4), g[1]));
        const v128_t p1 = wasm_i16x8_add(RDOT(SPLAT4(a + 8), g[2]), RDOT(SPLAT4(a + 12), g[3]));
        acc[t].isum = wasm_i32x4_add(acc[t].isum, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, sc), wasm_i32x4_dot_i16x8(p1, sc)));
      }
    }
  }
#endif
  q6_K_finish(&s, i, y, acc, nt);
}
