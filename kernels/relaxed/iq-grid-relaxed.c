// The grid i-quants (iq-grid-blocks.h) with relaxed SIMD: IQ3_XXS, IQ3_S,
// IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M.
//
// Tables: this module holds no data (wasm/build.sh), so it reads ggml's grids
// where the baseline module keeps them: the loader passes the baseline export
// iq_grids (iq-grid-tables.h) as this module's import env.iq_grids.
//
// Exactness: every path reduces a (row, token, super-block) to the exact
// int32 sum of (integer weight) x (q8_K quant), the baseline kernels' isum
// (iquants-grid.c), then takes their float steps in their order: sum +=
// (d * d_act) * isum per super-block, sum * FINAL at the end (a running sum
// crosses column chunks through out[], exactly). So matvec, batch, any row
// split and the baseline build all give the same bits.
//
// i16x8.relaxed_dot_i8x16_i7x16_s (RDOT) is exact when its second operand is
// 0..127 and no pair sum leaves int16. The weights are made that:
// - IQ2_*, IQ3_*: the grid values are unsigned (at most OFF: 43, 62 or 15);
//   in the one-token kernel the signs go onto the activation instead
//   ((a ^ m) - m, m = 0xff where negated; q8_K quants are -127..127, so the
//   negation never wraps). The batch kernel decodes each super-block once,
//   as the signed weight plus OFF (0..2 OFF), and takes OFF back through the
//   activation's sums of 8 (S8).
// - IQ1_S, IQ1_M: a weight is 8g + dv (g = -1, 0, 1 from the grid, dv = +-1
//   per 8 or 32 values), times its group's scale, / 8. RDOT takes 8(g + 1)
//   (0, 8, 16); the rest, (dv - 8) per 8 values, goes through S8.
// Lane bounds: one RDOT lane is at most 2 * 127 * 124 = 31496 (IQ3_XXS's
// decoded weights); where two are added before widening (one scale per 32),
// 2 * 2 * 127 * 62 = 31496 at most. The int32 sums stay below 2^27.
#include "../iq-grid-blocks.h"
#include "../iq-grid-tables.h"
#include "../moe.h"
#include "relaxed.h"

__attribute__((import_module("env"), import_name("iq_grids"))) const iq_grid_tables* iq_grids(void);

#define RSWZ wasm_i8x16_relaxed_swizzle  // indices here are always 0..15
#define SIGN_BITS wasm_u64x2_const_splat(0x8040201008040201ull)
#define IQR_CHUNK 4096  // columns per activation chunk (its sums of 8 live on the stack)
// Tokens per batch tile: each weight super-block is decoded once for them.
// Their sums of 8 take 32 KiB of stack; 32 was 1.2-1.3x faster than 8 and
// 64 little faster still (4096x4096 x 64 tokens, one thread).
#define IQR_TT 32

// Byte masks (0xff: negate) from sign bytes splatted in sv: bytes 0..7 from bits of s[lo], 8..15 of s[lo + 1].
static inline v128_t smask(v128_t sv, int lo) {
  const v128_t b = RSWZ(sv, wasm_i8x16_make(lo, lo, lo, lo, lo, lo, lo, lo, lo + 1, lo + 1, lo + 1, lo + 1, lo + 1, lo + 1, lo + 1, lo + 1));
  // then an identity swizzle, which clang cannot see through: knowing the
  // mask is 0 / -1, it would turn negm's xor and sub into a negation and a
  // bitselect (five x64 instructions for two; iq3_s 1.05x faster this way)
  return RSWZ(wasm_i8x16_eq(wasm_v128_and(b, SIGN_BITS), SIGN_BITS), wasm_i8x16_const(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}
static inline v128_t negm(v128_t a, v128_t m) { return wasm_i8x16_sub(wasm_v128_xor(a, m), m); }

// A vector load clang may not merge with the scalar loads of the same bytes:
// otherwise it takes those scalars out of the vector (extract_lane), one
// shuffle-unit instruction each in V8, where a scalar load is free.
typedef v128_t v128_u1 __attribute__((aligned(1)));
#define VLOAD(p) (*(const volatile v128_u1*)(const void*)(p))

// Scalar loads of a block's index and sign bytes, volatile for the same
// reason: clang's SLP vectorizer would otherwise merge adjacent ones into a
// vector load and take them out lane by lane.
static inline uint64_t load_u64(const uint8_t* p) { return *(const volatile uint64_t*)(const void*)p; }
static inline uint32_t vload_u32(const uint8_t* p) { return *(const volatile uint32_t*)(const void*)p; }
#define VB(p) (*(const volatile uint8_t*)(p))

// PIN_<t>: end each step of the one-token kernel with a PIN (relaxed.h), so
// V8 does not hoist every step's loads to the top of the unrolled
// super-block and spill what they give. 1.05-1.15x for these types (4096x4096,
// one thread); iq2_xs was 1.4x slower with it.
#define PIN_iq3_s 1
#define PIN_iq3_xxs 1
#define PIN_iq2_xxs 1
#define PIN_iq2_xs 0
#define PIN_iq2_s 1
#define PIN_iq1_s 1
#define PIN_iq1_m 1
#define IQR_PIN(t, v, slot) \
  do {                      \
    if (PIN_##t) PIN(v, slot); \
  } while (0)

// i16 lane k of L in every lane (k a constant once unrolled).
#define LSPLAT(L, k) RSWZ(L, wasm_i16x8_splat((int16_t)(0x0100 + 0x0202 * (k))))

// S8: the sum of each 8 activation quants, nb super-blocks of them.
static void sums8(const block_q8_K* y, int16_t* s8, int nb) {
  for (int i = 0; i < nb; i++)
    for (int j = 0; j < QK_K / 8; j++) {
      int s = 0;
      for (int k = 0; k < 8; k++) s += y[i].qs[8 * j + k];
      s8[32 * i + j] = (int16_t)s;
    }
}

// A weight super-block decoded for the batch kernel: per 16-value group k,
// its weights plus an offset (0..127) and its scale in every i16 lane; per
// 8-group j, the coefficient of S8_j (the offset taken back, IQ1's deltas).
typedef struct {
  v128_t u[16], ls[16], c[4];
} iq_dec;

// One token's exact int32 sum against a decoded super-block.
static inline int32_t dec_dot(const iq_dec* D, const int8_t* a, const int16_t* s8) {
  v128_t acc = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(D->c[0], LOAD(s8)), wasm_i32x4_dot_i16x8(D->c[1], LOAD(s8 + 8))),
                              wasm_i32x4_add(wasm_i32x4_dot_i16x8(D->c[2], LOAD(s8 + 16)), wasm_i32x4_dot_i16x8(D->c[3], LOAD(s8 + 24))));
  UNROLL for (int k = 0; k < 16; k += 2)
    acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 16 * k), D->u[k]), D->ls[k]),
                                             wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 16 * k + 16), D->u[k + 1]), D->ls[k + 1])));
  return i32x4_hsum(acc);
}

