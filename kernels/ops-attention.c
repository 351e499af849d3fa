// Attention over the KV cache (decode and prefill), and the KV store.
//
// KV cache layout (K and V alike): [n_head_kv][n_ctx] rows of head_dim values,
// f16 or q8_0 blocks, cell j holding position j. A (token, kv head) unit
// streams through one contiguous block per cache; storing a token is one
// contiguous row write per kv head. V is not transposed (llama.cpp transposes
// it for its f16 matmul): here the output is built 8 dims at a time in
// registers while walking the V rows, which vectorises as well and keeps K
// and V alike.
//
// Numerics are llama.cpp's non-flash path (llm_graph_context::build_attn_mha
// with flash_attn off): kq = mul_mat(K f16, q) converts q to f16 (vec_dot_type
// of F16) and accumulates products in f32 -- each f16*f16 product is exact in
// f32, only the summation order differs; optional soft-cap as ggml's
// scale(1/cap), tanh, scale(cap); soft_max_ext: * kq_scale, masked entries out,
// exp in f32, sum in double, * (float)(1.0/sum); then kqv = mul_mat(V f16, kq)
// converts the probabilities to f16 too, so they are rounded to f16 here
// before the products with V (again exact in f32) are summed in f32.
// The kv range is streamed in tiles (attention_kv): within a tile these exact
// steps, across tiles a merge of partial softmaxes, so a row that fits one
// tile gives the non-flash result and a longer one never needs its whole
// score row.
//
// llama.cpp's flash-attention path (flash_attn "auto" resolves to on for the
// CPU backend, and node-llama-cpp passes "auto" by default) rounds otherwise:
// for batches of >= 64 tokens it is all f32 (no f16 q or p); below that it
// keeps the running output in f16, rounded after every kv step; for a single
// token over >= 512 cells it splits kv across threads. To compare with this
// kernel, run llama.cpp with flash attention off -- except for a q8_0 V cache,
// which llama.cpp has on its flash path only.
#include "ops-math.h"
#include "legacy-blocks.h"

// quantize_row_q8_0 (legacy.c): ggml's reference q8_0 quantizer, as the K store and q rows use it
void quantize_row_q8_0(const float* x, void* y, int n);

static inline int round4(int n) { return (n + 3) & ~3; }

// floats of work buffer one thread needs (16-byte aligned pieces)
static size_t attn_wfloats(int n_head, int n_head_kv, int head_dim, int head_dim_v, int tile) {
  const int n_rep = n_head / n_head_kv;
  return (size_t)n_rep * round4(head_dim)  // q rounded to f16 (or q8_0 blocks)
         + 4 * (size_t)round4(tile)        // one chunk's scores over a tile, then probabilities
         + 4 * (size_t)round4(head_dim_v)  // one chunk's output over a tile, before the merge
         + (size_t)tile * (head_dim_v / QK * QK)  // a q8_0 V tile dequantized to f32
         + 4 * (size_t)n_rep               // running max (f32) and denominator (f64) per head
         + 16;                             // keeps the next thread's block on a cache line
}

// size_t attention_kv_wsize(int n_head, int n_head_kv, int head_dim, int head_dim_v, int tile)
// Bytes of work buffer per thread; attention_kv needs nth times this. Depends
// on the tile, not on the context length.
size_t EXPORT(attention_kv_wsize)(int n_head, int n_head_kv, int head_dim, int head_dim_v, int tile) {
  return attn_wfloats(n_head, n_head_kv, head_dim, head_dim_v, tile) * sizeof(float);
}

#define ALWAYS_INLINE static inline __attribute__((always_inline))

// Scores of R query heads (rows of qr, hd4 apart, already f16-rounded) against
// n K rows: sc[r*sc_stride + j] = q_r . k_j. Each K row is converted from f16
// once per chunk of R heads, straight into the products. Per (r, j) the sum
// order is fixed: one f32x4 accumulator over groups of 8 dims, lanes added
// pairwise, then any tail dims in order.
ALWAYS_INLINE void scores_chunk(const float* qr, int hd4, const uint16_t* kg, int head_dim, int n,
                                float* sc, int sc_stride, const int R) {
  for (int j = 0; j < n; j++) {
    const uint16_t* kr = kg + (size_t)j * head_dim;
    v128_t acc[4];
    for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0.0f);
    int i = 0;
    for (; i + 8 <= head_dim; i += 8) {
      v128_t lo, hi;
      ops_f16x8_to_f32x4x2(wasm_v128_load(kr + i), &lo, &hi, 0);
      for (int r = 0; r < R; r++) {
        const float* q = qr + r * hd4 + i;
        acc[r] = wasm_f32x4_add(acc[r], wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(q), lo),
                                                       wasm_f32x4_mul(wasm_v128_load(q + 4), hi)));
      }
    }
    for (int r = 0; r < R; r++) {
      float s = ops_hsum_f32x4(acc[r]);
      for (int d = i; d < head_dim; d++) s += qr[r * hd4 + d] * fp16_to_fp32(kr[d]);
      sc[r * sc_stride + j] = s;
    }
  }
}

