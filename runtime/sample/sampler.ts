// A stateful sampler: llama.cpp's default chain with its default settings
// (common_params_sampling), turning one logits vector into one token id.
//
// Chain, as common/sampling.cpp builds it: penalties -> dry -> top_n_sigma ->
// top_k -> typical_p -> top_p -> min_p -> xtc -> temp -> dist. DRY, top-n-sigma,
// typical-p and XTC are off by default there and are not implemented here, so
// the effective chain is penalties -> top_k -> top_p -> min_p -> temp -> dist.
// Temperature comes last, so top_p and min_p judge the untempered distribution.

import { argmaxLogits, argmaxSlot, createCandidates, loadLogits, loadTopK, type Candidates } from './candidates.js';
import type { TokenConstraint } from './grammar.js';
import { applyMinP, applyPenalties, applyTemp, applyTopK, applyTopP, sampleSlot } from './filters.js';
import { TokenWindow } from './history.js';
import { sortTop } from './order.js';
import { LLAMA_DEFAULT_SEED, resolveSeed, Xoshiro128 } from './rng.js';

/** Sampling settings; names and defaults are llama.cpp's. */
export interface SamplerOptions {
  /** Temperature; <= 0 samples greedily (argmax, ties to the lowest id). Default 0.8. */
  temp?: number;
  /** Keep the k most likely tokens; <= 0 disables. Default 40. */
  top_k?: number;
  /** Nucleus: keep the smallest set reaching this probability mass; >= 1 disables. Default 0.95. */
  top_p?: number;
  /** Drop tokens less likely than min_p times the most likely one; <= 0 disables. Default 0.05. */
  min_p?: number;
  /**
   * Fewest tokens top_p and min_p may leave. Default 1; llama.cpp's default of 0
   * behaves identically because both samplers always keep the best token.
   */
  min_keep?: number;
  /** How many recent accepted tokens the penalties see; 0 disables them. Default 64. */
  penalty_last_n?: number;
  /** Repeat penalty: divides positive logits, multiplies negative ones; 1 disables. Default 1. */
  penalty_repeat?: number;
  /** Subtracted once per occurrence in the window; 0 disables. Default 0. */
  penalty_freq?: number;
  /** Subtracted once for any occurrence in the window; 0 disables. Default 0. */
  penalty_present?: number;
  /** 32-bit seed; undefined or 0xFFFFFFFF (LLAMA_DEFAULT_SEED) picks a random one. */
  seed?: number;
}

export const SAMPLER_DEFAULTS: Readonly<Required<SamplerOptions>> = Object.freeze({
  temp: 0.8,
  top_k: 40,
  top_p: 0.95,
  min_p: 0.05,
  min_keep: 1,
  penalty_last_n: 64,
  penalty_repeat: 1.0,
  penalty_freq: 0.0,
  penalty_present: 0.0,
  seed: LLAMA_DEFAULT_SEED,
});

export interface Sampler {
  /** The settings in force, defaults filled in (seed as given, see `seed`). */
  readonly options: Readonly<Required<SamplerOptions>>;
  /** The seed the generator actually started from (the random pick, when random). */
  readonly seed: number;
  /**
   * Picks the next token from a logits vector (one float per vocabulary entry).
   * Does not record it: call accept() with the token you keep, as with
   * llama.cpp's common_sampler_sample / common_sampler_accept.
   *
   * With a constraint (a grammar), the token is drawn as without it and kept
   * if the constraint allows it; otherwise the refused tokens are masked and
   * the chain runs again, as llama.cpp's common_sampler does. Returns -1 when
   * the constraint allows no token at all.
   */
  sample(logits: Float32Array, constraint?: TokenConstraint): number;
  /** Records a token in the penalty window (prompt tokens too, if they should count). */
  accept(token: number): void;
  /** Forgets accepted tokens and restarts the random sequence (a new one when the seed is random). */
  reset(): void;
}

function checkNumber(name: string, v: number): void {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new RangeError(`${name} must be a number, got ${v}`);
}

function checkInteger(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
}

function resolveOptions(options: SamplerOptions): Required<SamplerOptions> {
  const o: Required<SamplerOptions> = { ...SAMPLER_DEFAULTS };
  for (const key of Object.keys(SAMPLER_DEFAULTS) as (keyof SamplerOptions)[]) {
    const v = options[key];
    if (v !== undefined) o[key] = v;
  }
  for (const key of ['temp', 'top_p', 'min_p', 'penalty_repeat', 'penalty_freq', 'penalty_present'] as const) {
    checkNumber(key, o[key]);
  }
  if (!Number.isInteger(o.top_k)) throw new RangeError(`top_k must be an integer, got ${o.top_k}`);
  checkInteger('min_keep', o.min_keep, 0);
  if (o.penalty_last_n === -1) {
    // llama.cpp reads -1 as "the context size", which only the caller knows.
    throw new RangeError('penalty_last_n = -1 means "the context size": pass that size (n_ctx) itself');
  }
  checkInteger('penalty_last_n', o.penalty_last_n, 0);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) {
    throw new RangeError(`seed must be a 32-bit unsigned integer, got ${o.seed}`);
  }
  return o;
}

