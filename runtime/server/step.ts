// The one place the server's scheduler evaluates tokens. Each step it passes
// every busy slot's tokens for this step (a chunk of prompt, or the token it
// just sampled) and gets back each slot's last-token logits.
//
// All of them go in one context.evaluateBatch (continuous batching,
// runtime/batch.ts): the rows of every slot share graph runs, so the
// weights are read once per run for all slots, and each slot's logits are
// the bits it would get evaluated alone. The scheduler (scheduler.ts) keeps
// a step's tokens within the context's batchSize, as llama-server fills
// n_batch: one token per generating slot, then prompt chunks in the room
// left, so a step is one graph run.
import type { Context } from '../context.js';
import type { Sequence } from '../sequence.js';

export interface SlotWork {
  /** The slot's sequence; the tokens go after what it holds. */
  sequence: Sequence;
  tokens: readonly number[];
}

/** Evaluates every slot's tokens; returns each slot's last-token logits ([n_vocab], its own copy), in order. */
export function evaluateStep(context: Context, work: readonly SlotWork[]): Float32Array[] {
  return context.evaluateBatch(work);
}
