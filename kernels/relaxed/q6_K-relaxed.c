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
// matrices whose rows are a multiple of 4 (runtime/repack.ts): decode and
// prefill then apply one scale vector per 64 weights and need no transposes.
#include "../kquants.h"
#include "relaxed.h"

#define KB (ACT_CHUNK / QK_K)  // super-blocks per column chunk

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

// From w[g], byte 4k + j = row j's scale 4g + k (the q6_Kx4 layout stores them so).
#ifdef RELAXED_DOT_ADD
// i32 lanes from bytes of w, sign-extended: lane j <- byte a + j (in the lane's top byte, shifted down)
#define Q6_LANES32(w, a) wasm_i32x4_shr(wasm_i8x16_shuffle(w, w, a, a, a, a, a + 1, a + 1, a + 1, a + 1, \
                                                           a + 2, a + 2, a + 2, a + 2, a + 3, a + 3, a + 3, a + 3), 24)
#endif

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

// q6_Kx4: four rows' super-block, repacked at load (repack_q6_Kx4). Sub-block
// k (elements 16k..16k+15, one scale) of the four rows is 48 bytes, three
// vectors in transpose4's order (bytes 4j..4j+3 of vector g: row j's
// elements 16k + 4g..+3), each byte one quant (0..63, q + 32) and, in its
// top two bits, two bits of the quant at +12 (bits 0-1, 2-3, 4-5 in vector
// order), decoded as q6_Kp's; then the scales as q6_K_scales_w takes them,
// then the rows' d.
typedef struct {
  uint8_t q[16][48];
  int8_t scales[64];
  uint16_t d[4];
} block_q6_Kx4;
_Static_assert(sizeof(block_q6_Kx4) == 4 * sizeof(block_q6_K), "a group takes four rows' bytes");

// Sub-block k's four vectors (g[e]: elements 4e..4e+3 of each row). The
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

typedef struct { v128_t isum, sum; } q6_K_acc;

// A super-block's float step per (row, token), after its exact int32 sums.
static inline void q6_K_finish(const q6_K_scales4* s, int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
  for (int t = 0; t < nt; t++) {
    const v128_t isum = wasm_i32x4_sub(acc[t].isum, wasm_i32x4_shl(q6_K_offset(s->sp, &y[t][i]), 5));
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s->d, wasm_f32x4_splat(y[t][i].d)), wasm_f32x4_convert_i32x4(isum)));
  }
}

#ifdef RELAXED_DOT_ADD
// The dot-add build's prefill sums, as q4_K_isums (q4_K-relaxed.c) explains:
// sub-block k's four weight vectors decoded once per super-block at wq[4k]
// (0..63, transpose4's order), then four tokens at a time over all sixteen
// sub-blocks, each sub-block's exact sum per row from four dot-adds
// (|lane| <= 16 * 128 * 63) times the rows' i32 scales; PIN every second
// step. Measured as q4_K_isums: q6_Kx4 1.10-1.15x, plain q6_K 1.23x, the
// per-token chain in the i16 path's loop order 1.07x. Less than Q4_K's
// gain: a sub-block is 16 weights, so an i32x4.mul (two uops) per four
// dot-adds, and the -32 offset's int16 dots per token stay as they were.
static inline void q6_K_isums(const q6_K_scales4* s, const v128_t* wq, int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
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
      v128_t p0 = zero, p1 = zero, p2 = zero, p3 = zero;
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
    NOUNROLL for (int sb = 0; sb < 16; sb++, a += 16) {
      v128_t p = zero;
      UNROLL for (unsigned k = 0; k < 4; k++) p = DOTADD(SPLAT4(a + 4 * k), wq[4 * sb + k], p);
      isum = wasm_i32x4_add(isum, wasm_i32x4_mul(p, s->sc[sb]));
    }
    acc[t].isum = isum;
  }
}
#endif

