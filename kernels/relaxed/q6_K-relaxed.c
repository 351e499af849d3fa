// Q6_K with relaxed SIMD: prefill four rows at a time (relaxed.h), decode
// one row at a time with the same float steps per row, so a batch gives the
// same bits as token by token.
//
// q6_Kp is Q6_K with its 192 quant bytes repacked at load (runtime/repack.ts,
// repack_q6_Kp): per 64 elements three vectors, each byte holding one
// quant's six bits and two bits of a fourth quant, which takes 11 ops to
// decode instead of 17 (decode 1.25 -> 1.1 ms per 4096x4096). Scales and d
// stay where they were; results are bit-identical to the file's layout.
//
// q6_Kx4 (block_q6_Kx4 below) groups four rows like q4_Kx4, for the
// matrices whose rows are a multiple of 4 (runtime/repack.ts): decode
// applies two sub-blocks' scales per i32x4.dot_i16x8 against an activation
// reordered once per token, prefill unmixes the quants and needs no
// transposes.
//
// Decode per byte against q4_0x4 (issue 19; CPU time, medians of
// alternating rounds on the shared 2-core Xeon): the x4 layout before this
// one (scales in a block tail, four spread groups) read 0.7-0.85x Q4_0's
// GB/s from memory. What the V8 code showed (node --print-wasm-code): the
// loop is bound by vector ALU ops, about 23 per 52 bytes, the same per byte
// as q4_0x4's loop, so the gap from memory was streams, not instructions.
// - Scales beside their quants (one pointer per stream instead of two) and
//   eight spread groups: 1.27x from memory (1 thread), 1.2-1.4x (2 threads),
//   1.2-1.3x in cache. Four spread groups on this layout: 1.22x from memory,
//   1.16x in cache, so eight (six or eight on the old layout's two pointers
//   per stream had measured no better). On this layout six read 0.92x
//   eight from memory, twelve and sixteen 0.99-1.04x.
// - Two sub-blocks per dot (this layout): the scales' unpack per sub-block
//   and the offset's two loads and unpack per pair go away: 1.05x in
//   cache, 1.04-1.07x from memory.
// Tried and dropped: two steps per loop iteration (0.98x); the accumulators
// kept in their PIN slots instead of registers V8 spills anyway, the group
// pointers in a stack array, and opaque pointers (an empty asm) so clang
// folds the quant loads' constant offsets instead of adding them (V8 had a
// lea per load): all within 1-3% in cache and from memory, as a loop bound
// by vector ops would be. Each group's two halves in a row sharing one scale
// load (the activation broadcasts reloaded per group, or eight hoisted per
// unit): 0.97x in cache, even from memory.
#include "kquant-loop.h"

// Half h of 128 elements: ql[64h + l] holds element 128h + l (low nibble) and
// 128h + 64 + l (high), ql[64h + 32 + l] elements 128h + 32 + l and
// 128h + 96 + l, qh[32h + l] their top two bits in that order from bit 0.
// The quants are used as 0..63 (q + 32, so the i7 operand is exact) and
// 32 * sum(scale * bsum) is taken away per super-block.

// Sixteen elements 128h + l0 + 32k .. +15 (k = 0..3) of one row, as 0..63.
__attribute__((always_inline)) static inline void q6_K_decode(const block_q6_K* x, int h, int l0, v128_t q[4], int packed) {
  if (packed) {
    // bytes 48j + 16k (k < 3): quant k | two bits of quant 3 (bits 0-1, 2-3, 4-5 in k order) << 6
    const uint8_t* p = (const uint8_t*)x + 48 * (2 * h + l0 / 16);  // ql and qh: the block's first 192 bytes
    const v128_t m6 = wasm_i8x16_const_splat(0x3F);
    const v128_t a = LOAD(p), b = LOAD(p + 16), c = LOAD(p + 32);
    q[0] = wasm_v128_and(a, m6), q[1] = wasm_v128_and(b, m6), q[2] = wasm_v128_and(c, m6);
    // the top pairs gathered with the one mask, as q6_Kx4_decode (below) explains
    v128_t t = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(a, m6), 2), wasm_v128_andnot(b, m6));
    t = wasm_v128_or(wasm_u16x8_shr(t, 2), wasm_v128_andnot(c, m6));
    q[3] = wasm_u16x8_shr(t, 2);
    return;
  }
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), m6 = wasm_i8x16_const_splat(0x30);
  const v128_t v1 = LOAD(x->ql + 64 * h + l0), v2 = LOAD(x->ql + 64 * h + 32 + l0);
  const v128_t hh = LOAD(x->qh + 32 * h + l0);
  q[0] = wasm_v128_or(wasm_v128_and(v1, m4), wasm_v128_and(wasm_i16x8_shl(hh, 4), m6));
  q[1] = wasm_v128_or(wasm_v128_and(v2, m4), wasm_v128_and(wasm_i16x8_shl(hh, 2), m6));
  q[2] = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v1, 4), m4), wasm_v128_and(hh, m6));
  q[3] = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v2, 4), m4), wasm_v128_and(wasm_u16x8_shr(hh, 2), m6));
}

// Decode: one row at a time; per super-block the integer sums are reduced
// to one int32 before sum += (d * ad) * isum, the group kernel's float step
// per lane, so both give the same bits. Specialised per layout: a runtime
// `packed` test cost a branch per step (1.07x). Tried and dropped: the four
// steps unrolled (clang then turns the scales' broadcast loads into two
// shuffles each, even behind a barrier: 0.6x), and d through f16x4_to_f32x4
// instead of fp16_to_fp32 (0.4x here, for reasons not found).
__attribute__((always_inline)) static inline void q6_K_rows_(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out,
                                                             int nb, int r0, int r1, int first, int packed) {
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
      const int8_t* a = y[i].qs;
      NOUNROLL for (int j = 0; j < 4; j++) {
        const int h = j >> 1, l0 = 16 * (j & 1);
        v128_t q[4];
        q6_K_decode(x, h, l0, q, packed);
        // scales of elements 128h + l0 + {0, 32, 64, 96}: indices 8h + l0/16 + {0, 2, 4, 6}
        const int16_t* sc = sc16 + 8 * h + l0 / 16;
        const int8_t* ap = a + 128 * h + l0;
        const v128_t p01 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(ap), q[0]), wasm_v128_load16_splat(sc)),
                                          wasm_i32x4_dot_i16x8(RDOT(LOAD(ap + 32), q[1]), wasm_v128_load16_splat(sc + 2)));
        const v128_t p23 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(ap + 64), q[2]), wasm_v128_load16_splat(sc + 4)),
                                          wasm_i32x4_dot_i16x8(RDOT(LOAD(ap + 96), q[3]), wasm_v128_load16_splat(sc + 6)));
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

static void q6_K_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r0, int r1, int first,
                      int packed) {
  if (packed) q6_K_rows_(w, row_bytes, y, out, nb, r0, r1, first, 1);
  else q6_K_rows_(w, row_bytes, y, out, nb, r0, r1, first, 0);
}

