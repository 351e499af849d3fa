// The batch loop of the relaxed k-quant matmuls (q3_K .. q6_K against q8_K
// activations), written once: tokens in passes of MM_TOK, columns in chunks
// of ACT_CHUNK (each chunk its own float sum, added to out in chunk order);
// one token goes to the type's decode paths, more to four-row groups (plain
// rows: from r0, the last group repeating row r1 - 1; x4: the layout's groups
// from r0 & ~3, optionally two at a time), lanes outside [r0, r1) dropped by
// store4. A type supplies only what differs: its block sizes (kq_type), its
// per-token sums of 32, its one-token entry and its per-group bodies (hooks).
//
// kq_mul_mat and the hooks are always_inline, and the hooks are arguments
// (direct calls once kq_mul_mat is inlined; held in a static struct instead,
// clang resolved them after its inlining decisions, leaving the decode
// kernels out of line): each type's batch function compiles to the loop it
// had written out, the same vector ops, differing in local numbering, block
// order and stack offsets. q2_K keeps its own copy of this loop: through
// here its wasm differed in no more than that, yet the dot-add build's
// prefill measured 3% slower (64 tokens, Node 24, AVX-VNNI; the relaxed
// build 1% faster), which no change of stack layout tried brought back.
#pragma once
#include "../kquants.h"
#include "relaxed.h"

#define KB (ACT_CHUNK / QK_K)  // super-blocks per column chunk

// kq_acc (relaxed.h): per (row group, token) state across a group's super-blocks.

// Per super-block of a q8_K row: its sums of 32 (Q4_K's and Q5_K's mins pair
// with them), made once per token instead of once per (row, token).
static inline void bsums32_q8_K(const block_q8_K* a, v128_t* out, int nb) {
  for (int i = 0; i < nb; i++)
    out[i] = wasm_i16x8_narrow_i32x4(wasm_i32x4_extadd_pairwise_i16x8(LOAD(a[i].bsums)),
                                     wasm_i32x4_extadd_pairwise_i16x8(LOAD(a[i].bsums + 8)));
}

// A type's constants.
typedef struct {
  size_t block, block_x4;  // bytes of a row's super-block, of a group's
  int mins;                // out = sum - msum (else sum)
  // With a pair hook: two x4 groups at a time from this many tokens (0: always;
  // 2 would say the same but tells clang nt >= 2, and that alone changed
  // q4_K_isums_pair_few's addressing: 7% slower with 4 tokens).
  int pair_min;
} kq_type;

// A type's hooks. Each gets the chunk's y[t] (q8_K rows at the chunk's first
// super-block) and, where the type has a sums32 hook, b32[t] (their sums of
// 32); layout is the caller's, passed through.
// Per token and column chunk: nb super-blocks' sums of 32 to b32.
typedef void (*kq_sums32_fn)(const block_q8_K* y, v128_t* b32, int nb);
// One token: nb super-blocks of rows [r0, r1) from wc (the chunk's first block of each row or group).
typedef void (*kq_one_token_fn)(const uint8_t* wc, int row_bytes, const block_q8_K* y, const v128_t* b32, float* out,
                                int nb, int r0, int r1, int first, int layout);
// nb super-blocks of one x4 group (g), or of four plain rows (x), into acc[0 .. nt).
typedef void (*kq_group_x4_fn)(const uint8_t* g, int nb, const block_q8_K* const* y, const v128_t* const* b32,
                               kq_acc* acc, int nt);
typedef void (*kq_group_fn)(const uint8_t* const x[4], int nb, const block_q8_K* const* y, const v128_t* const* b32,
                            kq_acc* acc, int nt, int layout);
// Two x4 groups at once (g: rows r .. r + 3 into acc, h: r + 4 .. r + 7 into acc2).
typedef void (*kq_pair_x4_fn)(const uint8_t* g, const uint8_t* h, int nb, const block_q8_K* const* y,
                              const v128_t* const* b32, kq_acc* acc, kq_acc* acc2, int nt);

// A hook's definition: forced inline, as clang's inliner otherwise leaves some
// of them calls.
#define KQ_HOOK static inline __attribute__((always_inline))

// The four plain rows of a group as block pointers (a group hook's x).
#define KQ_ROWS(T, x) {(const T*)(x)[0], (const T*)(x)[1], (const T*)(x)[2], (const T*)(x)[3]}

static inline __attribute__((always_inline)) void kq_zero(const kq_type* T, kq_acc* acc, int nt) {
  for (int t = 0; t < nt; t++) {
    acc[t].sum = wasm_f32x4_const_splat(0.0f);
    if (T->mins) acc[t].msum = wasm_f32x4_const_splat(0.0f);
  }
}

