// iq4_xs (nl4.h: 256-element super-blocks of eight 32-element blocks, 4-bit
// codes into iq4_nl's levels, a 6-bit scale per block, an f16 d) against
// q8_K activations, with relaxed SIMD.
//
// As iq4_nl in nl4-relaxed.c: four rows at a time, one per lane, the levels
// split as 15 * code + L(code) - 127 so that both byte-dot operands are
// 0..127 (see its head comment, and what was tried there). Per block, the
// code dots C (eight of them in int16 lanes) and the L dots (four at a
// time) widen through i32x4.dot_i16x8 against the rows' block scales s - 32
// (times 15 for C), and the -127 * sum(a) term is applied per super-block:
// -127 * sum_b (s_b - 32) * A_b, with A_b the activation's sums of 32 (from
// q8_K's bsums). So row j's super-block sum is exact int32 in lane j
// (|isum| < 2^31: 8 blocks * (2 * 30720 * 480 + 2 * 2 * 18432 * 32 + 127 *
// 32 * 4064)), and the float step per row and super-block is
// acc += f32(isum) * fl(d_w * d_a), super-block after super-block (ggml's
// x86 order). Repacked (iq4_xsx4) and plain rows, batch and token by token,
// any row split: the same integers and steps, so the same bits.
//
// iq4_xsx4 (runtime/repack.ts): four rows' super-block as their four d,
// their 32 block scales (6 bits: low nibbles in sl, top bits in sh, ordered
// so that two vectors hold every (block, row) scale; see iq4_xsx4_scales),
// then per block the codes in transpose4's order. Decode takes two groups
// (eight rows) at a time, PIN (relaxed.h) after each half block.
// Tried and dropped: the previous kernel, one row at a time with the
// activation split into positive and negative parts (see nl4-relaxed.c);
// a PIN after each group's half block (as iq4_nlx4_pairs), 1.05x slower; a
// one-token path for plain rows with its accumulators in registers (as
// nl4_group_decode), no faster here. 4096x4096 matvec, one thread, CPU
// time (as in nl4-relaxed.c): 2.84 ms before, 1.93 plain, 1.57 iq4_xsx4
// (Q4_K 1.98, q4_Kx4 1.38); a 16-token batch 2.1x the previous speed.
#include "../nl4.h"
#include "../kquants.h"
#include "../moe.h"
#include "relaxed.h"

#define RSWZ wasm_i8x16_relaxed_swizzle
#define ALWAYS __attribute__((always_inline)) static inline
#define KB (ACT_CHUNK / QK_K)  // super-blocks per activation chunk

// Four rows' super-block. Scale index p = 4b + j (block b, row j): its low
// 4 bits are the low nibble of sl[p] (p < 16) or the high nibble of
// sl[p - 16]; its top 2 bits are bits 2 (p / 8) of sh[p % 8]. qs[b]: bytes
// 16i + 4t.. = row t's code bytes 16b + 4i.. (elements 32b + 4i.. in the
// low nibbles, 32b + 16 + 4i.. in the high).
typedef struct {
  uint16_t d[4];
  uint8_t sl[16], sh[8];
  uint8_t qs[8][64];
} block_iq4_xsx4;
_Static_assert(sizeof(block_iq4_xsx4) == 4 * sizeof(block_iq4_xs), "a group takes four rows' bytes");

// Per token and super-block of an activation chunk.
typedef struct {
  float d[KB];
  int16_t a32[KB][8];  // sums of 32 quants, block b
} xs_act;

static void xs_prep(const block_q8_K* y, int nb, xs_act* a) {
  for (int i = 0; i < nb; i++) {
    const v128_t s0 = wasm_i32x4_extadd_pairwise_i16x8(LOAD(y[i].bsums));
    const v128_t s1 = wasm_i32x4_extadd_pairwise_i16x8(LOAD(y[i].bsums + 8));
    wasm_v128_store(a->a32[i], wasm_i16x8_narrow_i32x4(s0, s1));  // |sum| <= 32 * 128: no saturation
    a->d[i] = y[i].d;
  }
}

