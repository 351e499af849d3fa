// The grid i-quants: IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M.
// Their blocks store indices into lattice tables (iq-grids.h, generated from
// ggml's), sign patterns and small scales; the activation is q8_K, as in ggml.
//
// dequantize_row_<t> follows ggml's dequantize_row_<t> float for float (the
// scalar references in formats/quant/iq*.ts are that, and are tested against
// ggml's own). The dot products take another route: each super-block is
// decoded once into 256 int16 weights w (grid value times sign times group
// scale, IQ1's delta folded in), with value = d * w * FINAL_<t>, so the sum
// over a super-block against the q8_K quants is exact int32:
//   IQ2_*:   d * (0.5 + s) / 4 * g       = d * (2s + 1) * g / 8
//   IQ3_XXS: d * (0.5 + s) / 2 * g       = d * (2s + 1) * g / 4
//   IQ3_S:   d * (1 + 2s) * g
//   IQ1_*:   d * (2s + 1) * (g +- 1/8)   = d * (2s + 1) * (8g +- 1) / 8
// |w| <= 31 * 62 and |q8| <= 128, so 256 products fit int32 easily. Then per
// (row, token) and super-block: sum += (d * d_act) * isum, and out = sum *
// FINAL (a power of two). A batch decodes each weight super-block once per
// tile of tokens and repeats exactly these float steps per token, so it gives
// the bits of one token at a time, and vec_dot/matvec are the one-token case.
//
// SIMD: a group of 8 values is one 8-byte grid point (or two 4-byte ones);
// two groups fill a v128, signs come as byte masks (a table for the 7-bit
// sign indices, a compare for explicit sign bytes), and negation is
// (g ^ m) - m. The dot is i32x4.dot_i16x8 on the decoded weights against the
// q8 quants widened on the fly.
#include "kquants.h"
#include "moe.h"
#include "rows.h"
#include "iq-grids.h"
#include "iq-grid-tables.h"
#include "iq-grid-blocks.h"

#define IQ1_DELTA 0.125f

// The tables' addresses, for the relaxed module's kernels (iq-grid-tables.h).
static const iq_grid_tables grid_tables = {iq2xxs_grid, iq2xs_grid, iq2s_grid, iq3xxs_grid, iq3s_grid, iq1s_grid, iq_sign_masks};
const iq_grid_tables* EXPORT(iq_grids)(void) { return &grid_tables; }

// ---------------------------------------------------------------- dequantize (ggml's float steps)

static inline void deq8(float* y, const uint8_t* grid, uint8_t signs, float db) {
  for (int j = 0; j < 8; ++j) y[j] = db * grid[j] * (signs & (1u << j) ? -1.f : 1.f);
}

void EXPORT(dequantize_row_iq2_xxs)(const void* vx, float* y, int n) {
  const block_iq2_xxs* x = (const block_iq2_xxs*)vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const uint8_t* q = (const uint8_t*)(x[i].qs + 4 * ib);
      const uint32_t aux = load_u32(q + 4);
      const float db = d * (0.5f + (aux >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8)
        deq8(y, (const uint8_t*)(iq2xxs_grid + q[l]), ksigns_iq2xs[(aux >> 7 * l) & 127], db);
    }
  }
}

