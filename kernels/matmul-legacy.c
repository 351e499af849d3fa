// Prefill for the legacy block quants: mul_mat_<t> multiplies a weight matrix
// by a batch of activation rows (q8_0 / q8_1, one per token), reusing each
// decoded weight block for a tile of MM_T tokens.
//
// Bit-identical to matvec_<t> (legacy.c) token by token: every (row, token)
// keeps matvec's float arithmetic exactly. Per block, matvec forms the exact
// int32 lane sums p (same lanes: same decoders, same activation order, q4_0's
// -8 bias on lane 0), then acc += f32(p) * fl(wd * ad) in a 4-lane f32
// accumulator, plus a scalar msum += m * s for types with a min; a row's
// value is hsum(acc) + msum per ACT_CHUNK columns, later chunks added to out.
// Only the integer work and the weight decode are shared across tokens; the
// float steps of each (row, token) are the same operations in the same order.
//
// What it gains (bench/kernels.ts --prefill: one thread, 4096x4096, 64
// tokens): about 1.5x for q4_0 and q8_0, 1.7x for q4_1, 2.7x for q5_0/q5_1 (whose
// decode is dear). Short of 2x because bit-identity keeps, per (row, token,
// block), the integer dot (4 activation loads, 4 i32x4.dot_i16x8, 3 adds)
// and matvec's float step (convert, scale splat, multiply, add): 16
// instructions with the store below, against about 35 for matvec's whole
// block step, and V8/x64 retires about 4 per cycle either way. The tile
// saves the decode, the weight loads and the scale conversion, no more.
// Tried and not kept: 2 rows x 4 tokens (shared activation loads, but 16
// live vectors spill), 4, 6, 10 or 12 tokens, accumulators in memory, the
// scale splat as a broadcast load, rows decoded once to int16 then a
// matvec-like loop per token (slower than matvec itself).
#include "common.h"

#include "legacy-blocks.h"

_Static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 && sizeof(block_q5_0) == 22 &&
               sizeof(block_q5_1) == 24 && sizeof(block_q8_0) == 34 && sizeof(block_q8_1) == 36, "GGUF block sizes");

// matvec_<t> from legacy.c: the per-token path for leftover tokens.
void matvec_q4_0(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);
void matvec_q4_1(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);
void matvec_q5_0(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);
void matvec_q5_1(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);
void matvec_q8_0(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1);

// Tokens per tile: 8 accumulators + 4 weight vectors + one token's 4
// activation vectors fill V8's 15 allocatable xmm registers on x64.
#define MM_T 8
// A leftover group of fewer tokens runs as a padded tile (the missing tokens
// repeat the last one, their results dropped) when it has at least this many,
// else through matvec token by token: a tile costs about 5 matvecs.
#define MM_T_MIN 5
// Columns widened at a time: 128 blocks x 8 tokens, 76 KiB of stack with the
// scales (mm_state adds 10 KiB). 2048 measured 8-12% slower at 4096 columns:
// rows are then read in pieces, which the hardware prefetcher follows less
// well.
#define MM_SUB 4096
#define MM_NB (MM_SUB / QK)
// Rows per pass when a chunk takes several sub-chunks (rows longer than
// MM_SUB): their accumulators wait in mm_state between sub-chunks, and the
// activation is re-widened once per pass (about 2% extra work at 64 rows).
#define MM_RB 64

_Static_assert(ACT_CHUNK % MM_SUB == 0, "sub-chunks tile matvec's chunks");

// The activation of one tile, one sub-chunk: block-major so that the
// tile's tokens of one block are 512 contiguous bytes and every load in the
// token loop is a small constant offset from one pointer.
typedef struct {
  int16_t q[MM_NB][MM_T][QK];  // quants, natural or PERMUTED order (legacy.c)
  float d[MM_NB][MM_T];        // block scale times 2^112 (see fp16_unscaled)
  float s[MM_NB][MM_T];        // q8_1 only: s times 2^112
  int32_t bias[MM_NB][MM_T];   // PERMUTED only: -8 * sum(q), q4_0's offset
} mm_act;

