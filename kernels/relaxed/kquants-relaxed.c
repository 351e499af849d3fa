// Q4_K and Q6_K with relaxed SIMD (see legacy-relaxed.c for the instruction
// and why its results are exact here: q4_K's nibbles and q6_K's quants + 32
// are 0..63, so the i7 operand never has its top bit set).
//
// The q8_K activation is used as stored (its int8 quants, bsums and d): no
// widened copy. Per group of 16 weights, one relaxed byte dot gives eight
// int16 pair sums; the group's 6- or 8-bit scale is then applied by
// i32x4.dot_i16x8_s against a splat of the scale, which also adds the pairs
// into int32 lanes (|pair sum| <= 2 * 128 * 63, times |scale| <= 128: exact).
// Everything to the end of a super-block is exact int32, then the f32 steps
// are ggml's: sum += (d * ad) * isum, and for q4_K msum += (dmin * ad) * mins.
//
// One weight decode serves a tile of tokens: rows outer, tokens inner, so a
// row (a few KiB) stays in L1 while the batch's activations (in L2) pass it.
// matvec is the one-token tile, so a batch gives the same bits as token by
// token (the f32 steps per row and token are the same, in the same order).
#include "../kquants.h"

#define RDOT(a, q) wasm_i16x8_relaxed_dot_i8x16_i7x16(a, q)
#define LOAD(p) wasm_v128_load(p)
// Token loops must unroll (their accumulators then live in registers, not in
// linear-memory stack arrays); the 64-weight steps around them must not, or
// V8 runs out of registers.
#define UNROLL _Pragma("clang loop unroll(full)")
#define NOUNROLL _Pragma("clang loop unroll(disable)")

// Per super-block of a q8_K row: sums of 32 from its bsums (q4_K's mins pair
// with them), made once per token instead of once per (row, token).
static inline void bsums32_q8_K(const block_q8_K* a, v128_t* out, int nb) {
  for (int i = 0; i < nb; i++)
    out[i] = wasm_i16x8_narrow_i32x4(wasm_i32x4_extadd_pairwise_i16x8(LOAD(a[i].bsums)),
                                     wasm_i32x4_extadd_pairwise_i16x8(LOAD(a[i].bsums + 8)));
}

#define SPLAT4(p) wasm_v128_load32_splat(p)

// ---------------------------------------------------------------- q4_K
//
// Four rows at a time, one row per lane (as legacy-relaxed.c's q4_0): each
// 64-element chunk of the four rows is transposed in 4-byte groups, so a
// vector holds four consecutive nibble pairs of every row and the
// activation's four matching bytes are broadcast to all lanes. A sub-block's
// eight byte dots leave row j's two pair sums in int16 lanes 2j, 2j+1; one
// i32x4.dot_i16x8 against the rows' scales ([s0 s0 s1 s1 s2 s2 s3 s3])
// applies them and lands row j's scaled sum in lane j. The mins pair with
// the activation's sums of 32 the same way, two sub-blocks per dot. The
// decoded chunk serves every token of the pass, so per (sub-block, token)
// the work is the byte dots and one multiply-add.
//
// qs[32c + l]: element 64c + l in the low nibble, 64c + 32 + l in the high.

#define KB (ACT_CHUNK / QK_K)  // super-blocks per column chunk
#define MM_TOK 64              // tokens per pass (stack: 64 * 32 * 16 bytes of bsums, 3 KiB of accumulators)

// A super-block's scales for four rows, in the shapes the dots take.
typedef struct {
  v128_t sc[8];    // sub-block s: i16 lanes 2j, 2j+1 = row j's scale
  v128_t mp[4];    // sub-blocks 2p, 2p+1: i16 lanes 2j, 2j+1 = row j's two mins
  v128_t d, dmin;  // f32 per row
} q4_K_scales4;

