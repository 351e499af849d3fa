// Q3_K decode (one token): q3_Kx4 groups spread over the thread's rows,
// plain rows one at a time. Included by q3_K-relaxed.c only.
#pragma once
#include "q3_K-relaxed.h"
#ifdef RELAXED_DOT_ADD
// The dot-add build's unit: W0..W3 hold rows 0 and 1, W4..W7 rows 2 and 3,
// i32 lane l of W(4h + k) row 2h + l / 2's elements 4k .. 4k + 3 of
// sub-block 2u + l % 2 (q3_Kx4_elem); the activation reordered to match
// once per token (q3_Kx4_act: eight bytes per k, elements 4k .. 4k + 3 of
// sub-block 2u, then of 2u + 1, broadcast to both halves by one 64-bit
// splat load). So four dot-adds per row pair leave each (row, sub-block)
// sum in an i32 lane, started at the -4 offset (b4: -4 * bsum of sub-blocks
// 2u, 2u + 1, twice; |lane| <= 16 * 4 * 128, the sum of (q - 4) * a); one
// saturating narrow (which never saturates here) puts row j's two sums in
// i16 lanes 2j, 2j + 1, where one i32x4.dot_i16x8 applies the pair vector
// of scales, as the i16 build's unit ends. No i16 adds and no shifts of
// sums: 30 ops per unit and group where the i16 build takes 36, and four
// activation vectors live instead of eight: in V8's code (Node 24, eight
// groups) 48.5 instructions per unit and group against the i16 build's 65
// (whose eight broadcasts, isums and constants spill some eleven times).
// Measured (issue 19; Node 24, CPU time, alternating builds, the shared
// 2-core Xeon at load 1.3-1.8), against the dot-add build before (the i16
// unit): 32768x4096 from memory 12.06-12.12 -> 12.63-12.80 GB/s at one
// thread (1.05-1.06x), 23.6-23.7 -> 25.0-25.1 at two (1.05-1.06x, wall);
// per byte against q4_0x4 (12.55, 24.8) 0.96 -> 1.01-1.02 and 0.95 -> 1.01.
// In cache (4096x4096) 14.9-15.0 -> 17.2-17.4 (1.16x), 0.82 -> 0.95 of
// q4_0x4 per byte (18.2-18.4); with 4000 rows (below) 18.1 against 19.0.
// The prefill of this order (two i32 shuffles per pair of vectors where the
// mixed order's un-mix takes six ops) 1.01x (64 tokens), 1.11x (4 tokens).
// Tried and dropped here: no PIN (1.0-1.01x), each group's pointer OPAQUE
// (1.0x), four spread groups (0.93x one thread, 0.91x two), six (0.93x at
// two), ten or twelve (in cache 1.04-1.06x; from memory 1.0-1.05x with
// 32768 rows, 0.96-0.98x with 32000), sixteen
// (0.89x in cache, 0.92x from memory). Ten and twelve won in cache only
// because 4096 and 32768 rows put eight streams a multiple of 4 KiB apart
// (the same first-level sets: 4000 rows, eight = ten = twelve); shortening
// the parts until no two streams share sets won 1.05x in cache but lost
// 0.96x from memory and 0.93-0.99x end to end (TinyLlama Q3_K_M, tg32).
static inline v128_t q3_Kx4_unit(const uint8_t* q, const v128_t s[4], v128_t b4, v128_t mp) {
  const v128_t m3f = wasm_i8x16_const_splat(0x3F), m40 = wasm_i8x16_const_splat(0x40), m80 = wasm_i8x16_const_splat((int8_t)0x80);
  const v128_t s0 = LOAD(q), s1 = LOAD(q + 16), s2 = LOAD(q + 32);
  v128_t a01 = DOTADD(s[0], wasm_v128_and(s0, Q3_M7), b4);
  v128_t a23 = DOTADD(s[0], wasm_v128_and(s2, Q3_M7), b4);
  a01 = DOTADD(s[1], wasm_v128_and(wasm_u16x8_shr(s0, 3), Q3_M7), a01);
  a23 = DOTADD(s[1], wasm_v128_and(wasm_u16x8_shr(s2, 3), Q3_M7), a23);
  a01 = DOTADD(s[2], wasm_v128_and(s1, Q3_M7), a01);
  a23 = DOTADD(s[2], wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(s0, m3f), 6), wasm_u16x8_shr(wasm_v128_and(s1, m40), 4)), a23);
  a01 = DOTADD(s[3], wasm_v128_and(wasm_u16x8_shr(s1, 3), Q3_M7), a01);
  a23 = DOTADD(s[3], wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(s2, m3f), 6), wasm_u16x8_shr(wasm_v128_and(s1, m80), 5)), a23);
  return wasm_i32x4_dot_i16x8(wasm_i16x8_narrow_i32x4(a01, a23), mp);
}

