// The ops an architecture composes. Each op is a list of phases, and each
// phase one call of an exported kernel that does thread ith's share of nth,
// so the same graph runs on one core or many; barriers separate phases.
//
// The op builders live by family in ops/, each family a class extending the
// one before it, and Ops is the last of the chain:
//   core.ts       OpsCore: the graph, the kernels, threads and attention tile;
//                 the phase builder and the argument helpers (at, NULL, contiguous)
//   rows.ts       row-wise ops: embeddings, norms, add/mul, GLUs, unary, concat, views
//   matmul.ts     matmul, its activation conversion, the LoRA and imatrix hooks
//   attention.ts  rope, attention over the KV cache or without one
//   moe.ts        the router, the experts' matmul (and the per-head matmul), combining
//   ssm.ts        recurrent layers: ssm_conv, ssm_scan, the gated delta net
//   altup.ts      gemma 3n's AltUp and activation sparsity
// Why a chain of classes rather than family functions that take a core and a
// class delegating to them: call sites stay `ops.attention(...)`, `this` is
// typed without casts or declaration merging, each op's signature and doc are
// written once (no one-line delegates repeating them), and a family's private
// state and helpers (matmul's converted inputs, rows' binary and unary) stay
// private to it. The order matters only where one family calls another: a
// family may call those before it (matmul adds LoRA's product with rows' add
// and scale). A new op goes into its family's file; a new family extends the
// last class of the chain and Ops extends it in turn.
import { AltUpOps } from './ops/altup.js';

export { MAX_THREADS } from '../options.js';
export { DEFAULT_ATTENTION_TILE } from './ops/core.js';
export { KV_CACHE_TYPES, type AttentionParams, type KvCacheType, type LayerCache, type RopeParams } from './ops/attention.js';
export { type LayerState } from './ops/ssm.js';

/**
 * Graph-building helpers. Shapes follow ggml: an activation of n_tokens rows
 * of n floats is ne = [n, n_tokens].
 */
export class Ops extends AltUpOps {}
