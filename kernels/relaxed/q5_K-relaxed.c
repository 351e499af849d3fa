// Q5_K with relaxed SIMD: q4_K-relaxed.h's scheme (read its comments and
// relaxed.h's first) with a fifth bit per quant. The quants are 0..31, so
// the byte dot stays exact; a byte-dot lane then holds at most 2 * 127 * 31
// and an int16 accumulator may take four dots (8 products), not eight as
// q4_K's: every 16 elements of a row are widened to int32 with their scale.
//
// Plain rows: decode one row at a time (q5_K_rows), prefill four rows at a
// time after transposing nibbles and fifth bits into lanes.
//
// q5_Kx4 (block_q5_Kx4, written at load by repack_q5_Kx4,
// runtime/repack.ts): four rows' super-block with the scales as q4_Kx4 has
// them and each quant's five bits whole: per 8 vectors of 16 quants (a
// "unit": 16 elements of a chunk's low half and the 16 matching ones of its
// high half, four rows side by side in transpose4's order), five stored
// vectors S0..S4 whose bits 0-4 are quant vectors W0..W4 and whose top three
// bits hold W5..W7 (q5_Kx4_unit below). That decodes in 23 ops per 8
// vectors where the file's nibbles and qh bits take 36.
//
// Measured (4096 columns, one thread, CPU time, medians of alternating
// rounds, shared 2-core Xeon at load 6-9), GB/s of weights and per byte
// against q4_0x4: decode 4096 rows (in cache) q5_Kx4 12.6 (1.03x), plain
// q5_K 8.9 (0.71x), the baseline q5_K it replaces 6.2-6.6 (0.54x); 131072
// rows (from memory) q5_Kx4 6.7-7.0 (1.19x), plain 4.65 against the
// baseline's 4.3-4.4. Prefill, 64 tokens: 27 ms (either layout) against the
// baseline's 47; 2-8 tokens 1.3-3.6x.
//
// Every path reduces a super-block to exact int32 sums per row and takes
// the same f32 steps per row as q4_K (sum += (d * ad) * isum, msum +=
// (dmin * ad) * mins, result sum - msum), so a batch gives the bits of token
// by token and q5_Kx4 the bits of the plain layout.
//
// qs[32c + l]: element 64c + l in the low nibble, 64c + 32 + l in the high;
// qh[l] bit 2c: the fifth bit of element 64c + l, bit 2c + 1 of 64c + 32 + l.
#include "kquant-loop.h"

// Four rows' super-block: d, dmin, the 6-bit scales and mins interleaved by
// row exactly as block_q4_Kx4 (q4_K-relaxed.h) has them, then eight units of
// five vectors: qs[u][k], unit u = chunk u / 2, groups 4 (u % 2) .. + 3.
typedef struct {
  uint16_t d[4], dmin[4];
  uint8_t sm[32], ml[16];
  uint8_t qs[8][5][16];
} block_q5_Kx4;
_Static_assert(sizeof(block_q5_Kx4) == 4 * sizeof(block_q5_K), "a group takes four rows' bytes");

// A super-block's scales for four rows, in the shapes the dots take (as q4_K_scales4).
typedef struct {
  v128_t sc[8];    // sub-block k: i16 lanes 2j, 2j+1 = row j's scale
  v128_t mp[4];    // sub-blocks 2p, 2p+1: i16 lanes 2j, 2j+1 = row j's two mins
  v128_t d, dmin;  // f32 per row
} q5_K_scales4;

// i8x16.swizzle indices: i16 lanes 2j and 2j+1 <- byte q + j (SC_IDX), or bytes q + j and q + 4 + j (MP_IDX).
#define SC_IDX(q) wasm_i8x16_const(q, -128, q, -128, q + 1, -128, q + 1, -128, q + 2, -128, q + 2, -128, q + 3, -128, q + 3, -128)
#define MP_IDX(q) wasm_i8x16_const(q, -128, q + 4, -128, q + 1, -128, q + 5, -128, q + 2, -128, q + 6, -128, q + 3, -128, q + 7, -128)

static inline void q5_K_scales_from(v128_t sc0, v128_t sc1, v128_t mn0, v128_t mn1, q5_K_scales4* s) {
  s->sc[0] = wasm_i8x16_swizzle(sc0, SC_IDX(0)), s->sc[1] = wasm_i8x16_swizzle(sc0, SC_IDX(4));
  s->sc[2] = wasm_i8x16_swizzle(sc0, SC_IDX(8)), s->sc[3] = wasm_i8x16_swizzle(sc0, SC_IDX(12));
  s->sc[4] = wasm_i8x16_swizzle(sc1, SC_IDX(0)), s->sc[5] = wasm_i8x16_swizzle(sc1, SC_IDX(4));
  s->sc[6] = wasm_i8x16_swizzle(sc1, SC_IDX(8)), s->sc[7] = wasm_i8x16_swizzle(sc1, SC_IDX(12));
  s->mp[0] = wasm_i8x16_swizzle(mn0, MP_IDX(0)), s->mp[1] = wasm_i8x16_swizzle(mn0, MP_IDX(8));
  s->mp[2] = wasm_i8x16_swizzle(mn1, MP_IDX(0)), s->mp[3] = wasm_i8x16_swizzle(mn1, MP_IDX(8));
}