// The scale vectors from bytes 4k + j (k = 0..7 sub-blocks, j = rows) of
// scales (sc0: k < 4, sc1: k >= 4) and mins (mn0, mn1).
static inline void q4_K_scales_from(v128_t sc0, v128_t sc1, v128_t mn0, v128_t mn1, q4_K_scales4* s) {
  // i16 lanes 2j, 2j+1 <- byte 4k + j; an index with its top bit set gives 0 on every engine
#define SC(v, q) wasm_i8x16_swizzle(v, wasm_i8x16_const(q, -128, q, -128, q + 1, -128, q + 1, -128, \
                                                                q + 2, -128, q + 2, -128, q + 3, -128, q + 3, -128))
  s->sc[0] = SC(sc0, 0), s->sc[1] = SC(sc0, 4), s->sc[2] = SC(sc0, 8), s->sc[3] = SC(sc0, 12);
  s->sc[4] = SC(sc1, 0), s->sc[5] = SC(sc1, 4), s->sc[6] = SC(sc1, 8), s->sc[7] = SC(sc1, 12);
  // sub-blocks 2p, 2p+1: i16 lanes 2j, 2j+1 <- bytes 8p + j, 8p + 4 + j
#define MP(v, q) wasm_i8x16_swizzle(v, wasm_i8x16_const(q, -128, q + 4, -128, q + 1, -128, q + 5, -128, \
                                                                q + 2, -128, q + 6, -128, q + 3, -128, q + 7, -128))
  s->mp[0] = MP(mn0, 0), s->mp[1] = MP(mn0, 8), s->mp[2] = MP(mn1, 0), s->mp[3] = MP(mn1, 8);
#undef SC
#undef MP
}

static inline void q4_K_scales(const block_q4_K* const x[4], int i, q4_K_scales4* s) {
  const v128_t s0 = unpack_scales_k4(x[0][i].scales), s1 = unpack_scales_k4(x[1][i].scales);
  const v128_t s2 = unpack_scales_k4(x[2][i].scales), s3 = unpack_scales_k4(x[3][i].scales);
  // byte 4k + j <- row j's byte k: interleave rows 0, 1 and rows 2, 3 by bytes, then the pairs by 16 bits
  const v128_t a01 = wasm_i8x16_shuffle(s0, s1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t a23 = wasm_i8x16_shuffle(s2, s3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t b01 = wasm_i8x16_shuffle(s0, s1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t b23 = wasm_i8x16_shuffle(s2, s3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  q4_K_scales_from(wasm_i16x8_shuffle(a01, a23, 0, 8, 1, 9, 2, 10, 3, 11), wasm_i16x8_shuffle(a01, a23, 4, 12, 5, 13, 6, 14, 7, 15),
                   wasm_i16x8_shuffle(b01, b23, 0, 8, 1, 9, 2, 10, 3, 11), wasm_i16x8_shuffle(b01, b23, 4, 12, 5, 13, 6, 14, 7, 15), s);
  s->d = f16x4_to_f32x4(wasm_i32x4_make(x[0][i].d, x[1][i].d, x[2][i].d, x[3][i].d));
  s->dmin = f16x4_to_f32x4(wasm_i32x4_make(x[0][i].dmin, x[1][i].dmin, x[2][i].dmin, x[3][i].dmin));
}

// A four-row group's values to out[r..r+3] (added after the first column
// chunk), lanes from r1 on dropped.
static inline void store4(v128_t v, float* o, int r, int r1, int first) {
  o += r;
  if (r + 4 <= r1) {
    wasm_v128_store(o, first ? v : wasm_f32x4_add(wasm_v128_load(o), v));
  } else {
    float f[4];
    wasm_v128_store(f, v);
    for (int j = 0; r + j < r1; j++) o[j] = first ? f[j] : o[j] + f[j];
  }
}

// Bytes 4g..4g+3 of each row's v (rows 0..3 in a..d) side by side, g = 0..3.
static inline void transpose4(v128_t a, v128_t b, v128_t c, v128_t d, v128_t* g) {
  const v128_t t0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
  const v128_t t2 = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
  g[0] = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5), g[1] = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);
  g[2] = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5), g[3] = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);
}

// Per (row, token) state across a row group's super-blocks.
typedef struct { v128_t isum, sum, msum; } q4_K_acc;