// The q8_0 K cache (llama.cpp's --cache-type-k q8_0, flash attention off):
// kq = mul_mat(K q8_0, q) quantizes each q row to q8_0 (the vec_dot_type of
// Q8_0) and sums per block isum * (d_k * d_q) in f32, block after block, as
// ggml's q8_0 x q8_0 dot does. The integer block sums are exact, so only
// that float order matters, and it is kept per (row, head) below.
//
// A q row here is its q8_0 quants widened to int16 once (qw: head_dim int16
// then nb f32 scales, QW_BYTES apart), and K rows go four at a time: each
// row's block widened once into a small buffer for all R heads, the four
// rows' i32x4 dot partials transposed into one vector of block sums, then one
// convert, one scale product and one add give four rows' block term.
static inline int qw_bytes(int head_dim) { return (head_dim * 2 + head_dim / QK * 4 + 15) & ~15; }

// Four i32x4 partial sums -> one vector of their totals (lane i: v_i's lanes summed).
static inline v128_t hsum4_i32(v128_t v0, v128_t v1, v128_t v2, v128_t v3) {
  const v128_t x = wasm_i32x4_add(wasm_i32x4_shuffle(v0, v1, 0, 4, 1, 5), wasm_i32x4_shuffle(v0, v1, 2, 6, 3, 7));
  const v128_t y = wasm_i32x4_add(wasm_i32x4_shuffle(v2, v3, 0, 4, 1, 5), wasm_i32x4_shuffle(v2, v3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(x, y, 0, 1, 4, 5), wasm_i32x4_shuffle(x, y, 2, 3, 6, 7));
}

// One K block (32 int8) widened to 4 int16x8 at w.
static inline void widen_block(const block_q8_0* k, int16_t* w) {
  const v128_t a = wasm_v128_load(k->qs), b = wasm_v128_load(k->qs + 16);
  wasm_v128_store(w, wasm_i16x8_extend_low_i8x16(a));
  wasm_v128_store(w + 8, wasm_i16x8_extend_high_i8x16(a));
  wasm_v128_store(w + 16, wasm_i16x8_extend_low_i8x16(b));
  wasm_v128_store(w + 24, wasm_i16x8_extend_high_i8x16(b));
}

// The i32x4 partial dot of a widened K block and a widened q block.
static inline v128_t dot_block_i16(const int16_t* k, const int16_t* q) {
  v128_t acc = wasm_i32x4_dot_i16x8(wasm_v128_load(k), wasm_v128_load(q));
  acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_v128_load(k + 8), wasm_v128_load(q + 8)));
  acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_v128_load(k + 16), wasm_v128_load(q + 16)));
  return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_v128_load(k + 24), wasm_v128_load(q + 24)));
}

// Scores of R query heads (widened q rows at qw, QW_BYTES(head_dim) apart)
// against n q8_0 K rows of nb blocks.
ALWAYS_INLINE void scores_chunk_q8(const char* qw, int head_dim, const block_q8_0* kg, int nb, int n,
                                   float* sc, int sc_stride, const int R) {
  const int qwb = qw_bytes(head_dim);
  int16_t kw[4 * QK] __attribute__((aligned(16)));
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    v128_t s[4];
    for (int r = 0; r < R; r++) s[r] = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < nb; b++) {
      const block_q8_0* k0 = kg + (size_t)j * nb + b;
      for (int i = 0; i < 4; i++) widen_block(k0 + (size_t)i * nb, kw + i * QK);
      const v128_t dk = f16x4_to_f32x4(wasm_i32x4_make(k0[0].d, k0[nb].d, k0[2 * nb].d, k0[3 * nb].d));
      for (int r = 0; r < R; r++) {
        const int16_t* qr = (const int16_t*)(qw + (size_t)r * qwb) + b * QK;
        const float dq = ((const float*)((const int16_t*)(qw + (size_t)r * qwb) + head_dim))[b];
        const v128_t isum = hsum4_i32(dot_block_i16(kw, qr), dot_block_i16(kw + QK, qr), dot_block_i16(kw + 2 * QK, qr),
                                      dot_block_i16(kw + 3 * QK, qr));
        s[r] = wasm_f32x4_add(s[r], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(dk, wasm_f32x4_splat(dq))));
      }
    }
    for (int r = 0; r < R; r++) wasm_v128_store(sc + r * sc_stride + j, s[r]);
  }
  for (; j < n; j++) {  // the same steps one row at a time
    float s[4] = {0, 0, 0, 0};
    for (int b = 0; b < nb; b++) {
      const block_q8_0* k0 = kg + (size_t)j * nb + b;
      widen_block(k0, kw);
      const float dk = fp16_to_fp32(k0->d);
      for (int r = 0; r < R; r++) {
        const int16_t* qr = (const int16_t*)(qw + (size_t)r * qwb) + b * QK;
        const float dq = ((const float*)((const int16_t*)(qw + (size_t)r * qwb) + head_dim))[b];
        const v128_t a = dot_block_i16(kw, qr);
        const int isum = wasm_i32x4_extract_lane(a, 0) + wasm_i32x4_extract_lane(a, 1) + wasm_i32x4_extract_lane(a, 2) + wasm_i32x4_extract_lane(a, 3);
        s[r] += (float)isum * (dk * dq);
      }
    }
    for (int r = 0; r < R; r++) sc[r * sc_stride + j] = s[r];
  }
}

