// Q6_K prefill over two q6_Kx4 groups at a time. Included by q6_K-relaxed.c only.
#pragma once
#include "q6_K-prefill.h"
// Prefill over two q6_Kx4 groups (eight rows) of super-block i, both
// builds, as q4_K_isums_pair (q4_K-prefill.h) takes them: a sub-block of
// both groups (four weight vectors each) held in registers while the pass's
// tokens stream past (pass_tokens at a time, relaxed.h), four broadcasts
// feeding eight byte dots, then both groups' float steps in one pass
// (q6_K_finish_pair). The relaxed build sums each pair of dots in int16
// (|lane| <= 2 * 2 * 128 * 63) and applies the rows' scales by
// i32x4.dot_i16x8, taking the -32 offset per token at the end; the dot-add
// build chains a sub-block's four dot-adds from -32 * its bsum (q8_K_neg_bsums,
// per token once per super-block) and multiplies by the rows' i32 scales,
// so no offset remains. Either way the exact int32 sums of every other
// q6_K path, so the same bits.
// Measured (relaxed build; bench:kernels --prefill --repacked --cpu --ratios,
// 4096x4096 x 64 tokens, Node 20, medians of 20-30 per-round ratios against
// q6_K_isums16's four tokens at a time through one group): 1.03-1.07x over
// four runs, of which the paired float steps about 1.01x. Less than
// q4_Kx4's 1.13x: a Q6_K sub-block holds only two byte dots per int16 sum,
// so 2.5 vector ops per dot either way, and eight weight vectors, two
// scales and four broadcasts leave V8 a few reloads per token.
// The dot-add build (Node 24 / V8 13.6, AVX-VNNI; bench:kernels --prefill
// --dot --repacked --old DIR, CPU time, medians of 21 alternating rounds,
// load 2-4): this loop 1.03-1.07x over its loop before at 4096 columns,
// 1.06-1.07x at 14336. That loop: both groups' super-block decoded to the
// stack, two tokens at a time over it, PIN every second step, the offset
// folded as now (it had measured 1.12-1.19x over one group at a time,
// without the fold 1.00-1.03x); the relaxed build's loop had caught up with
// it (1.02x).
typedef struct { v128_t ia, ib; } q6_K_pair_state;

// The float step of two groups per token, after their exact int32 sums
// (and, in the relaxed build, the -32 offset: q6_K_finish's steps, the bsum
// pairs and ad loaded once for both, a broadcast load each where
// q6_K_offset takes a shuffle).
static inline void q6_K_finish_pair(const q6_K_scales4* s, const q6_K_scales4* s2, int i, const block_q8_K* const* y, q6_K_acc* acc,
                                    q6_K_acc* acc2, int nt) {
  for (int t = 0; t < nt; t++) {
#ifdef RELAXED_DOT_ADD
    const v128_t isum = acc[t].isum, isum2 = acc2[t].isum;  // the offset already in (q8_K_neg_bsums)
#else
    const int32_t* bp = (const int32_t*)y[t][i].bsums;  // i32 lane p: the bsums of sub-blocks 2p, 2p + 1
    v128_t off = wasm_i32x4_const_splat(0), off2 = off;
    UNROLL for (int p = 0; p < 8; p++) {
      const v128_t b = wasm_v128_load32_splat(bp + p);
      off = wasm_i32x4_add(off, wasm_i32x4_dot_i16x8(s->sp[p], b));
      off2 = wasm_i32x4_add(off2, wasm_i32x4_dot_i16x8(s2->sp[p], b));
    }
    const v128_t isum = wasm_i32x4_sub(acc[t].isum, wasm_i32x4_shl(off, 5));
    const v128_t isum2 = wasm_i32x4_sub(acc2[t].isum, wasm_i32x4_shl(off2, 5));
#endif
    const v128_t ad = wasm_v128_load32_splat(&y[t][i].d);
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s->d, ad), wasm_f32x4_convert_i32x4(isum)));
    acc2[t].sum = wasm_f32x4_add(acc2[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s2->d, ad), wasm_f32x4_convert_i32x4(isum2)));
  }
}