// Prefill: four rows at a time, one row per lane, as q4_K's group kernel.
// A sub-block is sixteen elements with one int8 scale; two byte dots fill
// int16 (|lane| <= 2 * 2 * 128 * 63 < 2^15) before i32x4.dot_i16x8 applies
// the rows' scales ([s0 s0 s1 s1 s2 s2 s3 s3]).
typedef struct {
#ifdef RELAXED_DOT_ADD
  v128_t sc[16];  // sub-block k: i32 lane j = row j's scale
#else
  v128_t sc[16];  // sub-block k: i16 lanes 2j, 2j+1 = row j's scale
#endif
  v128_t sp[8];   // sub-blocks 2p, 2p+1: i16 lanes 2j, 2j+1 = row j's two scales
  v128_t d;       // f32 per row
} q6_K_scales4;

// i16 lanes from bytes of w, each sign-extended: lane 2j <- byte a + j, lane 2j+1 <- byte b + j.
#define Q6_LANES(w, a, b) wasm_i16x8_shr(wasm_i8x16_shuffle(w, w, a, a, b, b, a + 1, a + 1, b + 1, b + 1, \
                                                           a + 2, a + 2, b + 2, b + 2, a + 3, a + 3, b + 3, b + 3), 8)

#ifdef RELAXED_DOT_ADD
// i32 lanes from bytes of w, sign-extended: lane j <- byte a + j (in the lane's top byte, shifted down)
#define Q6_LANES32(w, a) wasm_i32x4_shr(wasm_i8x16_shuffle(w, w, a, a, a, a, a + 1, a + 1, a + 1, a + 1, \
                                                           a + 2, a + 2, a + 2, a + 2, a + 3, a + 3, a + 3, a + 3), 24)
#endif

// From w[g], byte 4k + j = row j's scale 4g + k (q6_K_scales interleaves four plain rows' so).
static inline void q6_K_scales_w(const v128_t w[4], q6_K_scales4* s) {
  UNROLL for (int g = 0; g < 4; g++) {
#ifdef RELAXED_DOT_ADD
    s->sc[4 * g] = Q6_LANES32(w[g], 0), s->sc[4 * g + 1] = Q6_LANES32(w[g], 4);
    s->sc[4 * g + 2] = Q6_LANES32(w[g], 8), s->sc[4 * g + 3] = Q6_LANES32(w[g], 12);
#else
    s->sc[4 * g] = Q6_LANES(w[g], 0, 0), s->sc[4 * g + 1] = Q6_LANES(w[g], 4, 4);
    s->sc[4 * g + 2] = Q6_LANES(w[g], 8, 8), s->sc[4 * g + 3] = Q6_LANES(w[g], 12, 12);
#endif
    s->sp[2 * g] = Q6_LANES(w[g], 0, 4), s->sp[2 * g + 1] = Q6_LANES(w[g], 8, 12);
  }
}

// The same from four plain rows: their scales interleaved by shuffles.
static inline void q6_K_scales(const block_q6_K* const x[4], int i, q6_K_scales4* s) {
  const v128_t s0 = LOAD(x[0][i].scales), s1 = LOAD(x[1][i].scales), s2 = LOAD(x[2][i].scales), s3 = LOAD(x[3][i].scales);
  const v128_t a01 = wasm_i8x16_shuffle(s0, s1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t a23 = wasm_i8x16_shuffle(s2, s3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t b01 = wasm_i8x16_shuffle(s0, s1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t b23 = wasm_i8x16_shuffle(s2, s3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t w[4] = {wasm_i16x8_shuffle(a01, a23, 0, 8, 1, 9, 2, 10, 3, 11), wasm_i16x8_shuffle(a01, a23, 4, 12, 5, 13, 6, 14, 7, 15),
                       wasm_i16x8_shuffle(b01, b23, 0, 8, 1, 9, 2, 10, 3, 11), wasm_i16x8_shuffle(b01, b23, 4, 12, 5, 13, 6, 14, 7, 15)};
  q6_K_scales_w(w, s);
  s->d = f16x4_to_f32x4(ROWS4_F16(x, i, d));
}

#ifndef RELAXED_DOT_ADD
// Four rows' -32 offset for one token: sum over sub-blocks of scale * bsum,
// row j in lane j (bsums pairs 2p, 2p+1 are i32 lane p % 4 of b0 (p < 4) or b1).
static inline v128_t q6_K_offset(const v128_t* sp, const block_q8_K* yb) {
  const v128_t b0 = LOAD(yb->bsums), b1 = LOAD(yb->bsums + 8);
  const v128_t off = wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(sp[0], wasm_i32x4_shuffle(b0, b0, 0, 0, 0, 0)),
                     wasm_i32x4_dot_i16x8(sp[1], wasm_i32x4_shuffle(b0, b0, 1, 1, 1, 1))),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(sp[2], wasm_i32x4_shuffle(b0, b0, 2, 2, 2, 2)),
                     wasm_i32x4_dot_i16x8(sp[3], wasm_i32x4_shuffle(b0, b0, 3, 3, 3, 3))));
  return wasm_i32x4_add(off, wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(sp[4], wasm_i32x4_shuffle(b1, b1, 0, 0, 0, 0)),
                     wasm_i32x4_dot_i16x8(sp[5], wasm_i32x4_shuffle(b1, b1, 1, 1, 1, 1))),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(sp[6], wasm_i32x4_shuffle(b1, b1, 2, 2, 2, 2)),
                     wasm_i32x4_dot_i16x8(sp[7], wasm_i32x4_shuffle(b1, b1, 3, 3, 3, 3)))));
}
#endif

// q6_Kx4: four rows' super-block, repacked at load (repack_q6_Kx4), as
// eight units of two sub-blocks (2u, 2u + 1: elements 32u .. 32u + 31):
// first the rows' scales in pairs (bytes 2j, 2j + 1: row j's scales of
// 2u and 2u + 1), which one sign-extending load turns into the i16 lanes
// 2j, 2j + 1 that i32x4.dot_i16x8 wants; then eight "mixed" vectors of
// quants (0..63, q + 32) as q2_Kx4/q3_Kx4 mix them: in vector i, bytes
// 4j, 4j + 1 are row j's elements 2i, 2i + 1 of sub-block 2u and bytes
// 4j + 2, 4j + 3 the same of 2u + 1, so a byte dot against the activation
// reordered once per token (act_pairs_q8_K) leaves sub-block 2u's sums in
// lanes 2j and 2u + 1's in 2j + 1 and one i32x4.dot_i16x8 applies both
// scales. Each half (vectors 4h .. 4h + 3) is stored in 48 bytes: three
// vectors of one quant per byte whose top two bits hold two bits of the
// fourth vector's quant (bits 0-1, 2-3, 4-5 in vector order). Then the
// rows' d. A unit's scales sit just before its quants, so a decode stream
// is one pointer read front to back.
typedef struct {
  int8_t sc[8];
  uint8_t q[2][48];
} q6_Kx4_unit;
typedef struct {
  q6_Kx4_unit u[8];
  uint16_t d[4];
} block_q6_Kx4;
_Static_assert(sizeof(block_q6_Kx4) == 4 * sizeof(block_q6_K), "a group takes four rows' bytes");

