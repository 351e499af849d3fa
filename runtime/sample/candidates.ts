// The working set every sampler reads and narrows: token ids with their logits
// (and, once computed, probabilities), held in parallel typed arrays so that a
// 256K vocabulary costs no per-token objects. Only the first `size` slots count;
// samplers shrink `size` instead of moving data out.

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