// Group scaling: p0, p1 are the RDOT pair sums of 32-value step ib's two
// 16-groups. PER32 types have one scale per 32 (lanes ib of L0) and add the
// two first (|lane| <= 2 * 2 * 127 * 62 = 31496 at most, IQ3_XXS); the
// others have one per 16 (groups 0..7 in L0, 8..15 in L1).
static inline v128_t scaled(int per32, v128_t p0, v128_t p1, int ib, v128_t L0, v128_t L1) {
  if (per32) return wasm_i32x4_dot_i16x8(wasm_i16x8_add(p0, p1), LSPLAT(L0, ib));
  const v128_t L = ib < 4 ? L0 : L1;
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, LSPLAT(L, (2 * ib) & 7)), wasm_i32x4_dot_i16x8(p1, LSPLAT(L, (2 * ib + 1) & 7)));
}

// A decoded super-block's group scales, and the coefficients c_j = f_j *
// (scale of 8-group j) from per-8 factors f as i16 (e0: j = 0..7, ..).
static inline void dec_scales(int per32, v128_t L0, v128_t L1, iq_dec* D) {
  UNROLL for (int ib = 0; ib < 8; ib++) {
    if (per32) {
      D->ls[2 * ib] = D->ls[2 * ib + 1] = LSPLAT(L0, ib);
    } else {
      const v128_t L = ib < 4 ? L0 : L1;
      D->ls[2 * ib] = LSPLAT(L, (2 * ib) & 7), D->ls[2 * ib + 1] = LSPLAT(L, (2 * ib + 1) & 7);
    }
  }
}
static inline void dec_coefs(int per32, v128_t L0, v128_t L1, const v128_t f[4], v128_t* c) {
  if (per32) {
    c[0] = wasm_i16x8_mul(f[0], wasm_i16x8_shuffle(L0, L0, 0, 0, 0, 0, 1, 1, 1, 1));
    c[1] = wasm_i16x8_mul(f[1], wasm_i16x8_shuffle(L0, L0, 2, 2, 2, 2, 3, 3, 3, 3));
    c[2] = wasm_i16x8_mul(f[2], wasm_i16x8_shuffle(L0, L0, 4, 4, 4, 4, 5, 5, 5, 5));
    c[3] = wasm_i16x8_mul(f[3], wasm_i16x8_shuffle(L0, L0, 6, 6, 6, 6, 7, 7, 7, 7));
  } else {
    c[0] = wasm_i16x8_mul(f[0], wasm_i16x8_shuffle(L0, L0, 0, 0, 1, 1, 2, 2, 3, 3));
    c[1] = wasm_i16x8_mul(f[1], wasm_i16x8_shuffle(L0, L0, 4, 4, 5, 5, 6, 6, 7, 7));
    c[2] = wasm_i16x8_mul(f[2], wasm_i16x8_shuffle(L1, L1, 0, 0, 1, 1, 2, 2, 3, 3));
    c[3] = wasm_i16x8_mul(f[3], wasm_i16x8_shuffle(L1, L1, 4, 4, 5, 5, 6, 6, 7, 7));
  }
}
static inline v128_t coef_dot(const v128_t* c, const int16_t* s8) {
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(c[0], LOAD(s8)), wasm_i32x4_dot_i16x8(c[1], LOAD(s8 + 8))),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(c[2], LOAD(s8 + 16)), wasm_i32x4_dot_i16x8(c[3], LOAD(s8 + 24))));
}