// A half unit's four mixed vectors from its 48 bytes (g[e]: vector e). The
// fourth from the three top bit pairs, gathered with one mask (andnot of
// 0x3F keeps them): each u16 shift right by 2 moves every byte's top pair
// down within its byte, so nothing crosses into the next byte.
__attribute__((always_inline)) static inline void q6_Kx4_decode(const uint8_t* p, v128_t g[4]) {
  const v128_t m6 = wasm_i8x16_const_splat(0x3F);
  const v128_t a = LOAD(p), b = LOAD(p + 16), c = LOAD(p + 32);
  g[0] = wasm_v128_and(a, m6), g[1] = wasm_v128_and(b, m6), g[2] = wasm_v128_and(c, m6);
  v128_t t = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(a, m6), 2), wasm_v128_andnot(b, m6));
  t = wasm_v128_or(wasm_u16x8_shr(t, 2), wasm_v128_andnot(c, m6));
  g[3] = wasm_u16x8_shr(t, 2);
}

typedef kq_acc q6_K_acc;

// A super-block's float step per (row, token), after its exact int32 sums.
static inline void q6_K_finish(const q6_K_scales4* s, int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
  for (int t = 0; t < nt; t++) {
#ifdef RELAXED_DOT_ADD
    const v128_t isum = acc[t].isum;  // the -32 offset already in (q6_K_neg32)
#else
    const v128_t isum = wasm_i32x4_sub(acc[t].isum, wasm_i32x4_shl(q6_K_offset(s->sp, &y[t][i]), 5));
#endif
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s->d, wasm_f32x4_splat(y[t][i].d)), wasm_f32x4_convert_i32x4(isum)));
  }
}

#ifdef RELAXED_DOT_ADD
// The dot-add build's prefill sums for a lone last group and plain rows:
// sub-block k's four weight vectors decoded once per super-block at wq[4k]
// (0..63, transpose4's order), then four tokens at a time over all sixteen
// sub-blocks, each weight vector loaded once for the four, each sub-block's
// exact sum per row from four dot-adds (|lane| <= 16 * 128 * 63) times the
// rows' i32 scales, the four sums PINned every second step (relaxed.h: so
// V8 keeps the next steps' broadcasts behind them; every step or every
// fourth was slower, none much slower). Measured (bench:kernels --prefill
// --dot, Node 24, CPU time) against the relaxed build's loops then: q6_Kx4
// 1.10-1.15x, plain q6_K 1.21-1.23x, the per-token chain in the i16 path's
// loop order 1.07x. Q4_K's lone group and plain rows now take its register
// tile with one group (q4_K_isums_tile); here that tile with one group ran
// 0.94-0.95x this loop on plain q6_K rows (64 tokens; 4 tokens 0.88x): per
// four dot-adds it takes four broadcasts, an offset load and an i32x4.mul,
// so this loop stays.
// -32 * bsum of each sub-block of a q8_K super-block as int32, o[k] for
// sub-block k: each sub-block's dot-adds start from it, so the sum times the
// scale is the sub-block's whole term (its -32 offset included) and no
// per-token offset dots remain. Two i32x4.dot_i16x8 per eight bsums (against
// -32 in even or odd i16 lanes) and two shuffles back into order.
static inline void q6_K_neg32(const block_q8_K* yb, int32_t* o) {
  const v128_t ce = wasm_i32x4_const_splat(0x0000FFE0), co = wasm_i32x4_const_splat((int32_t)0xFFE00000u);
  UNROLL for (int h = 0; h < 2; h++) {
    const v128_t v = LOAD(yb->bsums + 8 * h);
    const v128_t e = wasm_i32x4_dot_i16x8(v, ce), od = wasm_i32x4_dot_i16x8(v, co);
    wasm_v128_store(o + 8 * h, wasm_i32x4_shuffle(e, od, 0, 4, 1, 5));
    wasm_v128_store(o + 8 * h + 4, wasm_i32x4_shuffle(e, od, 2, 6, 3, 7));
  }
}

static inline void q6_K_isums(const q6_K_scales4* s, const v128_t* wq, int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
  v128_t pin[4];
  int32_t off[4][16] __attribute__((aligned(16)));
  int t = 0;
  for (; t + 4 <= nt; t += 4) {
    UNROLL for (int u = 0; u < 4; u++) q6_K_neg32(&y[t + u][i], off[u]);
    const int32_t* o0 = off[0];
    const int8_t* a0 = y[t][i].qs;
    const int8_t* a1 = y[t + 1][i].qs;
    const int8_t* a2 = y[t + 2][i].qs;
    const int8_t* a3 = y[t + 3][i].qs;
    const v128_t* w = wq;
    const v128_t* sc = s->sc;
    v128_t i0 = zero, i1 = zero, i2 = zero, i3 = zero;
    NOUNROLL for (int sb = 0; sb < 16; sb++, a0 += 16, a1 += 16, a2 += 16, a3 += 16, w += 4, sc++) {
      v128_t p0 = wasm_v128_load32_splat(o0), p1 = wasm_v128_load32_splat(o0 + 16);
      v128_t p2 = wasm_v128_load32_splat(o0 + 32), p3 = wasm_v128_load32_splat(o0 + 48);
      o0++;
      OPAQUE4(a0, a1, a2, a3);  // so a0 + 4 * k is a load offset (see q6_K_isums16)
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
      const v128_t scv = *sc;
      i0 = wasm_i32x4_add(i0, wasm_i32x4_mul(p0, scv));
      i1 = wasm_i32x4_add(i1, wasm_i32x4_mul(p1, scv));
      i2 = wasm_i32x4_add(i2, wasm_i32x4_mul(p2, scv));
      i3 = wasm_i32x4_add(i3, wasm_i32x4_mul(p3, scv));
    }
    acc[t].isum = i0, acc[t + 1].isum = i1, acc[t + 2].isum = i2, acc[t + 3].isum = i3;
  }
  for (; t < nt; t++) {
    const int8_t* a = y[t][i].qs;
    v128_t isum = zero;
    q6_K_neg32(&y[t][i], off[0]);
    NOUNROLL for (int sb = 0; sb < 16; sb++, a += 16) {
      v128_t p = wasm_v128_load32_splat(off[0] + sb);
      UNROLL for (unsigned k = 0; k < 4; k++) p = DOTADD(SPLAT4(a + 4 * k), wq[4 * sb + k], p);
      isum = wasm_i32x4_add(isum, wasm_i32x4_mul(p, s->sc[sb]));
    }
    acc[t].isum = isum;
  }
}
#endif

