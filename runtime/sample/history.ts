// The recent-token window that repetition penalties look at. Counts are kept up
// to date on every accept (one increment, at most one decrement) so applying the
// penalties costs O(distinct tokens in the window), never a rescan of history.

/** The last `capacity` accepted tokens and how often each occurs among them. */
export class TokenWindow {
  readonly capacity: number;
  /** token id -> occurrences in the window (only tokens with count > 0 are present). */
  readonly counts = new Map<number, number>();
  private readonly ring: Int32Array;
  private start = 0;
  private length = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`token window capacity must be a non-negative integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.ring = new Int32Array(capacity);
  }

  /** Number of tokens currently in the window. */
  get size(): number {
    return this.length;
  }

  /** Records a token, evicting the oldest once the window is full. */
  push(token: number): void {
    const cap = this.capacity;
    if (cap === 0) return;
    const counts = this.counts;
    if (this.length === cap) {
      const old = this.ring[this.start]!;
      const n = counts.get(old)! - 1;
      if (n === 0) counts.delete(old);
      else counts.set(old, n);
      this.ring[this.start] = token;
      this.start = this.start + 1 === cap ? 0 : this.start + 1;
    } else {
      const end = this.start + this.length;
      this.ring[end < cap ? end : end - cap] = token;
      this.length++;
    }
    counts.set(token, (counts.get(token) ?? 0) + 1);
  }

  /** Tokens in the window, oldest first (allocates; for inspection, not the hot path). */
  tokens(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.length; i++) out.push(this.ring[(this.start + i) % this.capacity]!);
    return out;
  }

  clear(): void {
    this.start = 0;
    this.length = 0;
    this.counts.clear();
  }
}

/** Occurrence counts of the last `last_n` tokens of `history` (all of it when last_n < 0). */
export function countRecent(history: ArrayLike<number>, last_n: number): Map<number, number> {
  const counts = new Map<number, number>();
  const from = last_n < 0 ? 0 : Math.max(0, history.length - last_n);
  for (let i = from; i < history.length; i++) {
    const t = history[i]!;
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return counts;
}
