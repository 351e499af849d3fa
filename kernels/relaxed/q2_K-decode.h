// Q2_K decode (one token): q2_Kx4 groups spread over the thread's rows,
// plain rows one at a time. Included by q2_K-relaxed.c only.
//
// Decode is bound by its ops, not by memory: per unit and group (32 bytes
// of quants) eight byte dots, eight masks, two shifts, eight i16 adds and
// shifts, one i32 dot and add (q2_Kx4_unit: 28 in V8's x64 code, against
// q4_0x4's 14 per 32 bytes), and per super-block some fifty more (scales,
// mins, d and dmin, the float steps). Counted in V8's code (node
// --print-wasm-code on a matvec run until TurboFan compiles it).
//
// Measured (4096 columns, one thread, CPU time, medians of alternating
// rounds against the build before, shared 2-core Xeon at load 5-7.5),
// GB/s of weights: in cache (4096 rows) q2_Kx4 11.4-12.7 against 8.6-9.6
// before (1.25-1.35x), q4_0x4 14.5-17.4: 0.74-0.77 of q4_0x4 per byte
// (0.53-0.6 before); from memory (32768 rows, 640 MiB, bench --memory) one
// thread 8.1-9.3 against 6.7-7.1 (1.2-1.24x; q4_0x4 11.0-11.3: 0.72-0.83),
// two threads (CPU time per thread) 1.13-1.16x. Prefill (64 tokens, the
// layout's batch path) unchanged. Tried and dropped, per unit and group:
// the splats loaded per group instead of shared by the four (0.94x: twice
// the loads); each packed vector's dots combined on its own with the four
// groups interleaved by half unit (fewer spills in V8's code, two more
// ops: 0.98-1.0x, also with the x1 and x4 sums carried across halves
// instead); eight spread groups (0.94x in cache, 1.0x from memory: more
// spills); keeping the pointers opaque to clang's loop strength reduction
// so V8 folds the offsets (no change); a PIN inside the unit (no change),
// none after it (0.95x);
// the unit loop unrolled by two (0.98x).
// Not possible with exact sums: the scales applied by an i16 multiply (a
// unit's sums reach 16 * 128 * 3, times 15 overflows int16); quants taken
// at 16x (mask 48: a third class to normalise, more ops) or combined with
// the activation (a nibble's two quants need activation differences that
// leave int8); the mins in fewer than eight i32 dots per super-block (64
// products for four rows, eight per dot).
// Before: 8.6-9.6 GB/s with three shifts and four masks per packed vector,
// the scales and mins as bytes widened by two extends, the bsum pairs
// shuffled per group, d and dmin by f16x4_to_f32x4 (some forty ops, a
// tenth of the decode).
#pragma once
#include "q2_K-relaxed.h"

#ifdef RELAXED_DOT_ADD
// Decode, the dot-add build: its scale bytes hold min | scale << 4, row j's
// for sub-blocks 4q, 4q + 2, 4q + 1, 4q + 3 in bytes 4j .. 4j + 3 of vector
// q (repack_q2_Kx4), so that the u16 lanes give unit 2q's and 2q + 1's
// scales as i16 in lanes 2j, 2j + 1 (q2_Kx4_sc_even: two ops, _odd: one;
// taken in the unit loop, from a load), and one mask gives the mins as
// bytes, row j's four in i32 lane j, for DOTADD against the token's bsums
// split into bytes (q2_Kx4_mins). Twelve ops per super-block and group.
typedef int8_t q2_bb_t;  // bsum_pairs_q8_K's per-token table
#define BB_PER_SB 32
static inline v128_t q2_Kx4_sc_even(v128_t v) { return wasm_v128_and(wasm_u16x8_shr(v, 4), wasm_i16x8_const_splat(0x000F)); }
static inline v128_t q2_Kx4_sc_odd(v128_t v) { return wasm_u16x8_shr(v, 12); }