// Once per token: the activation in q3_Kx4_unit's order (per 32 elements,
// groups of four of the two halves alternating), and the -4 offsets (bq[8i
// + u]: -4 * bsum of sub-blocks 2u, 2u + 1 in i32 lanes 0, 1 and 2, 3).
static inline void q3_Kx4_act(const block_q8_K* y, int8_t* ap, v128_t* bq, int nb) {
  for (int i = 0; i < nb; i++) {
    for (int u = 0; u < 8; u++) {
      const v128_t lo = LOAD(y[i].qs + 32 * u), hi = LOAD(y[i].qs + 32 * u + 16);
      wasm_v128_store(ap + 256 * i + 32 * u, wasm_i32x4_shuffle(lo, hi, 0, 4, 1, 5));
      wasm_v128_store(ap + 256 * i + 32 * u + 16, wasm_i32x4_shuffle(lo, hi, 2, 6, 3, 7));
    }
    for (int h = 0; h < 2; h++) {
      const v128_t b = LOAD(y[i].bsums + 8 * h);
      const v128_t lo = wasm_i32x4_mul(wasm_i32x4_extend_low_i16x8(b), wasm_i32x4_const_splat(-4));
      const v128_t hi = wasm_i32x4_mul(wasm_i32x4_extend_high_i16x8(b), wasm_i32x4_const_splat(-4));
      bq[8 * i + 4 * h] = wasm_i32x4_shuffle(lo, lo, 0, 1, 0, 1), bq[8 * i + 4 * h + 1] = wasm_i32x4_shuffle(lo, lo, 2, 3, 2, 3);
      bq[8 * i + 4 * h + 2] = wasm_i32x4_shuffle(hi, hi, 0, 1, 0, 1), bq[8 * i + 4 * h + 3] = wasm_i32x4_shuffle(hi, hi, 2, 3, 2, 3);
    }
  }
}
#else
// Four broadcasts against four quant vectors: int16 pair sums (|lane| <= 4 * 2 * 127 * 7).
static inline v128_t q3_dot4(const v128_t s[4], const v128_t w[4]) {
  return wasm_i16x8_add(wasm_i16x8_add(RDOT(s[0], w[0]), RDOT(s[1], w[1])), wasm_i16x8_add(RDOT(s[2], w[2]), RDOT(s[3], w[3])));
}

// Eight broadcasts against eight quant vectors of a unit: int16 sums, two sub-blocks per row (|lane| <= 16 * 127 * 7).
// W1 and W3 are read as 8 * W (masked in place, 0..56, no shift) into a sum
// of their own (|lane| <= 2 * 2 * 128 * 56 < 2^15), divided once, exactly (a
// multiple of 8): one op fewer per unit and group.
static inline v128_t q3_Kx4_unit(const uint8_t* q, const v128_t s[8], v128_t* pin) {
  const v128_t m38 = wasm_i8x16_const_splat(0x38);
  const v128_t s0 = LOAD(q), s1 = LOAD(q + 16);
  const v128_t p8 = wasm_i16x8_add(RDOT(s[1], wasm_v128_and(s0, m38)), RDOT(s[3], wasm_v128_and(s1, m38)));
  const v128_t p = wasm_i16x8_add(RDOT(s[0], wasm_v128_and(s0, Q3_M7)), RDOT(s[2], wasm_v128_and(s1, Q3_M7)));
  PIN(p, *pin);
  v128_t wv[4];
  q3_Kx4_hi(q, wv);
  return wasm_i16x8_add(wasm_i16x8_add(p, q3_dot4(s + 4, wv)), wasm_i16x8_shr(p8, 3));
}

// Decode's -4 offset, per super-block and unit u of a token: 4 * the q8_K
// bsums of sub-blocks 2u and 2u + 1 in i16 lanes 2j and 2j + 1 (every j),
// taken away from the unit's int16 sums before its scales apply (|lane| <=
// 16 * 128 * 7 + 4 * 16 * 128 < 2^15), so the super-block's int32 sum needs
// no offset dots: the same integer as isum - 4 * offset.
static inline void q3_Kx4_bsums4(const block_q8_K* y, v128_t* bq, int nb) {
  for (int i = 0; i < nb; i++)
    for (int h = 0; h < 2; h++) {
      const v128_t b = wasm_i16x8_shl(LOAD(y[i].bsums + 8 * h), 2);
      bq[8 * i + 4 * h] = wasm_i32x4_shuffle(b, b, 0, 0, 0, 0), bq[8 * i + 4 * h + 1] = wasm_i32x4_shuffle(b, b, 1, 1, 1, 1);
      bq[8 * i + 4 * h + 2] = wasm_i32x4_shuffle(b, b, 2, 2, 2, 2), bq[8 * i + 4 * h + 3] = wasm_i32x4_shuffle(b, b, 3, 3, 3, 3);
    }
}