void EXPORT(dequantize_row_iq2_xs)(const void* vx, float* y, int n) {
  const block_iq2_xs* x = (const block_iq2_xs*)vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const float db[2] = {d * (0.5f + (x[i].scales[ib] & 0xf)) * 0.25f, d * (0.5f + (x[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = x[i].qs[4 * ib + l];
        deq8(y, (const uint8_t*)(iq2xs_grid + (q & 511)), ksigns_iq2xs[q >> 9], db[l / 2]);
      }
    }
  }
}

void EXPORT(dequantize_row_iq2_s)(const void* vx, float* y, int n) {
  const block_iq2_s* x = (const block_iq2_s*)vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const float db[2] = {d * (0.5f + (x[i].scales[ib] & 0xf)) * 0.25f, d * (0.5f + (x[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const int p = x[i].qs[4 * ib + l] | ((x[i].qh[ib] << (8 - 2 * l)) & 0x300);
        deq8(y, (const uint8_t*)(iq2s_grid + p), x[i].qs[QK_K / 8 + 4 * ib + l], db[l / 2]);
      }
    }
  }
}

// Four values each from grid points p1 and p2 (iq3's 4-value grids).
static inline void deq4x2(float* y, const uint8_t* g1, const uint8_t* g2, uint8_t signs, float db) {
  for (int j = 0; j < 4; ++j) {
    y[j + 0] = db * g1[j] * (signs & (1u << j) ? -1.f : 1.f);
    y[j + 4] = db * g2[j] * (signs & (1u << (j + 4)) ? -1.f : 1.f);
  }
}

void EXPORT(dequantize_row_iq3_xxs)(const void* vx, float* y, int n) {
  const block_iq3_xxs* x = (const block_iq3_xxs*)vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const uint8_t* qs = x[i].qs + 8 * ib;
      const uint32_t aux = load_u32(x[i].qs + QK_K / 4 + 4 * ib);
      const float db = d * (0.5f + (aux >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8)
        deq4x2(y, (const uint8_t*)(iq3xxs_grid + qs[2 * l]), (const uint8_t*)(iq3xxs_grid + qs[2 * l + 1]),
               ksigns_iq2xs[(aux >> 7 * l) & 127], db);
    }
  }
}

void EXPORT(dequantize_row_iq3_s)(const void* vx, float* y, int n) {
  const block_iq3_s* x = (const block_iq3_s*)vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const uint8_t sc = x[i].scales[ib / 2];
      const float db = d * (1 + 2 * (ib & 1 ? sc >> 4 : sc & 0xf));
      const uint8_t* qs = x[i].qs + 8 * ib;
      const int qh = x[i].qh[ib];
      for (int l = 0; l < 4; ++l, y += 8)
        deq4x2(y, (const uint8_t*)(iq3s_grid + (qs[2 * l] | ((qh << (8 - 2 * l)) & 256))),
               (const uint8_t*)(iq3s_grid + (qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256))), x[i].signs[4 * ib + l], db);
    }
  }
}

static inline void deq8_iq1(float* y, int p, float delta, float dl) {
  const int8_t* g = (const int8_t*)(iq1s_grid + p);
  for (int j = 0; j < 8; ++j) y[j] = dl * (g[j] + delta);
}

void EXPORT(dequantize_row_iq1_s)(const void* vx, float* y, int n) {
  const block_iq1_s* x = (const block_iq1_s*)vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const int qh = x[i].qh[ib];
      const float dl = d * (2 * ((qh >> 12) & 7) + 1);
      const float delta = qh & 0x8000 ? -IQ1_DELTA : IQ1_DELTA;
      for (int l = 0; l < 4; ++l, y += 8) deq8_iq1(y, x[i].qs[4 * ib + l] | (((qh >> 3 * l) & 7) << 8), delta, dl);
    }
  }
}

void EXPORT(dequantize_row_iq1_m)(const void* vx, float* y, int n) {
  const block_iq1_m* x = (const block_iq1_m*)vx;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(iq1_m_d(&x[i]));
    for (int ib = 0; ib < 8; ++ib) {
      const int s = load_u16(x[i].scales + 2 * (ib / 2)) >> (6 * (ib % 2));
      const float dl1 = d * (2 * (s & 7) + 1), dl2 = d * (2 * ((s >> 3) & 7) + 1);
      const uint8_t* qs = x[i].qs + 4 * ib;
      const int h0 = x[i].qh[2 * ib], h1 = x[i].qh[2 * ib + 1];
      deq8_iq1(y, qs[0] | ((h0 << 8) & 0x700), h0 & 0x08 ? -IQ1_DELTA : IQ1_DELTA, dl1);
      deq8_iq1(y + 8, qs[1] | ((h0 << 4) & 0x700), h0 & 0x80 ? -IQ1_DELTA : IQ1_DELTA, dl1);
      deq8_iq1(y + 16, qs[2] | ((h1 << 8) & 0x700), h1 & 0x08 ? -IQ1_DELTA : IQ1_DELTA, dl2);
      deq8_iq1(y + 24, qs[3] | ((h1 << 4) & 0x700), h1 & 0x80 ? -IQ1_DELTA : IQ1_DELTA, dl2);
      y += 32;
    }
  }
}