// Super-block i of four rows against nt tokens (y[t] at the chunk's first
// super-block, b32[t] its sums of 32).
static inline void q4_K_superblock(const block_q4_K* const x[4], int i, const block_q8_K* const* y,
                                   const v128_t* const* b32, q4_K_acc* acc, int nt) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  q4_K_scales4 s;
  q4_K_scales(x, i, &s);
  for (int t = 0; t < nt; t++) acc[t].isum = wasm_i32x4_const_splat(0);
  NOUNROLL for (int c = 0; c < 4; c++) {
    v128_t g[8];
    transpose4(LOAD(x[0][i].qs + 32 * c), LOAD(x[1][i].qs + 32 * c), LOAD(x[2][i].qs + 32 * c), LOAD(x[3][i].qs + 32 * c), g);
    transpose4(LOAD(x[0][i].qs + 32 * c + 16), LOAD(x[1][i].qs + 32 * c + 16), LOAD(x[2][i].qs + 32 * c + 16),
               LOAD(x[3][i].qs + 32 * c + 16), g + 4);
    NOUNROLL for (int h = 0; h < 2; h++) {
      v128_t w[8];
      UNROLL for (int k = 0; k < 8; k++) w[k] = wasm_v128_and(h ? wasm_u16x8_shr(g[k], 4) : g[k], m4);
      const v128_t sc = s.sc[2 * c + h];
      for (int t = 0; t < nt; t++) {
        const int8_t* q = y[t][i].qs + 64 * c + 32 * h;
        // element 4k of the sub-block sits at byte 4k of q (k = 0..7); |lane| <= 8 * 2 * 128 * 15 < 2^15
        const v128_t p = wasm_i16x8_add(
            wasm_i16x8_add(wasm_i16x8_add(RDOT(SPLAT4(q), w[0]), RDOT(SPLAT4(q + 4), w[1])),
                           wasm_i16x8_add(RDOT(SPLAT4(q + 8), w[2]), RDOT(SPLAT4(q + 12), w[3]))),
            wasm_i16x8_add(wasm_i16x8_add(RDOT(SPLAT4(q + 16), w[4]), RDOT(SPLAT4(q + 20), w[5])),
                           wasm_i16x8_add(RDOT(SPLAT4(q + 24), w[6]), RDOT(SPLAT4(q + 28), w[7]))));
        acc[t].isum = wasm_i32x4_add(acc[t].isum, wasm_i32x4_dot_i16x8(p, sc));
      }
    }
  }
  for (int t = 0; t < nt; t++) {
    const v128_t b = b32[t][i];
    const v128_t mn = wasm_i32x4_add(
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(s.mp[0], wasm_i32x4_shuffle(b, b, 0, 0, 0, 0)),
                       wasm_i32x4_dot_i16x8(s.mp[1], wasm_i32x4_shuffle(b, b, 1, 1, 1, 1))),
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(s.mp[2], wasm_i32x4_shuffle(b, b, 2, 2, 2, 2)),
                       wasm_i32x4_dot_i16x8(s.mp[3], wasm_i32x4_shuffle(b, b, 3, 3, 3, 3))));
    const v128_t ad = wasm_f32x4_splat(y[t][i].d);
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s.d, ad), wasm_f32x4_convert_i32x4(acc[t].isum)));
    acc[t].msum = wasm_f32x4_add(acc[t].msum, wasm_f32x4_mul(wasm_f32x4_mul(s.dmin, ad), wasm_f32x4_convert_i32x4(mn)));
  }
}

// ---------------------------------------------------------------- q6_K
//
// Half h of 128 elements: ql[64h + l] holds element 128h + l (low nibble) and
// 128h + 64 + l (high), ql[64h + 32 + l] elements 128h + 32 + l and
// 128h + 96 + l, qh[32h + l] their top two bits in that order from bit 0.
// The quants are used as 0..63 (q + 32, so the i7 operand is exact) and
// 32 * sum(scale * bsum) is taken away per super-block.

