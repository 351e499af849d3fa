// A sequence: one stream of tokens in a context's KV cache, as llama.cpp's
// seq_id and node-llama-cpp's LlamaContextSequence. A context holds several;
// each has its own cells (its block of the cache, see LayerCache) and its own
// token list, so sequences never see each other and run alternately on one
// context's threads and plans.
//
// The sequence remembers which token ids its cells hold, so evaluating a
// whole token list reuses the longest prefix already there: a chat that
// re-renders its conversation, or a server slot given a prompt that shares a
// system prompt with the last one, evaluates only what differs.
//
// Recurrent layers (Mamba-2, gated delta net, short convolutions) keep their
// state per sequence the same way: a [state, n_seq] tensor whose running
// block the graph picks with the 'seq' dynamic value. Unlike KV cells, such a
// state holds no positions and cannot be cut back to an earlier token:
// llama.cpp refuses to remove a recurrent sequence's tail (its seq_rm fails
// unless the context was created with n_rs_seq snapshots for speculative
// decoding, 0 by default), and node-llama-cpp and llama-server then restore a
// checkpoint of the whole state taken earlier, or evaluate the sequence again
// from the start. Here, with a recurrent state, the sequence keeps one
// checkpoint: the state at the end of its last append of several tokens (a
// prompt; generation appends one token at a time). A prefix is reused when it
// is everything the sequence holds, else up to the checkpoint when the
// checkpoint lies within it, else not at all; truncate(n) goes back to the
// checkpoint (or the start) and evaluates up to n again.
import { generateTokens, type GenerateOptions } from './generate.js';
import type { Tokenizer } from './tokenizer/index.js';

export interface EvaluateOptions {
  /** Return the logits of every evaluated position, not only the last. Default false. */
  allLogits?: boolean;
}

export interface SequenceEvaluation {
  /** The last token's logits ([n_vocab]), or every evaluated position's with allLogits. */
  logits: Float32Array;
  /** Leading tokens that were already in the cache and were not evaluated again. */
  reused: number;
}

/** What a sequence needs of its context. */
export interface SequenceHost {
  /** Cells per sequence. */
  readonly contextSize: number;
  /** Tokens per graph run. */
  readonly batchSize: number;
  readonly nVocab: number;
  /** Whether the model has recurrent layers, whose state cannot be cut back. */
  readonly recurrent: boolean;
  readonly tokenizer: Tokenizer;
  /**
   * Runs one batch of at most batchSize tokens at positions firstPos.. for
   * the sequence in `slot`; returns a view of the last nOutputs rows of logits.
   */
  runBatch(slot: number, tokens: ArrayLike<number>, firstPos: number, nOutputs: number): Float32Array;
  /** A copy of the recurrent state of the sequence in `slot` (recurrent models). */
  saveState(slot: number): unknown;
  /** Puts back a state saveState copied from the same slot. */
  restoreState(slot: number, state: unknown): void;
  release(slot: number): void;
}

export class Sequence {
  /** The token ids the sequence's cells hold, in position order. */
  private held: number[] = [];
  private disposed = false;
  /** Recurrent models: the state after the first `pos` held tokens. */
  private checkpoint: { pos: number; state: unknown } | undefined;

  /** @internal contexts create sequences: context.createSequence(). */
  constructor(private readonly host: SequenceHost, readonly slot: number) {}

  /** Cells this sequence can hold. */
  get contextSize(): number {
    return this.host.contextSize;
  }

  get batchSize(): number {
    return this.host.batchSize;
  }

  /** Tokens in the sequence's cells. */
  get position(): number {
    return this.held.length;
  }

