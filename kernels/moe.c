// Mixture-of-experts kernels: expert selection (ggml_argsort_top_k over the
// router's probabilities), the selected experts' weights, the expert matmul
// (ggml_mul_mat_id: each token times only the experts chosen for it) and the
// weighted sum of the expert outputs.
//
// The expert matmul groups the (token, slot) pairs by expert so that each
// expert's rows are read once for all the tokens that chose it: a gather
// phase converts the activation rows to the weight's vec_dot_type in
// expert-sorted order, the matmul phase runs each expert's slab of rows over
// its group with the same tiled kernels as a dense matmul (mul_mat_<t> in
// matmul-*.c, split over threads by output rows), and a scatter phase puts
// the results back in (token, slot) order. Each dot product is the same as a
// dense matmul of that token by that expert's matrix, as in ggml.
#include "ops-math.h"
#include "moe.h"

#define MAX_EXPERTS 512

// ---------------------------------------------------------------------------
// routing

// void argsort_top_k_f32(const float* x, int32_t* ids, int n, int n_rows, int k, int ith, int nth)
// ids[r][0..k) = indices of the k largest values of row r, largest first
// (ggml_argsort_top_k: a descending argsort cut to k). Ties keep the lower index
// first; ggml's sort leaves their order unspecified.
void EXPORT(argsort_top_k_f32)(const float* x, int32_t* ids, int n, int n_rows, int k, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (size_t)r * n;
    int32_t* out = ids + (size_t)r * k;
    // insertion into a sorted list of k: k and n are small (<= 512)
    int m = 0;
    for (int j = 0; j < n; j++) {
      const float v = xr[j];
      if (m == k && !(v > xr[out[k - 1]])) continue;
      int p = m < k ? m++ : k - 1;
      while (p > 0 && v > xr[out[p - 1]]) {
        out[p] = out[p - 1];
        p--;
      }
      out[p] = j;
    }
  }
}

// void moe_weights_f32(const float* probs, const int32_t* ids, float* w, int n_expert, int k,
//                      int n_tok, int norm, float scale, int ith, int nth)
// w[t][s] = probs[t][ids[t][s]]; with norm, divided by their sum (summed in
// double as ggml_sum_rows does, clamped below at the smallest normal f16);
// then times scale unless scale is 0 or 1 (build_moe_ffn's w_scale).
void EXPORT(moe_weights_f32)(const float* probs, const int32_t* ids, float* w, int n_expert, int k,
                             int n_tok, int norm, float scale, int ith, int nth) {
  int t0, t1;
  rows_range(n_tok, ith, nth, &t0, &t1);
  for (int t = t0; t < t1; t++) {
    const float* p = probs + (size_t)t * n_expert;
    const int32_t* id = ids + (size_t)t * k;
    float* wt = w + (size_t)t * k;
    for (int s = 0; s < k; s++) wt[s] = p[id[s]];
    if (norm) {
      double sum = 0;
      for (int s = 0; s < k; s++) sum += (double)wt[s];
      float fs = (float)sum;
      if (fs < 6.103515625e-5f) fs = 6.103515625e-5f;
      for (int s = 0; s < k; s++) wt[s] = wt[s] / fs;
    }
    if (scale != 0.0f && scale != 1.0f)
      for (int s = 0; s < k; s++) wt[s] = wt[s] * scale;
  }
}

// void moe_combine_f32(const float* experts, const float* w, float* y, int n, int k, int n_tok,
//                      int ith, int nth)
// y[t] = experts[t][0] * w[t][0] + experts[t][1] * w[t][1] + ..., each product
// rounded, then added left to right (ggml_mul by the weights, then the adds
// of build_moe_ffn). experts: [n_tok][k][n]. w NULL: every weight 1, the plain
// sum of llama 4's experts, whose inputs were weighted instead (x * 1 is exact).
void EXPORT(moe_combine_f32)(const float* experts, const float* w, float* y, int n, int k, int n_tok,
                             int ith, int nth) {
  int e0, e1;
  flat_range(n_tok * n, ith, nth, &e0, &e1);
  for (int e = e0; e < e1;) {
    const int t = e / n, i0 = e % n;
    const int i1 = n - i0 < e1 - e ? n : i0 + (e1 - e);
    const float* et = experts + (size_t)t * k * n;
    const float* wt = w ? w + (size_t)t * k : NULL;
#define W(s) (wt ? wt[s] : 1.0f)
    float* yt = y + (size_t)t * n;
    int i = i0;
    for (; i + 4 <= i1; i += 4) {
      v128_t acc = wasm_f32x4_mul(wasm_v128_load(et + i), wasm_f32x4_splat(W(0)));
      for (int s = 1; s < k; s++)
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(et + (size_t)s * n + i), wasm_f32x4_splat(W(s))));
      wasm_v128_store(yt + i, acc);
    }
    for (; i < i1; i++) {
      float acc = et[i] * W(0);
      for (int s = 1; s < k; s++) acc += et[(size_t)s * n + i] * W(s);
      yt[i] = acc;
    }