// Sixteen elements 128h + l0 + 32k .. +15 (k = 0..3) of one row, as 0..63.
__attribute__((always_inline)) static inline void q6_K_decode(const block_q6_K* x, int h, int l0, v128_t q[4]) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), m6 = wasm_i8x16_const_splat(0x30);
  const v128_t v1 = LOAD(x->ql + 64 * h + l0), v2 = LOAD(x->ql + 64 * h + 32 + l0);
  const v128_t hh = LOAD(x->qh + 32 * h + l0);
  // u16 shifts move bits across bytes, but each mask keeps only bits that came from their own byte
  q[0] = wasm_v128_or(wasm_v128_and(v1, m4), wasm_v128_and(wasm_i16x8_shl(hh, 4), m6));
  q[1] = wasm_v128_or(wasm_v128_and(v2, m4), wasm_v128_and(wasm_i16x8_shl(hh, 2), m6));
  q[2] = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v1, 4), m4), wasm_v128_and(hh, m6));
  q[3] = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v2, 4), m4), wasm_v128_and(wasm_u16x8_shr(hh, 2), m6));
}

// Decode: one row at a time; per super-block the integer sums are reduced
// to one int32 before sum += (d * ad) * isum, the group kernel's float step
// per lane, so both give the same bits.
static void q6_K_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r0, int r1, int first) {
  for (int r = r0; r < r1; r++) {
    const block_q6_K* x = (const block_q6_K*)(w + (size_t)r * row_bytes);
    v128_t sum = wasm_f32x4_const_splat(0.0f);  // every lane the same
    for (int i = 0; i < nb; i++, x++) {
      const v128_t scv = LOAD(x->scales);
      const v128_t sc_lo = wasm_i16x8_extend_low_i8x16(scv), sc_hi = wasm_i16x8_extend_high_i8x16(scv);
      int16_t sc16[16];  // each scale is then one broadcast load
      wasm_v128_store(sc16, sc_lo);
      wasm_v128_store(sc16 + 8, sc_hi);
      v128_t acc = wasm_i32x4_const_splat(0);
      NOUNROLL for (int j = 0; j < 4; j++) {
        const int h = j >> 1, l0 = 16 * (j & 1);
        v128_t q[4];
        q6_K_decode(x, h, l0, q);
        // scales of elements 128h + l0 + {0, 32, 64, 96}: indices 8h + l0/16 + {0, 2, 4, 6}
        const int16_t* sc = sc16 + 8 * h + l0 / 16;
        const int8_t* a = y[i].qs + 128 * h + l0;
        const v128_t p01 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(a), q[0]), wasm_v128_load16_splat(sc)),
                                          wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 32), q[1]), wasm_v128_load16_splat(sc + 2)));
        const v128_t p23 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 64), q[2]), wasm_v128_load16_splat(sc + 4)),
                                          wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 96), q[3]), wasm_v128_load16_splat(sc + 6)));
        acc = wasm_i32x4_add(acc, wasm_i32x4_add(p01, p23));
      }
      const v128_t off = wasm_i32x4_add(wasm_i32x4_dot_i16x8(sc_lo, LOAD(y[i].bsums)),
                                        wasm_i32x4_dot_i16x8(sc_hi, LOAD(y[i].bsums + 8)));
      const v128_t v = wasm_i32x4_sub(acc, wasm_i32x4_shl(off, 5));
      const v128_t u = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
      const v128_t isum = wasm_i32x4_add(u, wasm_i32x4_shuffle(u, u, 1, 0, 3, 2));
      sum = wasm_f32x4_add(sum, wasm_f32x4_mul(wasm_f32x4_splat(fp16_to_fp32(x->d) * y[i].d), wasm_f32x4_convert_i32x4(isum)));
    }
    const float val = wasm_f32x4_extract_lane(sum, 0);
    out[r] = first ? val : out[r] + val;
  }
}

// Prefill: four rows at a time, one row per lane, as q4_K's group kernel.
// A sub-block is sixteen elements with one int8 scale; two byte dots fill
// int16 (|lane| <= 2 * 2 * 128 * 63 < 2^15) before i32x4.dot_i16x8 applies
// the rows' scales ([s0 s0 s1 s1 s2 s2 s3 s3]).
typedef struct {
  v128_t sc[16];  // sub-block k: i16 lanes 2j, 2j+1 = row j's scale
  v128_t sp[8];   // sub-blocks 2p, 2p+1: i16 lanes 2j, 2j+1 = row j's two scales
  v128_t d;       // f32 per row
} q6_K_scales4;

