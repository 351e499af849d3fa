// Q4_K prefill (more than one token): four plain rows or one q4_Kx4 group
// against the pass's tokens, or two q4_Kx4 groups at a time. Included by
// q4_K-relaxed.c only.
#pragma once
#include "q4_K-relaxed.h"
// Per (row, token) state across a row group's super-blocks.
typedef kq_acc q4_K_acc;

#define Q4_T 4  // tokens at a time
#ifndef RELAXED_DOT_ADD
// The relaxed build's prefill sums for a lone last group and plain rows
// (the dot-add build takes q4_K_isums_tile with one group there): the nibbles
// decoded once per super-block into wq, then four tokens at a time over the
// whole super-block, a sub-block's eight byte dots per token summed in int16
// (|lane| <= 8 * 2 * 128 * 15 < 2^15) and applied to the rows' scales by
// one i32x4.dot_i16x8, so each weight vector is loaded once for four tokens.
// Measured (bench:kernels --prefill --repacked --cpu --old DIR: 4096x4096 x
// 64 tokens, one thread, CPU time, medians of 21 alternating rounds against
// the build before, Node 20, shared 2-core Xeon): 1.04-1.05x with PIN every
// second step (none 0.92x, every step 1.01x, every fourth 0.91x; 3 tokens
// 1.07x, 5 0.93x, 6 0.87x). V8's code then showed a lea per broadcast:
// clang's loop strength reduction had rewritten a + 4 * k as base + index
// i32.adds, which V8 does not fold into the address. The pointers made
// opaque to clang each sub-block (an empty asm), so 4 * k is the loads'
// memarg offset: 1.10-1.11x (4 tokens, PIN every second step; 3 tokens
// 1.04-1.10x, 5 1.08x, PIN every step 1.06x). The loop is then near the i16
// path's bound: a byte dot and an i16 add per 16 products, on V8's three
// vector ports. Two groups at a time take most groups now (q4_K_isums_pair);
// this serves a lone last group and plain rows.
static inline void q4_K_isums16(const q4_K_scales4* s, const v128_t* q, int i, const block_q8_K* const* y, q4_K_acc* acc, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
  v128_t wq[64];  // sub-block sb's eight vectors at wq[8 * sb]
  q4_K_unpack(q, wq);
  v128_t pin[Q4_T];
  int t = 0;
  for (; t + Q4_T <= nt; t += Q4_T) {
    const int8_t* ap[Q4_T];
    v128_t is[Q4_T];
    UNROLL for (int u = 0; u < Q4_T; u++) ap[u] = y[t + u][i].qs, is[u] = zero;
    const v128_t* w = wq;
    const v128_t* sc = s->sc;
    NOUNROLL for (int sb = 0; sb < 8; sb++, w += 8, sc++) {
      v128_t p[Q4_T];
      UNROLL for (int u = 0; u < Q4_T; u++) p[u] = zero;
      UNROLL for (unsigned k = 0; k < 8; k++) {
        const v128_t wk = w[k];
        UNROLL for (int u = 0; u < Q4_T; u++) p[u] = wasm_i16x8_add(p[u], RDOT(SPLAT4(ap[u] + 4 * k), wk));
        if (k & 1) {
          UNROLL for (int u = 0; u < Q4_T; u++) PIN(p[u], pin[u]);
        }
      }
      const v128_t scv = *sc;
      UNROLL for (int u = 0; u < Q4_T; u++) {
        is[u] = wasm_i32x4_add(is[u], wasm_i32x4_dot_i16x8(p[u], scv)), ap[u] += 32;
        OPAQUE(ap[u]);  // opaque: ap[u] + 4 * k stays a load offset
      }
    }
    UNROLL for (int u = 0; u < Q4_T; u++) acc[t + u].isum = is[u];
  }
  for (; t < nt; t++) {
    const int8_t* a = y[t][i].qs;
    v128_t isum = zero;
    NOUNROLL for (int sb = 0; sb < 8; sb++, a += 32) {
      v128_t p = wasm_i16x8_const_splat(0);
      UNROLL for (unsigned k = 0; k < 8; k++) p = wasm_i16x8_add(p, RDOT(SPLAT4(a + 4 * k), wq[8 * sb + k]));
      isum = wasm_i32x4_add(isum, wasm_i32x4_dot_i16x8(p, s->sc[sb]));
    }
    acc[t].isum = isum;
  }
}
#endif

