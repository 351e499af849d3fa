// A compute graph: tensors (handles, no data) and the ops between them, in
// execution order. Architecture files build one per batch shape by calling
// the op helpers in ops.ts; the planner (plan.ts) then places every
// intermediate in a reused scratch arena and binds each op to kernels.
import { GGMLType } from '../../formats/ggml-types.js';
import { checkPhaseArgs } from '../../wasm/kernel-table.js';

/** Where a tensor's bytes live. */
export type TensorKind =
  | 'weight' // model tensor already in WASM memory (fixed pointer)
  | 'input' // fed by the caller before each run (token ids, positions)
  | 'state' // persistent across runs, owned by the caller (KV cache)
  | 'intermediate' // produced by an op, placed by the planner
  | 'view'; // an offset into another tensor's bytes (e.g. q inside a fused qkv)

export interface Tensor {
  readonly id: number;
  readonly name: string;
  readonly type: GGMLType;
  /** Shape, ggml order: ne[0] is the contiguous dimension. */
  readonly ne: readonly number[];
  readonly kind: TensorKind;
  /** Fixed byte offset in WASM memory for weights, inputs and state. */
  readonly ptr?: number;
  /**
   * Which of the model's WebAssembly memories holds a weight, input or state
   * (runtime/shards.ts); default 0. The plan places intermediates itself.
   */
  readonly mem?: number;
  /** For views: the tensor viewed and the byte offset into it. */
  readonly base?: Tensor;
  readonly viewOffset?: number;
  /** Bytes between consecutive rows (ne[1] steps); contiguous when absent. */
  readonly rowStride?: number;
  /** Weights repacked at load (runtime/repack.ts): only matmuls read them, with mat_rows_<layout>. */
  readonly layout?: WeightLayout;
}

export type WeightLayout = 'q2_Kx4' | 'q3_Kx4' | 'q4_0x4' | 'q4_Kx4' | 'q5_Kx4' | 'q6_Kp' | 'q6_Kx4' | 'q8_0x4' | 'iq4_nlx4' | 'iq4_xsx4' | 'mxfp4x4' | 'tq1_0x4';

/** An argument of a kernel call, resolved to a number when the graph is planned. */
export type Arg =
  | number
  /** The address of a tensor's bytes (plus a byte offset). */
  | { tensor: Tensor; offset?: number }
  /** The address of this op's scratch bytes (plus a byte offset). */
  | { scratch: number };

/**
 * One phase of an op: a call of an exported kernel as fn(...args, ith, nth)
 * on every thread, each doing its share. Phases are plain data so a worker
 * thread can run them; a barrier separates consecutive phases.
 */
export interface Phase {
  readonly fn: string;
  readonly args: readonly Arg[];
  /**
   * The kernel splits its work as rows_range(rows, ith, nth) (kernels/common.h)
   * and thread ith touches, of every intermediate tensor passed whole (no
   * view, no offset), only the bytes of its rows: row r is the r-th of `rows`
   * equal parts of the tensor. With rows = 1, thread 0 does the whole phase.
   * Lets the plan leave out barriers between such phases (graph/barriers.ts);
   * absent, nothing is assumed. Tensors passed otherwise (views, state, the
   * KV cache) may be touched anywhere.
   */
  readonly rows?: number;
  /**
   * Run by thread 0 alone, as on one thread (a small element-wise op, whose
   * split would save less than the barrier it costs): then, like rows = 1,
   * it chains with one-row phases without barriers.
   */
  readonly solo?: boolean;
}

export interface Op {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  /** Scratch bytes this op needs while it runs (one region, shared by all threads). */
  readonly scratchBytes?: number;
  readonly phases: readonly Phase[];
}

export function elementCount(ne: readonly number[]): number {
  return ne.reduce((a, b) => a * b, 1);
}

export class Graph {
  readonly tensors: Tensor[] = [];
  readonly ops: Op[] = [];
  /** Tensors whose bytes the caller reads after a run (logits). */
  readonly outputs: Tensor[] = [];

  tensor(spec: Omit<Tensor, 'id'>): Tensor {
    const t: Tensor = { ...spec, id: this.tensors.length };
    this.tensors.push(t);
    return t;
  }

  /** A new f32 intermediate of shape ne. */
  f32(name: string, ne: readonly number[]): Tensor {
    return this.tensor({ name, type: GGMLType.F32, ne, kind: 'intermediate' });
  }

  /** A view of `ne` elements starting `offset` bytes into `base`, rows `rowStride` bytes apart. */
  view(base: Tensor, name: string, ne: readonly number[], offset: number, rowStride: number): Tensor {
    return this.tensor({ name, type: base.type, ne, kind: 'view', base, viewOffset: offset, rowStride });
  }

  /**
   * Appends an op. Its phases are checked against wasm/kernel-table.ts here,
   * where the op's name is known: every Phase, from Ops or built by hand
   * (runtime/imatrix), passes through, and a wrong argument count fails now
   * rather than running with zeros (KernelArgsError).
   */
  add(op: Op): Tensor {
    for (const p of op.phases) checkPhaseArgs(op.name, p.fn, p.args.length);
    this.ops.push(op);
    return op.output;
  }

  markOutput(t: Tensor): void {
    this.outputs.push(t);
  }
}
