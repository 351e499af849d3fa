// Quantizers of the 1-bit grid i-quants (iq1_s, iq1_m), equal byte for byte
// to ggml's quantize_iq1_s / quantize_iq1_m. The algorithm is the one
// formats/quant/iq1-quantize.ts describes (this file's test oracle): three
// levels (-1, 0, 1) shifted by +-1/8, the best split of a group's sorted
// values into the three levels found exactly (every pair of boundaries
// scored by its weighted least-squares fit), each 8 of levels looked up on
// iq1s_grid (or the nearest neighbour taken, iq-search.h's tables) and the
// scale refitted.
//
// The split search is the hot loop: iq1_s scores 33 * 34 / 2 boundary pairs
// for each sign of the delta per group of 32. The scores of four consecutive
// second boundaries are computed in the lanes of a vector (each lane the
// float ops of the scalar code, in its order, so the same bits), and only a
// vector holding a candidate better than the best so far is replayed lane by
// lane in order; when none beats the best, the sequential loop would have
// kept it too.
//
// quantize_rows_iq1_s / _iq1_m(x, y, n_rows, n_per_row, imatrix, search): as
// iquants-quantize.c's (search: the IQG_1S tables).
#include "iq-quantize.h"

// Size over speed for the whole file (-Oz's choices; measured as fast as -O3
// here): the module ships in the npm package and the browser build twice.
#pragma clang attribute push(__attribute__((minsize)), apply_to = function)

#define IQ1_S_BYTES 50
#define IQ1_M_BYTES 56
#define GROUP_MAX_EPS_IQ1_S 1e-12f
#define GROUP_MAX_EPS_IQ1_M 1e-7f
#define IQ1_DELTA 0.125f

static const float X_P[3] = {-1 + IQ1_DELTA, IQ1_DELTA, 1 + IQ1_DELTA};
static const float X_M[3] = {-1 - IQ1_DELTA, -IQ1_DELTA, 1 - IQ1_DELTA};

typedef struct {
  const iq_search* g;
  float weight[32];
  int8_t L[32];
  int idx[32];
  int index[4];
  int error;
} group1;

static float sigma2_of(const float* x) {
  float sumx2 = 0;
  for (int i = 0; i < IQ_QK_K; i++) sumx2 += x[i] * x[i];
  return 2 * sumx2 / IQ_QK_K;
}

static void weights(group1* s, const float* x, int n, const float* w, float sigma2) {
  if (w) for (int i = 0; i < n; i++) s->weight[i] = w[i] * sqrtf(sigma2 + x[i] * x[i]);
  else for (int i = 0; i < n; i++) s->weight[i] = x[i] * x[i];
}

static float abs_max(const float* x, int n) {
  float max = fabsf(x[0]);
  for (int i = 1; i < n; i++) max = max > fabsf(x[i]) ? max : fabsf(x[i]);
  return max;
}

// idx[0..n) = 0..n-1 ordered by x, ties in index order (glibc's qsort is a stable merge sort).
static void sort_indices(group1* s, const float* x, int n) {
  for (int j = 0; j < n; j++) {
    const float v = x[j];
    int k = j;
    while (k > 0 && x[s->idx[k - 1]] > v) { s->idx[k] = s->idx[k - 1]; k--; }
    s->idx[k] = j;
  }
}

// ggml's iq1_find_best_neighbour2 for the 8 values at x (levels xx, weights
// from lo): each coordinate's three possible error terms, then iq_best8.
static int best_neighbour(group1* s, int u, const float* x, int lo, float scale, const float* xx) {
  const iq_search* g = s->g;
  iq_list l;
  iq_search_list(g, u, &l);
  v128_t T[8];
  const v128_t q = wasm_f32x4_mul(wasm_f32x4_splat(scale), wasm_f32x4_make(xx[0], xx[1], xx[2], 0));
  for (int i = 0; i < 8; i++) {
    const v128_t diff = wasm_f32x4_sub(q, wasm_f32x4_splat(x[i]));
    T[i] = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_splat(s->weight[lo + i]), diff), diff);
  }
  int pos = iq_best8(&l, T);
  if (pos < 0) {
    s->error = IQ_ERR_NO_NEIGHBOUR;
    pos = 0;
  }
  const int gi = l.idx[pos];
  for (int i = 0; i < 8; i++) s->L[lo + i] = (int8_t)g->lev[gi * 8 + i];
  return gi;
}