// Prefill over q6_Kx4 groups: the layout's vectors need no transposing.
static inline void q6_Kx4_superblock(const block_q6_Kx4* b, int i, const block_q8_K* const* y, q6_K_acc* acc, int nt) {
  q6_K_scales4 s;
  const v128_t w[4] = {LOAD(b->scales), LOAD(b->scales + 16), LOAD(b->scales + 32), LOAD(b->scales + 48)};
  q6_K_scales_w(w, &s);
  s.d = f16x4_at(b->d);
#ifdef RELAXED_DOT_ADD
  v128_t wq[64];
  UNROLL for (int k = 0; k < 16; k++) q6_Kx4_decode(b->q[k], wq + 4 * k);
  q6_K_isums(&s, wq, i, y, acc, nt);
#else
  for (int t = 0; t < nt; t++) acc[t].isum = wasm_i32x4_const_splat(0);
  NOUNROLL for (int k = 0; k < 16; k++) {
    v128_t g[4];
    q6_Kx4_decode(b->q[k], g);
    const v128_t sc = s.sc[k];
    for (int t = 0; t < nt; t++) {
      const int8_t* a = y[t][i].qs + 16 * k;
      const v128_t p0 = wasm_i16x8_add(RDOT(SPLAT4(a), g[0]), RDOT(SPLAT4(a + 4), g[1]));
      const v128_t p1 = wasm_i16x8_add(RDOT(SPLAT4(a + 8), g[2]), RDOT(SPLAT4(a + 12), g[3]));
      acc[t].isum = wasm_i32x4_add(acc[t].isum, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, sc), wasm_i32x4_dot_i16x8(p1, sc)));
    }
  }
#endif
  q6_K_finish(&s, i, y, acc, nt);
}

// Decode over q6_Kx4 groups: four rows per lane, one scale vector per
// sub-block of 64 weights (the one-row kernel applies a scale per 16), steps
// of one sub-block ended by PIN (relaxed.h). The same exact int32 sums and
// float steps per row as every other q6_K path. 1.06-1.09x q6_Kp (4096x4096,
// one thread, CPU time). The scale vectors come from one sign-extending load
// per two sub-blocks and an unpack each: Q6_LANES' byte shuffle needs a
// mask V8 rebuilds from two 64-bit immediates at every use (0.88x).
// Tried: the -32 offset in the loop, one pmaddwd per sub-block against the
// broadcast bsum (the extra registers cost spills: no faster).
// The -32 offset of a group's super-block: lane j = sum over k of scale(j, k) * bsum(k).
static inline v128_t q6_Kx4_offset(const block_q6_Kx4* b, const block_q8_K* yi) {
  v128_t off = wasm_i32x4_const_splat(0);
  const int8_t* sp = b->scales;
  NOUNROLL for (unsigned p = 0; p < 8; p++, sp += 8) {
    const v128_t e = wasm_i16x8_load8x8(sp);
    const v128_t pair = wasm_i16x8_shuffle(e, wasm_i64x2_shuffle(e, e, 1, 1), 0, 8, 1, 9, 2, 10, 3, 11);
    off = wasm_i32x4_add(off, wasm_i32x4_dot_i16x8(pair, wasm_v128_load32_splat(yi->bsums + 2 * p)));
  }
  return off;
}