// A group's super-block scales as the dots take them: sv[b] i16 lanes 2j,
// 2j+1 = row j's s_b - 32, sv15[b] = 15 times that.
typedef struct { v128_t sv[8], sv15[8]; } xs_scales;

// From e[m] = i16 lanes (s_{0,2m}, s_{1,2m}, s_{2,2m}, s_{3,2m}, the same for block 2m + 1), minus 32.
ALWAYS void xs_spread(const v128_t e[4], xs_scales* s) {
  for (int m = 0; m < 4; m++) {
    s->sv[2 * m] = wasm_i16x8_shuffle(e[m], e[m], 0, 0, 1, 1, 2, 2, 3, 3);
    s->sv[2 * m + 1] = wasm_i16x8_shuffle(e[m], e[m], 4, 4, 5, 5, 6, 6, 7, 7);
  }
  for (int b = 0; b < 8; b++) s->sv15[b] = wasm_i16x8_mul(s->sv[b], wasm_i16x8_const_splat(15));
}

ALWAYS void iq4_xsx4_scales(const block_iq4_xsx4* g, xs_scales* s) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), m30 = wasm_i8x16_const_splat(0x30), k32 = wasm_i8x16_const_splat(32);
  const v128_t h = wasm_v128_load64_splat(g->sh), l = LOAD(g->sl);
  // bytes 0..7 from sh >> 0 (>> 4), bytes 8..15 from sh >> 2 (>> 6); u16 shifts, the bits kept never cross bytes
  const v128_t x0 = wasm_i64x2_shuffle(h, wasm_u16x8_shr(h, 2), 0, 3);
  const v128_t x1 = wasm_i64x2_shuffle(wasm_u16x8_shr(h, 4), wasm_u16x8_shr(h, 6), 0, 3);
  const v128_t v0 = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(l, m4), wasm_v128_and(wasm_i16x8_shl(x0, 4), m30)), k32);
  const v128_t v1 = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(l, 4), m4), wasm_v128_and(wasm_i16x8_shl(x1, 4), m30)), k32);
  const v128_t e[4] = {wasm_i16x8_extend_low_i8x16(v0), wasm_i16x8_extend_high_i8x16(v0),
                       wasm_i16x8_extend_low_i8x16(v1), wasm_i16x8_extend_high_i8x16(v1)};
  xs_spread(e, s);
}

ALWAYS void iq4_xs_scales4(const block_iq4_xs* const x[4], xs_scales* s) {
  const v128_t r0 = iq4_xs_scales(x[0]), r1 = iq4_xs_scales(x[1]), r2 = iq4_xs_scales(x[2]), r3 = iq4_xs_scales(x[3]);
  const v128_t t01 = wasm_i16x8_shuffle(r0, r1, 0, 8, 1, 9, 2, 10, 3, 11), t23 = wasm_i16x8_shuffle(r2, r3, 0, 8, 1, 9, 2, 10, 3, 11);
  const v128_t h01 = wasm_i16x8_shuffle(r0, r1, 4, 12, 5, 13, 6, 14, 7, 15), h23 = wasm_i16x8_shuffle(r2, r3, 4, 12, 5, 13, 6, 14, 7, 15);
  const v128_t e[4] = {wasm_i32x4_shuffle(t01, t23, 0, 4, 1, 5), wasm_i32x4_shuffle(t01, t23, 2, 6, 3, 7),
                       wasm_i32x4_shuffle(h01, h23, 0, 4, 1, 5), wasm_i32x4_shuffle(h01, h23, 2, 6, 3, 7)};
  xs_spread(e, s);
}

