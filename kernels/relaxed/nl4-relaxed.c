// iq4_nl and mxfp4 (nl4.h: 32-element blocks, one 4-bit code per element
// indexing 16 levels, against q8_0 activations) with relaxed SIMD; iq4_xs
// is in iq4_xs-relaxed.c.
//
// Four rows at a time, one row per lane, as q4_0 in legacy-relaxed.c (see
// relaxed.h): the rows' codes in 4-byte groups side by side, the
// activation's four matching bytes broadcast, byte dots leaving row j's
// sums in lanes 2j, 2j+1. The byte dot (i16x8.relaxed_dot_i8x16_i7x16_s)
// is exact on every engine only when its second operand is 0..127, so the
// levels are rewritten into operands of that range:
// - mxfp4: its levels plus 12 (0..24, mxfp4_ulevels, one swizzle per 16
//   codes); sum(a * level) = dot(a, level + 12) - 12 * sum(a).
// - iq4_nl: its levels span -127..113, more than 7 bits, so each is split
//   as 15 * code + L(code) - 127 with L in 0..18 (iq4_nl_L, nl4.h): the
//   code itself (the nibble, no lookup) and L (one swizzle) are both valid
//   operands, and sum(a * level) = 15 * dot(a, code) + dot(a, L) -
//   127 * sum(a). Eight code dots add up in int16 (|lane| <= 8 * 2 * 128 *
//   15 < 2^15), the L dots four at a time (4 * 2 * 128 * 18 < 2^15). The
//   slope 15 gives L the smallest range (16: 0..26).
//   Tried and dropped: one row at a time with the activation split into
//   its positive and negative parts (dot(w, p) - dot(w, m), each pair sum
//   widened at once: two byte dots and a widening per 16 weights, plus a
//   horizontal sum per row and block), which this replaces; levels |l|
//   with the activation's sign flipped per weight, or the levels (first
//   operand) against the activation's |a| with its signs applied to them:
//   a swizzle, a sign step, one byte dot and a widening per 16 weights, no
//   fewer operations than the split above, and more on the ports the byte
//   dots use.
// 4096x4096 matvec, one thread, CPU time, 10th percentiles of 589 rounds
// alternating with the previous kernels on a shared machine: iq4_nl 3.58
// ms before, 2.13 plain, 1.67 iq4_nlx4 (Q4_K 1.98, q4_Kx4 1.38); mxfp4 2.15
// before, 1.77 plain, 1.62 mxfp4x4 (Q4_0 1.82, q4_0x4 1.45). A 16-token
// batch: iq4_nl 2.8x, mxfp4 1.2x the previous kernels' speed.
// The per-block sum (-12 or -127 times the sum of the activation's quants)
// is made once per token and block.
//
// Weights repacked at load (runtime/repack.ts) into iq4_nlx4 / mxfp4x4
// groups: four rows' block b as the four scales (f16 d, or e8m0 e) then the
// codes in transpose4's order, so decode needs no shuffles; two groups at a
// time (eight rows), each activation broadcast serving both, PIN (relaxed.h)
// after each half block. Plain rows (a row count that is not a multiple of
// 4) are transposed per block.
//
// Every path reduces a block to row j's exact int32 sum in lane j and then
// takes the same f32 steps per row, block after block as ggml's reference:
// acc += f32(isum) * fl(d_w * d_a). So the repacked layouts give the plain
// layout's bits, a batch gives token by token's, and any row split the same.
#include "../nl4.h"
#include "../legacy-blocks.h"
#include "../moe.h"
#include "relaxed.h"

// Indices are always 0..15, where relaxed_swizzle is exact (one pshufb on x86).
#define RSWZ wasm_i8x16_relaxed_swizzle
#define ALWAYS __attribute__((always_inline)) static inline
#define CB (ACT_CHUNK / 32)  // blocks per activation chunk

// mxfp4's levels plus 12.
static inline v128_t mxfp4_ulevels(void) { return wasm_i8x16_const(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0); }

// Four rows' block b, repacked: scales (iq4_nl: f16 d; mxfp4: e8m0 e), then
// bytes 16i + 4j.. = row j's code bytes 4i.. (transpose4's order).
typedef struct { uint16_t d[4]; uint8_t qs[64]; } block_iq4_nlx4;
typedef struct { uint8_t e[4]; uint8_t qs[64]; } block_mxfp4x4;
_Static_assert(sizeof(block_iq4_nlx4) == 4 * sizeof(block_iq4_nl), "a group takes four rows' bytes");
_Static_assert(sizeof(block_mxfp4x4) == 4 * sizeof(block_mxfp4), "a group takes four rows' bytes");

