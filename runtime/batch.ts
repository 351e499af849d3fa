// Batches of rows from several sequences: continuous batching's engine step.
//
// A graph run evaluates rows; each row is one token of one sequence, at its
// position, in its sequence's block of the KV cache. What ties a row to its
// sequence is data the plan reads at run time (token id, position, and the
// kv rows input: sequence slot and cells in use), so one plan per batch
// shape (rows, logit rows) serves any mix of sequences, and the weight
// matmuls read the weights once for all of them: decoding four sequences is
// one four-row matmul. A sequence evaluating alone is a batch of one part.
//
// Every kernel computes a row from that row alone (attention from the row's
// q and its own sequence's cells; a recurrent layer from the row and its own
// sequence's state, updated row by row: each part's rows are consecutive and
// in order, which the packing below keeps), so a sequence's logits are the
// same bits whether it ran alone or beside others (test/batch.test.ts).

/** One sequence's tokens in a batch step. */
export interface BatchPart {
  /** The sequence's slot (its block of the cache). */
  readonly slot: number;
  readonly tokens: ArrayLike<number>;
  /** Cells the sequence holds before these tokens (the first token's position). */
  readonly firstPos: number;
  /** Logits of every token of the part; else only of its last. */
  readonly allLogits: boolean;
  /** Called after each graph run with the part's tokens it evaluated (the sequence records them). */
  evaluated(tokens: number[]): void;
}

/** One graph run's rows, written into the context's input buffers before it runs. */
export interface BatchRows {
  readonly tokens: Int32Array;
  readonly positions: Int32Array;
  /** [2, rows]: sequence slot, cells that sequence has in use after this run. */
  readonly kvRows: Int32Array;
  /** Rows whose logits are returned, in order (at least one). */
  readonly outIds: Int32Array;
}

/**
 * Evaluates parts in graph runs of at most batchSize rows, packed in the
 * parts' order (a part longer than what is left of a run continues in the
 * next), and returns each part's logits: [n_vocab] for its last token, or
 * [n_tokens * n_vocab] with allLogits. `run` runs one graph and returns the
 * logits of its outIds rows ([outIds.length * n_vocab], read before the next run).
 */
export function evaluateParts(
  parts: readonly BatchPart[], batchSize: number, nVocab: number, run: (rows: BatchRows) => Float32Array,
): Float32Array[] {
  // a part's last-token logits are copied out of its run's row when it comes (no zeroed buffer first)
  const out = parts.map((p) => (p.allLogits ? new Float32Array(p.tokens.length * nVocab) : undefined));
  const done = parts.map(() => 0);
  let next = 0; // the first part with tokens left
  while (next < parts.length) {
    // this run's rows: parts in order from `next` until batchSize rows
    const taken: { part: number; from: number; n: number }[] = [];
    let nRows = 0;
    for (let i = next; i < parts.length && nRows < batchSize; i++) {
      const n = Math.min(parts[i]!.tokens.length - done[i]!, batchSize - nRows);
      if (n > 0) taken.push({ part: i, from: done[i]!, n });
      nRows += n;
    }
    const rows: BatchRows = {
      tokens: new Int32Array(nRows), positions: new Int32Array(nRows), kvRows: new Int32Array(2 * nRows), outIds: new Int32Array(0),
    };
    const outIds: number[] = [];
    // where each logits row goes: [part, token index within the part]
    const dest: [number, number][] = [];
    let r = 0;
    for (const { part, from, n } of taken) {
      const p = parts[part]!;
      const last = from + n === p.tokens.length;
      for (let j = 0; j < n; j++, r++) {
        rows.tokens[r] = p.tokens[from + j]!;
        rows.positions[r] = p.firstPos + from + j;
        rows.kvRows[2 * r] = p.slot;
        rows.kvRows[2 * r + 1] = p.firstPos + from + n;
        if (p.allLogits || (last && j === n - 1)) {
          outIds.push(r);
          dest.push([part, from + j]);
        }
      }
    }
    // a run in the middle of a long prompt needs no logits; one row keeps the graph's shape simple
    const ids = outIds.length > 0 ? outIds : [nRows - 1];
    const logits = run({ ...rows, outIds: Int32Array.from(ids) });
    dest.forEach(([part, t], k) => {
      const row = logits.subarray(k * nVocab, (k + 1) * nVocab);
      if (parts[part]!.allLogits) out[part]!.set(row, t * nVocab);
      else out[part] = new Float32Array(row);
    });
    for (const { part, from, n } of taken) {
      done[part] = from + n;
      parts[part]!.evaluated(Array.prototype.slice.call(parts[part]!.tokens, from, from + n) as number[]);
    }
    while (next < parts.length && done[next] === parts[next]!.tokens.length) next++;
  }
  return out.map((o) => o ?? new Float32Array(nVocab));
}
