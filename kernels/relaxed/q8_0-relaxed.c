// Q8_0 weights against q8_0 activations in the relaxed-SIMD module.
//
// q8_0 weights are signed bytes, which the relaxed byte dot cannot take
// exactly (its second operand must be 0..127), and splitting them into
// nibbles for it doubles the dots and costs more than it saves (measured).
// So the integer work is i32x4.dot_i16x8_s (exact) on weights and
// activations widened to int16: the activation once per pass, into a
// block-major stack buffer (a block's tokens adjacent, which measured ~10%
// faster than token-major), the weights once per block for every token.
//
// Four rows at a time: the rows' block is transposed in 4-byte groups
// (transpose4, or stored that way by repack_q8_0x4), and widened, a vector
// holds four consecutive elements of two rows; the token's four matching
// elements, broadcast twice (one 64-bit splat), give each row's two pair sums
// in lanes 2j, 2j+1. One shuffle-add per block and token then leaves row j's
// exact block sum in lane j, and one convert, one scale multiply and one add
// finish four rows' block. A block is worked half by half (eight int16
// vectors stay in registers); the float steps run in a loop of their own,
// which keeps the dot loops free of spills. Decode (one token) reads many
// rows side by side, each group or row a stream of its own: q8_0x4 eight
// groups at a time, split into even and odd bytes instead
// (q8_0x4_groups), plain rows sixteen at a time (q8_0_rows_groups).
//
// Per row and token the float steps are ggml's reference order,
// acc += f32(isum) * (d_w * d_a), block after block over the whole row (the
// accumulators go through out between column sub-chunks, exactly): matvec is
// the one-token case, so a batch gives the same bits as token by token, and
// any thread split, layout or sub-chunk size the same bits.
// Not in the dot-add build (RELAXED_DOT_ADD, relaxed.h): i32x4.relaxed_dot_i8x16_i7x16_add_s
// needs one operand in 0..127, and both of Q8_0's are signed; splitting the
// activation into its positive and negative parts takes two dot-adds per
// 16 bytes and a subtraction, about the int16 path's work. Not measured.
#include "../legacy-blocks.h"
#include "relaxed.h"

// A token's activation block widened to int16, with its scale times 2^112
// (the weights' scales are fp16_unscaled, times 2^-112).
typedef struct { int16_t q[QK]; float d; } act_block;

// Activation blocks on the stack (139 KiB of a worker's 512 KiB stack): a pass of nt tokens takes
// columns in sub-chunks of ACT_BLOCKS / nt blocks (1024 columns for 64
// tokens), at most SUB_MAX.
#define ACT_BLOCKS 2048
#define SUB_MAX 8192

// Four rows' block b, interleaved for the kernels below (see repack_q8_0x4):
// qs[16i + 4j + k] is element 4i + k of row j.
typedef struct { uint16_t d[4]; int8_t qs[128]; } block_q8_0x4;
_Static_assert(sizeof(block_q8_0x4) == 4 * sizeof(block_q8_0), "a group takes four rows' bytes");

// Four rows' block: p[i] holds elements 4i..4i+3 of rows 0..3 (row j at
// bytes 4j..4j+3); dw the rows' scales (fp16_unscaled, one per lane).
typedef struct { v128_t p[8], dw; } rows4;

static inline rows4 decode_x4(const block_q8_0x4* g) {
  rows4 w;
  UNROLL for (int i = 0; i < 8; i++) w.p[i] = LOAD(g->qs + 16 * i);
  w.dw = f16x4_unscaled_at(g->d);
  return w;
}

static inline rows4 decode_rows(const block_q8_0* const x[4], int b) {
  rows4 w;
  transpose4(LOAD(x[0][b].qs), LOAD(x[1][b].qs), LOAD(x[2][b].qs), LOAD(x[3][b].qs), w.p);
  transpose4(LOAD(x[0][b].qs + 16), LOAD(x[1][b].qs + 16), LOAD(x[2][b].qs + 16), LOAD(x[3][b].qs + 16), w.p + 4);
  w.dw = f16x4_unscaled(ROWS4_F16(x, b, d));
  return w;
}

// Half a block (p[0..3]: elements 16h..16h+15) as int16: v[2i] elements
// 4i..4i+3 of rows 0, 1, v[2i+1] of rows 2, 3.
static inline void widen8(const v128_t* p, v128_t* v) {
  UNROLL for (int i = 0; i < 4; i++) {
    v[2 * i] = wasm_i16x8_extend_low_i8x16(p[i]);
    v[2 * i + 1] = wasm_i16x8_extend_high_i8x16(p[i]);
  }
}

