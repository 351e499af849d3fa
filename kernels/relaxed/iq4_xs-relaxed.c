// iq4_xs with relaxed SIMD (placeholder: the previous one-row kernel)
#include "../nl4.h"
#include "../legacy-blocks.h"
#include "../kquants.h"
#include "../moe.h"
#include "relaxed.h"

// Indices are always 0..15, where relaxed_swizzle is exact (and one
// pshufb on x86, where i8x16.swizzle adds a saturating add).
#define RSWZ wasm_i8x16_relaxed_swizzle
#define NL4_CHUNK 2048       // columns per activation chunk (matvec and batch alike)
#define NL4_TOK 4            // tokens per batch pass, their chunks on the stack together

// One token's chunk of activation: quants split into p and m, and the block
// scales as f32 (one per 32 elements: q8_0's d; for q8_K its d per 256).
typedef struct {
  int8_t p[NL4_CHUNK], m[NL4_CHUNK];
  float d[NL4_CHUNK / 32];
} nl4_act;

static inline void split32(const int8_t* q, int8_t* p, int8_t* m) {
  for (int h = 0; h < 32; h += 16) {
    const v128_t a = LOAD(q + h), z = wasm_i8x16_const_splat(0);
    const v128_t pa = wasm_i8x16_max(a, z);
    wasm_v128_store(p + h, pa);
    // p - a saturates at 127, so even an out-of-range -128 stays a valid 7-bit operand
    wasm_v128_store(m + h, wasm_i8x16_sub_sat(pa, a));
  }
}

// nb q8_K super-blocks into act.
static void split_q8_K(const block_q8_K* y, int nb, nl4_act* a) {
  for (int i = 0; i < nb; i++) {
    for (int b = 0; b < 8; b++) split32(y[i].qs + 32 * b, a->p + 256 * i + 32 * b, a->m + 256 * i + 32 * b);
    a->d[i] = y[i].d;
  }
}

// The exact pair sums (i16 lanes) of 16 levels w times the activation at p/m.
static inline v128_t pairs16(v128_t w, const int8_t* p, const int8_t* m) {
  return wasm_i16x8_sub(RDOT(w, LOAD(p)), RDOT(w, LOAD(m)));
}

// A 32-element block's sum as four i32 lanes (times the i16 scale vector sc).
static inline v128_t block32(v128_t levels, const uint8_t* qs, const int8_t* p, const int8_t* m, v128_t sc) {
  v128_t lo, hi;
  NL4_DECODE(RSWZ, levels, qs, lo, hi);
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(pairs16(lo, p, m), sc), wasm_i32x4_dot_i16x8(pairs16(hi, p + 16, m + 16), sc));
}

// One row's chunk of nb iq4_xs super-blocks against act.
static float dot_iq4_xs(const uint8_t* xb, const nl4_act* a, int nb) {
  const v128_t levels = iq4_levels();
  const block_iq4_xs* x = (const block_iq4_xs*)xb;
  v128_t acc = wasm_f32x4_const_splat(0.0f);
  for (int i = 0; i < nb; i++, x++) {
    // as int16 in memory: each scale is then one broadcast load
    int16_t sc[8];
    wasm_v128_store(sc, iq4_xs_scales(x));
    const int8_t *p = a->p + 256 * i, *m = a->m + 256 * i;
    v128_t isum = wasm_i32x4_const_splat(0);
    for (int ib = 0; ib < 8; ib++)
      isum = wasm_i32x4_add(isum, block32(levels, x->qs + 16 * ib, p + 32 * ib, m + 32 * ib, wasm_v128_load16_splat(sc + ib)));
    const float d = fp16_to_fp32(x->d) * a->d[i];
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d)));
  }
  return f32x4_hsum(acc);
}

// mul_mat_<W>: tokens in passes of NL4_TOK, columns in chunks of NL4_CHUNK
// (each token's chunk split once), then every row of [r0, r1) against every
// token of the pass; a chunk after the first adds to out.
#define DEFINE_NL4(W, A, QKW, BSZ, ACT, PREP)                                                                      \
  void EXPORT(mul_mat_##W)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out,   \
                           int out_stride, int n, int n_tok, int r0, int r1) {                         \
    ACT act[NL4_TOK];                                                                              \
    for (int t0 = 0; t0 < n_tok; t0 += NL4_TOK) {                                                      \
      const int nt = n_tok - t0 < NL4_TOK ? n_tok - t0 : NL4_TOK;                                      \
      for (int c0 = 0; c0 < n; c0 += NL4_CHUNK) {                                                      \
        const int nb = (n - c0 < NL4_CHUNK ? n - c0 : NL4_CHUNK) / (QKW);                              \
        for (int t = 0; t < nt; t++)                                                                   \
          PREP((const block_##A*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / (QKW), nb, &act[t]); \
        for (int r = r0; r < r1; r++) {                                                                \
          const uint8_t* x = (const uint8_t*)w + (size_t)r * row_bytes + (size_t)(c0 / (QKW)) * (BSZ); \
          for (int t = 0; t < nt; t++) {                                                               \
            const float s = dot_##W(x, &act[t], nb);                                                   \
            float* o = out + (size_t)(t0 + t) * out_stride + r;                                        \
            *o = c0 == 0 ? s : *o + s;                                                                 \
          }                                                                                            \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
  }                                                                                                    \
  NL4_ENTRIES(W, A)

// matvec_, vec_dot_, mat_rows_ and mat_rows_id_<W> over mul_mat_<W>.
#define NL4_ENTRIES(W, A)                                                                              \
  void EXPORT(matvec_##W)(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1) { \
    mul_mat_##W(w, row_bytes, a, 0, out, 0, n, 1, r0, r1);                                             \
  }                                                                                                    \
  float EXPORT(vec_dot_##W##_##A)(int n, const void* w, const void* a) {                               \
    float out;                                                                                         \
    mul_mat_##W(w, 0, a, 0, &out, 0, n, 1, 0, 1);                                                      \
    return out;                                                                                        \
  }                                                                                                    \
  void EXPORT(mat_rows_##W)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out,  \
                            int out_stride, int n, int n_tok, int n_rows, int ith, int nth) {          \
    int r0, r1;                                                                                        \
    rows_range(n_rows, ith, nth, &r0, &r1);                                                            \
    if (r0 < r1) mul_mat_##W(w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0, r1);         \
  }                                                                                                    \
  MAT_ROWS_ID(W)

DEFINE_NL4(iq4_xs, q8_K, QK_K, 136, nl4_act, split_q8_K)
