// The samplers of llama.cpp's default chain, each narrowing or reshaping the
// candidates in place: penalties -> top_k -> top_p -> min_p -> temp -> dist.
// Semantics follow src/llama-sampling.cpp; the differences are deliberate and
// small: ties are ordered by id (llama.cpp leaves them to std::partial_sort) and
// softmax / cumulative sums run in double precision.
//
// Parameters are rounded to float32 (Math.fround) because llama.cpp holds them
// as C floats: 0.95 is really 0.949999988 there, and a penalty of 1.1 divides by
// 1.10000002. With that, penalties and temperature give bit-identical logits
// (float ops done in double then stored to float32 round the same way).

import { argmaxSlot, softmax, type Candidates } from './candidates.js';
import { cutNucleus } from './nucleus.js';
import { sortTop } from './order.js';

// Map.forEach needs a callback; a module-level one reading these slots avoids
// creating a closure per token (the sampler promises no per-token allocation).
const NO_LOGITS: Float32Array = new Float32Array(0);
let penLogits: Float32Array = NO_LOGITS;
let penSize = 0;
let penRepeat = 1;
let penFreq = 0;
let penPresent = 0;
function penaliseById(count: number, token: number): void {
  if (token >= 0 && token < penSize) penLogits[token] = penalised(penLogits[token]!, count);
}
function penalised(l: number, count: number): number {
  // Dividing a negative logit would raise it; multiplying pushes it down instead,
  // so a repeat penalty > 1 always makes the token less likely.
  l = Math.fround(l <= 0 ? l * penRepeat : l / penRepeat);
  return l - Math.fround(Math.fround(count * penFreq) + penPresent);
}

/**
 * Repetition penalties over recent tokens: each token with count > 0 in
 * `counts` has its logit divided by penalty_repeat (multiplied when <= 0), then
 * count * penalty_freq + penalty_present subtracted. A no-op when all three are
 * neutral (1, 0, 0).
 */
export function applyPenalties(
  c: Candidates,
  counts: ReadonlyMap<number, number>,
  penalty_repeat: number,
  penalty_freq: number,
  penalty_present: number,
): void {
  if (counts.size === 0 || (penalty_repeat === 1 && penalty_freq === 0 && penalty_present === 0)) return;
  penRepeat = Math.fround(penalty_repeat);
  penFreq = Math.fround(penalty_freq);
  penPresent = Math.fround(penalty_present);
  if (c.byId) {
    // Slot i is token i: touch only the penalised tokens, not the whole vocab.
    penLogits = c.logits;
    penSize = c.size;
    counts.forEach(penaliseById);
    penLogits = NO_LOGITS; // don't keep a 1 MB vocab alive through a module variable
  } else {
    const ids = c.ids;
    const logits = c.logits;
    for (let i = 0; i < c.size; i++) {
      const count = counts.get(ids[i]!);
      if (count !== undefined && count > 0) logits[i] = penalised(logits[i]!, count);
    }
  }
  c.sorted = false;
}

/** Keeps the k best candidates, sorted. k <= 0 disables it (llama.cpp: "use vocab size"). */
export function applyTopK(c: Candidates, k: number): void {
  if (k <= 0 || c.size === 0) return;
  k = Math.min(k, c.size);
  sortTop(c, k);
  if (k < c.size) {
    c.size = k;
    c.byId = false;
  }
  c.sorted = true;
}

// How many candidates top-p orders first when they arrive unsorted (llama.cpp's
// figure too): peaked distributions reach p well within it.
const TOP_P_FIRST = 256;

/**
 * Nucleus sampling: keeps the smallest prefix of the sorted candidates whose
 * probability (softmax over the current candidates) reaches p, and at least
 * min_keep of them. p >= 1 disables it.
 */
export function applyTopP(c: Candidates, p: number, min_keep = 1): void {
  const n = c.size;
  p = Math.fround(p);
  if (p >= 1 || n === 0) return;
  const logits = c.logits;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  if (max === -Infinity) return; // nothing left to prefer; leave the set alone
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[i]! - max);
  const inv = 1 / sum;

  if (!c.sorted) {
    const first = Math.min(n, TOP_P_FIRST);
    sortTop(c, first);
    if (cutPrefix(c, first, p, min_keep, max, inv)) return;
    // A flat distribution: find the crossing without ordering the whole vocab.
    if (cutNucleus(c, p, min_keep, max, inv)) return;
    sortTop(c, n);
  }
  // Not reaching p (rounding) keeps everything; the set is fully ordered either way.
  cutPrefix(c, n, p, min_keep, max, inv);
  c.sorted = true;
}

