// Element-wise ops (add, mul, scale, silu, gelu, swiglu, geglu, softcap) and
// get_rows for f32 / f16 tables. Quantized get_rows is a dequantize_row_* per
// id, from the weight-type kernels.
//
// Element-wise ops split the flat element range in blocks of whole vectors;
// row tails go through the same SIMD math (zero-padded) as row bodies, so each
// element's bits do not depend on where a thread's range starts.
#include "ops-math.h"
#include <math.h>

// ---------------------------------------------------------------------------
// binary ops with a broadcast row operand

// For flat range [e0, e1) of a [n_rows][n] array, runs the body once per row
// piece: row r, columns [i0, i1).
#define FOR_ROW_PIECES(e0, e1, n, r, i0, i1, ...)                  \
  for (int e_ = (e0); e_ < (e1);) {                                \
    const int r = e_ / (n), i0 = e_ % (n);                         \
    const int i1 = (n) - i0 < (e1) - e_ ? (n) : i0 + ((e1) - e_);  \
    __VA_ARGS__;                                                   \
    e_ += i1 - i0;                                                 \
  }

#define BINARY_OP(name, VOP, SOP)                                                               \
  void EXPORT(name)(const float* a, const float* b, float* y, int n_rows, int n, int n_b_rows, \
                    int ith, int nth) {                                                         \
    int e0, e1;                                                                                 \
    flat_range(n_rows * n, ith, nth, &e0, &e1);                                             \
    FOR_ROW_PIECES(e0, e1, n, r, i0, i1, {                                                      \
      const float* ar = a + (size_t)r * n;                                                      \
      const float* br = b + (size_t)(r % n_b_rows) * n;                                         \
      float* yr = y + (size_t)r * n;                                                            \
      int i = i0;                                                                               \
      for (; i + 4 <= i1; i += 4)                                                               \
        wasm_v128_store(yr + i, VOP(wasm_v128_load(ar + i), wasm_v128_load(br + i)));          \
      for (; i < i1; i++) yr[i] = ar[i] SOP br[i];                                              \
    })                                                                                          \
  }

// void add_f32(const float* a, const float* b, float* y, int n_rows, int n, int n_b_rows,
//              int ith, int nth)
// y[r][i] = a[r][i] + b[r % n_b_rows][i]  (n_b_rows = 1: a bias row over every row)
BINARY_OP(add_f32, wasm_f32x4_add, +)

// void mul_f32(const float* a, const float* b, float* y, int n_rows, int n, int n_b_rows,
//              int ith, int nth)
// y[r][i] = a[r][i] * b[r % n_b_rows][i]  (n_b_rows = 1: a norm weight over every row)
BINARY_OP(mul_f32, wasm_f32x4_mul, *)

// void mul_rows_f32(const float* a, int a_stride, const float* b, int b_stride, float* y,
//                   int n_rows, int n, int ith, int nth)
// y[r][i] = a[r][i] * b[r][i], a's and b's rows a_stride / b_stride floats apart (views into
// a fused projection), y contiguous; threads split rows.
void EXPORT(mul_rows_f32)(const float* a, int a_stride, const float* b, int b_stride, float* y,
                          int n_rows, int n, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const float* ar = a + (size_t)r * a_stride;
    const float* br = b + (size_t)r * b_stride;
    float* yr = y + (size_t)r * n;
    int i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(yr + i, wasm_f32x4_mul(wasm_v128_load(ar + i), wasm_v128_load(br + i)));
    for (; i < n; i++) yr[i] = ar[i] * br[i];
  }
}

// void scale_f32(const float* x, float* y, int n, float s, int ith, int nth)
// y = x * s
void EXPORT(scale_f32)(const float* x, float* y, int n, float s, int ith, int nth) {
  int e0, e1;
  flat_range(n, ith, nth, &e0, &e1);
  const v128_t vs = wasm_f32x4_splat(s);
  int i = e0;
  for (; i + 4 <= e1; i += 4) wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(x + i), vs));
  for (; i < e1; i++) y[i] = x[i] * s;
}