// -127 * sum_b (s_b - 32) * A_b per row (lane): the levels' offset, for one token.
ALWAYS v128_t xs_bias(const xs_scales* s, const int16_t* a32) {
  v128_t r = wasm_i32x4_dot_i16x8(s->sv[0], wasm_v128_load16_splat(a32));
  for (int b = 1; b < 8; b++) r = wasm_i32x4_add(r, wasm_i32x4_dot_i16x8(s->sv[b], wasm_v128_load16_splat(a32 + b)));
  // each lane pair held the scale twice
  return wasm_i32x4_mul(wasm_i32x4_shr(r, 1), wasm_i32x4_const_splat(-127));
}

// Half h of a group's block as byte-dot operands (as nl4-relaxed.c's
// nl4_half): c[k] the codes of elements 16h + 4k.., l[k] their L.
typedef struct { v128_t c[4], l[4]; } xs_half;

ALWAYS void xs_decode_half(const v128_t v[4], int h, xs_half* w) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  for (int k = 0; k < 4; k++) {
    w->c[k] = wasm_v128_and(h ? wasm_u16x8_shr(v[k], 4) : v[k], m4);
    w->l[k] = RSWZ(iq4_nl_L(), w->c[k]);
  }
}

// A half block's scaled sum for one token (16 quants at q), lane j for row j.
ALWAYS v128_t xs_half_sum(const xs_half* w, const int8_t* q, v128_t sv, v128_t sv15) {
  const v128_t s0 = SPLAT4(q), s1 = SPLAT4(q + 4), s2 = SPLAT4(q + 8), s3 = SPLAT4(q + 12);
  const v128_t c = wasm_i16x8_add(wasm_i16x8_add(RDOT(s0, w->c[0]), RDOT(s1, w->c[1])), wasm_i16x8_add(RDOT(s2, w->c[2]), RDOT(s3, w->c[3])));
  const v128_t l = wasm_i16x8_add(wasm_i16x8_add(RDOT(s0, w->l[0]), RDOT(s1, w->l[1])), wasm_i16x8_add(RDOT(s2, w->l[2]), RDOT(s3, w->l[3])));
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(c, sv15), wasm_i32x4_dot_i16x8(l, sv));
}

ALWAYS v128_t xs_step(v128_t acc, v128_t isum, v128_t dw, float ad) {
  return wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(dw, wasm_f32x4_splat(ad))));
}