// Every 8 of L onto the grid (neighbours for those off it) into index, levels
// xx0 for the first 8 and xx1 for the others; whether all were on it.
static int place_on_grid(group1* s, const float* x, int n, float scale, const float* xx0, const float* xx1) {
  int all = 1;
  for (int k = 0; k < n / 8; k++) {
    int u = 0;
    for (int j = 0; j < 8; j++) u |= s->L[8 * k + j] << (2 * j);
    int gi = s->g->map[u];
    if (gi < 0) {
      all = 0;
      gi = best_neighbour(s, u, x + 8 * k, 8 * k, scale, k == 0 ? xx0 : xx1);
    }
    s->index[k] = gi;
  }
  return all;
}

// The least-squares scale of the points in index (levels as place_on_grid), or scale if not positive.
static float refit(group1* s, const float* x, int n, float scale, const float* xx0, const float* xx1) {
  float sumqx = 0, sumq2 = 0;
  for (int k = 0; k < n / 8; k++) {
    const float* xx = k == 0 ? xx0 : xx1;
    for (int j = 0; j < 8; j++) {
      const float w = s->weight[8 * k + j];
      const float q = xx[s->g->lev[s->index[k] * 8 + j]];
      sumqx += w * q * x[8 * k + j];
      sumq2 += w * q * q;
    }
  }
  return sumqx > 0 && sumq2 > 0 ? sumqx / sumq2 : scale;
}

static void set_levels(group1* s, int n, int i1, int i2) {
  for (int j = 0; j < i1; j++) s->L[s->idx[j]] = 0;
  for (int j = i1; j < i2; j++) s->L[s->idx[j]] = 1;
  for (int j = i2; j < n; j++) s->L[s->idx[j]] = 2;
}

static inline int scale_code7(float id, float scale) {
  const int l = iq_nearest_int(0.5f * (id * scale - 1));
  return l < 0 ? 0 : l > 7 ? 7 : l;
}

static inline void put_f16(uint8_t* p, float x) {
  const uint16_t h = fp32_to_fp16(x);
  p[0] = (uint8_t)h;
  p[1] = (uint8_t)(h >> 8);
}

// The best (i1, i2, shift) of iq1_s's split search over one group of 32.
typedef struct {
  float best, scale;
  int i1, i2, shift;
} split;

// Whether any of the boundaries (i1, i2) for i2 in [i2a, i2a + 4) with delta
// sign sh scores better than `best`: the scalar loop's sums, one lane per i2
// (lanes past 32 read the padded prefix sums and at worst cause a replay).
static int any_better4(float best, const float* sumx, const float* sumw, int i1, int i2a, int sh) {
  const float* xx = sh == 1 ? X_P : X_M;
  const v128_t x0 = wasm_f32x4_splat(xx[0]), x1 = wasm_f32x4_splat(xx[1]), x2 = wasm_f32x4_splat(xx[2]);
  const v128_t s1 = wasm_f32x4_splat(sumx[i1]), w1 = wasm_f32x4_splat(sumw[i1]);
  const v128_t s0 = wasm_f32x4_splat(sumx[0]), w0 = wasm_f32x4_splat(sumw[0]);
  const v128_t s32 = wasm_f32x4_splat(sumx[32]), w32 = wasm_f32x4_splat(sumw[32]);
  const v128_t s2 = wasm_v128_load(sumx + i2a), w2 = wasm_v128_load(sumw + i2a);
  const v128_t a = wasm_f32x4_sub(s1, s0), bb = wasm_f32x4_sub(s2, s1), c = wasm_f32x4_sub(s32, s2);
  const v128_t wa = wasm_f32x4_sub(w1, w0), wb = wasm_f32x4_sub(w2, w1), wc = wasm_f32x4_sub(w32, w2);
  const v128_t sumqx = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(a, x0), wasm_f32x4_mul(bb, x1)), wasm_f32x4_mul(c, x2));
  const v128_t sumq2 = wasm_f32x4_add(
      wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(wa, x0), x0), wasm_f32x4_mul(wasm_f32x4_mul(wb, x1), x1)),
      wasm_f32x4_mul(wasm_f32x4_mul(wc, x2), x2));
  const v128_t better = wasm_v128_and(wasm_f32x4_gt(sumq2, wasm_f32x4_splat(0)),
                                      wasm_f32x4_gt(wasm_f32x4_mul(sumqx, sumqx), wasm_f32x4_mul(wasm_f32x4_splat(best), sumq2)));
  return wasm_v128_any_true(better);
}