// A token's bsums (|bsum| <= 16 * 128) as bytes: bsum = 256 h + l, l the
// low byte as signed, h in -8..8; per super-block the sixteen l then the
// sixteen h, in the mins' order (q2_Kx4_mins_of: 4q, 4q + 2, 4q + 1, 4q + 3).
static inline void bsum_pairs_q8_K(const block_q8_K* y, q2_bb_t* bb, int nb) {
  for (int i = 0; i < nb; i++) {
    const v128_t b0 = LOAD(y[i].bsums), b1 = LOAD(y[i].bsums + 8);
    const v128_t l0 = wasm_i16x8_shr(wasm_i16x8_shl(b0, 8), 8), l1 = wasm_i16x8_shr(wasm_i16x8_shl(b1, 8), 8);
    const v128_t l = wasm_i8x16_narrow_i16x8(l0, l1);
    const v128_t h = wasm_i8x16_narrow_i16x8(wasm_i16x8_shr(wasm_i16x8_sub(b0, l0), 8), wasm_i16x8_shr(wasm_i16x8_sub(b1, l1), 8));
    wasm_v128_store(bb + 32 * i, wasm_i8x16_shuffle(l, l, 0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15));
    wasm_v128_store(bb + 32 * i + 16, wasm_i8x16_shuffle(h, h, 0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15));
  }
}

// The mins as bytes (row j's four of vector q in i32 lane j). Decode takes
// them, the mins term, d and dmin and msum's step at the start of each
// super-block (q2_Kx4_groups), which loads each group's first lines early
// and keeps only d * ad across the unit loop.
static inline void q2_Kx4_mins_of(const block_q2_Kx4* g, v128_t mp[4]) {
  for (int q = 0; q < 4; q++) mp[q] = wasm_v128_and(LOAD(g->sc + 16 * q), wasm_i8x16_const_splat(0x0F));
}

// Four rows' mins term: the mins against the l and the h bytes, two DOTADD
// chains of four (|sum| <= 16 * 15 * 128), the h sum times 256 added.
// Fourteen ops with the masks where the byte-dot build's (the mins' four
// nibble masks, eight i32 dots, their adds and the shift) take twenty.
static inline v128_t q2_Kx4_mins(const v128_t* mp, const q2_bb_t* bb) {
  const v128_t z = wasm_i32x4_const_splat(0);
  v128_t l = DOTADD(SPLAT4(bb), mp[0], z), h = DOTADD(SPLAT4(bb + 16), mp[0], z);
  for (int q = 1; q < 4; q++) l = DOTADD(SPLAT4(bb + 4 * q), mp[q], l), h = DOTADD(SPLAT4(bb + 16 + 4 * q), mp[q], h);
  return wasm_i32x4_add(l, wasm_i32x4_shl(h, 8));
}
#else
typedef int16_t q2_bb_t;
#define BB_PER_SB 64
// Decode: the rows' scales (sp[u], unit u's two sub-blocks in lanes 2j, 2j+1)
// and mins (mp[u], the same sub-blocks, against bsums pair u) as i16: one op
// per nibble of the u16 lanes (see block_q2_Kx4), the mins left in place:
// times 16 (even units) and 256 (odd), which bsum_pairs_q8_K's even pairs
// times 16 make 256 for all (q2_Kx4_mins). Sixteen ops per super-block; the
// layout before this one (bytes, two extends per vector) took 28, nibbles
// shifted down 24.
static inline void q2_Kx4_pairs_of(const block_q2_Kx4* g, v128_t sp[8], v128_t mp[8]) {
  for (int q = 0; q < 4; q++) {
    const v128_t v = LOAD(g->sc + 16 * q);
    sp[2 * q] = wasm_v128_and(v, wasm_i16x8_const_splat(0x000F)), mp[2 * q] = wasm_v128_and(v, wasm_i16x8_const_splat(0x00F0));
    mp[2 * q + 1] = wasm_v128_and(v, wasm_i16x8_const_splat(0x0F00)), sp[2 * q + 1] = wasm_u16x8_shr(v, 12);
  }
}

// Decode: a token's bsums as the pairs q2_K_mins multiplies (bb[8p .. 8p + 7]:
// pair p in every i32 lane; even pairs times 16, exact in i16: |bsum| <=
// 16 * 128), once per token, so that the mins of every group are eight i32
// dots against loads (not eight shuffles more per group).
static inline void bsum_pairs_q8_K(const block_q8_K* y, q2_bb_t* bb, int nb) {
  for (int i = 0; i < nb; i++)
    for (int p = 0; p < 8; p++) {
      const v128_t b = SPLAT4(y[i].bsums + 2 * p);
      wasm_v128_store(bb + 64 * i + 8 * p, p % 2 ? b : wasm_i16x8_shl(b, 4));
    }
}