// q row -> q8_0 (ggml's reference quantizer, as mul_mat converts it for a q8_0 K), widened for scores_chunk_q8.
static void q_row_q8_widened(const float* q, int head_dim, char* qw) {
  const int nb = head_dim / QK;
  block_q8_0 blk[nb];
  quantize_row_q8_0(q, blk, head_dim);
  int16_t* w = (int16_t*)qw;
  float* d = (float*)(w + head_dim);
  for (int b = 0; b < nb; b++) {
    for (int i = 0; i < QK; i++) w[b * QK + i] = blk[b].qs[i];
    d[b] = fp16_to_fp32(blk[b].d);
  }
}

// o_r = sum_j p_r[j] v_j for R heads (p_r = sc + r*sc_stride), V rows from f16,
// v_row elements apart (the first head_dim of each are read).
// 8 output dims at a time stay in registers for the whole pass over j; each
// output element is summed over j in order, in f32.
ALWAYS_INLINE void pv_chunk(const float* sc, int sc_stride, const uint16_t* vg, int head_dim, int v_row, int n,
                            float* o, int o_stride, const int R) {
  int d = 0;
  for (; d + 8 <= head_dim; d += 8) {
    v128_t a0[4], a1[4];
    for (int r = 0; r < R; r++) a0[r] = a1[r] = wasm_f32x4_splat(0.0f);
    for (int j = 0; j < n; j++) {
      v128_t lo, hi;
      ops_f16x8_to_f32x4x2(wasm_v128_load(vg + (size_t)j * v_row + d), &lo, &hi, 0);
      for (int r = 0; r < R; r++) {
        const v128_t p = wasm_f32x4_splat(sc[r * sc_stride + j]);
        a0[r] = wasm_f32x4_add(a0[r], wasm_f32x4_mul(p, lo));
        a1[r] = wasm_f32x4_add(a1[r], wasm_f32x4_mul(p, hi));
      }
    }
    for (int r = 0; r < R; r++) {
      wasm_v128_store(o + r * o_stride + d, a0[r]);
      wasm_v128_store(o + r * o_stride + d + 4, a1[r]);
    }
  }
  for (; d < head_dim; d++)
    for (int r = 0; r < R; r++) {
      float a = 0.0f;
      for (int j = 0; j < n; j++) a += sc[r * sc_stride + j] * fp16_to_fp32(vg[(size_t)j * v_row + d]);
      o[r * o_stride + d] = a;
    }
}

// A q8_0 V cache (rows of head_dim / 32 blocks): each tile is dequantized
// once, as ggml's dequantize_row_q8_0 does (int8 * d in f32), into the work
// buffer, where every chunk of heads reads it (pv_chunk_f32): the products
// with the probabilities are then summed over j in order, in f32, as on
// llama.cpp's flash path with a quantized V (v_to_float, then an f32
// multiply-add per cell).

// pv_chunk over V rows already in f32 (head_dim apart).
ALWAYS_INLINE void pv_chunk_f32(const float* sc, int sc_stride, const float* vf, int head_dim, int n, float* o, int o_stride, const int R) {
  for (int d = 0; d < head_dim; d += 8) {
    v128_t a0[4], a1[4];
    for (int r = 0; r < R; r++) a0[r] = a1[r] = wasm_f32x4_splat(0.0f);
    for (int j = 0; j < n; j++) {
      const v128_t lo = wasm_v128_load(vf + (size_t)j * head_dim + d), hi = wasm_v128_load(vf + (size_t)j * head_dim + d + 4);
      for (int r = 0; r < R; r++) {
        const v128_t p = wasm_f32x4_splat(sc[r * sc_stride + j]);
        a0[r] = wasm_f32x4_add(a0[r], wasm_f32x4_mul(p, lo));
        a1[r] = wasm_f32x4_add(a1[r], wasm_f32x4_mul(p, hi));
      }
    }
    for (int r = 0; r < R; r++) {
      wasm_v128_store(o + r * o_stride + d, a0[r]);
      wasm_v128_store(o + r * o_stride + d + 4, a1[r]);
    }
  }
}