// Half a block against the token's 16 matching elements q: lanes 2j, 2j+1 of
// *a (rows 0, 1) and *b (rows 2, 3) gain row j's pair sums. |lane| <= 32 *
// 128 * 128 over a block.
static inline void dot_half(const v128_t* v, const int16_t* q, v128_t* a, v128_t* b) {
  UNROLL for (int i = 0; i < 4; i++) {
    const v128_t x = wasm_v128_load64_splat(q + 4 * i);
    *a = wasm_i32x4_add(*a, wasm_i32x4_dot_i16x8(v[2 * i], x));
    *b = wasm_i32x4_add(*b, wasm_i32x4_dot_i16x8(v[2 * i + 1], x));
  }
}

// [a0 + a1, a2 + a3, b0 + b1, b2 + b3]: row j's block sum in lane j.
static inline v128_t pair_sums(v128_t a, v128_t b) {
  return wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 2, 4, 6), wasm_i32x4_shuffle(a, b, 1, 3, 5, 7));
}

// The block's float step for four rows (|isum| < 2^24: the convert is exact).
static inline v128_t step(v128_t acc, v128_t isum, v128_t dw, float da) {
  return wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(dw, wasm_f32x4_splat(da))));
}

// A plain row's block against the token: four lanes of pair sums, whose
// total is the row's exact block sum.
static inline v128_t row_block(const block_q8_0* x, const act_block* a) {
  const v128_t lo = LOAD(x->qs), hi = LOAD(x->qs + 16);
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(lo), LOAD(a->q)),
                                       wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(lo), LOAD(a->q + 8))),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(hi), LOAD(a->q + 16)),
                                       wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(hi), LOAD(a->q + 24))));
}

// A group's accumulators from out, where the previous sub-chunk left them
// (rows outside [r0, r1) as 0: never stored, never read).
static inline v128_t load4(const float* o, int r, int r0, int r1) {
  o += r;
  if (r >= r0 && r + 4 <= r1) return wasm_v128_load(o);
  float f[4];
  for (int j = 0; j < 4; j++) f[j] = r + j >= r0 && r + j < r1 ? o[j] : 0.0f;
  return wasm_v128_load(f);
}

// Decode of q8_0x4 groups, gn (8, then 4, then 1) at a time. A vector of a
// group holds four consecutive elements of each of its four rows; split by
// shifts into its even (elements 0, 2 of each row) and odd bytes as int16,
// against the token's matching elements broadcast as [a0 a2] and [a1 a3]
// (the activation is stored in that order for this path: act_eo), one
// i32x4.dot_i16x8 each leaves row j's pair sum in lane j, so a group needs
// one accumulator and no shuffles, and eight groups fit the registers with
// the two broadcasts they share. A group is a stream of its own: eight
// streams keep more loads in flight than one (the hardware prefetcher
// follows each), which is most of the gain from memory. Each step (16 bytes
// of every group) ends with PIN (relaxed.h) so V8 does not hoist the next
// step's loads. The integer sums are exact and the float step per row and
// block is step()'s, so every gn, the prefill path and the plain layout give
// the same bits.
//
// Measured (4096x4096 and 32768x4096, one thread, CPU time, medians of
// alternating rounds on a shared machine, load average 3-10), against one
// group at a time with four extends per vector and two accumulators:
// two groups that way with PIN, 1.2x / 1.4x; these even/odd groups, two at
// a time 1.1x / 1.2x, four 1.2x / 1.3x, eight 1.25x / 1.65x, twelve or
// sixteen no better than eight. Tried and dropped: the sign trick (|w| as the
// byte dot's 7-bit operand, the activation with w's sign by a compare and
// laneselect, or xor and subtract, against a negated copy made once per
// token): 0.85-0.9x the widening at best, as wasm has no psignb and every
// byte dot's int16 pair sums (up to 2 * 127 * 128) must widen to int32
// before the next one is added; it would also need a fallback for -128,
// which the byte dot cannot take exactly on every engine.
static inline __attribute__((always_inline)) int q8_0x4_groups(const uint8_t* w, int row_bytes, const act_block* act,
                                                               float* out, int nb, int r, int r0, int r1, int c0,
                                                               const int gn) {
  v128_t pins[8];
  for (; r + 4 * (gn - 1) < r1; r += 4 * gn) {
    const block_q8_0x4* g[8];
    v128_t acc[8];
    UNROLL for (int k = 0; k < gn; k++) {
      g[k] = (const block_q8_0x4*)(w + (size_t)(r + 4 * k) * row_bytes);
      acc[k] = c0 == 0 ? wasm_f32x4_const_splat(0.0f) : load4(out, r + 4 * k, r0, r1);
    }
    const act_block* ab = act;
    for (int b = 0; b < nb; b++, ab++) {
      v128_t s[8];
      UNROLL for (int k = 0; k < gn; k++) s[k] = wasm_i32x4_const_splat(0);
      UNROLL for (int i = 0; i < 8; i++) {
        const v128_t xe = SPLAT4(ab->q + 4 * i), xo = SPLAT4(ab->q + 4 * i + 2);
        v128_t v[8];
        UNROLL for (int k = 0; k < gn; k++) v[k] = LOAD(g[k]->qs + 16 * i);
        // |lane| <= 32 * 128 * 128 over a block
        UNROLL for (int k = 0; k < gn; k++) {
          const v128_t e = wasm_i16x8_shr(wasm_i16x8_shl(v[k], 8), 8), o = wasm_i16x8_shr(v[k], 8);
          s[k] = wasm_i32x4_add(s[k], wasm_i32x4_add(wasm_i32x4_dot_i16x8(e, xe), wasm_i32x4_dot_i16x8(o, xo)));
        }
        UNROLL for (int k = 0; k < gn; k++) PIN(s[k], pins[k]);
      }
      UNROLL for (int k = 0; k < gn; k++) {
        acc[k] = step(acc[k], s[k], f16x4_unscaled_at(g[k]->d), ab->d);
        g[k]++;
      }
    }
    UNROLL for (int k = 0; k < gn; k++) store4(acc[k], out, r + 4 * k, r0, r1, 1);
  }
  return r;
}

