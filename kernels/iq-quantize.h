// Shared by the i-quant quantizers (iq-search.c, iquants-quantize.c,
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
//            exactly those levels, or -1 - offset of its neighbour list in nb
//   lev      uint8[size * dim]: the level index of each coordinate of each point
//   nb       uint16[]: per off-grid candidate, a count then the grid points
//            ggml's quantizer picks among (every point at one of the nwant
//            smallest distinct squared distances, by (distance, index))
#define IQ_SEARCH_MAGIC 0x49510000
typedef struct {
  const int32_t* map;
  const uint8_t* lev;
  const uint16_t* nb;
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

static inline size_t iq_search_nb_offset(int grid) {
  const iq_grid_shape* s = &IQ_GRID_SHAPES[grid];
  return (iq_search_lev_offset(grid) + (size_t)s->size * s->dim + 3) & ~(size_t)3;
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
  s->nb = (const uint16_t*)(p + iq_search_nb_offset(grid));
  s->dim = g->dim;
  s->bits = g->bits;
  s->size = g->size;
  s->n_levels = g->n_levels;
  return 1;
}

// The neighbour list of off-grid candidate u: its count, and the points after it.
static inline const uint16_t* iq_search_neighbours(const iq_search* s, int u, int* count) {
  const uint16_t* p = s->nb + (-1 - s->map[u]);
  *count = p[0];
  return p + 1;
}
