// Q4_K with relaxed SIMD. q4_K's nibbles are 0..15, so the byte dot is
// exact; the q8_K activation is used as stored (int8 quants, bsums, d).
//
// Prefill: four rows at a time, one row per lane (relaxed.h). A sub-block's
// eight byte dots leave row j's two pair sums in int16 lanes 2j, 2j+1; one
// i32x4.dot_i16x8 against the rows' scales ([s0 s0 s1 s1 s2 s2 s3 s3])
// applies them and lands row j's scaled sum in lane j. The mins pair with
// the activation's sums of 32 the same way, two sub-blocks per dot. The
// decoded super-block serves every token of the pass.
//
// Decode: plain rows one at a time (a four-row group would rebuild its
// scales for a single use); rows repacked at load (q4_Kx4,
// runtime/repack.ts) four at a time, their scales already in lane order.
//
// Every path reduces a super-block to exact int32 sums per row, then takes
// the same f32 steps per row: sum += (d * ad) * isum, msum += (dmin * ad) *
// mins, result sum - msum. So a batch gives the same bits as token by token,
// and the repacked layout the same bits as the file's.
//
// qs[32c + l]: element 64c + l in the low nibble, 64c + 32 + l in the high.
#include "kquant-loop.h"

// A super-block's scales for four rows, in the shapes the dots take.
typedef struct {
#ifdef RELAXED_DOT_ADD
  v128_t sc[8];    // sub-block k: i32 lane j = row j's scale
#else
  v128_t sc[8];    // sub-block k: i16 lanes 2j, 2j+1 = row j's scale
#endif
  v128_t mp[4];    // sub-blocks 2p, 2p+1: i16 lanes 2j, 2j+1 = row j's two mins
  v128_t d, dmin;  // f32 per row
} q4_K_scales4;

// Swizzle indices (i8x16.swizzle gives 0 for an index >= 16): i16 lanes 2j
// and 2j+1 <- byte q + j (SC_IDX), or bytes q + j and q + 4 + j (MP_IDX).
#define SC_IDX(q) wasm_i8x16_const(q, -128, q, -128, q + 1, -128, q + 1, -128, q + 2, -128, q + 2, -128, q + 3, -128, q + 3, -128)
#define SC32_IDX(q) wasm_i8x16_const(q, -128, -128, -128, q + 1, -128, -128, -128, q + 2, -128, -128, -128, q + 3, -128, -128, -128)
#define MP_IDX(q) wasm_i8x16_const(q, -128, q + 4, -128, q + 1, -128, q + 5, -128, q + 2, -128, q + 6, -128, q + 3, -128, q + 7, -128)

// From bytes 4k + j (row j, sub-block k; k < 4 in the first vector) of the
// four rows' scales (sc0, sc1) and mins (mn0, mn1).
static inline void q4_K_scales_from(v128_t sc0, v128_t sc1, v128_t mn0, v128_t mn1, q4_K_scales4* s) {
#ifdef RELAXED_DOT_ADD
  // i32 lane j <- byte q + j (SC32_IDX), for i32x4.mul after the dot-adds
  s->sc[0] = wasm_i8x16_swizzle(sc0, SC32_IDX(0)), s->sc[1] = wasm_i8x16_swizzle(sc0, SC32_IDX(4));
  s->sc[2] = wasm_i8x16_swizzle(sc0, SC32_IDX(8)), s->sc[3] = wasm_i8x16_swizzle(sc0, SC32_IDX(12));
  s->sc[4] = wasm_i8x16_swizzle(sc1, SC32_IDX(0)), s->sc[5] = wasm_i8x16_swizzle(sc1, SC32_IDX(4));
  s->sc[6] = wasm_i8x16_swizzle(sc1, SC32_IDX(8)), s->sc[7] = wasm_i8x16_swizzle(sc1, SC32_IDX(12));
#else
  s->sc[0] = wasm_i8x16_swizzle(sc0, SC_IDX(0)), s->sc[1] = wasm_i8x16_swizzle(sc0, SC_IDX(4));
  s->sc[2] = wasm_i8x16_swizzle(sc0, SC_IDX(8)), s->sc[3] = wasm_i8x16_swizzle(sc0, SC_IDX(12));
  s->sc[4] = wasm_i8x16_swizzle(sc1, SC_IDX(0)), s->sc[5] = wasm_i8x16_swizzle(sc1, SC_IDX(4));
  s->sc[6] = wasm_i8x16_swizzle(sc1, SC_IDX(8)), s->sc[7] = wasm_i8x16_swizzle(sc1, SC_IDX(12));
#endif
  s->mp[0] = wasm_i8x16_swizzle(mn0, MP_IDX(0)), s->mp[1] = wasm_i8x16_swizzle(mn0, MP_IDX(8));
  s->mp[2] = wasm_i8x16_swizzle(mn1, MP_IDX(0)), s->mp[3] = wasm_i8x16_swizzle(mn1, MP_IDX(8));
}

// Plain rows: unpack each row's 6-bit fields, then interleave the rows.
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
  s->d = f16x4_to_f32x4(ROWS4_F16(x, i, d));
  s->dmin = f16x4_to_f32x4(ROWS4_F16(x, i, dmin));
}

// Four rows' super-block, repacked at load (repack_q4_Kx4): their d and
// dmin; scales and mins at byte 4k + j for row j's sub-block k, sm = scale |
// (min >> 4) << 6 and the min's low nibble in ml (index 4k + j: byte
// (4k + j) % 16, low nibble for k < 4); then sub-block k's nibbles, both of
// a byte from that sub-block: in qs[k][m], bytes 4j..4j+3 hold row j's
// elements 4m..4m+3 of the sub-block in their low nibbles and 16 + 4m..
// 16 + 4m + 3 in their high (transpose4's order), so a byte's two dots share
// one scale and decode sums a whole sub-block in one int16 accumulator per
// group, as q4_0x4 does a block (q4_Kx4_groups). The file's q4_K pairs
// sub-block 2c's element l with 2c + 1's in a byte instead.
typedef struct {
  uint16_t d[4], dmin[4];
  uint8_t sm[32], ml[16];
  uint8_t qs[8][4][16];
} block_q4_Kx4;

