// Q4_0 with relaxed SIMD (wasm/kernels-relaxed.wasm, loaded where the engine
// has it: Chrome/Electron, Node 22+, Node 20 with the flag the loader sets).
//
// i16x8.relaxed_dot_i8x16_i7x16_s multiplies 16 signed bytes by 16 bytes in
// 0..127 and adds adjacent pairs (one pmaddubsw on x86, sdot-like on ARM). Its
// result is implementation-defined only when the second operand has its top
// bit set; q4_0's nibbles (0..15) never do, so every engine gives the exact
// integer dot. That replaces the baseline's widening of activations and
// weights to int16: the activation is read as the q8_0 bytes themselves, and
// a block costs two byte dots instead of four int16 dots.
//
// Four consecutive blocks are reduced together: their four exact int32 block
// sums land in one i32x4 (lane j = block b+j), which takes q4_0's -8 offset
// (-8 * sum(a), per block, as a vector), then one convert, and one multiply
// by the four blocks' scale products. Leftover blocks (n/32 not a multiple of
// 4) go one at a time. Results differ from the baseline build only in f32
// summation order (both are within the reference's bound; see the kernel
// tests); within this build, mul_mat_q4_0 equals matvec_q4_0 token by token.
#include "../common.h"

#include "../legacy-blocks.h"

// Blocks per activation chunk (ACT_CHUNK columns): scales and offsets are
// precomputed per chunk, on the stack.
#define CB (ACT_CHUNK / QK)

typedef struct {
  float d[CB];        // activation block scale times 2^112 (weights' scales are unscaled by 2^-112)
  int32_t bias[CB];   // -8 * sum(q): q4_0's offset, applied to the integer dot
} act_q8_0;

static void prep_q8_0(const block_q8_0* y, int nb, act_q8_0* a) {
  for (int b = 0; b < nb; b++) {
    const v128_t lo = wasm_v128_load(y[b].qs), hi = wasm_v128_load(y[b].qs + 16);
    const v128_t s = wasm_i16x8_add(wasm_i16x8_extadd_pairwise_i8x16(lo), wasm_i16x8_extadd_pairwise_i8x16(hi));
    a->bias[b] = -8 * i32x4_hsum(wasm_i32x4_extadd_pairwise_i16x8(s));
    a->d[b] = fp16_to_fp32(y[b].d) * F16_UNSCALE;
  }
}

// One block's exact dot (nibbles 0..15 times the activation) as four partial sums.
static inline v128_t dot_block(const block_q4_0* x, const block_q8_0* y) {
  const v128_t v = wasm_v128_load(x->qs);
  const v128_t m = wasm_i8x16_const_splat(0x0F);
  const v128_t lo = wasm_i16x8_relaxed_dot_i8x16_i7x16(wasm_v128_load(y->qs), wasm_v128_and(v, m));
  const v128_t hi = wasm_i16x8_relaxed_dot_i8x16_i7x16(wasm_v128_load(y->qs + 16), wasm_v128_and(wasm_u16x8_shr(v, 4), m));
  return wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(lo, hi));  // |lane| <= 4 * 15 * 128
}

// The four block sums of blocks b..b+3 in the lanes of one vector.
static inline v128_t sum4(v128_t e0, v128_t e1, v128_t e2, v128_t e3) {
  const v128_t t01 = wasm_i32x4_add(wasm_i32x4_shuffle(e0, e1, 0, 4, 1, 5), wasm_i32x4_shuffle(e0, e1, 2, 6, 3, 7));
  const v128_t t23 = wasm_i32x4_add(wasm_i32x4_shuffle(e2, e3, 0, 4, 1, 5), wasm_i32x4_shuffle(e2, e3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(t01, t23, 0, 1, 4, 5), wasm_i32x4_shuffle(t01, t23, 2, 3, 6, 7));
}

// The f16 scales of blocks x[0..3] as fp16_unscaled gives them (value * 2^-112), one per lane.
static inline v128_t scales4(const block_q4_0* x) {
  const v128_t h = wasm_i32x4_make(x[0].d, x[1].d, x[2].d, x[3].d);
  const v128_t mag = wasm_v128_and(wasm_i32x4_shl(h, 13), wasm_i32x4_const_splat(0x0FFFE000));
  return wasm_v128_or(mag, wasm_v128_and(wasm_i32x4_shl(h, 16), wasm_i32x4_const_splat((int32_t)0x80000000u)));
}

// The row's value from its 4-block accumulator plus blocks b..nb-1 one at a
// time (n/32 not a multiple of 4): the one ending matvec and the tiles share.
static inline float finish_row(v128_t acc, const block_q4_0* x, const block_q8_0* y, const act_q8_0* a, int b, int nb) {
  float tail = 0.0f;
  for (; b < nb; b++) {
    const int32_t s = i32x4_hsum(dot_block(x + b, y + b)) + a->bias[b];
    tail += (float)s * (fp16_unscaled(&x[b].d) * a->d[b]);
  }
  return f32x4_hsum(acc) + tail;
}

// One row against one chunk of one token's activation: nb blocks.
static inline float dot_chunk(const block_q4_0* x, const block_q8_0* y, const act_q8_0* a, int nb) {
  v128_t acc = wasm_f32x4_const_splat(0.0f);
  int b = 0;
  for (; b + 4 <= nb; b += 4) {
    v128_t s = sum4(dot_block(x + b, y + b), dot_block(x + b + 1, y + b + 1),
                    dot_block(x + b + 2, y + b + 2), dot_block(x + b + 3, y + b + 3));
    s = wasm_i32x4_add(s, wasm_v128_load(a->bias + b));
    const v128_t scale = wasm_f32x4_mul(scales4(x + b), wasm_v128_load(a->d + b));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), scale));
  }
  return finish_row(acc, x, y, a, b, nb);
}