// Two groups at a time sharing the activation broadcasts, as q4_Kx4_pairs.
// Steps of one sub-block of each group, ended by PIN. 1.07-1.1x one group at
// a time (4096x4096), 1.05x from memory (32768x4096). The scale load of the
// last sub-block reads 4 bytes of d, inside the block.
static int q6_Kx4_pairs(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r, int r0, int r1, int first) {
  v128_t pins[2];
  for (; r + 4 < r1; r += 8) {
    const block_q6_Kx4* ba = (const block_q6_Kx4*)(w + (size_t)r * row_bytes);
    const block_q6_Kx4* bb = (const block_q6_Kx4*)(w + (size_t)(r + 4) * row_bytes);
    for (int c0 = 0; c0 < nb; c0 += KB) {
      v128_t suma = wasm_f32x4_const_splat(0.0f), sumb = suma;
      for (int i = c0; i < (nb - c0 < KB ? nb : c0 + KB); i++, ba++, bb++) {
        v128_t isuma = wasm_i32x4_const_splat(0), isumb = isuma;
        const uint8_t* qa = ba->q[0];
        const uint8_t* qb = bb->q[0];
        const int8_t* a = y[i].qs;
        const int8_t* spa = ba->scales;
        const int8_t* spb = bb->scales;
        NOUNROLL for (unsigned k = 0; k < 16; k++, qa += 48, qb += 48, a += 16, spa += 4, spb += 4) {
          // sub-block k's scales: lanes j of the sign-extending load, duplicated into lanes 2j, 2j + 1
          const v128_t ea = wasm_i16x8_load8x8(spa), eb = wasm_i16x8_load8x8(spb);
          const v128_t s0 = SPLAT4(a), s1 = SPLAT4(a + 4), s2 = SPLAT4(a + 8), s3 = SPLAT4(a + 12);
          v128_t g[4];
          q6_Kx4_decode(qa, g);
          v128_t sc = wasm_i16x8_shuffle(ea, ea, 0, 0, 1, 1, 2, 2, 3, 3);
          isuma = wasm_i32x4_add(isuma, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_add(RDOT(s0, g[0]), RDOT(s1, g[1])), sc),
                                                       wasm_i32x4_dot_i16x8(wasm_i16x8_add(RDOT(s2, g[2]), RDOT(s3, g[3])), sc)));
          q6_Kx4_decode(qb, g);
          sc = wasm_i16x8_shuffle(eb, eb, 0, 0, 1, 1, 2, 2, 3, 3);
          isumb = wasm_i32x4_add(isumb, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_add(RDOT(s0, g[0]), RDOT(s1, g[1])), sc),
                                                       wasm_i32x4_dot_i16x8(wasm_i16x8_add(RDOT(s2, g[2]), RDOT(s3, g[3])), sc)));
          PIN(isuma, pins[0]);
          PIN(isumb, pins[1]);
        }
        const v128_t ad = wasm_f32x4_splat(y[i].d);
        isuma = wasm_i32x4_sub(isuma, wasm_i32x4_shl(q6_Kx4_offset(ba, &y[i]), 5));
        isumb = wasm_i32x4_sub(isumb, wasm_i32x4_shl(q6_Kx4_offset(bb, &y[i]), 5));
        suma = wasm_f32x4_add(suma, wasm_f32x4_mul(wasm_f32x4_mul(f16x4_at(ba->d), ad), wasm_f32x4_convert_i32x4(isuma)));
        sumb = wasm_f32x4_add(sumb, wasm_f32x4_mul(wasm_f32x4_mul(f16x4_at(bb->d), ad), wasm_f32x4_convert_i32x4(isumb)));
      }
      store4(suma, out, r, r0, r1, first && c0 == 0);
      store4(sumb, out, r + 4, r0, r1, first && c0 == 0);
    }
  }
  return r;
}


