// K-quants, part 1: the q8_K activation quantizer and the dequantizers.
// The dot kernels (vec_dot_*, matvec_*) are in kquants-dot.c.
//
// Everything here must give ggml's bytes and floats exactly: the dequantizers
// do ggml's float operations in ggml's order (one f32 rounding each, no fused
// multiply-add, which WASM SIMD128 does not have anyway).
#include "kquants.h"

// ---------------------------------------------------------------- q8_K

// ggml's quantize_row_q8_K_ref: the scale comes from the element of largest
// magnitude *with its sign* (the first such element when +m and -m tie), so
// that element maps to -127; d = 1/iscale. ggml's WASM build picks +m on a
// tie instead (which only flips the signs of d and of every quant); we follow
// the reference, as formats/quant/kquant-q8_k.ts does.
static float q8_K_signed_max(const float* x) {
  // pmax/pmin against a zero start ignore NaNs, as the reference's `>` does.
  v128_t mx = wasm_f32x4_splat(0.0f), mn = mx;
  for (int j = 0; j < QK_K; j += 4) {
    const v128_t v = wasm_v128_load(x + j);
    mx = wasm_f32x4_pmax(mx, v);
    mn = wasm_f32x4_pmin(mn, v);
  }
  mx = wasm_f32x4_pmax(mx, wasm_i32x4_shuffle(mx, mx, 2, 3, 0, 1));
  mx = wasm_f32x4_pmax(mx, wasm_i32x4_shuffle(mx, mx, 1, 0, 3, 2));
  mn = wasm_f32x4_pmin(mn, wasm_i32x4_shuffle(mn, mn, 2, 3, 0, 1));
  mn = wasm_f32x4_pmin(mn, wasm_i32x4_shuffle(mn, mn, 1, 0, 3, 2));
  const float hi = wasm_f32x4_extract_lane(mx, 0);
  const float lo = wasm_f32x4_extract_lane(mn, 0);
  if (hi > -lo) return hi;
  if (-lo > hi) return lo;
  // A tie (or all zero): the first element of that magnitude decides.
  for (int j = 0; j < QK_K; ++j) {
    if (x[j] == hi || x[j] == lo) return x[j];
  }
  return 0.0f;
}

void EXPORT(quantize_row_q8_K)(const float* x, void* vy, int n) {
  block_q8_K* y = (block_q8_K*)vy;
  const int nb = n / QK_K;
  for (int i = 0; i < nb; ++i, x += QK_K) {
    const float max = q8_K_signed_max(x);
    if (max == 0.0f) {
      // The reference leaves bsums untouched here; zeros keep output defined.
      memset(&y[i], 0, sizeof(block_q8_K));
      continue;
    }
    const float iscale = -127.0f / max;
    const v128_t vs = wasm_f32x4_splat(iscale);
    for (int j = 0; j < QK_K; j += 16) {
      // nearest is round-half-even, like the reference's 1.5*2^23 trick;
      // the saturating narrows do its MIN(127, v) (nothing can reach -128).
      v128_t q[4];
      for (int k = 0; k < 4; ++k) {
        const v128_t v = wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + j + 4 * k), vs));
        q[k] = wasm_i32x4_trunc_sat_f32x4(v);
      }
      const v128_t q16a = wasm_i16x8_narrow_i32x4(q[0], q[1]);
      const v128_t q16b = wasm_i16x8_narrow_i32x4(q[2], q[3]);
      const v128_t q8 = wasm_i8x16_narrow_i16x8(q16a, q16b);
      wasm_v128_store(y[i].qs + j, q8);
      // re-widen after saturation so the sums are of the stored bytes
      v128_t s = wasm_i16x8_add(wasm_i16x8_extend_low_i8x16(q8), wasm_i16x8_extend_high_i8x16(q8));
      s = wasm_i32x4_extadd_pairwise_i16x8(s);
      s = wasm_i32x4_add(s, wasm_i32x4_shuffle(s, s, 2, 3, 0, 1));
      s = wasm_i32x4_add(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2));
      y[i].bsums[j / 16] = (int16_t)wasm_i32x4_extract_lane(s, 0);
    }
    y[i].d = 1.0f / iscale;
  }
}

// ---------------------------------------------------------------- helpers

// y[0..16) = dv * q - mv for 16 unsigned bytes q (ggml's `d * q - m`).
static inline void store_affine_u8(float* y, v128_t q, v128_t dv, v128_t mv) {
  const v128_t lo = wasm_u16x8_extend_low_u8x16(q);
  const v128_t hi = wasm_u16x8_extend_high_u8x16(q);
  const v128_t f0 = wasm_f32x4_convert_u32x4(wasm_u32x4_extend_low_u16x8(lo));
  const v128_t f1 = wasm_f32x4_convert_u32x4(wasm_u32x4_extend_high_u16x8(lo));
  const v128_t f2 = wasm_f32x4_convert_u32x4(wasm_u32x4_extend_low_u16x8(hi));
  const v128_t f3 = wasm_f32x4_convert_u32x4(wasm_u32x4_extend_high_u16x8(hi));
  wasm_v128_store(y + 0, wasm_f32x4_sub(wasm_f32x4_mul(dv, f0), mv));
  wasm_v128_store(y + 4, wasm_f32x4_sub(wasm_f32x4_mul(dv, f1), mv));
  wasm_v128_store(y + 8, wasm_f32x4_sub(wasm_f32x4_mul(dv, f2), mv));
  wasm_v128_store(y + 12, wasm_f32x4_sub(wasm_f32x4_mul(dv, f3), mv));
}

