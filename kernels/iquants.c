// The 4-bit codebook types in the baseline build: iq4_nl and mxfp4 (32-element
// blocks against q8_0 activations, as ggml_vec_dot_iq4_nl_q8_0 /
// ggml_vec_dot_mxfp4_q8_0) and iq4_xs (256-element super-blocks with 6-bit
// block scales, against q8_K, as ggml_vec_dot_iq4_xs_q8_K). Block layouts,
// levels and scales are in nl4.h; the scalar references in
// formats/quant/iq4.ts and mxfp4.ts.
//
// mxfp4: the activation is widened to int16 once per column chunk, each
// group of 16 as its 8 even-index values then its 8 odd-index ones (as
// kquants-dot.c does). One i8x16.swizzle turns 16 codes into their levels;
// read as u16 lanes, a shift pair gives the even elements' levels as int16
// and one arithmetic shift the odd ones', so two i32x4.dot_i16x8 take 16
// products, exact, into int32. Each block's integer sum is then scaled in
// f32 by fl(d_w * d_a), four blocks' sums converted and scaled at once into
// four f32 lanes (lane j: blocks 4k + j), the lanes summed pairwise at the
// end of a chunk.
//
// iq4_nl and iq4_xs: four rows at a time with the relaxed kernels' integers
// and float steps (see below), about Q4_K's speed.
#include "rowdot.h"
#include "legacy-blocks.h"
#include "kquants.h"
// (nl4.h: keep iq4_xs_scales' multiply a multiply)
#define NL4_OPAQUE(v) __asm__("" : "+r"(v))
#include "nl4.h"

#define NL4_CHUNK 2048  // columns per prepared activation chunk

typedef struct {
  int16_t q[NL4_CHUNK];     // widened quants, groups of 16 as even then odd elements
  float d[NL4_CHUNK / 32];  // q8_0: each block's d; q8_K: each super-block's
} nl4_act16;

static inline void widen16(const int8_t* q, int16_t* o) {
  v128_t v = wasm_v128_load(q);
  v = wasm_i8x16_shuffle(v, v, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  wasm_v128_store(o, wasm_i16x8_extend_low_i8x16(v));
  wasm_v128_store(o + 8, wasm_i16x8_extend_high_i8x16(v));
}

static void prep_q8_0(const block_q8_0* y, int nb, nl4_act16* a) {
  for (int b = 0; b < nb; b++) {
    widen16(y[b].qs, a->q + 32 * b);
    widen16(y[b].qs + 16, a->q + 32 * b + 16);
    a->d[b] = fp16_to_fp32(y[b].d);
  }
}

// 16 levels (bytes, elements in order) times a widened group, as four i32 lanes.
static inline v128_t dot16_levels(v128_t lv, const int16_t* a) {
  const v128_t even = wasm_i16x8_shr(wasm_i16x8_shl(lv, 8), 8), odd = wasm_i16x8_shr(lv, 8);
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(even, wasm_v128_load(a)), wasm_i32x4_dot_i16x8(odd, wasm_v128_load(a + 8)));
}

// A 32-element block's exact sum of level * activation, as four i32 lanes.
static inline v128_t nl4_block32(v128_t levels, const uint8_t* qs, const int16_t* a) {
  v128_t lo, hi;
  NL4_DECODE(wasm_i8x16_swizzle, levels, qs, lo, hi);
  return wasm_i32x4_add(dot16_levels(lo, a), dot16_levels(hi, a + 16));
}

#define IQ4_NL_SCALE(x) fp16_to_fp32((x)->d)
#define MXFP4_SCALE(x) e8m0_half((x)->e)
#define IQ4_NL_SCALES4(x) f16x4_to_f32x4(wasm_i32x4_make((x)[0].d, (x)[1].d, (x)[2].d, (x)[3].d))
#define MXFP4_SCALES4(x) e8m0x4_half(wasm_i32x4_make((x)[0].e, (x)[1].e, (x)[2].e, (x)[3].e))