// 2s + 1 from the low 4 bits of each i16 lane.
static inline v128_t odd4(v128_t v) {
  return wasm_v128_or(wasm_i16x8_shl(wasm_v128_and(v, wasm_i16x8_const_splat(15)), 1), wasm_i16x8_const_splat(1));
}
// Per-16 scales from eight bytes (low nibble: group 2b, high: 2b + 1), as iq2_xs and iq2_s store them.
static inline void scales16_nibbles(const uint8_t* sc, v128_t* L0, v128_t* L1) {
  const v128_t b = wasm_u16x8_load8x8(sc);
  const v128_t hi = wasm_u16x8_shr(b, 4);
  *L0 = odd4(wasm_i16x8_shuffle(b, hi, 0, 8, 1, 9, 2, 10, 3, 11));
  *L1 = odd4(wasm_i16x8_shuffle(b, hi, 4, 12, 5, 13, 6, 14, 7, 15));
}
// Per-32 scales from the top 4 bits of eight u32s: adjacent (a, b: four
// each), or the odd u32s of 64 bytes (iq2_xxs: index bytes, then the u32).
static inline v128_t scales32_top(v128_t a, v128_t b) {
  return odd4(wasm_i16x8_narrow_i32x4(wasm_u32x4_shr(a, 28), wasm_u32x4_shr(b, 28)));
}
static inline v128_t scales32_odd(const uint8_t* p) {
  return scales32_top(wasm_i32x4_shuffle(VLOAD(p), VLOAD(p + 16), 1, 3, 5, 7), wasm_i32x4_shuffle(VLOAD(p + 32), VLOAD(p + 48), 1, 3, 5, 7));
}