// void attn_temp_scale_f32(const float* x, const int32_t* pos, float* y, int n, int n_rows,
//                          int floor_scale, float temp_scale, float offset, int ith, int nth)
// Row r (token r's q) times 1 + temp_scale * ln(floor((pos[r] + offset) / floor_scale) + 1):
// llama 4's attention temperature, which llama.cpp computes per token as
// llm_graph_input_attn_temp does (the floor in float, the log and the sum in
// double, rounded to float) and multiplies q by (ggml_mul).
void EXPORT(attn_temp_scale_f32)(const float* x, const int32_t* pos, float* y, int n, int n_rows,
                                 int floor_scale, float temp_scale, float offset, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const float fl = floorf(((float)pos[r] + offset) / (float)floor_scale);
    const float s = (float)(log((double)fl + 1.0) * (double)temp_scale + 1.0);
    const v128_t vs = wasm_f32x4_splat(s);
    const float* xr = x + (size_t)r * n;
    float* yr = y + (size_t)r * n;
    int i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(yr + i, wasm_f32x4_mul(wasm_v128_load(xr + i), vs));
    for (; i < n; i++) yr[i] = xr[i] * s;
  }
}

// ---------------------------------------------------------------------------
// activations

// ggml's silu: x / (1 + e^-x); large negative x gives x / inf = -0 as in ggml
static inline v128_t silu_f32x4(v128_t x) {
  const v128_t e = ops_exp_f32x4(wasm_f32x4_neg(x));
  return wasm_f32x4_div(x, wasm_f32x4_add(wasm_f32x4_splat(1.0f), e));
}

// void silu_f32(const float* x, float* y, int n, int ith, int nth)
void EXPORT(silu_f32)(const float* x, float* y, int n, int ith, int nth) {
  int e0, e1;
  flat_range(n, ith, nth, &e0, &e1);
  int i = e0;
  for (; i + 4 <= e1; i += 4) wasm_v128_store(y + i, silu_f32x4(wasm_v128_load(x + i)));
  if (i < e1) ops_store_partial(y + i, silu_f32x4(ops_load_partial(x + i, e1 - i)), e1 - i);
}

// Rows of a gated FFN: gate and up may be two halves of one fused tensor,
// hence their own row strides (floats); y is [n_rows][n].
#define GATED_OP(name, ...)                                                              \
  void EXPORT(name)(const float* gate, const float* up, float* y, int n_rows, int n,     \
                    int gate_stride, int up_stride, int ith, int nth) {                  \
    int e0, e1;                                                                          \
    flat_range(n_rows * n, ith, nth, &e0, &e1);                                      \
    FOR_ROW_PIECES(e0, e1, n, r, i0, i1, {                                               \
      const float* g = gate + (size_t)r * gate_stride;                                   \
      const float* u = up + (size_t)r * up_stride;                                       \
      float* yr = y + (size_t)r * n;                                                     \
      __VA_ARGS__                                                                        \
    })                                                                                   \
  }

// void swiglu_f32(const float* gate, const float* up, float* y, int n_rows, int n,
//                 int gate_stride, int up_stride, int ith, int nth)
// y = silu(gate) * up
GATED_OP(swiglu_f32, {
  int i = i0;
  for (; i + 4 <= i1; i += 4)
    wasm_v128_store(yr + i, wasm_f32x4_mul(silu_f32x4(wasm_v128_load(g + i)), wasm_v128_load(u + i)));
  if (i < i1) {
    const v128_t s = silu_f32x4(ops_load_partial(g + i, i1 - i));
    ops_store_partial(yr + i, wasm_f32x4_mul(s, ops_load_partial(u + i, i1 - i)), i1 - i);
  }
})

