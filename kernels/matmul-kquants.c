// Prefill for the k-quants: mul_mat_<t> multiplies a weight matrix by a batch
// of q8_K activation rows (one per token), decoding each weight group once
// for a tile of MK_T tokens.
//
// Bit-identical to matvec_<t> (kquants-dot.c) token by token. Per
// super-block, matvec forms exact int32 lane sums (quants times their group
// scale times the activation, plus the offset/min terms from bsums) and then
// does a few f32 operations; only those f32 operations, per (row, token), fix
// the result, and they are repeated here unchanged. The integer part may be
// computed any way that gives the same lane values: here the group scale is
// multiplied into the int16 quants once per row (exact: |q * scale| <= 8064)
// instead of into each token's int32 sums, and the quants of a group land in
// the same i32 lanes as in matvec (even/odd elements against act_K's
// even/odd halves of each group of 16).
//
// Per token and 32 weights the inner loop is 4 activation loads, 4
// i32x4.dot_i16x8, 4 adds and a store (see GROUPS2); the weight decode and
// scaling, about as much again, is shared by the tile's tokens. Measured
// (bench/kernels.ts --prefill, one thread, 4096x4096, 64 tokens): 1.95-2x
// matvec's speed for q2_K and q4_K, 2.2-2.3x for q3_K, q5_K and q6_K.
#include "kquants.h"

void matvec_q2_K(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);
void matvec_q3_K(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);
void matvec_q4_K(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);
void matvec_q5_K(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);
void matvec_q6_K(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);

// Tokens per tile: 8 int32 accumulators + 4 weight vectors + one token's 4
// activation vectors: V8's 15 allocatable xmm registers on x64.
#define MK_T 8
// Leftover groups of fewer tokens: a padded tile from this many, else matvec.
#define MK_T_MIN 5
// Super-blocks widened at a time (4096 columns: 72 KiB of stack for 8
// tokens, mk_state adds 16 KiB). Rows longer than this go in passes of MK_RB
// rows whose f32 sums wait in mk_state; the activation is re-widened per
// pass. Smaller sub-chunks cost more than the re-widening suggests: each row
// is then read in pieces, which the hardware prefetcher follows less well
// (2048 columns measured 10-20% slower at n = 4096; n = 8192 in two 4096
// pieces loses about 5% against one piece).
#define MK_SUB 16
#define MK_RB 64
#define MK_GROUPS (QK_K / 16)

_Static_assert((ACT_CHUNK / QK_K) % MK_SUB == 0, "sub-chunks tile matvec's chunks");

// One super-block of the tile's activations: group-major, each group of 16
// as act_K stores it (8 even-index values, then 8 odd-index ones), so the
// tokens of one group are 256 contiguous bytes.
typedef struct {
  int16_t q[MK_GROUPS][MK_T][16];
  int16_t bsums[MK_T][QK_K / 16];
  int16_t bsums32[MK_T][QK_K / 32];
  float d[MK_T];
} mk_act;

typedef struct {
  v128_t sum[MK_RB][MK_T];
  v128_t msum[MK_RB][MK_T];
} mk_state;