// Per token and block of an activation chunk.
typedef struct {
  float d[CB];       // d_a (iq4_nl: times 2^112, its weight scales being fp16_unscaled's)
  int32_t bias[CB];  // -127 (iq4_nl) or -12 (mxfp4) times the block's sum of quants
} nl4_act;

ALWAYS void nl4_prep(int nl, const block_q8_0* y, int nb, nl4_act* a) {
  for (int b = 0; b < nb; b++) {
    const v128_t s = wasm_i16x8_add(wasm_i16x8_extadd_pairwise_i8x16(LOAD(y[b].qs)), wasm_i16x8_extadd_pairwise_i8x16(LOAD(y[b].qs + 16)));
    a->bias[b] = (nl ? -127 : -12) * i32x4_hsum(wasm_i32x4_extadd_pairwise_i16x8(s));
    a->d[b] = fp16_to_fp32(y[b].d) * (nl ? F16_UNSCALE : 1.0f);
  }
}

// The four rows' scales as f32 lanes: iq4_nl's d as fp16_unscaled (value * 2^-112, exact for finite d), mxfp4's e8m0_half.
ALWAYS v128_t nl4_dw_x4(int nl, const uint8_t* g) {
  // fp16_unscaled (common.h) on four lanes: sign-extended, shifted, masked (three ops; relaxed.h's f16x4_unscaled_at takes five)
  if (nl) return wasm_v128_and(wasm_i32x4_shl(wasm_i32x4_extend_low_i16x8(wasm_v128_load64_zero(g)), 13), wasm_i32x4_const_splat((int32_t)0x8FFFE000u));
  return e8m0x4_half(wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(wasm_v128_load32_zero(g))));
}

// Half h of a group's block as byte-dot operands: k = 0..3 the elements
// 16h + 4k.. (the low nibbles of v[k] for h = 0, the high ones for h = 1),
// four per row. iq4_nl: c the codes, l their L; mxfp4: c its levels plus 12.
typedef struct { v128_t c[4], l[4]; } nl4_half;

ALWAYS void nl4_decode_half(int nl, const v128_t v[4], int h, nl4_half* w) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  for (int k = 0; k < 4; k++) {
    const v128_t c = wasm_v128_and(h ? wasm_u16x8_shr(v[k], 4) : v[k], m4);
    if (nl) {
      w->c[k] = c;
      w->l[k] = RSWZ(iq4_nl_L(), c);
    } else {
      w->c[k] = RSWZ(mxfp4_ulevels(), c);
    }
  }
}

// A group's block: its code vectors (transpose4's order) and scales, from
// the repacked bytes g or from four plain rows x[j].
ALWAYS void nl4_load_x4(int nl, const uint8_t* g, v128_t v[4], v128_t* dw) {
  const uint8_t* q = g + (nl ? 8 : 4);
  v[0] = LOAD(q), v[1] = LOAD(q + 16), v[2] = LOAD(q + 32), v[3] = LOAD(q + 48);
  *dw = nl4_dw_x4(nl, g);
}

ALWAYS void nl4_load_rows(int nl, const uint8_t* const x[4], int b, v128_t v[4], v128_t* dw) {
  const int bs = nl ? sizeof(block_iq4_nl) : sizeof(block_mxfp4), qo = nl ? 2 : 1;
  transpose4(LOAD(x[0] + b * bs + qo), LOAD(x[1] + b * bs + qo), LOAD(x[2] + b * bs + qo), LOAD(x[3] + b * bs + qo), v);
  if (nl) {
    *dw = f16x4_unscaled(wasm_i32x4_make(*(const uint16_t*)(x[0] + b * bs), *(const uint16_t*)(x[1] + b * bs),
                                         *(const uint16_t*)(x[2] + b * bs), *(const uint16_t*)(x[3] + b * bs)));
  } else {
    *dw = e8m0x4_half(wasm_i32x4_make(x[0][b * bs], x[1][b * bs], x[2][b * bs], x[3][b * bs]));
  }
}