// The nibbles of one row's chunk c (v0, v1: qs bytes 32c.., 32c + 16..) in
// block_q4_Kx4's pairing: lo holds sub-block 2c (elements l and 16 + l in
// byte l's nibbles), hi sub-block 2c + 1.
static inline void q4_K_pair_nibbles(v128_t v0, v128_t v1, v128_t* lo, v128_t* hi) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), h4 = wasm_i8x16_const_splat((int8_t)0xF0);
  *lo = wasm_v128_or(wasm_v128_and(v0, m4), wasm_v128_and(wasm_i16x8_shl(v1, 4), h4));
  *hi = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v0, 4), m4), wasm_v128_and(v1, h4));
}

// Sub-block sb's eight weight vectors at wq[8 * sb] as 0..15 (vector k:
// elements 4k..4k+3 of every row), from q[4 * sb + m] in block_q4_Kx4's
// order (q4_K_isums16, q4_K_isums_pair_few).
static inline void q4_K_unpack(const v128_t* q, v128_t* wq) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  for (int sb = 0; sb < 8; sb++)
    for (int m = 0; m < 4; m++) {
      wq[8 * sb + m] = wasm_v128_and(q[4 * sb + m], m4);
      wq[8 * sb + 4 + m] = wasm_v128_and(wasm_u16x8_shr(q[4 * sb + m], 4), m4);
    }
}
_Static_assert(sizeof(block_q4_Kx4) == 4 * sizeof(block_q4_K), "a group takes four rows' bytes");

// The scale and min bytes of a repacked group, rows already interleaved.
static inline void q4_Kx4_fields(const block_q4_Kx4* g, v128_t* sc0, v128_t* sc1, v128_t* mn0, v128_t* mn1) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), m6 = wasm_i8x16_const_splat(0x3F);
  const v128_t sm0 = LOAD(g->sm), sm1 = LOAD(g->sm + 16), ml = LOAD(g->ml);
  *sc0 = wasm_v128_and(sm0, m6), *sc1 = wasm_v128_and(sm1, m6);
  // the min's top two bits: (sm & 0xC0) >> 2 is them times 16 (the mask keeps u16 shifts inside bytes)
  *mn0 = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(sm0, m6), 2), wasm_v128_and(ml, m4));
  *mn1 = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(sm1, m6), 2), wasm_v128_and(wasm_u16x8_shr(ml, 4), m4));
}

static inline void q4_K_scales_x4(const block_q4_Kx4* g, q4_K_scales4* s) {
  v128_t sc0, sc1, mn0, mn1;
  q4_Kx4_fields(g, &sc0, &sc1, &mn0, &mn1);
  q4_K_scales_from(sc0, sc1, mn0, mn1, s);
  s->d = f16x4_at(g->d);
  s->dmin = f16x4_at(g->dmin);
}

// The mins term of four rows for one token: sum over sub-blocks of min * (sum of 32 activations).
static inline v128_t q4_K_mins(const v128_t* mp, v128_t b) {
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[0], wasm_i32x4_shuffle(b, b, 0, 0, 0, 0)),
                                       wasm_i32x4_dot_i16x8(mp[1], wasm_i32x4_shuffle(b, b, 1, 1, 1, 1))),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[2], wasm_i32x4_shuffle(b, b, 2, 2, 2, 2)),
                                       wasm_i32x4_dot_i16x8(mp[3], wasm_i32x4_shuffle(b, b, 3, 3, 3, 3))));
}

// Per (row, token) state across a row group's super-blocks.
typedef kq_acc q4_K_acc;

#define Q4_T 4  // tokens at a time
#ifndef RELAXED_DOT_ADD
// The relaxed build's prefill sums for a lone last group and plain rows
// (the dot-add build takes q4_K_isums_tile with one group there): the nibbles
// decoded once per super-block into wq, then four tokens at a time over the
// whole super-block, a sub-block's eight byte dots per token summed in int16
// (|lane| <= 8 * 2 * 128 * 15 < 2^15) and applied to the rows' scales by
// one i32x4.dot_i16x8, so each weight vector is loaded once for four tokens.
// Measured (bench:kernels --prefill --repacked --cpu --old DIR: 4096x4096 x
// 64 tokens, one thread, CPU time, medians of 21 alternating rounds against
// the build before, Node 20, shared 2-core Xeon): 1.04-1.05x with PIN every
// second step (none 0.92x, every step 1.01x, every fourth 0.91x; 3 tokens
// 1.07x, 5 0.93x, 6 0.87x). V8's code then showed a lea per broadcast:
// clang's loop strength reduction had rewritten a + 4 * k as base + index
// i32.adds, which V8 does not fold into the address. The pointers made
// opaque to clang each sub-block (an empty asm), so 4 * k is the loads'
// memarg offset: 1.10-1.11x (4 tokens, PIN every second step; 3 tokens
// 1.04-1.10x, 5 1.08x, PIN every step 1.06x). The loop is then near the i16
// path's bound: a byte dot and an i16 add per 16 products, on V8's three
// vector ports. Two groups at a time take most groups now (q4_K_isums_pair);
// this serves a lone last group and plain rows.
static inline void q4_K_isums16(const q4_K_scales4* s, const v128_t* q, int i, const block_q8_K* const* y, q4_K_acc* acc, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
  v128_t wq[64];  // sub-block sb's eight vectors at wq[8 * sb]
  q4_K_unpack(q, wq);
  v128_t pin[Q4_T];
  int t = 0;
  for (; t + Q4_T <= nt; t += Q4_T) {
    const int8_t* ap[Q4_T];
    v128_t is[Q4_T];
    UNROLL for (int u = 0; u < Q4_T; u++) ap[u] = y[t + u][i].qs, is[u] = zero;
    const v128_t* w = wq;
    const v128_t* sc = s->sc;
    NOUNROLL for (int sb = 0; sb < 8; sb++, w += 8, sc++) {
      v128_t p[Q4_T];
      UNROLL for (int u = 0; u < Q4_T; u++) p[u] = zero;
      UNROLL for (unsigned k = 0; k < 8; k++) {
        const v128_t wk = w[k];
        UNROLL for (int u = 0; u < Q4_T; u++) p[u] = wasm_i16x8_add(p[u], RDOT(SPLAT4(ap[u] + 4 * k), wk));
        if (k & 1) {
          UNROLL for (int u = 0; u < Q4_T; u++) PIN(p[u], pin[u]);
        }
      }
      const v128_t scv = *sc;
      UNROLL for (int u = 0; u < Q4_T; u++) {
        is[u] = wasm_i32x4_add(is[u], wasm_i32x4_dot_i16x8(p[u], scv)), ap[u] += 32;
        OPAQUE(ap[u]);  // opaque: ap[u] + 4 * k stays a load offset
      }
    }
    UNROLL for (int u = 0; u < Q4_T; u++) acc[t + u].isum = is[u];
  }
  for (; t < nt; t++) {
    const int8_t* a = y[t][i].qs;
    v128_t isum = zero;
    NOUNROLL for (int sb = 0; sb < 8; sb++, a += 32) {
      v128_t p = wasm_i16x8_const_splat(0);
      UNROLL for (unsigned k = 0; k < 8; k++) p = wasm_i16x8_add(p, RDOT(SPLAT4(a + 4 * k), wq[8 * sb + k]));
      isum = wasm_i32x4_add(isum, wasm_i32x4_dot_i16x8(p, s->sc[sb]));
    }
    acc[t].isum = isum;
  }
}
#endif

