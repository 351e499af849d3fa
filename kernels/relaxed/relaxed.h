// Shared by the relaxed-SIMD kernels (kernels/relaxed/*.c, built into
// wasm/kernels-relaxed.wasm; see legacy-relaxed.c for the instruction and
// why its results are exact: the second operand of the byte dot is always
// 0..127 here).
//
// Most kernels here work on four weight rows at a time, one row per lane:
// the rows' bytes are transposed in 4-byte groups, so a vector holds four
// consecutive quants of every row and the activation's four matching bytes
// are broadcast to all lanes; dots then leave row j's sums in lane j (int16
// lanes 2j, 2j+1 before i32x4.dot_i16x8), with no horizontal reduction.
#pragma once
#include "../common.h"

#define RDOT(a, q) wasm_i16x8_relaxed_dot_i8x16_i7x16(a, q)
#define LOAD(p) wasm_v128_load(p)
#define SPLAT4(p) wasm_v128_load32_splat(p)
#define UNROLL _Pragma("clang loop unroll(full)")
#define NOUNROLL _Pragma("clang loop unroll(disable)")
#ifdef RELAXED_DOT_ADD
// acc + per i32 lane the dot of four signed bytes of a with four 0..127 bytes of q
#define DOTADD(a, q, acc) wasm_i32x4_relaxed_dot_i8x16_i7x16_add(a, q, acc)
#endif

// How V8 (TurboFan, x64) compiles these loops, and what the kernels do about it:
// - It places a basic block's loads at its top, in program order, and the
//   arithmetic after; a fully unrolled sub-block then holds some twenty
//   vectors at once and spills half of them to the stack (x64 has 16 vector
//   registers). PIN(v, slot) stores v to a stack slot (volatile, behind a
//   compiler barrier): the store is ordered among the loads, and v must be
//   computed before it, so a loop step's arithmetic stays ahead of the next
//   step's loads. One store per step instead of a dozen spills and reloads.
// - It folds a constant into an address only when it is the load's memarg
//   offset, which clang emits for pointer-bumped or unsigned arithmetic but
//   not for signed int indices (p + 64 * c + 4 with int c is an add per load).
// - It keeps every v128 constant it can in a register and rebuilds the rest
//   at each use (an i8x16.shuffle mask: two 64-bit immediates and an insert):
//   fewer distinct masks and no byte shuffles in the hot loops pay.
// i32x4.relaxed_dot_i8x16_i7x16_add (DOTADD below: one vpdpbusd with
// AVX-VNNI replaces the byte dot, its i16 adds and the i32 widening) is
// only in the dot-add build (RELAXED_DOT_ADD, wasm/kernels-relaxed-dot.wasm):
// - clang 19 writing a .o/.wasm directly mis-encodes it (a `drop` after one
//   operand's load; V8: "not enough arguments ... need 3, got 2"); through
//   assembly (-S, then the .s assembled) it is right, so build.sh does that.
// - Node 20's V8 (11.3) validates it only behind --experimental-wasm-relaxed-simd,
//   and there its first tier computed wrong sums: never used on Node 20.
// - Without VNNI, V8 lowers it to pmaddubsw + pmaddwd + paddd, slower than
//   the i16 path. So the loader takes the dot-add build only where the
//   engine validates it unflagged and a probe at load shows it faster.
// The integer sums are exact either way, so both builds give the same bits.
// OPAQUE(p): an empty asm that hides a pointer's value from clang, so its
// users' constant offsets stay memarg offsets (which V8 folds into the load)
// instead of clang's strength-reduced address variables (an add per load in
// V8's code, and registers it has not got). Measured per kernel where used.
#define OPAQUE(p) __asm__("" : "+r"(p))
// Four at once, as one asm statement (four separate statements compile differently).
#define OPAQUE4(a, b, c, d) __asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d))

#define PIN(v, slot)                      \
  do {                                    \
    *(volatile v128_t*)&(slot) = (v);     \
    __asm__ volatile("" ::: "memory");    \
  } while (0)

