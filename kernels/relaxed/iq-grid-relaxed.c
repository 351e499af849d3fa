// The grid i-quants (iq-grid-blocks.h) with relaxed SIMD.
#include "../iq-grid-blocks.h"
#include "../iq-grid-tables.h"
#include "../moe.h"
#include "relaxed.h"

// The baseline module's tables (the loader passes its export iq_grids).
__attribute__((import_module("env"), import_name("iq_grids"))) const iq_grid_tables* iq_grids(void);

#define RSWZ wasm_i8x16_relaxed_swizzle
#define SIGN_BITS wasm_u64x2_const_splat(0x8040201008040201ull)
#define IQR_CHUNK 4096  // columns per activation chunk

// Byte masks (0xff: negate) of sign bytes splatted in sv: bytes 0..7 from s[lo], 8..15 from s[lo + 1].
static inline v128_t smask(v128_t sv, int lo) {
  const v128_t b = RSWZ(sv, wasm_i8x16_make(lo, lo, lo, lo, lo, lo, lo, lo, lo + 1, lo + 1, lo + 1, lo + 1, lo + 1, lo + 1, lo + 1, lo + 1));
  return wasm_i8x16_eq(wasm_v128_and(b, SIGN_BITS), SIGN_BITS);
}
static inline v128_t negm(v128_t a, v128_t m) { return wasm_i8x16_sub(wasm_v128_xor(a, m), m); }

// ---------------------------------------------------------------- iq3_s

static inline int32_t sb_iq3_s(const block_iq3_s* x, const int8_t* a, const uint32_t* grid) {
  v128_t acc = wasm_i32x4_const_splat(0);
  const uint8_t* q = x->qs;
  NOUNROLL for (unsigned ib = 0; ib < 8; ib++, q += 8, a += 32) {
    const int qh = x->qh[ib];
    const v128_t g0 = wasm_u32x4_make(grid[q[0] | ((qh << 8) & 256)], grid[q[1] | ((qh << 7) & 256)],
                                      grid[q[2] | ((qh << 6) & 256)], grid[q[3] | ((qh << 5) & 256)]);
    const v128_t g1 = wasm_u32x4_make(grid[q[4] | ((qh << 4) & 256)], grid[q[5] | ((qh << 3) & 256)],
                                      grid[q[6] | ((qh << 2) & 256)], grid[q[7] | ((qh << 1) & 256)]);
    const v128_t sv = wasm_v128_load32_splat(x->signs + 4 * ib);
    const v128_t p = wasm_i16x8_add(RDOT(negm(LOAD(a), smask(sv, 0)), g0), RDOT(negm(LOAD(a + 16), smask(sv, 2)), g1));
    const int ls = 2 * ((x->scales[ib / 2] >> (4 * (ib & 1))) & 15) + 1;
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(p, wasm_i16x8_splat((int16_t)ls)));
  }
  return i32x4_hsum(acc);
}

static void mm_iq3_s(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride, int n,
                     int n_tok, int r0, int r1, int flag) {
  (void)flag;
  const uint32_t* grid = iq_grids()->iq3s;
  const int nb = n / QK_K;
  for (int t = 0; t < n_tok; t++) {
    const block_q8_K* y = (const block_q8_K*)((const uint8_t*)a + (size_t)t * a_row_bytes);
    float* o = out + (size_t)t * out_stride;
    for (int r = r0; r < r1; r++) {
      const block_iq3_s* x = (const block_iq3_s*)((const uint8_t*)w + (size_t)r * row_bytes);
      float sum = 0.0f;
      for (int i = 0; i < nb; i++) {
        const int32_t is = sb_iq3_s(x + i, y[i].qs, grid);
        sum += (fp16_to_fp32(x[i].d) * y[i].d) * (float)is;
      }
      o[r] = sum;
    }
  }
}

// ---------------------------------------------------------------- iq1_m
// value = d * ls * (8g + dv) / 8 with g the grid's -1/0/1 and dv = +-1 per
// 8: the grid part as 8(g + 1) (0, 8, 16: a valid second operand) against
// the activation, and per 8-group j the rest, ls * (dv - 8) times the
// group's activation sum S8_j.

// S8: the sum of each 8 activation quants, for n quants.
static void sums8(const int8_t* a, int16_t* s8, int n) {
  for (int j = 0; j < n / 8; j++) {
    int s = 0;
    for (int k = 0; k < 8; k++) s += a[8 * j + k];
    s8[j] = (int16_t)s;
  }
}

