// Rotary position embedding, ggml's rope_ext for f32 rows: modes NORM (pairs
// of adjacent dims, Llama) and NEOX (dim i with i + n_rot/2), partial rope
// (dims from n_rot on are copied), YaRN, per-frequency factors.
//
// The angles are computed exactly as ggml's rope cache is, in float and in the
// same order: theta starts at the position and is multiplied by theta_scale
// once per pair (so the rounding accumulates as it does in ggml), divided by
// the frequency factor, then scaled/ramped by rope_yarn; sinf/cosf in float.
// Rows are (token, head); each thread takes a contiguous block of rows and
// rebuilds the cos/sin cache when the token changes.
#include "ops-math.h"

#define ROPE_TYPE_NEOX 2  // ggml's GGML_ROPE_TYPE_NEOX; 0 is NORM
#define ROPE_MAX_ROT 1024
#define ROPE_PI_F 3.14159265358979323846f  // (float)M_PI; -std=c11 hides M_PI

static float rope_yarn_ramp(float low, float high, int i0) {
  const float y = (float)(i0 / 2) - low;
  const float t = y / fmaxf(0.001f, high - low);
  return 1.0f - fminf(1.0f, fmaxf(0.0f, t));
}

// the dimension at which the wavelength spans n_rot_beta rotations over n_ctx_orig
static float rope_yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot_beta, float base) {
  return (float)n_dims * logf((float)n_ctx_orig / (n_rot_beta * 2.0f * ROPE_PI_F)) /
         (2.0f * logf(base));
}

// cache[2i], cache[2i+1] = cos, sin of pair i's angle (times the magnitude scale)
static void rope_cache(float* cache, int n_rot, float pos, const float* freq_factors,
                       float freq_scale, float theta_scale, float ext_factor, float attn_factor,
                       const float corr_dims[2]) {
  float theta = pos;
  for (int i0 = 0; i0 < n_rot; i0 += 2) {
    const float ff = freq_factors ? freq_factors[i0 / 2] : 1.0f;
    const float theta_extrap = theta / ff;
    const float theta_interp = freq_scale * theta_extrap;
    float th = theta_interp;
    float mscale = attn_factor;
    if (ext_factor != 0.0f) {
      const float ramp_mix = rope_yarn_ramp(corr_dims[0], corr_dims[1], i0) * ext_factor;
      th = theta_interp * (1.0f - ramp_mix) + theta_extrap * ramp_mix;
      mscale *= 1.0f + 0.1f * logf(1.0f / freq_scale);
    }
    cache[i0 + 0] = cosf(th) * mscale;
    cache[i0 + 1] = sinf(th) * mscale;
    theta *= theta_scale;
  }
}

// void rope_f32(const float* x, float* y, const int32_t* pos, const float* freq_factors,
//               int n_tokens, int n_head, int head_dim, int x_stride, int y_stride,
//               int n_rot, int mode, int n_ctx_orig, float freq_base, float freq_scale,
//               float ext_factor, float attn_factor, float beta_fast, float beta_slow,
//               int ith, int nth)
// x, y: [n_tokens][n_head][head_dim], token t's first head at x + t*x_stride
// (strides in floats, so q/k views of a fused QKV row work); y may equal x.
// pos: int32[n_tokens]. freq_factors: NULL or float[n_rot/2]. mode 0 = NORM,
// 2 = NEOX. n_rot even, <= head_dim and <= 1024.
void EXPORT(rope_f32)(const float* x, float* y, const int32_t* pos, const float* freq_factors,
                      int n_tokens, int n_head, int head_dim, int x_stride, int y_stride, int n_rot,
                      int mode, int n_ctx_orig, float freq_base, float freq_scale, float ext_factor,
                      float attn_factor, float beta_fast, float beta_slow, int ith, int nth) {
  // mrope / vision modes are not implemented: refuse rather than rotate wrongly
  if (mode != 0 && mode != ROPE_TYPE_NEOX) return;
  if (n_rot > ROPE_MAX_ROT || n_rot > head_dim || (n_rot & 1)) return;
  float cache[ROPE_MAX_ROT];
  const float theta_scale = powf(freq_base, -2.0f / (float)n_rot);
  float corr_dims[2];
  {
    const float start = floorf(rope_yarn_corr_dim(n_rot, n_ctx_orig, beta_fast, freq_base));
    const float end = ceilf(rope_yarn_corr_dim(n_rot, n_ctx_orig, beta_slow, freq_base));
    corr_dims[0] = fmaxf(0.0f, start);
    corr_dims[1] = fminf((float)(n_rot - 1), end);
  }
  const int half = n_rot / 2;

  int r0, r1;
  rows_range(n_tokens * n_head, ith, nth, &r0, &r1);
  int cached_token = -1;
  for (int r = r0; r < r1; r++) {
    const int t = r / n_head, h = r % n_head;
    if (t != cached_token) {
      rope_cache(cache, n_rot, (float)pos[t], freq_factors, freq_scale, theta_scale, ext_factor,
                 attn_factor, corr_dims);
      cached_token = t;
    }
    const float* src = x + (size_t)t * x_stride + (size_t)h * head_dim;
    float* dst = y + (size_t)t * y_stride + (size_t)h * head_dim;
    if (mode == ROPE_TYPE_NEOX) {
      for (int i = 0; i < half; i++) {
        const float c = cache[2 * i], s = cache[2 * i + 1];
        const float x0 = src[i], x1 = src[i + half];
        dst[i] = x0 * c - x1 * s;
        dst[i + half] = x0 * s + x1 * c;
      }
    } else {
      for (int i = 0; i < n_rot; i += 2) {
        const float c = cache[i], s = cache[i + 1];
        const float x0 = src[i], x1 = src[i + 1];
        dst[i] = x0 * c - x1 * s;
        dst[i + 1] = x0 * s + x1 * c;
      }
    }
    if (dst != src)
      for (int i = n_rot; i < head_dim; i++) dst[i] = src[i];
  }
}
