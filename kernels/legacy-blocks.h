// Legacy block layouts (ggml-common.h's block_q4_0 ... block_q8_1) and the
// SIMD decoders that turn one weight block into int16 lanes. Shared by the
// matvec kernels (legacy.c) and the prefill kernels (matmul-legacy.c), which
// must produce the same integer lanes to stay bit-identical.
#pragma once
#include "common.h"

#define QK 32  // elements per block for every legacy type

typedef struct { uint16_t d; uint8_t qs[QK / 2]; } block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[QK / 2]; } block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; } block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; } block_q5_1;
typedef struct { uint16_t d; int8_t qs[QK]; } block_q8_0;
typedef struct { uint16_t d, s; int8_t qs[QK]; } block_q8_1;  // s = d * sum(qs), as f16

// ---------------------------------------------------------------------------
// weight block decoders: one block -> its 32 integer quants as four i16x8
// (elements 0-7, 8-15, 16-23, 24-31), already offset (q4_0: q-8, q5_0: q-16).

#define WIDEN_I8(lo16, hi16, w0, w1, w2, w3) do { \
    w0 = wasm_i16x8_extend_low_i8x16(lo16); w1 = wasm_i16x8_extend_high_i8x16(lo16); \
    w2 = wasm_i16x8_extend_low_i8x16(hi16); w3 = wasm_i16x8_extend_high_i8x16(hi16); } while (0)

// qs[j] holds element j in its low nibble and element j+16 in its high one.
#define NIBBLES(qs, lo, hi) do { const v128_t v_ = wasm_v128_load(qs); \
    lo = wasm_v128_and(v_, wasm_i8x16_const_splat(0x0F)); hi = wasm_u8x16_shr(v_, 4); } while (0)

// Byte lane j gets bit j (lo) or bit 16+j (hi) of the 32-bit qh, as 0xFF
// where the bit is CLEAR: spread the qh bytes over the lanes, keep each
// lane's own bit, compare with zero.
#define QH_CLEAR(qhp, clear_lo, clear_hi) do { uint32_t qh_; memcpy(&qh_, qhp, 4); \
    const v128_t s_ = wasm_i32x4_splat((int32_t)qh_); \
    const v128_t bit_ = wasm_i8x16_const(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128); \
    clear_lo = wasm_i8x16_eq(wasm_v128_and(wasm_i8x16_shuffle(s_, s_, 0,0,0,0,0,0,0,0, 1,1,1,1,1,1,1,1), bit_), \
                             wasm_i8x16_const_splat(0)); \
    clear_hi = wasm_i8x16_eq(wasm_v128_and(wasm_i8x16_shuffle(s_, s_, 2,2,2,2,2,2,2,2, 3,3,3,3,3,3,3,3), bit_), \
                             wasm_i8x16_const_splat(0)); } while (0)

#define DECODE_Q8_0(blk, w0, w1, w2, w3) do { \
    const v128_t lo_ = wasm_v128_load((blk)->qs), hi_ = wasm_v128_load((blk)->qs + 16); \
    WIDEN_I8(lo_, hi_, w0, w1, w2, w3); } while (0)

// q4_0 / q4_1 skip the byte unpacking: read qs as eight u16 lanes, lane k
// holding bytes 2k and 2k+1, i.e. (low to high nibble) elements 2k, 2k+16,
// 2k+1, 2k+17. Masks and shifts give four i16x8 directly, in the permuted
// element order {0,2,..,14} {1,3,..,15} {16,18,..,30} {17,19,..,31}; the
// activation is widened into the same order (PERMUTED). Six ops instead of
// ten, and q4_0's -8 is not applied per weight: it becomes -8 * sum(a) per
// block (bias, computed once per matvec).
#define DECODE_Q4_PERM(blk, w0, w1, w2, w3) do { const v128_t v_ = wasm_v128_load((blk)->qs); \
    const v128_t m_ = wasm_i16x8_const_splat(0x000F); \
    w0 = wasm_v128_and(v_, m_); w1 = wasm_v128_and(wasm_u16x8_shr(v_, 8), m_); \
    w2 = wasm_v128_and(wasm_u16x8_shr(v_, 4), m_); w3 = wasm_u16x8_shr(v_, 12); } while (0)

// natural order, offset applied: for dequantize
#define DECODE_Q4_0(blk, w0, w1, w2, w3) do { v128_t lo_, hi_; NIBBLES((blk)->qs, lo_, hi_); \
    lo_ = wasm_i8x16_sub(lo_, wasm_i8x16_const_splat(8)); hi_ = wasm_i8x16_sub(hi_, wasm_i8x16_const_splat(8)); \
    WIDEN_I8(lo_, hi_, w0, w1, w2, w3); } while (0)

#define DECODE_Q4_1(blk, w0, w1, w2, w3) do { v128_t lo_, hi_; NIBBLES((blk)->qs, lo_, hi_); \
    WIDEN_I8(lo_, hi_, w0, w1, w2, w3); } while (0)

// q - 16 = nibble - 16 exactly when the fifth bit is clear
#define DECODE_Q5_0(blk, w0, w1, w2, w3) do { v128_t lo_, hi_, cl_, ch_; NIBBLES((blk)->qs, lo_, hi_); \
    QH_CLEAR((blk)->qh, cl_, ch_); \
    lo_ = wasm_i8x16_add(lo_, wasm_v128_and(cl_, wasm_i8x16_const_splat(-16))); \
    hi_ = wasm_i8x16_add(hi_, wasm_v128_and(ch_, wasm_i8x16_const_splat(-16))); \
    WIDEN_I8(lo_, hi_, w0, w1, w2, w3); } while (0)

#define DECODE_Q5_1(blk, w0, w1, w2, w3) do { v128_t lo_, hi_, cl_, ch_; NIBBLES((blk)->qs, lo_, hi_); \
    QH_CLEAR((blk)->qh, cl_, ch_); \
    lo_ = wasm_v128_or(lo_, wasm_v128_andnot(wasm_i8x16_const_splat(16), cl_)); \
    hi_ = wasm_v128_or(hi_, wasm_v128_andnot(wasm_i8x16_const_splat(16), ch_)); \
    WIDEN_I8(lo_, hi_, w0, w1, w2, w3); } while (0)