// Plain rows: unpack each row's 6-bit fields, then interleave the rows (byte 4k + j <- row j's byte k).
static inline void q5_K_scales(const block_q5_K* const x[4], int i, q5_K_scales4* s) {
  const v128_t s0 = unpack_scales_k4(x[0][i].scales), s1 = unpack_scales_k4(x[1][i].scales);
  const v128_t s2 = unpack_scales_k4(x[2][i].scales), s3 = unpack_scales_k4(x[3][i].scales);
  v128_t v[4];
  interleave_rows4_bytes(s0, s1, s2, s3, v);
  q5_K_scales_from(v[0], v[1], v[2], v[3], s);
  s->d = f16x4_to_f32x4(ROWS4_F16(x, i, d));
  s->dmin = f16x4_to_f32x4(ROWS4_F16(x, i, dmin));
}

// The scale and min bytes of a repacked group (q4_Kx4's sm/ml encoding).
static inline void q5_Kx4_fields(const block_q5_Kx4* g, v128_t* sc0, v128_t* sc1, v128_t* mn0, v128_t* mn1) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), m6 = wasm_i8x16_const_splat(0x3F);
  const v128_t sm0 = LOAD(g->sm), sm1 = LOAD(g->sm + 16), ml = LOAD(g->ml);
  *sc0 = wasm_v128_and(sm0, m6), *sc1 = wasm_v128_and(sm1, m6);
  *mn0 = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(sm0, m6), 2), wasm_v128_and(ml, m4));
  *mn1 = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(sm1, m6), 2), wasm_v128_and(wasm_u16x8_shr(ml, 4), m4));
}

// The eight scale vectors of a group's super-block.
static inline void q5_Kx4_scs(const block_q5_Kx4* g, v128_t scs[8], v128_t* mn0, v128_t* mn1) {
  v128_t sc0, sc1;
  q5_Kx4_fields(g, &sc0, &sc1, mn0, mn1);
  scs[0] = wasm_i8x16_swizzle(sc0, SC_IDX(0)), scs[1] = wasm_i8x16_swizzle(sc0, SC_IDX(4));
  scs[2] = wasm_i8x16_swizzle(sc0, SC_IDX(8)), scs[3] = wasm_i8x16_swizzle(sc0, SC_IDX(12));
  scs[4] = wasm_i8x16_swizzle(sc1, SC_IDX(0)), scs[5] = wasm_i8x16_swizzle(sc1, SC_IDX(4));
  scs[6] = wasm_i8x16_swizzle(sc1, SC_IDX(8)), scs[7] = wasm_i8x16_swizzle(sc1, SC_IDX(12));
}

// The mins term of four rows for one token: sum over sub-blocks of min * (sum of 32 activations).
static inline v128_t q5_K_mins(const v128_t* mp, v128_t b) {
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[0], wasm_i32x4_shuffle(b, b, 0, 0, 0, 0)),
                                       wasm_i32x4_dot_i16x8(mp[1], wasm_i32x4_shuffle(b, b, 1, 1, 1, 1))),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(mp[2], wasm_i32x4_shuffle(b, b, 2, 2, 2, 2)),
                                       wasm_i32x4_dot_i16x8(mp[3], wasm_i32x4_shuffle(b, b, 3, 3, 3, 3))));
}

// A unit's quant vectors: W0..W3 the low half's groups, W4..W7 the high
// half's, from the five stored vectors S0..S4 at q: Sk's bits 0-4 are Wk
// (k < 5); W5 = S0's bits 5-7 | S1's bits 5-6 << 3, W6 likewise from S2
// and S3, W7 = S4's bits 5-7 | S1's bit 7 << 3 | S3's bit 7 << 4. (Every
// u16 shift below moves only bits the masks kept within their byte.)
#define Q5_M5 wasm_i8x16_const_splat(0x1F)
static inline v128_t q5_w_lo(const uint8_t* q, int k) { return wasm_v128_and(LOAD(q + 16 * k), Q5_M5); }
static inline void q5_w_hi(const uint8_t* q, v128_t w[4]) {
  const v128_t m60 = wasm_i8x16_const_splat(0x60), m80 = wasm_i8x16_const_splat((int8_t)0x80);
  const v128_t s0 = LOAD(q), s1 = LOAD(q + 16), s2 = LOAD(q + 32), s3 = LOAD(q + 48), s4 = LOAD(q + 64);
  w[0] = wasm_v128_and(s4, Q5_M5);
  w[1] = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(s0, Q5_M5), 5), wasm_u16x8_shr(wasm_v128_and(s1, m60), 2));
  w[2] = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(s2, Q5_M5), 5), wasm_u16x8_shr(wasm_v128_and(s3, m60), 2));
  w[3] = wasm_v128_or(wasm_u16x8_shr(wasm_v128_andnot(s4, Q5_M5), 5),
                      wasm_v128_or(wasm_u16x8_shr(wasm_v128_and(s1, m80), 4), wasm_u16x8_shr(wasm_v128_and(s3, m80), 3)));
}

