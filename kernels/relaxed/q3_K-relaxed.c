// Q3_K with relaxed SIMD: the entries (kquant-loop.h's batch loop over the
// hooks below) and the load-time repack. The layouts and scales:
// q3_K-relaxed.h; decode: q3_K-decode.h; prefill: q3_K-prefill.h.
#include "q3_K-decode.h"
#include "q3_K-prefill.h"
// One token: the decode paths (q3_Kx4: the activation reordered and its bsums, once per token).
KQ_HOOK void q3_K_one_token(const uint8_t* wc, int row_bytes, const block_q8_K* y, const v128_t* b32, float* o, int nb, int r0,
                            int r1, int first, int x4) {
  (void)b32;
  if (x4) {
    int8_t ap[KB * QK_K] __attribute__((aligned(16)));
    v128_t bq[KB * 8];
    q3_Kx4_act(y, ap, bq, nb);
    q3_Kx4_rows(wc, row_bytes, y, ap, bq, o, nb, r0, r1, first);
  } else {
    q3_K_rows(wc, row_bytes, y, o, nb, r0, r1, first);
  }
}

// Prefill, one q3_Kx4 group: each super-block's quants in q3_K_superblock's order.
KQ_HOOK void q3_Kx4_group(const uint8_t* gp, int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc, int nt) {
  (void)b32;
  const block_q3_Kx4* g = (const block_q3_Kx4*)gp;
  q3_K_scales4 s;
  v128_t q[64];
  for (int i = 0; i < nb; i++) {
    q3_Kx4_scales(g + i, &s);
    for (int u = 0; u < 8; u++) {
      v128_t m[8];
      q3_Kx4_lo(g[i].qs[u][0], m);
      q3_Kx4_hi(g[i].qs[u][0], m + 4);
#ifdef RELAXED_DOT_ADD
      // W(k), W(4 + k): rows 0, 1 and 2, 3 of sub-blocks 2u, 2u + 1 in alternate i32 lanes -> q[4k + g]
      for (int k = 0; k < 4; k++) {
        q[8 * u + k] = wasm_i32x4_shuffle(m[k], m[4 + k], 0, 2, 4, 6);
        q[8 * u + 4 + k] = wasm_i32x4_shuffle(m[k], m[4 + k], 1, 3, 5, 7);
      }
#else
      // mixed: sub-blocks 2u, 2u + 1 in i16 lanes 2j, 2j + 1 -> q[4k + g]
      for (int e = 0; e < 4; e++) unmix_pairs(m[2 * e], m[2 * e + 1], q + 8 * u + e, q + 8 * u + 4 + e);
#endif
    }
    q3_K_superblock(&s, q, i, y, acc, nt);
  }
}

// Prefill, four plain rows: each super-block decoded and transposed to q3_K_superblock's order.
KQ_HOOK void q3_K_group(const uint8_t* const xp[4], int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc,
                        int nt, int layout) {
  (void)b32, (void)layout;
  const block_q3_K* x[4] = KQ_ROWS(block_q3_K, xp);
  q3_K_scales4 s;
  v128_t q[64];
  for (int i = 0; i < nb; i++) {
    q3_K_scales(x, i, &s);
    v128_t rv[4][16];  // row j's elements 16v .. 16v + 15
    for (int j = 0; j < 4; j++)
      for (int h = 0; h < 4; h++) {
        v128_t d4[4];
        q3_K_decode(x[j] + i, h >> 1, 16 * (h & 1), d4);
        for (int e = 0; e < 4; e++) rv[j][8 * (h >> 1) + 2 * e + (h & 1)] = d4[e];
      }
    for (int v = 0; v < 16; v++) transpose4(rv[0][v], rv[1][v], rv[2][v], rv[3][v], q + 4 * v);
    q3_K_superblock(&s, q, i, y, acc, nt);
  }
}

static const kq_type q3_K_loop = {.block = sizeof(block_q3_K), .block_x4 = sizeof(block_q3_Kx4)};

