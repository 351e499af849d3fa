// Legacy block quants: q4_0, q4_1, q5_0, q5_1, q8_0 weights against q8_0 /
// q8_1 activations, the activation quantizers, and dequantize_row_*. The
// scalar references (the test oracle) are in formats/quant/legacy.ts.
//
// How the matvecs are fast (measured on a 4096x4096 matvec, see bench/):
// - The activation is widened to int16 (and its f16 block scales to f32)
//   once per matvec, not once per row, so the inner loop is one
//   i32x4.dot_i16x8_s per 8 weights with no activation unpacking.
// - The weight block scale becomes f32 in four integer ops (fp16_unscaled);
//   the 2^112 it lacks is pre-multiplied into the activation's scales. So
//   weights stay in GGUF block layout at little cost.
// - q4_0/q4_1 nibbles are unpacked straight into i16 lanes, in an element
//   order the activation is widened to match (DECODE_Q4_PERM).
// - One row and one block per loop step (see DEFINE_DOT for what lost).
#include "common.h"

#include "legacy-blocks.h"

_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 is 18 bytes");
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 is 20 bytes");
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 is 22 bytes");
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1 is 24 bytes");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 is 34 bytes");
_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 is 36 bytes");

// ---------------------------------------------------------------------------
// activation quantizers: same bytes as ggml's quantize_row_q8_0_ref /
// quantize_row_q8_1_ref (d = amax/127 rounded to f16, q = roundf(x/d))

// C's roundf (half away from zero), then truncated to int32, for |v| <= 130
// (a quant before rounding: |x/d| <= 127 and a little) and for inf and NaN:
// v plus 0.5 - 2^-25 with v's sign, truncated. The sum rounds so that its
// integer part is roundf(v) for every such float (checked against roundf
// for all of them); 0.5 itself would carry 0.49999997 up to 1. Three ops and
// the truncating conversion, where trunc, the exact fraction and a compare
// took eight. wasm's f32x4.nearest rounds half to even.
static inline v128_t i32x4_roundf(v128_t v) {
  const v128_t h = wasm_v128_or(wasm_v128_and(v, wasm_i32x4_const_splat((int32_t)0x80000000u)),
                                wasm_f32x4_const_splat(0x1.fffffep-2f));
  return wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_add(v, h));
}

// The largest |x| of one block of 32, in every lane.
static inline v128_t block_amax(const float* x) {
  v128_t amax = wasm_f32x4_abs(wasm_v128_load(x));
  for (int j = 1; j < 8; j++) amax = wasm_f32x4_max(amax, wasm_f32x4_abs(wasm_v128_load(x + 4 * j)));
  amax = wasm_f32x4_max(amax, wasm_i32x4_shuffle(amax, amax, 2, 3, 0, 1));
  return wasm_f32x4_max(amax, wasm_i32x4_shuffle(amax, amax, 1, 0, 3, 2));
}

// The 32 quants of one block for the inverse scale in every lane of vid;
// returns their integer sum (for q8_1's s).
static inline int quantize_block_q8_id(const float* x, v128_t vid, int8_t* qs) {
  v128_t q32[8];
  for (int j = 0; j < 8; j++) q32[j] = i32x4_roundf(wasm_f32x4_mul(wasm_v128_load(x + 4 * j), vid));
  // |q| <= 127, so the saturating narrows never saturate
  const v128_t q16a = wasm_i16x8_narrow_i32x4(q32[0], q32[1]), q16b = wasm_i16x8_narrow_i32x4(q32[2], q32[3]);
  const v128_t q16c = wasm_i16x8_narrow_i32x4(q32[4], q32[5]), q16d = wasm_i16x8_narrow_i32x4(q32[6], q32[7]);
  wasm_v128_store(qs, wasm_i8x16_narrow_i16x8(q16a, q16b));
  wasm_v128_store(qs + 16, wasm_i8x16_narrow_i16x8(q16c, q16d));
  const v128_t sum16 = wasm_i16x8_add(wasm_i16x8_add(q16a, q16b), wasm_i16x8_add(q16c, q16d));
  return i32x4_hsum(wasm_i32x4_extadd_pairwise_i16x8(sum16));
}

// d = amax / 127 and id = 1 / d (0 when d is 0), lane by lane: the f32
// division is correctly rounded in a vector as in a scalar.
static inline v128_t scales_q8(v128_t amax, v128_t* vid) {
  const v128_t d = wasm_f32x4_div(amax, wasm_f32x4_const_splat(127.0f));
  *vid = wasm_v128_and(wasm_f32x4_div(wasm_f32x4_const_splat(1.0f), d), wasm_f32x4_ne(d, wasm_f32x4_const_splat(0.0f)));
  return d;
}

