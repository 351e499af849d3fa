// The plumbing every op family builds on (see ../ops.ts for how the families
// make Ops): the graph and kernels ops are added to, the thread count and
// attention tile per-thread scratch is sized for, and the one way a phase is
// made (one call of an exported kernel, refused with a clear error when the
// instance lacks it). The small argument helpers live here so that every
// family uses the same ones.
import { ggmlTypeInfo } from '../../../formats/ggml-types.js';
import { WEIGHT_TYPES, kernelSpec } from '../../../wasm/kernel-table.js';
import type { Kernels } from '../../../wasm/loader.js';
import { UnsupportedError } from '../../errors.js';
import { MAX_THREADS } from '../../options.js';
import type { Arg, Graph, Phase, Tensor } from '../graph.js';

/**
 * KV cells attention streams per tile (kernels/ops-attention.c): a row of at
 * most this many cells is computed exactly as llama.cpp's non-flash path, a
 * longer one merges tiles as flash attention does. 256 cells keep one tile's
 * K and V rows of a 128-wide head (64 KiB each in f16) within L2.
 */
export const DEFAULT_ATTENTION_TILE = 256;

/** A tensor as a kernel argument: its address (plus a byte offset), filled in when planned. */
export const at = (tensor: Tensor, offset = 0): Arg => ({ tensor, offset });
/** Refuses strided views where a kernel reads rows back to back. */
export function contiguous(name: string, ...xs: Tensor[]): void {
  for (const x of xs) if (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4) throw new Error(`${name}: ${x.name} is a strided view`);
}

/** A null pointer argument (an optional tensor left out). */
export const NULL = 0;

export class OpsCore {
  /**
   * nThreads: the threads the graph will run on; ops whose threads each need
   * their own scratch (attention) size it for that many. A runner running
   * the plan on more threads than it was built for would write past it, so
   * GraphRunner builds every graph for its own pool. attentionTile: KV
   * cells attention streams per tile (DEFAULT_ATTENTION_TILE).
   */
  constructor(readonly g: Graph, readonly k: Kernels, readonly nThreads = 1, readonly attentionTile = DEFAULT_ATTENTION_TILE) {
    if (!Number.isInteger(nThreads) || nThreads < 1 || nThreads > MAX_THREADS) throw new RangeError(`threads must be 1..${MAX_THREADS}, got ${nThreads}`);
    if (!Number.isInteger(attentionTile) || attentionTile < 1) throw new RangeError(`attentionTile must be a positive integer, got ${attentionTile}`);
  }

  /**
   * One call of kernel fn. loadKernels has checked every kernel of the table
   * is in the build, so a missing one is a weight type (the tensor among the
   * args) that kernels/ has no kernel for, or a relaxed-SIMD layout on a
   * baseline instance. The argument count is checked by Graph.add, which
   * knows the op's name.
   */
  protected phase(fn: string, ...args: Arg[]): Phase {
    if (!this.k.lookup(fn)) {
      const t = args.find((a): a is { tensor: Tensor } => typeof a === 'object' && 'tensor' in a)?.tensor;
      if (kernelSpec(fn) || !t) throw new Error(`kernel ${fn} is not in this instance (${this.k.simd} SIMD)`);
      const type = ggmlTypeInfo(t.type)?.name.toUpperCase() ?? `type ${t.type}`;
      throw new UnsupportedError(`${t.name} is ${type}, a weight type run-gguf does not support ` +
        `(it has kernels for ${WEIGHT_TYPES.map((w) => w.toUpperCase()).join(', ')})`, t.name, type);
    }
    return { fn, args };
  }

  /**
   * A phase whose kernel splits rows_range(rows, ith, nth) and touches, of
   * each intermediate passed whole, only its own rows (Phase.rows): the plan
   * may then chain such phases without barriers. `shared` are the arguments
   * every row reads (a norm's weight, positions): the split is declared only
   * when each is absent, a weight or an input, which no phase writes.
   */
  protected rowsPhase(rows: number, shared: readonly (Tensor | null | undefined)[], fn: string, ...args: Arg[]): Phase {
    const p = this.phase(fn, ...args);
    const base = (t: Tensor): Tensor => (t.kind === 'view' ? base(t.base!) : t);
    return shared.every((t) => !t || base(t).kind === 'weight' || base(t).kind === 'input') ? { ...p, rows } : p;
  }
}