// Four rows' mins term (q2_K_mins' sums, in another order: i32 adds are
// exact in any), from q2_Kx4_pairs_of's mins and bsum_pairs_q8_K's pairs:
// every product 256 times min * bsum (|sum| <= 256 * 16 * 15 * 2048 < 2^31),
// divided once, exactly.
static inline v128_t q2_Kx4_mins(const v128_t* mp, const int16_t* bb) {
  v128_t m[8];
  for (int p = 0; p < 8; p++) m[p] = wasm_i32x4_dot_i16x8(mp[p], LOAD(bb + 8 * p));
  return wasm_i32x4_shr(wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_add(m[0], m[1]), wasm_i32x4_add(m[2], m[3])),
                                       wasm_i32x4_add(wasm_i32x4_add(m[4], m[5]), wasm_i32x4_add(m[6], m[7]))), 8);
}

#endif

// Decode of repacked rows, gn groups at a time: n iterations, the first
// group of iteration it at row r + step * it, its gn groups `stride` rows
// apart. Each unit's eight broadcasts (of the reordered activation ap)
// serve every group, each group is a stream of its own for the prefetcher,
// and the steps end with PIN (relaxed.h). The integer sums are exact and the
// float steps per row are q2_K_step's, so every gn and stride give the same
// bits. bb: the token's bsum pairs (bsum_pairs_q8_K).
#ifdef RELAXED_DOT_ADD
#define GN_MAX 8  // groups at a time (q2_Kx4_rows)
#else
#define GN_MAX 4
#endif
static inline __attribute__((always_inline)) void q2_Kx4_groups(const uint8_t* w, int row_bytes, const block_q8_K* y,
                                                                const int8_t* ap, const q2_bb_t* bb, float* out, int nb,
                                                                int r, int n, int step, int stride, int r0, int r1,
                                                                int first, const int gn) {
  v128_t pins[GN_MAX];
  for (int it = 0; it < n; it++, r += step) {
    const block_q2_Kx4* g[GN_MAX];
    v128_t sum[GN_MAX], msum[GN_MAX];
    UNROLL for (int k = 0; k < gn; k++) {
      g[k] = (const block_q2_Kx4*)(w + (size_t)(r + stride * k) * row_bytes);
      sum[k] = msum[k] = wasm_f32x4_const_splat(0.0f);
    }
    const int8_t* a = ap;
    for (int i = 0; i < nb; i++) {
#ifdef RELAXED_DOT_ADD
      v128_t dd[GN_MAX], isum[GN_MAX];
      const uint8_t* q[GN_MAX];
      const v128_t ad = wasm_v128_load32_splat(&y[i].d);
      UNROLL for (int k = 0; k < gn; k++) {
        v128_t mp[4], d, dmin;
        q2_Kx4_mins_of(g[k], mp);
        q2_Kx4_d_dmin(g[k]->d, &d, &dmin);
        const v128_t mn = q2_Kx4_mins(mp, bb + BB_PER_SB * i);
        msum[k] = wasm_f32x4_add(msum[k], wasm_f32x4_mul(wasm_f32x4_mul(dmin, ad), wasm_f32x4_convert_i32x4(mn)));
        dd[k] = wasm_f32x4_mul(d, ad);
        isum[k] = wasm_i32x4_const_splat(0);
        q[k] = &g[k]->qs[0][0][0];
      }
      // units 2c and 2c + 1, their scales from one load per group (not stored and reloaded)
      NOUNROLL for (unsigned c = 0; c < 4; c++, a += 64) {
        const v128_t s0[4] = {wasm_v128_load64_splat(a), wasm_v128_load64_splat(a + 8), wasm_v128_load64_splat(a + 16),
                              wasm_v128_load64_splat(a + 24)};
        UNROLL for (int k = 0; k < gn; k++) {
          const v128_t p = q2_Kx4_unit(q[k], s0);
          PIN(p, pins[k]);
          isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(p, q2_Kx4_sc_even(LOAD(g[k]->sc + 16 * c))));
        }
        const v128_t s1[4] = {wasm_v128_load64_splat(a + 32), wasm_v128_load64_splat(a + 40), wasm_v128_load64_splat(a + 48),
                              wasm_v128_load64_splat(a + 56)};
        UNROLL for (int k = 0; k < gn; k++) {
          const v128_t p = q2_Kx4_unit(q[k] + 32, s1);
          PIN(p, pins[k]);
          isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(p, q2_Kx4_sc_odd(LOAD(g[k]->sc + 16 * c))));
          q[k] += 64;
        }
      }
#else
      v128_t sp[GN_MAX][8], mp[GN_MAX][8], isum[GN_MAX];
      const uint8_t* q[GN_MAX];
      UNROLL for (int k = 0; k < gn; k++) {
        q2_Kx4_pairs_of(g[k], sp[k], mp[k]);
        isum[k] = wasm_i32x4_const_splat(0);
        q[k] = &g[k]->qs[0][0][0];
      }
      NOUNROLL for (unsigned u = 0; u < 8; u++, a += 32) {
        const v128_t s[8] = {SPLAT4(a), SPLAT4(a + 4), SPLAT4(a + 8), SPLAT4(a + 12),
                             SPLAT4(a + 16), SPLAT4(a + 20), SPLAT4(a + 24), SPLAT4(a + 28)};
        UNROLL for (int k = 0; k < gn; k++) {
          const v128_t p = q2_Kx4_unit(q[k], s);
          PIN(p, pins[k]);
          isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(p, sp[k][u]));
          q[k] += 32;
        }
      }
