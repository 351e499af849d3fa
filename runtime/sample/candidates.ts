// The working set every sampler reads and narrows: token ids with their logits
// (and, once computed, probabilities), held in parallel typed arrays so that a
// 256K vocabulary costs no per-token objects. Only the first `size` slots count;
// samplers shrink `size` instead of moving data out.
import { sortTop } from './order.js';

/** Candidate tokens, in parallel arrays; slots at `size` and beyond are scratch. */
export interface Candidates {
  ids: Int32Array;
  logits: Float32Array;
  /** Filled by softmax(); stale after any sampler that changes logits or size. */
  probs: Float32Array;
  size: number;
  /** The first `size` slots are in sampling order: logit descending, ties by lower id. */
  sorted: boolean;
  /**
   * Slot i holds token i for every i < size (fresh from loadLogits, nothing reordered
   * or dropped). Lets penalties touch only the penalised tokens instead of scanning.
   */
  byId: boolean;
}

/** Empty candidates with room for `capacity` tokens. */
export function createCandidates(capacity = 0): Candidates {
  return {
    ids: new Int32Array(capacity),
    logits: new Float32Array(capacity),
    probs: new Float32Array(capacity),
    size: 0,
    sorted: false,
    byId: true,
  };
}

/**
 * Loads a full logits vector (slot i = token i), growing the buffers only when the
 * vocabulary outgrows them, so a sampler reused across tokens allocates once.
 * NaN logits become -Infinity: a NaN would break every comparison downstream.
 */
export function loadLogits(c: Candidates, logits: ArrayLike<number>): Candidates {
  const n = logits.length;
  if (c.ids.length < n) {
    c.ids = new Int32Array(n);
    c.logits = new Float32Array(n);
    c.probs = new Float32Array(n);
  }
  const ids = c.ids;
  const dst = c.logits;
  for (let i = 0; i < n; i++) {
    const v = logits[i]!;
    ids[i] = i;
    dst[i] = v === v ? v : -Infinity;
  }
  c.size = n;
  c.sorted = false;
  c.byId = true;
  return c;
}

/**
 * The best token of a full logits vector (highest logit, ties to the lowest
 * id, NaN as -Infinity): argmaxSlot(loadLogits(c, logits)) without the copy.
 */
export function argmaxLogits(logits: Float32Array): number {
  let best = 0;
  let bestL = logits[0]!;
  if (bestL !== bestL) bestL = -Infinity;
  // strictly greater: a tie keeps the lower id; NaN never compares greater
  for (let i = 1; i < logits.length; i++) {
    const l = logits[i]!;
    if (l > bestL) {
      best = i;
      bestL = l;
    }
  }
  return best;
}

/** Whether slot a comes after slot b in sampling order (lower logit; ties: the higher id). */
function worse(ids: Int32Array, ls: Float32Array, a: number, b: number): boolean {
  const la = ls[a]!, lb = ls[b]!;
  return la < lb || (la === lb && ids[a]! > ids[b]!);
}

/** Restores the heap below slot i: each slot no worse than its children (the worst at the top). */
function siftDown(ids: Int32Array, ls: Float32Array, i: number, size: number): void {
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) return;
    const r = l + 1;
    const m = r < size && worse(ids, ls, r, l) ? r : l;
    if (!worse(ids, ls, m, i)) return;
    const id = ids[i]!, v = ls[i]!;
    ids[i] = ids[m]!;
    ls[i] = ls[m]!;
    ids[m] = id;
    ls[m] = v;
    i = m;
  }
}

/**
 * Loads only the best k of a full logits vector, in sampling order (logit
 * descending, ties to the lower id, NaN as -Infinity): what loadLogits then
 * applyTopK(k) leave, for one pass over the vocabulary and no copy of it. A
 * heap of the k best so far (the worst on top) sees each logit once, and
 * most fail the one comparison with its top. Logits rising with the id would
 * enter the heap one after another: past n/16 entries it loads the whole
 * vector and selects instead (quickselect, sortTop).
 */
export function loadTopK(c: Candidates, logits: Float32Array, k: number): Candidates {
  const n = logits.length;
  k = Math.max(1, Math.min(k, n));
  if (c.ids.length < k) {
    c.ids = new Int32Array(k);
    c.logits = new Float32Array(k);
    c.probs = new Float32Array(k);
  }
  if (!heapTopK(logits, c.ids, c.logits, k, Math.max(256, n >> 4))) {
    loadLogits(c, logits);
    sortTop(c, k);
  }
  c.size = k;
  c.sorted = true;
  c.byId = n === 1;
  return c;
}

/**
 * The best k of logits into ids/ls in sampling order; false (ids/ls spoilt)
 * after `budget` entries into the heap. The loops after the scan are
 * functions of their own: V8 optimises the scan while its first call is in
 * it (on-stack replacement), when the code after it has never run, and code
 * compiled without type feedback deoptimised on every call.
 */
function heapTopK(logits: Float32Array, ids: Int32Array, ls: Float32Array, k: number, budget: number): boolean {
  const n = logits.length;
  for (let i = 0; i < k; i++) {
    const v = logits[i]!;
    ids[i] = i;
    ls[i] = v === v ? v : -Infinity;
  }
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(ids, ls, i, k);
  let floor = ls[0]!;
  for (let i = k; i < n; i++) {
    const v = logits[i]!;
    // a later id ties worse, so only a strictly greater logit enters (NaN never does)
    if (v > floor) {
      if (--budget < 0) return false;
      ids[0] = i;
      ls[0] = v;
      siftDown(ids, ls, 0, k);
      floor = ls[0]!;
    }
  }
  heapSort(ids, ls, k);
  return true;
}

/** Pops the worst of a heap of k to the back until the slots are in sampling order. */
function heapSort(ids: Int32Array, ls: Float32Array, k: number): void {
  for (let size = k - 1; size > 0; size--) {
    const id = ids[0]!, v = ls[0]!;
    ids[0] = ids[size]!;
    ls[0] = ls[size]!;
    ids[size] = id;
    ls[size] = v;
    siftDown(ids, ls, 0, size);
  }
}

/** Candidates built from a plain list of logits (slot i = token i); for tests and tools. */
export function candidatesFrom(logits: ArrayLike<number>): Candidates {
  return loadLogits(createCandidates(logits.length), logits);
}

/** Index of the best candidate: highest logit, ties to the lowest id (-1 when empty). */
export function argmaxSlot(c: Candidates): number {
  if (c.size === 0) return -1;
  if (c.sorted) return 0;
  const ids = c.ids;
  const logits = c.logits;
  let best = 0;
  let bestL = logits[0]!;
  for (let i = 1; i < c.size; i++) {
    const l = logits[i]!;
    if (l > bestL || (l === bestL && ids[i]! < ids[best]!)) {
      best = i;
      bestL = l;
    }
  }
  return best;
}

/**
 * Writes normalised probabilities for the first `size` candidates. Subtracting the
 * max keeps exp() finite; the sum is a double because 256K small float32 terms
 * would lose the tail.
 */
export function softmax(c: Candidates): void {
  const n = c.size;
  if (n === 0) return;
  const logits = c.logits;
  const probs = c.probs;
  let max = logits[0]!;
  if (!c.sorted) for (let i = 1; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  if (max === -Infinity) {
    // Every candidate is masked out: no preference left, so spread evenly rather than NaN.
    const u = 1 / n;
    for (let i = 0; i < n; i++) probs[i] = u;
    return;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(logits[i]! - max);
    probs[i] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let i = 0; i < n; i++) probs[i] = probs[i]! * inv;
}