// The byte offsets (index * 8) of a super-block's 32 u64 grid points, at
// once, read back through the stack as u16s (instead of 32 scalar index
// computations; 1.05-1.1x, 4096x4096, one thread): index 4 ib + l takes
// qs[4 ib + l] and bits w l .. w l + w - 1 of h's lane ib (iq1_s: w = 3, h =
// qh).
static inline void offsets32(const uint8_t* qs, v128_t h, int w, uint16_t* of) {
  const v128_t q0 = VLOAD(qs), q1 = VLOAD(qs + 16);
  const v128_t f0 = h, f1 = wasm_u16x8_shr(h, w), f2 = wasm_u16x8_shr(h, 2 * w), f3 = wasm_u16x8_shr(h, 3 * w);
  const v128_t t01 = wasm_i16x8_shuffle(f0, f1, 0, 8, 1, 9, 2, 10, 3, 11), t23 = wasm_i16x8_shuffle(f2, f3, 0, 8, 1, 9, 2, 10, 3, 11);
  const v128_t u01 = wasm_i16x8_shuffle(f0, f1, 4, 12, 5, 13, 6, 14, 7, 15), u23 = wasm_i16x8_shuffle(f2, f3, 4, 12, 5, 13, 6, 14, 7, 15);
  const v128_t mask = wasm_i16x8_splat((int16_t)((1 << w) - 1));
#define OFS8(q, e) wasm_v128_or(wasm_i16x8_shl(q, 3), wasm_i16x8_shl(wasm_v128_and(e, mask), 11))
  volatile v128_t* o = (volatile v128_t*)of;
  o[0] = OFS8(wasm_u16x8_extend_low_u8x16(q0), wasm_i32x4_shuffle(t01, t23, 0, 4, 1, 5));
  o[1] = OFS8(wasm_u16x8_extend_high_u8x16(q0), wasm_i32x4_shuffle(t01, t23, 2, 6, 3, 7));
  o[2] = OFS8(wasm_u16x8_extend_low_u8x16(q1), wasm_i32x4_shuffle(u01, u23, 0, 4, 1, 5));
  o[3] = OFS8(wasm_u16x8_extend_high_u8x16(q1), wasm_i32x4_shuffle(u01, u23, 2, 6, 3, 7));
#undef OFS8
}
#define OFFSETS32(qs, h, w, ov)                                                                                      \
  uint16_t ov##buf[32] __attribute__((aligned(16)));                                                                 \
  offsets32(qs, h, w, ov##buf);                                                                                      \
  const volatile uint16_t* ov = ov##buf;
#define NO_OFFSETS(ov) const volatile uint16_t* ov = 0; (void)ov;
#define U64AT(o) (*(const uint64_t*)((const uint8_t*)grid + (o)))

// ---------------------------------------------------------------- grid + signs: iq3_s, iq3_xxs, iq2_xxs, iq2_xs, iq2_s
// STEP_<t>(x, ib, g0, g1, m0, m1): the grid values (unsigned) of 32-value
// step ib's two 16-groups and their sign masks; SCALES_<t>(x, L0, L1).

// 1024 (256 * 4) in the lanes whose qh bit is set: hv is the bit or 0 (a
// compare and a mask compile to four x64 instructions here, min and shift to two)
#define IQ3_HBIT(hv, bit) wasm_i16x8_shl(wasm_u16x8_min(hv, wasm_i16x8_const_splat(1)), 10)
#define OFFSETS_iq3_s(x, ov) NO_OFFSETS(ov)
#define GRIDS_iq3_s(T) const uint32_t* grid = (T)->iq3s;
// The eight byte offsets (index * 4) of a step's grid points come from one
// vector (its q bytes, and qh's bits as 256 * 4 where set) through the
// stack: eight u16 loads instead of eight scalar index computations
// (1.1x the step with scalar indices, 4096x4096, one thread).
#define STEP_iq3_s(x, ib, g0, g1, m0, m1)                                                                            \
  uint16_t of_[8] __attribute__((aligned(16)));                                                                      \
  {                                                                                                                  \
    const v128_t bit_ = wasm_i16x8_const(1, 2, 4, 8, 16, 32, 64, 128);                                               \
    const v128_t hv_ = wasm_v128_and(wasm_i16x8_splat((int16_t)VB((x)->qh + (ib))), bit_);                           \
    const v128_t o_ = wasm_v128_or(wasm_i16x8_shl(wasm_u16x8_load8x8((x)->qs + 8 * (ib)), 2),                        \
                                   IQ3_HBIT(hv_, bit_)                                                  );           \
    *(volatile v128_t*)of_ = o_;                                                                                     \
  }                                                                                                                  \
  const volatile uint16_t* o3_ = of_;                                                                                \
  const uint8_t* gb_ = (const uint8_t*)grid;                                                                         \
  const v128_t g0 = wasm_u32x4_make(*(const uint32_t*)(gb_ + o3_[0]), *(const uint32_t*)(gb_ + o3_[1]),              \
                                    *(const uint32_t*)(gb_ + o3_[2]), *(const uint32_t*)(gb_ + o3_[3]));             \
  const v128_t g1 = wasm_u32x4_make(*(const uint32_t*)(gb_ + o3_[4]), *(const uint32_t*)(gb_ + o3_[5]),              \
                                    *(const uint32_t*)(gb_ + o3_[6]), *(const uint32_t*)(gb_ + o3_[7]));             \
  const v128_t sv_ = wasm_v128_load32_splat((x)->signs + 4 * (ib));                                                  \
  const v128_t m0 = smask(sv_, 0), m1 = smask(sv_, 2);
static inline void SCALES_iq3_s(const block_iq3_s* x, v128_t* L0, v128_t* L1) {
  const v128_t b = wasm_u16x8_load8x8(x->scales);  // lanes 0..3: the four bytes, low nibble first
  *L0 = odd4(wasm_i16x8_shuffle(b, wasm_u16x8_shr(b, 4), 0, 8, 1, 9, 2, 10, 3, 11));
  *L1 = *L0;
}

#define MASKS7(aux, sh0, sh1) wasm_u64x2_make(sm[((aux) >> (sh0)) & 127], sm[((aux) >> (sh1)) & 127])

#define OFFSETS_iq3_xxs(x, ov) NO_OFFSETS(ov)
#define GRIDS_iq3_xxs(T) const uint32_t* grid = (T)->iq3xxs; const uint64_t* sm = (T)->sign_masks;
#define STEP_iq3_xxs(x, ib, g0, g1, m0, m1)                                                                          \
  const uint8_t* q_ = (x)->qs + 8 * (ib);                                                                            \
  const uint32_t aux_ = vload_u32((x)->qs + QK_K / 4 + 4 * (ib));                                                    \
  const v128_t g0 = wasm_u32x4_make(grid[VB(q_ + 0)], grid[VB(q_ + 1)], grid[VB(q_ + 2)], grid[VB(q_ + 3)]);         \
  const v128_t g1 = wasm_u32x4_make(grid[VB(q_ + 4)], grid[VB(q_ + 5)], grid[VB(q_ + 6)], grid[VB(q_ + 7)]);         \
  const v128_t m0 = MASKS7(aux_, 0, 7), m1 = MASKS7(aux_, 14, 21);
static inline void SCALES_iq3_xxs(const block_iq3_xxs* x, v128_t* L0, v128_t* L1) {
  *L0 = *L1 = scales32_top(VLOAD(x->qs + QK_K / 4), VLOAD(x->qs + QK_K / 4 + 16));
}

#define OFFSETS_iq2_xxs(x, ov) NO_OFFSETS(ov)
#define GRIDS_iq2_xxs(T) const uint64_t* grid = (T)->iq2xxs; const uint64_t* sm = (T)->sign_masks;
#define STEP_iq2_xxs(x, ib, g0, g1, m0, m1)                                                                          \
  const uint8_t* q_ = (const uint8_t*)((x)->qs + 4 * (ib));                                                          \
  const uint32_t aux_ = vload_u32(q_ + 4);                                                                           \
  const v128_t g0 = wasm_u64x2_make(grid[VB(q_)], grid[VB(q_ + 1)]);                                                 \
  const v128_t g1 = wasm_u64x2_make(grid[VB(q_ + 2)], grid[VB(q_ + 3)]);                                             \
  const v128_t m0 = MASKS7(aux_, 0, 7), m1 = MASKS7(aux_, 14, 21);
static inline void SCALES_iq2_xxs(const block_iq2_xxs* x, v128_t* L0, v128_t* L1) {
  *L0 = *L1 = scales32_odd((const uint8_t*)x->qs);
}

#define OFFSETS_iq2_xs(x, ov) NO_OFFSETS(ov)
#define GRIDS_iq2_xs(T) const uint64_t* grid = (T)->iq2xs; const uint64_t* sm = (T)->sign_masks;
// (u16 loads here instead of one u64 and shifts measured 1.35x slower; iq2_xxs is the other way round)
#define STEP_iq2_xs(x, ib, g0, g1, m0, m1)                                                                           \
  const uint64_t v_ = load_u64((const uint8_t*)((x)->qs + 4 * (ib)));                                                \
  const v128_t g0 = wasm_u64x2_make(grid[v_ & 511], grid[(v_ >> 16) & 511]);                                         \
  const v128_t g1 = wasm_u64x2_make(grid[(v_ >> 32) & 511], grid[(v_ >> 48) & 511]);                                 \
  const v128_t m0 = wasm_u64x2_make(sm[(v_ >> 9) & 127], sm[(v_ >> 25) & 127]), m1 = wasm_u64x2_make(sm[(v_ >> 41) & 127], sm[v_ >> 57]);
static inline void SCALES_iq2_xs(const block_iq2_xs* x, v128_t* L0, v128_t* L1) { scales16_nibbles(x->scales, L0, L1); }

#define GRIDS_iq2_s(T) const uint64_t* grid = (T)->iq2s;
#define OFFSETS_iq2_s(x, ov) NO_OFFSETS(ov)  // (offsets32 here measured 1.6x slower)
#define STEP_iq2_s(x, ib, g0, g1, m0, m1)                                                                            \
  const uint8_t* q_ = (x)->qs + 4 * (ib);                                                                            \
  const int qh_ = VB((x)->qh + (ib));                                                                                \
  const v128_t g0 = wasm_u64x2_make(grid[VB(q_ + 0) | ((qh_ << 8) & 0x300)], grid[VB(q_ + 1) | ((qh_ << 6) & 0x300)]); \
  const v128_t g1 = wasm_u64x2_make(grid[VB(q_ + 2) | ((qh_ << 4) & 0x300)], grid[VB(q_ + 3) | ((qh_ << 2) & 0x300)]); \
  const v128_t sv_ = wasm_v128_load32_splat((x)->qs + QK_K / 8 + 4 * (ib));                                          \
  const v128_t m0 = smask(sv_, 0), m1 = smask(sv_, 2);
static inline void SCALES_iq2_s(const block_iq2_s* x, v128_t* L0, v128_t* L1) { scales16_nibbles(x->scales, L0, L1); }

// One token: the signs go onto the activation, the grid values are RDOT's
// second operand. The batch's decode: signed weights plus OFF (the grid's
// largest value), OFF taken back through S8.
#define IQR_SIGNED(t, PER32, OFF)                                                                                    \
  static inline int32_t sb_##t(const block_##t* x, const int8_t* a, const int16_t* s8, const iq_grid_tables* T) {    \
    (void)s8;                                                                                                        \
    GRIDS_##t(T)                                                                                                     \
    v128_t L0, L1, acc = wasm_i32x4_const_splat(0), pins[2];                                                         \
    (void)pins;                                                                                                      \
    SCALES_##t(x, &L0, &L1);                                                                                         \
    OFFSETS_##t(x, ov_)                                                                                              \
    UNROLL for (int ib = 0; ib < 8; ib++) {                                                                          \
      STEP_##t(x, ib, g0, g1, m0, m1)                                                                                \
      const v128_t p0 = RDOT(negm(LOAD(a + 32 * ib), m0), g0), p1 = RDOT(negm(LOAD(a + 32 * ib + 16), m1), g1);      \
      acc = wasm_i32x4_add(acc, scaled(PER32, p0, p1, ib, L0, L1));                                                  \
      IQR_PIN(t, acc, pins[0]);                                                                                         \
    }                                                                                                                \
    return i32x4_hsum(acc);                                                                                          \
  }                                                                                                                  \
  static inline void sb2_##t(const block_##t* x, const block_##t* z, const int8_t* a, const int16_t* s8,             \
                             const iq_grid_tables* T, int32_t* is) {                                                 \
    (void)s8;                                                                                                        \
    GRIDS_##t(T)                                                                                                     \
    v128_t L0, L1, K0, K1, acc = wasm_i32x4_const_splat(0), acz = acc, pins[2];                                      \
    (void)pins;                                                                                                      \
    SCALES_##t(x, &L0, &L1);                                                                                         \
    SCALES_##t(z, &K0, &K1);                                                                                         \
    OFFSETS_##t(x, ovx_)                                                                                             \
    OFFSETS_##t(z, ovz_)                                                                                             \
    UNROLL for (int ib = 0; ib < 8; ib++) {                                                                          \
      const v128_t a0 = LOAD(a + 32 * ib), a1 = LOAD(a + 32 * ib + 16);                                              \
      {                                                                                                              \
        const volatile uint16_t* ov_ = ovx_;                                                                         \
        (void)ov_;                                                                                                   \
        STEP_##t(x, ib, g0, g1, m0, m1)                                                                              \
        acc = wasm_i32x4_add(acc, scaled(PER32, RDOT(negm(a0, m0), g0), RDOT(negm(a1, m1), g1), ib, L0, L1));        \
      }                                                                                                              \
      {                                                                                                              \
        const volatile uint16_t* ov_ = ovz_;                                                                         \
        (void)ov_;                                                                                                   \
        STEP_##t(z, ib, g0, g1, m0, m1)                                                                              \
        acz = wasm_i32x4_add(acz, scaled(PER32, RDOT(negm(a0, m0), g0), RDOT(negm(a1, m1), g1), ib, K0, K1));        \
        IQR_PIN(t, acc, pins[0]);                                                                                       \
        IQR_PIN(t, acz, pins[1]);                                                                                       \
      }                                                                                                              \
    }                                                                                                                \
    is[0] = i32x4_hsum(acc);                                                                                         \
    is[1] = i32x4_hsum(acz);                                                                                         \
  }                                                                                                                  \
  static inline void dec_##t(const block_##t* x, const iq_grid_tables* T, iq_dec* D) {                               \
    GRIDS_##t(T)                                                                                                     \
    const v128_t off = wasm_i8x16_const_splat(OFF), f = wasm_i16x8_const_splat(-(OFF));                              \
    v128_t L0, L1;                                                                                                   \
    SCALES_##t(x, &L0, &L1);                                                                                         \
    OFFSETS_##t(x, ov_)                                                                                              \
    UNROLL for (int ib = 0; ib < 8; ib++) {                                                                          \
      STEP_##t(x, ib, g0, g1, m0, m1)                                                                                \
      D->u[2 * ib] = wasm_i8x16_add(negm(g0, m0), off);                                                              \
      D->u[2 * ib + 1] = wasm_i8x16_add(negm(g1, m1), off);                                                          \
    }                                                                                                                \
    dec_scales(PER32, L0, L1, D);                                                                                    \
    const v128_t fs[4] = {f, f, f, f};                                                                               \
    dec_coefs(PER32, L0, L1, fs, D->c);                                                                              \
  }