// One unit of one group against 16 + 16 activations at a (a[0..15]: the low
// half's, a[32..47]: the high half's): the two int16 sums (4 dots each).
static inline v128_t q5_dot_lo(const uint8_t* q, const v128_t s[4]) {
  return wasm_i16x8_add(wasm_i16x8_add(RDOT(s[0], q5_w_lo(q, 0)), RDOT(s[1], q5_w_lo(q, 1))),
                        wasm_i16x8_add(RDOT(s[2], q5_w_lo(q, 2)), RDOT(s[3], q5_w_lo(q, 3))));
}
static inline v128_t q5_dot_hi(const uint8_t* q, const v128_t t[4]) {
  v128_t w[4];
  q5_w_hi(q, w);
  return wasm_i16x8_add(wasm_i16x8_add(RDOT(t[0], w[0]), RDOT(t[1], w[1])), wasm_i16x8_add(RDOT(t[2], w[2]), RDOT(t[3], w[3])));
}

// A group's float steps for super-block i, after its exact int32 sums.
static inline void q5_Kx4_finish(const block_q5_Kx4* g, v128_t isum, v128_t mn0, v128_t mn1, const block_q8_K* yi, v128_t b32i,
                                 v128_t* sum, v128_t* msum) {
  const v128_t mp[4] = {wasm_i8x16_swizzle(mn0, MP_IDX(0)), wasm_i8x16_swizzle(mn0, MP_IDX(8)),
                        wasm_i8x16_swizzle(mn1, MP_IDX(0)), wasm_i8x16_swizzle(mn1, MP_IDX(8))};
  const v128_t mn = q5_K_mins(mp, b32i);
  const v128_t ad = wasm_f32x4_splat(yi->d);
  *sum = wasm_f32x4_add(*sum, wasm_f32x4_mul(wasm_f32x4_mul(f16x4_at(g->d), ad), wasm_f32x4_convert_i32x4(isum)));
  *msum = wasm_f32x4_add(*msum, wasm_f32x4_mul(wasm_f32x4_mul(f16x4_at(g->dmin), ad), wasm_f32x4_convert_i32x4(mn)));
}

// Hides a pointer's value from clang (an empty asm), so the loads from it
// that follow are the pointer plus a constant memarg offset, which V8 folds
// into the instruction. Without it clang strength-reduces each of a unit's
// five load addresses into an induction variable of its own; V8 then adds
// each (a lea per load) and keeps the sums for the high half's loads in
// registers it has not got (spills): 625 -> 535 instructions per step of
// eight groups, 1.07-1.12x in cache, 1.04x from memory at 1 thread, 1.01x
// at 2. (q3_Kx4's loop, with fewer such addresses: 514 -> 495, 1.0x in
// cache, 1.02-1.03x from memory; not kept there.)

