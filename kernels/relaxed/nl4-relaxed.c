// iq4_nl, mxfp4 and iq4_xs (nl4.h) with relaxed SIMD.
//
// i16x8.relaxed_dot_i8x16_i7x16_s needs its second operand in 0..127, and
// here both the levels and the activation are signed. So the activation is
// split once per column chunk into its positive part p = max(a, 0) and its
// negative part m = max(-a, 0), both 0..127 (q8_0 and q8_K quants are in
// -127..127), and a level vector w dots as dot(w, p) - dot(w, m): each i16
// lane of the two is a pair sum |w0 a0 + w1 a1| <= 2 * 127 * 127, and so is
// their difference, which is the exact pair sum of w * a. The levels come
// from one swizzle per 16 codes.
//
// One row at a time. Per 32-element block the i16 pair sums widen to int32
// (i32x4.dot_i16x8 by ones, or by iq4_xs's block scale), so every block's
// or super-block's sum is exact int32, as in the baseline kernels. The
// float steps: iq4_nl and mxfp4 collect four blocks' sums in one vector,
// convert once and multiply by the four fl(d_w * d_a), into four f32 lanes
// (lane j: blocks 4k + j); iq4_xs adds f32(isum) * fl(d_w * d_a) per
// super-block. Both sum the lanes pairwise at the end of a column chunk.
// A batch runs the matvec's code per (row, token), so it gives the bits of
// token by token, and any row split the same bits.
#include "../nl4.h"
#include "../legacy-blocks.h"
#include "../kquants.h"
#include "../moe.h"
#include "relaxed.h"

// (i8x16.relaxed_swizzle would save an op on x86, but the binaryen clang runs here predates its opcode)
#define RSWZ wasm_i8x16_swizzle
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

// nb q8_0 blocks (32 each) into act.
static void split_q8_0(const block_q8_0* y, int nb, nl4_act* a) {
  for (int b = 0; b < nb; b++) {
    split32(y[b].qs, a->p + 32 * b, a->m + 32 * b);
    a->d[b] = fp16_to_fp32(y[b].d);
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

// Lane j <- the sum of the lanes of v_j.
static inline v128_t hsum4(v128_t v0, v128_t v1, v128_t v2, v128_t v3) {
  const v128_t t0 = wasm_i32x4_add(wasm_i32x4_shuffle(v0, v1, 0, 4, 2, 6), wasm_i32x4_shuffle(v0, v1, 1, 5, 3, 7));
  const v128_t t1 = wasm_i32x4_add(wasm_i32x4_shuffle(v2, v3, 0, 4, 2, 6), wasm_i32x4_shuffle(v2, v3, 1, 5, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5), wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
}

// Weight scales as f32, exact: iq4_nl's f16 d, mxfp4's 2^(e-128) (e8m0_half):
// of one block at x, and of four blocks bsz bytes apart.
static inline float scale1_iq4_nl(const uint8_t* x) { return fp16_to_fp32(*(const uint16_t*)x); }
static inline float scale1_mxfp4(const uint8_t* x) { return e8m0_half(x[0]); }
static inline v128_t scales4_iq4_nl(const uint8_t* x, int bsz) {
  return f16x4_to_f32x4(wasm_i32x4_make(*(const uint16_t*)x, *(const uint16_t*)(x + bsz),
                                        *(const uint16_t*)(x + 2 * bsz), *(const uint16_t*)(x + 3 * bsz)));
}
static inline v128_t scales4_mxfp4(const uint8_t* x, int bsz) {
  const v128_t e = wasm_i32x4_make(x[0], x[bsz], x[2 * bsz], x[3 * bsz]);
  const v128_t normal = wasm_i32x4_shl(wasm_i32x4_sub(e, wasm_i32x4_const_splat(1)), 23);
  // e = 0: 2^-128 (bits 0x00200000), e = 1: 2^-127 (0x00400000)
  const v128_t tiny = wasm_i32x4_shl(wasm_i32x4_const_splat(0x00200000), 0);
  const v128_t sub = wasm_v128_bitselect(wasm_i32x4_add(tiny, tiny), tiny, wasm_i32x4_eq(e, wasm_i32x4_const_splat(1)));
  return wasm_v128_bitselect(sub, normal, wasm_i32x4_lt(e, wasm_i32x4_const_splat(2)));
}

// One row's chunk of nb 32-element blocks (bsz bytes each, codes at offset
// qoff) against act: four blocks per step; the last step takes the
// remaining blocks with zeros (and zero scales) in the other lanes.
#define DEFINE_DOT_Q8_0(W, LEVELS, BSZ, QOFF)                                                            \
  static float dot_##W(const uint8_t* x, const nl4_act* a, int nb) {                                    \
    const v128_t levels = LEVELS(), ones = wasm_i16x8_const_splat(1);                                   \
    v128_t acc = wasm_f32x4_const_splat(0.0f);                                                          \
    int b = 0;                                                                                          \
    for (; b + 4 <= nb; b += 4, x += 4 * (BSZ)) {                                                       \
      const int8_t *p = a->p + 32 * b, *m = a->m + 32 * b;                                              \
      const v128_t s = hsum4(block32(levels, x + (QOFF), p, m, ones),                                   \
                             block32(levels, x + (BSZ) + (QOFF), p + 32, m + 32, ones),                 \
                             block32(levels, x + 2 * (BSZ) + (QOFF), p + 64, m + 64, ones),             \
                             block32(levels, x + 3 * (BSZ) + (QOFF), p + 96, m + 96, ones));            \
      const v128_t d = wasm_f32x4_mul(scales4_##W(x, BSZ), LOAD(a->d + b));                             \
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), d));                        \
    }                                                                                                   \
    if (b < nb) {                                                                                       \
      v128_t v[4];                                                                                      \
      float d[4];                                                                                       \
      for (int j = 0; j < 4; j++) {                                                                     \
        const int in = b + j < nb;                                                                      \
        v[j] = in ? block32(levels, x + j * (BSZ) + (QOFF), a->p + 32 * (b + j), a->m + 32 * (b + j), ones) \
                  : wasm_i32x4_const_splat(0);                                                          \
        d[j] = in ? scale1_##W(x + j * (BSZ)) * a->d[b + j] : 0.0f;                                     \
      }                                                                                                 \
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(hsum4(v[0], v[1], v[2], v[3])), LOAD(d))); \
    }                                                                                                   \
    return f32x4_hsum(acc);                                                                             \
  }