// i16 lanes from bytes of w, each sign-extended: lane 2j <- byte a + j, lane 2j+1 <- byte b + j.
#define Q6_LANES(w, a, b) wasm_i16x8_shr(wasm_i8x16_shuffle(w, w, a, a, b, b, a + 1, a + 1, b + 1, b + 1, \
                                                           a + 2, a + 2, b + 2, b + 2, a + 3, a + 3, b + 3, b + 3), 8)

static inline void q6_K_scales(const block_q6_K* const x[4], int i, q6_K_scales4* s) {
  const v128_t s0 = LOAD(x[0][i].scales), s1 = LOAD(x[1][i].scales), s2 = LOAD(x[2][i].scales), s3 = LOAD(x[3][i].scales);
  // byte 4k + j of w[g] <- row j's scale 4g + k
  const v128_t a01 = wasm_i8x16_shuffle(s0, s1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t a23 = wasm_i8x16_shuffle(s2, s3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t b01 = wasm_i8x16_shuffle(s0, s1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t b23 = wasm_i8x16_shuffle(s2, s3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t w[4] = {wasm_i16x8_shuffle(a01, a23, 0, 8, 1, 9, 2, 10, 3, 11), wasm_i16x8_shuffle(a01, a23, 4, 12, 5, 13, 6, 14, 7, 15),
                       wasm_i16x8_shuffle(b01, b23, 0, 8, 1, 9, 2, 10, 3, 11), wasm_i16x8_shuffle(b01, b23, 4, 12, 5, 13, 6, 14, 7, 15)};
  UNROLL for (int g = 0; g < 4; g++) {
    s->sc[4 * g] = Q6_LANES(w[g], 0, 0), s->sc[4 * g + 1] = Q6_LANES(w[g], 4, 4);
    s->sc[4 * g + 2] = Q6_LANES(w[g], 8, 8), s->sc[4 * g + 3] = Q6_LANES(w[g], 12, 12);
    s->sp[2 * g] = Q6_LANES(w[g], 0, 4), s->sp[2 * g + 1] = Q6_LANES(w[g], 8, 12);
  }
  s->d = f16x4_to_f32x4(wasm_i32x4_make(x[0][i].d, x[1][i].d, x[2][i].d, x[3][i].d));
}

typedef struct { v128_t isum, sum; } q6_K_acc;

static inline void q6_K_superblock(const block_q6_K* const x[4], int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
  q6_K_scales4 s;
  q6_K_scales(x, i, &s);
  for (int t = 0; t < nt; t++) acc[t].isum = wasm_i32x4_const_splat(0);
  NOUNROLL for (int j = 0; j < 4; j++) {
    const int h = j >> 1, l0 = 16 * (j & 1);
    v128_t q[4][4];
    UNROLL for (int r = 0; r < 4; r++) q6_K_decode(&x[r][i], h, l0, q[r]);
    NOUNROLL for (int k = 0; k < 4; k++) {
      // elements 128h + l0 + 32k .. +15 of the four rows: sub-block 8h + l0/16 + 2k
      v128_t g[4];
      transpose4(q[0][k], q[1][k], q[2][k], q[3][k], g);
      const v128_t sc = s.sc[8 * h + l0 / 16 + 2 * k];
      for (int t = 0; t < nt; t++) {
        const int8_t* a = y[t][i].qs + 128 * h + l0 + 32 * k;
        const v128_t p0 = wasm_i16x8_add(RDOT(SPLAT4(a), g[0]), RDOT(SPLAT4(a + 4), g[1]));
        const v128_t p1 = wasm_i16x8_add(RDOT(SPLAT4(a + 8), g[2]), RDOT(SPLAT4(a + 12), g[3]));
        acc[t].isum = wasm_i32x4_add(acc[t].isum, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, sc), wasm_i32x4_dot_i16x8(p1, sc)));
      }
    }
  }
  for (int t = 0; t < nt; t++) {
    // bsums pairs 2p, 2p+1 are i32 lane p % 4 of b0 (p < 4) or b1
    const v128_t b0 = LOAD(y[t][i].bsums), b1 = LOAD(y[t][i].bsums + 8);
    v128_t off = wasm_i32x4_add(
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(s.sp[0], wasm_i32x4_shuffle(b0, b0, 0, 0, 0, 0)),
                       wasm_i32x4_dot_i16x8(s.sp[1], wasm_i32x4_shuffle(b0, b0, 1, 1, 1, 1))),
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(s.sp[2], wasm_i32x4_shuffle(b0, b0, 2, 2, 2, 2)),
                       wasm_i32x4_dot_i16x8(s.sp[3], wasm_i32x4_shuffle(b0, b0, 3, 3, 3, 3))));
    off = wasm_i32x4_add(off, wasm_i32x4_add(
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(s.sp[4], wasm_i32x4_shuffle(b1, b1, 0, 0, 0, 0)),
                       wasm_i32x4_dot_i16x8(s.sp[5], wasm_i32x4_shuffle(b1, b1, 1, 1, 1, 1))),
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(s.sp[6], wasm_i32x4_shuffle(b1, b1, 2, 2, 2, 2)),
                       wasm_i32x4_dot_i16x8(s.sp[7], wasm_i32x4_shuffle(b1, b1, 3, 3, 3, 3)))));
    const v128_t isum = wasm_i32x4_sub(acc[t].isum, wasm_i32x4_shl(off, 5));
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s.d, wasm_f32x4_splat(y[t][i].d)), wasm_f32x4_convert_i32x4(isum)));
  }
}