#endif
#ifdef RELAXED_DOT_ADD
      UNROLL for (int k = 0; k < gn; k++) {
        // rows 2, 3 summed four times over (q2_Kx4_unit): f32(4x) / 4 is f32(x), exactly
        const v128_t fsum = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum[k]), wasm_f32x4_const(1.0f, 1.0f, 0.25f, 0.25f));
        sum[k] = wasm_f32x4_add(sum[k], wasm_f32x4_mul(dd[k], fsum));
        g[k]++;
      }
#else
      const v128_t ad = wasm_v128_load32_splat(&y[i].d);
      UNROLL for (int k = 0; k < gn; k++) {
        v128_t d, dmin;
        q2_Kx4_d_dmin(g[k]->d, &d, &dmin);
        const v128_t mn = q2_Kx4_mins(mp[k], bb + BB_PER_SB * i);
        sum[k] = wasm_f32x4_add(sum[k], wasm_f32x4_mul(wasm_f32x4_mul(d, ad), wasm_f32x4_convert_i32x4(isum[k])));
        msum[k] = wasm_f32x4_add(msum[k], wasm_f32x4_mul(wasm_f32x4_mul(dmin, ad), wasm_f32x4_convert_i32x4(mn)));
        g[k]++;
      }
#endif
    }
    UNROLL for (int k = 0; k < gn; k++) store4(wasm_f32x4_sub(sum[k], msum[k]), out, r + stride * k, r0, r1, first);
  }
}