// A tile's q8_0 V rows dequantized to f32 (int8 * d, as ggml's dequantize_row_q8_0), head_dim apart.
static void dequantize_v_tile(const block_q8_0* vg, int v_row_blocks, int head_dim, int n, float* vf) {
  for (int j = 0; j < n; j++)
    for (int b = 0; b < head_dim / QK; b++) {
      const block_q8_0* blk = vg + (size_t)j * v_row_blocks + b;
      const v128_t dv = wasm_f32x4_splat(fp16_to_fp32(blk->d));
      float* out = vf + (size_t)j * head_dim + b * QK;
      for (int i = 0; i < QK; i += 16) {
        const v128_t x = wasm_v128_load(blk->qs + i);
        const v128_t lo = wasm_i16x8_extend_low_i8x16(x), hi = wasm_i16x8_extend_high_i8x16(x);
        wasm_v128_store(out + i, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(lo)), dv));
        wasm_v128_store(out + i + 4, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo)), dv));
        wasm_v128_store(out + i + 8, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi)), dv));
        wasm_v128_store(out + i + 12, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi)), dv));
      }
    }
}

// Applies f to sc[0..n) in place, 4 lanes at a time; the tail goes through
// the same SIMD code on a zero-padded vector.
#define MAP_F32X4(sc, n, f)                                                  \
  do {                                                                       \
    int i_ = 0;                                                              \
    for (; i_ + 4 <= (n); i_ += 4) {                                         \
      const v128_t x = wasm_v128_load((sc) + i_);                            \
      wasm_v128_store((sc) + i_, (f));                                       \
    }                                                                        \
    if (i_ < (n)) {                                                          \
      const v128_t x = ops_load_partial((sc) + i_, (n) - i_);                \
      ops_store_partial((sc) + i_, (f), (n) - i_);                           \
    }                                                                        \
  } while (0)

// scores -> probabilities rounded to f16, in place (n >= 1); *max_out and
// *sum_out get the max and the denominator (for merging tiles). sink: NULL,
// or this head's learned sink logit (gpt-oss), which joins the max and the
// denominator as one more score that has no V row: ggml's soft_max_ext with
// sinks takes max(row max, sink) and adds expf(sink - max) to the double sum.
static void softmax_f16_probs(float* sc, int n, float kq_scale, float softcap, const float* sink, float* max_out, double* sum_out) {
  if (softcap != 0.0f) {
    // ggml: scale by (float)(1/cap), tanh, scale by cap
    const v128_t inv_cap = wasm_f32x4_splat(1.0f / softcap), cap = wasm_f32x4_splat(softcap);
    MAP_F32X4(sc, n, wasm_f32x4_mul(ops_tanh_f32x4(wasm_f32x4_mul(x, inv_cap)), cap));
  }
  const v128_t vscale = wasm_f32x4_splat(kq_scale);
  MAP_F32X4(sc, n, wasm_f32x4_mul(x, vscale));
  v128_t vmax = wasm_f32x4_splat(-INFINITY);
  int i = 0;
  for (; i + 4 <= n; i += 4) vmax = wasm_f32x4_max(vmax, wasm_v128_load(sc + i));
  float max = fmaxf(fmaxf(wasm_f32x4_extract_lane(vmax, 0), wasm_f32x4_extract_lane(vmax, 1)),
                    fmaxf(wasm_f32x4_extract_lane(vmax, 2), wasm_f32x4_extract_lane(vmax, 3)));
  for (; i < n; i++) max = fmaxf(max, sc[i]);
  if (sink) max = fmaxf(max, *sink);
  const v128_t vm = wasm_f32x4_splat(max);
  MAP_F32X4(sc, n, ops_exp_f32x4(wasm_f32x4_sub(x, vm)));
  // each f32 term is exact in double: the order of the additions hardly matters
  v128_t s0 = wasm_f64x2_splat(0), s1 = s0;
  for (i = 0; i + 4 <= n; i += 4) {
    const v128_t e = wasm_v128_load(sc + i);
    s0 = wasm_f64x2_add(s0, wasm_f64x2_promote_low_f32x4(e));
    s1 = wasm_f64x2_add(s1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(e, e, 2, 3, 0, 1)));
  }
  const v128_t s01 = wasm_f64x2_add(s0, s1);
  double sum = wasm_f64x2_extract_lane(s01, 0) + wasm_f64x2_extract_lane(s01, 1);
  for (; i < n; i++) sum += (double)sc[i];
  // libm's expf, as ggml's scalar sink term (not the vector exp above)
  if (sink) sum += (double)expf(*sink - max);
  const v128_t inv = wasm_f32x4_splat((float)(1.0 / sum));
  MAP_F32X4(sc, n, ops_round_f16_f32x4(wasm_f32x4_mul(x, inv)));
  *max_out = max;
  *sum_out = sum;
}

