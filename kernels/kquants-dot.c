// K-quants, part 2: dot products of k-quant weight rows with a q8_K
// activation (vec_dot_<t>_q8_K, matvec_<t>).
//
// How they are fast (measured on 4096x4096 matvecs, one thread; see the end):
// - The q8_K activation is widened to int16 once per matvec pass (act_K
//   below), so the inner loops are i32x4.dot_i16x8_s on ready operands.
// - Weight bytes are read as u16 lanes: a shift and a mask give the quant of
//   element 2k or 2k+1 already 16 bits wide, in the even/odd order that act_K
//   stores; no per-weight extend instructions.
// - Quants are used unsigned (q3/q6 without their -4/-32 offset, q2/q4/q5
//   without the min): offset or min times the activation's block sums comes
//   from the q8_K bsums once per super-block, as in ggml. Everything up to
//   the super-block is exact int32; then sum += d*ad*isum - dmin*ad*msum.
// - One row at a time, with small loop bodies (64 weights) that V8 unrolls
//   itself: that measured faster than 2-4 rows sharing activation loads or
//   fully unrolled super-blocks (V8 spills those, and they slowed down far
//   more when the machine was loaded). Also tried and not kept: scales
//   multiplied into the int16 quants instead of the int32 sums, activation
//   loads hoisted out of the row loop, one i32 multiply per 4 groups after a
//   transposing horizontal add (q3_K/q6_K), and branch-free f16 scales (no
//   faster, and inf scales came out finite where ggml gives inf/nan).
//
// Rows must hold n/256 whole super-blocks (n a multiple of 256, as in GGUF).
// Stack: one act_K chunk, 18 KiB.
#include "kquants.h"

// One q8_K super-block widened to int16 for i32x4.dot_i16x8_s. The weight
// kernels read their packed bytes two at a time as i16 lanes, so a lane
// yields the quants of elements 2k and 2k+1 in separate vectors; to meet them,
// each group of 16 activations is stored as its 8 even-index values followed
// by its 8 odd-index values. Every k-quant packs elements so that the two
// bytes of a lane are neighbours within one group of 16, so one permutation
// serves all types.
typedef struct {
  int16_t q[QK_K];
  int16_t bsums[QK_K / 16];   // copied from the q8_K block
  int16_t bsums32[QK_K / 32]; // sums of 32, for the q4_K/q5_K mins
  float d;
  float pad_[3];              // keeps the struct a multiple of 16 bytes
} act_K;

// Super-blocks per widened chunk (ACT_CHUNK, common.h, elements): 32, an
// 18 KiB stack buffer.
#define ACT_CHUNK_K (ACT_CHUNK / QK_K)

#define DOT(a, b) wasm_i32x4_dot_i16x8(a, b)
#define LOAD(p) wasm_v128_load(p)
#define ADD(a, b) wasm_i32x4_add(a, b)
#define AND(a, b) wasm_v128_and(a, b)
#define OR(a, b) wasm_v128_or(a, b)
#define SHR(a, k) wasm_u16x8_shr(a, k)
#define SHL(a, k) wasm_i16x8_shl(a, k)
// an int32 group sum times its (integer) scale
#define SCALED(s, sc) wasm_i32x4_mul(s, wasm_i32x4_splat(sc))
#define NOUNROLL _Pragma("clang loop unroll(disable)")