// The two builds' sums of a step in q4_K_isums_pair: Q4_DOT4 adds four
// byte dots of broadcasts b0..b3 against weight vectors w0..w3 to p, and
// Q4_SCALE applies the rows' scales (q4_K_scales4.sc's shape) to a
// sub-block's sum. The relaxed build sums in int16 lanes and applies the
// scales by i32x4.dot_i16x8; the dot-add build chains four dot-adds into
// int32 lanes (|lane| <= 32 * 128 * 15) and multiplies.
#ifdef RELAXED_DOT_ADD
#define Q4_DOT4(p, b0, b1, b2, b3, w0, w1, w2, w3) DOTADD(b3, w3, DOTADD(b2, w2, DOTADD(b1, w1, DOTADD(b0, w0, p))))
#define Q4_DOT4_FIRST(b0, b1, b2, b3, w0, w1, w2, w3) Q4_DOT4(wasm_i32x4_const_splat(0), b0, b1, b2, b3, w0, w1, w2, w3)
#define Q4_SCALE(p, sc) wasm_i32x4_mul(p, sc)
#else
#define Q4_DOT4_FIRST(b0, b1, b2, b3, w0, w1, w2, w3) \
  wasm_i16x8_add(wasm_i16x8_add(RDOT(b0, w0), RDOT(b1, w1)), wasm_i16x8_add(RDOT(b2, w2), RDOT(b3, w3)))
#define Q4_DOT4(p, b0, b1, b2, b3, w0, w1, w2, w3) wasm_i16x8_add(p, Q4_DOT4_FIRST(b0, b1, b2, b3, w0, w1, w2, w3))
#define Q4_SCALE(p, sc) wasm_i32x4_dot_i16x8(p, sc)
#endif
// Two groups (eight rows) of super-block i, both builds: half a sub-block
// of both groups' nibbles (four weight vectors each) decoded into
// registers, and the pass's tokens streamed past them (pass_tokens at a
// time, relaxed.h), four broadcasts feeding eight byte dots. The first
// half's sums wait in st; the second half adds its dots to them (relaxed:
// int16, |lane| <= 8 * 2 * 128 * 15 < 2^15; dot-add: int32, Q4_DOT4) and
// applies the rows' scales (Q4_SCALE) into st's int32 sums. The integer
// sums are the other loops' exactly, so are the bits.
// Measured (bench:kernels --prefill --repacked --cpu --ratios, 4096x4096 x
// 64 tokens, one thread, median of 20 per-round ratios on Node 20 against
// the loop it replaced: three tokens at a time through the decoded super-block
// in stack vectors): 1.07x; with both groups' float steps in one pass
// (q4_K_finish_pair) 1.12x. What V8 made of the old loop (node
// --print-wasm-code): per 48 byte dots 102 vector ALU ops (the i16 path's
// bound: a dot and an add per 16 products) but some 110 other instructions
// (24 PIN stores, 24 spill moves, pointer reloads, leas), so the front end
// and the vector ports were both near their limit; here the weights stay in
// registers, no PIN is needed, and V8 unrolls the small token loop itself.
// Tried on the old loop: the second group's vectors through their own opaque
// pointer (V8 had a lea per load): 1.01x; two sub-blocks per loop
// iteration (half the accumulator spills): 1.02x; PIN every step: 1.00x.
// Without the float steps this loop runs 1.25x the old one: they are now
// some 11% of the vector ops (q4_K_finish_pair).
// The dot-add build (Node 24 / V8 13.6, AVX-VNNI; bench:kernels --prefill
// --dot --repacked --old DIR, CPU time, medians of 21 alternating rounds,
// load 2-4): this loop with both groups' float steps in one pass 1.05-1.09x
// over its loop before (two groups' super-block decoded to the stack, two
// tokens at a time through it, PIN every second step) at 4096 columns,
// 0.97-1.02x at 14336 (passes of 32 or 64 tokens there instead of 16: no
// better); end to end (bench/profile.js --synthetic llama-3.1-8b:Q4_K_M -p
// 64 --cpu, with q6_Kx4's) the 8B model's prompt 1.06-1.14x; with one group (a lone last group, plain rows) 1.03-1.08x
// over four tokens at a time through one group's decoded super-block (plain
// q4_K, 64 tokens; with 4 tokens 0.97x, 8 tokens 1.03-1.07x). Before, the
// relaxed build's new loop had caught up with the dot-add build's old one
// (1.01x). Per token and sub-block that loop is 16 dot-adds, two i32x4.mul
// (two uops each) and two adds for 256 products: near the bound of the two
// vector ports that take vpdpbusd.
typedef struct { v128_t pa, pb, ia, ib; } q4_K_pair_state;

