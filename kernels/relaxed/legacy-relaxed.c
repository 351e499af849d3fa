// Q4_0 with relaxed SIMD (wasm/kernels-relaxed.wasm, loaded where the engine
// has it: Chrome/Electron, Node 22+, Node 20 with the flag the loader sets).
//
// i16x8.relaxed_dot_i8x16_i7x16_s multiplies 16 signed bytes by 16 bytes in
// 0..127 and adds adjacent pairs (one pmaddubsw on x86, sdot-like on ARM). Its
// result is implementation-defined only when the second operand has its top
// bit set; q4_0's nibbles (0..15) never do, so every engine gives the exact
// integer dot, on the q8_0 activation bytes as stored.
//
// Four rows at a time, one row per lane ("vertical"): the four rows' blocks
// are transposed in 4-byte groups, so a vector holds four consecutive
// nibble pairs of each row, and the activation's four matching bytes are
// broadcast to all lanes. Eight byte dots per block then leave row j's
// exact block sum in lane j: no horizontal reduction, and one convert, one
// scale multiply and one add finish four rows' block at once. The decoded
// weights of a block serve every token of the batch (up to MM_TOK), so the
// prefill's per-(block, token) work is the byte dots and those float steps.
//
// Per row and token the float steps are ggml's reference order,
// acc += f32(isum) * (d_w * d_a) block after block, whatever the batch or
// the row's position among the four: matvec is the one-token case, so a batch
// gives the same bits as token by token, and any thread split the same bits.
#include "../legacy-blocks.h"
#include "relaxed.h"

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

// Four rows' block b, interleaved for the kernels below (see repack_q4_0x4).
typedef struct { uint16_t d[4]; uint8_t qs[64]; } block_q4_0x4;
_Static_assert(sizeof(block_q4_0x4) == 4 * sizeof(block_q4_0), "a group takes four rows' bytes");

// Four rows' block as eight vectors of nibbles: l[g] holds elements
// 4g..4g+3 of rows 0..3 (four bytes per row, row j at bytes 4j..4j+3), h[g]
// elements 16+4g..16+4g+3; dw the rows' scales (fp16_unscaled, one per lane).
typedef struct { v128_t l[4], h[4], dw; } rows4;

// From q4_0x4 groups: the bytes are already in that order.
static inline rows4 decode_x4(const block_q4_0x4* g) {
  const v128_t m = wasm_i8x16_const_splat(0x0F);
  rows4 w;
  for (int i = 0; i < 4; i++) {
    const v128_t v = wasm_v128_load(g->qs + 16 * i);
    w.l[i] = wasm_v128_and(v, m);
    w.h[i] = wasm_v128_and(wasm_u16x8_shr(v, 4), m);
  }
  w.dw = f16x4_unscaled_at(g->d);
  return w;
}

// From four plain q4_0 rows: the same vectors after a 4x4 transpose of 32-bit groups.
static inline rows4 decode_rows(const block_q4_0* const x[4], int b) {
  const v128_t m = wasm_i8x16_const_splat(0x0F);
  v128_t g[4];
  transpose4(LOAD(x[0][b].qs), LOAD(x[1][b].qs), LOAD(x[2][b].qs), LOAD(x[3][b].qs), g);
  rows4 w;
  for (int i = 0; i < 4; i++) {
    w.l[i] = wasm_v128_and(g[i], m);
    w.h[i] = wasm_v128_and(wasm_u16x8_shr(g[i], 4), m);
  }
  w.dw = f16x4_unscaled(ROWS4_F16(x, b, d));
  return w;
}

