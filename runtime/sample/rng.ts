// The sampler's random source. llama.cpp uses std::mt19937; matching its exact
// stream would only matter if every other float op matched too, which it cannot
// across exp() implementations, so this picks for speed and quality instead:
//
// xoshiro128** (Blackman & Vigna, 2018): 128-bit state, period 2^128 - 1, passes
// BigCrush, and needs only 32-bit integer ops, which JavaScript does natively
// (Math.imul, >>>) - no BigInt, no allocation per draw. A 32-bit seed is spread
// over the 128-bit state by a Weyl sequence through the murmur3 finaliser, so
// nearby seeds (1, 2, 3...) give unrelated streams.

/** llama.cpp's LLAMA_DEFAULT_SEED: asks for a fresh random seed. */
export const LLAMA_DEFAULT_SEED = 0xffffffff;

/** Seeded uniform generator; the same seed always gives the same sequence. */
export class Xoshiro128 {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(seed: number) {
    this.seed(seed);
  }

  /** Restarts the sequence from a 32-bit seed. */
  seed(seed: number): void {
    let w = seed >>> 0;
    const next = (): number => {
      w = (w + 0x9e3779b9) >>> 0;
      let z = w;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    // The all-zero state is the generator's one fixed point.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next 32 random bits as an unsigned integer. */
  nextU32(): number {
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits (two draws), like a C++ uniform_real. */
  nextDouble(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

/**
 * The seed a generator actually starts from: `seed` itself, or a fresh random
 * 32-bit value when it is undefined or LLAMA_DEFAULT_SEED (llama.cpp's rule).
 * Fresh seeds come from crypto.getRandomValues when present (Node >= 19 and
 * browsers) so two samplers created in the same millisecond still differ.
 */
export function resolveSeed(seed: number | undefined): number {
  if (seed !== undefined && seed !== LLAMA_DEFAULT_SEED) return seed >>> 0;
  const cryptoApi = (globalThis as { crypto?: { getRandomValues?(a: Uint32Array): Uint32Array } }).crypto;
  if (cryptoApi?.getRandomValues) {
    const buf = new Uint32Array(1);
    cryptoApi.getRandomValues(buf);
    return buf[0]!;
  }
  return (Math.random() * 4294967296) >>> 0;
}
