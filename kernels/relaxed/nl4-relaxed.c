// iq4_nl, iq4_xs and mxfp4 (nl4.h) with relaxed SIMD. The codes become
// levels with one swizzle per 16 (relaxed_swizzle: indices are 0..15), then
// i16x8.relaxed_dot_i8x16_i7x16_s, whose second operand must be 0..127.
//
// iq4_nl, iq4_xs: both the levels (-127..113) and the activation are
// signed. So the activation is split once per column chunk into its
// positive part p = max(a, 0) and its negative part m = max(-a, 0), both
// 0..127 (q8_0 and q8_K quants are in -127..127), and a level vector w dots
// as dot(w, p) - dot(w, m): each i16 lane of the two is a pair sum
// |w0 a0 + w1 a1| <= 2 * 127 * 127, and so is their difference, the exact
// pair sum of w * a. One row at a time (four rows side by side would need
// the same number of byte dots, plus transposes). Per 32-element block the
// pair sums widen to int32 (i32x4.dot_i16x8 by ones, or by iq4_xs's block
// scale), so every block's or super-block's sum is exact int32, as in the
// baseline kernels. iq4_nl collects four blocks' sums in one vector,
// converts once and multiplies by the four fl(d_w * d_a), into four f32
// lanes (lane j: blocks 4k + j); iq4_xs adds f32(isum) * fl(d_w * d_a) per
// super-block; the lanes are summed pairwise at the end of a column chunk.
//
// mxfp4: its levels plus 12 are 0..24, a valid second operand against the
// activation as stored, so it runs as q4_0 does in legacy-relaxed.c (four
// rows at a time, one per lane; see below).
//
// A batch runs the matvec's code per (row, token), so it gives the bits of
// token by token, and any row split the same bits.
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

// iq4_nl block b of a chunk (x: its bytes) as four i32 lanes.
static inline v128_t bsum_iq4_nl(v128_t levels, const block_iq4_nl* x, const nl4_act* a, int b) {
  return block32(levels, x->qs, a->p + 32 * b, a->m + 32 * b, wasm_i16x8_const_splat(1));
}

// One row's chunk of nb iq4_nl blocks against act: four blocks per step;
// the last step takes the remaining blocks with zeros (and zero scales) in
// the other lanes. The f16 scales convert exactly (inf and nan included).
static float dot_iq4_nl(const uint8_t* xb, const nl4_act* a, int nb) {
  const v128_t levels = iq4_levels();
  const block_iq4_nl* x = (const block_iq4_nl*)xb;
  v128_t acc = wasm_f32x4_const_splat(0.0f);
  int b = 0;
  for (; b + 4 <= nb; b += 4, x += 4) {
    const v128_t s = i32x4_hsum4(bsum_iq4_nl(levels, x, a, b), bsum_iq4_nl(levels, x + 1, a, b + 1),
                           bsum_iq4_nl(levels, x + 2, a, b + 2), bsum_iq4_nl(levels, x + 3, a, b + 3));
    const v128_t dw = f16x4_to_f32x4(wasm_i32x4_make(x[0].d, x[1].d, x[2].d, x[3].d));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), wasm_f32x4_mul(dw, LOAD(a->d + b))));
  }
  if (b < nb) {
    v128_t v[4];
    float d[4];
    for (int j = 0; j < 4; j++) {
      const int in = b + j < nb;
      v[j] = in ? bsum_iq4_nl(levels, x + j, a, b + j) : wasm_i32x4_const_splat(0);
      d[j] = in ? fp16_to_fp32(x[j].d) * a->d[b + j] : 0.0f;
    }
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(i32x4_hsum4(v[0], v[1], v[2], v[3])), LOAD(d)));
  }
  return f32x4_hsum(acc);
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

// ---------------------------------------------------------------- mxfp4: four rows at a time
// As q4_0 in legacy-relaxed.c: the four rows' blocks transposed in 4-byte
// groups, so after the swizzle a vector holds levels (plus 12) of four
// consecutive elements of each row, and the activation's four matching
// bytes are broadcast; the byte dots leave row j's block sum in lane j, and
// the float steps run once per block for four rows, in ggml's order per row
// (sum += f32(isum) * fl(d_w * d_a), block after block). The last group
// repeats row r1 - 1 and drops it.

// mxfp4's levels plus 12: 0..24, a valid 7-bit operand against the
// activation as stored; sum(a * level) = dot(a, level + 12) - 12 * sum(a).
static inline v128_t mxfp4_ulevels(void) {
  return wasm_i8x16_const(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0);
}

typedef struct {
  int32_t bias[NL4_CHUNK / 32];  // -12 * the block's sum of quants
  float d[NL4_CHUNK / 32];
} mx_act4;