// Four f16 (the low 16 bits of u32 lanes) as fp16_unscaled gives them:
// value * 2^-112, exact for every finite f16; callers fold 2^112 into the
// activation's scale (F16_UNSCALE).
static inline v128_t f16x4_unscaled(v128_t h) {
  const v128_t mag = wasm_v128_and(wasm_i32x4_shl(h, 13), wasm_i32x4_const_splat(0x0FFFE000));
  return wasm_v128_or(mag, wasm_v128_and(wasm_i32x4_shl(h, 16), wasm_i32x4_const_splat((int32_t)0x80000000u)));
}

// Four adjacent f16s (a repacked group's scales), the same way: one load and one extend.
static inline v128_t f16x4_unscaled_at(const uint16_t* d) {
  return f16x4_unscaled(wasm_u32x4_extend_low_u16x8(wasm_v128_load64_zero(d)));
}

// Four adjacent f16s as f32, exactly (f16x4_to_f32x4).
static inline v128_t f16x4_at(const uint16_t* d) {
  return f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load64_zero(d)));
}

// The f16 field `f` of block i of four rows x[0..3], as the low 16 bits of
// four u32 lanes (for f16x4_unscaled or f16x4_to_f32x4).
#define ROWS4_F16(x, i, f) wasm_i32x4_make((x)[0][i].f, (x)[1][i].f, (x)[2][i].f, (x)[3][i].f)

#define MM_TOK 64  // tokens per pass of a batch kernel (their per-token state lives on the stack)

// Tokens a weights-in-registers prompt loop (q4_K_isums_pair, q6_Kx4_superblock_pair)
// streams past its weights at a time, given the bytes between the tokens'
// activation rows. All of the pass's where the rows are close; 16 where they
// are more than 8 KiB apart. Measured (bench:kernels --prefill --repacked
// --cpu --ratios --cols N, Q4_K): with all 64 tokens the loop's gain over the
// tokens-outer loop it replaced fell from 1.13x at 4096 columns (4672-byte
// rows) to 1.00-1.03x at 10240-14336 columns, and 16 at a time brought back
// 1.04-1.10x there (Q6_K: 1.05x at 14336), while costing 2-5% at 4096 and
// 5632 columns. The likely cause: every token's row is on its own pages, so
// a pass touches one page per token, and rows several pages apart map those
// onto few sets of the first-level TLB. Which tokens share a pass changes no
// bits.
static inline int pass_tokens(int stride) {
  return stride > 8192 ? 16 : MM_TOK;
}

// A four-row group's values to out[r..r+3] (added after the first column
// chunk), keeping only rows in [r0, r1): a group of a repacked layout may
// start before this thread's first row, and the last group may run past r1.
static inline void store4(v128_t v, float* o, int r, int r0, int r1, int first) {
  o += r;
  if (r >= r0 && r + 4 <= r1) {
    wasm_v128_store(o, first ? v : wasm_f32x4_add(wasm_v128_load(o), v));
  } else {
    float f[4];
    wasm_v128_store(f, v);
    for (int j = 0; j < 4; j++)
      if (r + j >= r0 && r + j < r1) o[j] = first ? f[j] : o[j] + f[j];
  }
}

// Bytes 4g..4g+3 of each row's v (rows 0..3 in a..d) side by side, g = 0..3.
static inline void transpose4(v128_t a, v128_t b, v128_t c, v128_t d, v128_t* g) {
  const v128_t t0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
  const v128_t t2 = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
  g[0] = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5), g[1] = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);
  g[2] = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5), g[3] = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);
}

