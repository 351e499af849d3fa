// Row drivers for the graph executor: each splits one op's rows over
// threads (ith of nth) and calls the per-row kernels of the type families
// (floats.c, legacy.c, kquants*.c). Keeping these loops in C lets every phase
// of a graph be one exported call, which a worker thread can run from a plain
// record (function, numeric arguments) with no closures.
#include "common.h"

// The per-row kernels, defined in the type-family files.
#define DEQUANTIZE_KERNEL(name) void name(const void* x, float* y, int n);
void quantize_row_q8_0(const float* x, void* y, int n);
void quantize_row_q8_1(const float* x, void* y, int n);
void quantize_row_q8_K(const float* x, void* y, int n);
void convert_row_f32_to_f16(const float* x, uint16_t* y, int n);
void convert_row_f32_to_bf16(const float* x, uint16_t* y, int n);

// void convert_rows_<t>(const float* x, int x_stride, void* y, int y_row_bytes, int n, int n_rows, int ith, int nth)
// Row r of x (x_stride bytes apart) -> row r of y (y_row_bytes apart); rows split over threads.
#define CONVERT_ROWS(t, fn)                                                                          \
  void EXPORT(convert_rows_##t)(const float* x, int x_stride, void* y, int y_row_bytes, int n,      \
                                int n_rows, int ith, int nth) {                                     \
    int r0, r1;                                                                                      \
    rows_range(n_rows, ith, nth, &r0, &r1);                                                          \
    for (int r = r0; r < r1; r++)                                                                    \
      fn((const float*)((const char*)x + (size_t)r * x_stride), (void*)((char*)y + (size_t)r * y_row_bytes), n); \
  }
CONVERT_ROWS(q8_0, quantize_row_q8_0)
CONVERT_ROWS(q8_1, quantize_row_q8_1)
CONVERT_ROWS(q8_K, quantize_row_q8_K)
CONVERT_ROWS(f16, convert_row_f32_to_f16)
CONVERT_ROWS(bf16, convert_row_f32_to_bf16)

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
MAT_ROWS(f32)
MAT_ROWS(f16)
MAT_ROWS(bf16)
MAT_ROWS(q4_0)
MAT_ROWS(q4_1)
MAT_ROWS(q5_0)
MAT_ROWS(q5_1)
MAT_ROWS(q8_0)
MAT_ROWS(q2_K)
MAT_ROWS(q3_K)
MAT_ROWS(q4_K)
MAT_ROWS(q5_K)
MAT_ROWS(q6_K)

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
GET_ROWS(bf16)
GET_ROWS(q4_0)
GET_ROWS(q4_1)
GET_ROWS(q5_0)
GET_ROWS(q5_1)
GET_ROWS(q8_0)
GET_ROWS(q2_K)
GET_ROWS(q3_K)
GET_ROWS(q4_K)
GET_ROWS(q5_K)
GET_ROWS(q6_K)