// y[0..16) = dv * q for 16 signed bytes q.
static inline void store_scaled_i8(float* y, v128_t q, v128_t dv) {
  const v128_t lo = wasm_i16x8_extend_low_i8x16(q);
  const v128_t hi = wasm_i16x8_extend_high_i8x16(q);
  wasm_v128_store(y + 0, wasm_f32x4_mul(dv, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(lo))));
  wasm_v128_store(y + 4, wasm_f32x4_mul(dv, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo))));
  wasm_v128_store(y + 8, wasm_f32x4_mul(dv, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi))));
  wasm_v128_store(y + 12, wasm_f32x4_mul(dv, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi))));
}

// ---------------------------------------------------------------- dequantizers

void EXPORT(dequantize_row_q2_K)(const void* vx, float* y, int n) {
  const block_q2_K* x = (const block_q2_K*)vx;
  const int nb = n / QK_K;
  const v128_t m3 = wasm_i8x16_splat(3);
  for (int i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    for (int h = 0; h < 2; ++h) {
      const v128_t q0 = wasm_v128_load(x[i].qs + 32 * h);
      const v128_t q1 = wasm_v128_load(x[i].qs + 32 * h + 16);
      for (int s = 0; s < 4; ++s) {
        const int is = 8 * h + 2 * s;
        const uint8_t sc0 = x[i].scales[is], sc1 = x[i].scales[is + 1];
        store_affine_u8(y, wasm_v128_and(wasm_u8x16_shr(q0, 2 * s), m3),
                        wasm_f32x4_splat(d * (float)(sc0 & 0xf)), wasm_f32x4_splat(dmin * (float)(sc0 >> 4)));
        store_affine_u8(y + 16, wasm_v128_and(wasm_u8x16_shr(q1, 2 * s), m3),
                        wasm_f32x4_splat(d * (float)(sc1 & 0xf)), wasm_f32x4_splat(dmin * (float)(sc1 >> 4)));
        y += 32;
      }
    }
  }
}

void EXPORT(dequantize_row_q3_K)(const void* vx, float* y, int n) {
  const block_q3_K* x = (const block_q3_K*)vx;
  const int nb = n / QK_K;
  const v128_t m3 = wasm_i8x16_splat(3);
  for (int i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    int8_t sc[16];
    wasm_v128_store(sc, unpack_scales_q3_K(x[i].scales));
    const v128_t hm0 = wasm_v128_load(x[i].hmask), hm1 = wasm_v128_load(x[i].hmask + 16);
    for (int h = 0; h < 2; ++h) {
      const v128_t q0 = wasm_v128_load(x[i].qs + 32 * h);
      const v128_t q1 = wasm_v128_load(x[i].qs + 32 * h + 16);
      for (int s = 0; s < 4; ++s) {
        const int is = 8 * h + 2 * s;
        // quant = low 2 bits - 4 unless the hmask bit is set
        const v128_t bit = wasm_i8x16_splat((int8_t)(1 << (4 * h + s)));
        const v128_t off0 = wasm_v128_andnot(wasm_i8x16_splat(4), wasm_i8x16_eq(wasm_v128_and(hm0, bit), bit));
        const v128_t off1 = wasm_v128_andnot(wasm_i8x16_splat(4), wasm_i8x16_eq(wasm_v128_and(hm1, bit), bit));
        store_scaled_i8(y, wasm_i8x16_sub(wasm_v128_and(wasm_u8x16_shr(q0, 2 * s), m3), off0),
                        wasm_f32x4_splat(d * (float)sc[is]));
        store_scaled_i8(y + 16, wasm_i8x16_sub(wasm_v128_and(wasm_u8x16_shr(q1, 2 * s), m3), off1),
                        wasm_f32x4_splat(d * (float)sc[is + 1]));
        y += 32;
      }
    }
  }
}

void EXPORT(dequantize_row_q4_K)(const void* vx, float* y, int n) {
  const block_q4_K* x = (const block_q4_K*)vx;
  const int nb = n / QK_K;
  const v128_t m4 = wasm_i8x16_splat(0x0f);
  for (int i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    uint8_t sm[16];
    wasm_v128_store(sm, unpack_scales_k4(x[i].scales));
    for (int c = 0; c < 4; ++c) {
      // ggml's d1 = d * sc, m1 = dmin * m, each rounded to f32 once
      const v128_t d1 = wasm_f32x4_splat(d * (float)sm[2 * c]);
      const v128_t m1 = wasm_f32x4_splat(dmin * (float)sm[8 + 2 * c]);
      const v128_t d2 = wasm_f32x4_splat(d * (float)sm[2 * c + 1]);
      const v128_t m2 = wasm_f32x4_splat(dmin * (float)sm[9 + 2 * c]);
      for (int l = 0; l < 32; l += 16) {
        const v128_t q = wasm_v128_load(x[i].qs + 32 * c + l);
        store_affine_u8(y + l, wasm_v128_and(q, m4), d1, m1);
        store_affine_u8(y + 32 + l, wasm_u8x16_shr(q, 4), d2, m2);
      }
      y += 64;
    }
  }
}