static void widen_q8_K(const block_q8_K* a, act_K* w, int nb) {
  for (int i = 0; i < nb; ++i) {
    for (int g = 0; g < QK_K; g += 16) {
      v128_t v = LOAD(a[i].qs + g);
      v = wasm_i8x16_shuffle(v, v, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
      wasm_v128_store(w[i].q + g, wasm_i16x8_extend_low_i8x16(v));
      wasm_v128_store(w[i].q + g + 8, wasm_i16x8_extend_high_i8x16(v));
    }
    const v128_t b0 = LOAD(a[i].bsums), b1 = LOAD(a[i].bsums + 8);
    wasm_v128_store(w[i].bsums, b0);
    wasm_v128_store(w[i].bsums + 8, b1);
    // |sum of 32| <= 32*127 fits int16, so the saturating narrow is exact
    wasm_v128_store(w[i].bsums32, wasm_i16x8_narrow_i32x4(wasm_i32x4_extadd_pairwise_i16x8(b0),
                                                          wasm_i32x4_extadd_pairwise_i16x8(b1)));
    w[i].d = a[i].d;
  }
}

// One group of 16 as a u16 vector t whose lanes hold two quants (element 2k
// in the low byte, 2k+1 in the high byte), dotted with act_K's even and odd
// halves of that group.
static inline v128_t dot16(v128_t t, const int16_t* ap) {
  return ADD(DOT(AND(t, wasm_i16x8_splat(0x00ff)), LOAD(ap)), DOT(SHR(t, 8), LOAD(ap + 8)));
}

// The same for 16 bytes of nibbles: the groups of 16 in their low nibbles
// and in their high nibbles. Masking the lane (not the bytes) first saves an
// op over splitting bytes.
static inline v128_t dot16_lo_nibbles(v128_t v, const int16_t* ap) {
  const v128_t m4 = wasm_i16x8_splat(0x000f);
  return ADD(DOT(AND(v, m4), LOAD(ap)), DOT(AND(SHR(v, 8), m4), LOAD(ap + 8)));
}
static inline v128_t dot16_hi_nibbles(v128_t v, const int16_t* ap) {
  const v128_t m4 = wasm_i16x8_splat(0x000f);
  return ADD(DOT(AND(SHR(v, 4), m4), LOAD(ap)), DOT(SHR(v, 12), LOAD(ap + 8)));
}

// sum + d * isum, where d is the weight scale times the activation scale as
// ggml forms it.
static inline v128_t add_superblock(v128_t sum, v128_t isum, float d) {
  return wasm_f32x4_add(sum, wasm_f32x4_mul(wasm_f32x4_splat(d), wasm_f32x4_convert_i32x4(isum)));
}

// ---------------------------------------------------------------- q4_K

// qs[32c + l] holds element 64c + l in its low nibble and 64c + 32 + l in its
// high nibble; 6-bit scale and min per 32 elements.
static float dot_q4_K(const block_q4_K* x, const act_K* a, int nb) {
  v128_t sum = wasm_f32x4_splat(0.0f), msum = sum;
  for (int i = 0; i < nb; ++i, ++x, ++a) {
    const v128_t smv = unpack_scales_k4(x->scales);
    uint8_t sm[16];
    wasm_v128_store(sm, smv);
    v128_t acc = wasm_i32x4_splat(0);
    NOUNROLL for (int c = 0; c < 4; ++c) {
      const int16_t* ap = a->q + 64 * c;
      const v128_t v0 = LOAD(x->qs + 32 * c), v1 = LOAD(x->qs + 32 * c + 16);
      const v128_t lo = ADD(dot16_lo_nibbles(v0, ap), dot16_lo_nibbles(v1, ap + 16));
      const v128_t hi = ADD(dot16_hi_nibbles(v0, ap + 32), dot16_hi_nibbles(v1, ap + 48));
      acc = ADD(acc, ADD(SCALED(lo, sm[2 * c]), SCALED(hi, sm[2 * c + 1])));
    }
    const v128_t mins = DOT(wasm_u16x8_extend_high_u8x16(smv), LOAD(a->bsums32));
    sum = add_superblock(sum, acc, fp16_to_fp32(x->d) * a->d);
    msum = add_superblock(msum, mins, fp16_to_fp32(x->dmin) * a->d);
  }
  return f32x4_hsum(wasm_f32x4_sub(sum, msum));
}

// ---------------------------------------------------------------- q5_K

// q4_K plus a fifth bit per quant: qh[l] bit 2c for element 64c + l, bit
// 2c + 1 for element 64c + 32 + l.
static float dot_q5_K(const block_q5_K* x, const act_K* a, int nb) {
  const v128_t m4 = wasm_i16x8_splat(0x0f0f), b5 = wasm_i16x8_splat(0x1010);
  v128_t sum = wasm_f32x4_splat(0.0f), msum = sum;
  for (int i = 0; i < nb; ++i, ++x, ++a) {
    const v128_t smv = unpack_scales_k4(x->scales);
    uint8_t sm[16];
    wasm_v128_store(sm, smv);
    v128_t acc = wasm_i32x4_splat(0);
    v128_t h0 = LOAD(x->qh), h1 = LOAD(x->qh + 16);
    NOUNROLL for (int c = 0; c < 4; ++c) {
      const int16_t* ap = a->q + 64 * c;
      const v128_t v0 = LOAD(x->qs + 32 * c), v1 = LOAD(x->qs + 32 * c + 16);
      // both bytes of a lane at once: low (high) nibble | qh bit 2c (2c + 1)
      // moved to bit 4
      const v128_t l0 = OR(AND(v0, m4), AND(SHL(h0, 4), b5));
      const v128_t l1 = OR(AND(v1, m4), AND(SHL(h1, 4), b5));
      const v128_t u0 = OR(AND(SHR(v0, 4), m4), AND(SHL(h0, 3), b5));
      const v128_t u1 = OR(AND(SHR(v1, 4), m4), AND(SHL(h1, 3), b5));
      const v128_t lo = ADD(dot16(l0, ap), dot16(l1, ap + 16));
      const v128_t hi = ADD(dot16(u0, ap + 32), dot16(u1, ap + 48));
      acc = ADD(acc, ADD(SCALED(lo, sm[2 * c]), SCALED(hi, sm[2 * c + 1])));
      h0 = SHR(h0, 2);
      h1 = SHR(h1, 2);
    }
    const v128_t mins = DOT(wasm_u16x8_extend_high_u8x16(smv), LOAD(a->bsums32));
    sum = add_superblock(sum, acc, fp16_to_fp32(x->d) * a->d);
    msum = add_superblock(msum, mins, fp16_to_fp32(x->dmin) * a->d);
  }
  return f32x4_hsum(wasm_f32x4_sub(sum, msum));
}

// ---------------------------------------------------------------- q6_K

// Two halves of 128 elements. In half n, ql[64n + l] holds element
// 128n + l (low nibble) and 128n + 64 + l (high), ql[64n + 32 + l] elements
// 128n + 32 + l and 128n + 96 + l, and qh[32n + l] their top two bits, in
// that order from bit 0. An int8 scale per 16 elements.
static float dot_q6_K(const block_q6_K* x, const act_K* a, int nb) {
  const v128_t m4 = wasm_i16x8_splat(0x0f0f), m6 = wasm_i16x8_splat(0x3030);
  v128_t sum = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < nb; ++i, ++x, ++a) {
    v128_t acc = wasm_i32x4_splat(0);
    // four steps of 64 elements: half n, lanes from bytes l0.. of its rows
    NOUNROLL for (int j = 0; j < 4; ++j) {
      const int n = j >> 1, l0 = 16 * (j & 1);
      const int16_t* ap = a->q + 128 * n + l0;
      const int8_t* sc = x->scales + 8 * n + l0 / 16;
      const v128_t v1 = LOAD(x->ql + 64 * n + l0), v2 = LOAD(x->ql + 64 * n + 32 + l0);
      const v128_t hh = LOAD(x->qh + 32 * n + l0);
      // quant + 32 = nibble | two bits << 4, both bytes of each lane at once
      const v128_t q0 = OR(AND(v1, m4), AND(SHL(hh, 4), m6));
      const v128_t q1 = OR(AND(v2, m4), AND(SHL(hh, 2), m6));
      const v128_t q2 = OR(AND(SHR(v1, 4), m4), AND(hh, m6));
      const v128_t q3 = OR(AND(SHR(v2, 4), m4), AND(SHR(hh, 2), m6));
      acc = ADD(acc, ADD(SCALED(dot16(q0, ap), sc[0]), SCALED(dot16(q1, ap + 32), sc[2])));
      acc = ADD(acc, ADD(SCALED(dot16(q2, ap + 64), sc[4]), SCALED(dot16(q3, ap + 96), sc[6])));
    }
    // the quants were used as 0..63: take away 32 * sum(scale * bsum)
    const v128_t scv = LOAD(x->scales);
    const v128_t off = ADD(DOT(wasm_i16x8_extend_low_i8x16(scv), LOAD(a->bsums)),
                           DOT(wasm_i16x8_extend_high_i8x16(scv), LOAD(a->bsums + 8)));
    sum = add_superblock(sum, wasm_i32x4_sub(acc, wasm_i32x4_shl(off, 5)), fp16_to_fp32(x->d) * a->d);
  }
  return f32x4_hsum(sum);
}

