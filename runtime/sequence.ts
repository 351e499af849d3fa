// A sequence: one stream of tokens in a context's KV cache, as llama.cpp's
// seq_id and node-llama-cpp's LlamaContextSequence. A context holds several;
// each has its own cells (its block of the cache, see LayerCache) and its own
// token list, so sequences never see each other. They share the context's
// threads and plans: one at a time (append, evaluate), or several in one
// graph run (context.evaluateBatch, runtime/batch.ts), where the weights are
// read once for all of them.
//
// The sequence remembers which token ids its cells hold, so evaluating a
// whole token list reuses the longest prefix already there: a chat that
// re-renders its conversation, or a server slot given a prompt that shares a
// system prompt with the last one, evaluates only what differs.
//
// Recurrent layers (Mamba-2, gated delta net, short convolutions) keep their
// state per sequence the same way: a [state, n_seq] tensor whose block each
// batch row picks by its sequence slot (the kv rows input). Unlike KV cells,
// such a state holds no positions and cannot be cut back to an earlier
// token: llama.cpp refuses to remove a recurrent sequence's tail (its seq_rm
// fails unless the context was created with n_rs_seq snapshots for
// speculative decoding, 0 by default), and node-llama-cpp and llama-server
// then restore a checkpoint of the whole state taken earlier, or evaluate the
// sequence again from the start. Here, with a recurrent state, the sequence
// keeps one checkpoint: the state at the end of its last append of several
// tokens (a prompt; generation appends one token at a time). A prefix is
// reused when it is everything the sequence holds, else up to the checkpoint
// when the checkpoint lies within it, else not at all; truncate(n) goes back
// to the checkpoint (or the start) and evaluates up to n again.
import { type BatchPart } from './batch.js';
import { generateTokens, type GenerateOptions } from './generate.js';
import { decodeState, encodeState, readStateFile, writeStateFile, type StateIdentity } from './state.js';
import type { Tokenizer } from './tokenizer/index.js';

export interface EvaluateOptions {
  /** Return the logits of every evaluated position, not only the last. Default false. */
  allLogits?: boolean;
}

export interface AppendAsyncOptions {
  /** Checked before every ubatch; once aborted, no further ubatch runs and appendAsync resolves undefined. */
  signal?: AbortSignal;
  /** The time a ubatch should take, so an abort lands within about that. Default 50 ms. */
  ubatchMs?: number;
}

/** Ubatches start this small (or batchSize when smaller) until the first one's time shows what the model costs. */
const MIN_UBATCH = 16;

const yieldToEventLoop: () => Promise<void> = typeof setImmediate === 'function'
  ? () => new Promise((r) => setImmediate(r))
  : () => new Promise((r) => setTimeout(r, 0));

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
  /** Evaluates parts of one or several sequences (runtime/batch.ts evaluateParts); each part's logits. */
  evaluate(parts: readonly BatchPart[]): Float32Array[];
  release(slot: number): void;
  /** What a saved state must match to load here (model, context size, cache shape). */
  stateIdentity(): StateIdentity;
  /** The slot's first n KV cells, or writes them (runtime/state.ts's order). */
  readCells(slot: number, n: number): Uint8Array;
  writeCells(slot: number, n: number, cells: Uint8Array): void;
  /** A copy of the recurrent state of the sequence in `slot` (recurrent models; empty otherwise). */
  readRecurrent(slot: number): Uint8Array;
  /** Puts back a copy readRecurrent made of the same slot's state. */
  writeRecurrent(slot: number, state: Uint8Array): void;
}

