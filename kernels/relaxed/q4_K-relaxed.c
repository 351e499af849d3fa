// Q4_K with relaxed SIMD: the entries (kquant-loop.h's batch loop over the
// hooks below) and the load-time repack. The layouts and scales:
// q4_K-relaxed.h; prefill: q4_K-prefill.h; decode: q4_K-decode.h.
#include "q4_K-prefill.h"
#include "q4_K-decode.h"
// One token: the decode paths.
KQ_HOOK void q4_K_one_token(const uint8_t* wc, int row_bytes, const block_q8_K* y, const v128_t* b32, float* o, int nb, int r0,
                            int r1, int first, int x4) {
  if (x4) q4_Kx4_rows(wc, row_bytes, y, b32, o, nb, r0, r1, first);
  else q4_K_rows(wc, row_bytes, y, b32, o, nb, r0, r1, first);
}

// Prefill, one q4_Kx4 group (its quants as stored).
KQ_HOOK void q4_Kx4_group(const uint8_t* gp, int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc, int nt) {
  const block_q4_Kx4* g = (const block_q4_Kx4*)gp;
  q4_K_scales4 s;
  for (int i = 0; i < nb; i++) {
    q4_K_scales_x4(g + i, &s);
    q4_K_superblock(&s, (const v128_t*)g[i].qs, i, y, b32, acc, nt);
  }
}

// Prefill, two q4_Kx4 groups at a time (q4_K_isums_pair).
KQ_HOOK void q4_Kx4_pair(const uint8_t* gp, const uint8_t* hp, int nb, const block_q8_K* const* y, const v128_t* const* b32,
                         kq_acc* acc, kq_acc* acc2, int nt) {
  const block_q4_Kx4* g = (const block_q4_Kx4*)gp;
  const block_q4_Kx4* h = (const block_q4_Kx4*)hp;
  for (int i = 0; i < nb; i++) {
    q4_K_scales4 s, s2;
    q4_K_scales_x4(g + i, &s);
    q4_K_scales_x4(h + i, &s2);
    q4_K_isums_pair(&s, &s2, (const v128_t*)g[i].qs, (const v128_t*)h[i].qs, i, y, acc, acc2, nt);
    q4_K_finish_pair(&s, &s2, i, y, b32, acc, acc2, nt);
  }
}

// Prefill, four plain rows: each super-block's nibbles paired and transposed as q4_Kx4 holds them.
KQ_HOOK void q4_K_group(const uint8_t* const xp[4], int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc,
                        int nt, int layout) {
  (void)layout;
  const block_q4_K* x[4] = KQ_ROWS(block_q4_K, xp);
  q4_K_scales4 s;
  for (int i = 0; i < nb; i++) {
    v128_t q[32];
    q4_K_scales(x, i, &s);
    for (int c = 0; c < 4; c++) {  // chunk c's two sub-blocks of each row, paired as q4_Kx4's (q + 4 * sb)
      v128_t lo[4], hi[4];
      for (int j = 0; j < 4; j++) q4_K_pair_nibbles(LOAD(x[j][i].qs + 32 * c), LOAD(x[j][i].qs + 32 * c + 16), &lo[j], &hi[j]);
      transpose4(lo[0], lo[1], lo[2], lo[3], q + 8 * c);
      transpose4(hi[0], hi[1], hi[2], hi[3], q + 8 * c + 4);
    }
    q4_K_superblock(&s, q, i, y, b32, acc, nt);
  }
}

static const kq_type q4_K_loop = {.block = sizeof(block_q4_K), .block_x4 = sizeof(block_q4_Kx4), .mins = 1};

// x4: 0 plain rows, 1 q4_Kx4 (kquant-loop.h's loop). One token over x4
// groups: the column chunks inside the decode kernels instead (each group's
// row read front to back, not a chunk of every group and then the next
// chunk: 1.1-1.2x from memory on ffn_down's 14336 columns); each chunk is
// still its own sum, added to out in chunk order, so the bits are the same.
static inline void q4_K_mul_mat(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                int n, int n_tok, int r0, int r1, int x4) {
  if (x4 && n_tok == 1 && n / QK_K <= MM_TOK * KB) {
    // decode: the x4 kernels take every chunk of a group before the next
    // group, so each stream reads its groups' bytes front to back
    v128_t bs[MM_TOK * KB];
    bsums32_q8_K((const block_q8_K*)a, bs, n / QK_K);
    q4_Kx4_rows((const uint8_t*)w, row_bytes, (const block_q8_K*)a, bs, out, n / QK_K, r0, r1, 1);
    return;
  }
  kq_mul_mat(&q4_K_loop, bsums32_q8_K, q4_K_one_token, q4_Kx4_group, q4_K_group, q4_Kx4_pair, w, row_bytes, a, a_row_bytes,
             out, out_stride, n, n_tok, r0, r1, x4, x4);
}

RELAXED_ENTRIES(q4_K, q4_K_mul_mat, 0)
RELAXED_ENTRIES(q4_Kx4, q4_K_mul_mat, 1)

RELAXED_VEC_DOT(q4_K, q8_K, q4_K_mul_mat)

// Rewrites n_rows (a multiple of 4) plain q4_K rows as q4_Kx4 groups, in
// place: group G takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_q4_Kx4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_q4_K);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    block_q4_Kx4* g = (block_q4_Kx4*)base;
    for (int i = 0; i < nb; i++) {
      for (int j = 0; j < 16; j++) g[i].ml[j] = 0;
      const block_q4_K* x[4];
      for (int j = 0; j < 4; j++) {
        x[j] = (const block_q4_K*)((const uint8_t*)scratch + (size_t)j * row_bytes) + i;
        g[i].d[j] = x[j]->d;
        g[i].dmin[j] = x[j]->dmin;
        repack_kx4_scales_mins(x[j]->scales, j, g[i].sm, g[i].ml);
      }
      // Sub-block sb = 2c + h of row j, paired (q4_K_pair_nibbles), holds its elements 4m..4m+3
      // (and 16 + 4m..) in 32-bit lane m; qs[sb][m] wants lane m of rows 0..3: a 4x4 transpose
      // of 32-bit lanes. (A byte-by-byte loop here made the 8B's load 2.0x its read; bound 1.5x.)
      for (int c = 0; c < 4; c++) {
        v128_t lo[4], hi[4];
        for (int j = 0; j < 4; j++) q4_K_pair_nibbles(LOAD(x[j]->qs + 32 * c), LOAD(x[j]->qs + 32 * c + 16), &lo[j], &hi[j]);
        for (int h = 0; h < 2; h++) {
          const v128_t* r = h ? hi : lo;
          v128_t t[4];
          transpose4(r[0], r[1], r[2], r[3], t);
          for (int m = 0; m < 4; m++) wasm_v128_store(g[i].qs[2 * c + h][m], t[m]);
        }
      }
    }
  }
}