// dot_<W> of a q8_0-activated type over a chunk: four blocks per step; the
// last step takes the remaining blocks with zeros (and zero scales) in the
// other lanes.
#define DEFINE_NL4_Q8_0(W, LEVELS, SCALE, SCALES4)                                                   \
  static float dot_##W(const block_##W* x, const nl4_act16* a, int nb) {                            \
    const v128_t levels = LEVELS();                                                                 \
    v128_t acc = wasm_f32x4_splat(0.0f);                                                            \
    int b = 0;                                                                                      \
    for (; b + 4 <= nb; b += 4, x += 4) {                                                           \
      const int16_t* q = a->q + 32 * b;                                                             \
      const v128_t s = i32x4_hsum4(nl4_block32(levels, x[0].qs, q), nl4_block32(levels, x[1].qs, q + 32), \
                                   nl4_block32(levels, x[2].qs, q + 64), nl4_block32(levels, x[3].qs, q + 96)); \
      const v128_t d = wasm_f32x4_mul(wasm_v128_load(a->d + b), SCALES4(x));                        \
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), d));                    \
    }                                                                                               \
    if (b < nb) {                                                                                   \
      v128_t v[4];                                                                                  \
      float d[4];                                                                                   \
      for (int j = 0; j < 4; j++) {                                                                 \
        const int in = b + j < nb;                                                                  \
        v[j] = in ? nl4_block32(levels, x[j].qs, a->q + 32 * (b + j)) : wasm_i32x4_splat(0);        \
        d[j] = in ? a->d[b + j] * SCALE(&x[j]) : 0.0f;                                              \
      }                                                                                             \
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(i32x4_hsum4(v[0], v[1], v[2], v[3])), \
                                               wasm_v128_load(d)));                                 \
    }                                                                                               \
    return f32x4_hsum(acc);                                                                         \
  }                                                                                                 \
  DEFINE_ROW_KERNELS_PREP(W, q8_0, 32, nl4_act16, prep_q8_0, NL4_CHUNK)

DEFINE_NL4_Q8_0(mxfp4, mxfp4_levels, MXFP4_SCALE, MXFP4_SCALES4)

// ---------------------------------------------------------------------------
// iq4_nl and iq4_xs: four rows at a time, one row per lane at the end, as
// the relaxed kernels (relaxed/nl4-relaxed.c, iq4_xs-relaxed.c) do, with
// their integers and float steps, so both builds give the same bits.
//
// A swizzle gives 16 levels s (bytes, elements 2k and 2k+1 in u16 lane k);
// read as i16 lanes they are u8(s_2k) + 256 * s_2k+1. The low byte must be
// unsigned for that to be exact: flipping its top bit (xor 0x0080) makes it
// s_2k + 128, and one arithmetic shift gives s_2k+1 alone. Against the
// activation prepared per 16 as A = a_2k and B = a_2k+1 - 256 * a_2k:
//   dot(X, A) + dot(X >> 8, B) = sum s * a + 128 * sum a_2k,
// two i32x4.dot_i16x8 per 16 weights after one xor and one shift, where a
// sign extension of each half takes three shifts and an unsigned split two
// ops. The 128 * sum a_2k comes back per block (bias). Exact: |B| <= 127 +
// 256 * 127 < 2^15 (q8_0 and q8_K quants are within -127..127), and the two
// dots pair the same i16 lanes, so the 256 * s_2k+1 * a_2k terms cancel
// within each i32 lane: a lane holds four elements' (s + 128 or s) * a.
//
// Each row's block (iq4_nl) or super-block (iq4_xs, its block sums times
// their 6-bit scales in int32) sums are reduced to row j's exact int32 sum
// in lane j (i32x4_hsum4), then per block or super-block
// acc += f32(isum) * fl(d_w * d_a), rows side by side in lanes; chunks of
// ACT_CHUNK columns are added to out after the first. The four rows share
// the activation loads. Rows past r1 in the last group repeat row r1 - 1
// and are dropped. A batch decodes each row's block once for a pass of up
// to IQ4_TOK tokens (their activations at constant offsets from the first
// token's: V8 folds those into the loads, where per-token addresses were
// computed and spilled), with the one-token steps per (row, token).
//
// 4096x4096, one thread, CPU time, baseline build, medians of alternating
// rounds on a shared machine, each relative to Q4_K's matvec (mul_mat for
// the 64-token batch) in the same run: iq4_nl 1.8x before, 1.04-1.13x;
// iq4_xs 1.7-1.76x before, 1.02-1.07x; batch iq4_nl 2.3-2.6x before,
// 1.12x, iq4_xs 3.2x before, 1.12-1.15x. The hot loop per 32 weights and
// row: a load, three ops for the nibbles, two swizzles (three x64
// instructions each without relaxed SIMD: V8 saturates the indices first),
// an xor and a shift per 16, four dots and three adds; per four rows and
// block the hsum4 (nine instructions) and the f32 step. Tried and dropped:
// a two-block unroll of the iq4_nl loop (1.03x slower). Without the PINs
// (relaxed/relaxed.h) V8 loads every row's codes at the top of the step and
// spills: iq4_nl 1.05x slower (measured together with the d of four rows by
// load16_lane). iq4_xs: PIN_KEEP, PIN or none are within a few percent
// of each other (this machine's run-to-run spread). iq4_xs_scales'
// multiply kept a multiply (NL4_OPAQUE, nl4.h): 1.06x.

