// Shared by the i-quant quantizers (iq-search.h, iquants-quantize.c,
// iq1-quantize.c, iq4-quantize.c): ggml's float helpers, the error codes the
// quantize_rows_* exports return, and the layout of a grid's search tables.
//
// Every float step is float32, one operation at a time, in ggml's order:
// these quantizers make choices from comparisons and roundings, so the bytes
// are ggml's only if every intermediate is. WebAssembly has no fused
// multiply-add in its base instruction set and clang does not reassociate
// float sums without -ffast-math, so the C below is evaluated as written.
// formats/quant/iq-grid-quantize.ts, iq1-quantize.ts and iq4.ts are the
// same algorithms in TypeScript, kept as the oracle of these.
#pragma once
#include <float.h>
#include <math.h>
#include "common.h"

#define IQ_QK_K 256

// Return codes of quantize_rows_* (0: done).
#define IQ_ERR_NO_NEIGHBOUR 1  // no grid point had a finite error: values or weights not finite (ggml asserts)
#define IQ_ERR_SEARCH 2        // the search tables are missing or another grid's
#define IQ_ERR_SIZE 3          // n_per_row is not a multiple of the block size
#define IQ_ERR_WEIGHTS 4       // the type needs importance weights and got none

// Which grid a search table is for (iq_grid_search_bytes / _init).
enum { IQG_2XXS = 0, IQG_2XS = 1, IQG_2S = 2, IQG_3XXS = 3, IQG_3S = 4, IQG_1S = 5, IQG_COUNT = 6 };