/** How many of the best candidates a constrained draw checks one by one before masking the vocabulary. */
const CONSTRAINED_FIRST = 256;

/** Up to this top_k, an unconstrained draw without penalties loads only the best top_k (loadTopK). */
const TOP_K_LOAD = 1024;

class ChainSampler implements Sampler {
  readonly options: Readonly<Required<SamplerOptions>>;
  private readonly rng: Xoshiro128;
  private readonly window: TokenWindow;
  // Reused across calls: after the first token, sampling allocates nothing.
  private readonly cand: Candidates = createCandidates();
  private seedInUse: number;
  private readonly allowedSlots = new Int32Array(CONSTRAINED_FIRST);

  constructor(options: Required<SamplerOptions>) {
    this.options = Object.freeze(options);
    this.window = new TokenWindow(options.penalty_last_n);
    this.seedInUse = resolveSeed(options.seed);
    this.rng = new Xoshiro128(this.seedInUse);
  }

  get seed(): number {
    return this.seedInUse;
  }

  sample(logits: Float32Array, constraint?: TokenConstraint): number {
    if (logits.length === 0) throw new RangeError('cannot sample from an empty logits vector');
    const id = this.draw(logits, undefined);
    if (!constraint || constraint.allows(id)) return id;
    return this.draw(logits, constraint);
  }

  private draw(logits: Float32Array, constraint: TokenConstraint | undefined): number {
    const o = this.options;
    // nothing changes a logit before top_k: take the best straight from the vector
    // (per token, a pass over the vocabulary instead of a copy, a selection and a sort)
    const plain = !constraint && (o.penalty_last_n <= 0 || this.window.counts.size === 0
      || (o.penalty_repeat === 1 && o.penalty_freq === 0 && o.penalty_present === 0));
    if (plain && o.temp <= 0) return argmaxLogits(logits);
    if (plain && o.top_k > 0 && o.top_k <= TOP_K_LOAD) return this.finish(loadTopK(this.cand, logits, o.top_k));
    const c = loadLogits(this.cand, logits);
    if (o.penalty_last_n > 0) {
      applyPenalties(c, this.window.counts, o.penalty_repeat, o.penalty_freq, o.penalty_present);
    }
    if (constraint && !this.keepAllowedTop(c, constraint)) {
      c.sorted = false; // masking lowers logits: an order found above no longer holds
      if (constraint.mask(c) === 0) return -1;
    }
    if (o.temp <= 0) {
      // Every filter keeps the best token, so greedy is the argmax after penalties.
      return c.ids[argmaxSlot(c)]!;
    }
    return this.finish(c);
  }

  /** The chain from top_k on. */
  private finish(c: Candidates): number {
    const o = this.options;
    applyTopK(c, o.top_k);
    applyTopP(c, o.top_p, o.min_keep);
    applyMinP(c, o.min_p, o.min_keep);
    applyTemp(c, o.temp);
    // Like llama.cpp's dist, a lone survivor is returned without consuming randomness.
    const slot = c.size > 1 ? sampleSlot(c, this.rng.nextDouble()) : 0;
    return c.ids[slot]!;
  }

  accept(token: number): void {
    this.window.push(token);
  }

  /**
   * The chain after a grammar mask only ever looks at the best top_k allowed
   * tokens (the best one when greedy): when they are among the best
   * CONSTRAINED_FIRST candidates, checking those one by one in order gives
   * the same set as masking the whole vocabulary, for a fraction of the cost.
   * Returns false (candidates reordered, nothing dropped) when it cannot tell.
   */
  private keepAllowedTop(c: Candidates, constraint: TokenConstraint): boolean {
    const o = this.options;
    const k = o.temp <= 0 ? 1 : o.top_k;
    if (k <= 0 || k > CONSTRAINED_FIRST / 2) return false;
    const n = Math.min(CONSTRAINED_FIRST, c.size);
    sortTop(c, n);
    const slots = this.allowedSlots;
    let found = 0;
    for (let i = 0; i < n && found < k; i++) {
      if (c.logits[i] === -Infinity) break;
      if (constraint.allows(c.ids[i]!)) slots[found++] = i;
    }
    if (found < k) return false;
    for (let j = 0; j < found; j++) {
      const i = slots[j]!;
      c.ids[j] = c.ids[i]!;
      c.logits[j] = c.logits[i]!;
    }
    c.size = found;
    c.sorted = true;
    c.byId = false;
    return true;
  }

  reset(): void {
    this.window.clear();
    this.seedInUse = resolveSeed(this.options.seed);
    this.rng.seed(this.seedInUse);
  }
}

/** A sampler with llama.cpp's default chain; every option defaults as in llama.cpp. */
export function createSampler(options: SamplerOptions = {}): Sampler {
  return new ChainSampler(resolveOptions(options));
}
