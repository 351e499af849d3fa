// Gemma 3n's row ops: AltUp's prediction and correction over the stack of
// n_altup residual streams, the magnitude matching of the streams, the
// per-layer input added to the streams after the first, and the gaussian
// top-k of the FFN gate (activation sparsity). Each follows the ggml ops
// llama.cpp builds them from, in their order: sums of rows in double
// (ggml_vec_sum_f32), everything else rounded to f32 step by step.
//
// A stack is n_altup blocks of n_tok rows of n floats ([n, n_tok, n_altup]
// in ggml's order): stream a of token t is row a * n_tok + t. Every output
// element is computed by one thread from its own inputs, so the bits do not
// depend on the thread count.
#include "ops-math.h"

// sqrt of the sum of squares of a row: ggml_sqrt(ggml_sum_rows(ggml_sqr(x)))
static float row_magnitude(const float* x, int n) {
  double sum = 0.0;
  for (int i = 0; i < n; i++) {
    const float sq = x[i] * x[i];
    sum += (double)sq;
  }
  return sqrtf((float)sum);
}

// void altup_magnitude_scale_f32(const float* x, const float* ref, float* y, int n, int n_rows,
//                                int n_ref_rows, int ith, int nth)
// Row r of x rescaled to the magnitude of row r % n_ref_rows of ref:
// y = (x * |ref|) / |x| (AltUp's calc_magnitude, then ggml_mul and ggml_div).
void EXPORT(altup_magnitude_scale_f32)(const float* x, const float* ref, float* y, int n, int n_rows,
                                       int n_ref_rows, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (size_t)r * n;
    float* yr = y + (size_t)r * n;
    const float target = row_magnitude(ref + (size_t)(r % n_ref_rows) * n, n);
    const float mag = row_magnitude(xr, n);
    for (int i = 0; i < n; i++) {
      const float scaled = xr[i] * target;
      yr[i] = scaled / mag;
    }
  }
}

// void gaussian_topk_f32(const float* x, float* y, int n, int n_rows, float std_mul, int ith, int nth)
// Per row: relu(x - (mean + std * std_mul)), std the sample standard deviation
// (divided by n - 1): gemma 3n's activation sparsity, as llama.cpp composes it
// from ggml_mean, ggml_sub, ggml_sqr, ggml_sum_rows, ggml_scale, ggml_sqrt,
// ggml_add and ggml_relu.
void EXPORT(gaussian_topk_f32)(const float* x, float* y, int n, int n_rows, float std_mul, int ith, int nth) {
  int r0, r1;
  rows_range(n_rows, ith, nth, &r0, &r1);
  const float inv_n1 = 1.0f / (float)(n - 1);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (size_t)r * n;
    float* yr = y + (size_t)r * n;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)xr[i];
    float mean = (float)sum;
    mean /= (float)n;
    double ss = 0.0;
    for (int i = 0; i < n; i++) {
      const float d = xr[i] - mean;
      const float sq = d * d;
      ss += (double)sq;
    }
    const float var = (float)ss * inv_n1;
    const float sd = sqrtf(var) * std_mul;
    const float cutoff = mean + sd;
    for (int i = 0; i < n; i++) {
      const float d = xr[i] - cutoff;
      yr[i] = d > 0.0f ? d : 0.0f;
    }
  }
}

// void altup_predict_f32(const float* x, const float* coefs, float* y, int n, int n_tok,
//                        int n_altup, int ith, int nth)
// AltUp's prediction: stream a of token t becomes x[a] + sum over k of
// coefs[k + n_altup * a][t] * x[k] (coefs: [n_altup * n_altup, n_tok], the
// router's predict coefficients), the sum in k order as ggml's f32 dot of
// n_altup values, then the residual added (ggml_add).
void EXPORT(altup_predict_f32)(const float* x, const float* coefs, float* y, int n, int n_tok,
                               int n_altup, int ith, int nth) {
  int r0, r1;
  rows_range(n_tok * n_altup, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const int a = r / n_tok, t = r % n_tok;
    const float* c = coefs + (size_t)t * n_altup * n_altup + (size_t)a * n_altup;
    const float* xa = x + (size_t)r * n;
    float* yr = y + (size_t)r * n;
    for (int i = 0; i < n; i++) {
      float s = 0.0f;
      for (int k = 0; k < n_altup; k++) {
        const float p = x[((size_t)k * n_tok + t) * n + i] * c[k];
        s += p;
      }
      yr[i] = s + xa[i];
    }
  }
}

// void altup_correct_f32(const float* pred, const float* act, const float* coefs, float* y, int n,
//                        int n_tok, int n_altup, int i_act, int ith, int nth)
// AltUp's correction: with innovation = act - pred[i_act] (the layer's output
// minus the stream it was computed from), stream a of token t becomes
// innovation * (coefs[a][t] + 1) + pred[a] (coefs: [n_altup, n_tok]).
void EXPORT(altup_correct_f32)(const float* pred, const float* act, const float* coefs, float* y, int n,
                               int n_tok, int n_altup, int i_act, int ith, int nth) {
  int r0, r1;
  rows_range(n_tok * n_altup, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const int t = r % n_tok;
    const float c = coefs[(size_t)t * n_altup + r / n_tok] + 1.0f;
    const float* ar = act + (size_t)t * n;
    const float* pa = pred + (size_t)i_act * n_tok * n + (size_t)t * n;
    const float* pr = pred + (size_t)r * n;
    float* yr = y + (size_t)r * n;
    for (int i = 0; i < n; i++) {
      const float innovation = ar[i] - pa[i];
      const float scaled = innovation * c;
      yr[i] = scaled + pr[i];
    }
  }
}

// void altup_add_rest_f32(const float* x, const float* b, float* y, int n, int n_tok, int n_altup,
//                         int ith, int nth)
// The stack x with b ([n, n_tok]) added to every stream but the first, the
// first copied (llama.cpp's corrected[1:] += first_prediction).
void EXPORT(altup_add_rest_f32)(const float* x, const float* b, float* y, int n, int n_tok, int n_altup,
                                int ith, int nth) {
  int r0, r1;
  rows_range(n_tok * n_altup, ith, nth, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (size_t)r * n;
    float* yr = y + (size_t)r * n;
    if (r < n_tok) {
      for (int i = 0; i < n; i++) yr[i] = xr[i];
      continue;
    }
    const float* br = b + (size_t)(r % n_tok) * n;
    for (int i = 0; i < n; i++) yr[i] = xr[i] + br[i];
  }
}