// Half h of sub-block sb (elements 16h .. 16h + 15) of one group, as
// 0..15: the sub-block's low nibbles for h = 0, its high for h = 1.
#define Q4_HALF(q, sb, h, w0, w1, w2, w3)                                            \
  do {                                                                           \
    const v128_t* v = (q) + 4 * (sb);                                              \
    w0 = v[0], w1 = v[1], w2 = v[2], w3 = v[3];                                    \
    if (h) {                                                                       \
      w0 = wasm_u16x8_shr(w0, 4), w1 = wasm_u16x8_shr(w1, 4);                      \
      w2 = wasm_u16x8_shr(w2, 4), w3 = wasm_u16x8_shr(w3, 4);                      \
    }                                                                              \
    w0 = wasm_v128_and(w0, m4), w1 = wasm_v128_and(w1, m4);                        \
    w2 = wasm_v128_and(w2, m4), w3 = wasm_v128_and(w3, m4);                        \
  } while (0)

// gn = 2: both groups; gn = 1: the first only (the dot-add build's lone
// last group and plain rows; the relaxed build takes q4_K_isums16 there).
static inline __attribute__((always_inline)) void q4_K_isums_tile(const q4_K_scales4* sa, const q4_K_scales4* sb4, const v128_t* qa,
                                                                  const v128_t* qb, int i, const block_q8_K* const* y, q4_K_acc* acca,
                                                                  q4_K_acc* accb, int nt, const int gn) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), zero = wasm_i32x4_const_splat(0);
  q4_K_pair_state st[MM_TOK];
  // the tokens' rows are a_row_bytes apart (kq_mul_mat), so one pointer steps through them
  const int stride = (int)((const uint8_t*)y[1] - (const uint8_t*)y[0]);
  const int tile = pass_tokens(stride);
  for (int t0 = 0; t0 < nt; t0 += tile) {
    q4_K_pair_state* const beg = st + t0;
    q4_K_pair_state* const end = st + (nt - t0 < tile ? nt : t0 + tile);
    const int8_t* const a0 = y[t0][i].qs;
    for (q4_K_pair_state* s = beg; s < end; s++) s->ia = s->ib = zero;
    NOUNROLL for (unsigned sb = 0; sb < 8; sb++) {
      v128_t wa0, wa1, wa2, wa3, wb0, wb1, wb2, wb3;
      Q4_HALF(qa, sb, 0, wa0, wa1, wa2, wa3);
      if (gn > 1) Q4_HALF(qb, sb, 0, wb0, wb1, wb2, wb3);
      const int8_t* a = a0 + 32 * sb;
      NOUNROLL for (q4_K_pair_state* s = beg; s < end; s++, a += stride) {
        OPAQUE(a);  // so a + 4 * k stays a load offset (relaxed.h)
        const v128_t b0 = SPLAT4(a), b1 = SPLAT4(a + 4), b2 = SPLAT4(a + 8), b3 = SPLAT4(a + 12);
        s->pa = Q4_DOT4_FIRST(b0, b1, b2, b3, wa0, wa1, wa2, wa3);
        if (gn > 1) s->pb = Q4_DOT4_FIRST(b0, b1, b2, b3, wb0, wb1, wb2, wb3);
      }
      Q4_HALF(qa, sb, 1, wa0, wa1, wa2, wa3);
      if (gn > 1) Q4_HALF(qb, sb, 1, wb0, wb1, wb2, wb3);
      const v128_t sca = sa->sc[sb], scb = gn > 1 ? sb4->sc[sb] : sca;
      a = a0 + 32 * sb + 16;
      NOUNROLL for (q4_K_pair_state* s = beg; s < end; s++, a += stride) {
        OPAQUE(a);
        const v128_t b0 = SPLAT4(a), b1 = SPLAT4(a + 4), b2 = SPLAT4(a + 8), b3 = SPLAT4(a + 12);
        const v128_t pa = Q4_DOT4(s->pa, b0, b1, b2, b3, wa0, wa1, wa2, wa3);
        const v128_t pb = gn > 1 ? Q4_DOT4(s->pb, b0, b1, b2, b3, wb0, wb1, wb2, wb3) : pa;
        s->ia = wasm_i32x4_add(s->ia, Q4_SCALE(pa, sca));
        if (gn > 1) s->ib = wasm_i32x4_add(s->ib, Q4_SCALE(pb, scb));
      }
    }
  }
  for (int t = 0; t < nt; t++) {
    acca[t].isum = st[t].ia;
    if (gn > 1) accb[t].isum = st[t].ib;
  }
}