// Once per token: the activation in q3_Kx4_unit's order (act_pairs_q8_K) and the offsets (q3_Kx4_bsums4).
static inline void q3_Kx4_act(const block_q8_K* y, int8_t* ap, v128_t* bq, int nb) {
  act_pairs_q8_K(y->qs, sizeof(block_q8_K), ap, nb);
  q3_Kx4_bsums4(y, bq, nb);
}
#endif

// Decode of repacked rows, gn groups at a time: n iterations, the first
// group of iteration it at row r + step * it, its gn groups `stride` rows
// apart. Each unit's eight broadcasts (of the reordered activation ap) and
// its offset vector (bq, q3_Kx4_bsums4) serve every group, each group is a
// stream of its own for the prefetcher, read front to back (its scales at
// the head of each super-block, then its units), and the steps end with
// PIN (relaxed.h). The integer sums are exact and the float step per row is
// q3_K_step's, so every gn and stride give the same bits.
static inline __attribute__((always_inline)) void q3_Kx4_groups(const uint8_t* w, int row_bytes, const block_q8_K* y,
                                                                const int8_t* ap, const v128_t* bq, float* out, int nb, int r, int n,
                                                                int step, int stride, int r0, int r1, int first,
                                                                const int gn) {
  v128_t pins[16];
  for (int it = 0; it < n; it++, r += step) {
    const block_q3_Kx4* g[8];
    v128_t sum[8];
    UNROLL for (int k = 0; k < gn; k++) {
      g[k] = (const block_q3_Kx4*)(w + (size_t)(r + stride * k) * row_bytes);
      sum[k] = wasm_f32x4_const_splat(0.0f);
    }
    const int8_t* a = ap;
    for (int i = 0; i < nb; i++) {
      v128_t mp[8][8], isum[8];
      const uint8_t* q[8];
      UNROLL for (int k = 0; k < gn; k++) {
        q3_Kx4_pairs_of(g[k], mp[k]);
        isum[k] = wasm_i32x4_const_splat(0);
        q[k] = &g[k]->qs[0][0][0];
      }
      const v128_t* b = bq + 8 * i;
      NOUNROLL for (unsigned u = 0; u < 8; u++, a += 32, b++) {
        const v128_t b4 = LOAD(b);
#ifdef RELAXED_DOT_ADD
        const v128_t s[4] = {wasm_v128_load64_splat(a), wasm_v128_load64_splat(a + 8), wasm_v128_load64_splat(a + 16),
                             wasm_v128_load64_splat(a + 24)};
        UNROLL for (int k = 0; k < gn; k++) {
          isum[k] = wasm_i32x4_add(isum[k], q3_Kx4_unit(q[k], s, b4, mp[k][u]));
          PIN(isum[k], pins[k]);
          q[k] += 48;
        }
#else
        const v128_t s[8] = {SPLAT4(a), SPLAT4(a + 4), SPLAT4(a + 8), SPLAT4(a + 12),
                             SPLAT4(a + 16), SPLAT4(a + 20), SPLAT4(a + 24), SPLAT4(a + 28)};
        UNROLL for (int k = 0; k < gn; k++) {
          const v128_t p = q3_Kx4_unit(q[k], s, &pins[2 * k]);
          PIN(p, pins[2 * k + 1]);
          isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(wasm_i16x8_sub(p, b4), mp[k][u]));
          q[k] += 48;
        }
#endif
      }
      UNROLL for (int k = 0; k < gn; k++) {
        sum[k] = q3_K_step(sum[k], isum[k], wasm_i32x4_const_splat(0), q3_Kx4_d(g[k]->d), &y[i]);  // offset already in isum
        g[k]++;
      }
    }
    UNROLL for (int k = 0; k < gn; k++) store4(sum[k], out, r + stride * k, r0, r1, first);
  }
}