#ifdef RELAXED_DOT_ADD
// The dot-add build: the block's exact sum per row from eight dot-adds
// started at the bias (the i16 path's byte dots, i16 adds and widening in
// one instruction each), four tokens at a time sharing the weight vectors,
// PIN every step (two dot-adds per token; see q6_K_isums, q6_K-prefill.h);
// the same int32 sums and float steps, so the same bits. Measured as the
// k-quants' four-token loops were: q4_0x4 1.12-1.14x, plain q4_0 1.17x (a
// block is 32 weights, so the float step per block and token weighs more
// than in the k-quants).
static inline void rows4_tokens(const rows4* w, const block_q8_0* const* y, const act_q8_0* a, v128_t* acc, int nt, int b) {
  v128_t pin[4];
  int t = 0;
  for (; t + 4 <= nt; t += 4) {
    const int8_t* q0 = y[t][b].qs;
    const int8_t* q1 = y[t + 1][b].qs;
    const int8_t* q2 = y[t + 2][b].qs;
    const int8_t* q3 = y[t + 3][b].qs;
    v128_t s0 = wasm_i32x4_splat(a[t].bias[b]), s1 = wasm_i32x4_splat(a[t + 1].bias[b]);
    v128_t s2 = wasm_i32x4_splat(a[t + 2].bias[b]), s3 = wasm_i32x4_splat(a[t + 3].bias[b]);
    UNROLL for (unsigned i = 0; i < 4; i++) {  // unsigned: the offsets become memarg offsets (relaxed.h)
      s0 = DOTADD(SPLAT4(q0 + 4 * i), w->l[i], s0);
      s1 = DOTADD(SPLAT4(q1 + 4 * i), w->l[i], s1);
      s2 = DOTADD(SPLAT4(q2 + 4 * i), w->l[i], s2);
      s3 = DOTADD(SPLAT4(q3 + 4 * i), w->l[i], s3);
      s0 = DOTADD(SPLAT4(q0 + 16 + 4 * i), w->h[i], s0);
      s1 = DOTADD(SPLAT4(q1 + 16 + 4 * i), w->h[i], s1);
      s2 = DOTADD(SPLAT4(q2 + 16 + 4 * i), w->h[i], s2);
      s3 = DOTADD(SPLAT4(q3 + 16 + 4 * i), w->h[i], s3);
      PIN(s0, pin[0]);  // every step (two dot-adds each): every second step was 0.9x
      PIN(s1, pin[1]);
      PIN(s2, pin[2]);
      PIN(s3, pin[3]);
    }
    acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s0), wasm_f32x4_mul(w->dw, wasm_f32x4_splat(a[t].d[b]))));
    acc[t + 1] = wasm_f32x4_add(acc[t + 1], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s1), wasm_f32x4_mul(w->dw, wasm_f32x4_splat(a[t + 1].d[b]))));
    acc[t + 2] = wasm_f32x4_add(acc[t + 2], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s2), wasm_f32x4_mul(w->dw, wasm_f32x4_splat(a[t + 2].d[b]))));
    acc[t + 3] = wasm_f32x4_add(acc[t + 3], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s3), wasm_f32x4_mul(w->dw, wasm_f32x4_splat(a[t + 3].d[b]))));
  }
  for (; t < nt; t++) {
    const int8_t* q = y[t][b].qs;
    v128_t s = wasm_i32x4_splat(a[t].bias[b]);
    UNROLL for (unsigned i = 0; i < 4; i++) {
      s = DOTADD(SPLAT4(q + 4 * i), w->l[i], s);
      s = DOTADD(SPLAT4(q + 16 + 4 * i), w->h[i], s);
    }
    const v128_t scale = wasm_f32x4_mul(w->dw, wasm_f32x4_splat(a[t].d[b]));
    acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), scale));
  }
}
#else
// acc[t] lane j += row j's block b times token t, for nt tokens.
static inline void rows4_tokens(const rows4* w, const block_q8_0* const* y, const act_q8_0* a, v128_t* acc, int nt, int b) {
  for (int t = 0; t < nt; t++) {
    const int8_t* q = y[t][b].qs;
    const v128_t slo = wasm_i16x8_add(wasm_i16x8_add(RDOT(SPLAT4(q), w->l[0]), RDOT(SPLAT4(q + 4), w->l[1])),
                                      wasm_i16x8_add(RDOT(SPLAT4(q + 8), w->l[2]), RDOT(SPLAT4(q + 12), w->l[3])));
    const v128_t shi = wasm_i16x8_add(wasm_i16x8_add(RDOT(SPLAT4(q + 16), w->h[0]), RDOT(SPLAT4(q + 20), w->h[1])),
                                      wasm_i16x8_add(RDOT(SPLAT4(q + 24), w->h[2]), RDOT(SPLAT4(q + 28), w->h[3])));
    // |lane| <= 8 * 2 * 127 * 15 < 2^15
    const v128_t s = wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(slo, shi)),
                                    wasm_i32x4_splat(a[t].bias[b]));
    const v128_t scale = wasm_f32x4_mul(w->dw, wasm_f32x4_splat(a[t].d[b]));
    acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), scale));
  }
}
#endif