#ifdef RELAXED_DOT_ADD
// The dot-add build's pairs of groups in batches of under 6 tokens
// (q4_K_isums_pair), where the register tile's loop overhead per token
// weighs: both groups' super-block decoded once to the stack (q4_K_unpack),
// then two tokens at a time through all of it, each activation broadcast
// serving both groups, PIN every second step. Measured when written
// (Node 24, --prefill --dot --repacked --old DIR, 64 tokens) against one
// group at a time: 1.10-1.11x with 2 tokens (3: 1.07x, 4: 1.00x; PIN every
// step 1.01x, every fourth 0.93x, none 0.89x). Against the register tile
// (q4_K_isums_tile, same bench, --tokens N): 2 tokens 1.14x, 4 tokens
// 1.04x, 6 tokens 0.99x, so the tile from 6 tokens on.
#define PAIR_T 2
#define PAIR_PIN 2  // PIN every second step
static inline void q4_K_isums_pair_few(const q4_K_scales4* sa, const q4_K_scales4* sb4, const v128_t* qa, const v128_t* qb, int i,
                                       const block_q8_K* const* y, q4_K_acc* acca, q4_K_acc* accb, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
  v128_t wq[2][64];
  q4_K_unpack(qa, wq[0]);
  q4_K_unpack(qb, wq[1]);
  v128_t pin[2 * PAIR_T];
  int t = 0;
  for (; t + PAIR_T <= nt; t += PAIR_T) {
    const int8_t* ap[PAIR_T];
    v128_t ia[PAIR_T], ib[PAIR_T];
    UNROLL for (int u = 0; u < PAIR_T; u++) ap[u] = y[t + u][i].qs, ia[u] = ib[u] = zero;
    const v128_t* wa = wq[0];
    const v128_t* wb = wq[1];
    NOUNROLL for (int sb = 0; sb < 8; sb++, wa += 8, wb += 8) {
      v128_t pa[PAIR_T], pb[PAIR_T];
      UNROLL for (int u = 0; u < PAIR_T; u++) pa[u] = pb[u] = zero;
      UNROLL for (unsigned k = 0; k < 8; k++) {
        const v128_t wka = wa[k], wkb = wb[k];
        UNROLL for (int u = 0; u < PAIR_T; u++) {
          const v128_t av = SPLAT4(ap[u] + 4 * k);
          pa[u] = DOTADD(av, wka, pa[u]);
          pb[u] = DOTADD(av, wkb, pb[u]);
        }
        if ((k % PAIR_PIN) == PAIR_PIN - 1) {
          UNROLL for (int u = 0; u < PAIR_T; u++) {
            PIN(pa[u], pin[2 * u]);
            PIN(pb[u], pin[2 * u + 1]);
          }
        }
      }
      const v128_t sca = sa->sc[sb], scb = sb4->sc[sb];
      UNROLL for (int u = 0; u < PAIR_T; u++) {
        ia[u] = wasm_i32x4_add(ia[u], Q4_SCALE(pa[u], sca));
        ib[u] = wasm_i32x4_add(ib[u], Q4_SCALE(pb[u], scb));
        ap[u] += 32;
        OPAQUE(ap[u]);  // so ap[u] + 4 * k is a load offset (see q4_K_isums16)
      }
    }
    UNROLL for (int u = 0; u < PAIR_T; u++) acca[t + u].isum = ia[u], accb[t + u].isum = ib[u];
  }
  for (; t < nt; t++) {
    const int8_t* a = y[t][i].qs;
    v128_t isa = zero, isb = zero;
    NOUNROLL for (int sb = 0; sb < 8; sb++, a += 32) {
      v128_t pa = zero, pb = zero;
      UNROLL for (unsigned k = 0; k < 8; k++) {
        const v128_t av = SPLAT4(a + 4 * k);
        pa = DOTADD(av, wq[0][8 * sb + k], pa);
        pb = DOTADD(av, wq[1][8 * sb + k], pb);
      }
      isa = wasm_i32x4_add(isa, Q4_SCALE(pa, sa->sc[sb]));
      isb = wasm_i32x4_add(isb, Q4_SCALE(pb, sb4->sc[sb]));
    }
    acca[t].isum = isa, accb[t].isum = isb;
  }
}
#endif

static inline void q4_K_isums_pair(const q4_K_scales4* sa, const q4_K_scales4* sb4, const v128_t* qa, const v128_t* qb, int i,
                                   const block_q8_K* const* y, q4_K_acc* acca, q4_K_acc* accb, int nt) {
#ifdef RELAXED_DOT_ADD
  if (nt < 6) {
    q4_K_isums_pair_few(sa, sb4, qa, qb, i, y, acca, accb, nt);
    return;
  }
#endif
  q4_K_isums_tile(sa, sb4, qa, qb, i, y, acca, accb, nt, 2);
}

// The float steps of super-block i for two groups in one pass over the
// tokens: the sums of 32 and ad broadcast once for both, straight from
// memory (a load each where q4_K_mins takes a shuffle). Measured after the
// relaxed build's q4_K_isums_pair (as there): 1.05x over a pass per group.
static inline void q4_K_finish_pair(const q4_K_scales4* s, const q4_K_scales4* s2, int i, const block_q8_K* const* y,
                                    const v128_t* const* b32, q4_K_acc* acc, q4_K_acc* acc2, int nt) {
  for (int t = 0; t < nt; t++) {
    const int32_t* bp = (const int32_t*)&b32[t][i];  // i32 lane p: the sums of sub-blocks 2p, 2p + 1
    const v128_t b0 = wasm_v128_load32_splat(bp), b1 = wasm_v128_load32_splat(bp + 1);
    const v128_t b2 = wasm_v128_load32_splat(bp + 2), b3 = wasm_v128_load32_splat(bp + 3);
    const v128_t ad = wasm_v128_load32_splat(&y[t][i].d);
    const v128_t mn = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(s->mp[0], b0), wasm_i32x4_dot_i16x8(s->mp[1], b1)),
                                     wasm_i32x4_add(wasm_i32x4_dot_i16x8(s->mp[2], b2), wasm_i32x4_dot_i16x8(s->mp[3], b3)));
    const v128_t mn2 = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(s2->mp[0], b0), wasm_i32x4_dot_i16x8(s2->mp[1], b1)),
                                      wasm_i32x4_add(wasm_i32x4_dot_i16x8(s2->mp[2], b2), wasm_i32x4_dot_i16x8(s2->mp[3], b3)));
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s->d, ad), wasm_f32x4_convert_i32x4(acc[t].isum)));
    acc[t].msum = wasm_f32x4_add(acc[t].msum, wasm_f32x4_mul(wasm_f32x4_mul(s->dmin, ad), wasm_f32x4_convert_i32x4(mn)));
    acc2[t].sum = wasm_f32x4_add(acc2[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s2->d, ad), wasm_f32x4_convert_i32x4(acc2[t].isum)));
    acc2[t].msum = wasm_f32x4_add(acc2[t].msum, wasm_f32x4_mul(wasm_f32x4_mul(s2->dmin, ad), wasm_f32x4_convert_i32x4(mn2)));
  }
}

// Super-block i of four rows against nt tokens (y[t] at the chunk's first
// super-block, b32[t] its sums of 32); q[c * 8 + g]: chunk c's transposed nibbles.
static inline void q4_K_superblock(const q4_K_scales4* s, const v128_t* q, int i, const block_q8_K* const* y,
                                   const v128_t* const* b32, q4_K_acc* acc, int nt) {
#ifdef RELAXED_DOT_ADD
  q4_K_isums_tile(s, s, q, q, i, y, acc, acc, nt, 1);
#else
  q4_K_isums16(s, q, i, y, acc, nt);
#endif
  for (int t = 0; t < nt; t++) {
    const v128_t mn = q4_K_mins(s->mp, b32[t][i]);
    const v128_t ad = wasm_f32x4_splat(y[t][i].d);
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s->d, ad), wasm_f32x4_convert_i32x4(acc[t].isum)));
    acc[t].msum = wasm_f32x4_add(acc[t].msum, wasm_f32x4_mul(wasm_f32x4_mul(s->dmin, ad), wasm_f32x4_convert_i32x4(mn)));
  }
}