// Per (row, token) accumulators carried between sub-chunks.
typedef struct {
  v128_t acc[MM_RB][MM_T];
  float msum[MM_RB][MM_T];
} mm_state;

enum { NATURAL = 0, PERMUTED = 1 };

// Tokens t >= nt (a padded tile) read token nt - 1 again.
static void mm_widen(const uint8_t* a, int a_row_bytes, int nt, int stride, int has_s, int b0, int nb, int order,
                     mm_act* at) {
  for (int t = 0; t < MM_T; t++) {
    const uint8_t* y = a + (size_t)(t < nt ? t : nt - 1) * a_row_bytes + (size_t)b0 * stride;
    for (int b = 0; b < nb; b++) {
      const uint8_t* blk = y + (size_t)b * stride;
      const int8_t* qs = (const int8_t*)(blk + (has_s ? 4 : 2));
      int16_t* q = at->q[b][t];
      const v128_t lo = wasm_v128_load(qs), hi = wasm_v128_load(qs + 16);
      if (order == NATURAL) {
        wasm_v128_store(q, wasm_i16x8_extend_low_i8x16(lo));
        wasm_v128_store(q + 8, wasm_i16x8_extend_high_i8x16(lo));
        wasm_v128_store(q + 16, wasm_i16x8_extend_low_i8x16(hi));
        wasm_v128_store(q + 24, wasm_i16x8_extend_high_i8x16(hi));
      } else {
        // as u16 lanes, byte 2k is the low half (even element), 2k+1 the high
        const v128_t e0 = wasm_i16x8_shr(wasm_i16x8_shl(lo, 8), 8), o0 = wasm_i16x8_shr(lo, 8);
        const v128_t e1 = wasm_i16x8_shr(wasm_i16x8_shl(hi, 8), 8), o1 = wasm_i16x8_shr(hi, 8);
        wasm_v128_store(q, e0);
        wasm_v128_store(q + 8, o0);
        wasm_v128_store(q + 16, e1);
        wasm_v128_store(q + 24, o1);
        const v128_t sum = wasm_i16x8_add(wasm_i16x8_add(e0, o0), wasm_i16x8_add(e1, o1));
        at->bias[b][t] = -8 * i32x4_hsum(wasm_i32x4_extadd_pairwise_i16x8(sum));
      }
      at->d[b][t] = fp16_to_fp32(*(const uint16_t*)blk) * F16_UNSCALE;
      at->s[b][t] = has_s ? fp16_to_fp32(*(const uint16_t*)(blk + 2)) * F16_UNSCALE : 0.0f;
    }
  }
}

// ---------------------------------------------------------------------------
// weight blocks are decoded by legacy-blocks.h's DECODE_* (legacy.c's), so the
// integer lanes are the same as matvec's

static inline v128_t mm_dot_block(v128_t w0, v128_t w1, v128_t w2, v128_t w3, const int16_t* act) {
  const v128_t p01 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(w0, wasm_v128_load(act)),
                                    wasm_i32x4_dot_i16x8(w1, wasm_v128_load(act + 8)));
  const v128_t p23 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(w2, wasm_v128_load(act + 16)),
                                    wasm_i32x4_dot_i16x8(w3, wasm_v128_load(act + 24)));
  return wasm_i32x4_add(p01, p23);
}

// Lane t of v in all four lanes; t is a constant once the token loop unrolls.
static inline v128_t mm_lane(v128_t v, int t) {
  switch (t & 3) {
    case 0: return wasm_i32x4_shuffle(v, v, 0, 0, 0, 0);
    case 1: return wasm_i32x4_shuffle(v, v, 1, 1, 1, 1);
    case 2: return wasm_i32x4_shuffle(v, v, 2, 2, 2, 2);
    default: return wasm_i32x4_shuffle(v, v, 3, 3, 3, 3);
  }
}

#define WITH(...) __VA_ARGS__
#define WITHOUT(...)

