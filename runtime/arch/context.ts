// What an architecture file gets to build a graph for one batch: the ops,
// the model's weights by GGUF name, its hyper-parameters, the batch inputs
// and the KV cache and recurrent states.
import type { Tensor } from '../graph/graph.js';
import type { LayerCache, LayerState, Ops } from '../graph/ops.js';
import type { HParams } from '../hparams.js';

export interface BuildContext {
  ops: Ops;
  hp: HParams;
  /** A weight by its GGUF name ("blk.3.attn_q.weight"); throws ModelError when absent. */
  w(name: string): Tensor;
  /** A weight that may be absent (biases, output.weight when tied). */
  wOpt(name: string): Tensor | undefined;
  /** int32 token ids [n_tokens]. */
  inpTokens: Tensor;
  /** int32 positions [n_tokens]. */
  inpPos: Tensor;
  nTokens: number;
  /** Layer il's KV cache; absent for a layer without attention (a recurrent one). */
  cache: (LayerCache | undefined)[];
  /** Layer il's recurrent state; absent for an attention layer. */
  state: (LayerState | undefined)[];
  /**
   * int32 [2, n_tokens]: each row's sequence slot (its block of the cache
   * and of the recurrent states) and the cells that sequence has in use
   * after this batch. The rows of one batch may belong to several sequences
   * (runtime/batch.ts). Absent for graphs without a KV cache (encoders).
   */
  inpKvRows?: Tensor;
  /** How many rows need logits (1 for generation, n_tokens for scoring, one per sequence in a batch of several). */
  nOutputs: number;
  /** int32 [nOutputs]: the batch rows whose logits the graph returns, in order. Absent for encoders. */
  inpOutIds?: Tensor;
  /**
   * A reranking decoder (Qwen3-Reranker): the output rows go through the
   * classifier head (cls.output, then a softmax) instead of the LM head,
   * giving [n_cls_out, nOutputs] (runtime/rank.ts).
   */
  rank?: boolean;
}

/** An architecture: builds the graph whose output is logits [n_vocab, nOutputs]. */
export type BuildGraph = (c: BuildContext) => Tensor;
