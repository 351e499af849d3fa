// The expert matmul of ggml_mul_mat_id, shared by the baseline build
// (moe.c) and the relaxed-SIMD module (relaxed/moe-relaxed.c), each over its
// own mul_mat_<t>, so an expert's rows always get the bits a dense matmul by
// that expert's matrix gets in the same build.
#pragma once
#include "common.h"

// void mat_rows_id_<t>(const void* w, int row_bytes, int expert_bytes, const int32_t* meta,
//                      int n_expert, const void* act, int act_row_bytes, float* sorted,
//                      int n_out, int n, int ith, int nth)
// meta: offsets[n_expert + 1] of each expert's group of rows in `act`
// (activation rows in vec_dot_type, grouped by expert: moe_gather_rows). For
// each expert with rows: its matrix (expert_bytes after the previous one)
// times its group, into the same rows of `sorted` (n_out floats each). This
// thread computes its share (ggml's split) of every expert's n_out rows.
#define MAT_ROWS_ID(t)                                                                               \
  void mul_mat_##t(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out,        \
                   int out_stride, int n, int n_tok, int r0, int r1);                                \
  void EXPORT(mat_rows_id_##t)(const void* w, int row_bytes, int expert_bytes, const int32_t* meta, \
                               int n_expert, const void* act, int act_row_bytes, float* sorted,     \
                               int n_out, int n, int ith, int nth) {                                \
    int r0, r1;                                                                                      \
    rows_range(n_out, ith, nth, &r0, &r1);                                                           \
    if (r0 >= r1) return;                                                                            \
    for (int e = 0; e < n_expert; e++) {                                                             \
      const int g0 = meta[e], cnt = meta[e + 1] - g0;                                                \
      if (cnt == 0) continue;                                                                        \
      mul_mat_##t((const char*)w + (size_t)e * expert_bytes, row_bytes,                              \
                  (const char*)act + (size_t)g0 * act_row_bytes, act_row_bytes,                      \
                  sorted + (size_t)g0 * n_out, n_out, n, cnt, r0, r1);                               \
    }                                                                                                \
  }