export class Sequence {
  /** The token ids the sequence's cells hold, in position order. */
  private held: number[] = [];
  private disposed = false;
  /** appendAsync's ubatch size, kept between calls so a steady size (one plan shape) settles. */
  private ubatch = 0;
  /** Recurrent models: the state after the first `pos` held tokens. */
  private checkpoint: { pos: number; state: Uint8Array } | undefined;

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
        this.host.writeRecurrent(this.slot, cp.state);
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
    return this.host.evaluate([this.part(tokens, options)])[0]!;
  }

  /**
   * @internal This sequence's part of a batch step (context.evaluateBatch):
   * checks that `tokens` can follow what the sequence holds; the cells are
   * recorded as each graph run evaluates them.
   */
  part(tokens: ArrayLike<number>, options: EvaluateOptions = {}): BatchPart {
    this.check();
    const n = tokens.length;
    if (n === 0) throw new RangeError('evaluate: no tokens');
    const { contextSize, nVocab } = this.host;
    if (this.held.length + n > contextSize) {
      throw new RangeError(`evaluate: ${n} tokens after ${this.held.length} exceed the context size ${contextSize}`);
    }
    for (let i = 0; i < n; i++) {
      const id = tokens[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= nVocab) throw new RangeError(`evaluate: token id ${id} (at ${i}) is outside the vocabulary (0..${nVocab - 1})`);
    }
    const held = this.held;
    const end = held.length + n;
    return {
      slot: this.slot, tokens, firstPos: held.length, allLogits: options.allLogits ?? false,
      evaluated: (ids) => {
        for (const id of ids) held.push(id);
        // the state after a prompt (the part's last run): what prefix reuse and truncate go back to
        if (this.host.recurrent && n > 1 && held === this.held && held.length === end) {
          this.checkpoint = { pos: end, state: this.host.readRecurrent(this.slot) };
        }
      },
    };
  }

  /**
   * append() for a caller that must stay interruptible: the tokens go in
   * ubatches of about `ubatchMs` each (sized from the last ubatch's time, in
   * powers of two from 16 up to batchSize, so few plan shapes appear), with
   * the event loop free in between, where an abort lands. Resolves the last
   * token's logits, or undefined when the signal was aborted: the cache then
   * holds the ubatches that ran (the caller truncates or re-evaluates as it
   * needs). A batch gives the bits of token by token, so the split changes
   * no number.
   */
  async appendAsync(tokens: readonly number[], options: AppendAsyncOptions = {}): Promise<Float32Array | undefined> {
    const { signal } = options;
    if (signal?.aborted) return undefined;
    this.part(tokens); // the whole list is checked before anything runs
    const target = options.ubatchMs ?? 50;
    const { batchSize } = this.host;
    const floor = Math.min(MIN_UBATCH, batchSize);
    if (this.ubatch < floor || this.ubatch > batchSize) this.ubatch = floor;
    let logits: Float32Array | undefined;
    for (let i0 = 0; i0 < tokens.length;) {
      // the caller's own work (an abort message, a key press) runs here
      await yieldToEventLoop();
      if (signal?.aborted) return undefined;
      const nb = Math.min(this.ubatch, tokens.length - i0);
      const t0 = performance.now();
      logits = this.host.evaluate([this.part(tokens.slice(i0, i0 + nb))])[0]!;
      const ms = performance.now() - t0;
      i0 += nb;
      // only a full ubatch says what its size costs
      if (nb === this.ubatch) {
        if (ms < target / 2 && this.ubatch * 2 <= batchSize) this.ubatch *= 2;
        else if (ms > target && this.ubatch / 2 >= floor) this.ubatch /= 2;
      }
    }
    return logits;
  }

  /** The ubatch size appendAsync will start its next call with (0 before the first). */
  get ubatchSize(): number {
    return this.ubatch;
  }

  /**
   * Keeps the first n tokens' cells and forgets the rest. With recurrent
   * layers, whose state cannot be cut back, the first n tokens are evaluated
   * again from the checkpoint or the start (n > 0).
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
      if (from > 0) this.host.writeRecurrent(this.slot, cp!.state);
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

  /**
   * The sequence's tokens and KV cells (and recurrent state) as bytes (runtime/state.ts): restoring
   * them in another process, on the same model and context size, continues
   * with the bits of never having stopped.
   */
  stateBytes(): Uint8Array {
    this.check();
    return encodeState(this.host.stateIdentity(), this.held, this.host.readCells(this.slot, this.held.length), this.host.readRecurrent(this.slot));
  }

  /** Replaces what the sequence holds with a saved state; a StateError when it was saved for another model or context size. */
  restoreState(bytes: Uint8Array, file?: string): void {
    this.check();
    const { tokens, cells, recurrent } = decodeState(bytes, this.host.stateIdentity(), file);
    for (const id of tokens) {
      if (id < 0 || id >= this.host.nVocab) throw new RangeError(`restoreState: token id ${id} is outside the vocabulary`);
    }
    this.host.writeCells(this.slot, tokens.length, cells);
    this.host.writeRecurrent(this.slot, recurrent);
    this.held = [...tokens];
    // the checkpoint was of what the sequence held before
    this.checkpoint = undefined;
  }

  /** Writes stateBytes() to a file (Node), atomically: a temporary file renamed into place. */
  async saveState(file: string): Promise<void> {
    await writeStateFile(file, this.stateBytes());
  }

  /** Reads a file written by saveState (Node); see restoreState. */
  async loadState(file: string): Promise<void> {
    this.restoreState(await readStateFile(file), file);
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