// Decode of repacked rows (issue 19: Q4_K at Q4_0's speed per byte read).
// q4_Kx4_groups reads gn groups (four rows each, one per lane) at a time,
// in q4_0x4_groups' shape (legacy-relaxed.c): per 16-byte step of every
// group one load, its two nibble vectors against two activation broadcasts
// that serve all gn groups, and both dots into the group's one int16
// accumulator, since a byte's two nibbles are one sub-block's (block_q4_Kx4);
// PIN ends each step so V8 keeps the next step's loads behind it. After a
// sub-block (four steps; |lane| <= 8 * 2 * 128 * 15 < 2^15) one
// i32x4.dot_i16x8 applies the rows' scales. Each group is one pointer read
// front to back: its header at the super-block's start (the scales' eight
// vectors and d * ad go to the stack, the mins term straight into msum),
// then its sub-blocks. The exact int32 sums and the float steps per row are
// every other q4_K path's, so are the bits.
//
// Measured (issue 19; CPU time, medians of alternating rounds against the
// build before, Node 20, the shared 2-core Xeon at load 3-5): from memory
// (bench:kernels --memory, 32768x4096) 1.04-1.09x on one thread and
// 1.05-1.07x on two, about 0.95x q4_0x4's time per byte where the loop it
// replaced took 0.9x (a quiet moment: 12.6 GB/s, q4_0x4 12.6); in cache
// (4096x4096, --alternate --cpu) 1.11-1.15x, now 1.06-1.12x faster per
// byte than q4_0x4. The loop it replaced: spread quads whose steps held a
// sub-block pair's two int16 accumulators per group (the file's pairing: a
// byte's low nibble in sub-block 2c, its high in 2c + 1), eight of them for
// four groups, each group two pointers (header and nibbles). Steps on the way
// (each against the one before): this shape with eight groups 1.07-1.09x
// from memory on one thread, 1.04x on two, 0.99x in cache (V8's code: the
// prologue of eight groups took a third of the instructions; without it
// 1.3x in cache); d and dmin by bit moves instead of f16x4_at 1.05x; the
// pointers opaque 1.06x in cache, 1.02-1.06x from memory; the bit moves
// on i16 halves 1.05-1.2x in cache, 1.07x from memory. Tried and dropped:
// four spread groups (0.97x eight), six (0.92x; on the final loop 0.88x),
// ten, twelve, sixteen (0.91-1.0x; twelve on the final loop 1.03-1.05x on
// one thread, 0.96-0.97x on two); PIN every second or fourth step (0.88x,
// 0.57x); the int16 accumulators kept in their PIN slots (0.97x); the
// swizzles' indices loaded from the stack through relaxed_swizzle
// (0.99x). q4_Kx4's history before: spread quads over pairs 1.45-1.6x from
// memory, adjacent quads 1.15-1.25x; touching each stream's line ahead
// with a load (WebAssembly has no prefetch): nothing over quads, 6% slower
// in cache; dot-adds into int32 accumulators (the dot-add build): 0.80x in
// cache, 0.91x from memory, as each accumulator became a chain of dot-adds.
#ifndef Q4_SPREAD
#define Q4_SPREAD 8
#endif
#define Q4_GMAX (Q4_SPREAD > 4 ? Q4_SPREAD : 4)
// A group's d and dmin as f32, exactly f16x4_at's: when all eight are
// normal f16s, their bits moved into place with the exponent rebased, on
// the eight at once as i16 halves of the f32s (eight ops, where two
// f16x4_to_f32x4 take 34 and nine constants); otherwise (zero, subnormal,
// inf, nan) f16x4_at. The same moves on i32 lanes after u32 extends: 1.05-
// 1.2x slower in cache (clang turned the extends into byte shuffles whose
// masks V8 rebuilds at every use).
static inline void q4_Kx4_dd(const block_q4_Kx4* g, v128_t* d, v128_t* dmin) {
  const v128_t h = LOAD(g->d);  // d[4], dmin[4]
  const v128_t e = wasm_v128_and(h, wasm_i16x8_const_splat(0x7C00));
  if (__builtin_expect(wasm_v128_any_true(wasm_v128_or(wasm_i16x8_eq(e, wasm_i16x8_const_splat(0)),
                                                        wasm_i16x8_eq(e, wasm_i16x8_const_splat(0x7C00)))), 0)) {
    *d = f16x4_at(g->d), *dmin = f16x4_at(g->dmin);
    return;
  }
  // an f32's top half: the sign, the exponent rebased by 112, the mantissa's top 7 bits; its
  // bottom half: the mantissa's low 3 bits at 13..15; then the halves interleaved
  const v128_t top = wasm_v128_or(wasm_v128_and(h, wasm_i16x8_const_splat((int16_t)0x8000)),
                                  wasm_i16x8_add(wasm_u16x8_shr(wasm_v128_and(h, wasm_i16x8_const_splat(0x7FFF)), 3),
                                                 wasm_i16x8_const_splat(112 << 7)));
  const v128_t bottom = wasm_i16x8_shl(h, 13);
  *d = wasm_i16x8_shuffle(bottom, top, 0, 8, 1, 9, 2, 10, 3, 11);
  *dmin = wasm_i16x8_shuffle(bottom, top, 4, 12, 5, 13, 6, 14, 7, 15);
}

typedef struct {
  v128_t sc[8];  // sub-block k: i16 lanes 2j, 2j+1 = row j's scale
  v128_t dd;     // d * ad per row
} q4_Kx4_head;