// Decode of the thread's q3_Kx4 groups (from r0 & ~3; store4 keeps only
// the thread's rows): Q3_SPREAD at a time, each reading its own part of the
// thread's rows, then two side by side, then one.
//
// Measured (32768x4096 from memory, one thread, CPU time, medians of
// alternating rounds on a shared machine, load average 2.2-3.1), against
// two groups side by side (what this replaced): four side by side 1.3x,
// four spread 1.55x (6.3 -> 9.6 GB/s), eight spread no better than four. In
// cache (1024 and 4096 rows, alternating with the old build only) 1.08-1.12x
// (10.5 -> 11.3-11.9 GB/s).
//
// Issue 19 (decode at Q4_0's speed per byte; CPU time, the shared 2-core
// Xeon at load 4-6, alternating builds): q6_Kx4's gap was its read streams
// (scales in a block tail: two pointers per group); q3_Kx4 has none to
// close: each group is one stream read front to back, its scales at the
// head of each super-block. What the V8 code (node --print-wasm-code)
// shows is work: per unit and group about 64 instructions for 48 bytes
// where q4_0x4 has 73 for 72, of them 16 on the two ports that take byte
// dots, i16 dots and shifts (8 byte dots, 1 i16 dot, 7 shifts for the
// 3-bit decode) against q4_0x4's 13 per 72 bytes; per super-block and group
// another ~140 (the scale pairs, the -4 offset's eight i16 dots, d). A
// Q3_K weight has 0.76 of a Q4_0 weight's bytes, so parity per byte in
// cache would need the 3-bit decode nearly free. What paid:
// - the offset taken from the units' int16 sums (q3_Kx4_bsums4): no offset
//   dots per super-block and group (829 -> 594 instructions per super-block
//   of four groups): in cache 1.03-1.15x, from memory 1.02-1.03x;
// - with it eight spread groups instead of four: against the old kernel in
//   cache 1.05-1.24x, from memory 1.05-1.08x at 1 thread, 1.01-1.16x at 2
//   (four spread without the fold had measured no worse than eight). Per
//   byte against q4_0x4 that is 0.72-0.75x -> 0.77-0.84x in cache,
//   0.81-0.89x -> 0.87-0.93x from memory at 1 thread, 0.74-0.86x ->
//   0.84-0.91x at 2 (bench:kernels --memory, 32768x4096).
// Tried and dropped: d through an exact 9-op f16 conversion (q5_K-relaxed.c:
// an f16 subnormal scale becomes an f32 subnormal operand, whose multiply
// takes a microcode assist); each group's pointer hidden from clang per
// unit (q5_K-relaxed.c's OPAQUE): 514 -> 495 instructions per unit of eight
// groups, 1.0x in cache, 1.02-1.03x from memory; W1 and W3 read as 8 * W
// (masked, not shifted) into a sum of their own, shifted once (exact: a
// multiple of 8 within int16): one shift fewer per unit, 1.02x in cache,
// 1.0x from memory (kept since session 9, below).
// Session 9 (issue 19, decode per byte; the machine shared, load 3-5): the
// kernel is bound by its vector ops (taking 24% of a unit's ops away made
// q2_Kx4 1.2x faster in cache, 1.08x from memory), and a tenth of q3_Kx4's
// were per super-block and group: the scales' decode (33 in V8's code: two
// nibble planes and a pair plane, the -32, two extends per vector) and d by
// f16x4_to_f32x4 (some 25: its subnormal path converts unsigned integers).
// The scales as 6-bit fields of 16-bit lanes read by shifts (18 ops, see
// block_q3_Kx4) and d by q3_Kx4_d (13, exact for every finite f16, checked
// against f16x4_to_f32x4 on all 63488): against the build before, CPU time,
// 1.06x in cache (4096 rows), 1.04x from memory at 1 thread. Then W1 and W3
// as 8 * W (q3_Kx4_unit; 36 ops per unit and group): 1.02x in cache,
// 1.01-1.02x from memory.
// Session 10 (issue 19; Node 20, CPU time, the machine shared, load 0.5-1.9):
// this build against q4_0x4 per byte, 32768x4096 from memory 12.2-12.3
// against 13.1 GB/s at one thread (0.93-0.94), 24.2-24.3 against 25.4-25.7
// at two (0.95); in cache 15.1-15.3 against 17.1 (0.88-0.89). (The dot-add
// build reaches q4_0x4's speed per byte: its q3_Kx4_unit.) It is bound by
// its 36 vector ops: the eight broadcasts' spills cost little (four
// broadcasts used twice, wrong sums as a bound: 1.03x in cache, 1.0x from
// memory), so the dot-add build's order, which would need four more ops
// here (two i16 sums per unit, each with its offset and a pair-scale
// shuffle) to halve the broadcasts, was not built; the broadcasts loaded
// per group instead of held: 0.99x. The offset's i16 subtraction (one op
// per unit and group) has no cheaper place: per super-block it takes eight
// i32 dots and adds, and folded into the x8 sum it overflows int16 (8 * 4 *
// |bsum| reaches 2^16). d folded into the activation's scale (an f16x4_unscaled
// d, 2^112 moved to ad) would save some eight ops per super-block and
// group (1%) but make an f16-subnormal d an f32-subnormal operand (q5_K-
// relaxed.c: 0.66x on such rows): not taken. No PIN after the unit: 0.93x
// in cache; none inside it: 1.0x. Two threads: on a quiet machine q3_Kx4
// scales as q4_0x4 (1.98x against 1.95x from one thread to two, wall);
// with another job on the second core (CPU time per thread half the wall
// time, /proc/pressure/cpu up) both types' two-thread times came near their
// one-thread ones (q4_0x4 6.3-6.6 ms against 5.9), so two-thread ratios
// vary with the machine, not the kernel. Four and six spread groups, both
// builds: 0.91-1.0x of eight at one thread; at two 0.85-0.95x in the
// quieter runs, 0.97-1.09x under contention: eight kept.
#ifndef Q3_SPREAD
#define Q3_SPREAD 8
#endif
static void q3_Kx4_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, const int8_t* ap, const v128_t* bq, float* out, int nb, int r0, int r1,
                        int first) {
  int r = r0 & ~3;
  const int part = (r1 - r + 3) / 4 / Q3_SPREAD;  // groups per part
  q3_Kx4_groups(w, row_bytes, y, ap, bq, out, nb, r, part, 4, 4 * part, r0, r1, first, Q3_SPREAD);
  r += 4 * Q3_SPREAD * part;
  const int pairs = (r1 - r + 3) / 4 / 2;
  q3_Kx4_groups(w, row_bytes, y, ap, bq, out, nb, r, pairs, 8, 4, r0, r1, first, 2);
  r += 8 * pairs;
  q3_Kx4_groups(w, row_bytes, y, ap, bq, out, nb, r, (r1 - r + 3) / 4, 4, 4, r0, r1, first, 1);
}

