// Q4_K decode (one token): q4_Kx4 groups spread over the thread's rows,
// plain rows one at a time. Included by q4_K-relaxed.c only.
#pragma once
#include "q4_K-relaxed.h"
// Decode of repacked rows (issue 19: Q4_K at Q4_0's speed per byte read).
// q4_Kx4_groups reads gn groups (four rows each, one per lane) at a time,
// in q4_0x4_groups' shape (legacy-relaxed.c): per 16-byte step of every
// group one load, its two nibble vectors against two activation broadcasts
// that serve all gn groups, and both dots into the group's one int16
// accumulator, since a byte's two nibbles are one sub-block's (block_q4_Kx4);
// PIN ends each step so V8 keeps the next step's loads behind it. After a
// sub-block (four steps; |lane| <= 8 * 2 * 128 * 15 < 2^15) one
// i32x4.dot_i16x8 applies the rows' scales. Each group is one pointer read
// front to back: its header at the super-block's start (the scales' eight
// vectors and d * ad go to the stack, the mins term straight into msum),
// then its sub-blocks. The exact int32 sums and the float steps per row are
// every other q4_K path's, so are the bits.
//
// Measured (issue 19; CPU time, medians of alternating rounds against the
// build before, Node 20, the shared 2-core Xeon at load 3-5): from memory
// (bench:kernels --memory, 32768x4096) 1.04-1.09x on one thread and
// 1.05-1.07x on two, about 0.95x q4_0x4's time per byte where the loop it
// replaced took 0.9x (a quiet moment: 12.6 GB/s, q4_0x4 12.6); in cache
// (4096x4096, --alternate --cpu) 1.11-1.15x, now 1.06-1.12x faster per
// byte than q4_0x4. The loop it replaced: spread quads whose steps held a
// sub-block pair's two int16 accumulators per group (the file's pairing: a
// byte's low nibble in sub-block 2c, its high in 2c + 1), eight of them for
// four groups, each group two pointers (header and nibbles). Steps on the way
// (each against the one before): this shape with eight groups 1.07-1.09x
// from memory on one thread, 1.04x on two, 0.99x in cache (V8's code: the
// prologue of eight groups took a third of the instructions; without it
// 1.3x in cache); d and dmin by bit moves instead of f16x4_at 1.05x; the
// pointers opaque 1.06x in cache, 1.02-1.06x from memory; the bit moves
// on i16 halves 1.05-1.2x in cache, 1.07x from memory. Tried and dropped:
// four spread groups (0.97x eight), six (0.92x; on the final loop 0.88x),
// ten, twelve, sixteen (0.91-1.0x; twelve on the final loop 1.03-1.05x on
// one thread, 0.96-0.97x on two); PIN every second or fourth step (0.88x,
// 0.57x); the int16 accumulators kept in their PIN slots (0.97x); the
// swizzles' indices loaded from the stack through relaxed_swizzle
// (0.99x). q4_Kx4's history before: spread quads over pairs 1.45-1.6x from
// memory, adjacent quads 1.15-1.25x; touching each stream's line ahead
// with a load (WebAssembly has no prefetch): nothing over quads, 6% slower
// in cache; dot-adds into int32 accumulators (the dot-add build): 0.80x in
// cache, 0.91x from memory, as each accumulator became a chain of dot-adds.
#ifndef Q4_SPREAD
#define Q4_SPREAD 8
#endif
#define Q4_GMAX (Q4_SPREAD > 4 ? Q4_SPREAD : 4)
// A group's d and dmin as f32, exactly f16x4_at's: when all eight are
// normal f16s, their bits moved into place with the exponent rebased, on
// the eight at once as i16 halves of the f32s (eight ops, where two
// f16x4_to_f32x4 take 34 and nine constants); otherwise (zero, subnormal,
// inf, nan) f16x4_at. The same moves on i32 lanes after u32 extends: 1.05-
// 1.2x slower in cache (clang turned the extends into byte shuffles whose
// masks V8 rebuilds at every use).
static inline void q4_Kx4_dd(const block_q4_Kx4* g, v128_t* d, v128_t* dmin) {
  const v128_t h = LOAD(g->d);  // d[4], dmin[4]
  const v128_t e = wasm_v128_and(h, wasm_i16x8_const_splat(0x7C00));
  if (__builtin_expect(wasm_v128_any_true(wasm_v128_or(wasm_i16x8_eq(e, wasm_i16x8_const_splat(0)),
                                                        wasm_i16x8_eq(e, wasm_i16x8_const_splat(0x7C00)))), 0)) {
    *d = f16x4_at(g->d), *dmin = f16x4_at(g->dmin);
    return;
  }
  // an f32's top half: the sign, the exponent rebased by 112, the mantissa's top 7 bits; its
  // bottom half: the mantissa's low 3 bits at 13..15; then the halves interleaved
  const v128_t top = wasm_v128_or(wasm_v128_and(h, wasm_i16x8_const_splat((int16_t)0x8000)),
                                  wasm_i16x8_add(wasm_u16x8_shr(wasm_v128_and(h, wasm_i16x8_const_splat(0x7FFF)), 3),
                                                 wasm_i16x8_const_splat(112 << 7)));
  const v128_t bottom = wasm_i16x8_shl(h, 13);
  *d = wasm_i16x8_shuffle(bottom, top, 0, 8, 1, 9, 2, 10, 3, 11);
  *dmin = wasm_i16x8_shuffle(bottom, top, 4, 12, 5, 13, 6, 14, 7, 15);
}

