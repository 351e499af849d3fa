// Quantizers of the 2- and 3-bit grid i-quants (iq2_xxs, iq2_xs, iq2_s,
// iq3_xxs, iq3_s), equal byte for byte to ggml's quantize_iq* for the same
// rows and importance weights. The algorithm is the one
// formats/quant/iq-grid-quantize.ts describes (and is the test oracle of
// this file): per group of 16 or 32 values, weights from the importance and
// the super-block's mean square, magnitudes and sign bytes (an even number
// of minus signs for the 7-bit sign indices), a sweep of inverse scales
// rounding each group to levels that are looked up on the grid (or replaced
// by the best of its neighbours, iq-search.h's tables), the best weighted
// least-squares scale kept, off-grid groups refitted, and 4-bit group scales.
//
// quantize_rows_<t>(x, y, n_rows, n_per_row, imatrix, search): n_rows rows
// of n_per_row floats (a multiple of 256) at x to y; imatrix holds
// n_per_row weights shared by every row (0 for none, where ggml allows it);
// search is iq_grid_search_init's tables for the type's grid. Returns 0 or
// an IQ_ERR_* code. Scratch is on the stack: any thread may call it.
#include "iq-quantize.h"

// Size over speed for the whole file (-Oz's choices; measured as fast as -O3
// here): the module ships in the npm package and the browser build twice.
#pragma clang attribute push(__attribute__((minsize)), apply_to = function)

#define GROUP_MAX_EPS 1e-15f
#define GROUP_MAX_EPS_IQ3_XXS 1e-8f
#define GROUP_MAX_EPS_IQ2_S 1e-8f

// Which groups are re-rounded at the fitted scale after the sweep.
enum { REFIT_ALWAYS, REFIT_OFF_GRID, REFIT_ALL_IF_ANY_OFF };

typedef struct {
  int n;       // values per group of the sweep (16 or 32)
  int kmaxq;   // levels per coordinate
  int range;   // inverse scales (2 kmaxq - 1 + is * step) / ref, is in [-range, range]
  float step;
  int refit;
} sweep_spec;

// One group's working set.
typedef struct {
  const iq_search* g;
  float weight[32], waux[32], xval[32];
  int8_t L[32];
  uint8_t on_grid[8];
  int signs[4];
  int grid_index[8];
  float fit_qx, fit_q2;
  int error;
} group;

static float sigma2_of(const float* x, float mul) {
  float sumx2 = 0;
  for (int i = 0; i < IQ_QK_K; i++) sumx2 += x[i] * x[i];
  return mul * sumx2 / IQ_QK_K;
}

static void importance_weights(group* s, const float* x, const float* w, int n, float sigma2) {
  for (int i = 0; i < n; i++) s->weight[i] = w[i] * sqrtf(sigma2 + x[i] * x[i]);
}

static void aux_weights(group* s, int n) {
  for (int i = 0; i < n; i++) s->waux[i] = sqrtf(s->weight[i]);
}

// |x| into xval, a sign byte per 8 into signs; with `even`, an odd number of
// minus signs is made even by flipping the value of least w x^2, and the
// sign bytes keep 7 bits.
static void split_signs(group* s, const float* x, int n, int even) {
  for (int k = 0; k < n / 8; k++) {
    int sg = 0, nflip = 0;
    for (int i = 0; i < 8; i++) {
      const float v = x[8 * k + i];
      if (v >= 0) s->xval[8 * k + i] = v;
      else { s->xval[8 * k + i] = -v; nflip++; sg |= 1 << i; }
    }
    if (even) {
      if (nflip % 2) {
        int imin = 0;
        float min = s->weight[8 * k] * x[8 * k] * x[8 * k];
        for (int i = 1; i < 8; i++) {
          const float ax = s->weight[8 * k + i] * x[8 * k + i] * x[8 * k + i];
          if (ax < min) { min = ax; imin = i; }
        }
        s->xval[8 * k + imin] = -s->xval[8 * k + imin];
        sg ^= 1 << imin;
      }
      sg &= 127;
    }
    s->signs[k] = sg;
  }
}

#pragma clang attribute pop  // the search itself is built for speed

