// Q6_K with relaxed SIMD: the entries (kquant-loop.h's batch loop over the
// hooks below) and the load-time repacks. The layouts: q6_K-relaxed.h;
// decode: q6_K-decode.h; prefill: q6_K-prefill.h, q6_K-prefill-pair.h.
#include "q6_K-decode.h"
#include "q6_K-prefill-pair.h"
// One token: the decode paths (layout: 0 plain rows, 1 q6_Kp, 2 q6_Kx4).
KQ_HOOK void q6_K_one_token(const uint8_t* wc, int row_bytes, const block_q8_K* y, const v128_t* b32, float* o, int nb, int r0,
                            int r1, int first, int layout) {
  (void)b32;
  if (layout == 2) q6_Kx4_decode_token(wc, row_bytes, y, o, nb, r0, r1, first);
  else q6_K_rows(wc, row_bytes, y, o, nb, r0, r1, first, layout == 1);
}

// Prefill, one q6_Kx4 group.
KQ_HOOK void q6_Kx4_group(const uint8_t* gp, int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc, int nt) {
  (void)b32;
  const block_q6_Kx4* b = (const block_q6_Kx4*)gp;
  for (int i = 0; i < nb; i++) q6_Kx4_superblock(b + i, i, y, acc, nt);
}

// Prefill, two q6_Kx4 groups at a time (q6_Kx4_superblock_pair).
KQ_HOOK void q6_Kx4_pair(const uint8_t* gp, const uint8_t* hp, int nb, const block_q8_K* const* y, const v128_t* const* b32,
                         kq_acc* acc, kq_acc* acc2, int nt) {
  (void)b32;
  const block_q6_Kx4* b = (const block_q6_Kx4*)gp;
  const block_q6_Kx4* b2 = (const block_q6_Kx4*)hp;
  for (int i = 0; i < nb; i++) q6_Kx4_superblock_pair(b + i, b2 + i, i, y, acc, acc2, nt);
}

// Prefill, four plain rows (layout 0) or q6_Kp rows (1).
KQ_HOOK void q6_K_group(const uint8_t* const xp[4], int nb, const block_q8_K* const* y, const v128_t* const* b32, kq_acc* acc,
                        int nt, int layout) {
  (void)b32;
  const block_q6_K* x[4] = KQ_ROWS(block_q6_K, xp);
  for (int i = 0; i < nb; i++) q6_K_superblock(x, i, y, acc, nt, layout == 1);
}

static const kq_type q6_K_loop = {
    .block = sizeof(block_q6_K),  // = a q6_Kp row's
    .block_x4 = sizeof(block_q6_Kx4),
#ifdef RELAXED_DOT_ADD
    .pair_min = 0,
#else
    // the relaxed build's pairs reload their weight vectors every sub-block per pass: with
    // few tokens one group at a time is faster (4 tokens: 1.08x; 2 and 8: the same)
    .pair_min = 8,
#endif
};

// layout: 0 plain rows, 1 q6_Kp, 2 q6_Kx4 (kquant-loop.h's loop). One token
// over q6_Kx4: the column chunks inside the decode kernels, as q4_K_mul_mat explains.
static inline void q6_K_mul_mat(const void* w, int row_bytes, const void* a, int a_row_bytes, float* out, int out_stride,
                                int n, int n_tok, int r0, int r1, int layout) {
  if (layout == 2 && n_tok == 1) {
    // decode: the x4 kernels take every chunk of a group before the next
    // group, so each stream reads its groups' bytes front to back
    q6_Kx4_decode_token((const uint8_t*)w, row_bytes, (const block_q8_K*)a, out, n / QK_K, r0, r1, 1);
    return;
  }
  kq_mul_mat(&q6_K_loop, 0, q6_K_one_token, q6_Kx4_group, q6_K_group, q6_Kx4_pair, w, row_bytes, a, a_row_bytes, out,
             out_stride, n, n_tok, r0, r1, layout == 2, layout);
}

RELAXED_ENTRIES(q6_K, q6_K_mul_mat, 0)
RELAXED_ENTRIES(q6_Kp, q6_K_mul_mat, 1)
RELAXED_ENTRIES(q6_Kx4, q6_K_mul_mat, 2)

RELAXED_VEC_DOT(q6_K, q8_K, q6_K_mul_mat)

