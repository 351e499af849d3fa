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
// The Q6_K kernels are one translation unit, q6_K-relaxed.c (its entries
// inline every path): this header holds the layouts and what decode and
// prefill share, q6_K-decode.h the one-token kernels, q6_K-prefill.h and
// q6_K-prefill-pair.h the batch kernels.
#pragma once
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