// ggml's nearest_int: add 1.5 * 2^23 so the FPU rounds to an integer (ties
// to even), and read it from the mantissa; the same bits for any input.
static inline int iq_nearest_int(float fval) {
  const float val = fval + 12582912.f;
  int32_t i;
  memcpy(&i, &val, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// A grid's search tables, built once by iq_grid_search_init into memory the
// caller owns (the quantizers only read them, from any thread):
//   header   int32 magic (IQ_SEARCH_MAGIC + grid), int32 map_size
//   map      int32[map_size]: packed level indices (2 bits per coordinate for
//            the 8-value grids, 3 for the 4-value ones) -> the grid point with
//            exactly those levels, or -1 - (offset / 16) of its neighbour list
//   lev      uint8[size * dim]: the level index of each coordinate of each point
//   lists    per off-grid candidate, 16-byte aligned: int32 count, int32
//            count4 (count rounded up to 4), 8 bytes of padding; count4 / 4
//            lane blocks (below); then uint16 grid indices, count4 of them
//            (the last repeated), padded to 16 bytes. They are the points
//            ggml's quantizer picks among: every point at one of the nwant
//            smallest distinct squared distances, by (distance, index).
// A lane block holds 4 candidates c for the SIMD search: 4 * level(c, i) at
// byte 4c + i for coordinates i = 0..3 (16 bytes), and for the 8-value grids
// 16 more bytes the same for coordinates 4..7.
#define IQ_SEARCH_MAGIC 0x49510000
typedef struct {
  const int32_t* map;
  const uint8_t* lev;
  const uint8_t* lists;
  int dim, bits, size, n_levels;
} iq_search;

typedef struct {
  int dim, bits, size, n_levels, nwant, map_size;
} iq_grid_shape;

static const iq_grid_shape IQ_GRID_SHAPES[IQG_COUNT] = {
  {8, 2, 256, 3, 2, 43692},   // iq2xxs
  {8, 2, 512, 3, 2, 43692},   // iq2xs
  {8, 2, 1024, 3, 1, 43692},  // iq2s
  {4, 3, 256, 8, 2, 4096},    // iq3xxs
  {4, 3, 512, 8, 3, 4096},    // iq3s
  {8, 2, 2048, 3, 3, 43692},  // iq1s
};

static inline size_t iq_search_lev_offset(int grid) {
  return 8 + 4 * (size_t)IQ_GRID_SHAPES[grid].map_size;
}

static inline size_t iq_search_lists_offset(int grid) {
  const iq_grid_shape* s = &IQ_GRID_SHAPES[grid];
  return (iq_search_lev_offset(grid) + (size_t)s->size * s->dim + 15) & ~(size_t)15;
}

// Bytes of one list record of `count` candidates.
static inline size_t iq_list_bytes(int dim, int count) {
  const size_t count4 = (size_t)(count + 3) & ~(size_t)3;
  return 16 + count4 * dim + ((count4 * 2 + 15) & ~(size_t)15);
}

// The tables at p, if they are `grid`'s (0 otherwise).
static inline int iq_search_open(const uint8_t* p, int grid, iq_search* s) {
  if (!p) return 0;
  int32_t head[2];
  memcpy(head, p, 8);
  const iq_grid_shape* g = &IQ_GRID_SHAPES[grid];
  if (head[0] != IQ_SEARCH_MAGIC + grid || head[1] != g->map_size) return 0;
  s->map = (const int32_t*)(p + 8);
  s->lev = p + iq_search_lev_offset(grid);
  s->lists = p + iq_search_lists_offset(grid);
  s->dim = g->dim;
  s->bits = g->bits;
  s->size = g->size;
  s->n_levels = g->n_levels;
  return 1;
}

typedef struct {
  int count, count4;
  const uint8_t* lanes;
  const uint16_t* idx;
} iq_list;

// The neighbour list of off-grid candidate u.
static inline void iq_search_list(const iq_search* s, int u, iq_list* l) {
  const uint8_t* p = s->lists + (size_t)(-1 - s->map[u]) * 16;
  int32_t h[2];
  memcpy(h, p, 8);
  l->count = h[0];
  l->count4 = h[1];
  l->lanes = p + 16;
  l->idx = (const uint16_t*)(p + 16 + (size_t)l->count4 * s->dim);
}

// The list position of the candidate of least error, the first of equals
// (-1 if none is below FLT_MAX), for an 8-value grid: T[i] holds the error
// terms of coordinate i at levels 0, 1, 2 in its first three lanes. A
// candidate's error is the float sum of its terms in coordinate order, as
// ggml adds them; four candidates are summed at once, one per lane (the same
// float steps), their terms fetched by swizzling T[i] with the lane blocks.
// Each lane keeps its first minimum (strict <), and of the lanes' minima the
// least wins, the earlier position among equals: the candidate the scalar
// scan would keep. The padding repeats the last candidate at a later
// position, so it never wins a tie.
// The position of the least of the lanes' minima, the smallest position
// among equals; -1 when no lane found a value below FLT_MAX (a lane's
// minimum is never a nan: a nan never compares below).
static inline int iq_lanes_first_min(v128_t bestv, v128_t bestp) {
  v128_t m = wasm_f32x4_min(bestv, wasm_i32x4_shuffle(bestv, bestv, 2, 3, 0, 1));
  m = wasm_f32x4_min(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
  if (wasm_f32x4_extract_lane(m, 0) == FLT_MAX) return -1;
  v128_t p = wasm_v128_bitselect(bestp, wasm_i32x4_splat(0x7fffffff), wasm_f32x4_eq(bestv, m));
  p = wasm_i32x4_min(p, wasm_i32x4_shuffle(p, p, 2, 3, 0, 1));
  p = wasm_i32x4_min(p, wasm_i32x4_shuffle(p, p, 1, 0, 3, 2));
  return wasm_i32x4_extract_lane(p, 0);
}

static inline int iq_best8(const iq_list* l, const v128_t T[8]) {
  const v128_t K = wasm_i8x16_const(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
  const v128_t P0 = wasm_i8x16_const(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12);
  const v128_t P1 = wasm_i8x16_add(P0, wasm_i8x16_splat(1));
  const v128_t P2 = wasm_i8x16_add(P0, wasm_i8x16_splat(2));
  const v128_t P3 = wasm_i8x16_add(P0, wasm_i8x16_splat(3));
  v128_t bestv = wasm_f32x4_splat(FLT_MAX), bestp = wasm_i32x4_splat(-1);
  v128_t pos = wasm_i32x4_make(0, 1, 2, 3);
  const v128_t four = wasm_i32x4_splat(4);
  for (int b = 0; b < l->count4; b += 4, pos = wasm_i32x4_add(pos, four)) {
    const uint8_t* q = l->lanes + 8 * b;
    const v128_t lo = wasm_v128_load(q), hi = wasm_v128_load(q + 16);
    v128_t d2 = wasm_f32x4_splat(0);
    d2 = wasm_f32x4_add(d2, wasm_i8x16_swizzle(T[0], wasm_i8x16_add(wasm_i8x16_swizzle(lo, P0), K)));
    d2 = wasm_f32x4_add(d2, wasm_i8x16_swizzle(T[1], wasm_i8x16_add(wasm_i8x16_swizzle(lo, P1), K)));
    d2 = wasm_f32x4_add(d2, wasm_i8x16_swizzle(T[2], wasm_i8x16_add(wasm_i8x16_swizzle(lo, P2), K)));
    d2 = wasm_f32x4_add(d2, wasm_i8x16_swizzle(T[3], wasm_i8x16_add(wasm_i8x16_swizzle(lo, P3), K)));
    d2 = wasm_f32x4_add(d2, wasm_i8x16_swizzle(T[4], wasm_i8x16_add(wasm_i8x16_swizzle(hi, P0), K)));
    d2 = wasm_f32x4_add(d2, wasm_i8x16_swizzle(T[5], wasm_i8x16_add(wasm_i8x16_swizzle(hi, P1), K)));
    d2 = wasm_f32x4_add(d2, wasm_i8x16_swizzle(T[6], wasm_i8x16_add(wasm_i8x16_swizzle(hi, P2), K)));
    d2 = wasm_f32x4_add(d2, wasm_i8x16_swizzle(T[7], wasm_i8x16_add(wasm_i8x16_swizzle(hi, P3), K)));
    const v128_t m = wasm_f32x4_lt(d2, bestv);
    bestv = wasm_v128_bitselect(d2, bestv, m);
    bestp = wasm_v128_bitselect(pos, bestp, m);
  }
  return iq_lanes_first_min(bestv, bestp);
}

// iq_best8 for a 4-value grid (8 levels): T[i] holds the terms of levels
// 0..3, T[4 + i] of levels 4..7; a byte index past 15 picks from the second
// (swizzle gives 0 for an index out of range, so the two halves are or-ed).
static inline int iq_best4(const iq_list* l, const v128_t T[8]) {
  const v128_t K = wasm_i8x16_const(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
  const v128_t P0 = wasm_i8x16_const(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12);
  const v128_t s16 = wasm_i8x16_splat(16);
  v128_t bestv = wasm_f32x4_splat(FLT_MAX), bestp = wasm_i32x4_splat(-1);
  v128_t pos = wasm_i32x4_make(0, 1, 2, 3);
  const v128_t four = wasm_i32x4_splat(4);
  for (int b = 0; b < l->count4; b += 4, pos = wasm_i32x4_add(pos, four)) {
    const v128_t blk = wasm_v128_load(l->lanes + 4 * b);
    v128_t d2 = wasm_f32x4_splat(0);
    for (int i = 0; i < 4; i++) {
      const v128_t idx = wasm_i8x16_add(wasm_i8x16_swizzle(blk, wasm_i8x16_add(P0, wasm_i8x16_splat((int8_t)i))), K);
      d2 = wasm_f32x4_add(d2, wasm_v128_or(wasm_i8x16_swizzle(T[i], idx), wasm_i8x16_swizzle(T[4 + i], wasm_i8x16_sub(idx, s16))));
    }
    const v128_t m = wasm_f32x4_lt(d2, bestv);
    bestv = wasm_v128_bitselect(d2, bestv, m);
    bestp = wasm_v128_bitselect(pos, bestp, m);
  }
  return iq_lanes_first_min(bestv, bestp);
}