#ifdef RELAXED_DOT_ADD
#define Q6_PAIR_T 2  // tokens at a time
// The dot-add build's pairs of groups in batches of under 4 tokens
// (q6_Kx4_superblock_pair), where the register tile's loop overhead per
// token weighs: both groups' super-block decoded once to the stack, then
// Q6_PAIR_T tokens at a time through all of it, each activation broadcast
// serving both groups, each sub-block's dot-adds started from -32 * its
// bsum (q8_K_neg_bsums), PIN every second step. Measured when written (Node 24,
// --prefill --dot --repacked --old DIR, 64 tokens) against one group at a
// time: 1.12-1.19x with 2 tokens (3 tokens 1.11x, 4 1.05x; PIN every step
// 1.08x, every fourth 0.94x). Against the register tile (same bench,
// --tokens N): 2 tokens 1.10x, 3 tokens 1.01x, 4 0.97-0.99x, 6 0.96x.
static inline void q6_Kx4_superblock_pair_few(const block_q6_Kx4* ba, const block_q6_Kx4* bb, int i, const block_q8_K* const* y,
                                              q6_K_acc* acca, q6_K_acc* accb, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
  q6_K_scales4 sa, sb4;
  v128_t wq[2][64];
  q6_Kx4_unpack(ba, &sa, wq[0]);
  q6_Kx4_unpack(bb, &sb4, wq[1]);
  v128_t pin[2 * Q6_PAIR_T];
  int32_t off[Q6_PAIR_T][16] __attribute__((aligned(16)));
  int t = 0;
  for (; t + Q6_PAIR_T <= nt; t += Q6_PAIR_T) {
    UNROLL for (int u = 0; u < Q6_PAIR_T; u++) q8_K_neg_bsums(&y[t + u][i], off[u], 32);
    const int32_t* o0 = off[0];
    const int8_t* ap[Q6_PAIR_T];
    v128_t ia[Q6_PAIR_T], ib[Q6_PAIR_T];
    UNROLL for (int u = 0; u < Q6_PAIR_T; u++) ap[u] = y[t + u][i].qs, ia[u] = ib[u] = zero;
    const v128_t* wa = wq[0];
    const v128_t* wb = wq[1];
    NOUNROLL for (int sb = 0; sb < 16; sb++, wa += 4, wb += 4) {
      const v128_t sca = sa.sc[sb], scb = sb4.sc[sb];
      v128_t pa[Q6_PAIR_T], pb[Q6_PAIR_T];
      UNROLL for (int u = 0; u < Q6_PAIR_T; u++) pa[u] = pb[u] = wasm_v128_load32_splat(o0 + 16 * u);
      o0++;
      UNROLL for (unsigned k = 0; k < 4; k++) {
        const v128_t wka = wa[k], wkb = wb[k];
        UNROLL for (int u = 0; u < Q6_PAIR_T; u++) {
          const v128_t av = SPLAT4(ap[u] + 4 * k);
          pa[u] = DOTADD(av, wka, pa[u]);
          pb[u] = DOTADD(av, wkb, pb[u]);
        }
        if (k & 1) {
          UNROLL for (int u = 0; u < Q6_PAIR_T; u++) {
            PIN(pa[u], pin[2 * u]);
            PIN(pb[u], pin[2 * u + 1]);
          }
        }
      }
      UNROLL for (int u = 0; u < Q6_PAIR_T; u++) {
        ia[u] = wasm_i32x4_add(ia[u], wasm_i32x4_mul(pa[u], sca));
        ib[u] = wasm_i32x4_add(ib[u], wasm_i32x4_mul(pb[u], scb));
      }
      UNROLL for (int u = 0; u < Q6_PAIR_T; u++) {
        ap[u] += 16;
        OPAQUE(ap[u]);  // so ap[u] + 4 * k is a load offset (see q6_K_isums16)
      }
    }
    UNROLL for (int u = 0; u < Q6_PAIR_T; u++) acca[t + u].isum = ia[u], accb[t + u].isum = ib[u];
  }
  for (; t < nt; t++) {
    const int8_t* a = y[t][i].qs;
    v128_t isa = zero, isb = zero;
    q8_K_neg_bsums(&y[t][i], off[0], 32);
    NOUNROLL for (int sb = 0; sb < 16; sb++, a += 16) {
      v128_t pra = wasm_v128_load32_splat(off[0] + sb), prb = pra;
      UNROLL for (int h = 0; h < 2; h++) {
        const v128_t* wa = wq[0] + 4 * sb + 2 * h;
        const v128_t* wb = wq[1] + 4 * sb + 2 * h;
        const v128_t av = SPLAT4(a + 8 * h), bv = SPLAT4(a + 8 * h + 4);
        pra = DOTADD(bv, wa[1], DOTADD(av, wa[0], pra));
        prb = DOTADD(bv, wb[1], DOTADD(av, wb[0], prb));
      }
      isa = wasm_i32x4_add(isa, wasm_i32x4_mul(pra, sa.sc[sb]));
      isb = wasm_i32x4_add(isb, wasm_i32x4_mul(prb, sb4.sc[sb]));
    }
    acca[t].isum = isa, accb[t].isum = isb;
  }
  q6_K_finish(&sa, i, y, acca, nt);
  q6_K_finish(&sb4, i, y, accb, nt);
}
#endif