// Four blocks at a time, their four scales and inverses in one vector each
// (two divisions per four blocks, not per block); `stride` bytes from one
// block to the next, quants `qs_off` bytes into a block, d at its start and
// for q8_1 s (= sum * d) after it.
static void quantize_row_q8(const float* x, uint8_t* y, int stride, int qs_off, int with_s, int n) {
  const int nb = n / QK;
  int b = 0;
  for (; b + 4 <= nb; b += 4) {
    const float* xb = x + b * QK;
    const v128_t a0 = block_amax(xb), a1 = block_amax(xb + QK), a2 = block_amax(xb + 2 * QK), a3 = block_amax(xb + 3 * QK);
    // lane j: block j's amax (every lane of aj holds it)
    const v128_t amax = wasm_i32x4_shuffle(wasm_i32x4_shuffle(a0, a1, 0, 4, 0, 4), wasm_i32x4_shuffle(a2, a3, 0, 4, 0, 4), 0, 1, 4, 5);
    v128_t vid;
    const v128_t d = scales_q8(amax, &vid);
    float dj[4];
    int sj[4];
    wasm_v128_store(dj, d);
    uint8_t* yb = y + (size_t)b * stride;
    sj[0] = quantize_block_q8_id(xb, wasm_i32x4_shuffle(vid, vid, 0, 0, 0, 0), (int8_t*)(yb + qs_off));
    sj[1] = quantize_block_q8_id(xb + QK, wasm_i32x4_shuffle(vid, vid, 1, 1, 1, 1), (int8_t*)(yb + stride + qs_off));
    sj[2] = quantize_block_q8_id(xb + 2 * QK, wasm_i32x4_shuffle(vid, vid, 2, 2, 2, 2), (int8_t*)(yb + 2 * stride + qs_off));
    sj[3] = quantize_block_q8_id(xb + 3 * QK, wasm_i32x4_shuffle(vid, vid, 3, 3, 3, 3), (int8_t*)(yb + 3 * stride + qs_off));
    for (int j = 0; j < 4; j++) {
      uint16_t* h = (uint16_t*)(yb + (size_t)j * stride);
      h[0] = fp32_to_fp16(dj[j]);
      if (with_s) h[1] = fp32_to_fp16((float)sj[j] * dj[j]);
    }
  }
  for (; b < nb; b++) {
    const float* xb = x + b * QK;
    v128_t vid;
    const float d = wasm_f32x4_extract_lane(scales_q8(block_amax(xb), &vid), 0);
    uint8_t* yb = y + (size_t)b * stride;
    const int sum = quantize_block_q8_id(xb, vid, (int8_t*)(yb + qs_off));
    uint16_t* h = (uint16_t*)yb;
    h[0] = fp32_to_fp16(d);
    if (with_s) h[1] = fp32_to_fp16((float)sum * d);
  }
}

void EXPORT(quantize_row_q8_0)(const float* x, void* vy, int n) {
  quantize_row_q8(x, vy, sizeof(block_q8_0), offsetof(block_q8_0, qs), 0, n);
}

void EXPORT(quantize_row_q8_1)(const float* x, void* vy, int n) {
  quantize_row_q8(x, vy, sizeof(block_q8_1), offsetof(block_q8_1, qs), 1, n);
}


// ---------------------------------------------------------------------------
// widened activation: one chunk of q8_0 / q8_1 blocks, unpacked once per
// matvec for every row to use.

typedef struct {
  int16_t q[ACT_CHUNK];         // quants as int16, natural or PERMUTED order
  float d[ACT_CHUNK / QK];      // block scale times 2^112 (see fp16_unscaled)
  float s[ACT_CHUNK / QK];      // q8_1 only: s times 2^112
  int32_t bias[ACT_CHUNK / QK]; // PERMUTED only: -8 * sum(q), q4_0's offset
} act_chunk;

enum { NATURAL = 0, PERMUTED = 1 };

