// Top-p when the nucleus is large. With a flat distribution (top_k off, a
// high-entropy step) p of the mass can take most of a 256K vocabulary, and
// sorting all of it just to find where the running sum crosses p is
// O(n log n) - about 60 ms a token in JavaScript. Only the crossing needs order:
// histogram the mass by logit, find the one bucket where the running sum
// crosses p, keep every token above it, drop every token below it, and sort
// just that bucket. O(n) plus one small sort.

import type { Candidates } from './candidates.js';
import { quickSort } from './order.js';

// Scratch reused across calls (grown, never shrunk) so sampling allocates nothing.
let bucketMass = new Float64Array(0);

/**
 * Cuts `c` to the top-p set: the shortest prefix, in sampling order, whose mass
 * reaches p, with at least min_keep tokens. `max` is the largest logit (finite)
 * and `inv` is 1 / sum(exp(logit - max)). The survivors are left unordered
 * (`sorted` false), which no later sampler needs.
 *
 * Returns false, changing nothing but the order of the candidates, when the
 * crossing is not found in the bucket (min_keep reaching past it, or rounding
 * in the bucket sums); the caller then falls back to a full sort.
 */
export function cutNucleus(c: Candidates, p: number, min_keep: number, max: number, inv: number): boolean {
  const n = c.size;
  const ids = c.ids;
  const logits = c.logits;

  let lo = max;
  for (let i = 0; i < n; i++) {
    const l = logits[i]!;
    if (l < lo && l !== -Infinity) lo = l;
  }
  // One outlier far below would squeeze everyone else into the top bucket. Below
  // max - 104 a token's weight is under float32's smallest denormal (0 in
  // llama.cpp's float softmax), so those share bucket 0 and the range stays useful.
  if (lo < max - 104) lo = max - 104;
  // ~64 tokens a bucket for uniform logits; real ones bunch up, and the crossing
  // bucket is then a few hundred, still cheap to sort.
  const nb = Math.min(4096, Math.max(16, n >>> 6));
  if (bucketMass.length < nb) bucketMass = new Float64Array(nb);
  const mass = bucketMass;
  mass.fill(0, 0, nb);
  const scale = max > lo ? nb / (max - lo) : 0;
  const top = nb - 1;

  for (let i = 0; i < n; i++) {
    const l = logits[i]!;
    const b = bucketOf(l, lo, scale, top);
    if (b >= 0) mass[b] += Math.exp(l - max);
  }
  let above = 0;
  let cross = -1;
  for (let b = top; b >= 0; b--) {
    if ((above + mass[b]!) * inv >= p) {
      cross = b;
      break;
    }
    above += mass[b]!;
  }
  if (cross < 0) return false;

  // Tokens above the crossing bucket to the front, then the bucket's own.
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (bucketOf(logits[i]!, lo, scale, top) > cross) swap(ids, logits, i, j++);
  }
  let k = j;
  for (let i = j; i < n; i++) {
    if (bucketOf(logits[i]!, lo, scale, top) === cross) swap(ids, logits, i, k++);
  }
  quickSort(ids, logits, j, k);
  c.byId = false;

  let cum = above * inv;
  for (let i = j; i < k; i++) {
    cum += Math.exp(logits[i]! - max) * inv;
    if (cum >= p && i + 1 >= min_keep) {
      c.size = i + 1;
      // A single token above the bucket still precedes all of it.
      c.sorted = j <= 1;
      return true;
    }
  }
  return false;
}

// Rounding is monotone, so a higher logit never lands in a lower bucket: the
// buckets split the sampling order into contiguous runs. -Infinity gets -1.
function bucketOf(l: number, lo: number, scale: number, top: number): number {
  if (l === -Infinity) return -1;
  const b = Math.floor((l - lo) * scale);
  return b < 0 ? 0 : b > top ? top : b;
}

function swap(ids: Int32Array, logits: Float32Array, a: number, b: number): void {
  if (a === b) return;
  const id = ids[a]!;
  const l = logits[a]!;
  ids[a] = ids[b]!;
  logits[a] = logits[b]!;
  ids[b] = id;
  logits[b] = l;
}