static void iq1_s_block(group1* s, const float* x, uint8_t* y, const float* w) {
  float scales[8];
  int shifts[8];
  uint16_t qh[8] = {0};
  memset(y, 0, IQ1_S_BYTES);
  float max_scale = 0;
  const float sigma2 = sigma2_of(x);
  // prefix sums, padded so a vector of four second boundaries may run past 32
  float sumx[36], sumw[36];
  for (int ib = 0; ib < 8; ib++) {
    const float* xb = x + 32 * ib;
    weights(s, xb, 32, w + 32 * ib, sigma2);
    const float max = abs_max(xb, 32);
    if (max < GROUP_MAX_EPS_IQ1_S) { scales[ib] = 0; shifts[ib] = 1; continue; }
    sort_indices(s, xb, 32);
    sumx[0] = sumw[0] = 0;
    for (int j = 0; j < 32; j++) {
      const int i = s->idx[j];
      sumx[j + 1] = sumx[j] + s->weight[i] * xb[i];
      sumw[j + 1] = sumw[j] + s->weight[i];
    }
    for (int j = 33; j < 36; j++) sumx[j] = sumx[32], sumw[j] = sumw[32];
    split b = {-FLT_MAX, max, -1, -1, 0};
    // the scalar order is (i1, i2, then sh = 1, -1): per i1, each i2 tries both signs before the next i2,
    // so four i2 at a time are replayed for sh = 1 and -1 interleaved when any lane of either may win
    for (int i1 = 0; i1 <= 32; i1++) {
      for (int i2 = i1; i2 <= 32; i2 += 4) {
        if (!any_better4(b.best, sumx, sumw, i1, i2, 1) && !any_better4(b.best, sumx, sumw, i1, i2, -1)) continue;
        // some lane may win: replay the four (i2, sh) pairs in the scalar order
        for (int l = i2; l < i2 + 4 && l <= 32; l++) {
          const float a = sumx[i1] - sumx[0], bb = sumx[l] - sumx[i1], c = sumx[32] - sumx[l];
          const float wa = sumw[i1] - sumw[0], wb = sumw[l] - sumw[i1], wc = sumw[32] - sumw[l];
          for (int sh = 1; sh >= -1; sh -= 2) {
            const float* xx = sh == 1 ? X_P : X_M;
            const float sumqx = a * xx[0] + bb * xx[1] + c * xx[2];
            const float sumq2 = wa * xx[0] * xx[0] + wb * xx[1] * xx[1] + wc * xx[2] * xx[2];
            if (sumq2 > 0 && sumqx * sumqx > b.best * sumq2) {
              b.scale = sumqx / sumq2;
              b.best = b.scale * sumqx;
              b.i1 = i1;
              b.i2 = l;
              b.shift = sh;
            }
          }
        }
      }
    }
    float scale = b.scale;
    int best_shift = b.shift;
    if (b.i1 < 0 || b.i2 < 0 || best_shift == 0) { scales[ib] = 0; shifts[ib] = 1; continue; }
    set_levels(s, 32, b.i1, b.i2);
    if (scale < 0) {
      for (int j = 0; j < 32; j++) s->L[j] = (int8_t)(2 - s->L[j]);
      scale = -scale;
      best_shift = -best_shift;
    }
    const float* xx = best_shift == 1 ? X_P : X_M;
    if (!place_on_grid(s, xb, 32, scale, xx, xx)) scale = refit(s, xb, 32, scale, xx, xx);
    int h = 0;
    for (int k = 0; k < 4; k++) {
      y[2 + 4 * ib + k] = (uint8_t)(s->index[k] & 255);
      h |= (s->index[k] >> 8) << (3 * k);
    }
    qh[ib] = (uint16_t)h;
    scales[ib] = scale;
    shifts[ib] = best_shift;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  if (max_scale) {
    const float d = max_scale / 15;
    put_f16(y, d * 1.125f);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ib++) {
      int l = scale_code7(id, scales[ib]);
      if (shifts[ib] == -1) l |= 8;
      qh[ib] |= (uint16_t)(l << 12);
    }
  }
  for (int ib = 0; ib < 8; ib++) {
    y[34 + 2 * ib] = (uint8_t)(qh[ib] & 0xff);
    y[35 + 2 * ib] = (uint8_t)(qh[ib] >> 8);
  }
}