// ---------------------------------------------------------------- q3_K

// qs[32n + l] holds elements 128n + 32s + l in bits 2s..2s+1 (s = 0..3),
// hmask[l] their third bit in bit 4n + s (set means no -4 offset); a
// 6-bit scale (biased by 32) per 16 elements.
static float dot_q3_K(const block_q3_K* x, const act_K* a, int nb) {
  const v128_t m2 = wasm_i16x8_splat(0x0303), m3 = wasm_i16x8_splat(0x0404);
  v128_t sum = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < nb; ++i, ++x, ++a) {
    const v128_t scv = unpack_scales_q3_K(x->scales);
    int8_t sc[16];
    wasm_v128_store(sc, scv);
    v128_t acc = wasm_i32x4_splat(0);
    // four steps of 64 elements as in q6_K
    NOUNROLL for (int j = 0; j < 4; ++j) {
      const int n = j >> 1, l0 = 16 * (j & 1);
      const int16_t* ap = a->q + 128 * n + l0;
      const int8_t* s = sc + 8 * n + l0 / 16;
      const v128_t v = LOAD(x->qs + 32 * n + l0), hm = LOAD(x->hmask + l0);
      // hmask bits 4n..4n+3 of both bytes moved to bits 2..5
      const v128_t hn = n ? SHR(hm, 2) : SHL(hm, 2);
      // quant + 4 = two low bits | third bit << 2, in 0..7
      const v128_t q0 = OR(AND(v, m2), AND(hn, m3));
      const v128_t q1 = OR(AND(SHR(v, 2), m2), AND(SHR(hn, 1), m3));
      const v128_t q2 = OR(AND(SHR(v, 4), m2), AND(SHR(hn, 2), m3));
      const v128_t q3 = OR(AND(SHR(v, 6), m2), AND(SHR(hn, 3), m3));
      acc = ADD(acc, ADD(SCALED(dot16(q0, ap), s[0]), SCALED(dot16(q1, ap + 32), s[2])));
      acc = ADD(acc, ADD(SCALED(dot16(q2, ap + 64), s[4]), SCALED(dot16(q3, ap + 96), s[6])));
    }
    // take away 4 * sum(scale * bsum)
    const v128_t off = ADD(DOT(wasm_i16x8_extend_low_i8x16(scv), LOAD(a->bsums)),
                           DOT(wasm_i16x8_extend_high_i8x16(scv), LOAD(a->bsums + 8)));
    sum = add_superblock(sum, wasm_i32x4_sub(acc, wasm_i32x4_shl(off, 2)), fp16_to_fp32(x->d) * a->d);
  }
  return f32x4_hsum(sum);
}