#define ALWAYS __attribute__((always_inline)) static inline
#define NOUNROLL _Pragma("clang loop unroll(disable)")
#define IQ4_TOK 8  // tokens per pass of a batch (their prepared activation chunks, 18.5 KiB each, on the stack)

typedef struct {
  int16_t q[ACT_CHUNK];       // per 16 elements: A (a_2k), then B (a_2k+1 - 256 a_2k)
  float d[ACT_CHUNK / 32];    // iq4_nl: each block's d times 2^112 (fp16_unscaled weights); iq4_xs: each super-block's d
  int32_t bias[ACT_CHUNK / 32];  // iq4_nl: -128 * the block's sum of even-index quants
  int16_t even[ACT_CHUNK / 32];  // iq4_xs: each block's sum of even-index quants
} iq4_act;

// 16 quants to A and B at o; returns the even quants' pairwise sums (i16 lanes).
ALWAYS v128_t iq4_prep16(const int8_t* q, int16_t* o) {
  const v128_t v = wasm_v128_load(q);
  const v128_t e = wasm_i16x8_shr(wasm_i16x8_shl(v, 8), 8), od = wasm_i16x8_shr(v, 8);
  wasm_v128_store(o, e);
  wasm_v128_store(o + 8, wasm_i16x8_sub(od, wasm_i16x8_shl(e, 8)));
  return e;
}

// The even quants' sum of 32 at q.
ALWAYS int iq4_prep32(const int8_t* q, int16_t* o) {
  const v128_t e = wasm_i16x8_add(iq4_prep16(q, o), iq4_prep16(q + 16, o + 16));
  return i32x4_hsum(wasm_i32x4_extadd_pairwise_i16x8(e));
}

static void iq4_nl_prep(const block_q8_0* y, int nb, iq4_act* a) {
  for (int b = 0; b < nb; b++) {
    a->bias[b] = -128 * iq4_prep32(y[b].qs, a->q + 32 * b);
    a->d[b] = fp16_to_fp32(y[b].d) * F16_UNSCALE;
  }
}

static void iq4_xs_prep(const block_q8_K* y, int nb, iq4_act* a) {
  for (int i = 0; i < nb; i++) {
    for (int b = 0; b < QK_K / 32; b++) a->even[8 * i + b] = (int16_t)iq4_prep32(y[i].qs + 32 * b, a->q + QK_K * i + 32 * b);
    a->d[i] = y[i].d;
  }
}

// One row's 32-element block (16 code bytes at qs) decoded: X and X >> 8
// of its low and high nibbles' levels.
typedef struct { v128_t xl, ol, xh, oh; } iq4_dec;