// The two builds' sums of a step in q4_K_isums_pair: Q4_DOT4 adds four
// byte dots of broadcasts b0..b3 against weight vectors w0..w3 to p, and
// Q4_SCALE applies the rows' scales (q4_K_scales4.sc's shape) to a
// sub-block's sum. The relaxed build sums in int16 lanes and applies the
// scales by i32x4.dot_i16x8; the dot-add build chains four dot-adds into
// int32 lanes (|lane| <= 32 * 128 * 15) and multiplies.
#ifdef RELAXED_DOT_ADD
#define Q4_DOT4(p, b0, b1, b2, b3, w0, w1, w2, w3) DOTADD(b3, w3, DOTADD(b2, w2, DOTADD(b1, w1, DOTADD(b0, w0, p))))
#define Q4_DOT4_FIRST(b0, b1, b2, b3, w0, w1, w2, w3) Q4_DOT4(wasm_i32x4_const_splat(0), b0, b1, b2, b3, w0, w1, w2, w3)
#define Q4_SCALE(p, sc) wasm_i32x4_mul(p, sc)
#else
#define Q4_DOT4_FIRST(b0, b1, b2, b3, w0, w1, w2, w3) \
  wasm_i16x8_add(wasm_i16x8_add(RDOT(b0, w0), RDOT(b1, w1)), wasm_i16x8_add(RDOT(b2, w2), RDOT(b3, w3)))
#define Q4_DOT4(p, b0, b1, b2, b3, w0, w1, w2, w3) wasm_i16x8_add(p, Q4_DOT4_FIRST(b0, b1, b2, b3, w0, w1, w2, w3))
#define Q4_SCALE(p, sc) wasm_i32x4_dot_i16x8(p, sc)
#endif
// Two groups (eight rows) of super-block i, both builds: half a sub-block
// of both groups' nibbles (four weight vectors each) decoded into
// registers, and the pass's tokens streamed past them (pass_tokens at a
// time, relaxed.h), four broadcasts feeding eight byte dots. The first
// half's sums wait in st; the second half adds its dots to them (relaxed:
// int16, |lane| <= 8 * 2 * 128 * 15 < 2^15; dot-add: int32, Q4_DOT4) and
// applies the rows' scales (Q4_SCALE) into st's int32 sums. The integer
// sums are the other loops' exactly, so are the bits.
// Measured (bench:kernels --prefill --repacked --cpu --ratios, 4096x4096 x
// 64 tokens, one thread, median of 20 per-round ratios on Node 20 against
// the loop it replaced: three tokens at a time through the decoded super-block
// in stack vectors): 1.07x; with both groups' float steps in one pass
// (q4_K_finish_pair) 1.12x. What V8 made of the old loop (node
// --print-wasm-code): per 48 byte dots 102 vector ALU ops (the i16 path's
// bound: a dot and an add per 16 products) but some 110 other instructions
// (24 PIN stores, 24 spill moves, pointer reloads, leas), so the front end
// and the vector ports were both near their limit; here the weights stay in
// registers, no PIN is needed, and V8 unrolls the small token loop itself.
// Tried on the old loop: the second group's vectors through their own opaque
// pointer (V8 had a lea per load): 1.01x; two sub-blocks per loop
// iteration (half the accumulator spills): 1.02x; PIN every step: 1.00x.
// Without the float steps this loop runs 1.25x the old one: they are now
// some 11% of the vector ops (q4_K_finish_pair).
// The dot-add build (Node 24 / V8 13.6, AVX-VNNI; bench:kernels --prefill
// --dot --repacked --old DIR, CPU time, medians of 21 alternating rounds,
// load 2-4): this loop with both groups' float steps in one pass 1.05-1.09x
// over its loop before (two groups' super-block decoded to the stack, two
// tokens at a time through it, PIN every second step) at 4096 columns,
// 0.97-1.02x at 14336 (passes of 32 or 64 tokens there instead of 16: no
// better); end to end (bench/profile.js --synthetic llama-3.1-8b:Q4_K_M -p
// 64 --cpu, with q6_Kx4's) the 8B model's prompt 1.06-1.14x; with one group (a lone last group, plain rows) 1.03-1.08x
// over four tokens at a time through one group's decoded super-block (plain
// q4_K, 64 tokens; with 4 tokens 0.97x, 8 tokens 1.03-1.07x). Before, the
// relaxed build's new loop had caught up with the dot-add build's old one
// (1.01x). Per token and sub-block that loop is 16 dot-adds, two i32x4.mul
// (two uops each) and two adds for 256 products: near the bound of the two
// vector ports that take vpdpbusd.
typedef struct { v128_t pa, pb, ia, ib; } q4_K_pair_state;

