// Quantizers of the 4-bit non-linear types (iq4_nl, iq4_xs), equal byte for
// byte to ggml's quantize_iq4_nl / quantize_iq4_xs (quantize_row_iq4_nl_impl
// with ntry = 7), with or without importance weights. formats/quant/iq4.ts
// is the same algorithm and this file's test oracle: per 32 values a signed
// scale fitted by weighted least squares over 15 candidate inverse scales,
// each value rounded to the nearest of the 16 levels; iq4_xs then stores the
// eight block scales as 6 bits against one f16 super-scale and re-picks every
// code for its rounded scale. The 15 tries run four per vector (one per lane).
//
// quantize_rows_iq4_nl / _iq4_xs(x, y, n_rows, n_per_row, imatrix): n_rows
// rows of n_per_row floats (a multiple of 32 / 256) at x to y; imatrix is
// n_per_row weights shared by every row, or 0. Returns 0 or IQ_ERR_SIZE.
#include "iq-quantize.h"

#define IQ4_NL_BYTES 18
#define IQ4_XS_BYTES 136
#define GROUP_MAX_EPS 1e-15f
#define NTRY 7

static const int8_t LEVELS[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// ggml's best_index_int8: the nearest level by binary search, ties up; a nan ends at the top.
static inline int best_level(float x) {
  if (x <= LEVELS[0]) return 0;
  if (x >= LEVELS[15]) return 15;
  int ml = 0, mu = 15;
  while (mu - ml > 1) {
    const int mav = (ml + mu) >> 1;
    if (x < LEVELS[mav]) mu = mav;
    else ml = mav;
  }
  return x - LEVELS[mu - 1] < LEVELS[mu] - x ? mu - 1 : mu;
}

// LEVELS[best_level(x)] for four x: ml counts the levels 1..14 at or below
// x (best_level's binary search ends at the same ml inside the range; below
// it ml is 0 and the lower level wins the comparison, above it ml is 14 and
// the upper one does), the two neighbours come from a byte table, and the
// same float comparison picks one; a nan gives the top level, as there.
static inline v128_t best_level_value4(v128_t x) {
  const v128_t table = wasm_v128_load(LEVELS);
  v128_t ml = wasm_i32x4_splat(0);
  for (int i = 1; i < 15; i++) ml = wasm_i32x4_sub(ml, wasm_f32x4_le(wasm_f32x4_splat(LEVELS[i]), x));
  // byte 0 of each lane indexes the table (the lane's other bytes read LEVELS[0] and are shifted out)
  const v128_t lo_b = wasm_i8x16_swizzle(table, ml);
  const v128_t hi_b = wasm_i8x16_swizzle(table, wasm_i32x4_add(ml, wasm_i32x4_splat(1)));
  const v128_t lo = wasm_f32x4_convert_i32x4(wasm_i32x4_shr(wasm_i32x4_shl(lo_b, 24), 24));
  const v128_t hi = wasm_f32x4_convert_i32x4(wasm_i32x4_shr(wasm_i32x4_shl(hi_b, 24), 24));
  const v128_t q = wasm_v128_bitselect(lo, hi, wasm_f32x4_lt(wasm_f32x4_sub(x, lo), wasm_f32x4_sub(hi, x)));
  return wasm_v128_bitselect(wasm_f32x4_splat(LEVELS[15]), q, wasm_f32x4_ne(x, x));
}

static inline void put_f16(uint8_t* p, float x) {
  const uint16_t h = fp32_to_fp16(x);
  p[0] = (uint8_t)h;
  p[1] = (uint8_t)(h >> 8);
}

// quantize_row_iq4_nl_impl for one super-block of sbs (32 or 256) values:
// the f16 d at d_out, the codes at qs, iq4_xs's packed scales after d.
static void super_block(int sbs, const float* x, const float* qw, uint8_t* d_out, uint8_t* qs) {
  float sigma2 = 0;
  for (int j = 0; j < sbs; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / sbs;
  memset(qs, 0, (size_t)sbs / 2);
  put_f16(d_out, 0);
  uint8_t L[IQ_QK_K];
  float scales[8], weight[32];
  const int n_blocks = sbs / 32;
  const float v0 = LEVELS[0];
  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < n_blocks; ++ib) {
    const float* xb = x + 32 * ib;
    for (int j = 0; j < 32; ++j) weight[j] = qw ? qw[32 * ib + j] * sqrtf(sigma2 + xb[j] * xb[j]) : xb[j] * xb[j];
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
      const float ax = fabsf(xb[j]);
      if (ax > amax) { amax = ax; max = xb[j]; }
    }
    if (amax < GROUP_MAX_EPS) { scales[ib] = 0; continue; }
    float d = -max / v0;
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const int l = best_level(id * xb[j]);
      L[32 * ib + j] = (uint8_t)l;
      const float q = LEVELS[l];
      const float wq = weight[j] * q;
      sumqx += wq * xb[j];
      sumq2 += wq * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0;
    float best = d * sumqx;
    // the 15 tries four at a time, one per lane (each lane the scalar steps,
    // its sums over j in order), then compared in order as the scalar loop does
    for (int itry0 = -NTRY; itry0 <= NTRY; itry0 += 4) {
      const int nl = NTRY - itry0 + 1 < 4 ? NTRY - itry0 + 1 : 4;
      float ids[4];
      for (int l = 0; l < 4; l++) ids[l] = (itry0 + l + v0) / max;
      const v128_t id4 = wasm_v128_load(ids);
      v128_t qx = wasm_f32x4_splat(0), q2 = wasm_f32x4_splat(0);
      for (int j = 0; j < 32; ++j) {
        const v128_t xj = wasm_f32x4_splat(xb[j]);
        const v128_t q = best_level_value4(wasm_f32x4_mul(id4, xj));
        const v128_t wq = wasm_f32x4_mul(wasm_f32x4_splat(weight[j]), q);
        qx = wasm_f32x4_add(qx, wasm_f32x4_mul(wq, xj));
        q2 = wasm_f32x4_add(q2, wasm_f32x4_mul(wq, q));
      }
      float fqx[4], fq2[4];
      wasm_v128_store(fqx, qx);
      wasm_v128_store(fq2, q2);
      for (int l = 0; l < nl; l++) {
        if (fq2[l] > 0 && fqx[l] * fqx[l] > best * fq2[l]) {
          d = fqx[l] / fq2[l];
          best = d * fqx[l];
        }
      }
    }
    scales[ib] = d;
    if (fabsf(d) > amax_scale) { amax_scale = fabsf(d); max_scale = d; }
  }
  if (n_blocks > 1) {
    // iq4_xs: 6-bit block scales against one f16 super-scale
    int scales_h = 0;
    const float d = -max_scale / 32;
    put_f16(d_out, d);
    const float id = d ? 1 / d : 0;
    for (int ib = 0; ib < n_blocks; ++ib) {
      int l = iq_nearest_int(id * scales[ib]);
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      const float dl = d * l;
      const float idl = dl ? 1 / dl : 0;
      for (int j = 0; j < 32; ++j) L[32 * ib + j] = (uint8_t)best_level(idl * x[32 * ib + j]);
      l += 32;
      uint8_t* lo = d_out + 4 + (ib >> 1);
      if (ib % 2 == 0) *lo = (uint8_t)(l & 0xf);
      else *lo |= (uint8_t)((l & 0xf) << 4);
      scales_h |= (l >> 4) << (2 * (ib % 8));
    }
    d_out[2] = (uint8_t)(scales_h & 0xff);
    d_out[3] = (uint8_t)((unsigned)scales_h >> 8);
  } else {
    put_f16(d_out, scales[0]);
    const float id = scales[0] ? 1 / scales[0] : 0;
    for (int j = 0; j < sbs; ++j) L[j] = (uint8_t)best_level(id * x[j]);
  }
  for (int i = 0; i < sbs / 32; ++i) {
    for (int j = 0; j < 16; ++j) qs[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
  }
}

int EXPORT(quantize_rows_iq4_nl)(const float* x, uint8_t* y, int n_rows, int n_per_row, const float* imatrix) {
  if (n_per_row <= 0 || n_per_row % 32) return IQ_ERR_SIZE;
  const int nb = n_per_row / 32;
  for (int r = 0; r < n_rows; r++) {
    for (int i = 0; i < nb; i++) {
      uint8_t* yb = y + ((size_t)r * nb + i) * IQ4_NL_BYTES;
      super_block(32, x + (size_t)r * n_per_row + 32 * i, imatrix ? imatrix + 32 * i : 0, yb, yb + 2);
    }
  }
  return 0;
}

int EXPORT(quantize_rows_iq4_xs)(const float* x, uint8_t* y, int n_rows, int n_per_row, const float* imatrix) {
  if (n_per_row <= 0 || n_per_row % IQ_QK_K) return IQ_ERR_SIZE;
  const int nb = n_per_row / IQ_QK_K;
  for (int r = 0; r < n_rows; r++) {
    for (int i = 0; i < nb; i++) {
      uint8_t* yb = y + ((size_t)r * nb + i) * IQ4_XS_BYTES;
      super_block(IQ_QK_K, x + (size_t)r * n_per_row + IQ_QK_K * i, imatrix ? imatrix + IQ_QK_K * i : 0, yb, yb + 8);
    }
  }
  return 0;
}