// Decode of repacked rows, gn groups at a time: n iterations, the first
// group of iteration it at row r + step * it, its gn groups `stride` rows
// apart. Each unit's activation broadcasts serve every group, each group is
// a stream of its own for the prefetcher; the low halves, then the high
// halves, each group's step ended by PIN (relaxed.h) so V8 does not hoist
// the next step's loads and spill. The integer sums are exact and the float
// steps per row are q5_Kx4_finish's, so every gn and stride give the same
// bits.
static inline __attribute__((always_inline)) void q5_Kx4_groups(const uint8_t* w, int row_bytes, const block_q8_K* y,
                                                                const v128_t* b32, float* out, int nb, int r, int n,
                                                                int step, int stride, int r0, int r1, int first,
                                                                const int gn) {
  v128_t pins[16];
  for (int it = 0; it < n; it++, r += step) {
    const block_q5_Kx4* g[8];
    v128_t sum[8], msum[8];
    UNROLL for (int k = 0; k < gn; k++) {
      g[k] = (const block_q5_Kx4*)(w + (size_t)(r + stride * k) * row_bytes);
      sum[k] = msum[k] = wasm_f32x4_const_splat(0.0f);
    }
    for (int i = 0; i < nb; i++) {
      v128_t sc[8][8], mn0[8], mn1[8], isum[8];
      const uint8_t* q[8];
      UNROLL for (int k = 0; k < gn; k++) {
        q5_Kx4_scs(g[k], sc[k], &mn0[k], &mn1[k]);
        isum[k] = wasm_i32x4_const_splat(0);
        q[k] = &g[k]->qs[0][0][0];
      }
      const int8_t* a = y[i].qs;
      NOUNROLL for (unsigned c = 0; c < 4; c++) {
        NOUNROLL for (unsigned u = 0; u < 2; u++, a += 16) {
          const v128_t s[4] = {SPLAT4(a), SPLAT4(a + 4), SPLAT4(a + 8), SPLAT4(a + 12)};
          UNROLL for (int k = 0; k < gn; k++) {
            OPAQUE(q[k]);
            isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(q5_dot_lo(q[k], s), sc[k][2 * c]));
            PIN(isum[k], pins[2 * k]);
          }
          const v128_t t[4] = {SPLAT4(a + 32), SPLAT4(a + 36), SPLAT4(a + 40), SPLAT4(a + 44)};
          UNROLL for (int k = 0; k < gn; k++) {
            OPAQUE(q[k]);
            isum[k] = wasm_i32x4_add(isum[k], wasm_i32x4_dot_i16x8(q5_dot_hi(q[k], t), sc[k][2 * c + 1]));
            PIN(isum[k], pins[2 * k + 1]);
            q[k] += 80;
          }
        }
        a += 32;
      }
      UNROLL for (int k = 0; k < gn; k++) {
        q5_Kx4_finish(g[k], isum[k], mn0[k], mn1[k], &y[i], b32[i], &sum[k], &msum[k]);
        g[k]++;
      }
    }
    UNROLL for (int k = 0; k < gn; k++) store4(wasm_f32x4_sub(sum[k], msum[k]), out, r + stride * k, r0, r1, first);
  }
}

// Decode of the thread's q5_Kx4 groups (from r0 & ~3; store4 keeps only
// the thread's rows): eight at a time, each reading its own eighth of the
// thread's rows, then two side by side, then one.
//
// Measured (32768x4096, from memory, one thread, CPU time, medians of
// alternating rounds on a shared machine, load average 2.7-3.0), against
// two groups side by side (what this replaced): four side by side no
// faster, four spread 1.35x, eight spread 1.45x (7.0 -> 10.3 GB/s). In
// cache (1024 and 4096 rows, alternating with the old build only) eight
// spread ties the old kernel (13.3-14.3 GB/s) where four spread is 1.07-1.1x
// faster: its scale vectors (8 per group) stay out of the stack. Decode
// reads a model's weights from memory, so eight.
//
// Issue 19 (decode at Q4_0's speed per byte; CPU time, the shared 2-core
// Xeon at load 4-6, medians of alternating rounds): q6_Kx4's gap was its
// read streams (scales in a block tail: two pointers per group); q5_Kx4 has
// none to close: each group is one stream read front to back, its scales
// at the head of each super-block. Its gap is work (node
// --print-wasm-code): per unit and group 78 instructions for 80 bytes and
// per super-block and group ~160 more (the scale vectors, the mins' dots,
// d and dmin to f32), 1.11 instructions per byte where q4_0x4 takes 1.02;
// OPAQUE (above) brought that to 67 per unit and group, 0.98 per byte.
// What remains is the two ports that take byte dots, i16 dots and shifts:
// 17 such per unit (8 byte dots, 2 i16 dots, 7 shifts for the fifth bits)
// against q4_0x4's 13 per 72 bytes, 0.86x per byte. Per byte against
// q4_0x4 this kernel runs 0.86-0.89x in cache (0.82-0.83x before OPAQUE),
// from memory 0.92-0.93x at 1 thread (0.85-0.89x), 0.96-0.98x at 2
// (0.88-0.94x; bench:kernels --memory, 32768x4096, rows of N(0, 1) or
// N(0, 0.02) alike). bench:kernels --rows 32768 (one matrix, partly in the
// L3) read 0.96-1.0x the old kernel.
// The i16 dots cannot be shared by two sub-blocks (q3_Kx4, q6_Kx4: a
// 5-bit quant's byte dots fill int16 in four), the fifth bits need their
// shifts (three values from top-bit fields of two bytes each), and the
// scale vectors cost some 10 instructions per super-block and group, so
// scales beside each unit (which would need the mixed pairs and the 6-bit
// mins split over the units) would win about 1%. Tried and dropped:
// - a whole unit per group step (its five vectors loaded once, one PIN):
//   fewer loads but the eight broadcasts spilled: 0.94x in cache, 0.99x
//   from memory;
// - the mins term computed before the units (one vector kept, not two):
//   no fewer instructions;
// - d and dmin through an exact 9-op f16 conversion (the f16's bits
//   shifted into an f32 as value * 2^-112, times 2^112; every one of the
//   65536 inputs gives f16x4_to_f32x4's bits): 1.03x from memory on rows
//   of N(0, 1), 0.66-0.69x in cache on rows of N(0, 0.02), where half the
//   blocks' d are f16 subnormals: an f32 multiply with a subnormal operand
//   takes a microcode assist. Real weights have such scales: no float op
//   here may take one (f16x4_to_f32x4 converts them as integers).
static void q5_Kx4_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, const v128_t* b32, float* out, int nb,
                        int r0, int r1, int first) {
  int r = r0 & ~3;
  const int part = (r1 - r + 3) / 4 / 8;  // groups per eighth
  q5_Kx4_groups(w, row_bytes, y, b32, out, nb, r, part, 4, 4 * part, r0, r1, first, 8);
  r += 32 * part;
  const int pairs = (r1 - r + 3) / 4 / 2;
  q5_Kx4_groups(w, row_bytes, y, b32, out, nb, r, pairs, 8, 4, r0, r1, first, 2);
  r += 8 * pairs;
  q5_Kx4_groups(w, row_bytes, y, b32, out, nb, r, (r1 - r + 3) / 4, 4, 4, r0, r1, first, 1);
}