// Decode of q4_0x4 groups, gn at a time: n iterations, the first group of
// iteration i at row r + step * i, its gn groups `stride` rows apart (step
// 4 * gn, stride 4: side by side; step 4, stride a part of the thread's rows:
// spread). Each activation broadcast serves every group, each group is a
// stream of its own for the prefetcher, and each 16-byte step ends with PIN
// (relaxed.h) so V8 does not hoist the next step's loads. The integer sums
// (exact in int16: |lane| <= 8 * 2 * 127 * 15 < 2^15) and the float step per
// row are rows4_tokens', so every gn, stride and the batch path give the
// same bits.
static inline __attribute__((always_inline)) void q4_0x4_groups(const uint8_t* w, int row_bytes, const block_q8_0* y,
                                                                const act_q8_0* act, float* out, int nb, int r, int n,
                                                                int step, int stride, int r0, int r1, int first,
                                                                const int gn) {
  const v128_t m = wasm_i8x16_const_splat(0x0F);
  v128_t pins[8];
  for (int it = 0; it < n; it++, r += step) {
    const block_q4_0x4* g[8];
    v128_t acc[8];
    UNROLL for (int k = 0; k < gn; k++) {
      g[k] = (const block_q4_0x4*)(w + (size_t)(r + stride * k) * row_bytes);
      acc[k] = wasm_f32x4_const_splat(0.0f);
    }
    for (int b = 0; b < nb; b++) {
      const int8_t* q = y[b].qs;
      v128_t l[8];
      UNROLL for (int k = 0; k < gn; k++) l[k] = wasm_i16x8_const_splat(0);
      UNROLL for (int i = 0; i < 4; i++) {
        const v128_t s = SPLAT4(q + 4 * i), t = SPLAT4(q + 16 + 4 * i);
        v128_t v[8];
        UNROLL for (int k = 0; k < gn; k++) v[k] = LOAD(g[k]->qs + 16 * i);
        UNROLL for (int k = 0; k < gn; k++)
          l[k] = wasm_i16x8_add(l[k], wasm_i16x8_add(RDOT(s, wasm_v128_and(v[k], m)),
                                                     RDOT(t, wasm_v128_and(wasm_u16x8_shr(v[k], 4), m))));
        UNROLL for (int k = 0; k < gn; k++) PIN(l[k], pins[k]);
      }
      const v128_t bias = wasm_i32x4_splat(act->bias[b]), ad = wasm_f32x4_splat(act->d[b]);
      UNROLL for (int k = 0; k < gn; k++) {
        const v128_t isum = wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(l[k]), bias);
        acc[k] = wasm_f32x4_add(acc[k], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(f16x4_unscaled_at(g[k]->d), ad)));
        g[k]++;
      }
    }
    UNROLL for (int k = 0; k < gn; k++) store4(acc[k], out, r + stride * k, r0, r1, first);
  }
}