#ifndef RELAXED_DOT_ADD
// The relaxed build's prefill sums in the same structure: weights decoded
// once per super-block into wq, four tokens at a time over its sixteen
// sub-blocks. A sub-block's four byte dots cannot share one int16 sum
// (|lane| <= 4 * 2 * 128 * 63 > 2^15), so two pairs, each applied to the
// rows' scales by an i32x4.dot_i16x8, as before.
// Measured as q4_K_isums16 (q4_K-relaxed.c), q6_Kx4 against the build
// before: PIN of the four int32 sums after each pair 1.09-1.13x (after each
// sub-block 0.96-1.01x, none 1.00x); with the activation pointers opaque
// 1.21-1.24x (none 1.14x). Two groups at a time in this loop's shape (the
// dot-add build's q6_Kx4_superblock_pair) 0.91-1.00x here (2-4 tokens); the
// relaxed build's own q6_Kx4_superblock_pair (weights in registers) now
// takes pairs of groups, this loop a lone last group. Plain q6_K rows keep
// the older loop (sub-blocks outer, tokens inner).
static inline void q6_K_isums16(const q6_K_scales4* s, const v128_t* wq, int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
  v128_t pin[4];
  int t = 0;
  for (; t + 4 <= nt; t += 4) {
    const int8_t* a0 = y[t][i].qs;
    const int8_t* a1 = y[t + 1][i].qs;
    const int8_t* a2 = y[t + 2][i].qs;
    const int8_t* a3 = y[t + 3][i].qs;
    const v128_t* w = wq;
    const v128_t* sc = s->sc;
    v128_t i0 = zero, i1 = zero, i2 = zero, i3 = zero;
    NOUNROLL for (int sb = 0; sb < 16; sb++, a0 += 16, a1 += 16, a2 += 16, a3 += 16, w += 4, sc++) {
      // opaque to clang: it would rewrite a0 + 4 as base + sb * 16 + 4 (an i32.add,
      // a lea per broadcast in V8's code) instead of a load offset
      OPAQUE4(a0, a1, a2, a3);
      const v128_t scv = *sc;
      UNROLL for (unsigned k = 0; k < 4; k += 2) {
        const v128_t wk = w[k], wl = w[k + 1];
        const v128_t p0 = wasm_i16x8_add(RDOT(SPLAT4(a0 + 4 * k), wk), RDOT(SPLAT4(a0 + 4 * k + 4), wl));
        const v128_t p1 = wasm_i16x8_add(RDOT(SPLAT4(a1 + 4 * k), wk), RDOT(SPLAT4(a1 + 4 * k + 4), wl));
        const v128_t p2 = wasm_i16x8_add(RDOT(SPLAT4(a2 + 4 * k), wk), RDOT(SPLAT4(a2 + 4 * k + 4), wl));
        const v128_t p3 = wasm_i16x8_add(RDOT(SPLAT4(a3 + 4 * k), wk), RDOT(SPLAT4(a3 + 4 * k + 4), wl));
        i0 = wasm_i32x4_add(i0, wasm_i32x4_dot_i16x8(p0, scv));
        i1 = wasm_i32x4_add(i1, wasm_i32x4_dot_i16x8(p1, scv));
        i2 = wasm_i32x4_add(i2, wasm_i32x4_dot_i16x8(p2, scv));
        i3 = wasm_i32x4_add(i3, wasm_i32x4_dot_i16x8(p3, scv));
        PIN(i0, pin[0]);  // every pair of byte dots
        PIN(i1, pin[1]);
        PIN(i2, pin[2]);
        PIN(i3, pin[3]);
      }
    }
    acc[t].isum = i0, acc[t + 1].isum = i1, acc[t + 2].isum = i2, acc[t + 3].isum = i3;
  }
  for (; t < nt; t++) {
    const int8_t* a = y[t][i].qs;
    v128_t isum = zero;
    NOUNROLL for (int sb = 0; sb < 16; sb++, a += 16) {
      const v128_t* w = wq + 4 * sb;
      const v128_t p0 = wasm_i16x8_add(RDOT(SPLAT4(a), w[0]), RDOT(SPLAT4(a + 4), w[1]));
      const v128_t p1 = wasm_i16x8_add(RDOT(SPLAT4(a + 8), w[2]), RDOT(SPLAT4(a + 12), w[3]));
      isum = wasm_i32x4_add(isum, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, s->sc[sb]), wasm_i32x4_dot_i16x8(p1, s->sc[sb])));
    }
    acc[t].isum = isum;
  }
}
#endif

// Prefill over q6_Kx4 groups: each unit's mixed vectors unmixed (relaxed.h
// unmix_pairs) into the plain order, so the tokens' activations are read as
// stored; the scales' pair vectors serve the -32 offset as they are.
// A q6_Kx4 group's super-block: its scales in the shapes the dots take and
// its quants unmixed into wq (sub-block k's four vectors at wq[4k]).
static inline void q6_Kx4_unpack(const block_q6_Kx4* b, q6_K_scales4* s, v128_t* wq) {
  UNROLL for (int u = 0; u < 8; u++) {
    const v128_t e = wasm_i16x8_load8x8(b->u[u].sc);
    s->sp[u] = e;
#ifdef RELAXED_DOT_ADD
    // i32 lane j: row j's scale of 2u (e's low half, sign-extended) and of 2u + 1 (its high half)
    s->sc[2 * u] = wasm_i32x4_shr(wasm_i32x4_shl(e, 16), 16);
    s->sc[2 * u + 1] = wasm_i32x4_shr(e, 16);
#else
    s->sc[2 * u] = wasm_i16x8_shuffle(e, e, 0, 0, 2, 2, 4, 4, 6, 6);
    s->sc[2 * u + 1] = wasm_i16x8_shuffle(e, e, 1, 1, 3, 3, 5, 5, 7, 7);
#endif
  }
  s->d = f16x4_at(b->d);
  for (int u = 0; u < 8; u++) {
    v128_t m[8];
    q6_Kx4_decode(b->u[u].q[0], m);
    q6_Kx4_decode(b->u[u].q[1], m + 4);
    UNROLL for (int e = 0; e < 4; e++) unmix_pairs(m[2 * e], m[2 * e + 1], &wq[8 * u + e], &wq[8 * u + 4 + e]);
  }
}

static inline void q6_Kx4_superblock(const block_q6_Kx4* b, int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
  q6_K_scales4 s;
  v128_t wq[64];
  q6_Kx4_unpack(b, &s, wq);
#ifdef RELAXED_DOT_ADD
  q6_K_isums(&s, wq, i, y, acc, nt);
#else
  q6_K_isums16(&s, wq, i, y, acc, nt);
#endif
  q6_K_finish(&s, i, y, acc, nt);
}

// Prefill over two q6_Kx4 groups (eight rows) of super-block i, both
// builds, as q4_K_isums_pair (q4_K-relaxed.c) takes them: a sub-block of
// both groups (four weight vectors each) held in registers while the pass's
// tokens stream past (pass_tokens at a time, relaxed.h), four broadcasts
// feeding eight byte dots, then both groups' float steps in one pass
// (q6_K_finish_pair). The relaxed build sums each pair of dots in int16
// (|lane| <= 2 * 2 * 128 * 63) and applies the rows' scales by
// i32x4.dot_i16x8, taking the -32 offset per token at the end; the dot-add
// build chains a sub-block's four dot-adds from -32 * its bsum (q6_K_neg32,
// per token once per super-block) and multiplies by the rows' i32 scales,
// so no offset remains. Either way the exact int32 sums of every other
// q6_K path, so the same bits.
// Measured (relaxed build; bench:kernels --prefill --repacked --cpu --ratios,
// 4096x4096 x 64 tokens, Node 20, medians of 20-30 per-round ratios against
// q6_K_isums16's four tokens at a time through one group): 1.03-1.07x over
// four runs, of which the paired float steps about 1.01x. Less than
// q4_Kx4's 1.13x: a Q6_K sub-block holds only two byte dots per int16 sum,
// so 2.5 vector ops per dot either way, and eight weight vectors, two
// scales and four broadcasts leave V8 a few reloads per token.
// The dot-add build (Node 24 / V8 13.6, AVX-VNNI; bench:kernels --prefill
// --dot --repacked --old DIR, CPU time, medians of 21 alternating rounds,
// load 2-4): this loop 1.03-1.07x over its loop before at 4096 columns,
// 1.06-1.07x at 14336. That loop: both groups' super-block decoded to the
// stack, two tokens at a time over it, PIN every second step, the offset
// folded as now (it had measured 1.12-1.19x over one group at a time,
// without the fold 1.00-1.03x); the relaxed build's loop had caught up with
// it (1.02x).
typedef struct { v128_t ia, ib; } q6_K_pair_state;