// ---------------------------------------------------------------- decode
// Each type's super-block is a sequence of 16-value groups: GROUPS_<t>(x, OP)
// calls OP(off, g, m, ls) for the group of elements off..off+15, with g its
// 16 grid bytes (signed, |g| < 128), m its byte masks (0xff: negate) and ls
// its integer scale; IQ1's GROUPS1_<t> pass dv (+-1 bytes, the delta)
// instead of m, for w = 8g + dv. The batch kernel stores w * ls as int16
// (put16); the one-token kernel dots the group with the widened activation
// directly (dot16 below).

// Byte masks (0xff: negate) of explicit sign bytes, four loaded as one u32
// splat: bit j of s[0], s[1] (SMASK_LO) or s[2], s[3] (SMASK_HI) negates value j.
#define SIGN_BITS wasm_u64x2_const_splat(0x8040201008040201ull)
// (bytes spread with unpack shuffles, which engines map to single instructions)
static inline v128_t spread8(v128_t sv, int hi) {
  const v128_t b = wasm_i8x16_shuffle(sv, sv, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);  // s0 s0 s1 s1 ..
  const v128_t w = wasm_i16x8_shuffle(b, b, 0, 8, 1, 9, 2, 10, 3, 11);                                  // s0 x4, s1 x4, ..
  return hi ? wasm_i32x4_shuffle(w, w, 2, 6, 3, 7) : wasm_i32x4_shuffle(w, w, 0, 4, 1, 5);
}
#define SMASK_LO(sv) wasm_i8x16_eq(wasm_v128_and(spread8(sv, 0), SIGN_BITS), SIGN_BITS)
#define SMASK_HI(sv) wasm_i8x16_eq(wasm_v128_and(spread8(sv, 1), SIGN_BITS), SIGN_BITS)

#define G2(a, b) wasm_u64x2_make(a, b)
#define MASK7(k) iq_sign_masks[(k) & 127]
// Four 4-value iq3 grid points as two 8-value groups.
#define G4(grid, a, b, c, e) wasm_u32x4_make((grid)[a], (grid)[b], (grid)[c], (grid)[e])
#define DELTA8(neg) ((neg) ? 0xffffffffffffffffull : 0x0101010101010101ull)

#define GROUPS_iq2_xxs(x, OP)                                                                       \
  for (int ib = 0; ib < 8; ++ib) {                                                                  \
    const uint8_t* q = (const uint8_t*)((x)->qs + 4 * ib);                                          \
    const uint32_t aux = load_u32(q + 4);                                                           \
    const int ls = 2 * (aux >> 28) + 1;                                                             \
    OP(32 * ib, G2(iq2xxs_grid[q[0]], iq2xxs_grid[q[1]]), G2(MASK7(aux), MASK7(aux >> 7)), ls);     \
    OP(32 * ib + 16, G2(iq2xxs_grid[q[2]], iq2xxs_grid[q[3]]), G2(MASK7(aux >> 14), MASK7(aux >> 21)), ls); \
  }

#define GROUPS_iq2_xs(x, OP)                                                                        \
  for (int ib = 0; ib < 8; ++ib) {                                                                  \
    const uint16_t* q = (x)->qs + 4 * ib;                                                           \
    const uint8_t sc = (x)->scales[ib];                                                             \
    OP(32 * ib, G2(iq2xs_grid[q[0] & 511], iq2xs_grid[q[1] & 511]), G2(MASK7(q[0] >> 9), MASK7(q[1] >> 9)), \
       2 * (sc & 0xf) + 1);                                                                         \
    OP(32 * ib + 16, G2(iq2xs_grid[q[2] & 511], iq2xs_grid[q[3] & 511]), G2(MASK7(q[2] >> 9), MASK7(q[3] >> 9)), \
       2 * (sc >> 4) + 1);                                                                          \
  }

