// The 4-bit codebook types in the baseline build: iq4_nl and mxfp4 (32-element
// blocks against q8_0 activations, as ggml_vec_dot_iq4_nl_q8_0 /
// ggml_vec_dot_mxfp4_q8_0) and iq4_xs (256-element super-blocks with 6-bit
// block scales, against q8_K, as ggml_vec_dot_iq4_xs_q8_K). Block layouts,
// levels and scales are in nl4.h; the scalar references in
// formats/quant/iq4.ts and mxfp4.ts.
//
// The activation is widened to int16 once per column chunk, each group of
// 16 as its 8 even-index values then its 8 odd-index ones (as kquants-dot.c
// does). One i8x16.swizzle turns 16 codes into their levels; read as u16
// lanes, a shift pair gives the even elements' levels as int16 and one
// arithmetic shift the odd ones', so two i32x4.dot_i16x8 take 16 products,
// exact, into int32. Per block (iq4_nl, mxfp4) or super-block (iq4_xs) the
// integer sum is then scaled in f32 as ggml does: iq4_nl and mxfp4 by
// fl(d_w * d_a) per block, four blocks' sums converted and scaled at once
// into four f32 lanes (lane j: blocks 4k + j); iq4_xs by its 6-bit block
// scales in int32 and by fl(d_w * d_a) per super-block (as ggml's x86
// kernels sum it, where the generic C scales each 32-block in float). The
// lanes are summed pairwise at the end of a chunk.
#include "rowdot.h"
#include "legacy-blocks.h"
#include "kquants.h"
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

static void prep_q8_K(const block_q8_K* y, int nb, nl4_act16* a) {
  for (int i = 0; i < nb; i++) {
    for (int g = 0; g < QK_K; g += 16) widen16(y[i].qs + g, a->q + QK_K * i + g);
    a->d[i] = y[i].d;
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

DEFINE_NL4_Q8_0(iq4_nl, iq4_levels, IQ4_NL_SCALE, IQ4_NL_SCALES4)
DEFINE_NL4_Q8_0(mxfp4, mxfp4_levels, MXFP4_SCALE, MXFP4_SCALES4)

// Per super-block |sum| <= 8 blocks * 32 * 127 * 127 * 32 < 2^27: exact in int32.
static float dot_iq4_xs(const block_iq4_xs* x, const nl4_act16* a, int nb) {
  const v128_t levels = iq4_levels();
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < nb; i++, x++) {
    int16_t sc[8];
    wasm_v128_store(sc, iq4_xs_scales(x));
    v128_t isum = wasm_i32x4_splat(0);
    for (int ib = 0; ib < QK_K / 32; ib++) {
      const v128_t p = nl4_block32(levels, x->qs + 16 * ib, a->q + QK_K * i + 32 * ib);
      isum = wasm_i32x4_add(isum, wasm_i32x4_mul(p, wasm_i32x4_splat(sc[ib])));
    }
    const float d = fp16_to_fp32(x->d) * a->d[i];
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d)));
  }
  return f32x4_hsum(acc);
}

DEFINE_ROW_KERNELS_PREP(iq4_xs, q8_K, QK_K, nl4_act16, prep_q8_K, NL4_CHUNK)

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
