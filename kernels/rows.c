// Row drivers for the graph executor: each splits one op's rows over
// threads (ith of nth) and calls the per-row kernels of the type families
// (floats.c, legacy.c, kquants*.c). Keeping these loops in C lets every phase
// of a graph be one exported call, which a worker thread can run from a plain
// record (function, numeric arguments) with no closures.
#include "rows.h"

// The per-row kernels, defined in the type-family files.
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