// Decode of plain rows, gn groups of four consecutive rows (4, then 1) side
// by side, every row a stream of its own: a block's four rows reduce to row
// j's sum in lane j (two shuffle-adds and pair_sums), then step(). Each
// group's block ends with PIN. The last group may run past r1 (it repeats
// row r1-1; store4 keeps only rows below r1). Rows one after the other, as
// this replaced, had one stream and kept the four rows' sums in a stack
// scratch (1.9x at 4096x4096, 2.1x at 32768x4096; 8 to 32 streams measured
// alike from memory, 16 is the smallest of the best).
static inline __attribute__((always_inline)) int q8_0_rows_groups(const uint8_t* w, int row_bytes, const act_block* act,
                                                                  float* out, int nb, int r, int r0, int r1, int c0,
                                                                  const int gn) {
  v128_t pins[4];
  for (; r + 4 * (gn - 1) < r1; r += 4 * gn) {
    const block_q8_0* x[4][4];
    v128_t acc[4];
    UNROLL for (int k = 0; k < gn; k++) {
      UNROLL for (int j = 0; j < 4; j++) {
        const int row = r + 4 * k + j < r1 ? r + 4 * k + j : r1 - 1;
        x[k][j] = (const block_q8_0*)(w + (size_t)row * row_bytes);
      }
      acc[k] = c0 == 0 ? wasm_f32x4_const_splat(0.0f) : load4(out, r + 4 * k, r0, r1);
    }
    const act_block* ab = act;
    for (int b = 0; b < nb; b++, ab++) {
      UNROLL for (int k = 0; k < gn; k++) {
        v128_t h[4];
        UNROLL for (int j = 0; j < 4; j++) h[j] = row_block(x[k][j], ab);
        const v128_t s01 = wasm_i32x4_add(wasm_i32x4_shuffle(h[0], h[1], 0, 1, 4, 5), wasm_i32x4_shuffle(h[0], h[1], 2, 3, 6, 7));
        const v128_t s23 = wasm_i32x4_add(wasm_i32x4_shuffle(h[2], h[3], 0, 1, 4, 5), wasm_i32x4_shuffle(h[2], h[3], 2, 3, 6, 7));
        const v128_t dw = wasm_i32x4_make(x[k][0]->d, x[k][1]->d, x[k][2]->d, x[k][3]->d);
        acc[k] = step(acc[k], pair_sums(s01, s23), f16x4_unscaled(dw), ab->d);
        PIN(acc[k], pins[k]);
        UNROLL for (int j = 0; j < 4; j++) x[k][j]++;
      }
    }
    UNROLL for (int k = 0; k < gn; k++) store4(acc[k], out, r + 4 * k, r0, r1, 1);
  }
  return r;
}