// Half h of sub-block sb (elements 16h .. 16h + 15) of one group, as
// 0..15: the sub-block's low nibbles for h = 0, its high for h = 1.
#define Q4_HALF(q, sb, h, w0, w1, w2, w3)                                            \
  do {                                                                           \
    const v128_t* v = (q) + 4 * (sb);                                              \
    w0 = v[0], w1 = v[1], w2 = v[2], w3 = v[3];                                    \
    if (h) {                                                                       \
      w0 = wasm_u16x8_shr(w0, 4), w1 = wasm_u16x8_shr(w1, 4);                      \
      w2 = wasm_u16x8_shr(w2, 4), w3 = wasm_u16x8_shr(w3, 4);                      \
    }                                                                              \
    w0 = wasm_v128_and(w0, m4), w1 = wasm_v128_and(w1, m4);                        \
    w2 = wasm_v128_and(w2, m4), w3 = wasm_v128_and(w3, m4);                        \
  } while (0)

// gn = 2: both groups; gn = 1: the first only (the dot-add build's lone
// last group and plain rows; the relaxed build takes q4_K_isums16 there).
static inline __attribute__((always_inline)) void q4_K_isums_tile(const q4_K_scales4* sa, const q4_K_scales4* sb4, const v128_t* qa,
                                                                  const v128_t* qb, int i, const block_q8_K* const* y, q4_K_acc* acca,
                                                                  q4_K_acc* accb, int nt, const int gn) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), zero = wasm_i32x4_const_splat(0);
  q4_K_pair_state st[MM_TOK];
  // the tokens' rows are a_row_bytes apart (kq_mul_mat), so one pointer steps through them
  const int stride = (int)((const uint8_t*)y[1] - (const uint8_t*)y[0]);
  const int tile = pass_tokens(stride);
  for (int t0 = 0; t0 < nt; t0 += tile) {
    q4_K_pair_state* const beg = st + t0;
    q4_K_pair_state* const end = st + (nt - t0 < tile ? nt : t0 + tile);
    const int8_t* const a0 = y[t0][i].qs;
    for (q4_K_pair_state* s = beg; s < end; s++) s->ia = s->ib = zero;
    NOUNROLL for (unsigned sb = 0; sb < 8; sb++) {
      v128_t wa0, wa1, wa2, wa3, wb0, wb1, wb2, wb3;
      Q4_HALF(qa, sb, 0, wa0, wa1, wa2, wa3);
      if (gn > 1) Q4_HALF(qb, sb, 0, wb0, wb1, wb2, wb3);
      const int8_t* a = a0 + 32 * sb;
      NOUNROLL for (q4_K_pair_state* s = beg; s < end; s++, a += stride) {
        OPAQUE(a);  // so a + 4 * k stays a load offset (relaxed.h)
        const v128_t b0 = SPLAT4(a), b1 = SPLAT4(a + 4), b2 = SPLAT4(a + 8), b3 = SPLAT4(a + 12);
        s->pa = Q4_DOT4_FIRST(b0, b1, b2, b3, wa0, wa1, wa2, wa3);
        if (gn > 1) s->pb = Q4_DOT4_FIRST(b0, b1, b2, b3, wb0, wb1, wb2, wb3);
      }
      Q4_HALF(qa, sb, 1, wa0, wa1, wa2, wa3);
      if (gn > 1) Q4_HALF(qb, sb, 1, wb0, wb1, wb2, wb3);
      const v128_t sca = sa->sc[sb], scb = gn > 1 ? sb4->sc[sb] : sca;
      a = a0 + 32 * sb + 16;
      NOUNROLL for (q4_K_pair_state* s = beg; s < end; s++, a += stride) {
        OPAQUE(a);
        const v128_t b0 = SPLAT4(a), b1 = SPLAT4(a + 4), b2 = SPLAT4(a + 8), b3 = SPLAT4(a + 12);
        const v128_t pa = Q4_DOT4(s->pa, b0, b1, b2, b3, wa0, wa1, wa2, wa3);
        const v128_t pb = gn > 1 ? Q4_DOT4(s->pb, b0, b1, b2, b3, wb0, wb1, wb2, wb3) : pa;
        s->ia = wasm_i32x4_add(s->ia, Q4_SCALE(pa, sca));
        if (gn > 1) s->ib = wasm_i32x4_add(s->ib, Q4_SCALE(pb, scb));
      }
    }
  }
  for (int t = 0; t < nt; t++) {
    acca[t].isum = st[t].ia;
    if (gn > 1) accb[t].isum = st[t].ib;
  }
}