static inline void q6_Kx4_superblock_pair(const block_q6_Kx4* ba, const block_q6_Kx4* bb, int i, const block_q8_K* const* y,
                                          q6_K_acc* acca, q6_K_acc* accb, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
#ifdef RELAXED_DOT_ADD
  if (nt < 4) {
    q6_Kx4_superblock_pair_few(ba, bb, i, y, acca, accb, nt);
    return;
  }
#endif
  q6_K_scales4 sa, sb4;
  v128_t wq[2][64];
  q6_Kx4_unpack(ba, &sa, wq[0]);
  q6_Kx4_unpack(bb, &sb4, wq[1]);
  q6_K_pair_state st[MM_TOK];
#ifdef RELAXED_DOT_ADD
  int32_t off[MM_TOK][16] __attribute__((aligned(16)));  // token t's -32 * bsum per sub-block
  for (int t = 0; t < nt; t++) q8_K_neg_bsums(&y[t][i], off[t], 32);
#endif
  // the tokens' rows are a_row_bytes apart (kq_mul_mat), so one pointer steps through them
  const int stride = (int)((const uint8_t*)y[1] - (const uint8_t*)y[0]);
  const int tile = pass_tokens(stride);
  for (int t0 = 0; t0 < nt; t0 += tile) {
    q6_K_pair_state* const beg = st + t0;
    q6_K_pair_state* const end = st + (nt - t0 < tile ? nt : t0 + tile);
    const int8_t* const a0 = y[t0][i].qs;
    for (q6_K_pair_state* s = beg; s < end; s++) s->ia = s->ib = zero;
    NOUNROLL for (unsigned sb = 0; sb < 16; sb++) {
      const v128_t* wa = wq[0] + 4 * sb;
      const v128_t* wb = wq[1] + 4 * sb;
      const v128_t wa0 = wa[0], wa1 = wa[1], wa2 = wa[2], wa3 = wa[3];
      const v128_t wb0 = wb[0], wb1 = wb[1], wb2 = wb[2], wb3 = wb[3];
      const v128_t sca = sa.sc[sb], scb = sb4.sc[sb];
      const int8_t* a = a0 + 16 * sb;
#ifdef RELAXED_DOT_ADD
      const int32_t* o = off[t0] + sb;
      NOUNROLL for (q6_K_pair_state* s = beg; s < end; s++, a += stride, o += 16) {
        OPAQUE(a);  // so a + 4 * k stays a load offset (relaxed.h)
        const v128_t b0 = SPLAT4(a), b1 = SPLAT4(a + 4), b2 = SPLAT4(a + 8), b3 = SPLAT4(a + 12);
        const v128_t o32 = wasm_v128_load32_splat(o);
        const v128_t pa = DOTADD(b3, wa3, DOTADD(b2, wa2, DOTADD(b1, wa1, DOTADD(b0, wa0, o32))));
        const v128_t pb = DOTADD(b3, wb3, DOTADD(b2, wb2, DOTADD(b1, wb1, DOTADD(b0, wb0, o32))));
        s->ia = wasm_i32x4_add(s->ia, wasm_i32x4_mul(pa, sca));
        s->ib = wasm_i32x4_add(s->ib, wasm_i32x4_mul(pb, scb));
      }
#else
      NOUNROLL for (q6_K_pair_state* s = beg; s < end; s++, a += stride) {
        OPAQUE(a);  // so a + 4 * k stays a load offset (relaxed.h)
        const v128_t b0 = SPLAT4(a), b1 = SPLAT4(a + 4), b2 = SPLAT4(a + 8), b3 = SPLAT4(a + 12);
        const v128_t pa0 = wasm_i16x8_add(RDOT(b0, wa0), RDOT(b1, wa1)), pa1 = wasm_i16x8_add(RDOT(b2, wa2), RDOT(b3, wa3));
        const v128_t pb0 = wasm_i16x8_add(RDOT(b0, wb0), RDOT(b1, wb1)), pb1 = wasm_i16x8_add(RDOT(b2, wb2), RDOT(b3, wb3));
        s->ia = wasm_i32x4_add(s->ia, wasm_i32x4_add(wasm_i32x4_dot_i16x8(pa0, sca), wasm_i32x4_dot_i16x8(pa1, sca)));
        s->ib = wasm_i32x4_add(s->ib, wasm_i32x4_add(wasm_i32x4_dot_i16x8(pb0, scb), wasm_i32x4_dot_i16x8(pb1, scb)));
      }
#endif
    }
  }
  for (int t = 0; t < nt; t++) acca[t].isum = st[t].ia, accb[t].isum = st[t].ib;
  q6_K_finish_pair(&sa, &sb4, i, y, acca, accb, nt);
}