ALWAYS iq4_dec iq4_decode(v128_t levels, const uint8_t* qs) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), flip = wasm_i16x8_const_splat(0x0080);
  const v128_t v = wasm_v128_load(qs);
  const v128_t lo = wasm_i8x16_swizzle(levels, wasm_v128_and(v, m4));
  const v128_t hi = wasm_i8x16_swizzle(levels, wasm_v128_and(wasm_u16x8_shr(v, 4), m4));
  return (iq4_dec){wasm_v128_xor(lo, flip), wasm_i16x8_shr(lo, 8), wasm_v128_xor(hi, flip), wasm_i16x8_shr(hi, 8)};
}

ALWAYS v128_t iq4_dec_dot(const iq4_dec* w, const int16_t* p) {
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(w->xl, wasm_v128_load(p)), wasm_i32x4_dot_i16x8(w->ol, wasm_v128_load(p + 8))),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(w->xh, wasm_v128_load(p + 16)), wasm_i32x4_dot_i16x8(w->oh, wasm_v128_load(p + 24))));
}

// Its sum against prepared quants p: sum s * a + 128 * sum a_2k as four i32 lanes.
ALWAYS v128_t iq4_block(v128_t levels, const uint8_t* qs, const int16_t* p) {
  const iq4_dec w = iq4_decode(levels, qs);
  return iq4_dec_dot(&w, p);
}

// See relaxed/relaxed.h: a store ordered among the loads, after which
// clang reloads what it had loaded (the memory clobber). PIN_KEEP is the
// store alone: clang may keep values across it (iq4_xs: its activation
// vectors and scales, where PIN reloads them per pair of rows).
#define PIN(v, slot)                  \
  do {                                \
    *(volatile v128_t*)&(slot) = (v); \
    __asm__ volatile("" ::: "memory"); \
  } while (0)
#define PIN_KEEP(v, slot) (*(volatile v128_t*)&(slot) = (v))

// fp16_unscaled (common.h) of four rows' block d (the first field at each
// x_j): each loaded into the high half of an i32 lane, shifted down
// arithmetically (sign-extended, << 13) and masked.
ALWAYS v128_t iq4_nl_dw4(const uint8_t* x0, const uint8_t* x1, const uint8_t* x2, const uint8_t* x3) {
  v128_t h = wasm_i32x4_const_splat(0);
  h = wasm_v128_load16_lane(x0, h, 1);
  h = wasm_v128_load16_lane(x1, h, 3);
  h = wasm_v128_load16_lane(x2, h, 5);
  h = wasm_v128_load16_lane(x3, h, 7);
  return wasm_v128_and(wasm_i32x4_shr(h, 3), wasm_i32x4_const_splat((int32_t)0x8FFFE000u));
}

// Rows x[0..3]' chunk of nb blocks: lane j = row j's sum. Pointers are
// bumped (V8 folds only constant offsets into a load's address).
static v128_t iq4_nl_group(const block_iq4_nl* const x[4], const iq4_act* a, int nb) {
  const v128_t levels = iq4_levels();
  v128_t acc = wasm_f32x4_const_splat(0.0f);
  const uint8_t *x0 = (const uint8_t*)x[0], *x1 = (const uint8_t*)x[1], *x2 = (const uint8_t*)x[2], *x3 = (const uint8_t*)x[3];
  const int16_t* p = a->q;
  const float* ad = a->d;
  const int32_t* bias = a->bias;
  v128_t pins[2];
  NOUNROLL for (int b = 0; b < nb; b++, p += 32, ad++, bias++, x0 += 18, x1 += 18, x2 += 18, x3 += 18) {
    // PIN (stack stores) after each pair of rows keeps V8 from loading every
    // row's codes at the top of the step and spilling
    const v128_t s0 = iq4_block(levels, x0 + 2, p), s1 = iq4_block(levels, x1 + 2, p);
    PIN(s1, pins[0]);
    const v128_t s2 = iq4_block(levels, x2 + 2, p), s3 = iq4_block(levels, x3 + 2, p);
    PIN(s3, pins[1]);
    const v128_t isum = wasm_i32x4_add(i32x4_hsum4(s0, s1, s2, s3), wasm_v128_load32_splat(bias));
    const v128_t dw = iq4_nl_dw4(x0, x1, x2, x3);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(dw, wasm_v128_load32_splat(ad))));
  }
  return acc;
}

