// TQ2_0 and TQ1_0 with relaxed SIMD: both on the plain rows, and TQ1_0 also
// on tq1_0x4, four rows side by side, repacked at load (runtime/repack.ts;
// below the plain kernels). The baseline kernels and the layouts are in ../ternary.c.
//
// Both store each weight as q = t + 1 in 0..2: the byte dot's 7-bit operand
// as it is (legacy-relaxed.c: exact on every engine), against the q8_K
// activation bytes as stored. sum(t * a) = sum(q * a) - sum(a), and sum(a)
// over a super-block is the sum of its 16 bsums: one int per block, shared
// by every row.
//
// TQ2_0, row by row ("horizontal"): byte 32c + 16h + i of a row holds, at bits 2l,
// the element 128c + 32l + 16h + i, so (v >> 2l) & 3 of the 16 bytes at
// 32c + 16h lines up with the 16 activation bytes at 128c + 32l + 16h,
// loaded once for all rows. A super-block's 16 byte dots per row add in
// int16 lanes (each lane sums 32 products |q * a| <= 2 * 128: <= 8192), then
// four rows' lanes reduce together to one vector, row j's exact int32 sum in
// lane j. TQ1_0 (five trits per byte) decodes each trit plane to bytes with
// byte adds and compares (tq1_q) and does the same with 16 byte dots per super-block.
// The float steps per row are ggml's reference order,
// acc += f32(isum) * (d_a * d_w) block after block, whichever rows run
// together: matvec is the one-token case of the batch, so a batch gives the
// bits of token by token and any thread split the same bits.
//
// TQ2_0's decode streams 8 rows at once, each from its own eighth of the
// thread's rows (independent streams for the prefetcher), with a PIN
// (relaxed.h) per 16-byte step so V8 keeps each step's arithmetic ahead of
// the next loads; then 4 adjacent rows, then the last 1..3 (the group's
// missing rows repeat the last one and are not stored). TQ1_0 (compute
// bound) runs 4 adjacent rows throughout. Measured (bench:kernels --alternate
// --cpu, one thread, busy machine), GB/s of weights, baseline -> this:
// 4096 rows TQ2_0 2.5 -> 8.0 (8 streams; 4 adjacent also 8.0), TQ1_0 1.9 ->
// 3.2 (8 streams 2.3); 32768 rows (from memory) TQ2_0 1.7 -> 7.3 (4 adjacent
// 3.2), TQ1_0 1.5 -> 2.7 (8 streams 2.6).
#include "../kquants.h"
#include "relaxed.h"

typedef struct { uint8_t qs[48]; uint8_t qh[4]; uint16_t d; } block_tq1_0;
typedef struct { uint8_t qs[64]; uint16_t d; } block_tq2_0;
_Static_assert(sizeof(block_tq1_0) == 54, "tq1_0 layout");
_Static_assert(sizeof(block_tq2_0) == 66, "tq2_0 layout");

// Rows per pass of the batch: each token runs over them while they are in cache.
#define TQ_ROWS 16