// void attention_kv(const float* q, const void* k, const void* v, float* out,
//                   const int32_t* pos, const int32_t* kv_rows, int n_tokens, int n_head,
//                   int n_head_kv, int head_dim, int head_dim_v, int v_row, int q_stride, int n_ctx,
//                   float kq_scale, float softcap, int n_swa, int chunked, const float* sinks,
//                   int types, int tile, void* wdata, int ith, int nth)
// q: f32, token t's head h at q + t*q_stride + h*head_dim (q_stride in floats).
// k: the K cache of every sequence, [n_seq][n_head_kv][n_ctx] rows of
// head_dim values; v: [n_seq][n_head_kv][n_ctx] rows of v_row values, of which
// the first head_dim_v are V (v_row = head_dim_v for a cache of its own;
// multi-head latent attention reads V as the first kv_lora_rank values of
// each K row: v = k, v_row = head_dim). types: bit 0 set: K is q8_0 (rows of
// head_dim / 32 blocks; q rows are quantized to q8_0 as ggml's mul_mat does
// for a q8_0 K, llama.cpp's --cache-type-k q8_0), else f16; bit 1 set: V is
// q8_0 (rows of v_row / 32 blocks), else f16.
// kv_rows: int32 [n_tokens][2]: token t belongs to the sequence whose block is
// kv_rows[2t] (its slot) and whose cells 0..kv_rows[2t+1]-1 are in use, so
// one batch may hold tokens of several sequences at different lengths.
// out: f32 [n_tokens][n_head][head_dim_v].
// pos: int32[n_tokens]: token t sees cells j <= pos[t] of its block (and
// j > pos[t] - n_swa when n_swa > 0; with chunked, j >= pos[t] rounded down
// to a multiple of n_swa instead: llama 4's chunked attention); pos NULL:
// non-causal, every token sees its sequence's cells in use.
// Query head h reads kv head h / (n_head / n_head_kv) (n_head a multiple of n_head_kv).
// softcap: 0 for none, else scores become softcap * tanh(score / softcap)
// before kq_scale (llama.cpp's order). sinks: NULL, or f32[n_head], one
// logit per query head that joins its softmax (attention sinks, gpt-oss).
// wdata: nth * attention_kv_wsize(n_head, n_head_kv, head_dim, head_dim_v,
// tile) bytes, 16-byte aligned. Work is split by (token, kv head) units,
// dealt round-robin so causal prefill (later tokens see more) stays balanced.
//
// Tiles (flash-attention style): a unit's visible cells are streamed in tiles
// of `tile` cells from its first visible cell; only one tile's scores exist
// at a time. Each tile is the non-flash computation above on its own (scores,
// max, exp, double sum, probabilities rounded to f16, products with V summed
// in f32) and tiles merge as partial softmaxes do: with running max M and
// denominator L, a tile (m, l, o_t) gives M' = max(M, m),
// a = L e^(M-M'), b = l e^(m-M'), o = o * a/(a+b) + o_t * b/(a+b). The
// sink joins the first tile only. A row of at most `tile` cells is one tile:
// exactly the non-flash numerics (bit for bit what this kernel gave before
// tiles). Longer rows differ from llama.cpp's non-flash path only in where
// the f16 rounding of each probability falls (relative to its tile's
// denominator instead of the row's): the same relative size, 2^-11.
// The tiling depends only on the unit's visible range, so a token's result
// never depends on the other tokens of the batch or on the thread count.
ALWAYS_INLINE void attention_body(const float* q, const void* k, const void* v, float* out,
                                  const int32_t* pos, const int32_t* kv_rows, int n_tokens, int n_head,
                                  int n_head_kv, int head_dim, int head_dim_v, int v_row, int q_stride, int n_ctx,
                                  float kq_scale, float softcap, int n_swa, int chunked, const float* sinks,
                                  int tile, void* wdata, int ith, int nth, const int k_q8, const int v_q8) {
  const int n_rep = n_head / n_head_kv;
  const int hd4 = round4(head_dim);
  float* w = (float*)wdata + attn_wfloats(n_head, n_head_kv, head_dim, head_dim_v, tile) * ith;
  float* qr = w;                           // [n_rep][hd4]
  float* sc = qr + (size_t)n_rep * hd4;    // [4][round4(tile)]
  const int sc_stride = round4(tile);
  float* ot = sc + 4 * (size_t)sc_stride;  // [4][round4(head_dim_v)]
  const int ot_stride = round4(head_dim_v);
  float* vf = ot + 4 * (size_t)ot_stride;                 // [tile][head_dim_v] when V is q8_0
  double* run_l = (double*)(vf + (size_t)tile * (head_dim_v / QK * QK));  // [n_rep] (8-byte aligned: the pieces are multiples of 4 floats)
  float* run_m = (float*)(run_l + n_rep);                 // [n_rep]
  // element (f16) or block (q8_0) offsets of rows
  const size_t k_row = k_q8 ? (size_t)head_dim / QK : (size_t)head_dim;
  const size_t v_rowu = v_q8 ? (size_t)v_row / QK : (size_t)v_row;
  const size_t seq_stride = (size_t)n_head_kv * n_ctx * k_row;
  const size_t v_seq_stride = (size_t)n_head_kv * n_ctx * v_rowu;
  // q8_0 K: a row is nb blocks; q rows go to qr widened (q_row_q8_widened), qw_bytes apart
  const int nb = head_dim / QK;
  const int qwb = qw_bytes(head_dim);

  for (int u = ith; u < n_tokens * n_head_kv; u += nth) {
    const int t = u / n_head_kv, g = u % n_head_kv;
    float* o = out + ((size_t)t * n_head + (size_t)g * n_rep) * head_dim_v;

    int lo = 0, hi = kv_rows[2 * t + 1] - 1;
    if (pos) {
      const int p = pos[t];
      if (p < hi) hi = p;
      if (n_swa > 0) {
        const int first = chunked ? p / n_swa * n_swa : p - n_swa + 1;
        if (first > lo) lo = first;
      }
    }
    if (hi < lo) {  // nothing visible (only by misuse): zeros rather than nan
      memset(o, 0, (size_t)n_rep * head_dim_v * sizeof(float));
      continue;
    }
    const size_t k_base = (size_t)kv_rows[2 * t] * seq_stride + (size_t)g * n_ctx * k_row;
    const size_t v_base = (size_t)kv_rows[2 * t] * v_seq_stride + (size_t)g * n_ctx * v_rowu;

    // q rows as ggml's mul_mat converts them for K: q8_0 blocks, or rounded to f16
    if (k_q8) {
      for (int r = 0; r < n_rep; r++)
        q_row_q8_widened(q + (size_t)t * q_stride + (size_t)(g * n_rep + r) * head_dim, head_dim, (char*)qr + (size_t)r * qwb);
    } else for (int r = 0; r < n_rep; r++) {
      const float* qh = q + (size_t)t * q_stride + (size_t)(g * n_rep + r) * head_dim;
      float* d = qr + r * hd4;
      int i = 0;
      for (; i + 4 <= head_dim; i += 4) wasm_v128_store(d + i, ops_round_f16_f32x4(wasm_v128_load(qh + i)));
      if (i < head_dim) ops_store_partial(d + i, ops_round_f16_f32x4(ops_load_partial(qh + i, head_dim - i)), head_dim - i);
    }

    for (int c0 = lo; c0 <= hi; c0 += tile) {
      const int n = hi - c0 + 1 < tile ? hi - c0 + 1 : tile;
      const int first_tile = c0 == lo;
      const uint16_t* kg = (const uint16_t*)k + k_base + (size_t)c0 * k_row;
      const block_q8_0* kg8 = (const block_q8_0*)k + k_base + (size_t)c0 * k_row;
      const uint16_t* vg = (const uint16_t*)v + v_base + (size_t)c0 * v_rowu;
      const block_q8_0* vg8 = (const block_q8_0*)v + v_base + (size_t)c0 * v_rowu;

      if (v_q8) dequantize_v_tile(vg8, (int)v_rowu, head_dim_v, n, vf);  // once for every chunk
      // query heads in chunks of 4, 2, 1: the tile's K and V rows are converted once per chunk
      for (int r0 = 0; r0 < n_rep;) {
        const int R = n_rep - r0 >= 4 ? 4 : n_rep - r0 >= 2 ? 2 : 1;
        if (k_q8) {
          const char* qw = (const char*)qr + (size_t)r0 * qwb;
          if (R == 4) scores_chunk_q8(qw, head_dim, kg8, nb, n, sc, sc_stride, 4);
          else if (R == 2) scores_chunk_q8(qw, head_dim, kg8, nb, n, sc, sc_stride, 2);
          else scores_chunk_q8(qw, head_dim, kg8, nb, n, sc, sc_stride, 1);
        } else if (R == 4) scores_chunk(qr + r0 * hd4, hd4, kg, head_dim, n, sc, sc_stride, 4);
        else if (R == 2) scores_chunk(qr + r0 * hd4, hd4, kg, head_dim, n, sc, sc_stride, 2);
        else scores_chunk(qr + r0 * hd4, hd4, kg, head_dim, n, sc, sc_stride, 1);
        float m[4];
        double l[4];
        for (int r = 0; r < R; r++)
          softmax_f16_probs(sc + r * sc_stride, n, kq_scale, softcap, sinks && first_tile ? sinks + g * n_rep + r0 + r : NULL, &m[r], &l[r]);
        // the first tile writes the output itself (one tile: the non-flash result as it is)
        float* oc = first_tile ? o + (size_t)r0 * head_dim_v : ot;
        const int os = first_tile ? head_dim_v : ot_stride;
        if (v_q8) {
          if (R == 4) pv_chunk_f32(sc, sc_stride, vf, head_dim_v, n, oc, os, 4);
          else if (R == 2) pv_chunk_f32(sc, sc_stride, vf, head_dim_v, n, oc, os, 2);
          else pv_chunk_f32(sc, sc_stride, vf, head_dim_v, n, oc, os, 1);
        } else if (R == 4) pv_chunk(sc, sc_stride, vg, head_dim_v, v_row, n, oc, os, 4);
        else if (R == 2) pv_chunk(sc, sc_stride, vg, head_dim_v, v_row, n, oc, os, 2);
        else pv_chunk(sc, sc_stride, vg, head_dim_v, v_row, n, oc, os, 1);
        for (int r = 0; r < R; r++) {
          const int h = r0 + r;
          if (first_tile) {
            run_m[h] = m[r];
            run_l[h] = l[r];
            continue;
          }
          // merge this tile's normalized output into the running one
          const float mn = fmaxf(run_m[h], m[r]);
          const double a = run_l[h] * (double)expf(run_m[h] - mn), b = l[r] * (double)expf(m[r] - mn);
          const v128_t wa = wasm_f32x4_splat((float)(a / (a + b))), wb = wasm_f32x4_splat((float)(b / (a + b)));
          float* oh = o + (size_t)h * head_dim_v;
          const float* th = ot + (size_t)r * ot_stride;
          int d = 0;
          for (; d + 4 <= head_dim_v; d += 4)
            wasm_v128_store(oh + d, wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(oh + d), wa), wasm_f32x4_mul(wasm_v128_load(th + d), wb)));
          for (; d < head_dim_v; d++) oh[d] = oh[d] * (float)(a / (a + b)) + th[d] * (float)(b / (a + b));
          run_m[h] = mn;
          run_l[h] = a + b;
        }
        r0 += R;
      }
    }
  }
}