DEFINE_DOT_Q8_0(iq4_nl, iq4_levels, 18, 2)
DEFINE_DOT_Q8_0(mxfp4, mxfp4_levels, 17, 1)

// One row's chunk of nb iq4_xs super-blocks against act.
static float dot_iq4_xs(const uint8_t* xb, const nl4_act* a, int nb) {
  const v128_t levels = iq4_levels();
  const block_iq4_xs* x = (const block_iq4_xs*)xb;
  v128_t acc = wasm_f32x4_const_splat(0.0f);
  for (int i = 0; i < nb; i++, x++) {
    const v128_t sc = iq4_xs_scales(x);
    const int8_t *p = a->p + 256 * i, *m = a->m + 256 * i;
    v128_t isum = wasm_i32x4_add(block32(levels, x->qs, p, m, wasm_i16x8_shuffle(sc, sc, 0, 0, 0, 0, 0, 0, 0, 0)),
                                 block32(levels, x->qs + 16, p + 32, m + 32, wasm_i16x8_shuffle(sc, sc, 1, 1, 1, 1, 1, 1, 1, 1)));
    isum = wasm_i32x4_add(isum, wasm_i32x4_add(block32(levels, x->qs + 32, p + 64, m + 64, wasm_i16x8_shuffle(sc, sc, 2, 2, 2, 2, 2, 2, 2, 2)),
                                               block32(levels, x->qs + 48, p + 96, m + 96, wasm_i16x8_shuffle(sc, sc, 3, 3, 3, 3, 3, 3, 3, 3))));
    isum = wasm_i32x4_add(isum, wasm_i32x4_add(block32(levels, x->qs + 64, p + 128, m + 128, wasm_i16x8_shuffle(sc, sc, 4, 4, 4, 4, 4, 4, 4, 4)),
                                               block32(levels, x->qs + 80, p + 160, m + 160, wasm_i16x8_shuffle(sc, sc, 5, 5, 5, 5, 5, 5, 5, 5))));
    isum = wasm_i32x4_add(isum, wasm_i32x4_add(block32(levels, x->qs + 96, p + 192, m + 192, wasm_i16x8_shuffle(sc, sc, 6, 6, 6, 6, 6, 6, 6, 6)),
                                               block32(levels, x->qs + 112, p + 224, m + 224, wasm_i16x8_shuffle(sc, sc, 7, 7, 7, 7, 7, 7, 7, 7))));
    const float d = fp16_to_fp32(x->d) * a->d[i];
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d)));
  }
  return f32x4_hsum(acc);
}

// mul_mat_<W>: tokens in passes of NL4_TOK, columns in chunks of NL4_CHUNK
// (each token's chunk split once), then every row of [r0, r1) against every
// token of the pass; a chunk after the first adds to out.
#define DEFINE_NL4(W, A, QKW, BSZ)                                                                      \
  void EXPORT(mul_mat_##W)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out,   \
                           int out_stride, int n, int n_tok, int r0, int r1) {                         \
    nl4_act act[NL4_TOK];                                                                              \
    for (int t0 = 0; t0 < n_tok; t0 += NL4_TOK) {                                                      \
      const int nt = n_tok - t0 < NL4_TOK ? n_tok - t0 : NL4_TOK;                                      \
      for (int c0 = 0; c0 < n; c0 += NL4_CHUNK) {                                                      \
        const int nb = (n - c0 < NL4_CHUNK ? n - c0 : NL4_CHUNK) / (QKW);                              \
        for (int t = 0; t < nt; t++)                                                                   \
          split_##A((const block_##A*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / (QKW), nb, &act[t]); \
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

DEFINE_NL4(iq4_nl, q8_0, 32, 18)
DEFINE_NL4(mxfp4, q8_0, 32, 17)
DEFINE_NL4(iq4_xs, q8_K, QK_K, 136)
