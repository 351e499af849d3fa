// Q3_K prefill (more than one token): a super-block of four rows against
// the pass's tokens. Included by q3_K-relaxed.c only.
#pragma once
#include "q3_K-relaxed.h"
typedef kq_acc q3_K_acc;

#ifdef RELAXED_DOT_ADD
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
  kq_isums4_dotadd(s->sc, q, i, y, acc, nt, 4, 1);
  const v128_t zero = wasm_i32x4_const_splat(0);
  for (int t = 0; t < nt; t++) acc[t].sum = q3_K_step(acc[t].sum, acc[t].isum, zero, s->d, &y[t][i]);  // offset already in isum
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