// ggml's iq2/iq3_find_best_neighbour: the neighbour of u with the least
// waux-weighted squared error at `scale`, returns its index. Each
// coordinate's term depends only on its level, so the few terms are computed
// once and each candidate's error is their float sum in ggml's order, four
// candidates at a time (iq_best8, iq_best4).
__attribute__((noinline)) static int best_neighbour(group* s, int u, int lo, float scale) {
  const iq_search* g = s->g;
  iq_list l;
  iq_search_list(g, u, &l);
  const int dim = g->dim;
  int pos = -1;
  if (dim == 8) {
    v128_t T[8];
    const v128_t q = wasm_f32x4_mul(wasm_f32x4_splat(scale), wasm_f32x4_make(1, 3, 5, 7));
    for (int i = 0; i < 8; i++) {
      const v128_t diff = wasm_f32x4_sub(q, wasm_f32x4_splat(s->xval[lo + i]));
      T[i] = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_splat(s->waux[lo + i]), diff), diff);
    }
    pos = iq_best8(&l, T);
  } else {
    v128_t T[8];
    const v128_t sc = wasm_f32x4_splat(scale);
    const v128_t qa = wasm_f32x4_mul(sc, wasm_f32x4_make(1, 3, 5, 7)), qb = wasm_f32x4_mul(sc, wasm_f32x4_make(9, 11, 13, 15));
    for (int i = 0; i < 4; i++) {
      const v128_t xv = wasm_f32x4_splat(s->xval[lo + i]), wv = wasm_f32x4_splat(s->waux[lo + i]);
      const v128_t da = wasm_f32x4_sub(qa, xv), db = wasm_f32x4_sub(qb, xv);
      T[i] = wasm_f32x4_mul(wasm_f32x4_mul(wv, da), da);
      T[4 + i] = wasm_f32x4_mul(wasm_f32x4_mul(wv, db), db);
    }
    pos = iq_best4(&l, T);
  }
  if (pos < 0) {
    s->error = IQ_ERR_NO_NEIGHBOUR;
    pos = 0;
  }
  return l.idx[pos];
}

static inline void put_levels(const iq_search* g, int index, int8_t* out) {
  for (int i = 0; i < g->dim; i++) out[i] = (int8_t)g->lev[index * g->dim + i];
}

// Rounds group k of xval at inverse scale id to levels in out; returns the packed levels.
static int round_group(group* s, int k, float id, int kmaxq, int8_t* out) {
  const iq_search* g = s->g;
  int u = 0;
  for (int i = 0; i < g->dim; i++) {
    int l = iq_nearest_int(0.5f * (id * s->xval[g->dim * k + i] - 1));
    l = l < 0 ? 0 : l > kmaxq - 1 ? kmaxq - 1 : l;
    out[g->dim * k + i] = (int8_t)l;
    u |= l << (g->bits * i);
  }
  return u;
}

// sum w x q and sum w q^2 of `levels` (q = 2l + 1) into fit_qx, fit_q2.
static void fit(group* s, int n, const int8_t* levels) {
  float sumqx = 0, sumq2 = 0;
  for (int i = 0; i < n; i++) {
    const float w = s->weight[i];
    const int q = 2 * levels[i] + 1;
    sumqx += w * s->xval[i] * q;
    sumq2 += w * q * q;
  }
  s->fit_qx = sumqx;
  s->fit_q2 = sumq2;
}

