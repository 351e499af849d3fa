// Importance-matrix statistics (llama-imatrix): the running sum, per input
// column of a matmul, of the squared activations, and the number of rows
// (tokens) summed. The sums live in memory the caller keeps across runs, so
// they accumulate over every chunk of the calibration text.
//
// Each column is summed in float over the rows in order, x*x rounded before
// the add (no fused multiply-add), which is the order and the rounding of
// llama.cpp's collector; threads own disjoint column ranges, so the result
// does not depend on the thread count.
#include "ops-math.h"

// void imatrix_accum_f32(const float* x, int x_stride, float* sums, double* count,
//                        int n_rows, int n_cols, int ith, int nth)
// sums[c] += x[r][c]^2 for every row r (rows x_stride bytes apart);
// thread 0 adds n_rows to *count.
void EXPORT(imatrix_accum_f32)(const float* x, int x_stride, float* sums, double* count, int n_rows, int n_cols,
                               int ith, int nth) {
  int c0, c1;
  flat_range(n_cols, ith, nth, &c0, &c1);
  for (int r = 0; r < n_rows; r++) {
    const float* xr = (const float*)((const char*)x + (size_t)r * x_stride);
    int c = c0;
    for (; c + 4 <= c1; c += 4) {
      const v128_t v = wasm_v128_load(xr + c);
      wasm_v128_store(sums + c, wasm_f32x4_add(wasm_v128_load(sums + c), wasm_f32x4_mul(v, v)));
    }
    for (; c < c1; c++) sums[c] += xr[c] * xr[c];
  }
  if (ith == 0) *count += n_rows;
}
