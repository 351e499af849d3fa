// The one place the server's scheduler evaluates tokens. Each step it passes
// every busy slot's tokens for this step (a chunk of prompt, or the token it
// just sampled) and gets back each slot's last-token logits.
//
// Today a batch holds one sequence's tokens, so this runs one graph per slot,
// one after another, through Sequence.append. When the engine evaluates
// several sequences in one graph run (continuous batching), this function is
// the only thing to change: run all of `work` as one batch of the context
// (SlotWork has the shape of a batch item: a sequence and its tokens) and
// hand back each slot's last-token logits in the same order. The scheduler
// (scheduler.ts) keeps a step's tokens within the context's batchSize, as
// llama-server fills n_batch: one token per generating slot, then prompt
// chunks in the room left, so a step is one graph run.
import type { Context } from '../context.js';
import type { Sequence } from '../sequence.js';

export interface SlotWork {
  /** The slot's sequence; the tokens go after what it holds. */
  sequence: Sequence;
  tokens: readonly number[];
}

/** Evaluates every slot's tokens; returns each slot's last-token logits ([n_vocab], its own copy), in order. */
export function evaluateStep(context: Context, work: readonly SlotWork[]): Float32Array[] {
  void context; // the batch step runs on the context; one sequence at a time needs only the sequences
  return work.map((w) => w.sequence.append(w.tokens));
}