#ifdef RELAXED_DOT_ADD
// The dot-add build's pairs of groups in batches of under 6 tokens
// (q4_K_isums_pair), where the register tile's loop overhead per token
// weighs: both groups' super-block decoded once to the stack (q4_K_unpack),
// then two tokens at a time through all of it, each activation broadcast
// serving both groups, PIN every second step. Measured when written
// (Node 24, --prefill --dot --repacked --old DIR, 64 tokens) against one
// group at a time: 1.10-1.11x with 2 tokens (3: 1.07x, 4: 1.00x; PIN every
// step 1.01x, every fourth 0.93x, none 0.89x). Against the register tile
// (q4_K_isums_tile, same bench, --tokens N): 2 tokens 1.14x, 4 tokens
// 1.04x, 6 tokens 0.99x, so the tile from 6 tokens on.
#define PAIR_T 2
#define PAIR_PIN 2  // PIN every second step
static inline void q4_K_isums_pair_few(const q4_K_scales4* sa, const q4_K_scales4* sb4, const v128_t* qa, const v128_t* qb, int i,
                                       const block_q8_K* const* y, q4_K_acc* acca, q4_K_acc* accb, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
  v128_t wq[2][64];
  q4_K_unpack(qa, wq[0]);
  q4_K_unpack(qb, wq[1]);
  v128_t pin[2 * PAIR_T];
  int t = 0;
  for (; t + PAIR_T <= nt; t += PAIR_T) {
    const int8_t* ap[PAIR_T];
    v128_t ia[PAIR_T], ib[PAIR_T];
    UNROLL for (int u = 0; u < PAIR_T; u++) ap[u] = y[t + u][i].qs, ia[u] = ib[u] = zero;
    const v128_t* wa = wq[0];
    const v128_t* wb = wq[1];
    NOUNROLL for (int sb = 0; sb < 8; sb++, wa += 8, wb += 8) {
      v128_t pa[PAIR_T], pb[PAIR_T];
      UNROLL for (int u = 0; u < PAIR_T; u++) pa[u] = pb[u] = zero;
      UNROLL for (unsigned k = 0; k < 8; k++) {
        const v128_t wka = wa[k], wkb = wb[k];
        UNROLL for (int u = 0; u < PAIR_T; u++) {
          const v128_t av = SPLAT4(ap[u] + 4 * k);
          pa[u] = DOTADD(av, wka, pa[u]);
          pb[u] = DOTADD(av, wkb, pb[u]);
        }
        if ((k % PAIR_PIN) == PAIR_PIN - 1) {
          UNROLL for (int u = 0; u < PAIR_T; u++) {
            PIN(pa[u], pin[2 * u]);
            PIN(pb[u], pin[2 * u + 1]);
          }
        }
      }
      const v128_t sca = sa->sc[sb], scb = sb4->sc[sb];
      UNROLL for (int u = 0; u < PAIR_T; u++) {
        ia[u] = wasm_i32x4_add(ia[u], Q4_SCALE(pa[u], sca));
        ib[u] = wasm_i32x4_add(ib[u], Q4_SCALE(pb[u], scb));
        ap[u] += 32;
        OPAQUE(ap[u]);  // so ap[u] + 4 * k is a load offset (see q4_K_isums16)
      }
    }
    UNROLL for (int u = 0; u < PAIR_T; u++) acca[t + u].isum = ia[u], accb[t + u].isum = ib[u];
  }
  for (; t < nt; t++) {
    const int8_t* a = y[t][i].qs;
    v128_t isa = zero, isb = zero;
    NOUNROLL for (int sb = 0; sb < 8; sb++, a += 32) {
      v128_t pa = zero, pb = zero;
      UNROLL for (unsigned k = 0; k < 8; k++) {
        const v128_t av = SPLAT4(a + 4 * k);
        pa = DOTADD(av, wq[0][8 * sb + k], pa);
        pb = DOTADD(av, wq[1][8 * sb + k], pb);
      }
      isa = wasm_i32x4_add(isa, Q4_SCALE(pa, sa->sc[sb]));
      isb = wasm_i32x4_add(isb, Q4_SCALE(pb, sb4->sc[sb]));
    }
    acca[t].isum = isa, accb[t].isum = isb;
  }
}
#endif