// Decode of the thread's q2_Kx4 groups (from r0 & ~3; store4 keeps only
// the thread's rows): four at a time, each reading its own quarter of the
// thread's rows, then two side by side, then one.
//
// Measured (32768x4096 from memory, one thread, CPU time, medians of
// alternating rounds on a shared machine, load average 2.2-3.5), against
// two groups side by side (what this replaced): four side by side 1.05x,
// four spread 1.4x (5.9 -> 8.3 GB/s), eight spread no better than four
// (again with the leaner unit: 1.0x from memory, 0.94x in cache). In cache
// (1024 and 4096 rows, alternating with the old build only) 1.01-1.03x
// (q2_K's decode is bound by its ops there).
//
// Issue 19, session 9 (Q2_K at Q4_0's speed per byte; CPU time, alternating
// builds, the shared machine at load 2-6): the decode is at the floor of its
// vector ops. Per unit and group V8 runs exactly the 28 of q2_Kx4_unit (8
// byte dots, 8 masks, 2 shifts, 7 i16 adds, the x4 sum's shift, one i32 dot
// and add) and per super-block and group some 47 (scales and mins 16, the
// mins' eight i32 dots and their sum 16, d and dmin 7, the float steps 8):
// 34 per 42 bytes against q4_0x4's 28 per 72. A Q2_K weight costs what a
// Q4_0 weight costs and has 0.58 of its bytes, so where the ops bind (in
// cache: q2_Kx4 12.5 GB/s against q4_0x4's 16.5, 0.76x; from memory 9.9
// against 11.3-12.3, 0.81-0.88x at one thread) per-byte parity is out of
// reach without fewer ops per weight: taking the eight masks away (wrong
// sums, as a bound) gave 1.2x in cache, 1.08x from memory. None of these
// cut one: no mask is removable (each of the 8 operands is one field; a
// field at bits 6-7 is no valid 7-bit operand), the x4 sum's shift and add
// cost what two i32 dots would, and the mins need their 64 products (8 i32
// dots; byte dots need the bsums split in two). Tried and dropped here:
// both pointers of the unit loop hidden from clang (OPAQUE): the address
// adds go, GPR reloads come, 1.0x; each group running its super-block alone
// (groups outside the unit loop, the broadcasts reloaded per group): V8
// unrolls that loop by 3 and still spills, 53 instructions per unit and
// group against 50, 0.92x in cache, 0.87x from memory; two, three, six and
// eight spread groups instead of four: 0.97-0.98x (2, 3) and 0.95-1.0x
// (6, 8) in cache, 0.84-0.86x (2, 3), 0.96x (6) and 1.0-1.02x (8) from memory.
//
// Session 10, the dot-add build (the unit's DOTADD chains, see the top of the
// file; Node 24, CPU time, builds alternating in one process, load 1.1-2.4):
// against session 9's decode run by that build, each step in turn: the unit
// 1.08x from memory, 1.17x in cache; the mins as DOTADD bytes 1.01x, 1.02x;
// eight spread groups 1.02-1.04x, 0.99x; units 2c, 2c + 1 per loop step with
// their scales loaded there 1.02-1.03x, 1.03x; the mins term, d, dmin and
// msum's step at the super-block's start (before: the mins masked there,
// the rest after the unit loop) 1.02-1.05x, 1.035x. Where it stands: in V8's code
// the unit is its 21 vector ops (8 vpdpbusd, 8 masks, 2 shifts, packssdw,
// pmaddwd, add) plus a zero load per chain, the isum's spill and reload, a
// PIN store and the address adds; per super-block and group some 45 more (the
// scales in the loop 12, mins 14, d and dmin 8, float steps 9). As a bound,
// the d, dmin and mins steps taken away (wrong sums) gave 1.12x in cache,
// 1.03x from memory. Tried and dropped: no PIN (1.0x), or the PIN on isum
// after its add instead of on the unit's sums (V8 defers the even unit's
// dot past the odd unit's loads, spilling its sums and scales: 1.0x); the mins masked after
// the unit loop, where they are used (1.03-1.07x in cache, 0.95-0.99x from
// memory: loads at the super-block's start touch each group's first lines
// early); a volatile byte load two super-blocks ahead per group, as a
// prefetch (0.75x from memory, 0.92x in cache: the missing loads hold up
// retirement); eight spread groups in the byte-dot build too (1.0x from
// memory, 0.98x in cache); F16_UNSCALE folded into the activation's d (two
// mul fewer per super-block and group; exact only while ad * 2^112 stays
// finite, so behind a branch on |ad| < 2^16): 1.0-1.015x here, 0.99x in the
// byte-dot build, within the noise; in the byte-dot build, the scales
// loaded in the unit loop as here (0.98x from memory, 1.0x in cache) and
// the mins term, d, dmin and msum's step at the super-block's start as here
// (0.98-0.99x from memory and in cache, Node 20). Not
// tried: 0.25 folded into rows 2 and 3's d (one mul; exact unless d * ad / 4
// is subnormal).
static void q2_Kx4_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, const int8_t* ap, const q2_bb_t* bb, float* out,
                        int nb, int r0, int r1, int first) {
  int r = r0 & ~3;
#ifdef RELAXED_DOT_ADD
  // The dot-add build: eight spread groups first (each reading its own eighth), as q4_0x4's decode.
  // Against four spread (Node 24, CPU time, alternating variants, shared machine at load 1.5-1.8):
  // from memory 1.02-1.04x at one thread, 1.04x at two; in cache (4096 rows) 0.99x. The byte-dot
  // build keeps four: there eight gave 1.0x from memory and 0.98x in cache (again this session).
  const int part8 = (r1 - r + 3) / 4 / 8;
  q2_Kx4_groups(w, row_bytes, y, ap, bb, out, nb, r, part8, 4, 4 * part8, r0, r1, first, 8);
  r += 32 * part8;
#endif
  const int part = (r1 - r + 3) / 4 / 4;  // groups per quarter
  q2_Kx4_groups(w, row_bytes, y, ap, bb, out, nb, r, part, 4, 4 * part, r0, r1, first, 4);
  r += 16 * part;
  const int pairs = (r1 - r + 3) / 4 / 2;
  q2_Kx4_groups(w, row_bytes, y, ap, bb, out, nb, r, pairs, 8, 4, r0, r1, first, 2);
  r += 8 * pairs;
  q2_Kx4_groups(w, row_bytes, y, ap, bb, out, nb, r, (r1 - r + 3) / 4, 4, 4, r0, r1, first, 1);
}