void EXPORT(matvec_q4_0)(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1) {
  act_q8_0 act;
  for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
    const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / QK;
    const block_q8_0* y = (const block_q8_0*)a + c0 / QK;
    prep_q8_0(y, nb, &act);
    for (int r = r0; r < r1; r++) {
      const block_q4_0* x = (const block_q4_0*)((const uint8_t*)w + (size_t)r * row_bytes) + c0 / QK;
      const float s = dot_chunk(x, y, &act, nb);
      out[r] = c0 == 0 ? s : out[r] + s;
    }
  }
}

float EXPORT(vec_dot_q4_0_q8_0)(int n, const void* w, const void* a) {
  float out;
  matvec_q4_0(w, 0, a, &out, n, 0, 1);
  return out;
}

// Prefill: rows outer, tokens inner, MM_T tokens at a time. A weight row
// (n/32 * 18 bytes, a few KiB) stays in L1 while every token of the batch
// passes it, so the matrix streams from memory once per batch; the
// activations (n_tok q8_0 rows) sit in L2. Each group of four blocks is
// decoded once (nibbles and scales) for the MM_T tokens of a tile; the
// per-(row, token) float steps are dot_chunk's, in its order, so results
// equal matvec's bit for bit.
#define MM_TOK 64  // tokens whose chunk scales are prepared at a time (stack: 64 * 2 KiB)
#define MM_T 4

static inline v128_t dot_decoded(v128_t lo, v128_t hi, const block_q8_0* y) {
  return wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(wasm_i16x8_relaxed_dot_i8x16_i7x16(wasm_v128_load(y->qs), lo),
                                                         wasm_i16x8_relaxed_dot_i8x16_i7x16(wasm_v128_load(y->qs + 16), hi)));
}

// Rows [r0, r1) x tokens t..t+MM_T-1 of one chunk: the tile version of dot_chunk.
static void tile_chunk(const uint8_t* w, int row_bytes, const block_q8_0* const y[MM_T], const act_q8_0* const a[MM_T],
                       float* const o[MM_T], int first, int nb, int r0, int r1) {
  const v128_t m = wasm_i8x16_const_splat(0x0F);
  for (int r = r0; r < r1; r++) {
    const block_q4_0* x = (const block_q4_0*)(w + (size_t)r * row_bytes);
    v128_t acc[MM_T];
    for (int t = 0; t < MM_T; t++) acc[t] = wasm_f32x4_const_splat(0.0f);
    int b = 0;
    for (; b + 4 <= nb; b += 4) {
      v128_t lo[4], hi[4];
      for (int j = 0; j < 4; j++) {
        const v128_t v = wasm_v128_load(x[b + j].qs);
        lo[j] = wasm_v128_and(v, m);
        hi[j] = wasm_v128_and(wasm_u16x8_shr(v, 4), m);
      }
      const v128_t wd = scales4(x + b);
      for (int t = 0; t < MM_T; t++) {
        const block_q8_0* yt = y[t] + b;
        v128_t s = sum4(dot_decoded(lo[0], hi[0], yt), dot_decoded(lo[1], hi[1], yt + 1),
                        dot_decoded(lo[2], hi[2], yt + 2), dot_decoded(lo[3], hi[3], yt + 3));
        s = wasm_i32x4_add(s, wasm_v128_load(a[t]->bias + b));
        const v128_t scale = wasm_f32x4_mul(wd, wasm_v128_load(a[t]->d + b));
        acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), scale));
      }
    }
    for (int t = 0; t < MM_T; t++) {
      const float s = finish_row(acc[t], x, y[t], a[t], b, nb);
      o[t][r] = first ? s : o[t][r] + s;
    }
  }
}

void EXPORT(mul_mat_q4_0)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                           int n, int n_tok, int r0, int r1) {
  act_q8_0 act[MM_TOK];
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
      const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / QK;
      const block_q8_0* yrow[MM_TOK];
      for (int t = 0; t < nt; t++) {
        yrow[t] = (const block_q8_0*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / QK;
        prep_q8_0(yrow[t], nb, &act[t]);
      }
      const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / QK) * sizeof(block_q4_0);
      int t = 0;
      for (; t + MM_T <= nt; t += MM_T) {
        const block_q8_0* y[MM_T];
        const act_q8_0* at[MM_T];
        float* o[MM_T];
        for (int j = 0; j < MM_T; j++) {
          y[j] = yrow[t + j];
          at[j] = &act[t + j];
          o[j] = out + (size_t)(t0 + t + j) * out_stride;
        }
        tile_chunk(wc, row_bytes, y, at, o, c0 == 0, nb, r0, r1);
      }
      for (; t < nt; t++) {  // a leftover token: matvec's own loop
        float* o = out + (size_t)(t0 + t) * out_stride;
        for (int r = r0; r < r1; r++) {
          const float s = dot_chunk((const block_q4_0*)(wc + (size_t)r * row_bytes), yrow[t], &act[t], nb);
          o[r] = c0 == 0 ? s : o[r] + s;
        }
      }
    }
  }
}

// The graph's entry (rows.c's contract): this thread's share of the rows.
void EXPORT(mat_rows_q4_0)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                           int n, int n_tok, int n_rows, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  if (r0 < r1) mul_mat_q4_0(w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0, r1);
}