void EXPORT(attention_kv)(const float* q, const void* k, const void* v, float* out,
                          const int32_t* pos, const int32_t* kv_rows, int n_tokens, int n_head,
                          int n_head_kv, int head_dim, int head_dim_v, int v_row, int q_stride, int n_ctx,
                          float kq_scale, float softcap, int n_swa, int chunked, const float* sinks,
                          int types, int tile, void* wdata, int ith, int nth) {
#define ATTN_CALL(KQ8, VQ8)                                                                                         \
  attention_body(q, k, v, out, pos, kv_rows, n_tokens, n_head, n_head_kv, head_dim, head_dim_v, v_row, q_stride, \
                 n_ctx, kq_scale, softcap, n_swa, chunked, sinks, tile, wdata, ith, nth, KQ8, VQ8)
  switch (types & 3) {
    case 0: ATTN_CALL(0, 0); break;
    case 1: ATTN_CALL(1, 0); break;
    case 2: ATTN_CALL(0, 1); break;
    default: ATTN_CALL(1, 1); break;
  }
#undef ATTN_CALL
}

// void kv_store_f16(const float* src, uint16_t* cache, const int32_t* pos, const int32_t* kv_rows,
//                   int n_tokens, int n_head_kv, int head_dim, int src_stride, int n_ctx, int ith, int nth)
// cache[kv_rows[2t]][g][pos[t]][:] = f16(src + t*src_stride + g*head_dim), RNE
// as ggml's cpy to an f16 cache: token t's cell in its own sequence's block
// (kv_rows as attention_kv's). Same layout for K and V. Split by (token, kv head) rows.
void EXPORT(kv_store_f16)(const float* src, uint16_t* cache, const int32_t* pos, const int32_t* kv_rows,
                          int n_tokens, int n_head_kv, int head_dim, int src_stride, int n_ctx, int ith, int nth) {
  int r0, r1;
  rows_range(n_tokens * n_head_kv, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const int t = r / n_head_kv, g = r % n_head_kv;
    const float* s = src + (size_t)t * src_stride + (size_t)g * head_dim;
    uint16_t* d = cache + (((size_t)kv_rows[2 * t] * n_head_kv + g) * n_ctx + pos[t]) * head_dim;
    for (int i = 0; i < head_dim; i++) d[i] = fp32_to_fp16(s[i]);
  }
}

