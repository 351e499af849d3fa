// Turns a Graph into something runnable: every intermediate gets a place in
// one scratch arena, reusing the bytes of tensors no later op reads, and the
// ops' phases are encoded as plain data (kernel name + numeric arguments).
import { rowSize } from '../../formats/ggml-types.js';
import type { Kernels } from '../../wasm/loader.js';
import { DYNAMIC_SLOTS, type EncodedPlan } from './exec.js';
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

/** A graph with its memory, encoded for the executor (exec.ts). */
export class Plan {
  private readonly arena: number;
  private readonly ptrs = new Map<number, number>();
  readonly arenaBytes: number;
  readonly encoded: EncodedPlan;

  constructor(readonly graph: Graph, private readonly kernels: Kernels) {
    const placement = place(graph);
    this.arenaBytes = placement.arenaBytes + placement.scratchBytes;
    this.arena = kernels.malloc(this.arenaBytes + ALIGN);
    const base = alignUp(this.arena);
    const scratch = base + placement.arenaBytes;
    const resolve = (t: Tensor): number => {
      if (t.ptr !== undefined) return t.ptr;
      if (t.kind === 'view') return resolve(t.base!) + t.viewOffset!;
      const off = placement.offsets.get(t.id);
      if (off === undefined) throw new Error(`tensor ${t.name} has no memory (never written)`);
      return base + off;
    };
    for (const t of graph.outputs) this.ptrs.set(t.id, resolve(t));

    const fns: string[] = [];
    const fnIndex = new Map<string, number>();
    const phases: EncodedPlan['phases'] = [];
    for (const op of graph.ops) {
      for (const ph of op.phases) {
        let fn = fnIndex.get(ph.fn);
        if (fn === undefined) {
          fn = fns.push(ph.fn) - 1;
          fnIndex.set(ph.fn, fn);
        }
        const args: number[] = [];
        const dyn: number[] = [];
        ph.args.forEach((a, i) => {
          if (typeof a === 'number') args.push(a);
          else if ('scratch' in a) args.push(scratch + a.scratch);
          else if (!('dyn' in a)) args.push(resolve(a.tensor) + (a.offset ?? 0));
          else {
            args.push(0);
            dyn.push(i, DYNAMIC_SLOTS[a.dyn], a.tensor ? resolve(a.tensor) : 0, a.scale ?? 1);
          }
        });
        phases.push({ fn, args, dyn });
      }
    }
    this.encoded = { fns, phases };
  }

  /** Byte address of a graph output (valid until dispose). */
  ptr(t: Tensor): number {
    const p = t.ptr ?? this.ptrs.get(t.id);
    if (p === undefined) throw new Error(`tensor ${t.name} is not an output of this graph`);
    return p;
  }

  dispose(): void {
    this.kernels.free(this.arena);
  }
}