// act_K's widening (kquants-dot.c), per token; tokens t >= nt repeat nt - 1.
static void mk_widen(const uint8_t* a, int a_row_bytes, int nt, int b0, int nb, mk_act* at) {
  for (int t = 0; t < MK_T; t++) {
    const block_q8_K* y = (const block_q8_K*)(a + (size_t)(t < nt ? t : nt - 1) * a_row_bytes) + b0;
    for (int i = 0; i < nb; ++i) {
      mk_act* w = &at[i];
      for (int g = 0; g < MK_GROUPS; ++g) {
        v128_t v = wasm_v128_load(y[i].qs + 16 * g);
        v = wasm_i8x16_shuffle(v, v, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
        wasm_v128_store(w->q[g][t], wasm_i16x8_extend_low_i8x16(v));
        wasm_v128_store(w->q[g][t] + 8, wasm_i16x8_extend_high_i8x16(v));
      }
      const v128_t s0 = wasm_v128_load(y[i].bsums), s1 = wasm_v128_load(y[i].bsums + 8);
      wasm_v128_store(w->bsums[t], s0);
      wasm_v128_store(w->bsums[t] + 8, s1);
      // |sum of 32| <= 32*127 fits int16, so the saturating narrow is exact
      wasm_v128_store(w->bsums32[t], wasm_i16x8_narrow_i32x4(wasm_i32x4_extadd_pairwise_i16x8(s0),
                                                             wasm_i32x4_extadd_pairwise_i16x8(s1)));
      w->d[t] = y[i].d;
    }
  }
}

#define DOT(a, b) wasm_i32x4_dot_i16x8(a, b)
#define LOAD(p) wasm_v128_load(p)
#define ADD(a, b) wasm_i32x4_add(a, b)
#define AND(a, b) wasm_v128_and(a, b)
#define OR(a, b) wasm_v128_or(a, b)
#define SHR(a, k) wasm_u16x8_shr(a, k)
#define SHL(a, k) wasm_i16x8_shl(a, k)
#define MUL16(a, b) wasm_i16x8_mul(a, b)
#define NOUNROLL _Pragma("clang loop unroll(disable)")

// Lane t of v in all four lanes; t is a constant once the token loop unrolls.
static inline v128_t mk_lane(v128_t v, int t) {
  switch (t & 3) {
    case 0: return wasm_i32x4_shuffle(v, v, 0, 0, 0, 0);
    case 1: return wasm_i32x4_shuffle(v, v, 1, 1, 1, 1);
    case 2: return wasm_i32x4_shuffle(v, v, 2, 2, 2, 2);
    default: return wasm_i32x4_shuffle(v, v, 3, 3, 3, 3);
  }
}

// Two groups ga, gb (32 weights) for every token: E*/O* are the even- and
// odd-index quants of each group as int16, sa/sb their scales. The volatile
// store after each token keeps V8 from hoisting all the tile's activation
// loads above the arithmetic (its scheduler does, then spills them all).
#define GROUPS2(EA, OA, EB, OB, sa, sb, ga, gb) do {                                          \
    const v128_t sa_ = wasm_i16x8_splat(sa), sb_ = wasm_i16x8_splat(sb);                      \
    const v128_t w0 = MUL16(EA, sa_), w1 = MUL16(OA, sa_);                                    \
    const v128_t w2 = MUL16(EB, sb_), w3 = MUL16(OB, sb_);                                    \
    const int16_t (*qa)[16] = as->q[ga];                                                      \
    const int16_t (*qb)[16] = as->q[gb];                                                      \
    _Pragma("clang loop unroll(full)") for (int t = 0; t < MK_T; t++) {                       \
      acc[t] = ADD(acc[t], ADD(ADD(DOT(w0, LOAD(qa[t])), DOT(w1, LOAD(qa[t] + 8))),            \
                               ADD(DOT(w2, LOAD(qb[t])), DOT(w3, LOAD(qb[t] + 8)))));          \
      sink = acc[t];                                                                          \
    }                                                                                         \
  } while (0)

// The f16 pair at p (d, then dmin) as f32 in lanes 0 and 1, bit for bit
// fp16_to_fp32's (f16x4_to_f32x4 is exact for every input), without its
// branches.
static inline v128_t mk_f16x2(const uint16_t* p) {
  return f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load32_zero(p)));
}
// A lone f16 (q3_K's d ends the block: reading 4 bytes could pass the end of
// the tensor) in every lane.
static inline v128_t mk_f16x1(const uint16_t* p) {
  return f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load16_splat(p)));
}
#define LANE0(v) wasm_i32x4_shuffle(v, v, 0, 0, 0, 0)
#define LANE1(v) wasm_i32x4_shuffle(v, v, 1, 1, 1, 1)

// A u16 vector whose lanes hold two quants (element 2k low byte, 2k+1 high).
#define EVEN(v) AND(v, wasm_i16x8_splat(0x00ff))
#define ODD(v) SHR(v, 8)