typedef struct {
  v128_t sc[8];  // sub-block k: i16 lanes 2j, 2j+1 = row j's scale
  v128_t dd;     // d * ad per row
} q4_Kx4_head;

// n iterations, the first group of iteration it at row r + step * it, its gn
// groups `stride` rows apart (step 4, stride a part of the thread's rows:
// spread, each group a stream of its own from memory).
static inline __attribute__((always_inline)) void q4_Kx4_groups(const uint8_t* w, int row_bytes, const block_q8_K* y,
                                                                const v128_t* b32, float* out, int nb, int r, int n, int step,
                                                                int stride, int r0, int r1, int first, const int gn) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  v128_t pins[Q4_GMAX];
  q4_Kx4_head hd[Q4_GMAX];
  for (int it = 0; it < n; it++, r += step) {
    const uint8_t* p[Q4_GMAX];
    UNROLL for (int k = 0; k < gn; k++) p[k] = w + (size_t)(r + stride * k) * row_bytes;
    for (int c0 = 0; c0 < nb; c0 += KB) {
      v128_t sum[Q4_GMAX], msum[Q4_GMAX];
      UNROLL for (int k = 0; k < gn; k++) sum[k] = msum[k] = wasm_f32x4_const_splat(0.0f);
      for (int i = c0; i < (nb - c0 < KB ? nb : c0 + KB); i++) {
        const v128_t ad = wasm_f32x4_splat(y[i].d);
        UNROLL for (int k = 0; k < gn; k++) {
          const block_q4_Kx4* g = (const block_q4_Kx4*)p[k];
          v128_t sc0, sc1, mn0, mn1, d, dmin;
          q4_Kx4_fields(g, &sc0, &sc1, &mn0, &mn1);
          hd[k].sc[0] = wasm_i8x16_swizzle(sc0, SC_IDX(0)), hd[k].sc[1] = wasm_i8x16_swizzle(sc0, SC_IDX(4));
          hd[k].sc[2] = wasm_i8x16_swizzle(sc0, SC_IDX(8)), hd[k].sc[3] = wasm_i8x16_swizzle(sc0, SC_IDX(12));
          hd[k].sc[4] = wasm_i8x16_swizzle(sc1, SC_IDX(0)), hd[k].sc[5] = wasm_i8x16_swizzle(sc1, SC_IDX(4));
          hd[k].sc[6] = wasm_i8x16_swizzle(sc1, SC_IDX(8)), hd[k].sc[7] = wasm_i8x16_swizzle(sc1, SC_IDX(12));
          const v128_t mp[4] = {wasm_i8x16_swizzle(mn0, MP_IDX(0)), wasm_i8x16_swizzle(mn0, MP_IDX(8)),
                                wasm_i8x16_swizzle(mn1, MP_IDX(0)), wasm_i8x16_swizzle(mn1, MP_IDX(8))};
          const v128_t mn = q4_K_mins(mp, b32[i]);
          q4_Kx4_dd(g, &d, &dmin);
          msum[k] = wasm_f32x4_add(msum[k], wasm_f32x4_mul(wasm_f32x4_mul(dmin, ad), wasm_f32x4_convert_i32x4(mn)));
          hd[k].dd = wasm_f32x4_mul(d, ad);
          p[k] += offsetof(block_q4_Kx4, qs);
        }
        v128_t isum[Q4_GMAX];
        UNROLL for (int k = 0; k < gn; k++) isum[k] = wasm_i32x4_const_splat(0);
        const int8_t* a = y[i].qs;
        NOUNROLL for (unsigned sb = 0; sb < 8; sb++, a += 32) {
          // opaque to clang, so p[k] + 16 * m and a + 4 * m stay load offsets (relaxed.h)
          OPAQUE(a);
          UNROLL for (int k = 0; k < gn; k++) OPAQUE(p[k]);
          v128_t l[Q4_GMAX];
          UNROLL for (int k = 0; k < gn; k++) l[k] = wasm_i16x8_const_splat(0);
          UNROLL for (unsigned m = 0; m < 4; m++) {
            const v128_t s = SPLAT4(a + 4 * m), t = SPLAT4(a + 16 + 4 * m);
            v128_t v[Q4_GMAX];
            UNROLL for (int k = 0; k < gn; k++) v[k] = LOAD(p[k] + 16 * m);
            UNROLL for (int k = 0; k < gn; k++)
              l[k] = wasm_i16x8_add(l[k], wasm_i16x8_add(RDOT(s, wasm_v128_and(v[k], m4)),
                                                         RDOT(t, wasm_v128_and(wasm_u16x8_shr(v[k], 4), m4))));
            UNROLL for (int k = 0; k < gn; k++) PIN(l[k], pins[k]);
          }
          UNROLL for (int k = 0; k < gn; k++) {
            isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(l[k], hd[k].sc[sb]));
            p[k] += 64;
          }
        }
        UNROLL for (int k = 0; k < gn; k++) sum[k] = wasm_f32x4_add(sum[k], wasm_f32x4_mul(hd[k].dd, wasm_f32x4_convert_i32x4(isum[k])));
      }
      UNROLL for (int k = 0; k < gn; k++) store4(wasm_f32x4_sub(sum[k], msum[k]), out, r + stride * k, r0, r1, first && c0 == 0);
    }
  }
}