// The sweep and refit over xval/weight/waux; L ends with the levels,
// grid_index with each grid point's index. Returns the scale (signs flipped
// with it when it came out negative).
//
// Four inverse scales of the sweep run at once, one per lane: the rounding
// and the fit are the scalar float steps per lane (the fit's sums run over
// the values in order within each lane), the grid lookups and neighbour
// searches go lane by lane, and the lanes are then compared with the best so
// far in the sweep's order, as the scalar loop compares them.
__attribute__((noinline)) static float sweep(group* s, const sweep_spec* sp, float ref, float scale, int plain_signs) {
  const iq_search* g = s->g;
  const int n = sp->n, kmaxq = sp->kmaxq, dim = g->dim, n_groups = n / dim;
  float best = 0;
  memset(s->on_grid, sp->refit == REFIT_ALL_IF_ANY_OFF ? 0 : 1, (size_t)n_groups);
  int32_t lv[32][4];  // lv[i][lane]: value i's level in each lane
  const v128_t magic = wasm_f32x4_splat(12582912.f), one = wasm_f32x4_splat(1), half = wasm_f32x4_splat(0.5f);
  const v128_t mant = wasm_i32x4_splat(0x007fffff), bias = wasm_i32x4_splat(0x00400000);
  const v128_t zero = wasm_i32x4_splat(0), top = wasm_i32x4_splat(kmaxq - 1);
  for (int is0 = -sp->range; is0 <= sp->range; is0 += 4) {
    const int nl = sp->range - is0 + 1 < 4 ? sp->range - is0 + 1 : 4;
    float id[4];
    for (int l = 0; l < 4; l++) id[l] = ((float)(2 * kmaxq - 1) + (float)(is0 + l) * sp->step) / ref;
    const v128_t id4 = wasm_v128_load(id);
    v128_t u4[8];
    for (int k = 0; k < n_groups; k++) u4[k] = zero;
    for (int i = 0; i < n; i++) {
      const v128_t t = wasm_f32x4_mul(half, wasm_f32x4_sub(wasm_f32x4_mul(id4, wasm_f32x4_splat(s->xval[i])), one));
      v128_t l = wasm_i32x4_sub(wasm_v128_and(wasm_f32x4_add(t, magic), mant), bias);
      l = wasm_i32x4_min(wasm_i32x4_max(l, zero), top);
      wasm_v128_store(lv[i], l);
      u4[i / dim] = wasm_v128_or(u4[i / dim], wasm_i32x4_shl(l, g->bits * (i % dim)));
    }
    int32_t uk[8][4];
    for (int k = 0; k < n_groups; k++) wasm_v128_store(uk[k], u4[k]);
    uint8_t on_aux[4][8];
    for (int l = 0; l < nl; l++) {
      const float this_scale = 1 / id[l];
      for (int k = 0; k < n_groups; k++) {
        const int u = uk[k][l];
        on_aux[l][k] = 1;
        if (g->map[u] < 0) {
          on_aux[l][k] = 0;
          const int index = best_neighbour(s, u, dim * k, this_scale);
          for (int i = 0; i < dim; i++) lv[dim * k + i][l] = g->lev[index * dim + i];
        }
      }
    }
    v128_t qx = wasm_f32x4_splat(0), q2 = wasm_f32x4_splat(0);
    for (int i = 0; i < n; i++) {
      const float w = s->weight[i];
      const v128_t q = wasm_f32x4_convert_i32x4(wasm_i32x4_add(wasm_i32x4_shl(wasm_v128_load(lv[i]), 1), wasm_i32x4_splat(1)));
      qx = wasm_f32x4_add(qx, wasm_f32x4_mul(wasm_f32x4_splat(w * s->xval[i]), q));
      q2 = wasm_f32x4_add(q2, wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_splat(w), q), q));
    }
    float fqx[4], fq2[4];
    wasm_v128_store(fqx, qx);
    wasm_v128_store(fq2, q2);
    for (int l = 0; l < nl; l++) {
      if (fq2[l] > 0 && fqx[l] * fqx[l] > best * fq2[l]) {
        scale = fqx[l] / fq2[l];
        best = scale * fqx[l];
        for (int i = 0; i < n; i++) s->L[i] = (int8_t)lv[i][l];
        memcpy(s->on_grid, on_aux[l], (size_t)n_groups);
      }
    }
  }
  int n_off = 0;
  for (int k = 0; k < n_groups; k++) if (!s->on_grid[k]) n_off++;
  if ((sp->refit == REFIT_ALWAYS || n_off > 0) && scale > 0) {
    const float id = 1 / scale;
    for (int k = 0; k < n_groups; k++) {
      if (sp->refit == REFIT_OFF_GRID && s->on_grid[k]) continue;
      const int u = round_group(s, k, id, kmaxq, s->L);
      if (g->map[u] < 0) put_levels(g, best_neighbour(s, u, dim * k, scale), s->L + dim * k);
    }
    fit(s, n, s->L);
    if (s->fit_q2 > 0) scale = s->fit_qx / s->fit_q2;
  }
  if (scale < 0) {
    scale = -scale;
    for (int k = 0; k < n / 8; k++) s->signs[k] = ~s->signs[k] & (plain_signs ? 0xff : 0x7f);
  }
  for (int k = 0; k < n_groups; k++) {
    int u = 0;
    for (int i = 0; i < dim; i++) u |= s->L[dim * k + i] << (g->bits * i);
    const int gi = g->map[u];
    if (gi < 0) s->error = IQ_ERR_NO_NEIGHBOUR;
    s->grid_index[k] = gi < 0 ? 0 : gi;
  }
  return scale;
}