// Four groups at a time, a quarter of this thread's groups apart (four
// streams from memory), as q4_Kx4_quads: each step's broadcasts serve all
// four; PIN after each group keeps the next group's loads behind its
// arithmetic. Against q6_Kx4_pairs: 1.45-1.5x from memory (32768x4096),
// 1.07x in cache. Touching lines ahead (see q4_Kx4_quads): nothing from
// memory, 0.92x in cache.
static int q6_Kx4_quads(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r0, int r1, int first) {
  v128_t pins[4];
  const int rb = r0 & ~3, nq = ((r1 - rb + 3) >> 2) >> 2, qs = 4 * nq;  // quads; rows between a quad's groups
  for (int j = 0; j < nq; j++) {
    const int r = rb + 4 * j;
    const block_q6_Kx4* ba = (const block_q6_Kx4*)(w + (size_t)r * row_bytes);
    const block_q6_Kx4* bb = (const block_q6_Kx4*)(w + (size_t)(r + qs) * row_bytes);
    const block_q6_Kx4* bc = (const block_q6_Kx4*)(w + (size_t)(r + 2 * qs) * row_bytes);
    const block_q6_Kx4* bd = (const block_q6_Kx4*)(w + (size_t)(r + 3 * qs) * row_bytes);
    for (int c0 = 0; c0 < nb; c0 += KB) {  // activation chunks of KB super-blocks: each a sum of its own, added to out as the batch kernel adds them
      v128_t suma = wasm_f32x4_const_splat(0.0f), sumb = suma, sumc = suma, sumd = suma;
      for (int i = c0; i < (nb - c0 < KB ? nb : c0 + KB); i++, ba++, bb++, bc++, bd++) {
        v128_t isuma = wasm_i32x4_const_splat(0), isumb = isuma, isumc = isuma, isumd = isuma;
        const uint8_t* qa = ba->q[0];
        const uint8_t* qb = bb->q[0];
        const uint8_t* qc = bc->q[0];
        const uint8_t* qd = bd->q[0];
        const int8_t* a = y[i].qs;
        const int8_t* spa = ba->scales;
        const int8_t* spb = bb->scales;
        const int8_t* spc = bc->scales;
        const int8_t* spd = bd->scales;
        NOUNROLL for (unsigned k = 0; k < 16; k++, qa += 48, qb += 48, qc += 48, qd += 48, a += 16, spa += 4, spb += 4, spc += 4, spd += 4) {
          const v128_t s0 = SPLAT4(a), s1 = SPLAT4(a + 4), s2 = SPLAT4(a + 8), s3 = SPLAT4(a + 12);
          v128_t g[4], e, sc;
  #define Q6_QUAD_GROUP(q, sp, isum, slot)                                                                                   \
          e = wasm_i16x8_load8x8(sp);                                                                                        \
          q6_Kx4_decode(q, g);                                                                                               \
          sc = wasm_i16x8_shuffle(e, e, 0, 0, 1, 1, 2, 2, 3, 3);                                                             \
          isum = wasm_i32x4_add(isum, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_add(RDOT(s0, g[0]), RDOT(s1, g[1])), sc), \
                                                     wasm_i32x4_dot_i16x8(wasm_i16x8_add(RDOT(s2, g[2]), RDOT(s3, g[3])), sc))); \
          PIN(isum, pins[slot]);
          Q6_QUAD_GROUP(qa, spa, isuma, 0)
          Q6_QUAD_GROUP(qb, spb, isumb, 1)
          Q6_QUAD_GROUP(qc, spc, isumc, 2)
          Q6_QUAD_GROUP(qd, spd, isumd, 3)
  #undef Q6_QUAD_GROUP
        }
        const v128_t ad = wasm_f32x4_splat(y[i].d);
        isuma = wasm_i32x4_sub(isuma, wasm_i32x4_shl(q6_Kx4_offset(ba, &y[i]), 5));
        isumb = wasm_i32x4_sub(isumb, wasm_i32x4_shl(q6_Kx4_offset(bb, &y[i]), 5));
        isumc = wasm_i32x4_sub(isumc, wasm_i32x4_shl(q6_Kx4_offset(bc, &y[i]), 5));
        isumd = wasm_i32x4_sub(isumd, wasm_i32x4_shl(q6_Kx4_offset(bd, &y[i]), 5));
        suma = wasm_f32x4_add(suma, wasm_f32x4_mul(wasm_f32x4_mul(f16x4_at(ba->d), ad), wasm_f32x4_convert_i32x4(isuma)));
        sumb = wasm_f32x4_add(sumb, wasm_f32x4_mul(wasm_f32x4_mul(f16x4_at(bb->d), ad), wasm_f32x4_convert_i32x4(isumb)));
        sumc = wasm_f32x4_add(sumc, wasm_f32x4_mul(wasm_f32x4_mul(f16x4_at(bc->d), ad), wasm_f32x4_convert_i32x4(isumc)));
        sumd = wasm_f32x4_add(sumd, wasm_f32x4_mul(wasm_f32x4_mul(f16x4_at(bd->d), ad), wasm_f32x4_convert_i32x4(isumd)));
      }
      store4(suma, out, r, r0, r1, first && c0 == 0);
      store4(sumb, out, r + qs, r0, r1, first && c0 == 0);
      store4(sumc, out, r + 2 * qs, r0, r1, first && c0 == 0);
      store4(sumd, out, r + 3 * qs, r0, r1, first && c0 == 0);
    }
  }
  return rb + 16 * nq;
}