// Row j's exact sum over a half block in lane j, against the 16 quants at q
// (without the offset term). |lane| <= 4 * 2 * 128 * 24 < 2^15 before widening.
ALWAYS v128_t nl4_half_sum(int nl, const nl4_half* w, const int8_t* q) {
  const v128_t s0 = SPLAT4(q), s1 = SPLAT4(q + 4), s2 = SPLAT4(q + 8), s3 = SPLAT4(q + 12);
  const v128_t u = wasm_i16x8_add(wasm_i16x8_add(RDOT(s0, w->c[0]), RDOT(s1, w->c[1])), wasm_i16x8_add(RDOT(s2, w->c[2]), RDOT(s3, w->c[3])));
  if (!nl) return wasm_i32x4_extadd_pairwise_i16x8(u);
  const v128_t l = wasm_i16x8_add(wasm_i16x8_add(RDOT(s0, w->l[0]), RDOT(s1, w->l[1])), wasm_i16x8_add(RDOT(s2, w->l[2]), RDOT(s3, w->l[3])));
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(u, wasm_i16x8_const_splat(15)), wasm_i32x4_extadd_pairwise_i16x8(l));
}

// acc lane j += row j's block sum times fl(d_w * d_a): ggml's step.
ALWAYS v128_t nl4_step(v128_t acc, v128_t isum, v128_t dw, float ad) {
  return wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(dw, wasm_f32x4_splat(ad))));
}

