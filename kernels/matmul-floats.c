// Prefill for the float weight types: mul_mat_<t> multiplies an f32, f16 or
// bf16 weight matrix by a batch of activation rows (f32, f16, bf16: the
// weight type's vec_dot_type).
//
// Bit-identical to matvec_<t> (floats.c) token by token: each (row, token)
// has matvec's four f32x4 partial sums over steps of 16 columns, the same
// pairwise reduction, the same scalar tail and (f16/bf16) the same 8192-column
// chunks added to out.
//
// Unlike the quantized types there is no decode to share, only loads (and the
// f16 conversion), and each token needs its own four accumulators, so little
// is gained by sharing a weight vector across tokens in registers. What does
// pay is memory traffic: a 4096x4096 f32 matvec streams 64 MiB and runs at
// DRAM speed, so mul_mat_f32 keeps a row in L1 for a tile of tokens instead.
// Measured per type (one thread, 4096x4096, 64 tokens; bench/kernels.ts):
// - f32: each row once per MF_T32 tokens, the matvec dot per token: 2x.
// - f16: two tokens per pass over a row, sharing each weight load and f16
//   conversion: about 1.15x. The f32 scheme gains nothing here (f16 matvec is
//   not DRAM-bound at this size), nor do rows converted once to f32.
// - bf16: matvec per token. Its matvec is cheap per weight; every tiling
//   tried (two tokens per pass 0.8x, a row in L1 for 2 or 4 tokens 0.9-1.0x)
//   was slower or equal.
#include "common.h"

void matvec_f16(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);
void matvec_bf16(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);

// ---------------------------------------------------------------- f32

// floats.c's dot for one row and one token (what matvec_f32 runs per row).
static float mf_dot_f32(const float* w, const float* a, int n) {
  v128_t p0 = wasm_f32x4_splat(0.0f), p1 = p0, p2 = p0, p3 = p0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    p0 = wasm_f32x4_add(p0, wasm_f32x4_mul(wasm_v128_load(w + i), wasm_v128_load(a + i)));
    p1 = wasm_f32x4_add(p1, wasm_f32x4_mul(wasm_v128_load(w + i + 4), wasm_v128_load(a + i + 4)));
    p2 = wasm_f32x4_add(p2, wasm_f32x4_mul(wasm_v128_load(w + i + 8), wasm_v128_load(a + i + 8)));
    p3 = wasm_f32x4_add(p3, wasm_f32x4_mul(wasm_v128_load(w + i + 12), wasm_v128_load(a + i + 12)));
  }
  float s = f32x4_hsum(wasm_f32x4_add(wasm_f32x4_add(p0, p1), wasm_f32x4_add(p2, p3)));
  for (; i < n; i++) s += w[i] * a[i];
  return s;
}

// Tokens per pass over the rows: a row stays in L1 while their activations
// (MF_T32 x n floats, read in place) come from L2.
#define MF_T32 8

void EXPORT(mul_mat_f32)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                         int n, int n_tok, int r0, int r1) {
  for (int t0 = 0; t0 < n_tok; t0 += MF_T32) {
    const int nt = n_tok - t0 < MF_T32 ? n_tok - t0 : MF_T32;
    for (int r = r0; r < r1; r++) {
      const float* x = (const float*)((const uint8_t*)w + (size_t)r * row_bytes);
      for (int t = t0; t < t0 + nt; t++)
        out[(size_t)t * out_stride + r] = mf_dot_f32(x, (const float*)((const uint8_t*)a + (size_t)t * a_row_bytes), n);
    }
  }
}

// ---------------------------------------------------------------- f16

// f16 weights as f32 without their 2^112 factor, which the activation
// carries: floats.c's LOAD8_F16 and f16_elem.
#define MF_F16X4_UNSCALED(top) wasm_v128_and(wasm_i32x4_shr(top, 3), wasm_i32x4_const_splat((int32_t)0x8FFFE000u))
#define MF_LOAD8_F16(p, i, lo, hi) do { const v128_t h_ = wasm_v128_load((const uint16_t*)(p) + (i)); \
                                        lo = MF_F16X4_UNSCALED(bf16x8_lo_to_f32x4(h_)); \
                                        hi = MF_F16X4_UNSCALED(bf16x8_hi_to_f32x4(h_)); } while (0)