// Decode of plain rows: one row at a time; the super-block's integer sums
// and its offset are reduced to one int32 before the group kernels' float
// step, done in lane 0.
static void q3_K_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, float* out, int nb, int r0, int r1, int first) {
  for (int r = r0; r < r1; r++) {
    const block_q3_K* x = (const block_q3_K*)(w + (size_t)r * row_bytes);
    v128_t sum = wasm_f32x4_const_splat(0.0f);
    for (int i = 0; i < nb; i++, x++) {
      const v128_t scv = unpack_scales_q3_K(x->scales);
      int16_t sc[16];  // as int16 in memory: each scale is then one broadcast load
      wasm_v128_store(sc, wasm_i16x8_extend_low_i8x16(scv));
      wasm_v128_store(sc + 8, wasm_i16x8_extend_high_i8x16(scv));
      v128_t acc = wasm_i32x4_const_splat(0);
      NOUNROLL for (int j = 0; j < 4; j++) {
        const int n = j >> 1, l0 = 16 * (j & 1);
        v128_t q[4];
        q3_K_decode(x, n, l0, q);
        const int8_t* a = y[i].qs + 128 * n + l0;
        const int16_t* s = sc + 8 * n + (j & 1);
        acc = wasm_i32x4_add(acc, kq_sb16_dot4(a, q, s));
      }
      const v128_t off = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(scv), LOAD(y[i].bsums)),
                                        wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(scv), LOAD(y[i].bsums + 8)));
      // lane 0: the sum of acc's lanes, lane 1: of off's
      const v128_t u = wasm_i32x4_add(wasm_i32x4_shuffle(acc, off, 0, 1, 4, 5), wasm_i32x4_shuffle(acc, off, 2, 3, 6, 7));
      const v128_t v = wasm_i32x4_add(wasm_i32x4_shuffle(u, u, 0, 2, 0, 2), wasm_i32x4_shuffle(u, u, 1, 3, 1, 3));
      const v128_t d = f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load16_splat(&x->d)));
      sum = q3_K_step(sum, v, wasm_i32x4_shuffle(v, v, 1, 1, 1, 1), d, &y[i]);
    }
    const float val = wasm_f32x4_extract_lane(sum, 0);
    out[r] = first ? val : out[r] + val;
  }
}