// Rows [0, nrows) of a row pass over one sub-chunk of nb blocks; w points at
// the sub-chunk's first block of row 0. `first` starts the accumulators at 0
// (the first sub-chunk of a chunk), else they come from st.
//
// The volatile store after each token is the only way found to make V8 keep
// each token's loads next to their use: without an effectful operation
// between tokens its scheduler hoists every activation load of the block to
// the top and spills them all. It costs one store per token and block.
#define DEFINE_ROWS(WTYPE, DECODE, BIAS, MIN)                                                       \
  static void mm_rows_##WTYPE(const uint8_t* w, int row_bytes, const mm_act* a, int nb, mm_state* st, \
                              int nrows, int first) {                                              \
    volatile v128_t sink;                                                                          \
    for (int i = 0; i < nrows; i++) {                                                              \
      const block_##WTYPE* x = (const block_##WTYPE*)(w + (size_t)i * row_bytes);                        \
      v128_t acc[MM_T];                                                                            \
      v128_t msum0, msum1;                                                                         \
      if (first) {                                                                                 \
        for (int t = 0; t < MM_T; t++) acc[t] = wasm_f32x4_splat(0.0f);                            \
        msum0 = msum1 = wasm_f32x4_splat(0.0f);                                                    \
      } else {                                                                                     \
        for (int t = 0; t < MM_T; t++) acc[t] = st->acc[i][t];                                     \
        msum0 = wasm_v128_load(st->msum[i]);                                                       \
        msum1 = wasm_v128_load(st->msum[i] + 4);                                                   \
      }                                                                                            \
      for (int b = 0; b < nb; b++) {                                                               \
        v128_t w0, w1, w2, w3;                                                                     \
        DECODE(&x[b], w0, w1, w2, w3);                                                             \
        /* lane t: fl(wd * ad_t), matvec's scalar product */                                       \
        const v128_t wd = wasm_f32x4_splat(fp16_unscaled(&x[b].d));                                \
        const v128_t sc0 = wasm_f32x4_mul(wd, wasm_v128_load(a->d[b]));                            \
        const v128_t sc1 = wasm_f32x4_mul(wd, wasm_v128_load(a->d[b] + 4));                        \
        _Pragma("clang loop unroll(full)") for (int t = 0; t < MM_T; t++) {                         \
          v128_t p = mm_dot_block(w0, w1, w2, w3, a->q[b][t]);                                     \
          BIAS(p = wasm_i32x4_add(p, wasm_v128_load32_zero(&a->bias[b][t]));)                      \
          acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(p),               \
                                                         mm_lane(t < 4 ? sc0 : sc1, t)));          \
          sink = acc[t];                                                                                      \
        }                                                                                          \
        MIN(const v128_t m = wasm_f32x4_splat(fp16_unscaled(&x[b].m));                             \
            msum0 = wasm_f32x4_add(msum0, wasm_f32x4_mul(m, wasm_v128_load(a->s[b])));              \
            msum1 = wasm_f32x4_add(msum1, wasm_f32x4_mul(m, wasm_v128_load(a->s[b] + 4)));)         \
      }                                                                                            \
      for (int t = 0; t < MM_T; t++) st->acc[i][t] = acc[t];                                       \
      wasm_v128_store(st->msum[i], msum0);                                                         \
      wasm_v128_store(st->msum[i] + 4, msum1);                                                     \
    }                                                                                              \
    (void)sink;                                                                                    \
  }

DEFINE_ROWS(q4_0, DECODE_Q4_PERM, WITH, WITHOUT)
DEFINE_ROWS(q4_1, DECODE_Q4_PERM, WITHOUT, WITH)
DEFINE_ROWS(q5_0, DECODE_Q5_0, WITHOUT, WITHOUT)
DEFINE_ROWS(q5_1, DECODE_Q5_1, WITHOUT, WITH)
DEFINE_ROWS(q8_0, DECODE_Q8_0, WITHOUT, WITHOUT)