// void swiglu_oai_f32(const float* gate, const float* up, float* y, int n_rows, int n,
//                     int gate_stride, int up_stride, float alpha, float limit, int ith, int nth)
// gpt-oss's clamped GLU (ggml_swiglu_oai): x = min(gate, limit),
// u = clamp(up, -limit, limit), y = x / (1 + e^(alpha * -x)) * (u + 1).
// Scalar with libm's expf, as ggml's CPU op is (it has no vector path), so the
// sigmoid's exp is the same function.
void EXPORT(swiglu_oai_f32)(const float* gate, const float* up, float* y, int n_rows, int n,
                            int gate_stride, int up_stride, float alpha, float limit, int ith, int nth) {
  int e0, e1;
  flat_range(n_rows * n, ith, nth, &e0, &e1);
  FOR_ROW_PIECES(e0, e1, n, r, i0, i1, {
    const float* g = gate + (size_t)r * gate_stride;
    const float* u = up + (size_t)r * up_stride;
    float* yr = y + (size_t)r * n;
    for (int i = i0; i < i1; i++) {
      const float x = g[i] < limit ? g[i] : limit;
      const float uc = u[i] < -limit ? -limit : u[i] > limit ? limit : u[i];
      const float glu = x / (1.0f + expf(alpha * (-x)));
      yr[i] = glu * (uc + 1.0f);
    }
  })
}

// GELU as ggml's CPU backend computes it for f32 (GGML_GELU_FP16 is defined
// unconditionally in ggml-cpu's vec.h): x <= -10 -> 0, x >= 10 -> x, else a
// table lookup on x rounded to f16, holding the tanh-approximation GELU of each
// f16 value rounded to f16. Our table is built with a correctly rounded
// tanhf ((float)tanh(double)), the best guess for glibc's.
static uint16_t gelu_table[1 << 16];
static int gelu_table_ready;

static float gelu_tanh_f32(float x) {
  const float GELU_COEF_A = 0.044715f;
  const float SQRT_2_OVER_PI = 0.79788456080286535587989211986876f;
  const float inner = SQRT_2_OVER_PI * x * (1.0f + GELU_COEF_A * x * x);
  return 0.5f * x * (1.0f + (float)tanh((double)inner));
}

// Idempotent, so threads racing on the first call write the same bytes.
static void gelu_table_init(void) {
  if (__atomic_load_n(&gelu_table_ready, __ATOMIC_ACQUIRE)) return;
  for (int i = 0; i < (1 << 16); i++) gelu_table[i] = fp32_to_fp16(gelu_tanh_f32(fp16_to_fp32((uint16_t)i)));
  __atomic_store_n(&gelu_table_ready, 1, __ATOMIC_RELEASE);
}

static inline float gelu_lookup(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return fp16_to_fp32(gelu_table[fp32_to_fp16(x)]);
}

// void gelu_f32(const float* x, float* y, int n, int ith, int nth)
// The first call in a module instance builds a 128 KiB table (a few ms).
void EXPORT(gelu_f32)(const float* x, float* y, int n, int ith, int nth) {
  gelu_table_init();
  int e0, e1;
  flat_range(n, ith, nth, &e0, &e1);
  for (int i = e0; i < e1; i++) y[i] = gelu_lookup(x[i]);
}

// void geglu_f32(const float* gate, const float* up, float* y, int n_rows, int n,
//                int gate_stride, int up_stride, int ith, int nth)
// y = gelu(gate) * up (gelu as gelu_f32; gate <= -10 gives 0 whatever up is, as ggml)
void EXPORT(geglu_f32)(const float* gate, const float* up, float* y, int n_rows, int n,
                       int gate_stride, int up_stride, int ith, int nth) {
  gelu_table_init();
  int e0, e1;
  flat_range(n_rows * n, ith, nth, &e0, &e1);
  FOR_ROW_PIECES(e0, e1, n, r, i0, i1, {
    const float* g = gate + (size_t)r * gate_stride;
    const float* u = up + (size_t)r * up_stride;
    float* yr = y + (size_t)r * n;
    for (int i = i0; i < i1; i++) yr[i] = g[i] <= -10.0f ? 0.0f : gelu_lookup(g[i]) * u[i];
  })
}