// The float step of two groups per token, after their exact int32 sums
// (and, in the relaxed build, the -32 offset: q6_K_finish's steps, the bsum
// pairs and ad loaded once for both, a broadcast load each where
// q6_K_offset takes a shuffle).
static inline void q6_K_finish_pair(const q6_K_scales4* s, const q6_K_scales4* s2, int i, const block_q8_K* const* y, q6_K_acc* acc,
                                    q6_K_acc* acc2, int nt) {
  for (int t = 0; t < nt; t++) {
#ifdef RELAXED_DOT_ADD
    const v128_t isum = acc[t].isum, isum2 = acc2[t].isum;  // the offset already in (q6_K_neg32)
#else
    const int32_t* bp = (const int32_t*)y[t][i].bsums;  // i32 lane p: the bsums of sub-blocks 2p, 2p + 1
    v128_t off = wasm_i32x4_const_splat(0), off2 = off;
    UNROLL for (int p = 0; p < 8; p++) {
      const v128_t b = wasm_v128_load32_splat(bp + p);
      off = wasm_i32x4_add(off, wasm_i32x4_dot_i16x8(s->sp[p], b));
      off2 = wasm_i32x4_add(off2, wasm_i32x4_dot_i16x8(s2->sp[p], b));
    }
    const v128_t isum = wasm_i32x4_sub(acc[t].isum, wasm_i32x4_shl(off, 5));
    const v128_t isum2 = wasm_i32x4_sub(acc2[t].isum, wasm_i32x4_shl(off2, 5));
#endif
    const v128_t ad = wasm_v128_load32_splat(&y[t][i].d);
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s->d, ad), wasm_f32x4_convert_i32x4(isum)));
    acc2[t].sum = wasm_f32x4_add(acc2[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s2->d, ad), wasm_f32x4_convert_i32x4(isum2)));
  }
}

#ifdef RELAXED_DOT_ADD
#define Q6_PAIR_T 2  // tokens at a time
// The dot-add build's pairs of groups in batches of under 4 tokens
// (q6_Kx4_superblock_pair), where the register tile's loop overhead per
// token weighs: both groups' super-block decoded once to the stack, then
// Q6_PAIR_T tokens at a time through all of it, each activation broadcast
// serving both groups, each sub-block's dot-adds started from -32 * its
// bsum (q6_K_neg32), PIN every second step. Measured when written (Node 24,
// --prefill --dot --repacked --old DIR, 64 tokens) against one group at a
// time: 1.12-1.19x with 2 tokens (3 tokens 1.11x, 4 1.05x; PIN every step
// 1.08x, every fourth 0.94x). Against the register tile (same bench,
// --tokens N): 2 tokens 1.10x, 3 tokens 1.01x, 4 0.97-0.99x, 6 0.96x.
static inline void q6_Kx4_superblock_pair_few(const block_q6_Kx4* ba, const block_q6_Kx4* bb, int i, const block_q8_K* const* y,
                                              q6_K_acc* acca, q6_K_acc* accb, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
  q6_K_scales4 sa, sb4;
  v128_t wq[2][64];
  q6_Kx4_unpack(ba, &sa, wq[0]);
  q6_Kx4_unpack(bb, &sb4, wq[1]);
  v128_t pin[2 * Q6_PAIR_T];
  int32_t off[Q6_PAIR_T][16] __attribute__((aligned(16)));
  int t = 0;
  for (; t + Q6_PAIR_T <= nt; t += Q6_PAIR_T) {
    UNROLL for (int u = 0; u < Q6_PAIR_T; u++) q6_K_neg32(&y[t + u][i], off[u]);
    const int32_t* o0 = off[0];
    const int8_t* ap[Q6_PAIR_T];
    v128_t ia[Q6_PAIR_T], ib[Q6_PAIR_T];
    UNROLL for (int u = 0; u < Q6_PAIR_T; u++) ap[u] = y[t + u][i].qs, ia[u] = ib[u] = zero;
    const v128_t* wa = wq[0];
    const v128_t* wb = wq[1];
    NOUNROLL for (int sb = 0; sb < 16; sb++, wa += 4, wb += 4) {
      const v128_t sca = sa.sc[sb], scb = sb4.sc[sb];
      v128_t pa[Q6_PAIR_T], pb[Q6_PAIR_T];
      UNROLL for (int u = 0; u < Q6_PAIR_T; u++) pa[u] = pb[u] = wasm_v128_load32_splat(o0 + 16 * u);
      o0++;
      UNROLL for (unsigned k = 0; k < 4; k++) {
        const v128_t wka = wa[k], wkb = wb[k];
        UNROLL for (int u = 0; u < Q6_PAIR_T; u++) {
          const v128_t av = SPLAT4(ap[u] + 4 * k);
          pa[u] = DOTADD(av, wka, pa[u]);
          pb[u] = DOTADD(av, wkb, pb[u]);
        }
        if (k & 1) {
          UNROLL for (int u = 0; u < Q6_PAIR_T; u++) {
            PIN(pa[u], pin[2 * u]);
            PIN(pb[u], pin[2 * u + 1]);
          }
        }
      }
      UNROLL for (int u = 0; u < Q6_PAIR_T; u++) {
        ia[u] = wasm_i32x4_add(ia[u], wasm_i32x4_mul(pa[u], sca));
        ib[u] = wasm_i32x4_add(ib[u], wasm_i32x4_mul(pb[u], scb));
      }
      UNROLL for (int u = 0; u < Q6_PAIR_T; u++) {
        ap[u] += 16;
        OPAQUE(ap[u]);  // so ap[u] + 4 * k is a load offset (see q6_K_isums16)
      }
    }
    UNROLL for (int u = 0; u < Q6_PAIR_T; u++) acca[t + u].isum = ia[u], accb[t + u].isum = ib[u];
  }
  for (; t < nt; t++) {
    const int8_t* a = y[t][i].qs;
    v128_t isa = zero, isb = zero;
    q6_K_neg32(&y[t][i], off[0]);
    NOUNROLL for (int sb = 0; sb < 16; sb++, a += 16) {
      v128_t pra = wasm_v128_load32_splat(off[0] + sb), prb = pra;
      UNROLL for (int h = 0; h < 2; h++) {
        const v128_t* wa = wq[0] + 4 * sb + 2 * h;
        const v128_t* wb = wq[1] + 4 * sb + 2 * h;
        const v128_t av = SPLAT4(a + 8 * h), bv = SPLAT4(a + 8 * h + 4);
        pra = DOTADD(bv, wa[1], DOTADD(av, wa[0], pra));
        prb = DOTADD(bv, wb[1], DOTADD(av, wb[0], prb));
      }
      isa = wasm_i32x4_add(isa, wasm_i32x4_mul(pra, sa.sc[sb]));
      isb = wasm_i32x4_add(isb, wasm_i32x4_mul(prb, sb4.sc[sb]));
    }
    acca[t].isum = isa, accb[t].isum = isb;
  }
  q6_K_finish(&sa, i, y, acca, nt);
  q6_K_finish(&sb4, i, y, accb, nt);
}
#endif