static void prep_mx4(const block_q8_0* y, int nb, mx_act4* a) {
  for (int b = 0; b < nb; b++) {
    const v128_t s = wasm_i16x8_add(wasm_i16x8_extadd_pairwise_i8x16(LOAD(y[b].qs)), wasm_i16x8_extadd_pairwise_i8x16(LOAD(y[b].qs + 16)));
    a->bias[b] = -12 * i32x4_hsum(wasm_i32x4_extadd_pairwise_i16x8(s));
    a->d[b] = fp16_to_fp32(y[b].d);
  }
}

// Block b of rows x[0..3]: levels plus 12 of elements 4i.. (l[i]) and 16 + 4i.. (h[i]), four bytes per row; scales.
typedef struct { v128_t l[4], h[4], dw; } mx_rows4;

static inline mx_rows4 mx_decode4(const block_mxfp4* const x[4], int b) {
  const v128_t ul = mxfp4_ulevels(), m4 = wasm_i8x16_const_splat(0x0f);
  v128_t g[4];
  transpose4(LOAD(x[0][b].qs), LOAD(x[1][b].qs), LOAD(x[2][b].qs), LOAD(x[3][b].qs), g);
  mx_rows4 w;
  for (int i = 0; i < 4; i++) {
    w.l[i] = RSWZ(ul, wasm_v128_and(g[i], m4));
    w.h[i] = RSWZ(ul, wasm_v128_and(wasm_u16x8_shr(g[i], 4), m4));
  }
  w.dw = e8m0x4_half(wasm_i32x4_make(x[0][b].e, x[1][b].e, x[2][b].e, x[3][b].e));
  return w;
}

static inline void mx_rows4_tokens(const mx_rows4* w, const block_q8_0* const* y, const mx_act4* a, v128_t* acc, int nt, int b) {
  for (int t = 0; t < nt; t++) {
    const int8_t* q = y[t][b].qs;
    // |lane| <= 4 * 2 * 128 * 24 < 2^15 in each half
    const v128_t slo = wasm_i16x8_add(wasm_i16x8_add(RDOT(SPLAT4(q), w->l[0]), RDOT(SPLAT4(q + 4), w->l[1])),
                                      wasm_i16x8_add(RDOT(SPLAT4(q + 8), w->l[2]), RDOT(SPLAT4(q + 12), w->l[3])));
    const v128_t shi = wasm_i16x8_add(wasm_i16x8_add(RDOT(SPLAT4(q + 16), w->h[0]), RDOT(SPLAT4(q + 20), w->h[1])),
                                      wasm_i16x8_add(RDOT(SPLAT4(q + 24), w->h[2]), RDOT(SPLAT4(q + 28), w->h[3])));
    const v128_t s = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(slo), wasm_i32x4_extadd_pairwise_i16x8(shi)),
                                    wasm_i32x4_splat(a[t].bias[b]));
    const v128_t scale = wasm_f32x4_mul(w->dw, wasm_f32x4_splat(a[t].d[b]));
    acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), scale));
  }
}

void EXPORT(mul_mat_mxfp4)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                           int n, int n_tok, int r0, int r1) {
  mx_act4 act[MM_TOK];
  v128_t acc[MM_TOK];
  const block_q8_0* y[MM_TOK];
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    for (int c0 = 0; c0 < n; c0 += NL4_CHUNK) {
      const int nb = (n - c0 < NL4_CHUNK ? n - c0 : NL4_CHUNK) / 32;
      for (int t = 0; t < nt; t++) {
        y[t] = (const block_q8_0*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / 32;
        prep_mx4(y[t], nb, &act[t]);
      }
      for (int r = r0; r < r1; r += 4) {
        const block_mxfp4* x[4];
        for (int j = 0; j < 4; j++)
          x[j] = (const block_mxfp4*)((const uint8_t*)w + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes) + c0 / 32;
        if (nt == 1) {  // decode: the accumulator stays in a register
          v128_t s = wasm_f32x4_const_splat(0.0f);
          for (int b = 0; b < nb; b++) {
            const mx_rows4 wb = mx_decode4(x, b);
            mx_rows4_tokens(&wb, y, act, &s, 1, b);
          }
          acc[0] = s;
        } else {
          for (int t = 0; t < nt; t++) acc[t] = wasm_f32x4_const_splat(0.0f);
          for (int b = 0; b < nb; b++) {
            const mx_rows4 wb = mx_decode4(x, b);
            mx_rows4_tokens(&wb, y, act, acc, nt, b);
          }
        }
        for (int t = 0; t < nt; t++) store4(acc[t], out + (size_t)(t0 + t) * out_stride, r, r0, r1, c0 == 0);
      }
    }
  }
}

NL4_ENTRIES(mxfp4, q8_0)

DEFINE_NL4(iq4_nl, q8_0, 32, 18, nl4_act, split_q8_0)
DEFINE_NL4(iq4_xs, q8_K, QK_K, 136, nl4_act, split_q8_K)