static inline void q4_K_isums_pair(const q4_K_scales4* sa, const q4_K_scales4* sb4, const v128_t* qa, const v128_t* qb, int i,
                                   const block_q8_K* const* y, q4_K_acc* acca, q4_K_acc* accb, int nt) {
#ifdef RELAXED_DOT_ADD
  if (nt < 6) {
    q4_K_isums_pair_few(sa, sb4, qa, qb, i, y, acca, accb, nt);
    return;
  }
#endif
  q4_K_isums_tile(sa, sb4, qa, qb, i, y, acca, accb, nt, 2);
}

// The float steps of super-block i for two groups in one pass over the
// tokens: the sums of 32 and ad broadcast once for both, straight from
// memory (a load each where q4_K_mins takes a shuffle). Measured after the
// relaxed build's q4_K_isums_pair (as there): 1.05x over a pass per group.
static inline void q4_K_finish_pair(const q4_K_scales4* s, const q4_K_scales4* s2, int i, const block_q8_K* const* y,
                                    const v128_t* const* b32, q4_K_acc* acc, q4_K_acc* acc2, int nt) {
  for (int t = 0; t < nt; t++) {
    const int32_t* bp = (const int32_t*)&b32[t][i];  // i32 lane p: the sums of sub-blocks 2p, 2p + 1
    const v128_t b0 = wasm_v128_load32_splat(bp), b1 = wasm_v128_load32_splat(bp + 1);
    const v128_t b2 = wasm_v128_load32_splat(bp + 2), b3 = wasm_v128_load32_splat(bp + 3);
    const v128_t ad = wasm_v128_load32_splat(&y[t][i].d);
    const v128_t mn = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(s->mp[0], b0), wasm_i32x4_dot_i16x8(s->mp[1], b1)),
                                     wasm_i32x4_add(wasm_i32x4_dot_i16x8(s->mp[2], b2), wasm_i32x4_dot_i16x8(s->mp[3], b3)));
    const v128_t mn2 = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(s2->mp[0], b0), wasm_i32x4_dot_i16x8(s2->mp[1], b1)),
                                      wasm_i32x4_add(wasm_i32x4_dot_i16x8(s2->mp[2], b2), wasm_i32x4_dot_i16x8(s2->mp[3], b3)));
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s->d, ad), wasm_f32x4_convert_i32x4(acc[t].isum)));
    acc[t].msum = wasm_f32x4_add(acc[t].msum, wasm_f32x4_mul(wasm_f32x4_mul(s->dmin, ad), wasm_f32x4_convert_i32x4(mn)));
    acc2[t].sum = wasm_f32x4_add(acc2[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s2->d, ad), wasm_f32x4_convert_i32x4(acc2[t].isum)));
    acc2[t].msum = wasm_f32x4_add(acc2[t].msum, wasm_f32x4_mul(wasm_f32x4_mul(s2->dmin, ad), wasm_f32x4_convert_i32x4(mn2)));
  }
}

// Super-block i of four rows against nt tokens (y[t] at the chunk's first
// super-block, b32[t] its sums of 32); q[c * 8 + g]: chunk c's transposed nibbles.
static inline void q4_K_superblock(const q4_K_scales4* s, const v128_t* q, int i, const block_q8_K* const* y,
                                   const v128_t* const* b32, q4_K_acc* acc, int nt) {
#ifdef RELAXED_DOT_ADD
  q4_K_isums_tile(s, s, q, q, i, y, acc, acc, nt, 1);
#else
  q4_K_isums16(s, q, i, y, acc, nt);
#endif
  for (int t = 0; t < nt; t++) {
    const v128_t mn = q4_K_mins(s->mp, b32[t][i]);
    const v128_t ad = wasm_f32x4_splat(y[t][i].d);
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s->d, ad), wasm_f32x4_convert_i32x4(acc[t].isum)));
    acc[t].msum = wasm_f32x4_add(acc[t].msum, wasm_f32x4_mul(wasm_f32x4_mul(s->dmin, ad), wasm_f32x4_convert_i32x4(mn)));
  }
}