static void q6_Kx4_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r0, int r1, int first) {
  v128_t pin;
  int rq = q6_Kx4_quads(w, row_bytes, y, out, nb, r0, r1, first);
  for (int r = q6_Kx4_pairs(w, row_bytes, y, out, nb, rq, r0, r1, first); r < r1; r += 4) {
    const block_q6_Kx4* b = (const block_q6_Kx4*)(w + (size_t)r * row_bytes);
    for (int c0 = 0; c0 < nb; c0 += KB) {
      v128_t sum = wasm_f32x4_const_splat(0.0f);
      for (int i = c0; i < (nb - c0 < KB ? nb : c0 + KB); i++, b++) {
        v128_t isum = wasm_i32x4_const_splat(0);
        const uint8_t* q = b->q[0];
        const int8_t* a = y[i].qs;
        const int8_t* sp = b->scales;
        NOUNROLL for (unsigned k = 0; k < 16; k += 2, sp += 8) {
          // sub-blocks k, k + 1: the rows' scales sign-extended (i16 lanes j, 4 + j), each duplicated into lanes 2j, 2j + 1
          const v128_t e = wasm_i16x8_load8x8(sp);
          const v128_t scs[2] = {wasm_i16x8_shuffle(e, e, 0, 0, 1, 1, 2, 2, 3, 3), wasm_i16x8_shuffle(e, e, 4, 4, 5, 5, 6, 6, 7, 7)};
          UNROLL for (int h = 0; h < 2; h++, q += 48, a += 16) {
            v128_t g[4];
            q6_Kx4_decode(q, g);
            const v128_t p0 = wasm_i16x8_add(RDOT(SPLAT4(a), g[0]), RDOT(SPLAT4(a + 4), g[1]));
            const v128_t p1 = wasm_i16x8_add(RDOT(SPLAT4(a + 8), g[2]), RDOT(SPLAT4(a + 12), g[3]));
            isum = wasm_i32x4_add(isum, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, scs[h]), wasm_i32x4_dot_i16x8(p1, scs[h])));
            PIN(isum, pin);
          }
        }
        // the -32 offset: lane j += scale(j, 2p) * bsum(2p) + scale(j, 2p + 1) * bsum(2p + 1)
        v128_t off = wasm_i32x4_const_splat(0);
        sp = b->scales;
        NOUNROLL for (unsigned p = 0; p < 8; p++, sp += 8) {
          const v128_t e = wasm_i16x8_load8x8(sp);
          const v128_t pair = wasm_i16x8_shuffle(e, wasm_i64x2_shuffle(e, e, 1, 1), 0, 8, 1, 9, 2, 10, 3, 11);
          off = wasm_i32x4_add(off, wasm_i32x4_dot_i16x8(pair, wasm_v128_load32_splat(y[i].bsums + 2 * p)));
        }
        isum = wasm_i32x4_sub(isum, wasm_i32x4_shl(off, 5));
        sum = wasm_f32x4_add(sum, wasm_f32x4_mul(wasm_f32x4_mul(f16x4_at(b->d), wasm_f32x4_splat(y[i].d)), wasm_f32x4_convert_i32x4(isum)));
      }
      store4(sum, out, r, r0, r1, first && c0 == 0);
    }
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

