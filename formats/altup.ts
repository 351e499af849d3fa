// Scalar references of Gemma 3n's row ops (kernels/ops-altup.c), the test
// oracle of the kernels: sums of rows in double as ggml_vec_sum_f32 does,
// every other step rounded to f32 in ggml's order. A stack is n_altup blocks
// of nTok rows of n floats (stream a of token t is row a * nTok + t).
const f = Math.fround;

/** sqrt of a row's sum of squares (each square rounded to f32, summed in double). */
function magnitude(x: Float32Array, at: number, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += f(x[at + i]! * x[at + i]!);
  return f(Math.sqrt(f(sum)));
}

/** Row r of x times |row r % refRows of ref| / |row r of x|. */
export function magnitudeScaleRef(x: Float32Array, ref: Float32Array, n: number): Float32Array {
  const rows = x.length / n, refRows = ref.length / n;
  const y = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    const target = magnitude(ref, (r % refRows) * n, n);
    const mag = magnitude(x, r * n, n);
    for (let i = 0; i < n; i++) y[r * n + i] = f(f(x[r * n + i]! * target) / mag);
  }
  return y;
}

/** relu(x - (mean + std * stdMul)) per row, std over n - 1 (gemma 3n's activation sparsity). */
export function gaussianTopKRef(x: Float32Array, n: number, stdMul: number): Float32Array {
  const y = new Float32Array(x.length);
  const invN1 = f(1 / (n - 1));
  for (let r = 0; r < x.length / n; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += x[r * n + i]!;
    const mean = f(f(sum) / n);
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const d = f(x[r * n + i]! - mean);
      ss += f(d * d);
    }
    const sd = f(f(Math.sqrt(f(f(ss) * invN1))) * f(stdMul));
    const cutoff = f(mean + sd);
    for (let i = 0; i < n; i++) {
      const d = f(x[r * n + i]! - cutoff);
      y[r * n + i] = d > 0 ? d : 0;
    }
  }
  return y;
}

/** AltUp's prediction: stream a plus the sum over k of coefs[t][k + nAltup * a] times stream k. */
export function altupPredictRef(x: Float32Array, coefs: Float32Array, n: number, nTok: number, nAltup: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let a = 0; a < nAltup; a++) {
    for (let t = 0; t < nTok; t++) {
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = 0; k < nAltup; k++) s = f(s + f(x[(k * nTok + t) * n + i]! * coefs[t * nAltup * nAltup + a * nAltup + k]!));
        y[(a * nTok + t) * n + i] = f(s + x[(a * nTok + t) * n + i]!);
      }
    }
  }
  return y;
}

/** AltUp's correction: every stream of pred plus (act - pred[iAct]) times coefs[t][a] + 1. */
export function altupCorrectRef(pred: Float32Array, act: Float32Array, coefs: Float32Array, n: number, nTok: number, nAltup: number, iAct: number): Float32Array {
  const y = new Float32Array(pred.length);
  for (let a = 0; a < nAltup; a++) {
    for (let t = 0; t < nTok; t++) {
      const c = f(coefs[t * nAltup + a]! + 1);
      for (let i = 0; i < n; i++) {
        const innovation = f(act[t * n + i]! - pred[(iAct * nTok + t) * n + i]!);
        y[(a * nTok + t) * n + i] = f(f(innovation * c) + pred[(a * nTok + t) * n + i]!);
      }
    }
  }
  return y;
}

/** The stack with b added to every stream but the first. */
export function altupAddRestRef(x: Float32Array, b: Float32Array, n: number, nTok: number): Float32Array {
  const y = x.slice();
  for (let r = nTok; r < x.length / n; r++) for (let i = 0; i < n; i++) y[r * n + i] = f(x[r * n + i]! + b[(r % nTok) * n + i]!);
  return y;
}