// R2_<t>: the one-token kernel takes two rows side by side (one
// activation load, two independent chains of table loads); measured faster
// for these two, slower for iq2_xs and iq3_xxs (4096x4096, one thread).
#define R2_iq3_s 1
#define R2_iq2_xxs 1
#define R2_iq3_xxs 0
#define R2_iq2_xs 0
#define R2_iq2_s 0
#define R2_iq1_s 0
#define R2_iq1_m 0
IQR_SIGNED(iq3_s, 1, 15)
IQR_SIGNED(iq3_xxs, 1, 62)
IQR_SIGNED(iq2_xxs, 1, 43)
IQR_SIGNED(iq2_xs, 0, 43)
IQR_SIGNED(iq2_s, 0, 43)

// ---------------------------------------------------------------- iq1_s, iq1_m
// STEP1_<t>(x, ib, w0, w1): 8 (g + 1) of step ib's grid points (0, 8, 16);
// FACTORS_<t>(x, f): dv - 8 (-9 or -7) per 8-group as i16, for dec_coefs.

// 8 (g + 1) of the iq1s grid points at byte offsets o0, o1: the bytes stay below 32, so a 16-bit shift keeps them apart.
#define G8O(o0, o1) wasm_i16x8_shl(wasm_i8x16_add(wasm_u64x2_make(U64AT(o0), U64AT(o1)), wasm_i8x16_const_splat(1)), 3)
#define OFFSETS1_iq1_s(x) OFFSETS32((x)->qs, VLOAD((x)->qh), 3, ov_)
#define STEP1_iq1_s(x, ib, w0, w1)                                                                                   \
  const v128_t w0 = G8O(ov_[4 * (ib)], ov_[4 * (ib) + 1]), w1 = G8O(ov_[4 * (ib) + 2], ov_[4 * (ib) + 3]);