// The exports of one weight layout (rows.c's contract), over its batch
// function f(w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0,
// r1, flag): mul_mat_<name> (rows [r0, r1), every token), matvec_<name> (one
// token) and mat_rows_<name> (this thread's share of the rows).
#define RELAXED_ENTRIES(name, f, flag)                                                                 \
  void EXPORT(mul_mat_##name)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, \
                              int out_stride, int n, int n_tok, int r0, int r1) {                       \
    f(w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0, r1, flag);                           \
  }                                                                                                     \
  void EXPORT(matvec_##name)(const void* w, int row_bytes, const void* a, float* out, int n, int r0, int r1) { \
    f(w, row_bytes, a, 0, out, 0, n, 1, r0, r1, flag);                                                  \
  }                                                                                                     \
  void EXPORT(mat_rows_##name)(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, \
                               int out_stride, int n, int n_tok, int n_rows, int ith, int nth) {        \
    int r0, r1;                                                                                         \
    rows_range(n_rows, ith, nth, &r0, &r1);                                                             \
    if (r0 < r1) f(w, row_bytes, a, a_row_bytes, out, out_stride, n, n_tok, r0, r1, flag);              \
  }

// vec_dot_<w>_<a> (one row, one token) over the plain layout's batch function.
#define RELAXED_VEC_DOT(wname, aname, f)                                              \
  float EXPORT(vec_dot_##wname##_##aname)(int n, const void* w, const void* a) {     \
    float out;                                                                        \
    f(w, 0, a, 0, &out, 0, n, 1, 0, 1, 0);                                            \
    return out;                                                                       \
  }

// In-place repack of n_rows (a multiple of 4) rows of a block type that is
// an f16 scale then qbytes of quants (q4_0, q8_0) into groups of four rows:
// group G takes the bytes of rows 4G..4G+3, and its block b holds the four
// scales, then the quants in 4-byte groups with the rows side by side
// (bytes 16i + 4j.. = row j's bytes 4i..), transpose4's order. scratch: 4 * row_bytes.
static inline void repack_rows4_f16(void* w, int row_bytes, int n_rows, void* scratch, int qbytes) {
  const int block = 2 + qbytes, nb = row_bytes / block;
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    const uint8_t* src = (const uint8_t*)scratch;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    for (int b = 0; b < nb; b++) {
      uint8_t* g = base + (size_t)b * 4 * block;
      for (int j = 0; j < 4; j++) memcpy(g + 2 * j, src + (size_t)j * row_bytes + (size_t)b * block, 2);
      for (int i = 0; i < qbytes / 4; i++)
        for (int j = 0; j < 4; j++) memcpy(g + 8 + 16 * i + 4 * j, src + (size_t)j * row_bytes + (size_t)b * block + 2 + 4 * i, 4);
    }
  }
}

// The layouts whose quant vectors mix two sub-blocks of 16 per row (q2_Kx4,
// q3_Kx4: row j's elements 2i, 2i + 1 of sub-block 2u in bytes 4j, 4j + 1 of
// vector i, of sub-block 2u + 1 in bytes 4j + 2, 4j + 3) take each q8_K
// activation reordered to match, once per token: group i of each 32 = its
// elements 2i, 2i + 1, 16 + 2i, 17 + 2i. nb super-blocks of qs at stride
// `stride` bytes (a block_q8_K's size) to ap, 256 bytes each.
static inline void act_pairs_q8_K(const int8_t* qs, int stride, int8_t* ap, int nb) {
  for (int i = 0; i < nb; i++, qs += stride)
    for (int u = 0; u < 8; u++) {
      const v128_t lo = LOAD(qs + 32 * u), hi = LOAD(qs + 32 * u + 16);
      wasm_v128_store(ap + 256 * i + 32 * u, wasm_i16x8_shuffle(lo, hi, 0, 8, 1, 9, 2, 10, 3, 11));
      wasm_v128_store(ap + 256 * i + 32 * u + 16, wasm_i16x8_shuffle(lo, hi, 4, 12, 5, 13, 6, 14, 7, 15));
    }
}