void EXPORT(mul_mat_q6_K)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                           int n, int n_tok, int r0, int r1) {
  const block_q8_K* y[MM_TOK];
  q6_K_acc acc[MM_TOK];
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
      const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / QK_K;
      for (int t = 0; t < nt; t++) y[t] = (const block_q8_K*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / QK_K;
      const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / QK_K) * sizeof(block_q6_K);
      float* o = out + (size_t)t0 * out_stride;
      if (nt == 1) {
        q6_K_rows(wc, row_bytes, y[0], o, nb, r0, r1, c0 == 0);
        continue;
      }
      for (int r = r0; r < r1; r += 4) {
        const block_q6_K* x[4];
        for (int j = 0; j < 4; j++) x[j] = (const block_q6_K*)(wc + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes);
        for (int t = 0; t < nt; t++) acc[t].sum = wasm_f32x4_const_splat(0.0f);
        for (int i = 0; i < nb; i++) q6_K_superblock(x, i, y, acc, nt);
        for (int t = 0; t < nt; t++) store4(acc[t].sum, o + (size_t)t * out_stride, r, r1, c0 == 0);
      }
    }
  }
}

void EXPORT(matvec_q6_K)(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1) {
  mul_mat_q6_K(w, row_bytes, a, 0, out, 0, n, 1, r0, r1);
}

float EXPORT(vec_dot_q6_K_q8_K)(int n, const void* w, const void* a) {
  float out;
  mul_mat_q6_K(w, 0, a, 0, &out, 0, n, 1, 0, 1);
  return out;
}

void EXPORT(mat_rows_q6_K)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                           int n, int n_tok, int n_rows, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  if (r0 < r1) mul_mat_q6_K(w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0, r1);
}

