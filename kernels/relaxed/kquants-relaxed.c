// Q4_K and Q6_K with relaxed SIMD (see legacy-relaxed.c for the instruction
// and why its results are exact here: q4_K's nibbles and q6_K's quants + 32
// are 0..63, so the i7 operand never has its top bit set).
//
// The q8_K activation is used as stored (its int8 quants, bsums and d): no
// widened copy. Per group of 16 weights, one relaxed byte dot gives eight
// int16 pair sums; the group's 6- or 8-bit scale is then applied by
// i32x4.dot_i16x8_s against a splat of the scale, which also adds the pairs
// into int32 lanes (|pair sum| <= 2 * 128 * 63, times |scale| <= 128: exact).
// Everything to the end of a super-block is exact int32, then the f32 steps
// are ggml's: sum += (d * ad) * isum, and for q4_K msum += (dmin * ad) * mins.
//
// One weight decode serves a tile of tokens: rows outer, tokens inner, so a
// row (a few KiB) stays in L1 while the batch's activations (in L2) pass it.
// matvec is the one-token tile, so a batch gives the same bits as token by
// token (the f32 steps per row and token are the same, in the same order).
#include "../kquants.h"

#define RDOT(a, q) wasm_i16x8_relaxed_dot_i8x16_i7x16(a, q)
#define LOAD(p) wasm_v128_load(p)
// Token loops must unroll (their accumulators then live in registers, not in
// linear-memory stack arrays); the 64-weight steps around them must not, or
// V8 runs out of registers.
#define UNROLL _Pragma("clang loop unroll(full)")
#define NOUNROLL _Pragma("clang loop unroll(disable)")

// ---------------------------------------------------------------- q4_K

// qs[32c + l]: element 64c + l in the low nibble, 64c + 32 + l in the high.
#define DEFINE_TILE_q4_K(T)                                                                              \
  static void tile_q4_K_##T(const uint8_t* w, int row_bytes, const block_q8_K* const* y, const v128_t* const* b32, \
                            float* const* o, int nb, int r0, int r1) {                                   \
    const v128_t m4 = wasm_i8x16_const_splat(0x0F);                                                      \
    for (int r = r0; r < r1; r++) {                                                                      \
      const block_q4_K* x = (const block_q4_K*)(w + (size_t)r * row_bytes);                              \
      v128_t sum[T], msum[T];                                                                            \
      UNROLL for (int t = 0; t < T; t++) sum[t] = msum[t] = wasm_f32x4_const_splat(0.0f);                       \
      for (int i = 0; i < nb; i++, x++) {                                                                \
        const v128_t smv = unpack_scales_k4(x->scales);                                                  \
        const v128_t mins = wasm_u16x8_extend_high_u8x16(smv);                                           \
        uint8_t sm[16];                                                                                  \
        wasm_v128_store(sm, smv);                                                                        \
        v128_t acc[T];                                                                                   \
        UNROLL for (int t = 0; t < T; t++) acc[t] = wasm_i32x4_const_splat(0);                                  \
        NOUNROLL for (int c = 0; c < 4; c++) {                                                                    \
          const v128_t v0 = LOAD(x->qs + 32 * c), v1 = LOAD(x->qs + 32 * c + 16);                        \
          const v128_t l0 = wasm_v128_and(v0, m4), l1 = wasm_v128_and(v1, m4);                          \
          const v128_t h0 = wasm_v128_and(wasm_u16x8_shr(v0, 4), m4);                                    \
          const v128_t h1 = wasm_v128_and(wasm_u16x8_shr(v1, 4), m4);                                    \
          const v128_t slo = wasm_i16x8_splat(sm[2 * c]), shi = wasm_i16x8_splat(sm[2 * c + 1]);         \
          UNROLL for (int t = 0; t < T; t++) {                                                                  \
            const int8_t* q = y[t][i].qs + 64 * c;                                                       \
            const v128_t lo = wasm_i16x8_add(RDOT(LOAD(q), l0), RDOT(LOAD(q + 16), l1));                 \
            const v128_t hi = wasm_i16x8_add(RDOT(LOAD(q + 32), h0), RDOT(LOAD(q + 48), h1));            \
            acc[t] = wasm_i32x4_add(acc[t], wasm_i32x4_add(wasm_i32x4_dot_i16x8(lo, slo),                \
                                                           wasm_i32x4_dot_i16x8(hi, shi)));              \
          }                                                                                              \
        }                                                                                                \
        /* d and dmin (adjacent f16s) as f32 lanes 0 and 1, exactly as fp16_to_fp32 gives them */        \
        const v128_t dd = f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load32_zero(&x->d)));     \
        UNROLL for (int t = 0; t < T; t++) {                                                             \
          const v128_t mn = wasm_i32x4_dot_i16x8(mins, b32[t][i]);                                       \
          const v128_t p = wasm_f32x4_mul(dd, wasm_f32x4_splat(y[t][i].d)); /* d * ad, dmin * ad */       \
          sum[t] = wasm_f32x4_add(sum[t], wasm_f32x4_mul(wasm_i32x4_shuffle(p, p, 0, 0, 0, 0), wasm_f32x4_convert_i32x4(acc[t]))); \
          msum[t] = wasm_f32x4_add(msum[t], wasm_f32x4_mul(wasm_i32x4_shuffle(p, p, 1, 1, 1, 1), wasm_f32x4_convert_i32x4(mn))); \
        }                                                                                                \
      }                                                                                                  \
      UNROLL for (int t = 0; t < T; t++) o[t][r] = f32x4_hsum(wasm_f32x4_sub(sum[t], msum[t]));                \
    }                                                                                                    \
  }