/** Walks the first `upto` (ordered) candidates; cuts and returns true once p is reached. */
function cutPrefix(c: Candidates, upto: number, p: number, min_keep: number, max: number, inv: number): boolean {
  const logits = c.logits;
  let cum = 0;
  for (let i = 0; i < upto; i++) {
    cum += Math.exp(logits[i]! - max) * inv;
    if (cum >= p && i + 1 >= min_keep) {
      if (i + 1 < c.size) {
        c.size = i + 1;
        c.byId = false;
      }
      c.sorted = true;
      return true;
    }
  }
  return false;
}

/**
 * Keeps candidates whose probability is at least p times the best one's, i.e.
 * logit >= max_logit + ln(p) (no softmax needed), and at least min_keep of them.
 * p <= 0 disables it.
 */
export function applyMinP(c: Candidates, p: number, min_keep = 1): void {
  const n = c.size;
  if (p <= 0 || n === 0) return;
  const logits = c.logits;
  const ids = c.ids;
  // As llama.cpp: a float threshold, max + logf(p).
  const logP = Math.fround(Math.log(Math.fround(p)));
  if (c.sorted) {
    const threshold = Math.fround(logits[0]! + logP);
    let i = 1;
    while (i < n && (logits[i]! >= threshold || i < min_keep)) i++;
    if (i < n) c.byId = false;
    c.size = i;
    return;
  }
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  const threshold = Math.fround(max + logP);
  let kept = 0;
  for (let i = 0; i < n; i++) if (logits[i]! >= threshold) kept++;
  if (kept === n) return;
  if (kept > 0 && kept >= min_keep) {
    // Compact in place, keeping the current order (no sort needed).
    let j = 0;
    for (let i = 0; i < n; i++) {
      const l = logits[i]!;
      if (l >= threshold) {
        ids[j] = ids[i]!;
        logits[j] = l;
        j++;
      }
    }
    c.size = j;
  } else {
    // Too few pass: the best min_keep survive regardless.
    const k = Math.min(n, Math.max(1, min_keep));
    sortTop(c, k);
    c.size = k;
    c.sorted = true;
  }
  c.byId = false;
}

/**
 * Temperature: divides logits by temp. temp <= 0 means greedy: only the best
 * candidate (ties to the lowest id) survives, as llama.cpp's temp sampler does.
 */
export function applyTemp(c: Candidates, temp: number): void {
  if (c.size === 0) return;
  if (temp <= 0) {
    const best = argmaxSlot(c);
    const id = c.ids[best]!;
    const l = c.logits[best]!;
    c.ids[0] = id;
    c.logits[0] = l;
    if (c.size > 1) c.byId = id === 0;
    c.size = 1;
    c.sorted = true;
    return;
  }
  if (temp === 1) return;
  const t = Math.fround(temp);
  const logits = c.logits;
  for (let i = 0; i < c.size; i++) logits[i] = logits[i]! / t;
}

/**
 * The final draw (llama.cpp's "dist"): softmax over what is left, then the first
 * candidate whose cumulative probability exceeds u, for u uniform in [0, 1).
 * Returns the slot, not the token id. "Exceeds" (not "reaches") means a
 * zero-probability candidate is never picked, even when u is exactly 0.
 */
export function sampleSlot(c: Candidates, u: number): number {
  const n = c.size;
  if (n <= 1) return n - 1;
  softmax(c);
  const probs = c.probs;
  let cum = 0;
  let lastPositive = 0;
  for (let i = 0; i < n; i++) {
    const pi = probs[i]!;
    if (pi > 0) {
      cum += pi;
      lastPositive = i;
      if (cum > u) return i;
    }
  }
  // Rounding left the total just under u: the mass belongs to the last real candidate.
  return lastPositive;
}