static inline void SCALES_iq1_s(const block_iq1_s* x, v128_t* L0, v128_t* L1) {
  *L0 = *L1 = odd4(wasm_v128_and(wasm_u16x8_shr(VLOAD(x->qh), 12), wasm_i16x8_const_splat(7)));  // bits 12..14
}
// one delta per 32, from bit 15 of qh[ib]: -7 - 2 * bit
static inline void FACTORS_iq1_s(const block_iq1_s* x, v128_t* f) {
  const v128_t e = wasm_i16x8_sub(wasm_i16x8_const_splat(-7), wasm_i16x8_shl(wasm_u16x8_shr(VLOAD(x->qh), 15), 1));
  f[0] = wasm_i16x8_shuffle(e, e, 0, 0, 0, 0, 1, 1, 1, 1), f[1] = wasm_i16x8_shuffle(e, e, 2, 2, 2, 2, 3, 3, 3, 3);
  f[2] = wasm_i16x8_shuffle(e, e, 4, 4, 4, 4, 5, 5, 5, 5), f[3] = wasm_i16x8_shuffle(e, e, 6, 6, 6, 6, 7, 7, 7, 7);
}

// The byte offsets (index * 8) of a super-block's 32 grid points, computed
// at once and read back through the stack as u16s (instead of 32 scalar
// index computations; 1.1x, 4096x4096, one thread): index k takes qs[k] and
// the 3 bits of qh[k / 2]'s low (k even) or high nibble.
static inline void iq1_m_offsets(const block_iq1_m* x, uint16_t* of) {
  const v128_t q0 = VLOAD(x->qs), q1 = VLOAD(x->qs + 16), h = VLOAD(x->qh);
  const v128_t seven = wasm_i8x16_const_splat(7);
  const v128_t lo = wasm_v128_and(h, seven), hi = wasm_v128_and(wasm_u16x8_shr(h, 4), seven);
  const v128_t e0 = wasm_i8x16_shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t e1 = wasm_i8x16_shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
#define OFS8(q, e) wasm_v128_or(wasm_i16x8_shl(q, 3), wasm_i16x8_shl(e, 11))
  volatile v128_t* o = (volatile v128_t*)of;
  o[0] = OFS8(wasm_u16x8_extend_low_u8x16(q0), wasm_u16x8_extend_low_u8x16(e0));
  o[1] = OFS8(wasm_u16x8_extend_high_u8x16(q0), wasm_u16x8_extend_high_u8x16(e0));
  o[2] = OFS8(wasm_u16x8_extend_low_u8x16(q1), wasm_u16x8_extend_low_u8x16(e1));
  o[3] = OFS8(wasm_u16x8_extend_high_u8x16(q1), wasm_u16x8_extend_high_u8x16(e1));
#undef OFS8
}
#define OFFSETS1_iq1_m(x) uint16_t of_[32] __attribute__((aligned(16))); iq1_m_offsets(x, of_); const volatile uint16_t* ov_ = of_;
#define STEP1_iq1_m(x, ib, w0, w1)                                                                                   \
  const v128_t w0 = G8O(ov_[4 * (ib)], ov_[4 * (ib) + 1]), w1 = G8O(ov_[4 * (ib) + 2], ov_[4 * (ib) + 3]);