static inline void q6_Kx4_superblock_pair(const block_q6_Kx4* ba, const block_q6_Kx4* bb, int i, const block_q8_K* const* y,
                                          q6_K_acc* acca, q6_K_acc* accb, int nt) {
  const v128_t zero = wasm_i32x4_const_splat(0);
#ifdef RELAXED_DOT_ADD
  if (nt < 4) {
    q6_Kx4_superblock_pair_few(ba, bb, i, y, acca, accb, nt);
    return;
  }
#endif
  q6_K_scales4 sa, sb4;
  v128_t wq[2][64];
  q6_Kx4_unpack(ba, &sa, wq[0]);
  q6_Kx4_unpack(bb, &sb4, wq[1]);
  q6_K_pair_state st[MM_TOK];
#ifdef RELAXED_DOT_ADD
  int32_t off[MM_TOK][16] __attribute__((aligned(16)));  // token t's -32 * bsum per sub-block
  for (int t = 0; t < nt; t++) q6_K_neg32(&y[t][i], off[t]);
#endif
  // the tokens' rows are a_row_bytes apart (kq_mul_mat), so one pointer steps through them
  const int stride = (int)((const uint8_t*)y[1] - (const uint8_t*)y[0]);
  const int tile = pass_tokens(stride);
  for (int t0 = 0; t0 < nt; t0 += tile) {
    q6_K_pair_state* const beg = st + t0;
    q6_K_pair_state* const end = st + (nt - t0 < tile ? nt : t0 + tile);
    const int8_t* const a0 = y[t0][i].qs;
    for (q6_K_pair_state* s = beg; s < end; s++) s->ia = s->ib = zero;
    NOUNROLL for (unsigned sb = 0; sb < 16; sb++) {
      const v128_t* wa = wq[0] + 4 * sb;
      const v128_t* wb = wq[1] + 4 * sb;
      const v128_t wa0 = wa[0], wa1 = wa[1], wa2 = wa[2], wa3 = wa[3];
      const v128_t wb0 = wb[0], wb1 = wb[1], wb2 = wb[2], wb3 = wb[3];
      const v128_t sca = sa.sc[sb], scb = sb4.sc[sb];
      const int8_t* a = a0 + 16 * sb;
#ifdef RELAXED_DOT_ADD
      const int32_t* o = off[t0] + sb;
      NOUNROLL for (q6_K_pair_state* s = beg; s < end; s++, a += stride, o += 16) {
        OPAQUE(a);  // so a + 4 * k stays a load offset (relaxed.h)
        const v128_t b0 = SPLAT4(a), b1 = SPLAT4(a + 4), b2 = SPLAT4(a + 8), b3 = SPLAT4(a + 12);
        const v128_t o32 = wasm_v128_load32_splat(o);
        const v128_t pa = DOTADD(b3, wa3, DOTADD(b2, wa2, DOTADD(b1, wa1, DOTADD(b0, wa0, o32))));
        const v128_t pb = DOTADD(b3, wb3, DOTADD(b2, wb2, DOTADD(b1, wb1, DOTADD(b0, wb0, o32))));
        s->ia = wasm_i32x4_add(s->ia, wasm_i32x4_mul(pa, sca));
        s->ib = wasm_i32x4_add(s->ib, wasm_i32x4_mul(pb, scb));
      }
#else
      NOUNROLL for (q6_K_pair_state* s = beg; s < end; s++, a += stride) {
        OPAQUE(a);  // so a + 4 * k stays a load offset (relaxed.h)
        const v128_t b0 = SPLAT4(a), b1 = SPLAT4(a + 4), b2 = SPLAT4(a + 8), b3 = SPLAT4(a + 12);
        const v128_t pa0 = wasm_i16x8_add(RDOT(b0, wa0), RDOT(b1, wa1)), pa1 = wasm_i16x8_add(RDOT(b2, wa2), RDOT(b3, wa3));
        const v128_t pb0 = wasm_i16x8_add(RDOT(b0, wb0), RDOT(b1, wb1)), pb1 = wasm_i16x8_add(RDOT(b2, wb2), RDOT(b3, wb3));
        s->ia = wasm_i32x4_add(s->ia, wasm_i32x4_add(wasm_i32x4_dot_i16x8(pa0, sca), wasm_i32x4_dot_i16x8(pa1, sca)));
        s->ib = wasm_i32x4_add(s->ib, wasm_i32x4_add(wasm_i32x4_dot_i16x8(pb0, scb), wasm_i32x4_dot_i16x8(pb1, scb)));
      }
#endif
    }
  }
  for (int t = 0; t < nt; t++) acca[t].isum = st[t].ia, accb[t].isum = st[t].ib;
  q6_K_finish_pair(&sa, &sb4, i, y, acca, accb, nt);
}

// The -32 offset of a group's super-block: lane j = sum over k of scale(j, k) * bsum(k),
// one i32x4.dot_i16x8 per unit on its scales' pair vector.
static inline v128_t q6_Kx4_offset(const block_q6_Kx4* b, const block_q8_K* yi) {
  v128_t off = wasm_i32x4_const_splat(0);
  const q6_Kx4_unit* u = b->u;
  const int16_t* bs = yi->bsums;
  NOUNROLL for (unsigned k = 0; k < 8; k++, u++, bs += 2)
    off = wasm_i32x4_add(off, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(u->sc), wasm_v128_load32_splat(bs)));
  return off;
}