// Rows x[0..3]' super-blocks: per block, the four rows against shared
// activation loads, each block sum times its 6-bit scale (minus 32) into
// row j's int32 sum, exact (|isum| <= 256 * 32 * 241 * 127 < 2^28).
static v128_t iq4_xs_group(const block_iq4_xs* const x[4], const iq4_act* a, int nb) {
  const v128_t levels = iq4_levels();
  v128_t acc = wasm_f32x4_const_splat(0.0f);
  int32_t sc[4][8];
  v128_t pins[2];
  for (int i = 0; i < nb; i++) {
    const int16_t* p = a->q + QK_K * i;
    const v128_t even = wasm_v128_load(a->even + 8 * i);
    v128_t is[4];
    for (int j = 0; j < 4; j++) {
      const v128_t scv = iq4_xs_scales(x[j] + i);
      wasm_v128_store(sc[j], wasm_i32x4_extend_low_i16x8(scv));
      wasm_v128_store(sc[j] + 4, wasm_i32x4_extend_high_i16x8(scv));
      // the levels' +128 on even elements: 128 * sum_b (s_b - 32) * even_b
      is[j] = wasm_i32x4_mul(wasm_i32x4_dot_i16x8(scv, even), wasm_i32x4_const_splat(-128));
    }
    const uint8_t *q0 = x[0][i].qs, *q1 = x[1][i].qs, *q2 = x[2][i].qs, *q3 = x[3][i].qs;
    const int32_t *s0 = sc[0], *s1 = sc[1], *s2 = sc[2], *s3 = sc[3];
    NOUNROLL for (int b = 0; b < QK_K / 32; b++, p += 32, q0 += 16, q1 += 16, q2 += 16, q3 += 16, s0++, s1++, s2++, s3++) {
      is[0] = wasm_i32x4_add(is[0], wasm_i32x4_mul(iq4_block(levels, q0, p), wasm_v128_load32_splat(s0)));
      is[1] = wasm_i32x4_add(is[1], wasm_i32x4_mul(iq4_block(levels, q1, p), wasm_v128_load32_splat(s1)));
      PIN_KEEP(is[1], pins[0]);
      is[2] = wasm_i32x4_add(is[2], wasm_i32x4_mul(iq4_block(levels, q2, p), wasm_v128_load32_splat(s2)));
      is[3] = wasm_i32x4_add(is[3], wasm_i32x4_mul(iq4_block(levels, q3, p), wasm_v128_load32_splat(s3)));
      PIN_KEEP(is[3], pins[1]);
    }
    const v128_t isum = i32x4_hsum4(is[0], is[1], is[2], is[3]);
    const v128_t dw = f16x4_to_f32x4(wasm_i32x4_make(x[0][i].d, x[1][i].d, x[2][i].d, x[3][i].d));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(dw, wasm_f32x4_splat(a->d[i]))));
  }
  return acc;
}

// The batch versions (nt tokens, acc[t] for token t): each row's block is
// decoded once for all the pass's tokens. The same integers and float steps
// per (row, token) as the one-token groups above, so the same bits.

// Token t's copy of a field of the pass's first prepared chunk (act[0]):
// a constant byte offset when t is, which V8 folds into the load.
#define TOK(p, t) ((__typeof__(p))((const char*)(p) + (size_t)(t) * sizeof(iq4_act)))