// Decode of plain rows (q4_K_rows with the fifth bit moved to bit 4 of each
// byte), two at a time (q5_K_row_pairs), a last odd one alone. The integer
// sums of a super-block are reduced to one int32 (lane 0) and its mins term
// (lane 1) before the float steps, the group kernels' per lane in their order.
// One row at a time read 0.8-0.9x the baseline kernel's speed from memory;
// two streams 1.2x that (4096 columns, 131072 rows), and 1.1x in cache.
// One super-block of one plain row: the exact integer sum (lane 0) and mins term (lane 1).
__attribute__((always_inline)) static inline v128_t q5_K_row_isums(const block_q5_K* x, const block_q8_K* yi, v128_t b32i) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), m16 = wasm_i8x16_const_splat(0x10);
  const v128_t smv = unpack_scales_k4(x->scales);
  int16_t sm[8];  // as int16 in memory: each scale is then one broadcast load
  wasm_v128_store(sm, wasm_u16x8_extend_low_u8x16(smv));
  v128_t acc = wasm_i32x4_const_splat(0);
  v128_t h0 = LOAD(x->qh), h1 = LOAD(x->qh + 16);
  NOUNROLL for (int c = 0; c < 4; c++) {
    const v128_t v0 = LOAD(x->qs + 32 * c), v1 = LOAD(x->qs + 32 * c + 16);
    const v128_t l0 = wasm_v128_or(wasm_v128_and(v0, m4), wasm_v128_and(wasm_i16x8_shl(h0, 4), m16));
    const v128_t l1 = wasm_v128_or(wasm_v128_and(v1, m4), wasm_v128_and(wasm_i16x8_shl(h1, 4), m16));
    const v128_t u0 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v0, 4), m4), wasm_v128_and(wasm_i16x8_shl(h0, 3), m16));
    const v128_t u1 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v1, 4), m4), wasm_v128_and(wasm_i16x8_shl(h1, 3), m16));
    const int8_t* q = yi->qs + 64 * c;
    const v128_t lo = wasm_i16x8_add(RDOT(LOAD(q), l0), RDOT(LOAD(q + 16), l1));
    const v128_t hi = wasm_i16x8_add(RDOT(LOAD(q + 32), u0), RDOT(LOAD(q + 48), u1));
    acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(lo, wasm_v128_load16_splat(sm + 2 * c)),
                                             wasm_i32x4_dot_i16x8(hi, wasm_v128_load16_splat(sm + 2 * c + 1))));
    h0 = wasm_u16x8_shr(h0, 2);
    h1 = wasm_u16x8_shr(h1, 2);
  }
  const v128_t mn = wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(smv), b32i);
  const v128_t u = wasm_i32x4_add(wasm_i32x4_shuffle(acc, mn, 0, 1, 4, 5), wasm_i32x4_shuffle(acc, mn, 2, 3, 6, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(u, u, 0, 2, 0, 2), wasm_i32x4_shuffle(u, u, 1, 3, 1, 3));
}