// q8_0 and q8_1 share the quants' layout after their header, so one widener
// serves both: `stride` is the block size, `has_s` says whether s follows d.
static void widen_act(const uint8_t* y, int stride, int has_s, int nb, int order, act_chunk* a) {
  for (int b = 0; b < nb; b++) {
    const uint8_t* blk = y + (size_t)b * stride;
    const int8_t* qs = (const int8_t*)(blk + (has_s ? 4 : 2));
    int16_t* q = a->q + QK * b;
    if (order == NATURAL) {
      const v128_t lo = wasm_v128_load(qs), hi = wasm_v128_load(qs + 16);
      wasm_v128_store(q, wasm_i16x8_extend_low_i8x16(lo));
      wasm_v128_store(q + 8, wasm_i16x8_extend_high_i8x16(lo));
      wasm_v128_store(q + 16, wasm_i16x8_extend_low_i8x16(hi));
      wasm_v128_store(q + 24, wasm_i16x8_extend_high_i8x16(hi));
    } else {
      // as u16 lanes, byte 2k is the low half (even element), 2k+1 the high
      const v128_t lo = wasm_v128_load(qs), hi = wasm_v128_load(qs + 16);
      const v128_t e0 = wasm_i16x8_shr(wasm_i16x8_shl(lo, 8), 8), o0 = wasm_i16x8_shr(lo, 8);
      const v128_t e1 = wasm_i16x8_shr(wasm_i16x8_shl(hi, 8), 8), o1 = wasm_i16x8_shr(hi, 8);
      wasm_v128_store(q, e0);
      wasm_v128_store(q + 8, o0);
      wasm_v128_store(q + 16, e1);
      wasm_v128_store(q + 24, o1);
      const v128_t sum = wasm_i16x8_add(wasm_i16x8_add(e0, o0), wasm_i16x8_add(e1, o1));
      a->bias[b] = -8 * i32x4_hsum(wasm_i32x4_extadd_pairwise_i16x8(sum));
    }
    a->d[b] = fp16_to_fp32(*(const uint16_t*)blk) * F16_UNSCALE;  // <= 65504 * 2^112: finite
    if (has_s) a->s[b] = fp16_to_fp32(*(const uint16_t*)(blk + 2)) * F16_UNSCALE;
  }
}

// ---------------------------------------------------------------------------
// one weight row x one widened activation chunk

static inline v128_t dot_block(v128_t w0, v128_t w1, v128_t w2, v128_t w3, const int16_t* act) {
  const v128_t p01 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(w0, wasm_v128_load(act)),
                                    wasm_i32x4_dot_i16x8(w1, wasm_v128_load(act + 8)));
  const v128_t p23 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(w2, wasm_v128_load(act + 16)),
                                    wasm_i32x4_dot_i16x8(w3, wasm_v128_load(act + 24)));
  return wasm_i32x4_add(p01, p23);
}

// BIAS(...) and MIN(...) expand their argument only for the types that have
// q4_0's offset or a min.
#define WITH(...) __VA_ARGS__
#define WITHOUT(...)

// One block's contribution, added to acc (and the min term to msum): the exact
// integer dot (|sum| < 2^24, so converting it to f32 is exact) times the f32
// product of the two scales, as ggml computes it. Types with a min add m * s:
// ggml uses the activation's stored f16 s, not the sum of its dequantized
// values, so we do too.
#define BLOCK_STEP(DECODE, BIAS, MIN, blk, a, b, acc, msum) do {                                      \
    v128_t w0, w1, w2, w3;                                                                        \
    DECODE(blk, w0, w1, w2, w3);                                                                  \
    v128_t p = dot_block(w0, w1, w2, w3, (a)->q + QK * (b));                                      \
    BIAS(p = wasm_i32x4_add(p, wasm_v128_load32_zero(&(a)->bias[b]));)                            \
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(p),                         \
                                             wasm_f32x4_splat(fp16_unscaled(&(blk)->d) * (a)->d[b]))); \
    MIN(msum += fp16_unscaled(&(blk)->m) * (a)->s[b];)                                             \
  } while (0)

// One accumulator, one block per step. Measured slower here (Node 20 / V8 on
// x86-64): two, three or four rows per step sharing the activation loads (the
// design notes' starting point; 2 rows cost Q8_0 about 25%), two blocks per
// step with two accumulators, and four blocks per step with their sums and
// scales reduced as vectors. V8 seems to do best with the smallest loop body.
#define DEFINE_DOT(NAME, BLOCK, DECODE, BIAS, MIN)                                                  \
  static float NAME(const BLOCK* x, const act_chunk* a, int nb) {                                 \
    v128_t acc = wasm_f32x4_splat(0.0f);                                                          \
    float msum = 0.0f;                                                                            \
    for (int b = 0; b < nb; b++) BLOCK_STEP(DECODE, BIAS, MIN, &x[b], a, b, acc, msum);           \
    return f32x4_hsum(acc) + msum;                                                                \
  }

DEFINE_DOT(dot_q4_0, block_q4_0, DECODE_Q4_PERM, WITH, WITHOUT)
DEFINE_DOT(dot_q4_1, block_q4_1, DECODE_Q4_PERM, WITHOUT, WITH)
DEFINE_DOT(dot_q5_0, block_q5_0, DECODE_Q5_0, WITHOUT, WITHOUT)
DEFINE_DOT(dot_q5_1, block_q5_1, DECODE_Q5_1, WITHOUT, WITH)
DEFINE_DOT(dot_q8_0, block_q8_0, DECODE_Q8_0, WITHOUT, WITHOUT)