// The sixteen scales (one per 16; group k's 3 bits at bit 3 (k % 4) of u16 k / 4).
static inline void SCALES_iq1_m(const block_iq1_m* x, v128_t* L0, v128_t* L1) {
  // lanes 0..3: the four u16s; each field by uniform shifts (clang scalarizes a multiply by per-lane powers of two)
  const v128_t sc = wasm_i64x2_make(*(const volatile uint64_t*)(const void*)x->scales, 0);
  const v128_t f0 = sc, f1 = wasm_u16x8_shr(sc, 3), f2 = wasm_u16x8_shr(sc, 6), f3 = wasm_u16x8_shr(sc, 9);
  const v128_t t01 = wasm_i16x8_shuffle(f0, f1, 0, 8, 1, 9, 2, 10, 3, 11), t23 = wasm_i16x8_shuffle(f2, f3, 0, 8, 1, 9, 2, 10, 3, 11);
  const v128_t seven = wasm_i16x8_const_splat(7);
  *L0 = odd4(wasm_v128_and(wasm_i32x4_shuffle(t01, t23, 0, 4, 1, 5), seven));
  *L1 = odd4(wasm_v128_and(wasm_i32x4_shuffle(t01, t23, 2, 6, 3, 7), seven));
}
// one delta per 8: 8-group j = 2i + b takes its sign from bit 3 (b = 0) or 7 (b = 1) of qh[i]
static inline void FACTORS_iq1_m(const block_iq1_m* x, v128_t* f) {
  const v128_t qv = VLOAD(x->qh);
  const v128_t b3 = wasm_i8x16_const_splat(8), b7 = wasm_i8x16_const_splat((int8_t)0x80);
  const v128_t m3 = wasm_i8x16_eq(wasm_v128_and(qv, b3), b3), m7 = wasm_i8x16_eq(wasm_v128_and(qv, b7), b7);
  const v128_t lo = wasm_i8x16_shuffle(m3, m7, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t hi = wasm_i8x16_shuffle(m3, m7, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t m7i = wasm_i8x16_const_splat(-7);
  const v128_t e0 = wasm_i8x16_add(m7i, wasm_i8x16_add(lo, lo)), e1 = wasm_i8x16_add(m7i, wasm_i8x16_add(hi, hi));
  f[0] = wasm_i16x8_extend_low_i8x16(e0), f[1] = wasm_i16x8_extend_high_i8x16(e0);
  f[2] = wasm_i16x8_extend_low_i8x16(e1), f[3] = wasm_i16x8_extend_high_i8x16(e1);
}

#define IQR_IQ1(t, PER32)                                                                                            \
  static inline int32_t sb_##t(const block_##t* x, const int8_t* a, const int16_t* s8, const iq_grid_tables* T) {    \
    const uint64_t* grid = T->iq1s;                                                                                  \
    v128_t L0, L1, f[4], c[4], acc = wasm_i32x4_const_splat(0), pins[1];                                             \
    (void)pins;                                                                                                      \
    SCALES_##t(x, &L0, &L1);                                                                                         \
    OFFSETS1_##t(x)                                                                                                  \
    UNROLL for (int ib = 0; ib < 8; ib++) {                                                                          \
      STEP1_##t(x, ib, w0, w1)                                                                                       \
      acc = wasm_i32x4_add(acc, scaled(PER32, RDOT(LOAD(a + 32 * ib), w0), RDOT(LOAD(a + 32 * ib + 16), w1), ib, L0, L1)); \
      IQR_PIN(t, acc, pins[0]);                                                                                         \
    }                                                                                                                \
    FACTORS_##t(x, f);                                                                                               \
    dec_coefs(PER32, L0, L1, f, c);                                                                                  \
    return i32x4_hsum(wasm_i32x4_add(acc, coef_dot(c, s8)));                                                         \
  }                                                                                                                  \
  static inline void sb2_##t(const block_##t* x, const block_##t* z, const int8_t* a, const int16_t* s8,             \
                             const iq_grid_tables* T, int32_t* is) {                                                 \
    is[0] = sb_##t(x, a, s8, T);                                                                                     \
    is[1] = sb_##t(z, a, s8, T);                                                                                     \
  }                                                                                                                  \
  static inline void dec_##t(const block_##t* x, const iq_grid_tables* T, iq_dec* D) {                               \
    const uint64_t* grid = T->iq1s;                                                                                  \
    v128_t L0, L1, f[4];                                                                                             \
    SCALES_##t(x, &L0, &L1);                                                                                         \
    OFFSETS1_##t(x)                                                                                                  \
    UNROLL for (int ib = 0; ib < 8; ib++) {                                                                          \
      STEP1_##t(x, ib, w0, w1)                                                                                       \
      D->u[2 * ib] = w0, D->u[2 * ib + 1] = w1;                                                                      \
    }                                                                                                                \
    dec_scales(PER32, L0, L1, D);                                                                                    \
    FACTORS_##t(x, f);                                                                                               \
    dec_coefs(PER32, L0, L1, f, D->c);                                                                               \
  }

