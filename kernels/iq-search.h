// The search tables of the grid i-quant quantizers (layout: iq-quantize.h),
// built as ggml's iq2xs_init_impl / iq3xs_init_impl build theirs: a map from
// every candidate point (a level index per coordinate) to the grid point
// with those levels, and for each candidate off the grid the list of grid
// points its quantizer chooses among. Built once per memory, into memory
// the caller allocates: the quantizers share them read-only across threads,
// and the kernels keep no globals. Compiled as part of iquants-grid.c
// (included at its end), so that the module holds one copy of the grids
// (iq-grids.h's arrays are static, one copy per file that uses them).
//
// The lists are what formats/quant/iq-grid-search.ts computes (lazily, per
// candidate); a candidate's neighbours are the grid points at the nwant
// smallest distinct squared distances, distance measured between odd
// positions 2l + 1, listed by (distance, index).
#pragma once
#include "iq-quantize.h"
#include "iq-grids.h"

// The level index of a grid value, per grid (the grids store level values).
static int iqs_level_of(int grid, int v) {
  switch (grid) {
    case IQG_1S: return v == 0xff ? 0 : v == 0 ? 1 : v == 1 ? 2 : -1;
    case IQG_3XXS: {
      static const uint8_t lv[8] = {4, 12, 20, 28, 36, 44, 52, 62};
      for (int l = 0; l < 8; l++) if (lv[l] == v) return l;
      return -1;
    }
    case IQG_3S: return (v & 1) && v <= 15 ? (v - 1) / 2 : -1;
    default: return v == 0x08 ? 0 : v == 0x19 ? 1 : v == 0x2b ? 2 : -1;
  }
}

// Coordinate i of point j, as stored (bytes of the little-endian entry).
static int iqs_grid_value(int grid, int j, int i) {
  switch (grid) {
    case IQG_2XXS: return (int)((iq2xxs_grid[j] >> (8 * i)) & 0xff);
    case IQG_2XS: return (int)((iq2xs_grid[j] >> (8 * i)) & 0xff);
    case IQG_2S: return (int)((iq2s_grid[j] >> (8 * i)) & 0xff);
    case IQG_3XXS: return (int)((iq3xxs_grid[j] >> (8 * i)) & 0xff);
    case IQG_3S: return (int)((iq3s_grid[j] >> (8 * i)) & 0xff);
    default: return (int)((iq1s_grid[j] >> (8 * i)) & 0xff);
  }
}

// Builds the tables into out, or (out == 0) only counts their bytes. Returns
// the bytes, or -1 for an unknown grid or a grid value that is not a level.
static int iqs_build(int grid, uint8_t* out) {
  if (grid < 0 || grid >= IQG_COUNT) return -1;
  const iq_grid_shape* g = &IQ_GRID_SHAPES[grid];
  const int dim = g->dim, bits = g->bits, size = g->size, mask = (1 << bits) - 1;
  uint8_t lev[2048 * 8];
  for (int j = 0; j < size; j++) {
    for (int i = 0; i < dim; i++) {
      const int l = iqs_level_of(grid, iqs_grid_value(grid, j, i));
      if (l < 0) return -1;
      lev[dim * j + i] = (uint8_t)l;
    }
  }
  int32_t* map = out ? (int32_t*)(out + 8) : 0;
  uint8_t* lists = out ? out + iq_search_lists_offset(grid) : 0;
  if (out) {
    const int32_t head[2] = {IQ_SEARCH_MAGIC + grid, g->map_size};
    memcpy(out, head, 8);
    memcpy(out + iq_search_lev_offset(grid), lev, (size_t)size * dim);
    for (int u = 0; u < g->map_size; u++) map[u] = -1;
    for (int j = 0; j < size; j++) {
      int u = 0;
      for (int i = 0; i < dim; i++) u |= lev[dim * j + i] << (bits * i);
      map[u] = j;
    }
  }
  // which candidates are on the grid (needed while counting too)
  uint8_t on[43692];  // the largest map_size
  memset(on, 0, sizeof on);
  for (int j = 0; j < size; j++) {
    int u = 0;
    for (int i = 0; i < dim; i++) u |= lev[dim * j + i] << (bits * i);
    on[u] = 1;
  }
  size_t at = 0;  // bytes of lists so far
  uint16_t dist[2048], chosen[2048];
  for (int u = 0; u < g->map_size; u++) {
    if (on[u]) continue;
    int pos[8], valid = 1;
    for (int i = 0; i < dim; i++) {
      const int l = (u >> (bits * i)) & mask;
      if (l >= g->n_levels) valid = 0;
      pos[i] = 2 * l + 1;
    }
    if (!valid) continue;
    // the nwant smallest distinct distances, ascending
    int best[3] = {1 << 30, 1 << 30, 1 << 30};
    const int nwant = g->nwant;
    for (int j = 0; j < size; j++) {
      int d2 = 0;
      for (int i = 0; i < dim; i++) {
        const int e = 2 * lev[dim * j + i] + 1 - pos[i];
        d2 += e * e;
      }
      dist[j] = (uint16_t)d2;
      if (d2 >= best[nwant - 1]) continue;
      int r = 0;
      while (best[r] < d2) r++;
      if (best[r] == d2) continue;
      for (int q = nwant - 1; q > r; q--) best[q] = best[q - 1];
      best[r] = d2;
    }
    int count = 0;
    for (int r = 0; r < nwant; r++) {
      for (int j = 0; j < size; j++) if (dist[j] == best[r]) chosen[count++] = (uint16_t)j;
    }
    if (out) {
      uint8_t* rec = lists + at;
      const int count4 = (count + 3) & ~3;
      const int32_t head[4] = {count, count4, 0, 0};
      memcpy(rec, head, 16);
      uint8_t* lanes = rec + 16;
      uint16_t* idx = (uint16_t*)(rec + 16 + (size_t)count4 * dim);
      for (int c = 0; c < count4; c++) {
        const int j = chosen[c < count ? c : count - 1];
        idx[c] = (uint16_t)j;
        uint8_t* blk = lanes + 4 * dim * (c / 4);
        for (int i = 0; i < dim; i++) blk[(i / 4) * 16 + 4 * (c % 4) + i % 4] = (uint8_t)(4 * lev[dim * j + i]);
      }
      map[u] = -1 - (int32_t)(at / 16);
    }
    at += iq_list_bytes(dim, count);
  }
  return (int)(iq_search_lists_offset(grid) + at);
}

// Bytes of grid's search tables (-1: no such grid).
int EXPORT(iq_grid_search_bytes)(int grid) { return iqs_build(grid, 0); }

// Builds grid's search tables at out (iq_grid_search_bytes(grid) bytes,
// 4-aligned); returns their bytes, or -1.
int EXPORT(iq_grid_search_init)(int grid, uint8_t* out) { return out ? iqs_build(grid, out) : -1; }