// ---------------------------------------------------------------------------
// matvec over rows [r0, r1): out[r] = dot(row r, a). Columns go in chunks of
// ACT_CHUNK (one pass for n <= 8192); longer rows accumulate over passes.

#define DEFINE_MATVEC(WTYPE, ATYPE, HAS_S, ORDER)                                                   \
  void EXPORT(matvec_##WTYPE)(const void* w, int row_bytes, const void* a, float* out, int n,     \
                              int r0, int r1) {                                                   \
    act_chunk act __attribute__((aligned(16)));                                                   \
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {                                                   \
      const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / QK;                              \
      const int b0 = c0 / QK;                                                                     \
      widen_act((const uint8_t*)((const block_##ATYPE*)a + b0), sizeof(block_##ATYPE), HAS_S, nb, \
                ORDER, &act);                                                                     \
      for (int r = r0; r < r1; r++) {                                                             \
        const block_##WTYPE* x = (const block_##WTYPE*)((const uint8_t*)w + (size_t)r * row_bytes) + b0; \
        const float s = dot_##WTYPE(x, &act, nb);                                                 \
        out[r] = c0 == 0 ? s : out[r] + s;                                                        \
      }                                                                                           \
    }                                                                                             \
  }

DEFINE_MATVEC(q4_0, q8_0, 0, PERMUTED)
DEFINE_MATVEC(q4_1, q8_1, 1, PERMUTED)
DEFINE_MATVEC(q5_0, q8_0, 0, NATURAL)
DEFINE_MATVEC(q5_1, q8_1, 1, NATURAL)
DEFINE_MATVEC(q8_0, q8_0, 0, NATURAL)

// One row: the matvec's own path (so the tests of one cover the other).
#define DEFINE_VEC_DOT(WTYPE, ATYPE)                                               \
  float EXPORT(vec_dot_##WTYPE##_##ATYPE)(int n, const void* w, const void* a) {  \
    float out;                                                                     \
    matvec_##WTYPE(w, 0, a, &out, n, 0, 1);                                        \
    return out;                                                                    \
  }

DEFINE_VEC_DOT(q4_0, q8_0)
DEFINE_VEC_DOT(q4_1, q8_1)
DEFINE_VEC_DOT(q5_0, q8_0)
DEFINE_VEC_DOT(q5_1, q8_1)
DEFINE_VEC_DOT(q8_0, q8_0)

// ---------------------------------------------------------------------------
// dequantize: the same decoders, then q * d (+ m). q * d is exact in f32
// (at most 8 + 11 significant bits), so only the + m rounds, as in ggml.

static inline void store_scaled(float* y, v128_t w0, v128_t w1, v128_t w2, v128_t w3, float d, float m) {
  const v128_t vd = wasm_f32x4_splat(d), vm = wasm_f32x4_splat(m);
  const v128_t w[4] = {w0, w1, w2, w3};
  for (int k = 0; k < 4; k++) {
    const v128_t lo = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(w[k]));
    const v128_t hi = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(w[k]));
    wasm_v128_store(y + 8 * k, wasm_f32x4_add(wasm_f32x4_mul(lo, vd), vm));
    wasm_v128_store(y + 8 * k + 4, wasm_f32x4_add(wasm_f32x4_mul(hi, vd), vm));
  }
}

// Blocks without a min add -0.0f, which leaves every product (even -0) as is.
#define MIN_OF_WITHOUT(blk) (-0.0f)
#define MIN_OF_WITH(blk) fp16_to_fp32((blk)->m)

#define DEFINE_DEQUANT(WTYPE, DECODE, MIN)                                     \
  void EXPORT(dequantize_row_##WTYPE)(const void* vx, float* y, int n) {      \
    const block_##WTYPE* x = vx;                                               \
    for (int b = 0; b < n / QK; b++) {                                         \
      v128_t w0, w1, w2, w3;                                                   \
      DECODE(&x[b], w0, w1, w2, w3);                                           \
      store_scaled(y + QK * b, w0, w1, w2, w3, fp16_to_fp32(x[b].d), MIN_OF_##MIN(&x[b])); \
    }                                                                          \
  }

DEFINE_DEQUANT(q4_0, DECODE_Q4_0, WITHOUT)
DEFINE_DEQUANT(q4_1, DECODE_Q4_1, WITH)
DEFINE_DEQUANT(q5_0, DECODE_Q5_0, WITHOUT)
DEFINE_DEQUANT(q5_1, DECODE_Q5_1, WITH)
DEFINE_DEQUANT(q8_0, DECODE_Q8_0, WITHOUT)
