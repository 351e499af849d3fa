// The two ways ggml's quantizers find a block's extreme value. They differ on
// nan, so each keeps its own comparison: a quantizer takes the one whose C it
// follows.

/**
 * The signed value of largest magnitude in x[o, o+n) (the first one on ties;
 * a nan is never taken), as the symmetric quantizers pick it: they scale by it
 * with its sign, so that it lands exactly on the one-sided end of the range
 * (q4_0's -8, make_qx_quants' -nmax). 0 for a block of zeros.
 */
export function signedAbsMax(x: Float32Array, o: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[o + j]!;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

/** MAX(amax, fabsf(v)) over x[o, o+n), from 0: C's macro, so a nan v wins. */
export function absMax(x: Float32Array, o: number, n: number): number {
  let amax = 0;
  for (let j = 0; j < n; j++) {
    const v = Math.abs(x[o + j]!);
    amax = amax > v ? amax : v;
  }
  return amax;
}
