// Row kernels for weight types whose dot product is one function of a row
// and an activation row (iquants.c, ternary.c): from a type's
// `static float dot_<w>(const block_<w>* x, const block_<a>* y, int nb)`,
// DEFINE_ROW_KERNELS stamps out
//   matvec_<w>        out[r] = dot(row r, a) for rows [r0, r1)
//   vec_dot_<w>_<a>   one row, through matvec_<w>
//   mul_mat_<w>       a batch of tokens: blocks of RD_ROWS rows, every token
//                     over each block while its rows are in cache. Each
//                     (row, token) is the same dot_<w> call as matvec's, so a
//                     batch gives the bits of token by token.
// and the row drivers of rows.h / moe.h (mat_rows_, mat_rows_id_,
// get_rows_q_) over them.
#pragma once
#include "common.h"
#include "rows.h"
#include "moe.h"

// Rows per block in mul_mat: 16 rows of 4096 columns at 4.5 bits are 36 KiB.
#define RD_ROWS 16

// Sum of the 16 products of two int8x16 vectors as four i32 lanes. Every
// product here fits int16 (|w| <= 127 and |a| <= 127 for q8_0/q8_K), so the
// widening multiply is exact.
static inline v128_t dot_i8x16(v128_t w, v128_t a) {
  return wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_extmul_low_i8x16(w, a)),
                        wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_extmul_high_i8x16(w, a)));
}

// The exports that follow a mul_mat_<w>: matvec is its one-token case (so a
// batch gives the bits of token by token), vec_dot one row, then the row,
// expert and embedding entries.
#define MUL_MAT_ENTRIES(W, A)                                                                         \
  void EXPORT(matvec_##W)(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1) { \
    mul_mat_##W(w, row_bytes, a, 0, out, 0, n, 1, r0, r1);                                           \
  }                                                                                                  \
  float EXPORT(vec_dot_##W##_##A)(int n, const void* w, const void* a) {                             \
    float out;                                                                                       \
    mul_mat_##W(w, 0, a, 0, &out, 0, n, 1, 0, 1);                                                    \
    return out;                                                                                      \
  }                                                                                                  \
  MAT_ROWS(W)                                                                                        \
  MAT_ROWS_ID(W)                                                                                     \
  GET_ROWS(W)

#define DEFINE_ROW_KERNELS(W, A, QKW)                                                                 \
  void EXPORT(matvec_##W)(const void* w, int row_bytes, const void* a, float* out, int n, int r0,     \
                          int r1) {                                                                  \
    for (int r = r0; r < r1; r++)                                                                    \
      out[r] = dot_##W((const block_##W*)((const uint8_t*)w + (size_t)r * row_bytes),                \
                       (const block_##A*)a, n / (QKW));                                              \
  }                                                                                                  \
  float EXPORT(vec_dot_##W##_##A)(int n, const void* w, const void* a) {                             \
    float out;                                                                                       \
    matvec_##W(w, 0, a, &out, n, 0, 1);                                                              \
    return out;                                                                                      \
  }                                                                                                  \
  void EXPORT(mul_mat_##W)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, \
                           int out_stride, int n, int n_tok, int r0, int r1) {                      \
    for (int rb = r0; rb < r1; rb += RD_ROWS) {                                                      \
      const int re = r1 - rb < RD_ROWS ? r1 : rb + RD_ROWS;                                          \
      for (int t = 0; t < n_tok; t++)                                                                \
        matvec_##W(w, row_bytes, (const uint8_t*)a + (size_t)t * a_row_bytes,                        \
                   out + (size_t)t * out_stride, n, rb, re);                                         \
    }                                                                                                \
  }                                                                                                  \
  MAT_ROWS(W)                                                                                        \
  MAT_ROWS_ID(W)                                                                                     \
  GET_ROWS(W)

// The same exports for a type whose dot reads an activation prepared per
// column chunk (widened, split, with per-block terms): `ACT` holds one
// token's chunk of `CHUNK` columns, `PREP(const block_<a>* y, int nb, ACT*
// act)` fills it from nb activation blocks, and
// `static float dot_<w>(const block_<w>* x, const ACT* act, int nb)` is
// one row's chunk. mul_mat_<w> prepares RD_TOK tokens' chunks at a time and
// runs every row over them; a chunk after the first adds to out. matvec is
// the one-token case, so a batch gives the bits of token by token.
#define RD_TOK 4
#define DEFINE_ROW_KERNELS_PREP(W, A, QKW, ACT, PREP, CHUNK)                                          \
  void EXPORT(mul_mat_##W)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, \
                           int out_stride, int n, int n_tok, int r0, int r1) {                      \
    ACT act[RD_TOK];                                                                                 \
    for (int t0 = 0; t0 < n_tok; t0 += RD_TOK) {                                                     \
      const int nt = n_tok - t0 < RD_TOK ? n_tok - t0 : RD_TOK;                                      \
      for (int c0 = 0; c0 < n; c0 += (CHUNK)) {                                                      \
        const int nb = (n - c0 < (CHUNK) ? n - c0 : (CHUNK)) / (QKW);                                \
        for (int t = 0; t < nt; t++)                                                                 \
          PREP((const block_##A*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / (QKW), nb, &act[t]); \
        for (int r = r0; r < r1; r++) {                                                              \
          const block_##W* x = (const block_##W*)((const uint8_t*)w + (size_t)r * row_bytes) + c0 / (QKW); \
          for (int t = 0; t < nt; t++) {                                                             \
            const float s = dot_##W(x, &act[t], nb);                                                 \
            float* o = out + (size_t)(t0 + t) * out_stride + r;                                      \
            *o = c0 == 0 ? s : *o + s;                                                               \
          }                                                                                          \
        }                                                                                            \
      }                                                                                              \
    }                                                                                                \
  }                                                                                                  \
  MUL_MAT_ENTRIES(W, A)