// matvec's end of a chunk: s = hsum(acc) + msum, the first chunk stored, later
// ones added. Only the tile's first nt tokens are real.
static void mm_finish(const mm_state* st, int nrows, int nt, float* out, int out_stride, int r, int first) {
  for (int i = 0; i < nrows; i++) {
    for (int t = 0; t < nt; t++) {
      const float s = f32x4_hsum(st->acc[i][t]) + st->msum[i][t];
      float* o = out + (size_t)t * out_stride + r + i;
      *o = first ? s : *o + s;
    }
  }
}

// One tile of nt <= MM_T tokens (activation rows a, a + a_row_bytes, ...)
// over rows [r0, r1).
#define DEFINE_TILE(WTYPE, ATYPE, HAS_S, ORDER)                                                         \
  __attribute__((noinline)) static void mm_tile_##WTYPE(const uint8_t* w, int row_bytes, const uint8_t* a, int a_row_bytes, int nt, \
                              float* out, int out_stride, int n, int r0, int r1) {                     \
    mm_act act __attribute__((aligned(16)));                                                           \
    mm_state st __attribute__((aligned(16)));                                                          \
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {                                                        \
      const int cn = n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK;                                          \
      const int single = cn <= MM_SUB; /* widen once for all rows */                                  \
      if (single) mm_widen(a, a_row_bytes, nt, sizeof(block_##ATYPE), HAS_S, c0 / QK, cn / QK, ORDER, &act); \
      for (int rb = r0; rb < r1; rb += MM_RB) {                                                        \
        const int nr = r1 - rb < MM_RB ? r1 - rb : MM_RB;                                              \
        for (int s0 = c0; s0 < c0 + cn; s0 += MM_SUB) {                                                \
          const int nb = (c0 + cn - s0 < MM_SUB ? c0 + cn - s0 : MM_SUB) / QK;                         \
          if (!single) mm_widen(a, a_row_bytes, nt, sizeof(block_##ATYPE), HAS_S, s0 / QK, nb, ORDER, &act); \
          mm_rows_##WTYPE(w + (size_t)rb * row_bytes + (size_t)(s0 / QK) * sizeof(block_##WTYPE), row_bytes, \
                          &act, nb, &st, nr, s0 == c0);                                                \
        }                                                                                              \
        mm_finish(&st, nr, nt, out, out_stride, rb, c0 == 0);                                          \
      }                                                                                                \
    }                                                                                                  \
  }

// out[t * out_stride + r] = dot(row r, activation row t) for t < n_tok, r in
// [r0, r1); n a multiple of 32. Tiles of MM_T tokens, the rest as above.
#define DEFINE_MUL_MAT(WTYPE, ATYPE, HAS_S, ORDER)                                                    \
  DEFINE_TILE(WTYPE, ATYPE, HAS_S, ORDER)                                                             \
  void EXPORT(mul_mat_##WTYPE)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, \
                               int out_stride, int n, int n_tok, int r0, int r1) {                    \
    if (r0 >= r1) return;                                                                             \
    for (int t0 = 0; t0 < n_tok; t0 += MM_T) {                                                        \
      const int nt = n_tok - t0 < MM_T ? n_tok - t0 : MM_T;                                           \
      const uint8_t* at = (const uint8_t*)a + (size_t)t0 * a_row_bytes;                               \
      float* ot = out + (size_t)t0 * out_stride;                                                      \
      if (nt >= MM_T_MIN) {                                                                           \
        mm_tile_##WTYPE(w, row_bytes, at, a_row_bytes, nt, ot, out_stride, n, r0, r1);                \
      } else {                                                                                        \
        for (int t = 0; t < nt; t++)                                                                  \
          matvec_##WTYPE(w, row_bytes, at + (size_t)t * a_row_bytes, ot + (size_t)t * out_stride, n, r0, r1); \
      }                                                                                               \
    }                                                                                                 \
  }

DEFINE_MUL_MAT(q4_0, q8_0, 0, PERMUTED)
DEFINE_MUL_MAT(q4_1, q8_1, 1, PERMUTED)
DEFINE_MUL_MAT(q5_0, q8_0, 0, NATURAL)
DEFINE_MUL_MAT(q5_1, q8_1, 1, NATURAL)
DEFINE_MUL_MAT(q8_0, q8_0, 0, NATURAL)