// Two rows at a time: two streams for the prefetcher. Lanes 0, 1: row r's
// sum and msum, lanes 2, 3: row r + 1's; the float steps per lane as q5_K_rows'.
static int q5_K_row_pairs(const uint8_t* w, int row_bytes, const block_q8_K* y, const v128_t* b32, float* out, int nb, int r0,
                          int r1, int first) {
  int r = r0;
  for (; r + 1 < r1; r += 2) {
    const block_q5_K* xa = (const block_q5_K*)(w + (size_t)r * row_bytes);
    const block_q5_K* xb = (const block_q5_K*)(w + (size_t)(r + 1) * row_bytes);
    v128_t sm4 = wasm_f32x4_const_splat(0.0f);
    for (int i = 0; i < nb; i++, xa++, xb++) {
      const v128_t va = q5_K_row_isums(xa, &y[i], b32[i]), vb = q5_K_row_isums(xb, &y[i], b32[i]);
      const v128_t v = wasm_i32x4_shuffle(va, vb, 0, 1, 4, 5);
      const v128_t dd = f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_i32x4_make(*(const int32_t*)&xa->d, *(const int32_t*)&xb->d, 0, 0)));
      sm4 = wasm_f32x4_add(sm4, wasm_f32x4_mul(wasm_f32x4_mul(dd, wasm_f32x4_splat(y[i].d)), wasm_f32x4_convert_i32x4(v)));
    }
    const float va = wasm_f32x4_extract_lane(sm4, 0) - wasm_f32x4_extract_lane(sm4, 1);
    const float vb = wasm_f32x4_extract_lane(sm4, 2) - wasm_f32x4_extract_lane(sm4, 3);
    out[r] = first ? va : out[r] + va;
    out[r + 1] = first ? vb : out[r + 1] + vb;
  }
  return r;
}

static void q5_K_rows(const uint8_t* w, int row_bytes, const block_q8_K* y, const v128_t* b32, float* out, int nb, int r0,
                      int r1, int first) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), m16 = wasm_i8x16_const_splat(0x10);
  for (int r = q5_K_row_pairs(w, row_bytes, y, b32, out, nb, r0, r1, first); r < r1; r++) {
    const block_q5_K* x = (const block_q5_K*)(w + (size_t)r * row_bytes);
    v128_t sm2 = wasm_f32x4_const_splat(0.0f);  // lane 0: sum, lane 1: msum
    for (int i = 0; i < nb; i++, x++) {
      const v128_t smv = unpack_scales_k4(x->scales);
      int16_t sm[8];  // as int16 in memory: each scale is then one broadcast load
      wasm_v128_store(sm, wasm_u16x8_extend_low_u8x16(smv));
      v128_t acc = wasm_i32x4_const_splat(0);
      v128_t h0 = LOAD(x->qh), h1 = LOAD(x->qh + 16);
      NOUNROLL for (int c = 0; c < 4; c++) {
        const v128_t v0 = LOAD(x->qs + 32 * c), v1 = LOAD(x->qs + 32 * c + 16);
        const v128_t l0 = wasm_v128_or(wasm_v128_and(v0, m4), wasm_v128_and(wasm_i16x8_shl(h0, 4), m16));
        const v128_t l1 = wasm_v128_or(wasm_v128_and(v1, m4), wasm_v128_and(wasm_i16x8_shl(h1, 4), m16));
        const v128_t u0 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v0, 4), m4), wasm_v128_and(wasm_i16x8_shl(h0, 3), m16));
        const v128_t u1 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v1, 4), m4), wasm_v128_and(wasm_i16x8_shl(h1, 3), m16));
        const int8_t* q = y[i].qs + 64 * c;
        const v128_t lo = wasm_i16x8_add(RDOT(LOAD(q), l0), RDOT(LOAD(q + 16), l1));
        const v128_t hi = wasm_i16x8_add(RDOT(LOAD(q + 32), u0), RDOT(LOAD(q + 48), u1));
        acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(lo, wasm_v128_load16_splat(sm + 2 * c)),
                                                 wasm_i32x4_dot_i16x8(hi, wasm_v128_load16_splat(sm + 2 * c + 1))));
        h0 = wasm_u16x8_shr(h0, 2);
        h1 = wasm_u16x8_shr(h1, 2);
      }
      const v128_t mn = wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(smv), b32[i]);
      const v128_t u = wasm_i32x4_add(wasm_i32x4_shuffle(acc, mn, 0, 1, 4, 5), wasm_i32x4_shuffle(acc, mn, 2, 3, 6, 7));
      const v128_t v = wasm_i32x4_add(wasm_i32x4_shuffle(u, u, 0, 2, 0, 2), wasm_i32x4_shuffle(u, u, 1, 3, 1, 3));
      const v128_t dd = f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(wasm_v128_load32_zero(&x->d)));
      sm2 = wasm_f32x4_add(sm2, wasm_f32x4_mul(wasm_f32x4_mul(dd, wasm_f32x4_splat(y[i].d)), wasm_f32x4_convert_i32x4(v)));
    }
    const float val = wasm_f32x4_extract_lane(sm2, 0) - wasm_f32x4_extract_lane(sm2, 1);
    out[r] = first ? val : out[r] + val;
  }
}