  /** The token ids in the cache, in order (a copy). */
  get tokens(): number[] {
    return [...this.held];
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Brings the cache to exactly `tokens`: keeps the longest common prefix
   * with what it holds, drops the rest, evaluates the remainder in batches.
   * The last token is always evaluated (its logits are the answer), so at
   * most tokens.length - 1 are reused.
   */
  evaluate(tokens: readonly number[], options: EvaluateOptions = {}): SequenceEvaluation {
    if (tokens.length === 0) throw new RangeError('evaluate: no tokens');
    const reused = this.keepPrefix(tokens);
    return { logits: this.append(tokens.slice(reused), options), reused };
  }

  /**
   * Truncates the cache to its longest common prefix with `tokens` (at most
   * tokens.length - 1, so the last token's logits can be had) and returns its
   * length: the first index of `tokens` still to be appended.
   */
  keepPrefix(tokens: readonly number[]): number {
    this.check();
    const max = Math.min(this.held.length, tokens.length - 1);
    let keep = 0;
    while (keep < max && this.held[keep] === tokens[keep]) keep++;
    // a recurrent state is the state after all it holds: usable only if all of it is kept,
    // else from the checkpoint when that lies within the common prefix
    if (this.host.recurrent && keep < this.held.length) {
      const cp = this.checkpoint;
      if (cp && cp.pos > 0 && cp.pos <= keep) {
        this.host.restoreState(this.slot, cp.state);
        this.held.length = cp.pos;
        return cp.pos;
      }
      keep = 0;
    }
    this.truncate(keep);
    return keep;
  }

  /**
   * Evaluates tokens after those the cache holds, in batches of batchSize.
   * Returns the logits of the last token ([n_vocab]), or of every token
   * ([n_tokens * n_vocab]) with allLogits.
   */
  append(tokens: ArrayLike<number>, options: EvaluateOptions = {}): Float32Array {
    this.check();
    const n = tokens.length;
    if (n === 0) throw new RangeError('evaluate: no tokens');
    const { contextSize, batchSize, nVocab } = this.host;
    if (this.held.length + n > contextSize) {
      throw new RangeError(`evaluate: ${n} tokens after ${this.held.length} exceed the context size ${contextSize}`);
    }
    for (let i = 0; i < n; i++) {
      const id = tokens[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= nVocab) throw new RangeError(`evaluate: token id ${id} (at ${i}) is outside the vocabulary (0..${nVocab - 1})`);
    }
    const out = new Float32Array(options.allLogits ? n * nVocab : nVocab);
    for (let i0 = 0; i0 < n; i0 += batchSize) {
      const nb = Math.min(batchSize, n - i0);
      const last = i0 + nb === n;
      const nOut = options.allLogits ? nb : last ? 1 : 0;
      const batch = Array.prototype.slice.call(tokens, i0, i0 + nb) as number[];
      const logits = this.host.runBatch(this.slot, batch, this.held.length, Math.max(nOut, 1));
      for (const id of batch) this.held.push(id);
      if (nOut > 0) out.set(logits, options.allLogits ? i0 * nVocab : 0);
    }
    if (this.host.recurrent && n > 1) this.checkpoint = { pos: this.held.length, state: this.host.saveState(this.slot) };
    return out;
  }

  /**
   * Keeps the first n tokens' cells and forgets the rest. With recurrent
   * layers, whose state cannot be cut back, the first n tokens are evaluated
   * again from the start (n > 0).
   */
  truncate(n: number): void {
    this.check();
    if (!Number.isInteger(n) || n < 0 || n > this.held.length) throw new RangeError(`truncate(${n}): the sequence holds ${this.held.length} tokens`);
    if (this.host.recurrent && n < this.held.length) {
      const cp = this.checkpoint;
      if (cp && cp.pos > n) this.checkpoint = undefined;
      if (n === 0) {
        this.held.length = 0;
        return;
      }
      const kept = this.held.slice(0, n);
      const from = cp && cp.pos <= n ? cp.pos : 0;
      if (from > 0) this.host.restoreState(this.slot, cp!.state);
      this.held.length = from;
      if (from < n) this.append(kept.slice(from));
      return;
    }
    this.held.length = n;
  }

  /** Forgets every token. */
  reset(): void {
    this.truncate(0);
  }

  /**
   * Streams a completion of `prompt` (text, or token ids used as they are)
   * appended to what the sequence holds; see generateTokens.
   */
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): AsyncGenerator<string, void, undefined> {
    this.check();
    return generateTokens(this, this.host.tokenizer, prompt, options);
  }

  /** Gives the sequence's cells back to its context. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.held = [];
    this.checkpoint = undefined;
    this.host.release(this.slot);
  }

  private check(): void {
    if (this.disposed) throw new RangeError(`sequence ${this.slot} is disposed`);
  }
}