// x4: 0 plain rows, 1 q3_Kx4 (kquant-loop.h's loop).
static inline void q3_K_mul_mat(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                int n, int n_tok, int r0, int r1, int x4) {
  kq_mul_mat(&q3_K_loop, 0, q3_K_one_token, q3_Kx4_group, q3_K_group, 0, w, row_bytes, a, a_row_bytes, out, out_stride, n,
             n_tok, r0, r1, x4, x4);
}

RELAXED_ENTRIES(q3_K, q3_K_mul_mat, 0)
RELAXED_ENTRIES(q3_Kx4, q3_K_mul_mat, 1)

RELAXED_VEC_DOT(q3_K, q8_K, q3_K_mul_mat)

// Where byte p of unit u's quant vector Wm comes from: *row (0..3) and *e,
// the element of the super-block (see block_q3_Kx4; the dot-add build's
// order at q3_Kx4_unit).
static inline void q3_Kx4_elem(int u, int m, int p, int* row, int* e) {
#ifdef RELAXED_DOT_ADD
  const int l = p >> 2;  // i32 lane l: row 2 (m / 4) + l / 2, sub-block 2u + l % 2, its elements 4 (m % 4) ..
  *row = 2 * (m >> 2) + (l >> 1), *e = 32 * u + 16 * (l & 1) + 4 * (m & 3) + (p & 3);
#else
  const int b = p & 3;  // row p / 4: elements 2m, 2m + 1 of sub-block 2u (b = 0, 1) and of 2u + 1 (b = 2, 3)
  *row = p >> 2, *e = 32 * u + 16 * (b >> 1) + 2 * m + (b & 1);
#endif
}

// Rewrites n_rows (a multiple of 4) plain q3_K rows as q3_Kx4 groups, in
// place: group G takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_q3_Kx4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_q3_K);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    block_q3_Kx4* g = (block_q3_Kx4*)base;
    for (int i = 0; i < nb; i++) {
      for (int v = 0; v < 3; v++)
        for (int l = 0; l < 8; l++) g[i].sc[v][l] = 0;
      for (int j = 0; j < 4; j++) {
        const block_q3_K* x = (const block_q3_K*)((const uint8_t*)scratch + (size_t)j * row_bytes) + i;
        g[i].d[j] = x->d;
        const uint8_t* sq = x->scales;
        for (int k = 0; k < 16; k++) {  // sub-block k = 2u + e: pair vector u, lane 2j + e (see block_q3_Kx4)
          const int sc = ((k < 8 ? sq[k] : sq[k - 8] >> 4) & 0x0F) | (((sq[8 + k % 4] >> (2 * (k / 4))) & 3) << 4);
          const int t = (sc - 32) & 63, u = k >> 1, l = 2 * j + (k & 1);
          if (u < 6) {
            g[i].sc[u >> 1][l] |= (uint16_t)(t << (u & 1 ? 4 : 10));
          } else {
            g[i].sc[u - 6][l] |= (uint16_t)(t >> 2);
            g[i].sc[2][l] |= (uint16_t)((t & 3) << (u == 6 ? 0 : 2));
          }
        }
      }
      for (int u = 0; u < 8; u++)
        for (int p = 0; p < 16; p++) {
          int W[8];  // byte p of Wm, as 0..7
          for (int m = 0; m < 8; m++) {
            int row, e;
            q3_Kx4_elem(u, m, p, &row, &e);
            const block_q3_K* x = (const block_q3_K*)((const uint8_t*)scratch + (size_t)row * row_bytes) + i;
            const int n = e >> 7, sh = (e >> 5) & 3, l = e & 31;
            W[m] = ((x->qs[32 * n + l] >> (2 * sh)) & 3) | (((x->hmask[l] >> (4 * n + sh)) & 1) << 2);
          }
          uint8_t* o = &g[i].qs[u][0][p];
          o[0] = (uint8_t)(W[0] | W[1] << 3 | (W[6] & 3) << 6);
          o[16] = (uint8_t)(W[2] | W[3] << 3 | (W[6] >> 2) << 6 | (W[7] >> 2) << 7);
          o[32] = (uint8_t)(W[4] | W[5] << 3 | (W[7] & 3) << 6);
        }
    }
  }
}