// Decode of the thread's q4_Kx4 groups: Q4_SPREAD at a time, each reading its
// own part of the thread's rows, then four side by side, then one. The groups
// that touch [r0, r1) are counted from r0 & ~3; store4 keeps only the thread's rows.
static void q4_Kx4_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, const v128_t* b32, float* out, int nb,
                        int r0, int r1, int first) {
  int r = r0 & ~3;
  const int part = (r1 - r + 3) / 4 / Q4_SPREAD;  // groups per part
  q4_Kx4_groups(w, row_bytes, y, b32, out, nb, r, part, 4, 4 * part, r0, r1, first, Q4_SPREAD);
  r += 4 * Q4_SPREAD * part;
  const int quads = (r1 - r + 3) / 4 / 4;
  q4_Kx4_groups(w, row_bytes, y, b32, out, nb, r, quads, 16, 4, r0, r1, first, 4);
  r += 16 * quads;
  q4_Kx4_groups(w, row_bytes, y, b32, out, nb, r, (r1 - r + 3) / 4, 4, 4, r0, r1, first, 1);
}

// Decode: one row at a time (a four-row group rebuilds its scales for a
// single use, which costs more than it saves). Per super-block the integer
// sums are reduced to one int32 before the float steps, which are then the
// group kernel's per lane, in its order: both give the same bits, so a
// batch matches token by token.
static void q4_K_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, const v128_t* b32, float* out, int nb, int r0,
                      int r1, int first) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  for (int r = r0; r < r1; r++) {
    const block_q4_K* x = (const block_q4_K*)(w + (size_t)r * row_bytes);
    v128_t sm2 = wasm_f32x4_const_splat(0.0f);  // lane 0: sum, lane 1: msum
    for (int i = 0; i < nb; i++, x++) {
      const v128_t smv = unpack_scales_k4(x->scales);
      // as int16 in memory: each scale is then one broadcast load
      int16_t sm[8];
      wasm_v128_store(sm, wasm_u16x8_extend_low_u8x16(smv));
      v128_t acc = wasm_i32x4_const_splat(0);
      NOUNROLL for (int c = 0; c < 4; c++) {
        const v128_t v0 = LOAD(x->qs + 32 * c), v1 = LOAD(x->qs + 32 * c + 16);
        const v128_t l0 = wasm_v128_and(v0, m4), l1 = wasm_v128_and(v1, m4);
        const v128_t h0 = wasm_v128_and(wasm_u16x8_shr(v0, 4), m4), h1 = wasm_v128_and(wasm_u16x8_shr(v1, 4), m4);
        const int8_t* q = y[i].qs + 64 * c;
        const v128_t lo = wasm_i16x8_add(RDOT(LOAD(q), l0), RDOT(LOAD(q + 16), l1));
        const v128_t hi = wasm_i16x8_add(RDOT(LOAD(q + 32), h0), RDOT(LOAD(q + 48), h1));
        acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(lo, wasm_v128_load16_splat(sm + 2 * c)),
                                                 wasm_i32x4_dot_i16x8(hi, wasm_v128_load16_splat(sm + 2 * c + 1))));
      }
      // lanes 0 and 1: the super-block's exact integer sum and mins term
      const v128_t mn = wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(smv), b32[i]);
      const v128_t u = wasm_i32x4_add(wasm_i32x4_shuffle(acc, mn, 0, 1, 4, 5), wasm_i32x4_shuffle(acc, mn, 2, 3, 6, 7));
      const v128_t v = wasm_i32x4_add(wasm_i32x4_shuffle(u, u, 0, 2, 0, 2), wasm_i32x4_shuffle(u, u, 1, 3, 1, 3));
      // d and dmin (adjacent f16s) as f32 lanes 0 and 1, times the activation's scale
      const v128_t dd = f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load32_zero(&x->d)));
      sm2 = wasm_f32x4_add(sm2, wasm_f32x4_mul(wasm_f32x4_mul(dd, wasm_f32x4_splat(y[i].d)), wasm_f32x4_convert_i32x4(v)));
    }
    const float val = wasm_f32x4_extract_lane(sm2, 0) - wasm_f32x4_extract_lane(sm2, 1);
    out[r] = first ? val : out[r] + val;
  }
}