// Lane j: the sum of the four i32 lanes of s[j].
static inline v128_t hsum4_i32(v128_t s0, v128_t s1, v128_t s2, v128_t s3) {
  const v128_t a = wasm_i32x4_add(wasm_i32x4_shuffle(s0, s1, 0, 4, 1, 5), wasm_i32x4_shuffle(s0, s1, 2, 6, 3, 7));
  const v128_t b = wasm_i32x4_add(wasm_i32x4_shuffle(s2, s3, 0, 4, 1, 5), wasm_i32x4_shuffle(s2, s3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
}

static inline uint32_t f16_bits(const uint8_t* p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

// A super-block's end for gn rows (pointers p at their blocks, int16 dot
// sums l): acc[g] lane j += row 4g + j's block (ggml's float steps).
static inline __attribute__((always_inline)) void ternary_block_end(const uint8_t* const* p, const v128_t* l,
                                                                   const block_q8_K* y, int d_at, v128_t* acc,
                                                                   const int gn) {
  const v128_t bs = wasm_i16x8_add(LOAD(y->bsums), LOAD(y->bsums + 8));  // |lane| <= 2 * 16 * 128
  const v128_t asum = wasm_i32x4_splat(i32x4_hsum(wasm_i32x4_extadd_pairwise_i16x8(bs)));
  const v128_t ad = wasm_f32x4_splat(y->d);
  UNROLL for (int g = 0; g < gn / 4; g++) {
    const uint8_t* const* pg = p + 4 * g;
    const v128_t isum = wasm_i32x4_sub(
        hsum4_i32(wasm_i32x4_extadd_pairwise_i16x8(l[4 * g]), wasm_i32x4_extadd_pairwise_i16x8(l[4 * g + 1]),
                  wasm_i32x4_extadd_pairwise_i16x8(l[4 * g + 2]), wasm_i32x4_extadd_pairwise_i16x8(l[4 * g + 3])),
        asum);
    const v128_t dw = f16x4_to_f32x4(wasm_i32x4_make(f16_bits(pg[0] + d_at), f16_bits(pg[1] + d_at),
                                                     f16_bits(pg[2] + d_at), f16_bits(pg[3] + d_at)));
    acc[g] = wasm_f32x4_add(acc[g], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(ad, dw)));
  }
}

// Rows x[0..gn-1] (gn = 4 or 8, row pointers) of tq2_0 times one token's
// activation y over nb super-blocks: acc[g] lane j = row 4g + j.
static inline __attribute__((always_inline)) void tq2_0_rows(const uint8_t* const* xr, const block_q8_K* y, int nb,
                                                            v128_t* acc, const int gn) {
  const v128_t m3 = wasm_i8x16_const_splat(3);
  const uint8_t* p[8];
  v128_t pins[8];
  UNROLL for (int k = 0; k < gn; k++) p[k] = xr[k];
  UNROLL for (int g = 0; g < gn / 4; g++) acc[g] = wasm_f32x4_const_splat(0.0f);
  for (int b = 0; b < nb; b++, y++) {
    v128_t l[8];
    UNROLL for (int k = 0; k < gn; k++) l[k] = wasm_i16x8_const_splat(0);
    UNROLL for (int s = 0; s < 4; s++) {
      const int8_t* q = y->qs + 128 * (s >> 1) + 16 * (s & 1);
      const v128_t a0 = LOAD(q), a1 = LOAD(q + 32), a2 = LOAD(q + 64), a3 = LOAD(q + 96);
      UNROLL for (int k = 0; k < gn; k++) {
        const v128_t v = LOAD(p[k] + 16 * s);
        const v128_t d01 = wasm_i16x8_add(RDOT(a0, wasm_v128_and(v, m3)), RDOT(a1, wasm_v128_and(wasm_u16x8_shr(v, 2), m3)));
        const v128_t d23 = wasm_i16x8_add(RDOT(a2, wasm_v128_and(wasm_u16x8_shr(v, 4), m3)), RDOT(a3, wasm_v128_and(wasm_u16x8_shr(v, 6), m3)));
        l[k] = wasm_i16x8_add(l[k], wasm_i16x8_add(d01, d23));
      }
      UNROLL for (int k = 0; k < gn; k++) PIN(l[k], pins[k]);
    }
    ternary_block_end(p, l, y, 64, acc, gn);
    UNROLL for (int k = 0; k < gn; k++) p[k] += sizeof(block_tq2_0);
  }
}

// qh's trits (lane 4n + j of its splat needs trit n): the trits of 16
// packed bytes v that the u16 lanes' multipliers pv (3^n, the same for both
// bytes of a lane) select, as bytes 0..2 in v's order:
// trit n of b is ((b * 3^n mod 256) * 3) >> 8. The low byte's product mod
// 256 is the low byte of the lane's product; the high byte is shifted down
// first, and its result lands in the high byte by masking instead of shifting.
static inline v128_t tq1_trits(v128_t v, v128_t vhi, v128_t pv) {
  const v128_t ff = wasm_i16x8_const_splat(0xff), three = wasm_i16x8_const_splat(3);
  const v128_t lo = wasm_u16x8_shr(wasm_i16x8_mul(wasm_v128_and(wasm_i16x8_mul(v, pv), ff), three), 8);
  const v128_t hi = wasm_v128_and(wasm_i16x8_mul(wasm_v128_and(wasm_i16x8_mul(vhi, pv), ff), three),
                                  wasm_i16x8_const_splat((int16_t)0xff00));
  return wasm_v128_or(lo, hi);
}

// Trit n of a byte b is floor(3x / 256) with x = b * 3^n mod 256: 0 for x
// up to 85, 1 up to 170, 2 above. In signed bytes s = x - 128 (mod 256),
// s(n + 1) = 3 s(n) as well (3 * 128 = 128 mod 256), so every plane after
// the first is two byte adds and two signed compares away: q = (s > -43) + (s > 42).
static inline v128_t tq1_q(v128_t s) {
  const v128_t m1 = wasm_i8x16_gt(s, wasm_i8x16_const_splat(-43)), m2 = wasm_i8x16_gt(s, wasm_i8x16_const_splat(42));
  return wasm_i8x16_sub(wasm_i8x16_sub(wasm_i8x16_const_splat(0), m1), m2);
}

// The sum of the 5 trit planes of 16 packed bytes v against the activation
// at a + stride * n (plane n), as int16 pair sums.
static inline v128_t tq1_planes5(v128_t v, const int8_t* a, const int stride) {
  v128_t s = wasm_v128_xor(v, wasm_i8x16_const_splat((int8_t)0x80));
  v128_t sum = RDOT(LOAD(a), tq1_q(s));
  UNROLL for (int n = 1; n < 5; n++) {
    // 2s as a 16-bit shift and a mask: clang folds s + (s + s) to an i8x16
    // multiply, which wasm lacks, and expands it lane by lane
    s = wasm_i8x16_add(s, wasm_v128_and(wasm_i16x8_shl(s, 1), wasm_i8x16_const_splat((int8_t)0xFE)));
    sum = wasm_i16x8_add(sum, RDOT(LOAD(a + stride * n), tq1_q(s)));
  }
  return sum;
}

// As tq2_0_rows for tq1_0. qs[m] (m < 32): elements m + 32n, n < 5;
// qs[32 + m] (m < 16): 160 + m + 16n; qh[j]: 240 + j + 4n, n < 4 (the
// splatted u32 of qh has qh[j] at byte 4n + j, which needs trit n). Each
// activation vector is loaded once per row here (V8 keeps few of them live
// across rows anyway); the rows' steps stay interleaved by the PINs.
static inline __attribute__((always_inline)) void tq1_0_rows(const uint8_t* const* xr, const block_q8_K* y, int nb,
                                                            v128_t* acc, const int gn) {
  const uint8_t* p[8];
  v128_t pins[8];
  UNROLL for (int k = 0; k < gn; k++) p[k] = xr[k];
  UNROLL for (int g = 0; g < gn / 4; g++) acc[g] = wasm_f32x4_const_splat(0.0f);
  for (int b = 0; b < nb; b++, y++) {
    v128_t l[8];
    UNROLL for (int k = 0; k < gn; k++) l[k] = tq1_planes5(LOAD(p[k]), y->qs, 32);
    UNROLL for (int k = 0; k < gn; k++) PIN(l[k], pins[k]);
    UNROLL for (int k = 0; k < gn; k++) l[k] = wasm_i16x8_add(l[k], tq1_planes5(LOAD(p[k] + 16), y->qs + 16, 32));
    UNROLL for (int k = 0; k < gn; k++) PIN(l[k], pins[k]);
    UNROLL for (int k = 0; k < gn; k++) l[k] = wasm_i16x8_add(l[k], tq1_planes5(LOAD(p[k] + 32), y->qs + 160, 16));
    UNROLL for (int k = 0; k < gn; k++) PIN(l[k], pins[k]);
    const v128_t ah = LOAD(y->qs + 240);
    UNROLL for (int k = 0; k < gn; k++) {
      const v128_t h = wasm_v128_load32_splat(p[k] + 48);
      l[k] = wasm_i16x8_add(l[k], RDOT(ah, tq1_trits(h, wasm_u16x8_shr(h, 8), wasm_i16x8_const(1, 1, 3, 3, 9, 9, 27, 27))));
    }
    ternary_block_end(p, l, y, 52, acc, gn);
    UNROLL for (int k = 0; k < gn; k++) p[k] += sizeof(block_tq1_0);
  }
}

// decode_<W>: out[r] for rows [r0, r1) and one token; mul_mat_<W>: the
// batch, rows in passes of TQ_ROWS with every token over each pass (one
// token: the whole range at once). Then the exports (relaxed.h).
#define TERNARY_KERNELS(W, G8)                                                                                \
  static void decode_##W(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r0,   \
                         int r1) {                                                                          \
    const uint8_t* x[8];                                                                                    \
    v128_t acc[2];                                                                                          \
    float f[8];                                                                                             \
    int r = r0;                                                                                             \
    const int part = G8 ? (r1 - r0) / 8 : 0; /* rows per eighth */                                           \
    for (int it = 0; it < part; it++, r++) {                                                                \
      UNROLL for (int k = 0; k < 8; k++) x[k] = w + (size_t)(r + part * k) * row_bytes;                     \
      W##_rows(x, y, nb, acc, 8);                                                                           \
      wasm_v128_store(f, acc[0]);                                                                           \
      wasm_v128_store(f + 4, acc[1]);                                                                       \
      UNROLL for (int k = 0; k < 8; k++) out[r + part * k] = f[k];                                          \
    }                                                                                                       \
    for (r = r0 + 8 * part; r < r1; r += 4) {                                                               \
      UNROLL for (int k = 0; k < 4; k++) x[k] = w + (size_t)(r + k < r1 ? r + k : r1 - 1) * row_bytes;      \
      W##_rows(x, y, nb, acc, 4);                                                                           \
      if (r + 4 <= r1) {                                                                                    \
        wasm_v128_store(out + r, acc[0]);                                                                   \
      } else {                                                                                              \
        wasm_v128_store(f, acc[0]);                                                                         \
        for (int k = 0; r + k < r1; k++) out[r + k] = f[k];                                                 \
      }                                                                                                     \
    }                                                                                                       \
  }                                                                                                         \
  static void mul_mat_##W##_plain(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out,  \
                                  int out_stride, int n, int n_tok, int r0, int r1, int flag) {             \
    (void)flag;                                                                                             \
    const int nb = n / QK_K;                                                                                \
    const int step = n_tok == 1 ? r1 - r0 : TQ_ROWS;                                                        \
    for (int rb = r0; rb < r1; rb += step) {                                                                \
      const int re = r1 - rb < step ? r1 : rb + step;                                                       \
      for (int t = 0; t < n_tok; t++)                                                                       \
        decode_##W((const uint8_t*)w, row_bytes,                                                            \
                   (const block_q8_K*)((const uint8_t*)a + (size_t)t * a_row_bytes),                        \
                   out + (size_t)t * out_stride, nb, rb, re);                                               \
    }                                                                                                       \
  }                                                                                                         \
  RELAXED_ENTRIES(W, mul_mat_##W##_plain, 0)                                                                \
  RELAXED_VEC_DOT(W, q8_K, mul_mat_##W##_plain)

TERNARY_KERNELS(tq1_0, 0)
TERNARY_KERNELS(tq2_0, 1)

// tq1_0x4: four rows' TQ1_0 super-block side by side (repack_tq1_0x4), so a
// byte dot leaves row j's sums in lane j (relaxed.h) and no row needs a
// horizontal reduction; d[j] is row j's scale; qs[i] holds bytes 4i..4i+3 of
// rows 0..3 (byte 4j + k: row j's qs[4i + k]), qh bytes 4j + k row j's qh[k].
// Every byte is stored as b ^ 0x80: the signed form s whose trit planes
// tq1_q reads, so decode starts from the load. Bytes 4i + k of plane n pair
// with activation element 4i + k + 32n (i < 8), 160 + 4(i - 8) + k + 16n
// (i >= 8) and 240 + k + 4n (qh): one 4-byte broadcast per plane serves the
// four rows, and every group read at once.
//
// Per plane of 16 bytes the decode is two compares and two ops for q, three
// for the next plane (3s), the byte dot and its add: TQ1_0 is bound by
// these, not by memory (an exhaustive search found no two wasm byte ops,
// arithmetic, saturating, min/max, avgr, bitwise or compares with any
// constants, that map s to a 7-bit a * q + b; counted, 16-bit lanes or
// dotting the products 3^n * b against telescoped activations take as many
// ops). What the layout saves is the
// plain rows' per-row work around it: the activation loads (one broadcast
// for four groups here), the qh bytes (one more vector of planes instead of
// a multiply-based decode per row) and the rows' horizontal sums; and its
// four streams keep memory reads up with the arithmetic. Measured (CPU time,
// one thread, shared machine; bench:kernels --repacked --plain-too, --memory
// --types TQ1_0/plain,TQ1_0), GB/s of weights, plain rows -> tq1_0x4:
// 4096x4096 (in cache) 3.2 -> 3.7-3.9; 32768x4096 (from memory) 2.8-3.1 ->
// 3.8, at two threads 1.4-1.6x less CPU time per thread.
typedef struct { uint16_t d[4]; uint8_t qs[12][16]; uint8_t qh[16]; } block_tq1_0x4;
_Static_assert(sizeof(block_tq1_0x4) == 4 * sizeof(block_tq1_0), "a group takes four rows' bytes");

// q = t + 1 of signed plane bytes s: |(s > -43) + (s > 42)| (the masks' sum
// is 0, -1 or -2; one abs instead of two subtractions from zero).
static inline v128_t tq1_qa(v128_t s) {
  return wasm_i8x16_abs(wasm_i8x16_add(wasm_i8x16_gt(s, wasm_i8x16_const_splat(-43)), wasm_i8x16_gt(s, wasm_i8x16_const_splat(42))));
}

// The next plane, 3s mod 256 (see tq1_planes5 for the doubling's form).
static inline v128_t tq1_x3(v128_t s) {
  return wasm_i8x16_add(s, wasm_v128_and(wasm_i16x8_shl(s, 1), wasm_i8x16_const_splat((int8_t)0xFE)));
}

// np planes of one 16-byte vector of gn groups (q[k] at group k's vector)
// against the broadcasts a, a + st, ..., into int16 pair sums l[k]. Each
// plane's broadcast serves every group; PIN (relaxed.h) ends each plane so
// V8 keeps its arithmetic ahead of the next loads.
static inline __attribute__((always_inline)) void tq1x4_vec(const uint8_t* const* q, const int8_t* a, const int st,
                                                           const int np, v128_t* l, v128_t* pins, const int gn) {
  v128_t s[4];
  UNROLL for (int k = 0; k < gn; k++) s[k] = LOAD(q[k]);
  UNROLL for (int n = 0; n < np; n++) {
    const v128_t av = SPLAT4(a + st * n);
    UNROLL for (int k = 0; k < gn; k++) {
      l[k] = wasm_i16x8_add(l[k], RDOT(av, tq1_qa(s[k])));
      if (n + 1 < np) s[k] = tq1_x3(s[k]);
    }
    if (n & 1) UNROLL for (int k = 0; k < gn; k++) PIN(l[k], pins[k]);  // every second plane: 1.03x every plane
  }
}

// Decode of tq1_0x4 groups, gn (4 or 1) at a time: n iterations, the first
// group of iteration it at row r + step * it, its gn groups `stride` rows
// apart (stride 4: side by side; a quarter of the thread's rows: spread, four
// streams for the prefetcher). Per super-block each group's int16 sums are
// widened twice (|lane| <= 40 * 2 * 2 * 128 = 20480 for qs[0..31]'s 40 planes,
// 12288 for the rest), the row's exact int32 sum in lane j; minus the
// activation's sum, then ggml's float step, as the plain rows take it.
static inline __attribute__((always_inline)) void tq1_0x4_groups(const uint8_t* w, int row_bytes, const block_q8_K* y0,
                                                                float* out, int nb, int r, int n, int step, int stride,
                                                                int r0, int r1, const int gn) {
  v128_t pins[4];
  for (int it = 0; it < n; it++, r += step) {
    const block_tq1_0x4* g[4];
    v128_t acc[4];
    UNROLL for (int k = 0; k < gn; k++) {
      g[k] = (const block_tq1_0x4*)(w + (size_t)(r + stride * k) * row_bytes);
      acc[k] = wasm_f32x4_const_splat(0.0f);
    }
    const block_q8_K* y = y0;
    for (int b = 0; b < nb; b++, y++) {
      v128_t l[4], l32[4];
      const uint8_t* q[4];
      UNROLL for (int k = 0; k < gn; k++) l[k] = wasm_i16x8_const_splat(0), q[k] = g[k]->qs[0];
      const int8_t* a = y->qs;
      NOUNROLL for (unsigned i = 0; i < 8; i++, a += 4) {
        tq1x4_vec(q, a, 32, 5, l, pins, gn);
        UNROLL for (int k = 0; k < gn; k++) q[k] += 16;
      }
      UNROLL for (int k = 0; k < gn; k++) l32[k] = wasm_i32x4_extadd_pairwise_i16x8(l[k]), l[k] = wasm_i16x8_const_splat(0);
      a = y->qs + 160;
      NOUNROLL for (unsigned i = 0; i < 4; i++, a += 4) {
        tq1x4_vec(q, a, 16, 5, l, pins, gn);
        UNROLL for (int k = 0; k < gn; k++) q[k] += 16;
      }
      tq1x4_vec(q, y->qs + 240, 4, 4, l, pins, gn);  // q[k] is at qh now
      const v128_t bs = wasm_i16x8_add(LOAD(y->bsums), LOAD(y->bsums + 8));  // |lane| <= 2 * 16 * 128
      const v128_t asum = wasm_i32x4_splat(i32x4_hsum(wasm_i32x4_extadd_pairwise_i16x8(bs)));
      const v128_t ad = wasm_f32x4_splat(y->d);
      UNROLL for (int k = 0; k < gn; k++) {
        const v128_t isum = wasm_i32x4_sub(wasm_i32x4_add(l32[k], wasm_i32x4_extadd_pairwise_i16x8(l[k])), asum);
        acc[k] = wasm_f32x4_add(acc[k], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(ad, f16x4_at(g[k]->d))));
        g[k]++;
      }
    }
    UNROLL for (int k = 0; k < gn; k++) store4(acc[k], out, r + stride * k, r0, r1, 1);
  }
}

// One token over the groups that touch rows [r0, r1): four at a time, each
// from its own quarter of them, then one at a time; store4 keeps only
// [r0, r1).
static void tq1_0x4_decode(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r0, int r1) {
  int r = r0 & ~3;
  const int part = (r1 - r + 3) / 4 / 4;  // groups per quarter
  tq1_0x4_groups(w, row_bytes, y, out, nb, r, part, 4, 4 * part, r0, r1, 4);
  r += 16 * part;
  tq1_0x4_groups(w, row_bytes, y, out, nb, r, (r1 - r + 3) / 4, 4, 4, r0, r1, 1);
}

// The batch: rows in passes of TQ_ROWS (four groups, side by side), every
// token over each pass; one token: the whole range at once.
static void mul_mat_tq1_0x4_groups(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out,
                                   int out_stride, int n, int n_tok, int r0, int r1, int flag) {
  (void)flag;
  const int nb = n / QK_K;
  if (n_tok == 1) {
    tq1_0x4_decode((const uint8_t*)w, row_bytes, (const block_q8_K*)a, out, nb, r0, r1);
    return;
  }
  for (int rb = r0 & ~3; rb < r1; rb += TQ_ROWS) {
    const int lo = rb > r0 ? rb : r0, hi = r1 - rb < TQ_ROWS ? r1 : rb + TQ_ROWS;
    for (int t = 0; t < n_tok; t++)
      tq1_0x4_decode((const uint8_t*)w, row_bytes, (const block_q8_K*)((const uint8_t*)a + (size_t)t * a_row_bytes),
                     out + (size_t)t * out_stride, nb, lo, hi);
  }
}

RELAXED_ENTRIES(tq1_0x4, mul_mat_tq1_0x4_groups, 1)

// Rewrites n_rows (a multiple of 4) plain tq1_0 rows as tq1_0x4 groups, in
// place: group G takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_tq1_0x4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_tq1_0);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    block_tq1_0x4* g = (block_tq1_0x4*)base;
    for (int b = 0; b < nb; b++, g++)
      for (int j = 0; j < 4; j++) {
        const block_tq1_0* x = (const block_tq1_0*)((const uint8_t*)scratch + (size_t)j * row_bytes) + b;
        g->d[j] = x->d;
        for (int i = 0; i < 12; i++)
          for (int k = 0; k < 4; k++) g->qs[i][4 * j + k] = x->qs[4 * i + k] ^ 0x80;
        for (int k = 0; k < 4; k++) g->qh[4 * j + k] = x->qh[k] ^ 0x80;
      }
  }
}