IQR_IQ1(iq1_s, 1)
IQR_IQ1(iq1_m, 0)

#define D_iq3_s(x) fp16_to_fp32((x)->d)
#define D_iq3_xxs(x) fp16_to_fp32((x)->d)
#define D_iq2_xxs(x) fp16_to_fp32((x)->d)
#define D_iq2_xs(x) fp16_to_fp32((x)->d)
#define D_iq2_s(x) fp16_to_fp32((x)->d)
#define D_iq1_s(x) fp16_to_fp32((x)->d)
#define D_iq1_m(x) fp16_to_fp32(iq1_m_d(x))

// ---------------------------------------------------------------- the kernels

// rows [r0, r1) times n_tok q8_K rows: per column chunk, the tokens' S8;
// one token runs sb_<t> per (row, super-block), more decode each weight
// super-block once (dec_<t>) for a tile of IQR_TT tokens.
#define IQR_KERNELS(t, FINAL)                                                                                        \
  static void mm_##t(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,       \
                     int n, int n_tok, int r0, int r1, int flag) {                                                   \
    (void)flag;                                                                                                      \
    const iq_grid_tables* T = iq_grids();                                                                            \
    int16_t s8[IQR_TT][IQR_CHUNK / 8] __attribute__((aligned(16)));                                                  \
    const block_q8_K* y[IQR_TT];                                                                                     \
    for (int t0 = 0; t0 < n_tok; t0 += IQR_TT) {                                                                     \
      const int nt = n_tok - t0 < IQR_TT ? n_tok - t0 : IQR_TT;                                                      \
      for (int c0 = 0; c0 < n; c0 += IQR_CHUNK) {                                                                    \
        const int nb = (n - c0 < IQR_CHUNK ? n - c0 : IQR_CHUNK) / QK_K;                                             \
        const int first = c0 == 0, last = c0 + IQR_CHUNK >= n;                                                       \
        for (int k = 0; k < nt; k++) {                                                                               \
          y[k] = (const block_q8_K*)((const uint8_t*)a + (size_t)(t0 + k) * a_row_bytes) + c0 / QK_K;                \
          sums8(y[k], s8[k], nb); /* (skipping it where sb_<t> ignores it made iq2_xs 1.4x slower in V8) */          \
        }                                                                                                            \
        float* o = out + (size_t)t0 * out_stride;                                                                    \
        for (int r = r0; r < r1; r++) {                                                                              \
          const block_##t* x = (const block_##t*)((const uint8_t*)w + (size_t)r * row_bytes) + c0 / QK_K;            \
          float sum[IQR_TT];                                                                                         \
          for (int k = 0; k < nt; k++) sum[k] = first ? 0.0f : o[(size_t)k * out_stride + r];                        \
          if (nt == 1 && R2_##t && r + 1 < r1) {                                                                     \
            const block_##t* z = (const block_##t*)((const uint8_t*)x + row_bytes);                                  \
            float sz = first ? 0.0f : o[r + 1];                                                                      \
            for (int i = 0; i < nb; i++) {                                                                           \
              int32_t is[2];                                                                                         \
              sb2_##t(x + i, z + i, y[0][i].qs, s8[0] + 32 * i, T, is);                                              \
              sum[0] += (D_##t(x + i) * y[0][i].d) * (float)is[0];                                                   \
              sz += (D_##t(z + i) * y[0][i].d) * (float)is[1];                                                       \
            }                                                                                                        \
            o[r + 1] = last ? sz * (FINAL) : sz;                                                                     \
            o[r] = last ? sum[0] * (FINAL) : sum[0];                                                                 \
            r++;                                                                                                     \
            continue;                                                                                                \
          }                                                                                                          \
          if (nt == 1) {                                                                                             \
            for (int i = 0; i < nb; i++) {                                                                           \
              const int32_t is = sb_##t(x + i, y[0][i].qs, s8[0] + 32 * i, T);                                       \
              sum[0] += (D_##t(x + i) * y[0][i].d) * (float)is;                                                      \
            }                                                                                                        \
          } else {                                                                                                   \
            for (int i = 0; i < nb; i++) {                                                                           \
              iq_dec D;                                                                                              \
              dec_##t(x + i, T, &D);                                                                                 \
              const float d = D_##t(x + i);                                                                          \
              for (int k = 0; k < nt; k++) {                                                                         \
                const int32_t is = dec_dot(&D, y[k][i].qs, s8[k] + 32 * i);                                          \
                sum[k] += (d * y[k][i].d) * (float)is;                                                               \
              }                                                                                                      \
            }                                                                                                        \
          }                                                                                                          \
          for (int k = 0; k < nt; k++) o[(size_t)k * out_stride + r] = last ? sum[k] * (FINAL) : sum[k];             \
        }                                                                                                            \
      }                                                                                                              \
    }                                                                                                                \
  }                                                                                                                  \
  RELAXED_ENTRIES(t, mm_##t, 0)                                                                                      \
  RELAXED_VEC_DOT(t, q8_K, mm_##t)                                                                                   \
  MAT_ROWS_ID(t)

IQR_KERNELS(iq3_s, 1.0f)
IQR_KERNELS(iq3_xxs, 0.25f)
IQR_KERNELS(iq2_xxs, 0.125f)
IQR_KERNELS(iq2_xs, 0.125f)
IQR_KERNELS(iq2_s, 0.125f)
IQR_KERNELS(iq1_s, 0.125f)
IQR_KERNELS(iq1_m, 0.125f)