// void kv_store_q8_0(const float* src, void* cache, const int32_t* pos, const int32_t* kv_rows,
//                    int n_tokens, int n_head_kv, int head_dim, int src_stride, int n_ctx, int ith, int nth)
// kv_store_f16 for a q8_0 cache: each (token, kv head) row of head_dim (a multiple of 32)
// becomes head_dim / 32 q8_0 blocks, quantized as ggml's reference quantize_row_q8_0.
void EXPORT(kv_store_q8_0)(const float* src, void* cache, const int32_t* pos, const int32_t* kv_rows,
                           int n_tokens, int n_head_kv, int head_dim, int src_stride, int n_ctx, int ith, int nth) {
  int r0, r1;
  rows_range(n_tokens * n_head_kv, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const int t = r / n_head_kv, g = r % n_head_kv;
    const size_t cell = ((size_t)kv_rows[2 * t] * n_head_kv + g) * n_ctx + pos[t];
    quantize_row_q8_0(src + (size_t)t * src_stride + (size_t)g * head_dim, (block_q8_0*)cache + cell * (head_dim / QK), head_dim);
  }
}

// ---- attention within one batch, no KV cache (encoders: bert, nomic-bert) ----
//
// llama.cpp's no-cache path (build_attn with llm_graph_input_attn_no_cache,
// flash attention off) keeps q, k and v in f32: kq = mul_mat(k, q) is an f32
// product, the softmax is soft_max_ext (f32 exp, sum in double), and
// kqv = mul_mat(v^T, kq) sums f32 products. Nothing is rounded to f16 here.

