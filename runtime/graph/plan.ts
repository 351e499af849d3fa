// Turns a Graph into something runnable: every intermediate gets a place in
// one scratch arena, reusing the bytes of tensors no later op reads, and
// each op's phases get a resolver from tensors to pointers.
import { rowSize } from '../../formats/ggml-types.js';
import type { Kernels } from '../../wasm/loader.js';
import { elementCount, type Graph, type Tensor } from './graph.js';

const ALIGN = 64;
const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

function tensorBytes(t: Tensor): number {
  const ne = t.ne;
  return rowSize(t.type, ne[0]!) * (elementCount(ne) / ne[0]!);
}

/** Offsets of intermediates within the arena, and the arena's size. */
export interface Placement {
  offsets: Map<number, number>;
  arenaBytes: number;
  scratchBytes: number;
}

/**
 * Greedy placement by lifetime: a tensor is born at the op that writes it and
 * dies after the last op that reads it (graph outputs live to the end); a
 * dead tensor's bytes go back to a free list, first fit, merged with neighbours.
 */
export function place(g: Graph): Placement {
  const lastUse = new Map<number, number>();
  const owner = (t: Tensor): Tensor => (t.kind === 'view' ? owner(t.base!) : t);
  g.ops.forEach((op, i) => {
    for (const t of op.inputs) lastUse.set(owner(t).id, i);
  });
  for (const t of g.outputs) lastUse.set(owner(t).id, g.ops.length);

  const free: { off: number; size: number }[] = [];
  const offsets = new Map<number, number>();
  let top = 0;
  const alloc = (size: number): number => {
    for (let i = 0; i < free.length; i++) {
      const f = free[i]!;
      if (f.size >= size) {
        const off = f.off;
        if (f.size === size) free.splice(i, 1);
        else { f.off += size; f.size -= size; }
        return off;
      }
    }
    const off = top;
    top += size;
    return off;
  };
  const release = (off: number, size: number) => {
    free.push({ off, size });
    free.sort((a, b) => a.off - b.off);
    for (let i = 0; i + 1 < free.length;) {
      const a = free[i]!, b = free[i + 1]!;
      if (a.off + a.size === b.off) { a.size += b.size; free.splice(i + 1, 1); } else i++;
    }
  };

  let scratchBytes = 0;
  g.ops.forEach((op, i) => {
    scratchBytes = Math.max(scratchBytes, op.scratchBytes ?? 0);
    const out = owner(op.output);
    if (out.kind === 'intermediate' && !offsets.has(out.id)) offsets.set(out.id, alloc(alignUp(tensorBytes(out))));
    // free what this op read for the last time (after its output is placed, so they never overlap)
    for (const t of new Set(op.inputs.map(owner))) {
      if (t.kind === 'intermediate' && lastUse.get(t.id) === i) release(offsets.get(t.id)!, alignUp(tensorBytes(t)));
    }
    if (out.kind === 'intermediate' && !lastUse.has(out.id)) release(offsets.get(out.id)!, alignUp(tensorBytes(out)));
  });
  return { offsets, arenaBytes: top, scratchBytes: alignUp(scratchBytes) };
}

/** A graph with its memory: run() executes every op in order. */
export class Plan {
  private readonly arena: number;
  private readonly scratch: number;
  private readonly ptrs: Int32Array | number[];
  readonly arenaBytes: number;

  constructor(readonly graph: Graph, private readonly kernels: Kernels) {
    const placement = place(graph);
    this.arenaBytes = placement.arenaBytes + placement.scratchBytes;
    this.arena = kernels.malloc(this.arenaBytes + ALIGN);
    const base = alignUp(this.arena);
    this.scratch = base + placement.arenaBytes;
    const ptrs: number[] = new Array(graph.tensors.length).fill(0);
    const resolve = (t: Tensor): number => {
      switch (t.kind) {
        case 'intermediate': return base + placement.offsets.get(t.id)!;
        case 'view': return resolve(t.base!) + t.viewOffset!;
        default:
          if (t.ptr === undefined) throw new Error(`tensor ${t.name} has no memory`);
          return t.ptr;
      }
    };
    for (const t of graph.tensors) {
      if (t.ptr !== undefined) continue;
      // intermediates nothing writes (unused) have no place; they are never read either
      if (t.kind === 'intermediate' && !placement.offsets.has(t.id)) continue;
      if (t.kind === 'view' && t.base!.kind === 'intermediate' && !placement.offsets.has(t.base!.id)) continue;
      ptrs[t.id] = resolve(t);
    }
    this.ptrs = ptrs;
  }

  /** Byte address of a tensor of this graph (valid until dispose). */
  ptr(t: Tensor): number {
    return t.ptr ?? this.ptrs[t.id]!;
  }

  /** Runs every op on the calling thread (threads come with the worker pool). */
  run(): void {
    // weights, inputs and state carry their own pointer (and live outside any one graph)
    const ptrs = this.ptrs;
    const p = (t: Tensor) => t.ptr ?? ptrs[t.id]!;
    for (const op of this.graph.ops) {
      for (const phase of op.phases) phase(p, this.scratch, 0, 1);
    }
  }

  dispose(): void {
    this.kernels.free(this.arena);
  }
}