// Decode of the thread's q4_0x4 groups: eight at a time, each reading its
// own eighth of the thread's rows (the groups are far apart in memory), then
// four side by side, then one. The groups that touch [r0, r1) are counted
// from r0 & ~3; store4 keeps only the thread's rows.
//
// Measured (32768x4096 from memory, one thread, CPU time, medians of
// alternating rounds on a shared machine, load average 3.5-4.5), against
// two groups side by side (what this replaced): four side by side 1.15x,
// four spread 1.35x, eight side by side 1.6x, eight spread 1.65x (7.0 ->
// 12 GB/s). In cache (1024 and 4096 rows, alternating with the old build
// only) eight spread 1.13x (14.3 -> 16.3 GB/s).
static void q4_0x4_decode(const uint8_t* w, int row_bytes, const block_q8_0* y, const act_q8_0* act, float* out,
                          int nb, int r0, int r1, int first) {
  int r = r0 & ~3;
  const int part = (r1 - r + 3) / 4 / 8;  // groups per eighth
  q4_0x4_groups(w, row_bytes, y, act, out, nb, r, part, 4, 4 * part, r0, r1, first, 8);
  r += 32 * part;
  const int quads = (r1 - r + 3) / 4 / 4;
  q4_0x4_groups(w, row_bytes, y, act, out, nb, r, quads, 16, 4, r0, r1, first, 4);
  r += 16 * quads;
  q4_0x4_groups(w, row_bytes, y, act, out, nb, r, (r1 - r + 3) / 4, 4, 4, r0, r1, first, 1);
}

// The batch loop shared by both layouts: tokens in passes of MM_TOK, columns
// in chunks of ACT_CHUNK, rows in groups of four (x4: the layout's groups,
// rows 4G..4G+3; plain: r0, r0 + 4, ..., the last group repeating row r1-1).
static inline void mul_mat_4(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                             int n, int n_tok, int r0, int r1, int x4) {
  act_q8_0 act[MM_TOK];
  v128_t acc[MM_TOK];
  const block_q8_0* y[MM_TOK];
  const int g0 = x4 ? r0 & ~3 : r0;
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
      const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / QK;
      for (int t = 0; t < nt; t++) {
        y[t] = (const block_q8_0*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / QK;
        prep_q8_0(y[t], nb, &act[t]);
      }
      if (x4 && nt == 1) {
        q4_0x4_decode((const uint8_t*)w + (size_t)(c0 / QK) * sizeof(block_q4_0x4), row_bytes, y[0], &act[0],
                      out + (size_t)t0 * out_stride, nb, r0, r1, c0 == 0);
        continue;
      }
      for (int r = g0; r < r1; r += 4) {
        const block_q4_0x4* g = (const block_q4_0x4*)((const uint8_t*)w + (size_t)r * row_bytes) + c0 / QK;
        const block_q4_0* x[4];
        for (int j = 0; j < 4; j++)
          x[j] = (const block_q4_0*)((const uint8_t*)w + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes) + c0 / QK;
        if (nt == 1) {  // decode: the accumulator stays in a register
          v128_t s = wasm_f32x4_const_splat(0.0f);
          for (int b = 0; b < nb; b++) {
            const rows4 wb = x4 ? decode_x4(g + b) : decode_rows(x, b);
            rows4_tokens(&wb, y, act, &s, 1, b);
          }
          acc[0] = s;
        } else {
          for (int t = 0; t < nt; t++) acc[t] = wasm_f32x4_const_splat(0.0f);
          for (int b = 0; b < nb; b++) {
            const rows4 wb = x4 ? decode_x4(g + b) : decode_rows(x, b);
            rows4_tokens(&wb, y, act, acc, nt, b);
          }
        }
        for (int t = 0; t < nt; t++) store4(acc[t], out + (size_t)(t0 + t) * out_stride, r, r0, r1, c0 == 0);
      }
    }
  }
}

RELAXED_ENTRIES(q4_0, mul_mat_4, 0)
RELAXED_ENTRIES(q4_0x4, mul_mat_4, 1)

RELAXED_VEC_DOT(q4_0, q8_0, mul_mat_4)

// Rewrites n_rows (a multiple of 4) plain q4_0 rows as q4_0x4 groups, in place.
void EXPORT(repack_q4_0x4)(void* w, int row_bytes, int n_rows, void* scratch) {
  repack_rows4_f16(w, row_bytes, n_rows, scratch, 16);
}