// matvec's add_superblock: sum + d * f32(isum), d = fl(wd * ad) per token.
#define SB_ADD(sum, dv, t, isum) \
  wasm_f32x4_add(sum, wasm_f32x4_mul(mk_lane((t) < 4 ? dv##0 : dv##1, t), wasm_f32x4_convert_i32x4(isum)))

// The per-row, per-token f32 state: started at 0 on a chunk's first
// sub-chunk, else carried in st.
#define ROW_BEGIN(WTYPE)                                                                     \
  volatile v128_t sink;                                                                      \
  for (int i = 0; i < nrows; i++) {                                                          \
    const block_##WTYPE* x = (const block_##WTYPE*)(w + (size_t)i * row_bytes);              \
    if (first) {                                                                             \
      for (int t = 0; t < MK_T; t++) st->sum[i][t] = st->msum[i][t] = wasm_f32x4_splat(0.0f); \
    }                                                                                        \
    for (int sb = 0; sb < nb; ++sb, ++x) {                                                   \
      const mk_act* as = &a[sb];                                                             \
      v128_t acc[MK_T];                                                                      \
      for (int t = 0; t < MK_T; t++) acc[t] = wasm_i32x4_splat(0);                           \
      const v128_t ad0 = LOAD(as->d), ad1 = LOAD(as->d + 4);

#define ROW_END \
    }           \
  }             \
  (void)sink;

#define MK_ROWS_SIG(WTYPE)                                                                   \
  static void mk_rows_##WTYPE(const uint8_t* w, int row_bytes, const mk_act* a, int nb, mk_state* st, \
                              int nrows, int first)

// ---------------------------------------------------------------- q4_K

MK_ROWS_SIG(q4_K) {
  const v128_t m4 = wasm_i16x8_splat(0x000f);
  ROW_BEGIN(q4_K)
    const v128_t smv = unpack_scales_k4(x->scales);
    uint8_t sm[16];
    wasm_v128_store(sm, smv);
    _Pragma("clang loop unroll(full)") for (int c = 0; c < 4; ++c) {
      const v128_t v0 = LOAD(x->qs + 32 * c), v1 = LOAD(x->qs + 32 * c + 16);
      // low nibbles: groups 4c, 4c+1 (scale 2c); high: 4c+2, 4c+3 (scale 2c+1)
      GROUPS2(AND(v0, m4), AND(SHR(v0, 8), m4), AND(v1, m4), AND(SHR(v1, 8), m4), sm[2 * c], sm[2 * c],
              4 * c, 4 * c + 1);
      GROUPS2(AND(SHR(v0, 4), m4), SHR(v0, 12), AND(SHR(v1, 4), m4), SHR(v1, 12), sm[2 * c + 1], sm[2 * c + 1],
              4 * c + 2, 4 * c + 3);
    }
    const v128_t mns = wasm_u16x8_extend_high_u8x16(smv);
    const v128_t dd = mk_f16x2(&x->d), d = LANE0(dd), dm = LANE1(dd);
    const v128_t dv0 = wasm_f32x4_mul(d, ad0), dv1 = wasm_f32x4_mul(d, ad1);
    const v128_t mdv0 = wasm_f32x4_mul(dm, ad0), mdv1 = wasm_f32x4_mul(dm, ad1);
    _Pragma("clang loop unroll(full)") for (int t = 0; t < MK_T; t++) {
      const v128_t mins = DOT(mns, LOAD(as->bsums32[t]));
      st->sum[i][t] = SB_ADD(st->sum[i][t], dv, t, acc[t]);
      st->msum[i][t] = SB_ADD(st->msum[i][t], mdv, t, mins);
    }
  ROW_END
}

// ---------------------------------------------------------------- q5_K

// q5_K and q6_K convert d with fp16_to_fp32, not mk_f16x2 as the others:
// the branch-free one measured 15-20% slower in these two (V8's register
// allocation of the whole row loop changes with it).
MK_ROWS_SIG(q5_K) {
  const v128_t m4 = wasm_i16x8_splat(0x0f0f), b5 = wasm_i16x8_splat(0x1010);
  ROW_BEGIN(q5_K)
    const v128_t smv = unpack_scales_k4(x->scales);
    uint8_t sm[16];
    wasm_v128_store(sm, smv);
    v128_t h0 = LOAD(x->qh), h1 = LOAD(x->qh + 16);
    _Pragma("clang loop unroll(full)") for (int c = 0; c < 4; ++c) {
      const v128_t v0 = LOAD(x->qs + 32 * c), v1 = LOAD(x->qs + 32 * c + 16);
      const v128_t l0 = OR(AND(v0, m4), AND(SHL(h0, 4), b5));
      const v128_t l1 = OR(AND(v1, m4), AND(SHL(h1, 4), b5));
      GROUPS2(EVEN(l0), ODD(l0), EVEN(l1), ODD(l1), sm[2 * c], sm[2 * c], 4 * c, 4 * c + 1);
      const v128_t u0 = OR(AND(SHR(v0, 4), m4), AND(SHL(h0, 3), b5));
      const v128_t u1 = OR(AND(SHR(v1, 4), m4), AND(SHL(h1, 3), b5));
      GROUPS2(EVEN(u0), ODD(u0), EVEN(u1), ODD(u1), sm[2 * c + 1], sm[2 * c + 1], 4 * c + 2, 4 * c + 3);
      h0 = SHR(h0, 2);
      h1 = SHR(h1, 2);
    }
    const v128_t mns = wasm_u16x8_extend_high_u8x16(smv);
    const v128_t d = wasm_f32x4_splat(fp16_to_fp32(x->d)), dm = wasm_f32x4_splat(fp16_to_fp32(x->dmin));
    const v128_t dv0 = wasm_f32x4_mul(d, ad0), dv1 = wasm_f32x4_mul(d, ad1);
    const v128_t mdv0 = wasm_f32x4_mul(dm, ad0), mdv1 = wasm_f32x4_mul(dm, ad1);
    _Pragma("clang loop unroll(full)") for (int t = 0; t < MK_T; t++) {
      const v128_t mins = DOT(mns, LOAD(as->bsums32[t]));
      st->sum[i][t] = SB_ADD(st->sum[i][t], dv, t, acc[t]);
      st->msum[i][t] = SB_ADD(st->msum[i][t], mdv, t, mins);
    }
  ROW_END
}

// ---------------------------------------------------------------- q6_K

// matvec's step j covers, in half n = j / 2 at byte offset l0 = 16 (j % 2),
// the groups g, g+2, g+4, g+6 (g = 8n + j % 2) with scales[g], ... .
MK_ROWS_SIG(q6_K) {
  const v128_t m4 = wasm_i16x8_splat(0x0f0f), m6 = wasm_i16x8_splat(0x3030);
  ROW_BEGIN(q6_K)
    _Pragma("clang loop unroll(full)") for (int j = 0; j < 4; ++j) {
      const int n = j >> 1, l0 = 16 * (j & 1), g = 8 * n + (j & 1);
      const int8_t* sc = x->scales + g;
      const v128_t v1 = LOAD(x->ql + 64 * n + l0), v2 = LOAD(x->ql + 64 * n + 32 + l0);
      const v128_t hh = LOAD(x->qh + 32 * n + l0);
      const v128_t q0 = OR(AND(v1, m4), AND(SHL(hh, 4), m6));
      const v128_t q1 = OR(AND(v2, m4), AND(SHL(hh, 2), m6));
      GROUPS2(EVEN(q0), ODD(q0), EVEN(q1), ODD(q1), sc[0], sc[2], g, g + 2);
      const v128_t q2 = OR(AND(SHR(v1, 4), m4), AND(hh, m6));
      const v128_t q3 = OR(AND(SHR(v2, 4), m4), AND(SHR(hh, 2), m6));
      GROUPS2(EVEN(q2), ODD(q2), EVEN(q3), ODD(q3), sc[4], sc[6], g + 4, g + 6);
    }
    // the quants were used as 0..63: take away 32 * sum(scale * bsum)
    const v128_t scv = LOAD(x->scales);
    const v128_t sl = wasm_i16x8_extend_low_i8x16(scv), sh = wasm_i16x8_extend_high_i8x16(scv);
    const v128_t d = wasm_f32x4_splat(fp16_to_fp32(x->d));
    const v128_t dv0 = wasm_f32x4_mul(d, ad0), dv1 = wasm_f32x4_mul(d, ad1);
    _Pragma("clang loop unroll(full)") for (int t = 0; t < MK_T; t++) {
      const v128_t off = ADD(DOT(sl, LOAD(as->bsums[t])), DOT(sh, LOAD(as->bsums[t] + 8)));
      st->sum[i][t] = SB_ADD(st->sum[i][t], dv, t, wasm_i32x4_sub(acc[t], wasm_i32x4_shl(off, 5)));
    }
  ROW_END
}

// ---------------------------------------------------------------- q3_K

MK_ROWS_SIG(q3_K) {
  const v128_t m2 = wasm_i16x8_splat(0x0303), m3 = wasm_i16x8_splat(0x0404);
  ROW_BEGIN(q3_K)
    const v128_t scv = unpack_scales_q3_K(x->scales);
    int8_t scs[16];
    wasm_v128_store(scs, scv);
    _Pragma("clang loop unroll(full)") for (int j = 0; j < 4; ++j) {
      const int n = j >> 1, l0 = 16 * (j & 1), g = 8 * n + (j & 1);
      const int8_t* s = scs + g;
      const v128_t v = LOAD(x->qs + 32 * n + l0), hm = LOAD(x->hmask + l0);
      const v128_t hn = n ? SHR(hm, 2) : SHL(hm, 2);
      const v128_t q0 = OR(AND(v, m2), AND(hn, m3));
      const v128_t q1 = OR(AND(SHR(v, 2), m2), AND(SHR(hn, 1), m3));
      GROUPS2(EVEN(q0), ODD(q0), EVEN(q1), ODD(q1), s[0], s[2], g, g + 2);
      const v128_t q2 = OR(AND(SHR(v, 4), m2), AND(SHR(hn, 2), m3));
      const v128_t q3 = OR(AND(SHR(v, 6), m2), AND(SHR(hn, 3), m3));
      GROUPS2(EVEN(q2), ODD(q2), EVEN(q3), ODD(q3), s[4], s[6], g + 4, g + 6);
    }
    // take away 4 * sum(scale * bsum)
    const v128_t sl = wasm_i16x8_extend_low_i8x16(scv), sh = wasm_i16x8_extend_high_i8x16(scv);
    const v128_t d = mk_f16x1(&x->d);
    const v128_t dv0 = wasm_f32x4_mul(d, ad0), dv1 = wasm_f32x4_mul(d, ad1);
    _Pragma("clang loop unroll(full)") for (int t = 0; t < MK_T; t++) {
      const v128_t off = ADD(DOT(sl, LOAD(as->bsums[t])), DOT(sh, LOAD(as->bsums[t] + 8)));
      st->sum[i][t] = SB_ADD(st->sum[i][t], dv, t, wasm_i32x4_sub(acc[t], wasm_i32x4_shl(off, 2)));
    }
  ROW_END
}

// ---------------------------------------------------------------- q2_K

MK_ROWS_SIG(q2_K) {
  const v128_t m2 = wasm_i16x8_splat(0x0303);
  ROW_BEGIN(q2_K)
    const v128_t sbv = LOAD(x->scales);
    uint8_t scs[16];
    wasm_v128_store(scs, AND(sbv, wasm_i8x16_splat(0x0f)));
    _Pragma("clang loop unroll(full)") for (int j = 0; j < 4; ++j) {
      const int n = j >> 1, l0 = 16 * (j & 1), g = 8 * n + (j & 1);
      const uint8_t* s = scs + g;
      const v128_t v = LOAD(x->qs + 32 * n + l0);
      const v128_t q0 = AND(v, m2), q1 = AND(SHR(v, 2), m2);
      GROUPS2(EVEN(q0), ODD(q0), EVEN(q1), ODD(q1), s[0], s[2], g, g + 2);
      const v128_t q2 = AND(SHR(v, 4), m2), q3 = AND(SHR(v, 6), m2);
      GROUPS2(EVEN(q2), ODD(q2), EVEN(q3), ODD(q3), s[4], s[6], g + 4, g + 6);
    }
    const v128_t mn = wasm_u8x16_shr(sbv, 4);
    const v128_t ml = wasm_u16x8_extend_low_u8x16(mn), mh = wasm_u16x8_extend_high_u8x16(mn);
    const v128_t dd = mk_f16x2(&x->d), d = LANE0(dd), dm = LANE1(dd);
    const v128_t dv0 = wasm_f32x4_mul(d, ad0), dv1 = wasm_f32x4_mul(d, ad1);
    const v128_t mdv0 = wasm_f32x4_mul(dm, ad0), mdv1 = wasm_f32x4_mul(dm, ad1);
    _Pragma("clang loop unroll(full)") for (int t = 0; t < MK_T; t++) {
      const v128_t mins = ADD(DOT(ml, LOAD(as->bsums[t])), DOT(mh, LOAD(as->bsums[t] + 8)));
      st->sum[i][t] = SB_ADD(st->sum[i][t], dv, t, acc[t]);
      st->msum[i][t] = SB_ADD(st->msum[i][t], mdv, t, mins);
    }
  ROW_END
}

// ---------------------------------------------------------------- entry points

// matvec's end of a chunk: hsum(sum - msum) (q3_K/q6_K: hsum(sum)), the
// first chunk stored, later ones added; only the first nt tokens are real.
static void mk_finish(const mk_state* st, int has_min, int nrows, int nt, float* out, int out_stride, int r,
                      int first) {
  for (int i = 0; i < nrows; i++) {
    for (int t = 0; t < nt; t++) {
      const float s = f32x4_hsum(has_min ? wasm_f32x4_sub(st->sum[i][t], st->msum[i][t]) : st->sum[i][t]);
      float* o = out + (size_t)t * out_stride + r + i;
      *o = first ? s : *o + s;
    }
  }
}

#define DEFINE_MUL_MAT_K(WTYPE, HAS_MIN)                                                              \
  __attribute__((noinline)) static void mk_tile_##WTYPE(const uint8_t* w, int row_bytes, const uint8_t* a, int a_row_bytes, int nt, \
                              float* out, int out_stride, int n, int r0, int r1) {                   \
    mk_act act[MK_SUB] __attribute__((aligned(16)));                                                 \
    mk_state st __attribute__((aligned(16)));                                                        \
    const int nb = n / QK_K;                                                                         \
    for (int b0 = 0; b0 < nb; b0 += ACT_CHUNK / QK_K) {                                              \
      const int cb = nb - b0 < ACT_CHUNK / QK_K ? nb - b0 : ACT_CHUNK / QK_K;                        \
      const int single = cb <= MK_SUB; /* widen once for all rows */                                \
      if (single) mk_widen(a, a_row_bytes, nt, b0, cb, act);                                         \
      for (int rb = r0; rb < r1; rb += MK_RB) {                                                      \
        const int nr = r1 - rb < MK_RB ? r1 - rb : MK_RB;                                            \
        for (int s0 = b0; s0 < b0 + cb; s0 += MK_SUB) {                                              \
          const int ns = b0 + cb - s0 < MK_SUB ? b0 + cb - s0 : MK_SUB;                              \
          if (!single) mk_widen(a, a_row_bytes, nt, s0, ns, act);                                    \
          mk_rows_##WTYPE(w + (size_t)rb * row_bytes + (size_t)s0 * sizeof(block_##WTYPE), row_bytes, act, \
                          ns, &st, nr, s0 == b0);                                                    \
        }                                                                                            \
        mk_finish(&st, HAS_MIN, nr, nt, out, out_stride, rb, b0 == 0);                               \
      }                                                                                              \
    }                                                                                                \
  }                                                                                                  \
  void EXPORT(mul_mat_##WTYPE)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, \
                               int out_stride, int n, int n_tok, int r0, int r1) {                   \
    if (r0 >= r1) return;                                                                            \
    for (int t0 = 0; t0 < n_tok; t0 += MK_T) {                                                       \
      const int nt = n_tok - t0 < MK_T ? n_tok - t0 : MK_T;                                          \
      const uint8_t* at = (const uint8_t*)a + (size_t)t0 * a_row_bytes;                              \
      float* ot = out + (size_t)t0 * out_stride;                                                     \
      if (nt >= MK_T_MIN) {                                                                          \
        mk_tile_##WTYPE(w, row_bytes, at, a_row_bytes, nt, ot, out_stride, n, r0, r1);               \
      } else {                                                                                       \
        for (int t = 0; t < nt; t++)                                                                 \
          matvec_##WTYPE(w, row_bytes, at + (size_t)t * a_row_bytes, ot + (size_t)t * out_stride, n, r0, r1); \
      }                                                                                              \
    }                                                                                                \
  }

DEFINE_MUL_MAT_K(q2_K, 1)
DEFINE_MUL_MAT_K(q3_K, 0)
DEFINE_MUL_MAT_K(q4_K, 1)
DEFINE_MUL_MAT_K(q5_K, 1)
DEFINE_MUL_MAT_K(q6_K, 0)