// Per (row, token) state across a row group's super-blocks.
typedef kq_acc q5_K_acc;

// Super-block i of four rows against nt tokens; q[16c + 8h + g]: chunk c,
// half h, group g (transpose4's order, whole quants 0..31).
static inline void q5_K_superblock(const q5_K_scales4* s, const v128_t* q, int i, const block_q8_K* const* y,
                                   const v128_t* const* b32, q5_K_acc* acc, int nt) {
  for (int t = 0; t < nt; t++) acc[t].isum = wasm_i32x4_const_splat(0);
  NOUNROLL for (int c = 0; c < 4; c++) {
    NOUNROLL for (int h = 0; h < 2; h++) {
      const v128_t* w = q + 16 * c + 8 * h;
      const v128_t sc = s->sc[2 * c + h];
      for (int t = 0; t < nt; t++) {
        const int8_t* a = y[t][i].qs + 64 * c + 32 * h;
        const v128_t p0 = wasm_i16x8_add(wasm_i16x8_add(RDOT(SPLAT4(a), w[0]), RDOT(SPLAT4(a + 4), w[1])),
                                         wasm_i16x8_add(RDOT(SPLAT4(a + 8), w[2]), RDOT(SPLAT4(a + 12), w[3])));
        const v128_t p1 = wasm_i16x8_add(wasm_i16x8_add(RDOT(SPLAT4(a + 16), w[4]), RDOT(SPLAT4(a + 20), w[5])),
                                         wasm_i16x8_add(RDOT(SPLAT4(a + 24), w[6]), RDOT(SPLAT4(a + 28), w[7])));
        acc[t].isum = wasm_i32x4_add(acc[t].isum, wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, sc), wasm_i32x4_dot_i16x8(p1, sc)));
      }
    }
  }
  for (int t = 0; t < nt; t++) {
    const v128_t mn = q5_K_mins(s->mp, b32[t][i]);
    const v128_t ad = wasm_f32x4_splat(y[t][i].d);
    acc[t].sum = wasm_f32x4_add(acc[t].sum, wasm_f32x4_mul(wasm_f32x4_mul(s->d, ad), wasm_f32x4_convert_i32x4(acc[t].isum)));
    acc[t].msum = wasm_f32x4_add(acc[t].msum, wasm_f32x4_mul(wasm_f32x4_mul(s->dmin, ad), wasm_f32x4_convert_i32x4(mn)));
  }
}

// A repacked super-block's quants in q5_K_superblock's order.
static inline void q5_Kx4_quants(const block_q5_Kx4* g, v128_t* q) {
  for (int u = 0; u < 8; u++) {
    const uint8_t* p = g->qs[u][0];
    v128_t* lo = q + 16 * (u >> 1) + 4 * (u & 1);
    for (int k = 0; k < 4; k++) lo[k] = q5_w_lo(p, k);
    q5_w_hi(p, lo + 8);
  }
}

// Four plain rows' super-block i in q5_K_superblock's order: nibbles and qh
// bytes transposed into lanes, the fifth bit moved to bit 4.
static inline void q5_K_quants(const block_q5_K* const x[4], int i, v128_t* q) {
  const v128_t m4 = wasm_i8x16_const_splat(0x0F), m16 = wasm_i8x16_const_splat(0x10);
  v128_t nib[32], hq[8];
  for (int k = 0; k < 8; k++)  // 16 bytes of each row at a time: chunk k / 2, groups 4 (k % 2) ..
    transpose4(LOAD(x[0][i].qs + 16 * k), LOAD(x[1][i].qs + 16 * k), LOAD(x[2][i].qs + 16 * k), LOAD(x[3][i].qs + 16 * k), nib + 4 * k);
  for (int k = 0; k < 2; k++)
    transpose4(LOAD(x[0][i].qh + 16 * k), LOAD(x[1][i].qh + 16 * k), LOAD(x[2][i].qh + 16 * k), LOAD(x[3][i].qh + 16 * k), hq + 4 * k);
  for (int c = 0; c < 4; c++)
    for (int g = 0; g < 8; g++) {
      const v128_t h = wasm_u16x8_shr(hq[g], 2 * c), v = nib[8 * c + g];
      q[16 * c + g] = wasm_v128_or(wasm_v128_and(v, m4), wasm_v128_and(wasm_i16x8_shl(h, 4), m16));
      q[16 * c + 8 + g] = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(v, 4), m4), wasm_v128_and(wasm_i16x8_shl(h, 3), m16));
    }
}