void EXPORT(dequantize_row_q5_K)(const void* vx, float* y, int n) {
  const block_q5_K* x = (const block_q5_K*)vx;
  const int nb = n / QK_K;
  const v128_t m4 = wasm_i8x16_splat(0x0f);
  const v128_t b16 = wasm_i8x16_splat(16);
  for (int i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    uint8_t sm[16];
    wasm_v128_store(sm, unpack_scales_k4(x[i].scales));
    for (int c = 0; c < 4; ++c) {
      // ggml's d1 = d * sc, m1 = dmin * m, each rounded to f32 once
      const v128_t d1 = wasm_f32x4_splat(d * (float)sm[2 * c]);
      const v128_t m1 = wasm_f32x4_splat(dmin * (float)sm[8 + 2 * c]);
      const v128_t d2 = wasm_f32x4_splat(d * (float)sm[2 * c + 1]);
      const v128_t m2 = wasm_f32x4_splat(dmin * (float)sm[9 + 2 * c]);
      for (int l = 0; l < 32; l += 16) {
        const v128_t q = wasm_v128_load(x[i].qs + 32 * c + l);
        // qh bit 2c is the fifth bit of the low nibble, bit 2c+1 of the high
        const v128_t qh = wasm_u8x16_shr(wasm_v128_load(x[i].qh + l), 2 * c);
        const v128_t h1 = wasm_v128_and(wasm_i8x16_shl(qh, 4), b16);
        const v128_t h2 = wasm_v128_and(wasm_i8x16_shl(qh, 3), b16);
        store_affine_u8(y + l, wasm_v128_or(wasm_v128_and(q, m4), h1), d1, m1);
        store_affine_u8(y + 32 + l, wasm_v128_or(wasm_u8x16_shr(q, 4), h2), d2, m2);
      }
      y += 64;
    }
  }
}

void EXPORT(dequantize_row_q6_K)(const void* vx, float* y, int n) {
  const block_q6_K* x = (const block_q6_K*)vx;
  const int nb = n / QK_K;
  const v128_t m4 = wasm_i8x16_splat(0x0f), m3 = wasm_i8x16_splat(3), b32 = wasm_i8x16_splat(32);
  for (int i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[i].ql + 64 * h;
      const uint8_t* qh = x[i].qh + 32 * h;
      const int8_t* sc = x[i].scales + 8 * h;
      for (int l = 0; l < 32; l += 16) {
        const int is = l / 16;
        const v128_t a = wasm_v128_load(ql + l), b = wasm_v128_load(ql + 32 + l);
        const v128_t hb = wasm_v128_load(qh + l);
        // quant = (4 low bits | 2 high bits << 4) - 32
        const v128_t h1 = wasm_i8x16_shl(wasm_v128_and(hb, m3), 4);
        const v128_t h2 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(hb, 2), m3), 4);
        const v128_t h3 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(hb, 4), m3), 4);
        const v128_t h4 = wasm_i8x16_shl(wasm_u8x16_shr(hb, 6), 4);
        const v128_t q1 = wasm_v128_or(wasm_v128_and(a, m4), h1);
        const v128_t q2 = wasm_v128_or(wasm_v128_and(b, m4), h2);
        const v128_t q3 = wasm_v128_or(wasm_u8x16_shr(a, 4), h3);
        const v128_t q4 = wasm_v128_or(wasm_u8x16_shr(b, 4), h4);
        // ggml multiplies (d * sc) first, then the quant
        store_scaled_i8(y + l, wasm_i8x16_sub(q1, b32), wasm_f32x4_splat(d * (float)sc[is]));
        store_scaled_i8(y + l + 32, wasm_i8x16_sub(q2, b32), wasm_f32x4_splat(d * (float)sc[is + 2]));
        store_scaled_i8(y + l + 64, wasm_i8x16_sub(q3, b32), wasm_f32x4_splat(d * (float)sc[is + 4]));
        store_scaled_i8(y + l + 96, wasm_i8x16_sub(q4, b32), wasm_f32x4_splat(d * (float)sc[is + 6]));
      }
      y += 128;
    }
  }
}

void EXPORT(dequantize_row_q8_K)(const void* vx, float* y, int n) {
  const block_q8_K* x = (const block_q8_K*)vx;
  const int nb = n / QK_K;
  for (int i = 0; i < nb; ++i) {
    const v128_t dv = wasm_f32x4_splat(x[i].d);
    for (int j = 0; j < QK_K; j += 16) store_scaled_i8(y + j, wasm_v128_load(x[i].qs + j), dv);
    y += QK_K;
  }
}