// Rewrites the quant bytes of n_rows q6_K rows as q6_Kp, in place (scales
// and d keep their offsets). scratch: unused.
void EXPORT(repack_q6_Kp)(void* w, int row_bytes, int n_rows, void* scratch) {
  (void)scratch;
  const int nb = row_bytes / (int)sizeof(block_q6_K);
  const v128_t top = wasm_i8x16_const_splat((int8_t)0xC0);
  for (int r = 0; r < n_rows; r++) {
    block_q6_K* x = (block_q6_K*)((uint8_t*)w + (size_t)r * row_bytes);
    for (int i = 0; i < nb; i++, x++) {
      v128_t q[4][4];  // all of it decoded before the first byte is overwritten
      for (int j = 0; j < 4; j++) q6_K_decode(x, j >> 1, 16 * (j & 1), q[j], 0);
      uint8_t* p = (uint8_t*)x;  // ql and qh: the block's first 192 bytes
      for (int j = 0; j < 4; j++) {
        // quant 3's bits 0-1, 2-3, 4-5 to the top of bytes k = 0, 1, 2 (u16 shifts: the mask keeps each byte's own bits)
        const v128_t q3 = q[j][3];
        wasm_v128_store(p + 48 * j, wasm_v128_or(q[j][0], wasm_v128_and(wasm_i16x8_shl(q3, 6), top)));
        wasm_v128_store(p + 48 * j + 16, wasm_v128_or(q[j][1], wasm_v128_and(wasm_i16x8_shl(q3, 4), top)));
        wasm_v128_store(p + 48 * j + 32, wasm_v128_or(q[j][2], wasm_v128_and(wasm_i16x8_shl(q3, 2), top)));
      }
    }
  }
}

// Rewrites n_rows (a multiple of 4) plain q6_K rows as q6_Kx4 groups, in
// place: group G takes the bytes of rows 4G..4G+3. scratch: 4 * row_bytes.
void EXPORT(repack_q6_Kx4)(void* w, int row_bytes, int n_rows, void* scratch) {
  const int nb = row_bytes / (int)sizeof(block_q6_K);
  for (int r = 0; r + 4 <= n_rows; r += 4) {
    uint8_t* base = (uint8_t*)w + (size_t)r * row_bytes;
    for (int i = 0; i < 4 * row_bytes; i++) ((uint8_t*)scratch)[i] = base[i];
    for (int i = 0; i < nb; i++) {
      const block_q6_K* x[4];
      for (int j = 0; j < 4; j++) x[j] = (const block_q6_K*)((const uint8_t*)scratch + (size_t)j * row_bytes) + i;
      uint8_t v[4][QK_K];  // row j's quants 0..63 in element order
      for (int j = 0; j < 4; j++)
        for (int s = 0; s < 4; s++) {  // q6_K_decode's step s: elements 128h + l0 + 32m .. +15
          const int h = s >> 1, l0 = 16 * (s & 1);
          v128_t q[4];
          q6_K_decode(x[j], h, l0, q, 0);
          for (int m = 0; m < 4; m++) wasm_v128_store(v[j] + 128 * h + l0 + 32 * m, q[m]);
        }
      block_q6_Kx4* g = (block_q6_Kx4*)base + i;
      for (int u = 0; u < 8; u++) {
        q6_Kx4_unit* un = &g->u[u];
        // the mixed vectors mv[e]: bytes 4j + c = v[j][32u + 16 (c >> 1) + 2e + (c & 1)], i.e. row
        // j's 16-bit word e of each half side by side (pe, pf: e < 4, e >= 4), then a 4x4 transpose
        // of 32-bit lanes. (Byte by byte, this loop was most of a Q6_K tensor's load time.)
        v128_t pe[4], pf[4], mv[8];
        for (int j = 0; j < 4; j++) {
          const v128_t a = LOAD(v[j] + 32 * u), b = LOAD(v[j] + 32 * u + 16);
          pe[j] = wasm_i16x8_shuffle(a, b, 0, 8, 1, 9, 2, 10, 3, 11);
          pf[j] = wasm_i16x8_shuffle(a, b, 4, 12, 5, 13, 6, 14, 7, 15);
        }
        transpose4(pe[0], pe[1], pe[2], pe[3], mv);
        transpose4(pf[0], pf[1], pf[2], pf[3], mv + 4);
        // vectors 4h..4h + 2 whole (6 bits), vector 4h + 3's bits 2c, 2c + 1 in their top two bits
        const v128_t m3 = wasm_i8x16_const_splat(3);
        for (int h = 0; h < 2; h++)
          for (int c = 0; c < 3; c++) {
            const v128_t top = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(mv[4 * h + 3], 2 * c), m3), 6);
            wasm_v128_store(un->q[h] + 16 * c, wasm_v128_or(mv[4 * h + c], top));
          }
        for (int j = 0; j < 4; j++) un->sc[2 * j] = x[j]->scales[2 * u], un->sc[2 * j + 1] = x[j]->scales[2 * u + 1];
      }
      for (int j = 0; j < 4; j++) g->d[j] = x[j]->d;
    }
  }
}