static inline int32_t sb_iq1_m(const block_iq1_m* x, const int8_t* a, const int16_t* s8, const uint64_t* grid) {
  // the sixteen 3-bit scales: group k's at bits 3 (k % 4) of u16 k / 4
  const v128_t sc = wasm_v128_load64_zero(x->scales);
  const v128_t mul = wasm_i16x8_const(1 << 13, 1 << 10, 1 << 7, 1 << 4, 1 << 13, 1 << 10, 1 << 7, 1 << 4);
  const v128_t one = wasm_i16x8_const_splat(1);
  const v128_t L0 = wasm_v128_or(wasm_i16x8_shl(wasm_u16x8_shr(wasm_i16x8_mul(wasm_i16x8_shuffle(sc, sc, 0, 0, 0, 0, 1, 1, 1, 1), mul), 13), 1), one);
  const v128_t L1 = wasm_v128_or(wasm_i16x8_shl(wasm_u16x8_shr(wasm_i16x8_mul(wasm_i16x8_shuffle(sc, sc, 2, 2, 2, 2, 3, 3, 3, 3), mul), 13), 1), one);
  int16_t ls[16];
  wasm_v128_store(ls, L0);
  wasm_v128_store(ls + 8, L1);
  v128_t acc = wasm_i32x4_const_splat(0);
  const uint8_t* q = x->qs;
  const uint8_t* qh = x->qh;
  const v128_t ones8 = wasm_i8x16_const_splat(1);
  NOUNROLL for (unsigned ib = 0; ib < 8; ib++, q += 4, qh += 2, a += 32) {
    const int h0 = qh[0], h1 = qh[1];
    v128_t w0 = wasm_u64x2_make(grid[q[0] | ((h0 << 8) & 0x700)], grid[q[1] | ((h0 << 4) & 0x700)]);
    v128_t w1 = wasm_u64x2_make(grid[q[2] | ((h1 << 8) & 0x700)], grid[q[3] | ((h1 << 4) & 0x700)]);
    w0 = wasm_i16x8_shl(wasm_i8x16_add(w0, ones8), 3);
    w1 = wasm_i16x8_shl(wasm_i8x16_add(w1, ones8), 3);
    acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(a), w0), wasm_v128_load16_splat(ls + 2 * ib)),
                                             wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 16), w1), wasm_v128_load16_splat(ls + 2 * ib + 1))));
  }
  // the deltas: 8-group j = 2i + (0: bit 3, 1: bit 7 of qh[i]); coefficient ls_{j/2} * (dv - 8), dv - 8 = -9 or -7
  const v128_t qv = LOAD(x->qh);
  const v128_t b3 = wasm_i8x16_const_splat(8), b7 = wasm_i8x16_const_splat((int8_t)0x80);
  const v128_t m3 = wasm_i8x16_eq(wasm_v128_and(qv, b3), b3), m7 = wasm_i8x16_eq(wasm_v128_and(qv, b7), b7);
  const v128_t m7i = wasm_i8x16_const_splat(-7);
  const v128_t e0 = wasm_i8x16_add(m7i, wasm_i8x16_add(wasm_i8x16_shuffle(m3, m7, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23),
                                                        wasm_i8x16_shuffle(m3, m7, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)));
  const v128_t m1 = wasm_i8x16_shuffle(m3, m7, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t e1 = wasm_i8x16_add(m7i, wasm_i8x16_add(m1, m1));
  const v128_t c0 = wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(e0), wasm_i16x8_shuffle(L0, L0, 0, 0, 1, 1, 2, 2, 3, 3));
  const v128_t c1 = wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(e0), wasm_i16x8_shuffle(L0, L0, 4, 4, 5, 5, 6, 6, 7, 7));
  const v128_t c2 = wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(e1), wasm_i16x8_shuffle(L1, L1, 0, 0, 1, 1, 2, 2, 3, 3));
  const v128_t c3 = wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(e1), wasm_i16x8_shuffle(L1, L1, 4, 4, 5, 5, 6, 6, 7, 7));
  acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(c0, LOAD(s8)), wasm_i32x4_dot_i16x8(c1, LOAD(s8 + 8))),
                                           wasm_i32x4_add(wasm_i32x4_dot_i16x8(c2, LOAD(s8 + 16)), wasm_i32x4_dot_i16x8(c3, LOAD(s8 + 24)))));
  return i32x4_hsum(acc);
}

static void mm_iq1_m(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride, int n,
                     int n_tok, int r0, int r1, int flag) {
  (void)flag;
  const uint64_t* grid = iq_grids()->iq1s;
  int16_t s8[IQR_CHUNK / 8] __attribute__((aligned(16)));
  for (int t = 0; t < n_tok; t++) {
    const block_q8_K* ya = (const block_q8_K*)((const uint8_t*)a + (size_t)t * a_row_bytes);
    float* o = out + (size_t)t * out_stride;
    for (int c0 = 0; c0 < n; c0 += IQR_CHUNK) {
      const int nb = (n - c0 < IQR_CHUNK ? n - c0 : IQR_CHUNK) / QK_K;
      const block_q8_K* y = ya + c0 / QK_K;
      for (int i = 0; i < nb; i++) sums8(y[i].qs, s8 + 32 * i, QK_K);
      const int last = c0 + IQR_CHUNK >= n;
      for (int r = r0; r < r1; r++) {
        const block_iq1_m* x = (const block_iq1_m*)((const uint8_t*)w + (size_t)r * row_bytes) + c0 / QK_K;
        float sum = c0 == 0 ? 0.0f : o[r];
        for (int i = 0; i < nb; i++) {
          const int32_t is = sb_iq1_m(x + i, y[i].qs, s8 + 32 * i, grid);
          sum += (fp16_to_fp32(iq1_m_d(x + i)) * y[i].d) * (float)is;
        }
        o[r] = last ? sum * 0.125f : sum;
      }
    }
  }
}

RELAXED_ENTRIES(iq3_s, mm_iq3_s, 0)
RELAXED_VEC_DOT(iq3_s, q8_K, mm_iq3_s)
MAT_ROWS_ID(iq3_s)
RELAXED_ENTRIES(iq1_m, mm_iq1_m, 0)
RELAXED_VEC_DOT(iq1_m, q8_K, mm_iq1_m)
MAT_ROWS_ID(iq1_m)