// The reverse for the quants, in prefill: mixed vectors a, b (i = 2g, 2g + 1)
// to sub-block 2u's (lo) and 2u + 1's (hi) elements 4g .. 4g + 3 of each row:
// the low (high) halves of their 32-bit lanes side by side.
static inline void unmix_pairs(v128_t a, v128_t b, v128_t* lo, v128_t* hi) {
  const v128_t m = wasm_i32x4_const_splat(0xFFFF);
  *lo = wasm_v128_or(wasm_v128_and(a, m), wasm_i32x4_shl(b, 16));
  *hi = wasm_v128_or(wasm_u32x4_shr(a, 16), wasm_v128_andnot(b, m));
}

// Row j's eight 6-bit scales and mins (Q4_K's and Q5_K's packed 12 bytes) into
// the q4_Kx4 / q5_Kx4 group layout: sm[4k + j] = scale | (min >> 4) << 6, and
// the min's low nibble in ml (entries 0..15 low nibbles, 16..31 high). The
// caller zeroes ml once per group. Load time only (repack).
static inline void repack_kx4_scales_mins(const uint8_t* sq, int j, uint8_t sm[32], uint8_t ml[16]) {
  for (int k = 0; k < 8; k++) {
    const int sc = k < 4 ? sq[k] & 63 : (sq[k + 4] & 0x0F) | ((sq[k - 4] >> 6) << 4);
    const int m = k < 4 ? sq[k + 4] & 63 : (sq[k + 4] >> 4) | ((sq[k] >> 6) << 4);
    const int idx = 4 * k + j;
    sm[idx] = (uint8_t)(sc | ((m >> 4) << 6));
    ml[idx & 15] |= (uint8_t)((m & 0x0F) << (idx < 16 ? 0 : 4));
  }
}

// Plain rows of the types with sixteen-element sub-blocks (q2_K_rows,
// q3_K_rows): one row's elements 128n + 32s + l0 .. + 15 (q[s], s = 0..3, as
// the type's decode gives them) against the activation at a (its element
// 128n + l0), each sixteen times its sub-block's scale s16[2s] (int16 in
// memory, so each is one broadcast load): four byte dots, four i32 dots.
static inline v128_t kq_sb16_dot4(const int8_t* a, const v128_t q[4], const int16_t* s16) {
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(a), q[0]), wasm_v128_load16_splat(s16)),
                                       wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 32), q[1]), wasm_v128_load16_splat(s16 + 2))),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 64), q[2]), wasm_v128_load16_splat(s16 + 4)),
                                       wasm_i32x4_dot_i16x8(RDOT(LOAD(a + 96), q[3]), wasm_v128_load16_splat(s16 + 6))));
}

// Four rows' bytes interleaved (byte 4k + j of v[k / 4] <- row j's byte k):
// rows 0, 1 and rows 2, 3 by bytes, then the pairs by 16 bits. The plain
// rows' scale bytes of Q2_K, Q3_K, Q4_K, Q5_K, Q6_K take it into the order
// their repacked layouts store.
static inline void interleave_rows4_bytes(v128_t s0, v128_t s1, v128_t s2, v128_t s3, v128_t v[4]) {
  const v128_t a01 = wasm_i8x16_shuffle(s0, s1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t a23 = wasm_i8x16_shuffle(s2, s3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t b01 = wasm_i8x16_shuffle(s0, s1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t b23 = wasm_i8x16_shuffle(s2, s3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  v[0] = wasm_i16x8_shuffle(a01, a23, 0, 8, 1, 9, 2, 10, 3, 11), v[1] = wasm_i16x8_shuffle(a01, a23, 4, 12, 5, 13, 6, 14, 7, 15);
  v[2] = wasm_i16x8_shuffle(b01, b23, 0, 8, 1, 9, 2, 10, 3, 11), v[3] = wasm_i16x8_shuffle(b01, b23, 4, 12, 5, 13, 6, 14, 7, 15);
}

// Per (row group, token) state across a group's super-blocks of the
// k-quant prompt kernels: the current super-block's exact int32 sum and the
// float sums (msum: the mins term of the types that have mins).
typedef struct { v128_t isum, sum, msum; } kq_acc;