#undef W
    e += i1 - i0;
  }
}

// void moe_add_id_f32(const float* x, const float* bias, const int32_t* ids, float* y, int n,
//                     int k, int n_tok, int ith, int nth)
// y[t][s] = x[t][s] + bias[ids[t][s]] (ggml_add_id: each expert output row
// plus its own expert's bias row; gpt-oss's biased experts). x, y: [n_tok][k][n]
// (y may be x); bias: [n_expert][n].
void EXPORT(moe_add_id_f32)(const float* x, const float* bias, const int32_t* ids, float* y, int n,
                            int k, int n_tok, int ith, int nth) {
  int r0, r1;
  rows_range(n_tok * k, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (size_t)r * n;
    const float* br = bias + (size_t)ids[r] * n;
    float* yr = y + (size_t)r * n;
    int i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(yr + i, wasm_f32x4_add(wasm_v128_load(xr + i), wasm_v128_load(br + i)));
    for (; i < n; i++) yr[i] = xr[i] + br[i];
  }
}

// ggml's silu, as silu_f32 (ops-unary.c) computes it.
static inline v128_t moe_silu_f32x4(v128_t x) {
  const v128_t e = ops_exp_f32x4(wasm_f32x4_neg(x));
  return wasm_f32x4_div(x, wasm_f32x4_add(wasm_f32x4_splat(1.0f), e));
}

// void mul_silu_gate_f32(const float* x, const float* g, float* y, int n, int n_rows, int ith, int nth)
// y[r] = x[r] * (silu(g[r]) / g[r]): qwen2moe's shared-expert gate, a
// sigmoid written as ggml_div(ggml_silu(g), g), one scalar per row.
void EXPORT(mul_silu_gate_f32)(const float* x, const float* g, float* y, int n, int n_rows, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const float gr = g[r];
    const float gate = wasm_f32x4_extract_lane(moe_silu_f32x4(wasm_f32x4_splat(gr)), 0) / gr;
    const v128_t vg = wasm_f32x4_splat(gate);
    const float* xr = x + (size_t)r * n;
    float* yr = y + (size_t)r * n;
    int i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(yr + i, wasm_f32x4_mul(wasm_v128_load(xr + i), vg));
    for (; i < n; i++) yr[i] = xr[i] * gate;
  }
}

// ---------------------------------------------------------------------------
// expert matmul (ggml_mul_mat_id)
//
// Scratch of one expert matmul, laid out by the caller:
//   meta:   int32 offsets[n_expert + 1] (start of each expert's group in
//           sorted order), then order[n_pairs] (the pair t*k + s at each
//           sorted position)
//   act:    n_pairs activation rows (vec_dot_type), in sorted order
//   sorted: n_pairs output rows of n_out floats, in sorted order

void quantize_row_q8_0(const float* x, void* y, int n);
void quantize_row_q8_1(const float* x, void* y, int n);
void quantize_row_q8_K(const float* x, void* y, int n);
void convert_row_f32_to_f16(const float* x, uint16_t* y, int n);
void convert_row_f32_to_bf16(const float* x, uint16_t* y, int n);

// ggml type ids of the vec_dot_types (formats/ggml-types.ts)
enum { VDT_F32 = 0, VDT_F16 = 1, VDT_Q8_0 = 8, VDT_Q8_1 = 9, VDT_Q8_K = 15, VDT_BF16 = 30 };

static void convert_row(int vdt, const float* x, void* y, int n) {
  switch (vdt) {
    case VDT_F32: memcpy(y, x, (size_t)n * sizeof(float)); break;
    case VDT_F16: convert_row_f32_to_f16(x, (uint16_t*)y, n); break;
    case VDT_BF16: convert_row_f32_to_bf16(x, (uint16_t*)y, n); break;
    case VDT_Q8_0: quantize_row_q8_0(x, y, n); break;
    case VDT_Q8_1: quantize_row_q8_1(x, y, n); break;
    case VDT_Q8_K: quantize_row_q8_K(x, y, n); break;
    default: __builtin_trap();
  }
}