// ---------------------------------------------------------------- q2_K

// qs as in q3_K without the third bit; scales[j] holds a 4-bit scale (low)
// and a 4-bit min (high) per 16 elements.
static float dot_q2_K(const block_q2_K* x, const act_K* a, int nb) {
  const v128_t m2 = wasm_i16x8_splat(0x0303);
  v128_t sum = wasm_f32x4_splat(0.0f), msum = sum;
  for (int i = 0; i < nb; ++i, ++x, ++a) {
    const v128_t sb = LOAD(x->scales);
    uint8_t sc[16];
    wasm_v128_store(sc, AND(sb, wasm_i8x16_splat(0x0f)));
    v128_t acc = wasm_i32x4_splat(0);
    NOUNROLL for (int j = 0; j < 4; ++j) {
      const int n = j >> 1, l0 = 16 * (j & 1);
      const int16_t* ap = a->q + 128 * n + l0;
      const uint8_t* s = sc + 8 * n + l0 / 16;
      const v128_t v = LOAD(x->qs + 32 * n + l0);
      const v128_t q0 = AND(v, m2), q1 = AND(SHR(v, 2), m2), q2 = AND(SHR(v, 4), m2), q3 = AND(SHR(v, 6), m2);
      acc = ADD(acc, ADD(SCALED(dot16(q0, ap), s[0]), SCALED(dot16(q1, ap + 32), s[2])));
      acc = ADD(acc, ADD(SCALED(dot16(q2, ap + 64), s[4]), SCALED(dot16(q3, ap + 96), s[6])));
    }
    const v128_t mn = wasm_u8x16_shr(sb, 4);
    const v128_t mins = ADD(DOT(wasm_u16x8_extend_low_u8x16(mn), LOAD(a->bsums)),
                            DOT(wasm_u16x8_extend_high_u8x16(mn), LOAD(a->bsums + 8)));
    sum = add_superblock(sum, acc, fp16_to_fp32(x->d) * a->d);
    msum = add_superblock(msum, mins, fp16_to_fp32(x->dmin) * a->d);
  }
  return f32x4_hsum(wasm_f32x4_sub(sum, msum));
}