static inline __attribute__((always_inline)) v128_t kq_out(const kq_type* T, const kq_acc* acc) {
  return T->mins ? wasm_f32x4_sub(acc->sum, acc->msum) : acc->sum;
}

// rows [r0, r1) of w (x4: the layout's groups) times n_tok activation rows
// a_row_bytes apart, into out (out_stride floats per token).
static inline __attribute__((always_inline)) void kq_mul_mat(const kq_type* T, kq_sums32_fn sums32, kq_one_token_fn one_token,
                                                             kq_group_x4_fn group_x4, kq_group_fn group,
                                                             kq_pair_x4_fn pair_x4, const void* w, int row_bytes,
                                                             const void* a, int a_row_bytes, float* out, int out_stride,
                                                             int n, int n_tok, int r0, int r1, int x4, int layout) {
  v128_t bs[MM_TOK][KB];
  const v128_t* b32[MM_TOK];
  const block_q8_K* y[MM_TOK];
  kq_acc acc[MM_TOK], acc2[MM_TOK];
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
      const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / QK_K, first = c0 == 0;
      for (int t = 0; t < nt; t++) {
        y[t] = (const block_q8_K*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / QK_K;
        if (sums32) {
          sums32(y[t], bs[t], nb);
          b32[t] = bs[t];
        }
      }
      // the chunk's first super-block: of each row, or of each group (x4)
      const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / QK_K) * (x4 ? T->block_x4 : T->block);
      float* o = out + (size_t)t0 * out_stride;
      if (nt == 1) {
        one_token(wc, row_bytes, y[0], sums32 ? b32[0] : 0, o, nb, r0, r1, first, layout);
        continue;
      }
      int r = x4 ? r0 & ~3 : r0;
      if (x4 && pair_x4 && nt >= T->pair_min)
        for (; r + 4 < r1; r += 8) {
          kq_zero(T, acc, nt);
          kq_zero(T, acc2, nt);
          pair_x4(wc + (size_t)r * row_bytes, wc + (size_t)(r + 4) * row_bytes, nb, y, b32, acc, acc2, nt);
          for (int t = 0; t < nt; t++) {
            store4(kq_out(T, &acc[t]), o + (size_t)t * out_stride, r, r0, r1, first);
            store4(kq_out(T, &acc2[t]), o + (size_t)t * out_stride, r + 4, r0, r1, first);
          }
        }
      for (; r < r1; r += 4) {
        kq_zero(T, acc, nt);
        if (x4) {
          group_x4(wc + (size_t)r * row_bytes, nb, y, b32, acc, nt);
        } else {
          const uint8_t* x[4];
          for (int j = 0; j < 4; j++) x[j] = wc + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes;
          group(x, nb, y, b32, acc, nt, layout);
        }
        for (int t = 0; t < nt; t++) store4(kq_out(T, &acc[t]), o + (size_t)t * out_stride, r, r0, r1, first);
      }
    }
  }
}

#ifdef RELAXED_DOT_ADD
// -c * bsum of each sub-block of a q8_K super-block as int32 (o[k]: sub-block
// k), for the types whose quants are stored as q + c (Q3_K: 4, Q6_K: 32): a
// sub-block's dot-adds started from it sum (q - c) * a, its whole term with
// the offset, and no per-token offset dots remain. Two i32x4.dot_i16x8 per
// eight bsums (against -c in even or odd i16 lanes) and two shuffles back
// into order.
static inline void q8_K_neg_bsums(const block_q8_K* yb, int32_t* o, const int c) {
  const v128_t ce = wasm_i32x4_splat((int32_t)(uint16_t)-c), co = wasm_i32x4_splat((int32_t)((uint32_t)(uint16_t)-c << 16));
  UNROLL for (int h = 0; h < 2; h++) {
    const v128_t v = LOAD(yb->bsums + 8 * h);
    const v128_t e = wasm_i32x4_dot_i16x8(v, ce), od = wasm_i32x4_dot_i16x8(v, co);
    wasm_v128_store(o + 8 * h, wasm_i32x4_shuffle(e, od, 0, 4, 1, 5));
    wasm_v128_store(o + 8 * h + 4, wasm_i32x4_shuffle(e, od, 2, 6, 3, 7));
  }
}

