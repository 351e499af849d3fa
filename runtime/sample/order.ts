// Ordering candidates without sorting more than needed. Top-k of a 256K vocab
// only needs the best k in order: quickselect moves them to the front in
// expected O(n), and only those k are then sorted, O(n + k log k) in all.
//
// The order is total: logit descending, ties to the lower id. llama.cpp leaves
// tie order to std::partial_sort; fixing it here makes every filter (and greedy)
// give the same answer whatever the input order or pivot luck.

import type { Candidates } from './candidates.js';

// Pivots are drawn at random so no input order (already sorted logits, long runs
// of -Infinity) can force quadratic time. The result does not depend on the
// pivots because the order is total, so this state need not be seeded per use.
// Kept as a signed int32 so V8 stores it unboxed (no heap number per pivot).
let pivotState = 0x2545f491;
function pivotIn(lo: number, hi: number): number {
  let x = pivotState;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  pivotState = x | 0;
  return lo + ((x >>> 0) % (hi - lo));
}

const SMALL = 16;

function insertionSort(ids: Int32Array, logits: Float32Array, lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const id = ids[i]!;
    const l = logits[i]!;
    let j = i - 1;
    while (j >= lo) {
      const lj = logits[j]!;
      if (lj > l || (lj === l && ids[j]! < id)) break;
      ids[j + 1] = ids[j]!;
      logits[j + 1] = lj;
      j--;
    }
    ids[j + 1] = id;
    logits[j + 1] = l;
  }
}

/** Partitions [lo, hi) around a random pivot; returns the pivot's final slot. */
function partition(ids: Int32Array, logits: Float32Array, lo: number, hi: number): number {
  const last = hi - 1;
  const p = pivotIn(lo, hi);
  const pid = ids[p]!;
  const pl = logits[p]!;
  ids[p] = ids[last]!;
  logits[p] = logits[last]!;
  ids[last] = pid;
  logits[last] = pl;
  let store = lo;
  for (let i = lo; i < last; i++) {
    const l = logits[i]!;
    if (l > pl || (l === pl && ids[i]! < pid)) {
      const id = ids[i]!;
      ids[i] = ids[store]!;
      logits[i] = logits[store]!;
      ids[store] = id;
      logits[store] = l;
      store++;
    }
  }
  ids[last] = ids[store]!;
  logits[last] = logits[store]!;
  ids[store] = pid;
  logits[store] = pl;
  return store;
}

/** Sorts slots [lo, hi) of parallel id/logit arrays into sampling order. */
export function quickSort(ids: Int32Array, logits: Float32Array, lo: number, hi: number): void {
  // Recurse into the smaller side and loop on the larger: stack depth stays O(log n).
  while (hi - lo > SMALL) {
    const p = partition(ids, logits, lo, hi);
    if (p - lo < hi - p - 1) {
      quickSort(ids, logits, lo, p);
      lo = p + 1;
    } else {
      quickSort(ids, logits, p + 1, hi);
      hi = p;
    }
  }
  insertionSort(ids, logits, lo, hi);
}

/** Moves the best k of [0, n) into [0, k) (unordered among themselves). */
function quickSelect(ids: Int32Array, logits: Float32Array, n: number, k: number): void {
  let lo = 0;
  let hi = n;
  while (hi - lo > SMALL) {
    const p = partition(ids, logits, lo, hi);
    if (p === k) return;
    if (p > k) hi = p;
    else lo = p + 1;
  }
  insertionSort(ids, logits, lo, hi);
}

/**
 * Puts the best `k` candidates first, in sampling order. Slots after k keep the
 * rest in no particular order; `size` is left alone (the caller decides whether
 * to cut). Sets `sorted` when the whole set ends up ordered.
 */
export function sortTop(c: Candidates, k: number): void {
  const n = c.size;
  if (c.sorted || n <= 1) {
    c.sorted = true;
    return;
  }
  k = Math.max(0, Math.min(k, n));
  if (k === 0) return;
  // Near-full prefixes are cheaper to get by one full sort than select-then-sort.
  if (k >= n - SMALL) {
    quickSort(c.ids, c.logits, 0, n);
    c.sorted = true;
  } else {
    quickSelect(c.ids, c.logits, n, k);
    quickSort(c.ids, c.logits, 0, k);
  }
  c.byId = false;
}

/** Sorts all candidates into sampling order. */
export function sortCandidates(c: Candidates): void {
  sortTop(c, c.size);
}