// Decode: one row at a time (a four-row group rebuilds its scales for a
// single use, which costs more than it saves). Per super-block the integer
// sums are reduced to one int32 before the float steps, which are then the
// group kernel's per lane, in its order: both give the same bits, so a
// batch matches token by token.
static void q4_K_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, const v128_t* b32, float* out, int nb, int r0,
                      int r1, int first) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  for (int r = r0; r < r1; r++) {
    const block_q4_K* x = (const block_q4_K*)(w + (size_t)r * row_bytes);
    v128_t sm2 = wasm_f32x4_const_splat(0.0f);  // lane 0: sum, lane 1: msum
    for (int i = 0; i < nb; i++, x++) {
      const v128_t smv = unpack_scales_k4(x->scales);
      // as int16 in memory: each scale is then one broadcast load
      int16_t sm[8];
      wasm_v128_store(sm, wasm_u16x8_extend_low_u8x16(smv));
      v128_t acc = wasm_i32x4_const_splat(0);
      NOUNROLL for (int c = 0; c < 4; c++) {
        const v128_t v0 = LOAD(x->qs + 32 * c), v1 = LOAD(x->qs + 32 * c + 16);
        const v128_t l0 = wasm_v128_and(v0, m4), l1 = wasm_v128_and(v1, m4);
        const v128_t h0 = wasm_v128_and(wasm_u16x8_shr(v0, 4), m4), h1 = wasm_v128_and(wasm_u16x8_shr(v1, 4), m4);
        const int8_t* q = y[i].qs + 64 * c;
        const v128_t lo = wasm_i16x8_add(RDOT(LOAD(q), l0), RDOT(LOAD(q + 16), l1));
        const v128_t hi = wasm_i16x8_add(RDOT(LOAD(q + 32), h0), RDOT(LOAD(q + 48), h1));
        acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(lo, wasm_v128_load16_splat(sm + 2 * c)),
                                                 wasm_i32x4_dot_i16x8(hi, wasm_v128_load16_splat(sm + 2 * c + 1))));
      }
      // lanes 0 and 1: the super-block's exact integer sum and mins term
      const v128_t mn = wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(smv), b32[i]);
      const v128_t u = wasm_i32x4_add(wasm_i32x4_shuffle(acc, mn, 0, 1, 4, 5), wasm_i32x4_shuffle(acc, mn, 2, 3, 6, 7));
      const v128_t v = wasm_i32x4_add(wasm_i32x4_shuffle(u, u, 0, 2, 0, 2), wasm_i32x4_shuffle(u, u, 1, 3, 1, 3));
      // d and dmin (adjacent f16s) as f32 lanes 0 and 1, times the activation's scale
      const v128_t dd = f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load32_zero(&x->d)));
      sm2 = wasm_f32x4_add(sm2, wasm_f32x4_mul(wasm_f32x4_mul(dd, wasm_f32x4_splat(y[i].d)), wasm_f32x4_convert_i32x4(v)));
    }
    const float val = wasm_f32x4_extract_lane(sm2, 0) - wasm_f32x4_extract_lane(sm2, 1);
    out[r] = first ? val : out[r] + val;
  }
}

// q4_K's batch loop: tokens in passes of MM_TOK, columns in chunks of
// ACT_CHUNK, rows in groups of four from r0 (the last group repeating row
// r1 - 1, its extra lanes dropped).
void EXPORT(mul_mat_q4_K)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                           int n, int n_tok, int r0, int r1) {
  v128_t bs[MM_TOK][KB];
  const v128_t* b32[MM_TOK];
  const block_q8_K* y[MM_TOK];
  q4_K_acc acc[MM_TOK];
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
      const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / QK_K;
      for (int t = 0; t < nt; t++) {
        y[t] = (const block_q8_K*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / QK_K;
        bsums32_q8_K(y[t], bs[t], nb);
        b32[t] = bs[t];
      }
      const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / QK_K) * sizeof(block_q4_K);
      if (nt == 1) {
        q4_K_rows(wc, row_bytes, y[0], b32[0], out + (size_t)t0 * out_stride, nb, r0, r1, c0 == 0);
        continue;
      }
      for (int r = r0; r < r1; r += 4) {
        const block_q4_K* x[4];
        for (int j = 0; j < 4; j++) x[j] = (const block_q4_K*)(wc + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes);
        for (int t = 0; t < nt; t++) acc[t].sum = acc[t].msum = wasm_f32x4_const_splat(0.0f);
        for (int i = 0; i < nb; i++) q4_K_superblock(x, i, y, b32, acc, nt);
        for (int t = 0; t < nt; t++)
          store4(wasm_f32x4_sub(acc[t].sum, acc[t].msum), out + (size_t)(t0 + t) * out_stride, r, r1, c0 == 0);
      }
    }
  }
}

void EXPORT(matvec_q4_K)(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1) {
  mul_mat_q4_K(w, row_bytes, a, 0, out, 0, n, 1, r0, r1);
}

float EXPORT(vec_dot_q4_K_q8_K)(int n, const void* w, const void* a) {
  float out;
  mul_mat_q4_K(w, 0, a, 0, &out, 0, n, 1, 0, 1);
  return out;
}

void EXPORT(mat_rows_q4_K)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                           int n, int n_tok, int n_rows, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  if (r0 < r1) mul_mat_q4_K(w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0, r1);
}
