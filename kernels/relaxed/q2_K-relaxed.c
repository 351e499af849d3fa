// Q2_K with relaxed SIMD: the batch loop and entries, and the load-time
// repack. The layouts: q2_K-relaxed.h; decode: q2_K-decode.h; prefill:
// q2_K-prefill.h.
#include "q2_K-decode.h"
#include "q2_K-prefill.h"
// The batch loop (kquant-loop.h's kq_mul_mat written out, as there says
// why): tokens in passes of MM_TOK, columns in chunks of ACT_CHUNK; one token
// goes to the decode paths, more to four-row groups (plain: from r0, the
// last group repeating row r1 - 1; x4: the layout's groups), lanes outside
// [r0, r1) dropped.
static inline void q2_K_mul_mat(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                int n, int n_tok, int r0, int r1, int x4) {
  const block_q8_K* y[MM_TOK];
  q2_K_acc acc[MM_TOK];
  for (int t0 = 0; t0 < n_tok; t0 += MM_TOK) {
    const int nt = n_tok - t0 < MM_TOK ? n_tok - t0 : MM_TOK;
    for (int c0 = 0; c0 < n; c0 += ACT_CHUNK) {
      const int nb = (n - c0 < ACT_CHUNK ? n - c0 : ACT_CHUNK) / QK_K;
      for (int t = 0; t < nt; t++) y[t] = (const block_q8_K*)((const uint8_t*)a + (size_t)(t0 + t) * a_row_bytes) + c0 / QK_K;
      const uint8_t* wc = (const uint8_t*)w + (size_t)(c0 / QK_K) * (x4 ? sizeof(block_q2_Kx4) : sizeof(block_q2_K));
      float* o = out + (size_t)t0 * out_stride;
      if (nt == 1) {
        if (x4) {
          int8_t ap[(ACT_CHUNK / QK_K) * QK_K] __attribute__((aligned(16)));
          q2_bb_t bb[(ACT_CHUNK / QK_K) * BB_PER_SB] __attribute__((aligned(16)));
#ifdef RELAXED_DOT_ADD
          act_quads_q8_K(y[0]->qs, sizeof(block_q8_K), ap, nb);
#else
          act_pairs_q8_K(y[0]->qs, sizeof(block_q8_K), ap, nb);
#endif
          bsum_pairs_q8_K(y[0], bb, nb);
          q2_Kx4_rows(wc, row_bytes, y[0], ap, bb, o, nb, r0, r1, c0 == 0);
        } else {
          q2_K_rows(wc, row_bytes, y[0], o, nb, r0, r1, c0 == 0);
        }
        continue;
      }
      for (int r = x4 ? r0 & ~3 : r0; r < r1; r += 4) {
        for (int t = 0; t < nt; t++) acc[t].sum = acc[t].msum = wasm_f32x4_const_splat(0.0f);
        q2_K_scales4 s;
        v128_t q[64];
        if (x4) {
          const block_q2_Kx4* g = (const block_q2_Kx4*)(wc + (size_t)r * row_bytes);
          for (int i = 0; i < nb; i++) {
            q2_Kx4_scales(g + i, &s);
            for (int u = 0; u < 8; u++) {
#ifdef RELAXED_DOT_ADD
              q2_Kx4_unit_plain(g[i].qs[u][0], q + 8 * u);
#else
              v128_t m[8];  // mixed: sub-blocks 2u, 2u + 1 in i16 lanes 2j, 2j + 1 -> q[4k + g]
              q2_Kx4_w(g[i].qs[u][0], m);
              q2_Kx4_w(g[i].qs[u][1], m + 4);
              for (int e = 0; e < 4; e++) unmix_pairs(m[2 * e], m[2 * e + 1], q + 8 * u + e, q + 8 * u + 4 + e);
#endif
            }
            q2_K_superblock(&s, q, i, y, acc, nt);
          }
        } else {
          const block_q2_K* x[4];
          for (int j = 0; j < 4; j++) x[j] = (const block_q2_K*)(wc + (size_t)(r + j < r1 ? r + j : r1 - 1) * row_bytes);
          for (int i = 0; i < nb; i++) {
            q2_K_scales(x, i, &s);
            v128_t rv[4][16];  // row j's elements 16v .. 16v + 15
            for (int j = 0; j < 4; j++)
              for (int h = 0; h < 4; h++) {
                v128_t d4[4];
                q2_K_decode(x[j] + i, h >> 1, 16 * (h & 1), d4);
                for (int e = 0; e < 4; e++) rv[j][8 * (h >> 1) + 2 * e + (h & 1)] = d4[e];
              }
            for (int v = 0; v < 16; v++) transpose4(rv[0][v], rv[1][v], rv[2][v], rv[3][v], q + 4 * v);
            q2_K_superblock(&s, q, i, y, acc, nt);
          }
        }
        for (int t = 0; t < nt; t++) store4(wasm_f32x4_sub(acc[t].sum, acc[t].msum), o + (size_t)t * out_stride, r, r0, r1, c0 == 0);
      }
    }
  }
}