// n iterations, the first group of iteration it at row r + step * it, its gn
// groups `stride` rows apart (step 4, stride a part of the thread's rows:
// spread, each group a stream of its own from memory).
static inline __attribute__((always_inline)) void q4_Kx4_groups(const uint8_t* w, int row_bytes, const block_q8_K* y,
                                                                const v128_t* b32, float* out, int nb, int r, int n, int step,
                                                                int stride, int r0, int r1, int first, const int gn) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  v128_t pins[Q4_GMAX];
  q4_Kx4_head hd[Q4_GMAX];
  for (int it = 0; it < n; it++, r += step) {
    const uint8_t* p[Q4_GMAX];
    UNROLL for (int k = 0; k < gn; k++) p[k] = w + (size_t)(r + stride * k) * row_bytes;
    for (int c0 = 0; c0 < nb; c0 += KB) {
      v128_t sum[Q4_GMAX], msum[Q4_GMAX];
      UNROLL for (int k = 0; k < gn; k++) sum[k] = msum[k] = wasm_f32x4_const_splat(0.0f);
      for (int i = c0; i < (nb - c0 < KB ? nb : c0 + KB); i++) {
        const v128_t ad = wasm_f32x4_splat(y[i].d);
        UNROLL for (int k = 0; k < gn; k++) {
          const block_q4_Kx4* g = (const block_q4_Kx4*)p[k];
          v128_t sc0, sc1, mn0, mn1, d, dmin;
          q4_Kx4_fields(g, &sc0, &sc1, &mn0, &mn1);
          hd[k].sc[0] = wasm_i8x16_swizzle(sc0, SC_IDX(0)), hd[k].sc[1] = wasm_i8x16_swizzle(sc0, SC_IDX(4));
          hd[k].sc[2] = wasm_i8x16_swizzle(sc0, SC_IDX(8)), hd[k].sc[3] = wasm_i8x16_swizzle(sc0, SC_IDX(12));
          hd[k].sc[4] = wasm_i8x16_swizzle(sc1, SC_IDX(0)), hd[k].sc[5] = wasm_i8x16_swizzle(sc1, SC_IDX(4));
          hd[k].sc[6] = wasm_i8x16_swizzle(sc1, SC_IDX(8)), hd[k].sc[7] = wasm_i8x16_swizzle(sc1, SC_IDX(12));
          const v128_t mp[4] = {wasm_i8x16_swizzle(mn0, MP_IDX(0)), wasm_i8x16_swizzle(mn0, MP_IDX(8)),
                                wasm_i8x16_swizzle(mn1, MP_IDX(0)), wasm_i8x16_swizzle(mn1, MP_IDX(8))};
          const v128_t mn = q4_K_mins(mp, b32[i]);
          q4_Kx4_dd(g, &d, &dmin);
          msum[k] = wasm_f32x4_add(msum[k], wasm_f32x4_mul(wasm_f32x4_mul(dmin, ad), wasm_f32x4_convert_i32x4(mn)));
          hd[k].dd = wasm_f32x4_mul(d, ad);
          p[k] += offsetof(block_q4_Kx4, qs);
        }
        v128_t isum[Q4_GMAX];
        UNROLL for (int k = 0; k < gn; k++) isum[k] = wasm_i32x4_const_splat(0);
        const int8_t* a = y[i].qs;
        NOUNROLL for (unsigned sb = 0; sb < 8; sb++, a += 32) {
          // opaque to clang, so p[k] + 16 * m and a + 4 * m stay load offsets (relaxed.h)
          OPAQUE(a);
          UNROLL for (int k = 0; k < gn; k++) OPAQUE(p[k]);
          v128_t l[Q4_GMAX];
          UNROLL for (int k = 0; k < gn; k++) l[k] = wasm_i16x8_const_splat(0);
          UNROLL for (unsigned m = 0; m < 4; m++) {
            const v128_t s = SPLAT4(a + 4 * m), t = SPLAT4(a + 16 + 4 * m);
            v128_t v[Q4_GMAX];
            UNROLL for (int k = 0; k < gn; k++) v[k] = LOAD(p[k] + 16 * m);
            UNROLL for (int k = 0; k < gn; k++)
              l[k] = wasm_i16x8_add(l[k], wasm_i16x8_add(RDOT(s, wasm_v128_and(v[k], m4)),
                                                         RDOT(t, wasm_v128_and(wasm_u16x8_shr(v[k], 4), m4))));
            UNROLL for (int k = 0; k < gn; k++) PIN(l[k], pins[k]);
          }
          UNROLL for (int k = 0; k < gn; k++) {
            isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(l[k], hd[k].sc[sb]));
            p[k] += 64;
          }
        }
        UNROLL for (int k = 0; k < gn; k++) sum[k] = wasm_f32x4_add(sum[k], wasm_f32x4_mul(hd[k].dd, wasm_f32x4_convert_i32x4(isum[k])));
      }
      UNROLL for (int k = 0; k < gn; k++) store4(wasm_f32x4_sub(sum[k], msum[k]), out, r + stride * k, r0, r1, first && c0 == 0);
    }
  }
}