// layout: 0 plain rows, 1 q6_Kp, 2 q6_Kx4. One token over q6_Kx4: the column
// chunks inside the decode kernels, as q4_K_mul_mat explains.
static inline void q6_K_mul_mat(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                int n, int n_tok, int r0, int r1, int layout) {
  const int packed = layout == 1;
  const block_q8_K* y[MM_TOK];
  q6_K_acc acc[MM_TOK];
  if (layout == 2 && n_tok == 1) {
    // decode: the x4 kernels take every chunk of a group before the next
    // group, so each stream reads its groups' bytes front to back
    q6_Kx4_rows((const uint8_t*)w, row_bytes, (const block_q8_K*)a, out, n / QK_K, r0, r1, 1);
    return;
  }
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
      const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / QK_K;
      for (int t = 0; t < nt; t++) y[t] = (const block_q8_K*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / QK_K;
      const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / QK_K) * sizeof(block_q6_K);  // = a group's block / 4 rows
      float* o = out + (size_t)t0 * out_stride;
      if (layout == 2) {
        wc = (const uint8_t*)w + (size_t)(c0 / QK_K) * sizeof(block_q6_Kx4);
        if (nt == 1) {
          q6_Kx4_rows(wc, row_bytes, y[0], o, nb, r0, r1, c0 == 0);
          continue;
        }
        for (int r = r0 & ~3; r < r1; r += 4) {
          const block_q6_Kx4* b = (const block_q6_Kx4*)(wc + (size_t)r * row_bytes);
          for (int t = 0; t < nt; t++) acc[t].sum = wasm_f32x4_const_splat(0.0f);
          for (int i = 0; i < nb; i++) q6_Kx4_superblock(b + i, i, y, acc, nt);
          for (int t = 0; t < nt; t++) store4(acc[t].sum, o + (size_t)t * out_stride, r, r0, r1, c0 == 0);
        }
        continue;
      }
      if (nt == 1) {
        q6_K_rows(wc, row_bytes, y[0], o, nb, r0, r1, c0 == 0, packed);
        continue;
      }
      for (int r = r0; r < r1; r += 4) {
        const block_q6_K* x[4];
        for (int j = 0; j < 4; j++) x[j] = (const block_q6_K*)(wc + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes);
        for (int t = 0; t < nt; t++) acc[t].sum = wasm_f32x4_const_splat(0.0f);
        for (int i = 0; i < nb; i++) q6_K_superblock(x, i, y, acc, nt, packed);
        for (int t = 0; t < nt; t++) store4(acc[t].sum, o + (size_t)t * out_stride, r, r0, r1, c0 == 0);
      }
    }
  }
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
  const v128_t top = wasm_i8x16_const_splat((int8_t)0xC0);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    for (int i = 0; i < nb; i++) {
      const block_q6_K* x[4];
      for (int j = 0; j < 4; j++) x[j] = (const block_q6_K*)((const uint8_t*)scratch + (size_t)j * row_bytes) + i;
      block_q6_Kx4* g = (block_q6_Kx4*)base + i;
      for (int s = 0; s < 4; s++) {  // q6_K_decode's step s: elements 128h + l0 + 32m .. +15, sub-block 8h + l0/16 + 2m
        const int h = s >> 1, l0 = 16 * (s & 1);
        v128_t q[4][4];
        for (int j = 0; j < 4; j++) q6_K_decode(x[j], h, l0, q[j], 0);
        for (int m = 0; m < 4; m++) {
          v128_t e[4];
          transpose4(q[0][m], q[1][m], q[2][m], q[3][m], e);
          uint8_t* p = g->q[8 * h + l0 / 16 + 2 * m];
          // e[3]'s bits 0-1, 2-3, 4-5 to the top of vectors 0, 1, 2 (u16 shifts: the mask keeps each byte's own bits)
          wasm_v128_store(p, wasm_v128_or(e[0], wasm_v128_and(wasm_i16x8_shl(e[3], 6), top)));
          wasm_v128_store(p + 16, wasm_v128_or(e[1], wasm_v128_and(wasm_i16x8_shl(e[3], 4), top)));
          wasm_v128_store(p + 32, wasm_v128_or(e[2], wasm_v128_and(wasm_i16x8_shl(e[3], 2), top)));
        }
      }
      for (int G = 0; G < 4; G++)
        for (int k = 0; k < 4; k++)
          for (int j = 0; j < 4; j++) g->scales[16 * G + 4 * k + j] = x[j]->scales[4 * G + k];
      for (int j = 0; j < 4; j++) g->d[j] = x[j]->d;
    }
  }
}