RELAXED_ENTRIES(q2_K, q2_K_mul_mat, 0)
RELAXED_ENTRIES(q2_Kx4, q2_K_mul_mat, 1)

RELAXED_VEC_DOT(q2_K, q8_K, q2_K_mul_mat)

// Rewrites n_rows (a multiple of 4) plain q2_K rows as q2_Kx4 groups, in
// place: group G takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_q2_Kx4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_q2_K);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    block_q2_Kx4* g = (block_q2_Kx4*)base;
    for (int i = 0; i < nb; i++) {
      for (int j = 0; j < 4; j++) {
        const block_q2_K* x = (const block_q2_K*)((const uint8_t*)scratch + (size_t)j * row_bytes) + i;
        g[i].d[j] = x->d;
        g[i].dmin[j] = x->dmin;
#ifdef RELAXED_DOT_ADD
        for (int k = 0; k < 16; k++) {  // min | scale << 4, sub-blocks 4q, 4q + 2, 4q + 1, 4q + 3 (q2_Kx4_pairs_of)
          const int b = x->scales[k];
          g[i].sc[16 * (k >> 2) + 4 * j + 2 * (k & 1) + ((k >> 1) & 1)] = (uint8_t)((b >> 4) | (b << 4));
        }
#else
        for (int k = 0; k < 16; k++) {  // odd units (sub-blocks 4q + 2 + e) with their nibbles swapped
          const int h = (k >> 1) & 1, b = x->scales[k];
          g[i].sc[16 * (k >> 2) + 4 * j + 2 * (k & 1) + h] = (uint8_t)(h ? (b >> 4) | (b << 4) : b);
        }
#endif
#ifndef RELAXED_DOT_ADD
        for (int u = 0; u < 8; u++)
          for (int l = 0; l < 4; l++)
            for (int h = 0; h < 2; h++) {
              int b = 0;  // vectors 4h .. 4h + 3 at bits 2 (m % 4); byte 4j + l: element 32u + 16 (l / 2) + 2m + l % 2
              for (int m = 4 * h; m < 4 * h + 4; m++) {
                const int e = 32 * u + 16 * (l >> 1) + 2 * m + (l & 1), n = e >> 7, s = (e >> 5) & 3, p = e & 31;
                b |= ((x->qs[32 * n + p] >> (2 * s)) & 3) << (2 * (m & 3));
              }
              g[i].qs[u][h][4 * j + l] = (uint8_t)b;
            }
#endif
      }
#ifdef RELAXED_DOT_ADD
      // byte 4L + c of packed vector h of unit u, field f: row L / 2 + 2 (f % 2), sub-block 2u + L % 2,
      // element 4 (2h + f / 2) + c (see q2_Kx4_unit)
      for (int u = 0; u < 8; u++)
        for (int h = 0; h < 2; h++)
          for (int L = 0; L < 4; L++)
            for (int c = 0; c < 4; c++) {
              int b = 0;
              for (int f = 0; f < 4; f++) {
                const block_q2_K* x = (const block_q2_K*)((const uint8_t*)scratch + (size_t)(L / 2 + 2 * (f % 2)) * row_bytes) + i;
                const int e = 16 * (2 * u + L % 2) + 4 * (2 * h + f / 2) + c, n = e >> 7, s = (e >> 5) & 3, p = e & 31;
                b |= ((x->qs[32 * n + p] >> (2 * s)) & 3) << (2 * f);
              }
              g[i].qs[u][h][4 * L + c] = (uint8_t)b;
            }
#endif
    }
  }
}