// Decode over q6_Kx4 groups, gn at a time (as q4_0x4_groups, legacy-relaxed.c):
// n iterations, the first group of iteration it at row r + step * it, its gn
// groups `stride` rows apart (spread: a part of the thread's rows apart,
// each a stream of its own from memory). ap: the activation's quants
// reordered (act_pairs_q8_K), 256 bytes per super-block. Per step one half
// unit (two sub-blocks' elements 0..7) of each group: four activation
// broadcasts serve all gn groups; each group's half is one sign-extending
// load of the unit's scale pairs, three quant loads, the decode, four byte
// dots and two i32x4.dot_i16x8 applying both sub-blocks' scales, ended by
// PIN so V8 keeps the next group's loads behind this group's arithmetic.
// The same exact int32 sums and float steps per row as every other q6_K
// path (the -32 offset and d per super-block, chunks of KB super-blocks
// added to out as the batch kernel adds them).
static inline __attribute__((always_inline)) void q6_Kx4_groups(const uint8_t* w, int row_bytes, const block_q8_K* y,
                                                                const int8_t* ap, float* out, int nb, int r, int n, int step,
                                                                int stride, int r0, int r1, int first, const int gn) {
  const v128_t m6 = wasm_i8x16_const_splat(0x3F);
  v128_t pins[8];
  for (int it = 0; it < n; it++, r += step) {
    const block_q6_Kx4* g[8];
    UNROLL for (int k = 0; k < gn; k++) g[k] = (const block_q6_Kx4*)(w + (size_t)(r + stride * k) * row_bytes);
    for (int c0 = 0; c0 < nb; c0 += KB) {
      v128_t sum[8];
      UNROLL for (int k = 0; k < gn; k++) sum[k] = wasm_f32x4_const_splat(0.0f);
      for (int i = c0; i < (nb - c0 < KB ? nb : c0 + KB); i++) {
        v128_t isum[8];
        const q6_Kx4_unit* p[8];
        UNROLL for (int k = 0; k < gn; k++) isum[k] = wasm_i32x4_const_splat(0), p[k] = g[k][i].u;
        const int8_t* a = ap + (size_t)i * QK_K;
        NOUNROLL for (unsigned u = 0; u < 8; u++, a += 32) {
          UNROLL for (int h = 0; h < 2; h++) {
            const v128_t s0 = SPLAT4(a + 16 * h), s1 = SPLAT4(a + 16 * h + 4), s2 = SPLAT4(a + 16 * h + 8), s3 = SPLAT4(a + 16 * h + 12);
            UNROLL for (int k = 0; k < gn; k++) {
              const v128_t sc = wasm_i16x8_load8x8(p[k]->sc);
              const v128_t va = LOAD(p[k]->q[h]), vb = LOAD(p[k]->q[h] + 16), vc = LOAD(p[k]->q[h] + 32);
              // the fourth vector from the three top bit pairs, as q6_Kx4_decode
              v128_t t = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(va, m6), 2), wasm_v128_andnot(vb, m6));
              t = wasm_v128_or(wasm_u16x8_shr(t, 2), wasm_v128_andnot(vc, m6));
              const v128_t p0 = wasm_i16x8_add(RDOT(s0, wasm_v128_and(va, m6)), RDOT(s1, wasm_v128_and(vb, m6)));
              const v128_t p1 = wasm_i16x8_add(RDOT(s2, wasm_v128_and(vc, m6)), RDOT(s3, wasm_u16x8_shr(t, 2)));
              isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, sc), wasm_i32x4_dot_i16x8(p1, sc)));
              PIN(isum[k], pins[k]);
              if (h == 1) p[k]++;
            }
          }
        }
        const v128_t ad = wasm_f32x4_splat(y[i].d);
        UNROLL for (int k = 0; k < gn; k++) {
          isum[k] = wasm_i32x4_sub(isum[k], wasm_i32x4_shl(q6_Kx4_offset(g[k] + i, &y[i]), 5));
          sum[k] = wasm_f32x4_add(sum[k], wasm_f32x4_mul(wasm_f32x4_mul(f16x4_at(g[k][i].d), ad), wasm_f32x4_convert_i32x4(isum[k])));
        }
      }
      UNROLL for (int k = 0; k < gn; k++) store4(sum[k], out, r + stride * k, r0, r1, first && c0 == 0);
    }
  }
}

#ifndef Q6_SPREAD
#define Q6_SPREAD 8
#endif
// Decode of the thread's q6_Kx4 groups: Q6_SPREAD at a time, each reading its
// own part of the thread's rows, then four side by side, then one. The groups
// that touch [r0, r1) are counted from r0 & ~3; store4 keeps only the thread's rows.
static void q6_Kx4_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, const int8_t* ap, float* out, int nb, int r0,
                        int r1, int first) {
  int r = r0 & ~3;
  const int part = (r1 - r + 3) / 4 / Q6_SPREAD;  // groups per part
  q6_Kx4_groups(w, row_bytes, y, ap, out, nb, r, part, 4, 4 * part, r0, r1, first, Q6_SPREAD);
  r += 4 * Q6_SPREAD * part;
  const int quads = (r1 - r + 3) / 4 / 4;
  q6_Kx4_groups(w, row_bytes, y, ap, out, nb, r, quads, 16, 4, r0, r1, first, 4);
  r += 16 * quads;
  q6_Kx4_groups(w, row_bytes, y, ap, out, nb, r, (r1 - r + 3) / 4, 4, 4, r0, r1, first, 1);
}

// One token over q6_Kx4: the activation reordered on the stack, AP_BLOCKS
// super-blocks (a multiple of KB, so the chunks' float sums stay the batch
// kernel's) at a time; each piece reads its groups' rows front to back.
#define AP_BLOCKS (2 * KB)
static void q6_Kx4_decode_token(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r0, int r1,
                                int first) {
  int8_t ap[AP_BLOCKS * QK_K] __attribute__((aligned(16)));
  for (int b0 = 0; b0 < nb; b0 += AP_BLOCKS) {
    const int pb = nb - b0 < AP_BLOCKS ? nb - b0 : AP_BLOCKS;
    act_pairs_q8_K(y[b0].qs, sizeof(block_q8_K), ap, pb);
    q6_Kx4_rows(w + (size_t)b0 * sizeof(block_q6_Kx4), row_bytes, y + b0, ap, out, pb, r0, r1, first && b0 == 0);
  }
}