// One half block (h: 0 low nibbles, 1 high) of one group in the pairs below:
// c gathers the code dots (int16), i the scaled L dots.
#define XS_HALF(v, s, h, c, i, sv) do {                                                                   \
    const v128_t k0 = wasm_v128_and(h ? wasm_u16x8_shr(v##0, 4) : v##0, m4);                             \
    const v128_t k1 = wasm_v128_and(h ? wasm_u16x8_shr(v##1, 4) : v##1, m4);                             \
    const v128_t k2 = wasm_v128_and(h ? wasm_u16x8_shr(v##2, 4) : v##2, m4);                             \
    const v128_t k3 = wasm_v128_and(h ? wasm_u16x8_shr(v##3, 4) : v##3, m4);                             \
    c = wasm_i16x8_add(c, wasm_i16x8_add(wasm_i16x8_add(RDOT(s##0, k0), RDOT(s##1, k1)),                   \
                                         wasm_i16x8_add(RDOT(s##2, k2), RDOT(s##3, k3))));                 \
    const v128_t u_ = wasm_i16x8_add(wasm_i16x8_add(RDOT(s##0, RSWZ(tab, k0)), RDOT(s##1, RSWZ(tab, k1))), \
                                     wasm_i16x8_add(RDOT(s##2, RSWZ(tab, k2)), RDOT(s##3, RSWZ(tab, k3)))); \
    i = wasm_i32x4_add(i, wasm_i32x4_dot_i16x8(u_, sv));                                                  \
  } while (0)

// Decode of repacked groups two at a time; returns the first group left for the one-group path.
static int iq4_xsx4_pairs(const uint8_t* w, int row_bytes, const block_q8_K* y, const xs_act* act, float* out, int nb,
                          int r0, int r1, int first) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), tab = iq4_nl_L();
  v128_t pins[4];
  int r = r0 & ~3;
  for (; r + 4 < r1; r += 8) {
    const block_iq4_xsx4* ga = (const block_iq4_xsx4*)(w + (size_t)r * row_bytes);
    const block_iq4_xsx4* gb = (const block_iq4_xsx4*)(w + (size_t)(r + 4) * row_bytes);
    v128_t acca = wasm_f32x4_const_splat(0.0f), accb = acca;
    for (int i = 0; i < nb; i++, ga++, gb++) {
      xs_scales sa, sb;
      iq4_xsx4_scales(ga, &sa);
      iq4_xsx4_scales(gb, &sb);
      v128_t ia = xs_bias(&sa, act->a32[i]), ib = xs_bias(&sb, act->a32[i]);
      const uint8_t* qa = ga->qs[0];
      const uint8_t* qb = gb->qs[0];
      const int8_t* q = y[i].qs;
      NOUNROLL for (unsigned b = 0; b < 8; b++, qa += 64, qb += 64, q += 32) {
        const v128_t a0 = LOAD(qa), a1 = LOAD(qa + 16), a2 = LOAD(qa + 32), a3 = LOAD(qa + 48);
        const v128_t b0 = LOAD(qb), b1 = LOAD(qb + 16), b2 = LOAD(qb + 32), b3 = LOAD(qb + 48);
        v128_t ca = wasm_i16x8_const_splat(0), cb = ca;
        {
          const v128_t s0 = SPLAT4(q), s1 = SPLAT4(q + 4), s2 = SPLAT4(q + 8), s3 = SPLAT4(q + 12);
          XS_HALF(a, s, 0, ca, ia, sa.sv[b]);
          XS_HALF(b, s, 0, cb, ib, sb.sv[b]);
        }
        PIN(ia, pins[0]);
        PIN(ib, pins[1]);
        {
          const v128_t s0 = SPLAT4(q + 16), s1 = SPLAT4(q + 20), s2 = SPLAT4(q + 24), s3 = SPLAT4(q + 28);
          XS_HALF(a, s, 1, ca, ia, sa.sv[b]);
          XS_HALF(b, s, 1, cb, ib, sb.sv[b]);
        }
        ia = wasm_i32x4_add(ia, wasm_i32x4_dot_i16x8(ca, sa.sv15[b]));
        ib = wasm_i32x4_add(ib, wasm_i32x4_dot_i16x8(cb, sb.sv15[b]));
        PIN(ia, pins[2]);
        PIN(ib, pins[3]);
      }
      acca = xs_step(acca, ia, f16x4_at(ga->d), act->d[i]);
      accb = xs_step(accb, ib, f16x4_at(gb->d), act->d[i]);
    }
    store4(acca, out, r, r0, r1, first);
    store4(accb, out, r + 4, r0, r1, first);
  }
  return r;
}

// The batch loop of both layouts (as nl4-relaxed.c's nl4_mul_mat).
static void iq4_xs_mm(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride, int n,
                      int n_tok, int r0, int r1, int x4) {
  xs_act act[MM_TOK];
  v128_t acc[MM_TOK], isum[MM_TOK];
  const block_q8_K* y[MM_TOK];
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
      const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / QK_K;
      for (int t = 0; t < nt; t++) {
        y[t] = (const block_q8_K*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / QK_K;
        xs_prep(y[t], nb, &act[t]);
      }
      // the chunk's first super-block of each row (plain), or of each group (x4)
      const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / QK_K) * sizeof(block_iq4_xs) * (x4 ? 4 : 1);
      float* o = out + (size_t)t0 * out_stride;
      int r = x4 ? r0 & ~3 : r0;
      if (x4 && nt == 1) r = iq4_xsx4_pairs(wc, row_bytes, y[0], &act[0], o, nb, r0, r1, c0 == 0);
      for (; r < r1; r += 4) {
        const block_iq4_xsx4* g = (const block_iq4_xsx4*)(wc + (size_t)r * row_bytes);
        const block_iq4_xs* x[4];
        for (int j = 0; j < 4; j++) x[j] = (const block_iq4_xs*)(wc + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes);
        for (int t = 0; t < nt; t++) acc[t] = wasm_f32x4_const_splat(0.0f);
        for (int i = 0; i < nb; i++) {
          xs_scales s;
          v128_t dw;
          if (x4) {
            iq4_xsx4_scales(g + i, &s);
            dw = f16x4_at(g[i].d);
          } else {
            const block_iq4_xs* xi[4] = {x[0] + i, x[1] + i, x[2] + i, x[3] + i};
            iq4_xs_scales4(xi, &s);
            dw = f16x4_to_f32x4(wasm_i32x4_make(xi[0]->d, xi[1]->d, xi[2]->d, xi[3]->d));
          }
          for (int t = 0; t < nt; t++) isum[t] = xs_bias(&s, act[t].a32[i]);
          NOUNROLL for (int b = 0; b < 8; b++) {
            v128_t v[4];
            if (x4) {
              for (int k = 0; k < 4; k++) v[k] = LOAD(g[i].qs[b] + 16 * k);
            } else {
              transpose4(LOAD(x[0][i].qs + 16 * b), LOAD(x[1][i].qs + 16 * b), LOAD(x[2][i].qs + 16 * b), LOAD(x[3][i].qs + 16 * b), v);
            }
            // a half block at a time: eight weight vectors stay in registers over the tokens
            for (int h = 0; h < 2; h++) {
              xs_half wh;
              xs_decode_half(v, h, &wh);
              for (int t = 0; t < nt; t++)
                isum[t] = wasm_i32x4_add(isum[t], xs_half_sum(&wh, y[t][i].qs + 32 * b + 16 * h, s.sv[b], s.sv15[b]));
            }
          }
          for (int t = 0; t < nt; t++) acc[t] = xs_step(acc[t], isum[t], dw, act[t].d[i]);
        }
        for (int t = 0; t < nt; t++) store4(acc[t], o + (size_t)t * out_stride, r, r0, r1, c0 == 0);
      }
    }
  }
}

RELAXED_ENTRIES(iq4_xs, iq4_xs_mm, 0)
RELAXED_ENTRIES(iq4_xsx4, iq4_xs_mm, 1)
RELAXED_VEC_DOT(iq4_xs, q8_K, iq4_xs_mm)
MAT_ROWS_ID(iq4_xs)
MAT_ROWS_ID(iq4_xsx4)

// Rewrites n_rows (a multiple of 4) plain iq4_xs rows as iq4_xsx4 groups,
// in place: group G takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_iq4_xsx4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_iq4_xs);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    block_iq4_xsx4* g = (block_iq4_xsx4*)base;
    for (int i = 0; i < nb; i++) {
      for (int p = 0; p < 16; p++) g[i].sl[p] = 0;
      for (int p = 0; p < 8; p++) g[i].sh[p] = 0;
      for (int j = 0; j < 4; j++) {
        const block_iq4_xs* x = (const block_iq4_xs*)((const uint8_t*)scratch + (size_t)j * row_bytes) + i;
        g[i].d[j] = x->d;
        for (int b = 0; b < 8; b++) {
          const int s = iq4_xs_scale(x, b), p = 4 * b + j;
          g[i].sl[p % 16] |= (uint8_t)((s & 0x0F) << (p < 16 ? 0 : 4));
          g[i].sh[p % 8] |= (uint8_t)((s >> 4) << (2 * (p / 8)));
          for (int k = 0; k < 4; k++) memcpy(g[i].qs[b] + 16 * k + 4 * j, x->qs + 16 * b + 4 * k, 4);
        }
      }
    }
  }
}
