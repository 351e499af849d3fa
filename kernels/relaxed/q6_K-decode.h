// Q6_K decode (one token): plain and q6_Kp rows one at a time, q6_Kx4 groups
// spread over the thread's rows. Included by q6_K-relaxed.c only.
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
#pragma once
#include "q6_K-relaxed.h"
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
