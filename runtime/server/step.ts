// The one place the server's scheduler evaluates tokens. Each step it passes
// every busy slot's tokens for this step (a chunk of prompt, or the token it
// just sampled) and gets back each slot's last-token logits.
//
// Today a batch holds one sequence's tokens, so this runs one graph per slot,
// one after another, through Sequence.append. When the engine evaluates
// several sequences in one graph run (continuous batching), this function is
// the only thing to change: build one batch from all of `work` (each token
// with its sequence's slot and position), run it once, and hand back the rows
// of logits in the same order. The scheduler (scheduler.ts) already keeps a
// slot's prompt chunk at most batchSize tokens, so a step's total is at most
// slots * batchSize.
import type { Sequence } from '../sequence.js';

export interface SlotWork {
  /** The slot's sequence; the tokens go after what it holds. */
  sequence: Sequence;
  tokens: readonly number[];
}

/** Evaluates every slot's tokens; returns each slot's last-token logits ([n_vocab], its own copy), in order. */
export function evaluateStep(work: readonly SlotWork[]): Float32Array[] {
  return work.map((w) => w.sequence.append(w.tokens));
}