// Tokens in passes of MM_TOK, columns in sub-chunks, rows in groups of four
// (x4: the layout's groups, rows 4G..4G+3; plain: r0, r0 + 4, ..., the last
// group repeating row r1-1).
static inline void mul_mat_4(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                             int n, int n_tok, int r0, int r1, int x4) {
  act_block act[ACT_BLOCKS];
  v128_t acc[MM_TOK], pa[MM_TOK], pb[MM_TOK];
  const int g0 = x4 ? r0 & ~3 : r0;
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    const int act_eo = x4 && nt == 1;  // decode of q8_0x4: q8_0x4_groups, with its activation order
    const int sub = ACT_BLOCKS / nt * QK < SUB_MAX ? ACT_BLOCKS / nt * QK : SUB_MAX;
    for (int c0 = 0; c0 < n; c0 += sub) {
      const int nb = (n - c0 < sub ? n - c0 : sub) / QK;
      for (int t = 0; t < nt; t++) {
        const block_q8_0* y = (const block_q8_0*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / QK;
        for (int b = 0; b < nb; b++) {
          const v128_t lo = LOAD(y[b].qs), hi = LOAD(y[b].qs + 16);
          act_block* ab = act + nt * b + t;
          const v128_t q[4] = {wasm_i16x8_extend_low_i8x16(lo), wasm_i16x8_extend_high_i8x16(lo),
                               wasm_i16x8_extend_low_i8x16(hi), wasm_i16x8_extend_high_i8x16(hi)};
          UNROLL for (int i = 0; i < 4; i++)
            wasm_v128_store(ab->q + 8 * i, act_eo ? wasm_i16x8_shuffle(q[i], q[i], 0, 2, 1, 3, 4, 6, 5, 7) : q[i]);
          ab->d = fp16_to_fp32(y[b].d) * F16_UNSCALE;
        }
      }
      if (nt == 1) {  // decode; the loop below is the prefill's
        float* o = out + (size_t)t0 * out_stride;
        if (x4) {
          const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / QK) * sizeof(block_q8_0x4);
          int r = q8_0x4_groups(wc, row_bytes, act, o, nb, g0, r0, r1, c0, 8);
          r = q8_0x4_groups(wc, row_bytes, act, o, nb, r, r0, r1, c0, 4);
          q8_0x4_groups(wc, row_bytes, act, o, nb, r, r0, r1, c0, 1);
        } else {
          const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / QK) * sizeof(block_q8_0);
          const int r = q8_0_rows_groups(wc, row_bytes, act, o, nb, g0, r0, r1, c0, 4);
          q8_0_rows_groups(wc, row_bytes, act, o, nb, r, r0, r1, c0, 1);
        }
        continue;
      }
      for (int r = g0; r < r1; r += 4) {
        const block_q8_0x4* g = (const block_q8_0x4*)((const uint8_t*)w + (size_t)r * row_bytes) + c0 / QK;
        const block_q8_0* x[4];
        for (int j = 0; j < 4; j++)
          x[j] = (const block_q8_0*)((const uint8_t*)w + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes) + c0 / QK;
        for (int t = 0; t < nt; t++)
          acc[t] = c0 == 0 ? wasm_f32x4_const_splat(0.0f) : load4(out + (size_t)(t0 + t) * out_stride, r, r0, r1);
        for (int b = 0; b < nb; b++) {
          const rows4 wb = x4 ? decode_x4(g + b) : decode_rows(x, b);
          const act_block* ab = act + nt * b;
          v128_t v[8];
          widen8(wb.p, v);
          for (int t = 0; t < nt; t++) {
            v128_t sa = wasm_i32x4_const_splat(0), sb = wasm_i32x4_const_splat(0);
            dot_half(v, ab[t].q, &sa, &sb);
            pa[t] = sa, pb[t] = sb;
          }
          widen8(wb.p + 4, v);
          for (int t = 0; t < nt; t++) {
            v128_t sa = pa[t], sb = pb[t];
            dot_half(v, ab[t].q + 16, &sa, &sb);
            pa[t] = pair_sums(sa, sb);
          }
          for (int t = 0; t < nt; t++) acc[t] = step(acc[t], pa[t], wb.dw, ab[t].d);
        }
        for (int t = 0; t < nt; t++) store4(acc[t], out + (size_t)(t0 + t) * out_stride, r, r0, r1, 1);
      }
    }
  }
}

RELAXED_ENTRIES(q8_0, mul_mat_4, 0)
RELAXED_ENTRIES(q8_0x4, mul_mat_4, 1)

RELAXED_VEC_DOT(q8_0, q8_0, mul_mat_4)

// Rewrites n_rows (a multiple of 4) plain q8_0 rows as q8_0x4 groups, in place.
void EXPORT(repack_q8_0x4)(void* w, int row_bytes, int n_rows, void* scratch) {
  repack_rows4_f16(w, row_bytes, n_rows, scratch, 32);
}