// size_t attention_f32_wsize(int n_kv): bytes of work buffer per thread.
static size_t attn_f32_wbytes(int n_kv) { return ((size_t)round4(n_kv) + 16) * sizeof(float); }
size_t EXPORT(attention_f32_wsize)(int n_kv) { return attn_f32_wbytes(n_kv); }

// void attention_f32(const float* q, const float* k, const float* v, float* out,
//                    const int32_t* seq_range, int n_tokens, int n_head, int n_head_kv,
//                    int head_dim, int q_stride, int k_stride, int v_stride, float kq_scale,
//                    int causal, void* wdata, int ith, int nth)
// q, k, v: f32 rows of the batch (token t's head h at q + t*q_stride + h*head_dim,
// strides in floats, so views into a fused qkv work). out: f32
// [n_tokens][n_head][head_dim]. seq_range: int32 [n_tokens][2], the first and
// last batch row of token t's sequence (several sequences share a batch and
// never see each other); NULL: the whole batch is one sequence. causal != 0
// also hides rows after t (llama.cpp's mask with causal_attn). wdata: nth *
// attention_f32_wsize(n_tokens) bytes, 16-byte aligned.
void EXPORT(attention_f32)(const float* q, const float* k, const float* v, float* out,
                           const int32_t* seq_range, int n_tokens, int n_head, int n_head_kv,
                           int head_dim, int q_stride, int k_stride, int v_stride, float kq_scale,
                           int causal, void* wdata, int ith, int nth) {
  const int n_rep = n_head / n_head_kv;
  float* sc = (float*)((char*)wdata + attn_f32_wbytes(n_tokens) * ith);
  for (int u = ith; u < n_tokens * n_head; u += nth) {
    const int t = u / n_head, h = u % n_head, g = h / n_rep;
    float* o = out + ((size_t)t * n_head + h) * head_dim;
    int lo = 0, hi = n_tokens - 1;
    if (seq_range) {
      lo = seq_range[2 * t];
      hi = seq_range[2 * t + 1];
    }
    if (causal && t < hi) hi = t;
    if (hi < lo) {  // nothing visible (only by misuse): zeros rather than nan
      memset(o, 0, (size_t)head_dim * sizeof(float));
      continue;
    }
    const int n = hi - lo + 1;
    const float* qh = q + (size_t)t * q_stride + (size_t)h * head_dim;

    // scores * kq_scale; the row max on the way
    float max = -INFINITY;
    for (int j = 0; j < n; j++) {
      const float* kr = k + (size_t)(lo + j) * k_stride + (size_t)g * head_dim;
      v128_t acc = wasm_f32x4_splat(0.0f);
      int d = 0;
      for (; d + 4 <= head_dim; d += 4) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(qh + d), wasm_v128_load(kr + d)));
      float s = ops_hsum_f32x4(acc);
      for (; d < head_dim; d++) s += qh[d] * kr[d];
      s *= kq_scale;
      sc[j] = s;
      max = fmaxf(max, s);
    }

    // exp(s - max) in f32, summed in double, then * (float)(1/sum) as ggml's soft_max
    const v128_t vm = wasm_f32x4_splat(max);
    double sum = 0;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
      const v128_t e = ops_exp_f32x4(wasm_f32x4_sub(wasm_v128_load(sc + j), vm));
      wasm_v128_store(sc + j, e);
    }
    if (j < n) ops_store_partial(sc + j, ops_exp_f32x4(wasm_f32x4_sub(ops_load_partial(sc + j, n - j), vm)), n - j);
    for (j = 0; j < n; j++) sum += (double)sc[j];
    const float inv = (float)(1.0 / sum);

    // o = sum_j p_j v_j, each output element summed over j in order
    int d = 0;
    for (; d + 8 <= head_dim; d += 8) {
      v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0;
      for (j = 0; j < n; j++) {
        const float* vr = v + (size_t)(lo + j) * v_stride + (size_t)g * head_dim + d;
        const v128_t p = wasm_f32x4_splat(sc[j] * inv);
        a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(p, wasm_v128_load(vr)));
        a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(p, wasm_v128_load(vr + 4)));
      }
      wasm_v128_store(o + d, a0);
      wasm_v128_store(o + d + 4, a1);
    }
    for (; d < head_dim; d++) {
      float a = 0.0f;
      for (j = 0; j < n; j++) a += sc[j] * inv * v[(size_t)(lo + j) * v_stride + (size_t)g * head_dim + d];
      o[d] = a;
    }
  }
}