#define GROUPS_iq2_s(x, OP)                                                                         \
  for (int ib = 0; ib < 8; ++ib) {                                                                  \
    const uint8_t* q = (x)->qs + 4 * ib;                                                            \
    const v128_t sv = wasm_v128_load32_splat((x)->qs + QK_K / 8 + 4 * ib);                          \
    const int qh = (x)->qh[ib];                                                                     \
    const uint8_t sc = (x)->scales[ib];                                                             \
    OP(32 * ib, G2(iq2s_grid[q[0] | ((qh << 8) & 0x300)], iq2s_grid[q[1] | ((qh << 6) & 0x300)]),  \
       SMASK_LO(sv), 2 * (sc & 0xf) + 1);                                                           \
    OP(32 * ib + 16, G2(iq2s_grid[q[2] | ((qh << 4) & 0x300)], iq2s_grid[q[3] | ((qh << 2) & 0x300)]), \
       SMASK_HI(sv), 2 * (sc >> 4) + 1);                                                            \
  }

#define GROUPS_iq3_xxs(x, OP)                                                                       \
  for (int ib = 0; ib < 8; ++ib) {                                                                  \
    const uint8_t* q = (x)->qs + 8 * ib;                                                            \
    const uint32_t aux = load_u32((x)->qs + QK_K / 4 + 4 * ib);                                     \
    const int ls = 2 * (aux >> 28) + 1;                                                             \
    OP(32 * ib, G4(iq3xxs_grid, q[0], q[1], q[2], q[3]), G2(MASK7(aux), MASK7(aux >> 7)), ls);      \
    OP(32 * ib + 16, G4(iq3xxs_grid, q[4], q[5], q[6], q[7]), G2(MASK7(aux >> 14), MASK7(aux >> 21)), ls); \
  }

#define GROUPS_iq3_s(x, OP)                                                                         \
  for (int ib = 0; ib < 8; ++ib) {                                                                  \
    const uint8_t* q = (x)->qs + 8 * ib;                                                            \
    const v128_t sv = wasm_v128_load32_splat((x)->signs + 4 * ib);                                  \
    const int qh = (x)->qh[ib];                                                                     \
    const uint8_t sc = (x)->scales[ib / 2];                                                         \
    const int ls = 2 * (ib & 1 ? sc >> 4 : sc & 0xf) + 1;                                           \
    OP(32 * ib, G4(iq3s_grid, q[0] | ((qh << 8) & 256), q[1] | ((qh << 7) & 256), q[2] | ((qh << 6) & 256), \
                   q[3] | ((qh << 5) & 256)), SMASK_LO(sv), ls);                                    \
    OP(32 * ib + 16, G4(iq3s_grid, q[4] | ((qh << 4) & 256), q[5] | ((qh << 3) & 256), q[6] | ((qh << 2) & 256), \
                        q[7] | ((qh << 1) & 256)), SMASK_HI(sv), ls);                               \
  }

#define GROUPS1_iq1_s(x, OP)                                                                        \
  for (int ib = 0; ib < 8; ++ib) {                                                                  \
    const uint8_t* q = (x)->qs + 4 * ib;                                                            \
    const int qh = (x)->qh[ib];                                                                     \
    const int ls = 2 * ((qh >> 12) & 7) + 1;                                                        \
    const v128_t dv = wasm_u64x2_splat(DELTA8(qh & 0x8000));                                        \
    OP(32 * ib, G2(iq1s_grid[q[0] | ((qh << 8) & 0x700)], iq1s_grid[q[1] | ((qh << 5) & 0x700)]), dv, ls); \
    OP(32 * ib + 16, G2(iq1s_grid[q[2] | ((qh << 2) & 0x700)], iq1s_grid[q[3] | ((qh >> 1) & 0x700)]), dv, ls); \
  }