// ---------------------------------------------------------------- entry points

// matvec over rows [r0, r1): the activation is widened ACT_CHUNK elements at
// a time (one pass for n <= 8192) and every row runs over each chunk, later
// chunks adding to out[r]. vec_dot is the one-row matvec, so tests of one
// cover the other.
#define DEFINE_KQ(t)                                                                                       \
  void EXPORT(matvec_##t)(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1) { \
    act_K act[ACT_CHUNK_K] __attribute__((aligned(16)));                                                   \
    const int nb = n / QK_K;                                                                               \
    for (int b0 = 0; b0 < nb; b0 += ACT_CHUNK_K) {                                                         \
      const int cb = nb - b0 < ACT_CHUNK_K ? nb - b0 : ACT_CHUNK_K;                                        \
      widen_q8_K((const block_q8_K*)a + b0, act, cb);                                                      \
      for (int r = r0; r < r1; ++r) {                                                                      \
        const block_##t* x = (const block_##t*)((const uint8_t*)w + (size_t)r * row_bytes) + b0;           \
        const float s = dot_##t(x, act, cb);                                                               \
        out[r] = b0 == 0 ? s : out[r] + s;                                                                 \
      }                                                                                                    \
    }                                                                                                      \
  }                                                                                                        \
  float EXPORT(vec_dot_##t##_q8_K)(int n, const void* w, const void* a) {                                  \
    float out = 0.0f;                                                                                      \
    matvec_##t(w, 0, a, &out, n, 0, 1);                                                                    \
    return out;                                                                                            \
  }

DEFINE_KQ(q2_K)
DEFINE_KQ(q3_K)
DEFINE_KQ(q4_K)
DEFINE_KQ(q5_K)
DEFINE_KQ(q6_K)

// Measured (Node 20, AMD EPYC Zen 4 VM shared with other jobs, one thread,
// 4096x4096, weights hot in L3, alternating runs in one process), in G
// weights/s and time per weight relative to legacy.c's q4_0 (14.9 Gw/s):
//   q2_K 12.9 (1.16x)  q3_K 10.0 (1.49x)  q4_K 13.9 (1.07x)
//   q5_K 11.3 (1.32x)  q6_K 11.4 (1.31x)
// With 32768 rows (75-107 MB, from DRAM) they stay within 1.6x of q4_0.
//
// Later (relaxed build, 4096x4096, one thread, CPU time, machine at load ~6):
// q5_K 5.75, q3_K 3.76, q2_K 3.28 GB/s against q4_Kx4 12.9 and q6_Kx4 10.9
// (kernels/relaxed/). What would close it: the relaxed byte dot on the q8_K
// bytes as stored (no widened activation, which costs two bytes of L1 reads
// per weight) in four-row groups. A repacked layout must give the bits of
// the plain one, so the relaxed module would have to replace these plain
// kernels too (RELAXED_OVERRIDES: mat_rows, matvec, mul_mat, vec_dot,
// mat_rows_id), with one set of float steps per super-block, as q4_K does.
// Done for q5_K, q3_K and q2_K (kernels/relaxed/q5_K-relaxed.c etc.; the
// q5_Kx4, q3_Kx4 and q2_Kx4 layouts).