// ---------------------------------------------------------------- q6_K

// Half h of 128 elements: ql[64h + l] holds element 128h + l (low nibble) and
// 128h + 64 + l (high), ql[64h + 32 + l] elements 128h + 32 + l and
// 128h + 96 + l, qh[32h + l] their top two bits in that order from bit 0.
// Per super-block of a q8_K row: sums of 32 from its bsums (q4_K's mins pair
// with them), made once per token instead of once per (row, token).
static inline void bsums32_q8_K(const block_q8_K* a, v128_t* out, int nb) {
  for (int i = 0; i < nb; i++)
    out[i] = wasm_i16x8_narrow_i32x4(wasm_i32x4_extadd_pairwise_i16x8(LOAD(a[i].bsums)),
                                     wasm_i32x4_extadd_pairwise_i16x8(LOAD(a[i].bsums + 8)));
}

#define DEFINE_TILE_q6_K(T)                                                                              \
  static void tile_q6_K_##T(const uint8_t* w, int row_bytes, const block_q8_K* const* y, const v128_t* const* b32, \
                            float* const* o, int nb, int r0, int r1) {                                   \
    (void)b32;                                                                                           \
    const v128_t m4 = wasm_i8x16_const_splat(0x0F), m6 = wasm_i8x16_const_splat(0x30);                  \
    for (int r = r0; r < r1; r++) {                                                                      \
      const block_q6_K* x = (const block_q6_K*)(w + (size_t)r * row_bytes);                              \
      v128_t sum[T];                                                                                     \
      UNROLL for (int t = 0; t < T; t++) sum[t] = wasm_f32x4_const_splat(0.0f);                                 \
      for (int i = 0; i < nb; i++, x++) {                                                                \
        const v128_t scv = LOAD(x->scales);                                                              \
        const v128_t sc_lo = wasm_i16x8_extend_low_i8x16(scv), sc_hi = wasm_i16x8_extend_high_i8x16(scv); \
        v128_t acc[T];                                                                                   \
        UNROLL for (int t = 0; t < T; t++) acc[t] = wasm_i32x4_const_splat(0);                                  \
        NOUNROLL for (int j = 0; j < 4; j++) {                                                                    \
          const int h = j >> 1, l0 = 16 * (j & 1);                                                       \
          const v128_t v1 = LOAD(x->ql + 64 * h + l0), v2 = LOAD(x->ql + 64 * h + 32 + l0);              \
          const v128_t hh = LOAD(x->qh + 32 * h + l0);                                                   \
          const v128_t q0 = wasm_v128_or(wasm_v128_and(v1, m4), wasm_v128_and(wasm_i16x8_shl(hh, 4), m6)); \
          const v128_t q1 = wasm_v128_or(wasm_v128_and(v2, m4), wasm_v128_and(wasm_i16x8_shl(hh, 2), m6)); \
          const v128_t q2 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v1, 4), m4), wasm_v128_and(hh, m6)); \
          const v128_t q3 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v2, 4), m4),                       \
                                         wasm_v128_and(wasm_u16x8_shr(hh, 2), m6));                      \
          /* scales of elements 128h + l0 + {0, 32, 64, 96}: indices 8h + l0/16 + {0, 2, 4, 6} */         \
          const int8_t* sc = x->scales + 8 * h + l0 / 16;                                                \
          const v128_t k0 = wasm_i16x8_splat(sc[0]), k1 = wasm_i16x8_splat(sc[2]);                       \
          const v128_t k2 = wasm_i16x8_splat(sc[4]), k3 = wasm_i16x8_splat(sc[6]);                       \
          UNROLL for (int t = 0; t < T; t++) {                                                                  \
            const int8_t* q = y[t][i].qs + 128 * h + l0;                                                 \
            const v128_t p01 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(q), q0), k0),               \
                                              wasm_i32x4_dot_i16x8(RDOT(LOAD(q + 32), q1), k1));         \
            const v128_t p23 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(q + 64), q2), k2),          \
                                              wasm_i32x4_dot_i16x8(RDOT(LOAD(q + 96), q3), k3));         \
            acc[t] = wasm_i32x4_add(acc[t], wasm_i32x4_add(p01, p23));                                   \
          }                                                                                              \
        }                                                                                                \
        const float d = fp16_to_fp32(x->d);                                                              \
        UNROLL for (int t = 0; t < T; t++) {                                                                    \
          const block_q8_K* a = &y[t][i];                                                                \
          /* the quants were used as 0..63: take away 32 * sum(scale * bsum) */                         \
          const v128_t off = wasm_i32x4_add(wasm_i32x4_dot_i16x8(sc_lo, LOAD(a->bsums)),                 \
                                            wasm_i32x4_dot_i16x8(sc_hi, LOAD(a->bsums + 8)));            \
          const v128_t isum = wasm_i32x4_sub(acc[t], wasm_i32x4_shl(off, 5));                            \
          sum[t] = wasm_f32x4_add(sum[t], wasm_f32x4_mul(wasm_f32x4_splat(d * a->d), wasm_f32x4_convert_i32x4(isum))); \
        }                                                                                                \
      }                                                                                                  \
      UNROLL for (int t = 0; t < T; t++) o[t][r] = f32x4_hsum(sum[t]);                                         \
    }                                                                                                    \
  }

