// Q3_K prefill (more than one token): a super-block of four rows against
// the pass's tokens. Included by q3_K-relaxed.c only.
#pragma once
#include "q3_K-relaxed.h"
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
// tokens, q6_K_isums' loop (q6_K-prefill.h): four tokens at a time over the
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