// Decode of plain rows: one row at a time; the super-block's integer sum
// (lane 0) and mins term (lane 1) are reduced before the group kernels'
// float steps, taken per lane with (d, dmin).
static void q2_K_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r0, int r1, int first) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F);
  for (int r = r0; r < r1; r++) {
    const block_q2_K* x = (const block_q2_K*)(w + (size_t)r * row_bytes);
    v128_t sm2 = wasm_f32x4_const_splat(0.0f);  // lane 0: sum, lane 1: msum
    for (int i = 0; i < nb; i++, x++) {
      const v128_t sb = LOAD(x->scales), scv = wasm_v128_and(sb, m4), mnv = wasm_v128_and(wasm_u16x8_shr(sb, 4), m4);
      int16_t sc[16];  // as int16 in memory: each scale is then one broadcast load
      wasm_v128_store(sc, wasm_u16x8_extend_low_u8x16(scv));
      wasm_v128_store(sc + 8, wasm_u16x8_extend_high_u8x16(scv));
      v128_t acc = wasm_i32x4_const_splat(0);
      NOUNROLL for (int j = 0; j < 4; j++) {
        const int n = j >> 1, l0 = 16 * (j & 1);
        v128_t q[4];
        q2_K_decode(x, n, l0, q);
        const int8_t* a = y[i].qs + 128 * n + l0;
        const int16_t* s = sc + 8 * n + (j & 1);
        acc = wasm_i32x4_add(acc, kq_sb16_dot4(a, q, s));
      }
      const v128_t mn = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_u16x8_extend_low_u8x16(mnv), LOAD(y[i].bsums)),
                                       wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(mnv), LOAD(y[i].bsums + 8)));
      const v128_t u = wasm_i32x4_add(wasm_i32x4_shuffle(acc, mn, 0, 1, 4, 5), wasm_i32x4_shuffle(acc, mn, 2, 3, 6, 7));
      const v128_t v = wasm_i32x4_add(wasm_i32x4_shuffle(u, u, 0, 2, 0, 2), wasm_i32x4_shuffle(u, u, 1, 3, 1, 3));
      // d and dmin (adjacent f16s) as f32 lanes 0 and 1
      const v128_t dd = f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load32_zero(&x->d)));
      sm2 = wasm_f32x4_add(sm2, wasm_f32x4_mul(wasm_f32x4_mul(dd, wasm_f32x4_splat(y[i].d)), wasm_f32x4_convert_i32x4(v)));
    }
    const float val = wasm_f32x4_extract_lane(sm2, 0) - wasm_f32x4_extract_lane(sm2, 1);
    out[r] = first ? val : out[r] + val;
  }
}