// ---------------------------------------------------------------- entry points

// Tokens per tile in mul_mat; leftovers run as one-token tiles (matvec's path).
#define TILE 4

#define DEFINE_KQ(t)                                                                                     \
  DEFINE_TILE_##t(1)                                                                                     \
  DEFINE_TILE_##t(TILE)                                                                                  \
  void EXPORT(matvec_##t)(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1) { \
    const int nb = n / QK_K;                                                                             \
    v128_t bs[nb];                                                                                       \
    bsums32_q8_K((const block_q8_K*)a, bs, nb);                                                          \
    const block_q8_K* y[1] = {(const block_q8_K*)a};                                                     \
    const v128_t* b[1] = {bs};                                                                           \
    float* o[1] = {out};                                                                                 \
    tile_##t##_1((const uint8_t*)w, row_bytes, y, b, o, nb, r0, r1);                                     \
  }                                                                                                      \
  float EXPORT(vec_dot_##t##_q8_K)(int n, const void* w, const void* a) {                                \
    float out = 0.0f;                                                                                    \
    matvec_##t(w, 0, a, &out, n, 0, 1);                                                                  \
    return out;                                                                                          \
  }                                                                                                      \
  void EXPORT(mul_mat_##t)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out,      \
                           int out_stride, int n, int n_tok, int r0, int r1) {                           \
    const int nb = n / QK_K;                                                                             \
    v128_t bs[TILE][nb];                                                                                 \
    int tk = 0;                                                                                          \
    for (; tk + TILE <= n_tok; tk += TILE) {                                                             \
      const block_q8_K* y[TILE];                                                                         \
      const v128_t* b[TILE];                                                                             \
      float* o[TILE];                                                                                    \
      for (int j = 0; j < TILE; j++) {                                                                   \
        y[j] = (const block_q8_K*)((const uint8_t*)a + (size_t)(tk + j) * a_row_bytes);                  \
        bsums32_q8_K(y[j], bs[j], nb);                                                                   \
        b[j] = bs[j];                                                                                    \
        o[j] = out + (size_t)(tk + j) * out_stride;                                                      \
      }                                                                                                  \
      tile_##t##_##TILE((const uint8_t*)w, row_bytes, y, b, o, nb, r0, r1);                              \
    }                                                                                                    \
    for (; tk < n_tok; tk++) {                                                                           \
      const block_q8_K* y[1] = {(const block_q8_K*)((const uint8_t*)a + (size_t)tk * a_row_bytes)};      \
      bsums32_q8_K(y[0], bs[0], nb);                                                                     \
      const v128_t* b[1] = {bs[0]};                                                                      \
      float* o[1] = {out + (size_t)tk * out_stride};                                                     \
      tile_##t##_1((const uint8_t*)w, row_bytes, y, b, o, nb, r0, r1);                                   \
    }                                                                                                    \
  }                                                                                                      \
  void EXPORT(mat_rows_##t)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out,     \
                            int out_stride, int n, int n_tok, int n_rows, int ith, int nth) {            \
    int r0, r1;                                                                                          \
    rows_range(n_rows, ith, nth, &r0, &r1);                                                              \
    if (r0 < r1) mul_mat_##t(w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0, r1);           \
  }

DEFINE_KQ(q4_K)
DEFINE_KQ(q6_K)