#define GROUPS1_iq1_m(x, OP)                                                                        \
  for (int ib = 0; ib < 8; ++ib) {                                                                  \
    const uint8_t* q = (x)->qs + 4 * ib;                                                            \
    const int s = load_u16((x)->scales + 2 * (ib / 2)) >> (6 * (ib % 2));                           \
    const int h0 = (x)->qh[2 * ib], h1 = (x)->qh[2 * ib + 1];                                       \
    OP(32 * ib, G2(iq1s_grid[q[0] | ((h0 << 8) & 0x700)], iq1s_grid[q[1] | ((h0 << 4) & 0x700)]),  \
       G2(DELTA8(h0 & 0x08), DELTA8(h0 & 0x80)), 2 * (s & 7) + 1);                                  \
    OP(32 * ib + 16, G2(iq1s_grid[q[2] | ((h1 << 8) & 0x700)], iq1s_grid[q[3] | ((h1 << 4) & 0x700)]), \
       G2(DELTA8(h1 & 0x08), DELTA8(h1 & 0x80)), 2 * ((s >> 3) & 7) + 1);                           \
  }

// The group's int8 weights: the grid bytes negated where m is set, or 8g + dv.
static inline v128_t signed16(v128_t g, v128_t m) { return wasm_i8x16_sub(wasm_v128_xor(g, m), m); }
static inline v128_t delta16(v128_t g, v128_t dv) { return wasm_i8x16_add(wasm_i8x16_shl(g, 3), dv); }

// Weights times ls as int16 into w[0..16).
static inline void store16(int16_t* w, v128_t v, int ls) {
  const v128_t s = wasm_i16x8_splat((int16_t)ls);
  wasm_v128_store(w, wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(v), s));
  wasm_v128_store(w + 8, wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(v), s));
}

#define PUT16(off, g, m, ls) store16(w + (off), signed16(g, m), ls);
#define PUT16_IQ1(off, g, dv, ls) store16(w + (off), delta16(g, dv), ls);
#define IQ_DECODE(t, GROUPS, PUT, D)                                              \
  static inline float decode_##t(const block_##t* x, int16_t* w) {               \
    GROUPS(x, PUT)                                                                \
    return fp16_to_fp32(D);                                                       \
  }
IQ_DECODE(iq2_xxs, GROUPS_iq2_xxs, PUT16, x->d)
IQ_DECODE(iq2_xs, GROUPS_iq2_xs, PUT16, x->d)
IQ_DECODE(iq2_s, GROUPS_iq2_s, PUT16, x->d)
IQ_DECODE(iq3_xxs, GROUPS_iq3_xxs, PUT16, x->d)
IQ_DECODE(iq3_s, GROUPS_iq3_s, PUT16, x->d)
IQ_DECODE(iq1_s, GROUPS1_iq1_s, PUT16_IQ1, x->d)
IQ_DECODE(iq1_m, GROUPS1_iq1_m, PUT16_IQ1, iq1_m_d(x))

// The exact sum over a super-block of its weights times an activation
// widened to int16 (a16), without storing the weights: per group two
// i32x4.dot_i16x8, the group's int32 sums times ls (|w| <= 62 * 127 per
// product, so every partial sum is far inside int32).
static inline v128_t dot16(v128_t v, const int16_t* a) {
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(v), wasm_v128_load(a)),
                        wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(v), wasm_v128_load(a + 8)));
}
#define DOT16(off, g, m, ls) acc = wasm_i32x4_add(acc, wasm_i32x4_mul(dot16(signed16(g, m), a + (off)), wasm_i32x4_splat(ls)));
#define DOT16_IQ1(off, g, dv, ls) acc = wasm_i32x4_add(acc, wasm_i32x4_mul(dot16(delta16(g, dv), a + (off)), wasm_i32x4_splat(ls)));
#define IQ_SBDOT(t, GROUPS, DOT, D)                                                      \
  static inline int32_t sbdot_##t(const block_##t* x, const int16_t* a, float* d) {      \
    v128_t acc = wasm_i32x4_splat(0);                                                    \
    GROUPS(x, DOT)                                                                       \
    *d = fp16_to_fp32(D);                                                                \
    return i32x4_hsum(acc);                                                              \
  }
