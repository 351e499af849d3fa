// Q6_K with relaxed SIMD: prefill four rows at a time (relaxed.h), decode
// one row at a time with the same float steps per row, so a batch gives the
// same bits as token by token.
//
// q6_Kp is Q6_K with its 192 quant bytes repacked at load (runtime/repack.ts,
// repack_q6_Kp): per 64 elements three vectors, each byte holding one
// quant's six bits and two bits of a fourth quant, which takes 11 ops to
// decode instead of 17 (decode 1.25 -> 1.1 ms per 4096x4096). Scales and d
// stay where they were; results are bit-identical to the file's layout.
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
    // u16 shifts move bits across bytes, but each mask keeps only bits that came from their own byte
    q[3] = wasm_v128_or(wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a, 6), wasm_i8x16_const_splat(0x03)),
                                     wasm_v128_and(wasm_u16x8_shr(b, 4), wasm_i8x16_const_splat(0x0C))),
                        wasm_v128_and(wasm_u16x8_shr(c, 2), wasm_i8x16_const_splat(0x30)));
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
  s->d = f16x4_to_f32x4(ROWS4_F16(x, i, d));
}

typedef struct { v128_t isum, sum; } q6_K_acc;

static inline void q6_K_superblock(const block_q6_K* const x[4], int i, const block_q8_K* const* y, q6_K_acc* acc, int nt,
                                   int packed) {
  q6_K_scales4 s;
  q6_K_scales(x, i, &s);
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

static inline void q6_K_mul_mat(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                int n, int n_tok, int r0, int r1, int packed) {
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