// One token: the decode paths.
KQ_HOOK void q5_K_one_token(const uint8_t* wc, int row_bytes, const block_q8_K* y, const v128_t* b32, float* o, int nb, int r0,
                            int r1, int first, int x4) {
  if (x4) q5_Kx4_rows(wc, row_bytes, y, b32, o, nb, r0, r1, first);
  else q5_K_rows(wc, row_bytes, y, b32, o, nb, r0, r1, first);
}

// Prefill, one q5_Kx4 group.
KQ_HOOK void q5_Kx4_group(const uint8_t* gp, int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc, int nt) {
  const block_q5_Kx4* g = (const block_q5_Kx4*)gp;
  q5_K_scales4 s;
  v128_t q[64];
  for (int i = 0; i < nb; i++) {
    v128_t sc0, sc1, mn0, mn1;
    q5_Kx4_fields(g + i, &sc0, &sc1, &mn0, &mn1);
    q5_K_scales_from(sc0, sc1, mn0, mn1, &s);
    s.d = f16x4_at(g[i].d);
    s.dmin = f16x4_at(g[i].dmin);
    q5_Kx4_quants(g + i, q);
    q5_K_superblock(&s, q, i, y, b32, acc, nt);
  }
}

// Prefill, four plain rows.
KQ_HOOK void q5_K_group(const uint8_t* const xp[4], int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc,
                        int nt, int layout) {
  (void)layout;
  const block_q5_K* x[4] = KQ_ROWS(block_q5_K, xp);
  q5_K_scales4 s;
  v128_t q[64];
  for (int i = 0; i < nb; i++) {
    q5_K_scales(x, i, &s);
    q5_K_quants(x, i, q);
    q5_K_superblock(&s, q, i, y, b32, acc, nt);
  }
}

static const kq_type q5_K_loop = {.block = sizeof(block_q5_K), .block_x4 = sizeof(block_q5_Kx4), .mins = 1};

// x4: 0 plain rows, 1 q5_Kx4 (kquant-loop.h's loop).
static inline void q5_K_mul_mat(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                int n, int n_tok, int r0, int r1, int x4) {
  kq_mul_mat(&q5_K_loop, bsums32_q8_K, q5_K_one_token, q5_Kx4_group, q5_K_group, 0, w, row_bytes, a, a_row_bytes, out,
             out_stride, n, n_tok, r0, r1, x4, x4);
}

RELAXED_ENTRIES(q5_K, q5_K_mul_mat, 0)
RELAXED_ENTRIES(q5_Kx4, q5_K_mul_mat, 1)

RELAXED_VEC_DOT(q5_K, q8_K, q5_K_mul_mat)

// Rewrites n_rows (a multiple of 4) plain q5_K rows as q5_Kx4 groups, in
// place: group G takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_q5_Kx4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_q5_K);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    block_q5_Kx4* g = (block_q5_Kx4*)base;
    for (int i = 0; i < nb; i++) {
      for (int j = 0; j < 16; j++) g[i].ml[j] = 0;
      for (int j = 0; j < 4; j++) {
        const block_q5_K* x = (const block_q5_K*)((const uint8_t*)scratch + (size_t)j * row_bytes) + i;
        g[i].d[j] = x->d;
        g[i].dmin[j] = x->dmin;
        repack_kx4_scales_mins(x->scales, j, g[i].sm, g[i].ml);
        for (int u = 0; u < 8; u++) {
          const int c = u >> 1;
          for (int l = 0; l < 4; l++) {
            // W[m], W[4 + m] at byte 4j + l: element e of the chunk's low half and of its high half
            int W[8];
            for (int m = 0; m < 4; m++) {
              const int e = 16 * (u & 1) + 4 * m + l;
              W[m] = (x->qs[32 * c + e] & 0x0F) | (((x->qh[e] >> (2 * c)) & 1) << 4);
              W[4 + m] = (x->qs[32 * c + e] >> 4) | (((x->qh[e] >> (2 * c + 1)) & 1) << 4);
            }
            uint8_t* b = &g[i].qs[u][0][4 * j + l];
            b[0] = (uint8_t)(W[0] | (W[5] & 7) << 5);
            b[16] = (uint8_t)(W[1] | (W[5] >> 3) << 5 | ((W[7] >> 3) & 1) << 7);
            b[32] = (uint8_t)(W[2] | (W[6] & 7) << 5);
            b[48] = (uint8_t)(W[3] | (W[6] >> 3) << 5 | (W[7] >> 4) << 7);
            b[64] = (uint8_t)(W[4] | (W[7] & 7) << 5);
          }
        }
      }
    }
  }
}