#pragma clang attribute push(__attribute__((minsize)), apply_to = function)

// The 4-bit code of a group scale given the super-block's 1/d.
static inline int scale_code(float id, float scale) {
  const int l = iq_nearest_int(0.5f * (id * scale - 1));
  return l < 0 ? 0 : l > 15 ? 15 : l;
}

static inline void put_f16(uint8_t* p, float x) {
  const uint16_t h = fp32_to_fp16(x);
  p[0] = (uint8_t)h;
  p[1] = (uint8_t)(h >> 8);
}

static inline void put_u32(uint8_t* p, uint32_t v) { memcpy(p, &v, 4); }

// ggml's make_qp_quants (n values, levels 0..nmax, weights qw): the scale of
// iq2_xxs's first guess. L is uint8 as in ggml: a negative level wraps.
static float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* qw) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
  if (max < GROUP_MAX_EPS) {
    memset(L, 0, (size_t)n);
    return 0;
  }
  float iscale = nmax / max;
  for (int i = 0; i < n; ++i) L[i] = (uint8_t)iq_nearest_int(iscale * x[i]);
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * L[i];
    best_mse += qw[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * is + nmax) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      int l = iq_nearest_int(iscale_is * x[i]);
      l = l < nmax ? l : nmax;
      const float diff = x[i] - scale_is * l;
      mse += qw[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = iq_nearest_int(iscale * x[i]);
    l = l < nmax ? l : nmax;
    L[i] = (uint8_t)l;
    const float w = qw[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = qw[i], xi = x[i];
      const int li = L[i];
      float slx = sumlx - w * xi * li;
      float sl2 = suml2 - w * li * li;
      if (slx > 0 && sl2 > 0) {
        int new_l = iq_nearest_int(xi * sl2 / slx);
        new_l = new_l < nmax ? new_l : nmax;
        if (new_l != li) {
          slx += w * xi * new_l;
          sl2 += w * new_l * new_l;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = (uint8_t)new_l;
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  return suml2 > 0 ? sumlx / suml2 : 0;
}

static float max_of(const float* v, int n) {
  float max = v[0];
  for (int i = 1; i < n; i++) max = max > v[i] ? max : v[i];
  return max;
}

#define IQ2_XXS_BYTES 66
#define IQ2_XS_BYTES 74
#define IQ2_S_BYTES 82
#define IQ3_XXS_BYTES 98
#define IQ3_S_BYTES 110

static int iq2_xxs_block(group* s, const float* x, uint8_t* y, const float* w) {
  static const sweep_spec sp = {32, 3, 6, 0.1f, REFIT_ALWAYS};
  float scales[8];
  uint32_t q2[16] = {0};
  float max_scale = 0;
  const float sigma2 = sigma2_of(x, 1);
  for (int ib = 0; ib < 8; ib++) {
    const float* xb = x + 32 * ib;
    importance_weights(s, xb, w + 32 * ib, 32, sigma2);
    aux_weights(s, 32);
    split_signs(s, xb, 32, 1);
    const float max = max_of(s->xval, 32);
    if (max < GROUP_MAX_EPS) { scales[ib] = 0; continue; }
    const float scale0 = make_qp_quants(32, 4, s->xval, (uint8_t*)s->L, s->weight);
    const float eff_max = scale0 * 3;
    if (eff_max <= 0) { scales[ib] = 0; continue; }
    const float scale = sweep(s, &sp, eff_max, scale0, 0);
    for (int k = 0; k < 4; k++) {
      q2[2 * ib] |= (uint32_t)s->grid_index[k] << (8 * k);
      q2[2 * ib + 1] |= (uint32_t)s->signs[k] << (7 * k);
    }
    scales[ib] = scale;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  memset(y, 0, IQ2_XXS_BYTES);
  if (!max_scale) return 0;
  const float d = max_scale / 31;
  put_f16(y, d);
  const float id = 1 / d;
  for (int ib = 0; ib < 8; ib++) q2[2 * ib + 1] |= (uint32_t)scale_code(id, scales[ib]) << 28;
  memcpy(y + 2, q2, sizeof q2);
  return 0;
}

// iq2_xs and iq2_s: 16 groups of 16, two grid points each (`plain`: iq2_s's explicit sign bytes).
static int iq2_16_block(group* s, const float* x, uint8_t* y, const float* w, int plain) {
  static const sweep_spec sp_xs = {16, 3, 9, 0.1f, REFIT_OFF_GRID};
  const int block_bytes = plain ? IQ2_S_BYTES : IQ2_XS_BYTES;
  float scales[16];
  memset(y, 0, (size_t)block_bytes);
  float max_scale = 0;
  const float sigma2 = sigma2_of(x, plain ? 2 : 1);
  for (int ib = 0; ib < 16; ib++) {
    const float* xb = x + 16 * ib;
    if (w) importance_weights(s, xb, w + 16 * ib, 16, sigma2);
    else for (int i = 0; i < 16; i++) s->weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
    aux_weights(s, 16);
    split_signs(s, xb, 16, !plain);
    const float max = max_of(s->xval, 16);
    memset(s->L, 0, 16);
    if (max < (plain ? GROUP_MAX_EPS_IQ2_S : GROUP_MAX_EPS)) { scales[ib] = 0; continue; }
    const float scale = sweep(s, &sp_xs, max, max / 5, plain);
    for (int k = 0; k < 2; k++) {
      const int i8 = 2 * ib + k, gi = s->grid_index[k];
      if (plain) {
        y[2 + i8] = (uint8_t)(gi & 255);
        y[66 + (i8 >> 2)] |= (uint8_t)((gi >> 8) << (2 * (i8 & 3)));
        y[34 + i8] = (uint8_t)s->signs[k];
      } else {
        const int v = gi | (s->signs[k] << 9);
        y[2 + 2 * i8] = (uint8_t)(v & 0xff);
        y[3 + 2 * i8] = (uint8_t)(v >> 8);
      }
    }
    scales[ib] = scale;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  if (!max_scale) {
    if (!plain) memset(y + 2, 0, 64);
    return 0;
  }
  const float d = max_scale / 31;
  put_f16(y, plain ? d * 0.9875f : d);
  const float id = 1 / d;
  uint8_t* sc = y + block_bytes - 8;
  for (int ib = 0; ib < 16; ib++) sc[ib >> 1] |= (uint8_t)(scale_code(id, scales[ib]) << (4 * (ib & 1)));
  return 0;
}

// iq3_xxs and iq3_s: 8 groups of 32, eight 4-value grid points each.
static int iq3_block(group* s, const float* x, uint8_t* y, const float* w, int xxs) {
  static const sweep_spec sp_xxs = {32, 8, 15, 0.2f, REFIT_OFF_GRID};
  static const sweep_spec sp_s = {32, 8, 9, 0.2f, REFIT_ALL_IF_ANY_OFF};
  const int block_bytes = xxs ? IQ3_XXS_BYTES : IQ3_S_BYTES;
  float scales[8];
  uint32_t sas[8] = {0};
  memset(y, 0, (size_t)block_bytes);
  float max_scale = 0;
  // iq3_s advances its qs and signs only past the groups it quantizes (ggml does so too)
  int qs = 2, sg = 74;
  const float sigma2 = sigma2_of(x, 2);
  for (int ib = 0; ib < 8; ib++) {
    const float* xb = x + 32 * ib;
    if (w) importance_weights(s, xb, w + 32 * ib, 32, sigma2);
    else for (int i = 0; i < 32; i++) s->weight[i] = xb[i] * xb[i];
    aux_weights(s, 32);
    split_signs(s, xb, 32, xxs);
    const float max = max_of(s->xval, 32);
    memset(s->L, 0, 32);
    if (xxs ? max < GROUP_MAX_EPS_IQ3_XXS : max == 0) { scales[ib] = 0; continue; }
    const float scale = sweep(s, xxs ? &sp_xxs : &sp_s, max, max / 15, !xxs);
    if (xxs) {
      for (int k = 0; k < 8; k++) y[2 + 8 * ib + k] = (uint8_t)s->grid_index[k];
      sas[ib] = (uint32_t)(s->signs[0] | (s->signs[1] << 7) | (s->signs[2] << 14) | (s->signs[3] << 21));
    } else {
      for (int k = 0; k < 8; k++) {
        y[qs + k] = (uint8_t)(s->grid_index[k] & 255);
        y[66 + ib] |= (uint8_t)((s->grid_index[k] >> 8) << k);
      }
      qs += 8;
      for (int k = 0; k < 4; k++) y[sg + k] = (uint8_t)s->signs[k];
      sg += 4;
    }
    scales[ib] = scale;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  if (!max_scale) {
    if (xxs) memset(y + 2, 0, (size_t)block_bytes - 2);
    return 0;
  }
  const float d = max_scale / 31;
  put_f16(y, d * (xxs ? 1.0125f : 1.033f));
  const float id = 1 / d;
  if (xxs) {
    for (int ib = 0; ib < 8; ib++) put_u32(y + 66 + 4 * ib, sas[ib] | (uint32_t)scale_code(id, scales[ib]) << 28);
  } else {
    for (int ib = 0; ib < 8; ib += 2) y[106 + (ib >> 1)] = (uint8_t)(scale_code(id, scales[ib]) | (scale_code(id, scales[ib + 1]) << 4));
  }
  return 0;
}

enum { T_IQ2_XXS, T_IQ2_XS, T_IQ2_S, T_IQ3_XXS, T_IQ3_S };

static int quantize_rows(int t, const float* x, uint8_t* y, int n_rows, int n_per_row, const float* imatrix, const uint8_t* search) {
  static const int grids[] = {IQG_2XXS, IQG_2XS, IQG_2S, IQG_3XXS, IQG_3S};
  static const int bytes[] = {IQ2_XXS_BYTES, IQ2_XS_BYTES, IQ2_S_BYTES, IQ3_XXS_BYTES, IQ3_S_BYTES};
  if (n_per_row <= 0 || n_per_row % IQ_QK_K) return IQ_ERR_SIZE;
  if (!imatrix && (t == T_IQ2_XXS || t == T_IQ2_XS)) return IQ_ERR_WEIGHTS;
  iq_search g;
  if (!iq_search_open(search, grids[t], &g)) return IQ_ERR_SEARCH;
  group s;
  s.g = &g;
  s.error = 0;
  const int nb = n_per_row / IQ_QK_K;
  for (int r = 0; r < n_rows; r++) {
    for (int ibl = 0; ibl < nb; ibl++) {
      const float* xb = x + (size_t)r * n_per_row + IQ_QK_K * ibl;
      uint8_t* yb = y + ((size_t)r * nb + ibl) * bytes[t];
      const float* w = imatrix ? imatrix + IQ_QK_K * ibl : 0;
      switch (t) {
        case T_IQ2_XXS: iq2_xxs_block(&s, xb, yb, w); break;
        case T_IQ2_XS: iq2_16_block(&s, xb, yb, w, 0); break;
        case T_IQ2_S: iq2_16_block(&s, xb, yb, w, 1); break;
        case T_IQ3_XXS: iq3_block(&s, xb, yb, w, 1); break;
        default: iq3_block(&s, xb, yb, w, 0); break;
      }
      if (s.error) return s.error;
    }
  }
  return 0;
}

#define QUANTIZE_ROWS(name, t)                                                                                      \
  int EXPORT(quantize_rows_##name)(const float* x, uint8_t* y, int n_rows, int n_per_row, const float* imatrix, \
                                   const uint8_t* search) {                                                     \
    return quantize_rows(t, x, y, n_rows, n_per_row, imatrix, search);                                          \
  }
QUANTIZE_ROWS(iq2_xxs, T_IQ2_XXS)
QUANTIZE_ROWS(iq2_xs, T_IQ2_XS)
QUANTIZE_ROWS(iq2_s, T_IQ2_S)
QUANTIZE_ROWS(iq3_xxs, T_IQ3_XXS)
QUANTIZE_ROWS(iq3_s, T_IQ3_S)

#pragma clang attribute pop