ALWAYS void iq4_nl_group_tok(const block_iq4_nl* const x[4], const iq4_act* act, int nt, int nb, v128_t* acc) {
  const v128_t levels = iq4_levels();
  v128_t s[IQ4_TOK][4];
  for (int t = 0; t < nt; t++) acc[t] = wasm_f32x4_const_splat(0.0f);
  const uint8_t *x0 = (const uint8_t*)x[0], *x1 = (const uint8_t*)x[1], *x2 = (const uint8_t*)x[2], *x3 = (const uint8_t*)x[3];
  const int16_t* p = act->q;
  const float* ad = act->d;
  const int32_t* bias = act->bias;
  for (int b = 0; b < nb; b++, p += 32, ad++, bias++, x0 += 18, x1 += 18, x2 += 18, x3 += 18) {
    const uint8_t* const xr[4] = {x0, x1, x2, x3};
    for (int j = 0; j < 4; j++) {
      const iq4_dec w = iq4_decode(levels, xr[j] + 2);
      for (int t = 0; t < nt; t++) s[t][j] = iq4_dec_dot(&w, TOK(p, t));
    }
    const v128_t dw = iq4_nl_dw4(x0, x1, x2, x3);
    for (int t = 0; t < nt; t++) {
      const v128_t isum = wasm_i32x4_add(i32x4_hsum4(s[t][0], s[t][1], s[t][2], s[t][3]), wasm_v128_load32_splat(TOK(bias, t)));
      acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(dw, wasm_v128_load32_splat(TOK(ad, t)))));
    }
  }
}

ALWAYS void iq4_xs_group_tok(const block_iq4_xs* const x[4], const iq4_act* act, int nt, int nb, v128_t* acc) {
  const v128_t levels = iq4_levels();
  v128_t is[IQ4_TOK][4];
  for (int t = 0; t < nt; t++) acc[t] = wasm_f32x4_const_splat(0.0f);
  const int16_t* p = act->q;
  const int16_t* even = act->even;
  const float* ad = act->d;
  for (int i = 0; i < nb; i++, even += 8, ad++) {
    int32_t sc[4][8];
    for (int j = 0; j < 4; j++) {
      const v128_t scv = iq4_xs_scales(x[j] + i);
      wasm_v128_store(sc[j], wasm_i32x4_extend_low_i16x8(scv));
      wasm_v128_store(sc[j] + 4, wasm_i32x4_extend_high_i16x8(scv));
      for (int t = 0; t < nt; t++)
        is[t][j] = wasm_i32x4_mul(wasm_i32x4_dot_i16x8(scv, wasm_v128_load(TOK(even, t))), wasm_i32x4_const_splat(-128));
    }
    const uint8_t* const xq[4] = {x[0][i].qs, x[1][i].qs, x[2][i].qs, x[3][i].qs};
    for (int b = 0; b < QK_K / 32; b++, p += 32) {
      for (int j = 0; j < 4; j++) {
        const iq4_dec w = iq4_decode(levels, xq[j] + 16 * b);
        const v128_t scale = wasm_v128_load32_splat(&sc[j][b]);
        for (int t = 0; t < nt; t++)
          is[t][j] = wasm_i32x4_add(is[t][j], wasm_i32x4_mul(iq4_dec_dot(&w, TOK(p, t)), scale));
      }
    }
    const v128_t dw = f16x4_to_f32x4(wasm_i32x4_make(x[0][i].d, x[1][i].d, x[2][i].d, x[3][i].d));
    for (int t = 0; t < nt; t++) {
      const v128_t isum = i32x4_hsum4(is[t][0], is[t][1], is[t][2], is[t][3]);
      acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(dw, wasm_v128_load32_splat(TOK(ad, t)))));
    }
  }
}

// A group's lanes to out[r..r+3] (added after the first column chunk), rows in [r0, r1) only.
ALWAYS void iq4_store4(v128_t v, float* o, int r, int r0, int r1, int first) {
  float f[4];
  wasm_v128_store(f, v);
  for (int j = 0; j < 4; j++)
    if (r + j < r1) o[r + j] = first ? f[j] : o[r + j] + f[j];
  (void)r0;
}

