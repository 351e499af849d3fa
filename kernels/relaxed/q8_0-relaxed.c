// Q8_0 in the relaxed-SIMD module. Its weights are signed bytes, which the
// relaxed byte dot cannot take exactly, so this is int16 work
// (i32x4.dot_i16x8_s, exact) on an activation widened once per token.
//
// Prefill: four rows at a time, one row per lane (relaxed.h): the rows'
// blocks are transposed in 2-byte groups, so widened to int16 a vector holds
// one element pair of each row ([r0 r0 r1 r1 r2 r2 r3 r3]) and the
// activation's matching pair is broadcast to all lanes; row j's exact block
// sum lands in lane j, and one convert, one scale multiply and one add finish
// four rows' block. A block is widened half by half (eight vectors stay in
// registers) and serves every token of a pass.
//
// Decode stays with the baseline module's matvec_q8_0 (one row at a time,
// four lanes of partial sums): the full reduction per block that the lanes
// here need made a one-token version about 30% slower. So in this module a
// prompt batch and token-by-token decode differ in f32 summation order
// (within rounding: see llama-e2e's bound), not in their integers.
#include "../legacy-blocks.h"
#include "relaxed.h"

// Columns per activation chunk and tokens per pass: the widened activation
// of a pass (Q8_TOK x Q8_CHUNK int16 plus scales) lives on the stack, 136 KiB.
#define Q8_CHUNK 2048
#define Q8_NB (Q8_CHUNK / QK)
#define Q8_TOK 32

// A token's activation chunk: quants widened to int16, scales times 2^112.
typedef struct {
  int16_t q[Q8_NB][QK];
  float d[Q8_NB];
} act_q8_0_i16;

static void q8_0_prep(const block_q8_0* y, int nb, act_q8_0_i16* a) {
  for (int b = 0; b < nb; b++) {
    const v128_t lo = LOAD(y[b].qs), hi = LOAD(y[b].qs + 16);
    wasm_v128_store(a->q[b], wasm_i16x8_extend_low_i8x16(lo));
    wasm_v128_store(a->q[b] + 8, wasm_i16x8_extend_high_i8x16(lo));
    wasm_v128_store(a->q[b] + 16, wasm_i16x8_extend_low_i8x16(hi));
    wasm_v128_store(a->q[b] + 24, wasm_i16x8_extend_high_i8x16(hi));
    a->d[b] = fp16_to_fp32(y[b].d) * F16_UNSCALE;
  }
}

// Elements 16h..16h+15 of rows 0..3 (a..d) widened: w[p] = pair p (elements
// 16h + 2p, +1) of each row as [r0 r0 r1 r1 r2 r2 r3 r3].
static inline void q8_0_half(v128_t a, v128_t b, v128_t c, v128_t d, v128_t* w) {
  const v128_t ab_lo = wasm_i16x8_shuffle(a, b, 0, 8, 1, 9, 2, 10, 3, 11), ab_hi = wasm_i16x8_shuffle(a, b, 4, 12, 5, 13, 6, 14, 7, 15);
  const v128_t cd_lo = wasm_i16x8_shuffle(c, d, 0, 8, 1, 9, 2, 10, 3, 11), cd_hi = wasm_i16x8_shuffle(c, d, 4, 12, 5, 13, 6, 14, 7, 15);
  const v128_t v[4] = {wasm_i32x4_shuffle(ab_lo, cd_lo, 0, 4, 1, 5), wasm_i32x4_shuffle(ab_lo, cd_lo, 2, 6, 3, 7),
                       wasm_i32x4_shuffle(ab_hi, cd_hi, 0, 4, 1, 5), wasm_i32x4_shuffle(ab_hi, cd_hi, 2, 6, 3, 7)};
  UNROLL for (int m = 0; m < 4; m++) {
    w[2 * m] = wasm_i16x8_extend_low_i8x16(v[m]);
    w[2 * m + 1] = wasm_i16x8_extend_high_i8x16(v[m]);
  }
}

// Eight pairs of four rows against a token's eight activation pairs q[0..15].
static inline v128_t q8_0_dot8(const v128_t* w, const int16_t* q) {
  v128_t s = wasm_i32x4_dot_i16x8(w[0], SPLAT4(q));
  UNROLL for (int p = 1; p < 8; p++) s = wasm_i32x4_add(s, wasm_i32x4_dot_i16x8(w[p], SPLAT4(q + 2 * p)));
  return s;
}

// Not exported: the baseline's mul_mat_q8_0 stays the module's for one
// token; moe-relaxed.c's expert matmul runs this one, so experts get the bits
// the dense batch kernel gives.
void mul_mat_q8_0(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride, int n, int n_tok,
                  int r0, int r1) {
  act_q8_0_i16 act[Q8_TOK];
  v128_t acc[Q8_TOK], part[Q8_TOK];
  for (int t0 = 0; t0 < n_tok; t0 += Q8_TOK) {
    const int nt = n_tok - t0 < Q8_TOK ? n_tok - t0 : Q8_TOK;
    for (int c0 = 0; c0 < n; c0 += Q8_CHUNK) {
      const int nb = (n - c0 < Q8_CHUNK ? n - c0 : Q8_CHUNK) / QK;
      for (int t = 0; t < nt; t++)
        q8_0_prep((const block_q8_0*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / QK, nb, &act[t]);
      const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / QK) * sizeof(block_q8_0);
      for (int r = r0; r < r1; r += 4) {
        const block_q8_0* x[4];
        for (int j = 0; j < 4; j++) x[j] = (const block_q8_0*)(wc + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes);
        for (int t = 0; t < nt; t++) acc[t] = wasm_f32x4_const_splat(0.0f);
        for (int b = 0; b < nb; b++) {
          v128_t wv[8];
          q8_0_half(LOAD(x[0][b].qs), LOAD(x[1][b].qs), LOAD(x[2][b].qs), LOAD(x[3][b].qs), wv);
          for (int t = 0; t < nt; t++) part[t] = q8_0_dot8(wv, act[t].q[b]);
          q8_0_half(LOAD(x[0][b].qs + 16), LOAD(x[1][b].qs + 16), LOAD(x[2][b].qs + 16), LOAD(x[3][b].qs + 16), wv);
          const v128_t dw = f16x4_unscaled(wasm_i32x4_make(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d));
          for (int t = 0; t < nt; t++) {
            const v128_t s = wasm_i32x4_add(part[t], q8_0_dot8(wv, act[t].q[b] + 16));
            acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), wasm_f32x4_mul(dw, wasm_f32x4_splat(act[t].d[b]))));
          }
        }
        for (int t = 0; t < nt; t++) store4(acc[t], out + (size_t)(t0 + t) * out_stride, r, r0, r1, c0 == 0);
      }
    }
  }
}

// The graph's batch entry (runtime/graph/ops.ts uses it for matmuls of more
// than one token where it exists): this thread's share of the rows.
void EXPORT(mat_rows_batch_q8_0)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                 int n, int n_tok, int n_rows, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  if (r0 < r1) mul_mat_q8_0(w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0, r1);
}