// Decode of the thread's q4_Kx4 groups: Q4_SPREAD at a time, each reading its
// own part of the thread's rows, then four side by side, then one. The groups
// that touch [r0, r1) are counted from r0 & ~3; store4 keeps only the thread's rows.
static void q4_Kx4_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, const v128_t* b32, float* out, int nb,
                        int r0, int r1, int first) {
  int r = r0 & ~3;
  const int part = (r1 - r + 3) / 4 / Q4_SPREAD;  // groups per part
  q4_Kx4_groups(w, row_bytes, y, b32, out, nb, r, part, 4, 4 * part, r0, r1, first, Q4_SPREAD);
  r += 4 * Q4_SPREAD * part;
  const int quads = (r1 - r + 3) / 4 / 4;
  q4_Kx4_groups(w, row_bytes, y, b32, out, nb, r, quads, 16, 4, r0, r1, first, 4);
  r += 16 * quads;
  q4_Kx4_groups(w, row_bytes, y, b32, out, nb, r, (r1 - r + 3) / 4, 4, 4, r0, r1, first, 1);
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

// One token: the decode paths.
KQ_HOOK void q4_K_one_token(const uint8_t* wc, int row_bytes, const block_q8_K* y, const v128_t* b32, float* o, int nb, int r0,
                            int r1, int first, int x4) {
  if (x4) q4_Kx4_rows(wc, row_bytes, y, b32, o, nb, r0, r1, first);
  else q4_K_rows(wc, row_bytes, y, b32, o, nb, r0, r1, first);
}

// Prefill, one q4_Kx4 group (its quants as stored).
KQ_HOOK void q4_Kx4_group(const uint8_t* gp, int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc, int nt) {
  const block_q4_Kx4* g = (const block_q4_Kx4*)gp;
  q4_K_scales4 s;
  for (int i = 0; i < nb; i++) {
    q4_K_scales_x4(g + i, &s);
    q4_K_superblock(&s, (const v128_t*)g[i].qs, i, y, b32, acc, nt);
  }
}

// Prefill, two q4_Kx4 groups at a time (q4_K_isums_pair).
KQ_HOOK void q4_Kx4_pair(const uint8_t* gp, const uint8_t* hp, int nb, const block_q8_K* const* y, const v128_t* const* b32,
                         kq_acc* acc, kq_acc* acc2, int nt) {
  const block_q4_Kx4* g = (const block_q4_Kx4*)gp;
  const block_q4_Kx4* h = (const block_q4_Kx4*)hp;
  for (int i = 0; i < nb; i++) {
    q4_K_scales4 s, s2;
    q4_K_scales_x4(g + i, &s);
    q4_K_scales_x4(h + i, &s2);
    q4_K_isums_pair(&s, &s2, (const v128_t*)g[i].qs, (const v128_t*)h[i].qs, i, y, acc, acc2, nt);
    q4_K_finish_pair(&s, &s2, i, y, b32, acc, acc2, nt);
  }
}

// Prefill, four plain rows: each super-block's nibbles paired and transposed as q4_Kx4 holds them.
KQ_HOOK void q4_K_group(const uint8_t* const xp[4], int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc,
                        int nt, int layout) {
  (void)layout;
  const block_q4_K* x[4] = KQ_ROWS(block_q4_K, xp);
  q4_K_scales4 s;
  for (int i = 0; i < nb; i++) {
    v128_t q[32];
    q4_K_scales(x, i, &s);
    for (int c = 0; c < 4; c++) {  // chunk c's two sub-blocks of each row, paired as q4_Kx4's (q + 4 * sb)
      v128_t lo[4], hi[4];
      for (int j = 0; j < 4; j++) q4_K_pair_nibbles(LOAD(x[j][i].qs + 32 * c), LOAD(x[j][i].qs + 32 * c + 16), &lo[j], &hi[j]);
      transpose4(lo[0], lo[1], lo[2], lo[3], q + 8 * c);
      transpose4(hi[0], hi[1], hi[2], hi[3], q + 8 * c + 4);
    }
    q4_K_superblock(&s, q, i, y, b32, acc, nt);
  }
}

static const kq_type q4_K_loop = {.block = sizeof(block_q4_K), .block_x4 = sizeof(block_q4_Kx4), .mins = 1};

// x4: 0 plain rows, 1 q4_Kx4 (kquant-loop.h's loop). One token over x4
// groups: the column chunks inside the decode kernels instead (each group's
// row read front to back, not a chunk of every group and then the next
// chunk: 1.1-1.2x from memory on ffn_down's 14336 columns); each chunk is
// still its own sum, added to out in chunk order, so the bits are the same.
static inline void q4_K_mul_mat(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                int n, int n_tok, int r0, int r1, int x4) {
  if (x4 && n_tok == 1 && n / QK_K <= MM_TOK * KB) {
    // decode: the x4 kernels take every chunk of a group before the next
    // group, so each stream reads its groups' bytes front to back
    v128_t bs[MM_TOK * KB];
    bsums32_q8_K((const block_q8_K*)a, bs, n / QK_K);
    q4_Kx4_rows((const uint8_t*)w, row_bytes, (const block_q8_K*)a, bs, out, n / QK_K, r0, r1, 1);
    return;
  }
  kq_mul_mat(&q4_K_loop, bsums32_q8_K, q4_K_one_token, q4_Kx4_group, q4_K_group, q4_Kx4_pair, w, row_bytes, a, a_row_bytes,
             out, out_stride, n, n_tok, r0, r1, x4, x4);
}

RELAXED_ENTRIES(q4_K, q4_K_mul_mat, 0)
RELAXED_ENTRIES(q4_Kx4, q4_K_mul_mat, 1)

RELAXED_VEC_DOT(q4_K, q8_K, q4_K_mul_mat)

// Rewrites n_rows (a multiple of 4) plain q4_K rows as q4_Kx4 groups, in
// place: group G takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_q4_Kx4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_q4_K);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    block_q4_Kx4* g = (block_q4_Kx4*)base;
    for (int i = 0; i < nb; i++) {
      for (int j = 0; j < 16; j++) g[i].ml[j] = 0;
      const block_q4_K* x[4];
      for (int j = 0; j < 4; j++) {
        x[j] = (const block_q4_K*)((const uint8_t*)scratch + (size_t)j * row_bytes) + i;
        g[i].d[j] = x[j]->d;
        g[i].dmin[j] = x[j]->dmin;
        repack_kx4_scales_mins(x[j]->scales, j, g[i].sm, g[i].ml);
      }
      // Sub-block sb = 2c + h of row j, paired (q4_K_pair_nibbles), holds its elements 4m..4m+3
      // (and 16 + 4m..) in 32-bit lane m; qs[sb][m] wants lane m of rows 0..3: a 4x4 transpose
      // of 32-bit lanes. (A byte-by-byte loop here made the 8B's load 2.0x its read; bound 1.5x.)
      for (int c = 0; c < 4; c++) {
        v128_t lo[4], hi[4];
        for (int j = 0; j < 4; j++) q4_K_pair_nibbles(LOAD(x[j]->qs + 32 * c), LOAD(x[j]->qs + 32 * c + 16), &lo[j], &hi[j]);
        for (int h = 0; h < 2; h++) {
          const v128_t* r = h ? hi : lo;
          v128_t t[4];
          transpose4(r[0], r[1], r[2], r[3], t);
          for (int m = 0; m < 4; m++) wasm_v128_store(g[i].qs[2 * c + h][m], t[m]);
        }
      }
    }
  }
}
