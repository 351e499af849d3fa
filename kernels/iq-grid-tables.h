// Where the grid i-quants' tables (iq-grids.h) live, for the relaxed-SIMD
// module: it shares the baseline module's memory but may hold no data of its
// own (wasm/build.sh), so it imports the baseline export iq_grids() (the
// loader passes it at instantiation) and reads the tables from there.
#pragma once
#include <stdint.h>

typedef struct {
  const uint64_t* iq2xxs;      // iq2xxs_grid[256]
  const uint64_t* iq2xs;       // iq2xs_grid[512]
  const uint64_t* iq2s;        // iq2s_grid[1024]
  const uint32_t* iq3xxs;      // iq3xxs_grid[256]
  const uint32_t* iq3s;        // iq3s_grid[512]
  const uint64_t* iq1s;        // iq1s_grid[2048]
  const uint64_t* sign_masks;  // iq_sign_masks[128]
} iq_grid_tables;