// void softcap_f32(const float* x, float* y, int n, float cap, int ith, int nth)
// y = tanh(x * (1/cap)) * cap, as llama.cpp builds it (scale, tanh, scale) for
// gemma2's final logits.
void EXPORT(softcap_f32)(const float* x, float* y, int n, float cap, int ith, int nth) {
  int e0, e1;
  flat_range(n, ith, nth, &e0, &e1);
  const v128_t inv = wasm_f32x4_splat(1.0f / cap), vc = wasm_f32x4_splat(cap);
  int i = e0;
  for (; i + 4 <= e1; i += 4)
    wasm_v128_store(y + i, wasm_f32x4_mul(ops_tanh_f32x4(wasm_f32x4_mul(wasm_v128_load(x + i), inv)), vc));
  if (i < e1) {
    const v128_t t = ops_tanh_f32x4(wasm_f32x4_mul(ops_load_partial(x + i, e1 - i), inv));
    ops_store_partial(y + i, wasm_f32x4_mul(t, vc), e1 - i);
  }
}

// ---------------------------------------------------------------------------
// get_rows

// void get_rows_f32(const float* table, const int32_t* ids, float* y, int n_ids, int n,
//                   int ith, int nth)
// y[i] = table[ids[i]] (rows of n floats)
void EXPORT(get_rows_f32)(const float* table, const int32_t* ids, float* y, int n_ids, int n,
                          int ith, int nth) {
  int r0, r1;
  rows_range(n_ids, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++)
    memcpy(y + (size_t)r * n, table + (size_t)ids[r] * n, (size_t)n * sizeof(float));
}

// void get_rows_f16(const uint16_t* table, const int32_t* ids, float* y, int n_ids, int n,
//                   int ith, int nth)
// y[i] = f32(table[ids[i]]) (rows of n halves)
void EXPORT(get_rows_f16)(const uint16_t* table, const int32_t* ids, float* y, int n_ids, int n,
                          int ith, int nth) {
  int r0, r1;
  rows_range(n_ids, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) ops_row_f16_to_f32_exact(table + (size_t)ids[r] * n, y + (size_t)r * n, n);
}

// void sigmoid_f32(const float* x, float* y, int n, int ith, int nth)
// y = 1 / (1 + e^-x), scalar with libm's expf as ggml's CPU op (a router's
// sigmoid gating: GLM-4.x, DeepSeek V3), so the exp is the same function.
void EXPORT(sigmoid_f32)(const float* x, float* y, int n, int ith, int nth) {
  int e0, e1;
  flat_range(n, ith, nth, &e0, &e1);
  for (int i = e0; i < e1; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

// void concat_f32(const float* a, int a_stride, int na, const float* b, int b_stride, int nb,
//                 float* y, int n_rows, int ith, int nth)
// Row r of y (na + nb floats) is row r of a then row r of b (ggml_concat
// along dimension 0); strides in floats, so either may be a view.
void EXPORT(concat_f32)(const float* a, int a_stride, int na, const float* b, int b_stride, int nb,
                        float* y, int n_rows, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    float* yr = y + (size_t)r * (na + nb);
    memcpy(yr, a + (size_t)r * a_stride, (size_t)na * sizeof(float));
    memcpy(yr + na, b + (size_t)r * b_stride, (size_t)nb * sizeof(float));
  }
}

// void iota_rows_i32(int32_t* y, int k, int n_rows, int ith, int nth)
// y[r][s] = s for s < k: each row names slots 0..k-1 in order (the ids of a
// per-head batched matmul through the experts' mat_rows_id, head h = expert h).
void EXPORT(iota_rows_i32)(int32_t* y, int k, int n_rows, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++)
    for (int s = 0; s < k; s++) y[(size_t)r * k + s] = s;
}