// The levels of choice k for value i of a group of 16 (i < 8: the first 8).
static inline const float* levels_for(int k, int i) { return (i < 8 ? k < 2 : k % 2 == 0) ? X_P : X_M; }

static void iq1_m_block(group1* s, const float* x, uint8_t* y, const float* w) {
  static const uint8_t masks[4] = {0x00, 0x80, 0x08, 0x88};
  float scales[16];
  int shifts[16];
  memset(y, 0, IQ1_M_BYTES);
  float max_scale = 0;
  const float sigma2 = sigma2_of(x);
  // per sorted position j and segment (below, between, above the boundaries):
  // the terms w q x and w q^2 of the four delta-sign choices, as one vector
  v128_t tx[3][16], tq[3][16];
  for (int ib = 0; ib < 16; ib++) {
    const float* xb = x + 16 * ib;
    weights(s, xb, 16, w ? w + 16 * ib : 0, sigma2);
    const float max = abs_max(xb, 16);
    if (max < GROUP_MAX_EPS_IQ1_M) { scales[ib] = 0; shifts[ib] = 0; continue; }
    sort_indices(s, xb, 16);
    for (int sg = 0; sg < 3; sg++) {
      for (int j = 0; j < 16; j++) {
        const int i = s->idx[j];
        float a[4], b[4];
        for (int k = 0; k < 4; k++) {
          const float q = levels_for(k, i)[sg];
          const float wq = s->weight[i] * q;
          a[k] = wq * xb[i];
          b[k] = wq * q;
        }
        tx[sg][j] = wasm_v128_load(a);
        tq[sg][j] = wasm_v128_load(b);
      }
    }
    float best = -FLT_MAX, scale = max;
    int bi1 = -1, bi2 = -1, best_k = -1;
    // the sums run over j in order, segment by segment, as ggml adds them; the
    // prefix in segment 0 (and then 1) is shared by every later boundary
    v128_t pre0x = wasm_f32x4_splat(0), pre0q = wasm_f32x4_splat(0);
    for (int i1 = 0; i1 <= 16; i1++) {
      if (i1 > 0) {
        pre0x = wasm_f32x4_add(pre0x, tx[0][i1 - 1]);
        pre0q = wasm_f32x4_add(pre0q, tq[0][i1 - 1]);
      }
      v128_t pre1x = pre0x, pre1q = pre0q;
      for (int i2 = i1; i2 <= 16; i2++) {
        if (i2 > i1) {
          pre1x = wasm_f32x4_add(pre1x, tx[1][i2 - 1]);
          pre1q = wasm_f32x4_add(pre1q, tq[1][i2 - 1]);
        }
        v128_t accx = pre1x, accq = pre1q;
        for (int j = i2; j < 16; j++) {
          accx = wasm_f32x4_add(accx, tx[2][j]);
          accq = wasm_f32x4_add(accq, tq[2][j]);
        }
        const v128_t better = wasm_v128_and(wasm_f32x4_gt(accq, wasm_f32x4_splat(0)),
                                            wasm_f32x4_gt(wasm_f32x4_mul(accx, accx), wasm_f32x4_mul(wasm_f32x4_splat(best), accq)));
        if (!wasm_v128_any_true(better)) continue;
        float sx4[4], sq4[4];
        wasm_v128_store(sx4, accx);
        wasm_v128_store(sq4, accq);
        for (int k = 0; k < 4; k++) {
          const float sx = sx4[k], sq = sq4[k];
          if (sq > 0 && sx * sx > best * sq) {
            scale = sx / sq;
            best = scale * sx;
            bi1 = i1;
            bi2 = i2;
            best_k = k;
          }
        }
      }
    }
    if (bi1 < 0 || bi2 < 0 || best_k < 0) { scales[ib] = 0; shifts[ib] = 0; continue; }
    set_levels(s, 16, bi1, bi2);
    if (scale < 0) {
      for (int j = 0; j < 16; j++) s->L[j] = (int8_t)(2 - s->L[j]);
      scale = -scale;
      best_k = 3 - best_k;
    }
    const float* xx0 = levels_for(best_k, 0);
    const float* xx1 = levels_for(best_k, 8);
    if (!place_on_grid(s, xb, 16, scale, xx0, xx1)) scale = refit(s, xb, 16, scale, xx0, xx1);
    y[2 * ib] = (uint8_t)(s->index[0] & 255);
    y[2 * ib + 1] = (uint8_t)(s->index[1] & 255);
    y[32 + ib] = (uint8_t)((s->index[0] >> 8) | ((s->index[1] >> 8) << 4));
    scales[ib] = scale;
    shifts[ib] = best_k;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  if (!max_scale) return;
  uint16_t sc[4] = {0};
  float d = max_scale / 15;
  const float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int ib = 0; ib < 16; ib++) {
    const int l = scale_code7(id, scales[ib]);
    sc[ib >> 2] |= (uint16_t)(l << (3 * (ib & 3)));
    y[32 + ib] |= masks[shifts[ib]];
    const float* xb = x + 16 * ib;
    weights(s, xb, 16, w ? w + 16 * ib : 0, sigma2);
    const int qh = y[32 + ib];
    for (int k = 0; k < 2; k++) {
      const float* xx = levels_for(shifts[ib], 8 * k);
      const int p = (y[2 * ib + k] + ((qh << (8 - 4 * k)) & 0x700)) * 8;
      for (int j = 0; j < 8; j++) {
        const float wj = s->weight[8 * k + j];
        const float q = xx[s->g->lev[p + j]] * (2 * l + 1);
        sumqx += wj * q * xb[8 * k + j];
        sumq2 += wj * q * q;
      }
    }
  }
  if (sumq2 > 0) d = sumqx / sumq2;
  const uint16_t h = fp32_to_fp16(d * 1.1125f);
  sc[0] |= (uint16_t)((h & 0x000f) << 12);
  sc[1] |= (uint16_t)((h & 0x00f0) << 8);
  sc[2] |= (uint16_t)((h & 0x0f00) << 4);
  sc[3] |= (uint16_t)(h & 0xf000);
  for (int k = 0; k < 4; k++) {
    y[48 + 2 * k] = (uint8_t)(sc[k] & 0xff);
    y[49 + 2 * k] = (uint8_t)(sc[k] >> 8);
  }
}

