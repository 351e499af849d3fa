// The macros that stamp out a weight type's row drivers (rows.c for most
// types; a type family's own file may instantiate them for its types).
#pragma once
#include "common.h"

#define DEQUANTIZE_KERNEL(name) void name(const void* x, float* y, int n);

// void mat_rows_<t>(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out,
//                   int out_stride, int n, int n_tok, int n_rows, int ith, int nth)
// out[t*out_stride + r] = dot(weight row r, activation row t) for every token t and this
// thread's share of the n_rows output rows. mul_mat_<t> (matmul-*.c) reuses each weight
// block across a tile of tokens and gives the same bits as matvec_<t> per token.
#define MAT_ROWS(t)                                                                                  \
  void mul_mat_##t(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out,        \
                   int out_stride, int n, int n_tok, int r0, int r1);                                \
  void EXPORT(mat_rows_##t)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, \
                            int out_stride, int n, int n_tok, int n_rows, int ith, int nth) {       \
    int r0, r1;                                                                                      \
    rows_range(n_rows, ith, nth, &r0, &r1);                                                          \
    if (r0 < r1) mul_mat_##t(w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0, r1);       \
  }

// void get_rows_q_<t>(const void* table, int row_bytes, const int32_t* ids, float* y, int n_ids, int n, int ith, int nth)
// y[i] = dequantized row ids[i] of a quantized table (token embeddings).
#define GET_ROWS(t)                                                                                  \
  DEQUANTIZE_KERNEL(dequantize_row_##t)                                                                   \
  void EXPORT(get_rows_q_##t)(const void* table, int row_bytes, const int32_t* ids, float* y,       \
                              int n_ids, int n, int ith, int nth) {                                 \
    int r0, r1;                                                                                      \
    rows_range(n_ids, ith, nth, &r0, &r1);                                                           \
    for (int i = r0; i < r1; i++)                                                                    \
      dequantize_row_##t((const char*)table + (size_t)ids[i] * row_bytes, y + (size_t)i * n, n);    \
  }