// One half block (h: 0 low nibbles, 1 high) of one iq4_nlx4 group for the
// pairs below: c gathers the code dots (int16), i the widened L dots.
#define NL_HALF(v, s, h, c, i) do {                                                                       \
    const v128_t k0 = wasm_v128_and(h ? wasm_u16x8_shr(v##0, 4) : v##0, m4);                             \
    const v128_t k1 = wasm_v128_and(h ? wasm_u16x8_shr(v##1, 4) : v##1, m4);                             \
    const v128_t k2 = wasm_v128_and(h ? wasm_u16x8_shr(v##2, 4) : v##2, m4);                             \
    const v128_t k3 = wasm_v128_and(h ? wasm_u16x8_shr(v##3, 4) : v##3, m4);                             \
    c = wasm_i16x8_add(c, wasm_i16x8_add(wasm_i16x8_add(RDOT(s##0, k0), RDOT(s##1, k1)),                   \
                                         wasm_i16x8_add(RDOT(s##2, k2), RDOT(s##3, k3))));                 \
    const v128_t u_ = wasm_i16x8_add(wasm_i16x8_add(RDOT(s##0, RSWZ(tab, k0)), RDOT(s##1, RSWZ(tab, k1))), \
                                     wasm_i16x8_add(RDOT(s##2, RSWZ(tab, k2)), RDOT(s##3, RSWZ(tab, k3)))); \
    i = wasm_i32x4_add(i, wasm_i32x4_extadd_pairwise_i16x8(u_));                                          \
  } while (0)

// iq4_nlx4 decode, two groups (eight rows) at a time; returns the first
// group left for the one-group path. Same integer sums and float steps as
// nl4_half_sum / nl4_step. A PIN after each group's half block: without the
// one between the halves, 1.18x slower (V8 hoists the second half's loads
// and spills); a whole block per step as mx_pairs, 1.15x slower; one group
// at a time, about the same.
static int iq4_nlx4_pairs(const uint8_t* w, int row_bytes, const block_q8_0* y, const nl4_act* act, float* out, int nb,
                          int r0, int r1, int first) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), tab = iq4_nl_L();
  v128_t pins[4];
  int r = r0 & ~3;
  for (; r + 4 < r1; r += 8) {
    const block_iq4_nlx4* ga = (const block_iq4_nlx4*)(w + (size_t)r * row_bytes);
    const block_iq4_nlx4* gb = (const block_iq4_nlx4*)(w + (size_t)(r + 4) * row_bytes);
    v128_t acca = wasm_f32x4_const_splat(0.0f), accb = acca;
    for (int b = 0; b < nb; b++, ga++, gb++) {
      const int8_t* q = y[b].qs;
      const v128_t a0 = LOAD(ga->qs), a1 = LOAD(ga->qs + 16), a2 = LOAD(ga->qs + 32), a3 = LOAD(ga->qs + 48);
      const v128_t b0 = LOAD(gb->qs), b1 = LOAD(gb->qs + 16), b2 = LOAD(gb->qs + 32), b3 = LOAD(gb->qs + 48);
      v128_t ca = wasm_i16x8_const_splat(0), cb = ca, ia = wasm_i32x4_splat(act->bias[b]), ib = ia;
      {
        const v128_t s0 = SPLAT4(q), s1 = SPLAT4(q + 4), s2 = SPLAT4(q + 8), s3 = SPLAT4(q + 12);
        NL_HALF(a, s, 0, ca, ia);
        PIN(ia, pins[0]);
        NL_HALF(b, s, 0, cb, ib);
        PIN(ib, pins[1]);
      }
      {
        const v128_t s0 = SPLAT4(q + 16), s1 = SPLAT4(q + 20), s2 = SPLAT4(q + 24), s3 = SPLAT4(q + 28);
        NL_HALF(a, s, 1, ca, ia);
        PIN(ia, pins[0]);
        NL_HALF(b, s, 1, cb, ib);
      }
      ia = wasm_i32x4_add(ia, wasm_i32x4_dot_i16x8(ca, wasm_i16x8_const_splat(15)));
      ib = wasm_i32x4_add(ib, wasm_i32x4_dot_i16x8(cb, wasm_i16x8_const_splat(15)));
      acca = nl4_step(acca, ia, nl4_dw_x4(1, (const uint8_t*)ga), act->d[b]);
      accb = nl4_step(accb, ib, nl4_dw_x4(1, (const uint8_t*)gb), act->d[b]);
      PIN(acca, pins[2]);
      PIN(accb, pins[3]);
    }
    store4(acca, out, r, r0, r1, first);
    store4(accb, out, r + 4, r0, r1, first);
  }
  return r;
}

// mxfp4x4 decode, two groups at a time: as q4_0x4_pairs (legacy-relaxed.c),
// a whole block per step (eight broadcasts, eight loads), PIN at its end;
// halves with a PIN between them (as iq4_nlx4_pairs) were 1.03x slower.
static int mx_pairs(const uint8_t* w, int row_bytes, const block_q8_0* y, const nl4_act* act, float* out, int nb,
                    int r0, int r1, int first) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), ul = mxfp4_ulevels();
  v128_t pins[2];
  int r = r0 & ~3;
  for (; r + 4 < r1; r += 8) {
    const block_mxfp4x4* ga = (const block_mxfp4x4*)(w + (size_t)r * row_bytes);
    const block_mxfp4x4* gb = (const block_mxfp4x4*)(w + (size_t)(r + 4) * row_bytes);
    v128_t acca = wasm_f32x4_const_splat(0.0f), accb = acca;
    for (int b = 0; b < nb; b++, ga++, gb++) {
      const int8_t* q = y[b].qs;
      const v128_t s0 = SPLAT4(q), s1 = SPLAT4(q + 4), s2 = SPLAT4(q + 8), s3 = SPLAT4(q + 12);
      const v128_t a0 = LOAD(ga->qs), a1 = LOAD(ga->qs + 16), a2 = LOAD(ga->qs + 32), a3 = LOAD(ga->qs + 48);
      const v128_t b0 = LOAD(gb->qs), b1 = LOAD(gb->qs + 16), b2 = LOAD(gb->qs + 32), b3 = LOAD(gb->qs + 48);
      const v128_t la = wasm_i16x8_add(wasm_i16x8_add(RDOT(s0, RSWZ(ul, wasm_v128_and(a0, m4))), RDOT(s1, RSWZ(ul, wasm_v128_and(a1, m4)))),
                                       wasm_i16x8_add(RDOT(s2, RSWZ(ul, wasm_v128_and(a2, m4))), RDOT(s3, RSWZ(ul, wasm_v128_and(a3, m4)))));
      const v128_t lb = wasm_i16x8_add(wasm_i16x8_add(RDOT(s0, RSWZ(ul, wasm_v128_and(b0, m4))), RDOT(s1, RSWZ(ul, wasm_v128_and(b1, m4)))),
                                       wasm_i16x8_add(RDOT(s2, RSWZ(ul, wasm_v128_and(b2, m4))), RDOT(s3, RSWZ(ul, wasm_v128_and(b3, m4)))));
      const v128_t t0 = SPLAT4(q + 16), t1 = SPLAT4(q + 20), t2 = SPLAT4(q + 24), t3 = SPLAT4(q + 28);
      const v128_t ha = wasm_i16x8_add(
          wasm_i16x8_add(RDOT(t0, RSWZ(ul, wasm_v128_and(wasm_u16x8_shr(a0, 4), m4))), RDOT(t1, RSWZ(ul, wasm_v128_and(wasm_u16x8_shr(a1, 4), m4)))),
          wasm_i16x8_add(RDOT(t2, RSWZ(ul, wasm_v128_and(wasm_u16x8_shr(a2, 4), m4))), RDOT(t3, RSWZ(ul, wasm_v128_and(wasm_u16x8_shr(a3, 4), m4)))));
      const v128_t hb = wasm_i16x8_add(
          wasm_i16x8_add(RDOT(t0, RSWZ(ul, wasm_v128_and(wasm_u16x8_shr(b0, 4), m4))), RDOT(t1, RSWZ(ul, wasm_v128_and(wasm_u16x8_shr(b1, 4), m4)))),
          wasm_i16x8_add(RDOT(t2, RSWZ(ul, wasm_v128_and(wasm_u16x8_shr(b2, 4), m4))), RDOT(t3, RSWZ(ul, wasm_v128_and(wasm_u16x8_shr(b3, 4), m4)))));
      const v128_t bias = wasm_i32x4_splat(act->bias[b]);
      const v128_t ia = wasm_i32x4_add(bias, wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(la), wasm_i32x4_extadd_pairwise_i16x8(ha)));
      const v128_t ib = wasm_i32x4_add(bias, wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(lb), wasm_i32x4_extadd_pairwise_i16x8(hb)));
      acca = nl4_step(acca, ia, nl4_dw_x4(0, (const uint8_t*)ga), act->d[b]);
      accb = nl4_step(accb, ib, nl4_dw_x4(0, (const uint8_t*)gb), act->d[b]);
      PIN(acca, pins[0]);
      PIN(accb, pins[1]);
    }
    store4(acca, out, r, r0, r1, first);
    store4(accb, out, r + 4, r0, r1, first);
  }
  return r;
}

// Decode (one token) of one group: four plain rows, transposed per block,
// or a lone repacked group. The accumulators stay in registers (the batch
// path keeps them in per-token arrays); PIN as in the pairs.
ALWAYS v128_t nl4_group_decode(int nl, int x4, const uint8_t* g, const uint8_t* const x[4], const block_q8_0* y,
                               const nl4_act* act, int nb) {
  const int bs = nl ? sizeof(block_iq4_nl) : sizeof(block_mxfp4);
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), tab = nl ? iq4_nl_L() : mxfp4_ulevels();
  v128_t pins[2], acc = wasm_f32x4_const_splat(0.0f);
  for (int b = 0; b < nb; b++) {
    v128_t v[4], dw;
    if (x4) nl4_load_x4(nl, g + (size_t)b * 4 * bs, v, &dw);
    else nl4_load_rows(nl, x, b, v, &dw);
    const v128_t a0 = v[0], a1 = v[1], a2 = v[2], a3 = v[3];
    const int8_t* q = y[b].qs;
    v128_t i = wasm_i32x4_splat(act->bias[b]);
    if (nl) {
      v128_t c = wasm_i16x8_const_splat(0);
      {
        const v128_t s0 = SPLAT4(q), s1 = SPLAT4(q + 4), s2 = SPLAT4(q + 8), s3 = SPLAT4(q + 12);
        NL_HALF(a, s, 0, c, i);
      }
      PIN(i, pins[0]);
      {
        const v128_t s0 = SPLAT4(q + 16), s1 = SPLAT4(q + 20), s2 = SPLAT4(q + 24), s3 = SPLAT4(q + 28);
        NL_HALF(a, s, 1, c, i);
      }
      i = wasm_i32x4_add(i, wasm_i32x4_dot_i16x8(c, wasm_i16x8_const_splat(15)));
    } else {
      nl4_half wh;
      nl4_decode_half(0, v, 0, &wh);
      i = wasm_i32x4_add(i, nl4_half_sum(0, &wh, q));
      nl4_decode_half(0, v, 1, &wh);
      i = wasm_i32x4_add(i, nl4_half_sum(0, &wh, q + 16));
    }
    acc = nl4_step(acc, i, dw, act->d[b]);
    PIN(acc, pins[1]);
  }
  return acc;
}

// The batch loop of both layouts: tokens in passes of MM_TOK, columns in
// chunks of ACT_CHUNK, rows in groups of four (x4: the layout's groups,
// rows 4G..4G+3; plain: r0, r0 + 4, ..., the last group repeating row
// r1 - 1), lanes outside [r0, r1) dropped.
ALWAYS void nl4_mul_mat(int nl, const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                        int n, int n_tok, int r0, int r1, int x4) {
  const int bs = nl ? sizeof(block_iq4_nl) : sizeof(block_mxfp4);
  nl4_act act[MM_TOK];
  v128_t acc[MM_TOK], isum[MM_TOK];
  const block_q8_0* y[MM_TOK];
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
      const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / 32;
      for (int t = 0; t < nt; t++) {
        y[t] = (const block_q8_0*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / 32;
        nl4_prep(nl, y[t], nb, &act[t]);
      }
      // the chunk's first block of each row (plain), or of each group (x4: four rows' blocks)
      const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / 32) * bs * (x4 ? 4 : 1);
      float* o = out + (size_t)t0 * out_stride;
      int r = x4 ? r0 & ~3 : r0;
      if (x4 && nt == 1) r = nl ? iq4_nlx4_pairs(wc, row_bytes, y[0], &act[0], o, nb, r0, r1, c0 == 0)
                                : mx_pairs(wc, row_bytes, y[0], &act[0], o, nb, r0, r1, c0 == 0);
      for (; r < r1; r += 4) {
        const uint8_t* g = wc + (size_t)r * row_bytes;
        const uint8_t* x[4];
        for (int j = 0; j < 4; j++) x[j] = wc + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes;
        if (nt == 1) {
          acc[0] = x4 ? nl4_group_decode(nl, 1, g, x, y[0], &act[0], nb) : nl4_group_decode(nl, 0, g, x, y[0], &act[0], nb);
          store4(acc[0], o, r, r0, r1, c0 == 0);
          continue;
        }
        for (int t = 0; t < nt; t++) acc[t] = wasm_f32x4_const_splat(0.0f);
        for (int b = 0; b < nb; b++) {
          v128_t v[4], dw;
          if (x4) nl4_load_x4(nl, g + (size_t)b * 4 * bs, v, &dw);
          else nl4_load_rows(nl, x, b, v, &dw);
          for (int t = 0; t < nt; t++) isum[t] = wasm_i32x4_splat(act[t].bias[b]);
          // a half block at a time: eight weight vectors stay in registers over the tokens
          for (int h = 0; h < 2; h++) {
            nl4_half wh;
            nl4_decode_half(nl, v, h, &wh);
            for (int t = 0; t < nt; t++) isum[t] = wasm_i32x4_add(isum[t], nl4_half_sum(nl, &wh, y[t][b].qs + 16 * h));
          }
          for (int t = 0; t < nt; t++) acc[t] = nl4_step(acc[t], isum[t], dw, act[t].d[b]);
        }
        for (int t = 0; t < nt; t++) store4(acc[t], o + (size_t)t * out_stride, r, r0, r1, c0 == 0);
      }
    }
  }
}

static void iq4_nl_mm(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride, int n,
                      int n_tok, int r0, int r1, int x4) {
  nl4_mul_mat(1, w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0, r1, x4);
}

static void mxfp4_mm(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride, int n,
                     int n_tok, int r0, int r1, int x4) {
  nl4_mul_mat(0, w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0, r1, x4);
}

RELAXED_ENTRIES(iq4_nl, iq4_nl_mm, 0)
RELAXED_ENTRIES(iq4_nlx4, iq4_nl_mm, 1)
RELAXED_ENTRIES(mxfp4, mxfp4_mm, 0)
RELAXED_ENTRIES(mxfp4x4, mxfp4_mm, 1)
RELAXED_VEC_DOT(iq4_nl, q8_0, iq4_nl_mm)
RELAXED_VEC_DOT(mxfp4, q8_0, mxfp4_mm)
MAT_ROWS_ID(iq4_nl)
MAT_ROWS_ID(iq4_nlx4)
MAT_ROWS_ID(mxfp4)
MAT_ROWS_ID(mxfp4x4)

// Rewrite n_rows (a multiple of 4) plain rows as groups, in place: group G
// takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_iq4_nlx4)(void* w, int row_bytes, int n_rows, void* scratch) {
  repack_rows4_f16(w, row_bytes, n_rows, scratch, 16);
}

void EXPORT(repack_mxfp4x4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_mxfp4);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    const uint8_t* src = (const uint8_t*)scratch;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    for (int b = 0; b < nb; b++) {
      block_mxfp4x4* g = (block_mxfp4x4*)base + b;
      for (int j = 0; j < 4; j++) {
        const block_mxfp4* x = (const block_mxfp4*)(src + (size_t)j * row_bytes) + b;
        g->e[j] = x->e;
        for (int i = 0; i < 4; i++) memcpy(g->qs + 16 * i + 4 * j, x->qs + 4 * i, 4);
      }
    }
  }
}