// void moe_gather_rows(const int32_t* ids, int k, int n_tok, int n_expert, const float* x,
//                      int x_stride, int x_per_slot, int n, int vdt, int32_t* meta, void* act,
//                      int act_row_bytes, int ith, int nth)
// Groups the n_tok*k pairs by expert (stable: by token, then slot, within an
// expert) and writes each pair's activation row, converted to vdt, at its
// sorted position. x holds one row per token (x_per_slot = 0: the same input
// for every slot, as for the up and gate projections) or one row per pair
// (x_per_slot = 1: the down projection), rows x_stride bytes apart. Every
// thread computes the grouping and converts its share of the sorted
// positions; thread 0 also stores the grouping in meta.
void EXPORT(moe_gather_rows)(const int32_t* ids, int k, int n_tok, int n_expert, const float* x,
                             int x_stride, int x_per_slot, int n, int vdt, int32_t* meta, void* act,
                             int act_row_bytes, int ith, int nth) {
  if (n_expert > MAX_EXPERTS) __builtin_trap();
  const int n_pairs = n_tok * k;
  int off[MAX_EXPERTS + 1];
  int fill[MAX_EXPERTS];
  for (int e = 0; e <= n_expert; e++) off[e] = 0;
  for (int p = 0; p < n_pairs; p++) {
    const int e = ids[p];
    if (e < 0 || e >= n_expert) __builtin_trap();
    off[e + 1]++;
  }
  for (int e = 0; e < n_expert; e++) {
    off[e + 1] += off[e];
    fill[e] = off[e];
  }
  int q0, q1;
  rows_range(n_pairs, ith, nth, &q0, &q1);
  int32_t* order = meta + n_expert + 1;
  if (ith == 0)
    for (int e = 0; e <= n_expert; e++) meta[e] = off[e];
  for (int p = 0; p < n_pairs; p++) {
    const int q = fill[ids[p]]++;
    if (ith == 0) order[q] = p;
    if (q < q0 || q >= q1) continue;
    const int row = x_per_slot ? p : p / k;
    convert_row(vdt, (const float*)((const char*)x + (size_t)row * x_stride), (char*)act + (size_t)q * act_row_bytes, n);
  }
}

// mat_rows_id_<t>: see moe.h. The relaxed-SIMD module defines its own for the
// types it has kernels for, over those kernels (kernels/relaxed/moe-relaxed.c).
MAT_ROWS_ID(f32)
MAT_ROWS_ID(f16)
MAT_ROWS_ID(bf16)
MAT_ROWS_ID(q4_0)
MAT_ROWS_ID(q4_1)
MAT_ROWS_ID(q5_0)
MAT_ROWS_ID(q5_1)
MAT_ROWS_ID(q8_0)
MAT_ROWS_ID(q2_K)
MAT_ROWS_ID(q3_K)
MAT_ROWS_ID(q4_K)
MAT_ROWS_ID(q5_K)
MAT_ROWS_ID(q6_K)

// void moe_scatter_rows(const int32_t* meta, int n_expert, int n_pairs, const float* sorted,
//                       float* y, int n, int ith, int nth)
// y[order[q]] = sorted[q]: the expert outputs back in (token, slot) order.
void EXPORT(moe_scatter_rows)(const int32_t* meta, int n_expert, int n_pairs, const float* sorted,
                              float* y, int n, int ith, int nth) {
  int q0, q1;
  rows_range(n_pairs, ith, nth, &q0, &q1);
  const int32_t* order = meta + n_expert + 1;
  for (int q = q0; q < q1; q++)
    memcpy(y + (size_t)order[q] * n, sorted + (size_t)q * n, (size_t)n * sizeof(float));
}

// void moe_weighted_rows_f32(const float* x, const float* w, float* y, int n, int k, int n_tok,
//                            int ith, int nth)
// y[t][s] = x[t] * w[t][s]: each token's row once per chosen expert, times
// that expert's weight (llama 4 weights the experts' input, not their output:
// build_moe_ffn's ggml_repeat then ggml_mul). x: [n_tok][n], y: [n_tok][k][n].
void EXPORT(moe_weighted_rows_f32)(const float* x, const float* w, float* y, int n, int k, int n_tok,
                                   int ith, int nth) {
  int r0, r1;
  rows_range(n_tok * k, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const int t = r / k;
    const float* xt = x + (size_t)t * n;
    const v128_t ws = wasm_f32x4_splat(w[r]);
    float* yr = y + (size_t)r * n;
    int i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(yr + i, wasm_f32x4_mul(wasm_v128_load(xt + i), ws));
    for (; i < n; i++) yr[i] = xt[i] * w[r];
  }
}