// The dot-add build's prefill sums of one four-row group's super-block i
// (Q3_K's, and Q6_K's lone last group and plain rows): the weights decoded
// once at wq[4k + g] (sub-block k, elements 16k + 4g .. + 3 of each row,
// transpose4's order), then four tokens at a time over the sixteen
// sub-blocks, each weight vector loaded once for the four, each sub-block's
// sum per row from four dot-adds started at -c * its bsum
// (q8_K_neg_bsums), times the rows' scales sc[k]: sc16, the scale in each
// i32 lane's low i16 (one i32x4.dot_i16x8; Q3_K, whose sums fit int16) or
// else as i32 (i32x4.mul; Q6_K's sums reach 16 * 128 * 63), the four sums
// PINned every second step (relaxed.h: V8 keeps the next steps' broadcasts
// behind them; every step or every fourth was slower). The tail tokens one
// at a time. acc[t].isum: the exact int32 sum of token t. Measured where
// first written (q6_K-prefill.h, q3_K-prefill.h).
static inline __attribute__((always_inline)) void kq_isums4_dotadd(const v128_t* sc, const v128_t* wq, int i, const block_q8_K* const* y,
                                                                   kq_acc* acc, int nt, const int c, const int sc16) {
  const v128_t zero = wasm_i32x4_const_splat(0);
  v128_t pin[4];
  int32_t off[4][16] __attribute__((aligned(16)));
  int t = 0;
  for (; t + 4 <= nt; t += 4) {
    UNROLL for (int u = 0; u < 4; u++) q8_K_neg_bsums(&y[t + u][i], off[u], c);
    const int32_t* o0 = off[0];
    const int8_t* a0 = y[t][i].qs;
    const int8_t* a1 = y[t + 1][i].qs;
    const int8_t* a2 = y[t + 2][i].qs;
    const int8_t* a3 = y[t + 3][i].qs;
    const v128_t* w = wq;
    const v128_t* s = sc;
    v128_t i0 = zero, i1 = zero, i2 = zero, i3 = zero;
    NOUNROLL for (int sb = 0; sb < 16; sb++, a0 += 16, a1 += 16, a2 += 16, a3 += 16, w += 4, s++) {
      v128_t p0 = wasm_v128_load32_splat(o0), p1 = wasm_v128_load32_splat(o0 + 16);
      v128_t p2 = wasm_v128_load32_splat(o0 + 32), p3 = wasm_v128_load32_splat(o0 + 48);
      o0++;
      OPAQUE4(a0, a1, a2, a3);  // so a0 + 4 * k is a load offset (relaxed.h)
      UNROLL for (unsigned k = 0; k < 4; k++) {  // unsigned: 4 * k becomes the loads' memarg offset (relaxed.h)
        const v128_t wk = w[k];
        p0 = DOTADD(SPLAT4(a0 + 4 * k), wk, p0);
        p1 = DOTADD(SPLAT4(a1 + 4 * k), wk, p1);
        p2 = DOTADD(SPLAT4(a2 + 4 * k), wk, p2);
        p3 = DOTADD(SPLAT4(a3 + 4 * k), wk, p3);
        if (k & 1) {
          PIN(p0, pin[0]);
          PIN(p1, pin[1]);
          PIN(p2, pin[2]);
          PIN(p3, pin[3]);
        }
      }
      const v128_t scv = *s;
      i0 = wasm_i32x4_add(i0, sc16 ? wasm_i32x4_dot_i16x8(p0, scv) : wasm_i32x4_mul(p0, scv));
      i1 = wasm_i32x4_add(i1, sc16 ? wasm_i32x4_dot_i16x8(p1, scv) : wasm_i32x4_mul(p1, scv));
      i2 = wasm_i32x4_add(i2, sc16 ? wasm_i32x4_dot_i16x8(p2, scv) : wasm_i32x4_mul(p2, scv));
      i3 = wasm_i32x4_add(i3, sc16 ? wasm_i32x4_dot_i16x8(p3, scv) : wasm_i32x4_mul(p3, scv));
    }
    acc[t].isum = i0, acc[t + 1].isum = i1, acc[t + 2].isum = i2, acc[t + 3].isum = i3;
  }
  for (; t < nt; t++) {
    const int8_t* a = y[t][i].qs;
    v128_t isum = zero;
    q8_K_neg_bsums(&y[t][i], off[0], c);
    NOUNROLL for (int sb = 0; sb < 16; sb++, a += 16) {
      v128_t p = wasm_v128_load32_splat(off[0] + sb);
      UNROLL for (unsigned k = 0; k < 4; k++) p = DOTADD(SPLAT4(a + 4 * k), wq[4 * sb + k], p);
      isum = wasm_i32x4_add(isum, sc16 ? wasm_i32x4_dot_i16x8(p, sc[sb]) : wasm_i32x4_mul(p, sc[sb]));
    }
    acc[t].isum = isum;
  }
}
#endif