IQ_SBDOT(iq2_xxs, GROUPS_iq2_xxs, DOT16, x->d)
IQ_SBDOT(iq2_xs, GROUPS_iq2_xs, DOT16, x->d)
IQ_SBDOT(iq2_s, GROUPS_iq2_s, DOT16, x->d)
IQ_SBDOT(iq3_xxs, GROUPS_iq3_xxs, DOT16, x->d)
IQ_SBDOT(iq3_s, GROUPS_iq3_s, DOT16, x->d)
IQ_SBDOT(iq1_s, GROUPS1_iq1_s, DOT16_IQ1, x->d)
IQ_SBDOT(iq1_m, GROUPS1_iq1_m, DOT16_IQ1, iq1_m_d(x))

// ---------------------------------------------------------------- dot products

// sum w[i] * q[i] over a super-block, exact.
static inline int32_t dot256(const int16_t* w, const int8_t* q) {
  v128_t acc0 = wasm_i32x4_splat(0), acc1 = acc0;
  for (int k = 0; k < QK_K; k += 16) {
    const v128_t a = wasm_v128_load(q + k);
    acc0 = wasm_i32x4_add(acc0, wasm_i32x4_dot_i16x8(wasm_v128_load(w + k), wasm_i16x8_extend_low_i8x16(a)));
    acc1 = wasm_i32x4_add(acc1, wasm_i32x4_dot_i16x8(wasm_v128_load(w + k + 8), wasm_i16x8_extend_high_i8x16(a)));
  }
  return i32x4_hsum(wasm_i32x4_add(acc0, acc1));
}

// Tokens per tile: each weight super-block is decoded once for this many.
#define IQ_T 8

// One token (decode): the activation is widened to int16 once per column
// chunk (ACT_CHUNK), and each super-block is dotted without storing its
// weights (sbdot_<t>). The float steps are the batch kernel's below, in its
// order (the running sum crosses chunks through out[r], exactly), so both
// give the same bits.
#define IQ_CB (ACT_CHUNK / QK_K)
// Rows dotted side by side: two independent chains of table loads and
// scalar index work give the core more to overlap (measured faster when
// the other hyperthread is busy; four rows were no faster than two).
#define IQ_R 2

static void widen_q8_K_i16(const block_q8_K* y, int16_t* a, int nb) {
  for (int i = 0; i < nb; i++)
    for (int k = 0; k < QK_K; k += 16) {
      const v128_t v = wasm_v128_load(y[i].qs + k);
      wasm_v128_store(a + QK_K * i + k, wasm_i16x8_extend_low_i8x16(v));
      wasm_v128_store(a + QK_K * i + k + 8, wasm_i16x8_extend_high_i8x16(v));
    }
}