// mul_mat_<W> (rows [r0, r1), n_tok tokens; matvec is one token): tokens in
// passes of RD_TOK prepared per column chunk, rows in groups of four (r0,
// r0 + 4, ...), every token over a group while its rows are in cache.
#define DEFINE_IQ4_KERNELS(W, A, QKW, PREP)                                                           \
  void EXPORT(mul_mat_##W)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, \
                           int out_stride, int n, int n_tok, int r0, int r1) {                      \
    iq4_act act[IQ4_TOK];                                                                             \
    for (int t0 = 0; t0 < n_tok; t0 += IQ4_TOK) {                                                     \
      const int nt = n_tok - t0 < IQ4_TOK ? n_tok - t0 : IQ4_TOK;                                      \
      for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {                                                    \
        const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / (QKW);                            \
        for (int t = 0; t < nt; t++)                                                                 \
          PREP((const block_##A*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / (QKW), nb, &act[t]); \
        for (int r = r0; r < r1; r += 4) {                                                           \
          const block_##W* x[4];                                                                     \
          for (int j = 0; j < 4; j++)                                                                \
            x[j] = (const block_##W*)((const uint8_t*)w + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes) + c0 / (QKW); \
          if (nt == 1) {                                                                             \
            iq4_store4(W##_group(x, &act[0], nb), out + (size_t)t0 * out_stride, r, r0, r1, c0 == 0); \
            continue;                                                                                \
          }                                                                                          \
          v128_t acc[IQ4_TOK];                                                                       \
          /* a full pass with its token count known, so the token loops unroll */                    \
          if (nt == IQ4_TOK) W##_group_tok(x, act, IQ4_TOK, nb, acc);                                \
          else W##_group_tok(x, act, nt, nb, acc);                                                   \
          for (int t = 0; t < nt; t++)                                                               \
            iq4_store4(acc[t], out + (size_t)(t0 + t) * out_stride, r, r0, r1, c0 == 0);             \
        }                                                                                            \
      }                                                                                              \
    }                                                                                                \
  }                                                                                                  \
  MUL_MAT_ENTRIES(W, A)

DEFINE_IQ4_KERNELS(iq4_nl, q8_0, 32, iq4_nl_prep)
DEFINE_IQ4_KERNELS(iq4_xs, q8_K, QK_K, iq4_xs_prep)

// ---------------------------------------------------------------------------
// dequantize: levels times the (block) scale, one f32 multiply each as in
// ggml. Every product is exact (at most 11 + 6 + 7 significant bits; mxfp4:
// a power of two times at most 4 bits).

static inline void store_levels(float* y, v128_t lv, float d) {
  const v128_t vd = wasm_f32x4_splat(d);
  const v128_t l16 = wasm_i16x8_extend_low_i8x16(lv), h16 = wasm_i16x8_extend_high_i8x16(lv);
  wasm_v128_store(y, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(l16))));
  wasm_v128_store(y + 4, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(l16))));
  wasm_v128_store(y + 8, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(h16))));
  wasm_v128_store(y + 12, wasm_f32x4_mul(vd, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(h16))));
}

#define DEFINE_NL4_DEQUANT(W, LEVELS, SCALE)                                \
  void EXPORT(dequantize_row_##W)(const void* vx, float* y, int n) {       \
    const block_##W* x = vx;                                               \
    for (int b = 0; b < n / 32; b++, y += 32) {                            \
      v128_t lo, hi;                                                       \
      NL4_DECODE(wasm_i8x16_swizzle, LEVELS(), x[b].qs, lo, hi);           \
      const float d = SCALE(&x[b]);                                        \
      store_levels(y, lo, d);                                              \
      store_levels(y + 16, hi, d);                                         \
    }                                                                      \
  }

DEFINE_NL4_DEQUANT(iq4_nl, iq4_levels, IQ4_NL_SCALE)
DEFINE_NL4_DEQUANT(mxfp4, mxfp4_levels, MXFP4_SCALE)

void EXPORT(dequantize_row_iq4_xs)(const void* vx, float* y, int n) {
  const block_iq4_xs* x = vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < QK_K / 32; ib++, y += 32) {
      v128_t lo, hi;
      NL4_DECODE(wasm_i8x16_swizzle, iq4_levels(), x[i].qs + 16 * ib, lo, hi);
      const float dl = d * (float)(iq4_xs_scale(&x[i], ib) - 32);
      store_levels(y, lo, dl);
      store_levels(y + 16, hi, dl);
    }
  }
}