// Rows [r0, r1) of one chunk of cn columns against two activations a0, a1
// (f32 times 2^112): out0[r], out1[r] = (first ? 0 : out) + dot, each dot as
// floats.c's DEFINE_DOT forms it. The volatile stores keep V8 from hoisting
// the second token's loads above the first token's arithmetic.
static void mf_rows_f16(const uint8_t* w, size_t row_bytes, const float* a0, const float* a1, int n, float* out0,
                        float* out1, int r0, int r1, int first) {
  volatile v128_t sink;
  for (int r = r0; r < r1; r++) {
    const uint16_t* x = (const uint16_t*)(w + (size_t)r * row_bytes);
    v128_t p0 = wasm_f32x4_splat(0.0f), p1 = p0, p2 = p0, p3 = p0;
    v128_t q0 = p0, q1 = p0, q2 = p0, q3 = p0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
      v128_t x0, x1, x2, x3;
      MF_LOAD8_F16(x, i, x0, x1);
      MF_LOAD8_F16(x, i + 8, x2, x3);
      p0 = wasm_f32x4_add(p0, wasm_f32x4_mul(x0, wasm_v128_load(a0 + i)));
      p1 = wasm_f32x4_add(p1, wasm_f32x4_mul(x1, wasm_v128_load(a0 + i + 4)));
      p2 = wasm_f32x4_add(p2, wasm_f32x4_mul(x2, wasm_v128_load(a0 + i + 8)));
      p3 = wasm_f32x4_add(p3, wasm_f32x4_mul(x3, wasm_v128_load(a0 + i + 12)));
      sink = p3;
      q0 = wasm_f32x4_add(q0, wasm_f32x4_mul(x0, wasm_v128_load(a1 + i)));
      q1 = wasm_f32x4_add(q1, wasm_f32x4_mul(x1, wasm_v128_load(a1 + i + 4)));
      q2 = wasm_f32x4_add(q2, wasm_f32x4_mul(x2, wasm_v128_load(a1 + i + 8)));
      q3 = wasm_f32x4_add(q3, wasm_f32x4_mul(x3, wasm_v128_load(a1 + i + 12)));
      sink = q3;
    }
    float s = f32x4_hsum(wasm_f32x4_add(wasm_f32x4_add(p0, p1), wasm_f32x4_add(p2, p3)));
    float u = f32x4_hsum(wasm_f32x4_add(wasm_f32x4_add(q0, q1), wasm_f32x4_add(q2, q3)));
    for (; i < n; i++) {
      const float wi = fp16_unscaled(x + i);
      s += wi * a0[i];
      u += wi * a1[i];
    }
    out0[r] = first ? s : out0[r] + s;
    out1[r] = first ? u : out1[r] + u;
  }
  (void)sink;
}

// matvec_f16's activation: f32 times 2^112 (exact, finite for finite f16).
static void mf_f16_to_f32_scaled(const uint16_t* x, float* y, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const v128_t h = wasm_v128_load(x + i);
    wasm_v128_store(y + i, wasm_f32x4_mul(f16x8_lo_to_f32x4(h), wasm_f32x4_const_splat(F16_UNSCALE)));
    wasm_v128_store(y + i + 4, wasm_f32x4_mul(f16x8_hi_to_f32x4(h), wasm_f32x4_const_splat(F16_UNSCALE)));
  }
  for (; i < n; i++) y[i] = fp16_to_fp32(x[i]) * F16_UNSCALE;
}

// Pairs of tokens; their activations go to f32 one ACT_CHUNK at a time (64
// KiB of stack, in its own frame so that matvec_f16 for an odd last token
// does not stack on it), the chunks' sums added to out as matvec does.
__attribute__((noinline)) static void mf_pairs_f16(const void* w, int row_bytes, const void* a, int a_row_bytes,
                                                   float* out, int out_stride, int n, int n_pairs, int r0, int r1) {
  float af[2][ACT_CHUNK] __attribute__((aligned(16)));
  for (int t = 0; t < 2 * n_pairs; t += 2) {
    const uint16_t* a0 = (const uint16_t*)((const uint8_t*)a + (size_t)t * a_row_bytes);
    const uint16_t* a1 = (const uint16_t*)((const uint8_t*)a0 + a_row_bytes);
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
      const int cn = n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK;
      mf_f16_to_f32_scaled(a0 + c0, af[0], cn);
      mf_f16_to_f32_scaled(a1 + c0, af[1], cn);
      mf_rows_f16((const uint8_t*)w + (size_t)c0 * 2, (size_t)row_bytes, af[0], af[1], cn,
                  out + (size_t)t * out_stride, out + (size_t)(t + 1) * out_stride, r0, r1, c0 == 0);
    }
  }
}

void EXPORT(mul_mat_f16)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                         int n, int n_tok, int r0, int r1) {
  if (r0 >= r1) return;
  if (n_tok >= 2) mf_pairs_f16(w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok / 2, r0, r1);
  if (n_tok % 2)
    matvec_f16(w, row_bytes, (const uint8_t*)a + (size_t)(n_tok - 1) * a_row_bytes,
               out + (size_t)(n_tok - 1) * out_stride, n, r0, r1);
}

// ---------------------------------------------------------------- bf16

void EXPORT(mul_mat_bf16)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                          int n, int n_tok, int r0, int r1) {
  for (int t = 0; t < n_tok; t++)
    matvec_bf16(w, row_bytes, (const uint8_t*)a + (size_t)t * a_row_bytes, out + (size_t)t * out_stride, n, r0, r1);
}