static int quantize_rows(int m, const float* x, uint8_t* y, int n_rows, int n_per_row, const float* imatrix, const uint8_t* search) {
  if (n_per_row <= 0 || n_per_row % IQ_QK_K) return IQ_ERR_SIZE;
  if (!imatrix && !m) return IQ_ERR_WEIGHTS;
  iq_search g;
  if (!iq_search_open(search, IQG_1S, &g)) return IQ_ERR_SEARCH;
  group1 s;
  s.g = &g;
  s.error = 0;
  const int nb = n_per_row / IQ_QK_K, bytes = m ? IQ1_M_BYTES : IQ1_S_BYTES;
  for (int r = 0; r < n_rows; r++) {
    for (int ibl = 0; ibl < nb; ibl++) {
      const float* xb = x + (size_t)r * n_per_row + IQ_QK_K * ibl;
      uint8_t* yb = y + ((size_t)r * nb + ibl) * bytes;
      const float* w = imatrix ? imatrix + IQ_QK_K * ibl : 0;
      if (m) iq1_m_block(&s, xb, yb, w);
      else iq1_s_block(&s, xb, yb, w);
      if (s.error) return s.error;
    }
  }
  return 0;
}

int EXPORT(quantize_rows_iq1_s)(const float* x, uint8_t* y, int n_rows, int n_per_row, const float* imatrix, const uint8_t* search) {
  return quantize_rows(0, x, y, n_rows, n_per_row, imatrix, search);
}

int EXPORT(quantize_rows_iq1_m)(const float* x, uint8_t* y, int n_rows, int n_per_row, const float* imatrix, const uint8_t* search) {
  return quantize_rows(1, x, y, n_rows, n_per_row, imatrix, search);
}

#pragma clang attribute pop