static inline void q6_K_superblock(const block_q6_K* const x[4], int i, const block_q8_K* const* y, q6_K_acc* acc, int nt,
                                   int packed) {
  q6_K_scales4 s;
  q6_K_scales(x, i, &s);
#ifdef RELAXED_DOT_ADD
  v128_t wq[64];  // sub-block k's transposed vectors at wq[4k], as q6_Kx4_decode leaves them
  for (int j = 0; j < 4; j++) {
    const int h = j >> 1, l0 = 16 * (j & 1);
    v128_t q[4][4];
    UNROLL for (int r = 0; r < 4; r++) q6_K_decode(&x[r][i], h, l0, q[r], packed);
    UNROLL for (int k = 0; k < 4; k++) transpose4(q[0][k], q[1][k], q[2][k], q[3][k], wq + 4 * (8 * h + l0 / 16 + 2 * k));
  }
  q6_K_isums(&s, wq, i, y, acc, nt);
#else
  for (int t = 0; t < nt; t++) acc[t].isum = wasm_i32x4_const_splat(0);
  NOUNROLL for (int j = 0; j < 4; j++) {
    const int h = j >> 1, l0 = 16 * (j & 1);
    v128_t q[4][4];
    UNROLL for (int r = 0; r < 4; r++) q6_K_decode(&x[r][i], h, l0, q[r], packed);
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
#endif
  q6_K_finish(&s, i, y, acc, nt);
}

// One token: the decode paths (layout: 0 plain rows, 1 q6_Kp, 2 q6_Kx4).
KQ_HOOK void q6_K_one_token(const uint8_t* wc, int row_bytes, const block_q8_K* y, const v128_t* b32, float* o, int nb, int r0,
                            int r1, int first, int layout) {
  (void)b32;
  if (layout == 2) q6_Kx4_decode_token(wc, row_bytes, y, o, nb, r0, r1, first);
  else q6_K_rows(wc, row_bytes, y, o, nb, r0, r1, first, layout == 1);
}

// Prefill, one q6_Kx4 group.
KQ_HOOK void q6_Kx4_group(const uint8_t* gp, int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc, int nt) {
  (void)b32;
  const block_q6_Kx4* b = (const block_q6_Kx4*)gp;
  for (int i = 0; i < nb; i++) q6_Kx4_superblock(b + i, i, y, acc, nt);
}

// Prefill, two q6_Kx4 groups at a time (q6_Kx4_superblock_pair).
KQ_HOOK void q6_Kx4_pair(const uint8_t* gp, const uint8_t* hp, int nb, const block_q8_K* const* y, const v128_t* const* b32,
                         kq_acc* acc, kq_acc* acc2, int nt) {
  (void)b32;
  const block_q6_Kx4* b = (const block_q6_Kx4*)gp;
  const block_q6_Kx4* b2 = (const block_q6_Kx4*)hp;
  for (int i = 0; i < nb; i++) q6_Kx4_superblock_pair(b + i, b2 + i, i, y, acc, acc2, nt);
}

// Prefill, four plain rows (layout 0) or q6_Kp rows (1).
KQ_HOOK void q6_K_group(const uint8_t* const xp[4], int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc,
                        int nt, int layout) {
  (void)b32;
  const block_q6_K* x[4] = KQ_ROWS(block_q6_K, xp);
  for (int i = 0; i < nb; i++) q6_K_superblock(x, i, y, acc, nt, layout == 1);
}

static const kq_type q6_K_loop = {
    .block = sizeof(block_q6_K),  // = a q6_Kp row's
    .block_x4 = sizeof(block_q6_Kx4),
#ifdef RELAXED_DOT_ADD
    .pair_min = 0,
#else
    // the relaxed build's pairs reload their weight vectors every sub-block per pass: with
    // few tokens one group at a time is faster (4 tokens: 1.08x; 2 and 8: the same)
    .pair_min = 8,
#endif
};

// layout: 0 plain rows, 1 q6_Kp, 2 q6_Kx4 (kquant-loop.h's loop). One token
// over q6_Kx4: the column chunks inside the decode kernels, as q4_K_mul_mat explains.
static inline void q6_K_mul_mat(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                int n, int n_tok, int r0, int r1, int layout) {
  if (layout == 2 && n_tok == 1) {
    // decode: the x4 kernels take every chunk of a group before the next
    // group, so each stream reads its groups' bytes front to back
    q6_Kx4_decode_token((const uint8_t*)w, row_bytes, (const block_q8_K*)a, out, n / QK_K, r0, r1, 1);
    return;
  }
  kq_mul_mat(&q6_K_loop, 0, q6_K_one_token, q6_Kx4_group, q6_K_group, q6_Kx4_pair, w, row_bytes, a, a_row_bytes, out,
             out_stride, n, n_tok, r0, r1, layout == 2, layout);
}

RELAXED_ENTRIES(q6_K, q6_K_mul_mat, 0)
RELAXED_ENTRIES(q6_Kp, q6_K_mul_mat, 1)
RELAXED_ENTRIES(q6_Kx4, q6_K_mul_mat, 2)

RELAXED_VEC_DOT(q6_K, q8_K, q6_K_mul_mat)

// Rewrites the quant bytes of n_rows q6_K rows as q6_Kp, in place (scales
// and d keep their offsets). scratch: unused.
void EXPORT(repack_q6_Kp)(void* w, int row_bytes, int n_rows, void* scratch) {
  (void)scratch;
  const int nb = row_bytes / (int)sizeof(block_q6_K);
  const v128_t top = wasm_i8x16_const_splat((int8_t)0xC0);
  for (int r = 0; r < n_rows; r++) {
    block_q6_K* x = (block_q6_K*)((uint8_t*)w + (size_t)r * row_bytes);
    for (int i = 0; i < nb; i++, x++) {
      v128_t q[4][4];  // all of it decoded before the first byte is overwritten
      for (int j = 0; j < 4; j++) q6_K_decode(x, j >> 1, 16 * (j & 1), q[j], 0);
      uint8_t* p = (uint8_t*)x;  // ql and qh: the block's first 192 bytes
      for (int j = 0; j < 4; j++) {
        // quant 3's bits 0-1, 2-3, 4-5 to the top of bytes k = 0, 1, 2 (u16 shifts: the mask keeps each byte's own bits)
        const v128_t q3 = q[j][3];
        wasm_v128_store(p + 48 * j, wasm_v128_or(q[j][0], wasm_v128_and(wasm_i16x8_shl(q3, 6), top)));
        wasm_v128_store(p + 48 * j + 16, wasm_v128_or(q[j][1], wasm_v128_and(wasm_i16x8_shl(q3, 4), top)));
        wasm_v128_store(p + 48 * j + 32, wasm_v128_or(q[j][2], wasm_v128_and(wasm_i16x8_shl(q3, 2), top)));
      }
    }
  }
}

// Rewrites n_rows (a multiple of 4) plain q6_K rows as q6_Kx4 groups, in
// place: group G takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_q6_Kx4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_q6_K);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    for (int i = 0; i < nb; i++) {
      const block_q6_K* x[4];
      for (int j = 0; j < 4; j++) x[j] = (const block_q6_K*)((const uint8_t*)scratch + (size_t)j * row_bytes) + i;
      uint8_t v[4][QK_K];  // row j's quants 0..63 in element order
      for (int j = 0; j < 4; j++)
        for (int s = 0; s < 4; s++) {  // q6_K_decode's step s: elements 128h + l0 + 32m .. +15
          const int h = s >> 1, l0 = 16 * (s & 1);
          v128_t q[4];
          q6_K_decode(x[j], h, l0, q, 0);
          for (int m = 0; m < 4; m++) wasm_v128_store(v[j] + 128 * h + l0 + 32 * m, q[m]);
        }
      block_q6_Kx4* g = (block_q6_Kx4*)base + i;
      for (int u = 0; u < 8; u++) {
        q6_Kx4_unit* un = &g->u[u];
        // the mixed vectors mv[e]: bytes 4j + c = v[j][32u + 16 (c >> 1) + 2e + (c & 1)], i.e. row
        // j's 16-bit word e of each half side by side (pe, pf: e < 4, e >= 4), then a 4x4 transpose
        // of 32-bit lanes. (Byte by byte, this loop was most of a Q6_K tensor's load time.)
        v128_t pe[4], pf[4], mv[8];
        for (int j = 0; j < 4; j++) {
          const v128_t a = LOAD(v[j] + 32 * u), b = LOAD(v[j] + 32 * u + 16);
          pe[j] = wasm_i16x8_shuffle(a, b, 0, 8, 1, 9, 2, 10, 3, 11);
          pf[j] = wasm_i16x8_shuffle(a, b, 4, 12, 5, 13, 6, 14, 7, 15);
        }
        transpose4(pe[0], pe[1], pe[2], pe[3], mv);
        transpose4(pf[0], pf[1], pf[2], pf[3], mv + 4);
        // vectors 4h..4h + 2 whole (6 bits), vector 4h + 3's bits 2c, 2c + 1 in their top two bits
        const v128_t m3 = wasm_i8x16_const_splat(3);
        for (int h = 0; h < 2; h++)
          for (int c = 0; c < 3; c++) {
            const v128_t top = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(mv[4 * h + 3], 2 * c), m3), 6);
            wasm_v128_store(un->q[h] + 16 * c, wasm_v128_or(mv[4 * h + c], top));
          }
        for (int j = 0; j < 4; j++) un->sc[2 * j] = x[j]->scales[2 * u], un->sc[2 * j + 1] = x[j]->scales[2 * u + 1];
      }
      for (int j = 0; j < 4; j++) g->d[j] = x[j]->d;
    }
  }
}