// mul_mat_<t>: rows [r0, r1) of w times n_tok q8_K rows; vec_dot_<t>_q8_K
// and matvec_<t> are its one-token case. Per (row, token) and super-block:
// sum += (d * d_act) * isum, with isum the exact int32 dot; then sum * FINAL.
#define IQ_KERNELS(t, FINAL)                                                                           \
  static void matvec1_##t(const void* w, int row_bytes, const block_q8_K* y, float* out, int n, int r0, int r1) { \
    int16_t a16[ACT_CHUNK] __attribute__((aligned(16)));                                               \
    const int nb = n / QK_K;                                                                           \
    for (int b0 = 0; b0 < nb; b0 += IQ_CB) {                                                           \
      const int cb = nb - b0 < IQ_CB ? nb - b0 : IQ_CB;                                                \
      widen_q8_K_i16(y + b0, a16, cb);                                                                 \
      int r = r0;                                                                                      \
      for (; r + IQ_R <= r1; r += IQ_R) {                                                              \
        const block_##t* x[IQ_R];                                                                      \
        float sum[IQ_R];                                                                               \
        for (int j = 0; j < IQ_R; j++) {                                                               \
          x[j] = (const block_##t*)((const char*)w + (size_t)(r + j) * row_bytes) + b0;                \
          sum[j] = b0 == 0 ? 0.0f : out[r + j];                                                        \
        }                                                                                              \
        for (int i = 0; i < cb; i++)                                                                   \
          _Pragma("clang loop unroll(full)") for (int j = 0; j < IQ_R; j++) {                          \
            float d;                                                                                   \
            const int32_t is = sbdot_##t(x[j] + i, a16 + QK_K * i, &d);                                \
            sum[j] += (d * y[b0 + i].d) * (float)is;                                                   \
          }                                                                                            \
        for (int j = 0; j < IQ_R; j++) out[r + j] = b0 + cb >= nb ? sum[j] * (FINAL) : sum[j];         \
      }                                                                                                \
      for (; r < r1; r++) {                                                                            \
        const block_##t* x = (const block_##t*)((const char*)w + (size_t)r * row_bytes) + b0;          \
        float sum = b0 == 0 ? 0.0f : out[r];                                                           \
        for (int i = 0; i < cb; i++) {                                                                 \
          float d;                                                                                     \
          const int32_t is = sbdot_##t(x + i, a16 + QK_K * i, &d);                                     \
          sum += (d * y[b0 + i].d) * (float)is;                                                        \
        }                                                                                              \
        out[r] = b0 + cb >= nb ? sum * (FINAL) : sum;                                                  \
      }                                                                                                \
    }                                                                                                  \
  }                                                                                                    \
  void EXPORT(mul_mat_##t)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out,  \
                           int out_stride, int n, int n_tok, int r0, int r1) {                         \
    if (n_tok == 1) {                                                                                  \
      matvec1_##t(w, row_bytes, (const block_q8_K*)a, out, n, r0, r1);                                 \
      return;                                                                                          \
    }                                                                                                  \
    const int nb = n / QK_K;                                                                           \
    int16_t wq[QK_K] __attribute__((aligned(16)));                                                     \
    for (int t0 = 0; t0 < n_tok; t0 += IQ_T) {                                                         \
      const int nt = n_tok - t0 < IQ_T ? n_tok - t0 : IQ_T;                                            \
      const block_q8_K* act[IQ_T];                                                                     \
      for (int k = 0; k < nt; k++) act[k] = (const block_q8_K*)((const char*)a + (size_t)(t0 + k) * a_row_bytes); \
      for (int r = r0; r < r1; r++) {                                                                  \
        const block_##t* x = (const block_##t*)((const char*)w + (size_t)r * row_bytes);               \
        float sum[IQ_T] = {0};                                                                         \
        for (int i = 0; i < nb; i++) {                                                                 \
          const float d = decode_##t(x + i, wq);                                                       \
          for (int k = 0; k < nt; k++)                                                                 \
            sum[k] += (d * act[k][i].d) * (float)dot256(wq, act[k][i].qs);                             \
        }                                                                                              \
        for (int k = 0; k < nt; k++) out[(size_t)(t0 + k) * out_stride + r] = sum[k] * (FINAL);        \
      }                                                                                                \
    }                                                                                                  \
  }                                                                                                    \
  void EXPORT(matvec_##t)(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1) { \
    mul_mat_##t(w, row_bytes, a, 0, out, 0, n, 1, r0, r1);                                             \
  }                                                                                                    \
  float EXPORT(vec_dot_##t##_q8_K)(int n, const void* w, const void* a) {                              \
    float out;                                                                                         \
    mul_mat_##t(w, 0, a, 0, &out, 0, n, 1, 0, 1);                                                      \
    return out;                                                                                        \
  }                                                                                                    \
  MAT_ROWS(t)                                                                                          \
  MAT_ROWS_ID(t)                                                                                       \
  GET_ROWS(t)

IQ_KERNELS(iq2_xxs, 0.125f)
IQ_KERNELS(iq2_xs, 0.125f)
IQ_KERNELS(iq2_s, 0.125f)
IQ_KERNELS(iq3_xxs, 0.25f)
IQ_KERNELS(iq3_s, 1.0f)
IQ_KERNELS(iq1_s, 0.125f)
IQ_KERNELS(iq1_m, 0.125f)

// The quantizers' search tables (iq-search.h), built from these same grids.
#include "iq-search.h"
