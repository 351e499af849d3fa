// Turns a Graph into something runnable: every intermediate gets a place in
// a scratch arena, reusing the bytes of tensors no later op reads, and the
// ops' phases are encoded as plain data (kernel name + numeric arguments).
//
// A model too big for one WebAssembly memory (4 GiB) lives in several
// (runtime/shards.ts: whole layers per memory). Each op then runs on the
// instance of the kernels of the memory that holds its weights or KV cache
// (its home); an intermediate lives in the memory of the op that wrote it;
// when an op reads a tensor that lives in another memory (the residual
// stream crossing from one layer to the next, the token ids, a small weight
// every layer reads), the plan copies it into the op's memory first, once
// per run. With one memory nothing is copied and the plan is what it always was.
import { rowSize } from '../../formats/ggml-types.js';
import type { Kernels } from '../../wasm/loader.js';
import { barriersAfter, type Access, type PhaseAccesses } from './barriers.js';
import { COPY_ACROSS_MEMORIES, type EncodedPhase, type EncodedPlan } from './exec.js';
import { elementCount, type Graph, type Op, type Tensor } from './graph.js';

const ALIGN = 64;
const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
/**
 * The largest weight copied into another memory per run. Small weights every
 * layer reads (rope_freqs) are copied; a bigger one means a layer was split
 * across memories, which the sharding never does.
 */
const MAX_WEIGHT_COPY = 16 * 1024 * 1024;

// tensors never change: their sizes are asked for many times per plan
const byteCounts = new WeakMap<Tensor, number>();

export function tensorBytes(t: Tensor): number {
  let n = byteCounts.get(t);
  if (n === undefined) {
    const ne = t.ne;
    byteCounts.set(t, (n = rowSize(t.type, ne[0]!) * (elementCount(ne) / ne[0]!)));
  }
  return n;
}

const owner = (t: Tensor): Tensor => (t.kind === 'view' ? owner(t.base!) : t);
/** Whether the tensor's bytes are fixed by its creator (a pointer), not placed by the plan. */
const fixed = (t: Tensor) => t.ptr !== undefined;
const memOf = (t: Tensor) => t.mem ?? 0;

/** One step of the run: an op, or a copy of a tensor into another memory before the op that needs it. */
type Step =
  | { op: Op; mem: number }
  | { copy: Tensor; from: number; mem: number };

/**
 * A tensor's bytes in one memory. By object, not id: weights and caches are
 * made outside the graph (id -1); views are owned by the tensor they view.
 */
const uids = new WeakMap<Tensor, number>();
let nextUid = 0;
function key(t: Tensor, mem: number): string {
  let u = uids.get(t);
  if (u === undefined) uids.set(t, (u = nextUid++));
  return `${u}@${mem}`;
}

/**
 * The memory an op runs in: its KV cache's (which never moves), else that of
 * its biggest input, so the fewest bytes cross: a matmul runs where its
 * weight is, rope where its activations are (a small rope_freqs is copied).
 */
function homeOf(op: Op, where: (t: Tensor) => number): number {
  let state: Tensor | undefined;
  let biggest: Tensor | undefined;
  for (const t of op.inputs.map(owner)) {
    if (t.kind === 'state') {
      if (state && memOf(state) !== memOf(t)) throw new RangeError(`${op.name}: reads ${state.name} in memory ${memOf(state)} and ${t.name} in ${memOf(t)}`);
      state = t;
    } else if (!biggest || tensorBytes(t) > tensorBytes(biggest)) biggest = t;
  }
  if (state) return memOf(state);
  return biggest ? where(biggest) : memOf(owner(op.output));
}

/** The run's steps with copies inserted, and each intermediate's memory (set on the placed tensor's mem). */
function schedule(g: Graph): { steps: Step[]; homes: Map<Tensor, number> } {
  const homes = new Map<Tensor, number>(); // intermediate -> memory
  const where = (t: Tensor) => (fixed(t) ? memOf(t) : homes.get(t)!);
  const present = new Set<string>();
  const steps: Step[] = [];
  for (const op of g.ops) {
    const mem = homeOf(op, where);
    for (const t of new Set(op.inputs.map(owner))) {
      const from = where(t);
      if (from === mem || present.has(key(t, mem))) continue;
      if (t.kind === 'state') throw new RangeError(`${op.name}: ${t.name} is in memory ${from}, the op runs in ${mem}`);
      if (t.kind === 'weight' && tensorBytes(t) > MAX_WEIGHT_COPY) {
        throw new RangeError(`${op.name}: ${t.name} (${tensorBytes(t)} bytes) is in memory ${from}, the op's other weights in ${mem}`);
      }
      steps.push({ copy: t, from, mem });
      present.add(key(t, mem));
    }
    const out = owner(op.output);
    if (!fixed(out) && !homes.has(out)) homes.set(out, mem);
    present.add(key(out, fixed(out) ? memOf(out) : mem));
    steps.push({ op, mem });
  }
  return { steps, homes };
}

/** A tensor's bytes in one memory, as [lo, hi) (real addresses, or any ranges unique per tensor and memory). */
type Locate = (t: Tensor, mem: number) => [number, number];

/** What a phase touches: a tensor (by owner) in a memory, or (t null) that memory's scratch. */
interface Touch {
  t: Tensor | null;
  mem: number;
  write: boolean;
  /** Passed whole (an intermediate, no view or offset): touched by the phase's declared rows. */
  whole: boolean;
}

/** What each phase of the run touches, with its declared split, and each step's last phase index. */
interface Touches {
  phases: { rows?: number; touches: Touch[] }[];
  lastPhase: number[];
}

/**
 * What each phase of the run touches (graph/barriers.ts). By owner tensor:
 * a view or an offset stands for the whole of what it views.
 */
function phaseTouches(steps: readonly Step[]): Touches {
  const phases: Touches['phases'] = [];
  const lastPhase: number[] = [];
  for (const s of steps) {
    if ('copy' in s) {
      phases.push({ touches: [{ t: s.copy, mem: s.from, write: false, whole: false }, { t: s.copy, mem: s.mem, write: true, whole: false }] });
      lastPhase.push(phases.length - 1);
      continue;
    }
    const out = owner(s.op.output);
    // an op that writes its output through a number (runtime/imatrix's slots) writes it in every phase
    const outByArg = s.op.phases.some((ph) => ph.args.some((a) => typeof a === 'object' && 'tensor' in a && owner(a.tensor) === out));
    for (const ph of s.op.phases) {
      const touches: Touch[] = [];
      for (const a of ph.args) {
        if (typeof a !== 'object') continue;
        if ('scratch' in a) {
          touches.push({ t: null, mem: s.mem, write: true, whole: false });
          continue;
        }
        const t = owner(a.tensor);
        // the op's output and any state (a KV cache) may be written; weights and inputs never change
        // during a run (but a copy of one in another memory is written by its copy phase)
        const write = t === out || t.kind === 'state';
        if (!write && (t.kind === 'weight' || t.kind === 'input') && memOf(t) === s.mem) continue;
        const whole = a.tensor === t && !a.offset && t.kind === 'intermediate';
        touches.push({ t, mem: fixed(t) && t.kind === 'state' ? memOf(t) : s.mem, write, whole });
      }
      if (!outByArg) touches.push({ t: out, mem: fixed(out) ? memOf(out) : s.mem, write: true, whole: false });
      // a solo phase runs on thread 0 alone: as one row
      phases.push({ rows: ph.solo ? 1 : ph.rows, touches });
    }
    lastPhase.push(phases.length - 1);
  }
  return { phases, lastPhase };
}

/** The touches as byte ranges: tensors where `locate` puts them, scratch where `scratch` does. */
function phaseAccesses(touches: Touches, locate: Locate, scratch: (mem: number) => [number, number]): PhaseAccesses[] {
  return touches.phases.map(({ rows, touches }) => ({
    rows,
    accesses: touches.map(({ t, mem, write, whole }): Access => {
      const [lo, hi] = t ? locate(t, mem) : scratch(mem);
      return { mem, lo, hi, write, whole: whole ? t! : undefined };
    }),
  }));
}

/**
 * For each step, the last step of its barrier group: the bytes of what a step
 * reads for the last time are not reused before that group ends, or a thread
 * could write them while another still reads (graph/barriers.ts).
 */
function groupFences(touches: Touches): number[] {
  // tensors as disjoint ranges (one per tensor and memory; a memory's scratch below 0):
  // only true data dependences separate phases here
  const ids = new Map<Tensor, number[]>();
  let next = 0;
  const unique = (t: Tensor, mem: number): [number, number] => {
    let per = ids.get(t);
    if (!per) ids.set(t, (per = []));
    const id = per[mem] ?? (per[mem] = next++);
    return [id, id + 1];
  };
  const phases = phaseAccesses(touches, unique, (mem) => [-1 - mem, -mem]);
  const lastPhase = touches.lastPhase;
  const sync = barriersAfter(phases);
  // the phase ending each phase's group, then the step that phase belongs to
  const groupEnd = new Array<number>(phases.length);
  for (let i = phases.length - 1, end = i; i >= 0; i--) {
    if (sync[i]) end = i;
    groupEnd[i] = end;
  }
  const stepOf = new Array<number>(phases.length);
  lastPhase.forEach((last, i) => {
    for (let p = last; p >= 0 && stepOf[p] === undefined; p--) stepOf[p] = i;
  });
  return lastPhase.map((last) => stepOf[groupEnd[last]!]!);
}

/** Offsets of placed bytes within each memory's arena, and the arenas' sizes. */
export interface Placement {
  /** key(tensor, memory) -> offset in that memory's arena. */
  offsets: Map<string, number>;
  /** Per memory: arena bytes (tensors) and scratch bytes (ops' work buffers, after the tensors). */
  arenaBytes: number[];
  scratchBytes: number[];
}

/**
 * Greedy placement by lifetime, in each memory on its own: a tensor is born
 * at the step that writes it and dies after the last step that reads it
 * (graph outputs live to the end); a dead tensor's bytes go back to a free
 * list, first fit, merged with neighbours, once the barrier group of that
 * last step has ended (fences: groupFences).
 */
function place(g: Graph, steps: readonly Step[], homes: ReadonlyMap<Tensor, number>, nMem: number, fences: readonly number[]): Placement {
  const where = (t: Tensor) => (fixed(t) ? memOf(t) : homes.get(t)!);
  // what each step reads and writes, as (tensor, memory) keys
  const reads = steps.map((s) => ('op' in s ? [...new Set(s.op.inputs.map(owner))].map((t) => key(t, where(t) === s.mem ? where(t) : s.mem)) : [key(s.copy, s.from)]));
  const writes = steps.map((s) => ('op' in s ? { t: owner(s.op.output), mem: s.mem } : { t: s.copy, mem: s.mem }));
  const lastUse = new Map<string, number>();
  reads.forEach((ks, i) => ks.forEach((k) => lastUse.set(k, i)));
  for (const t of g.outputs) lastUse.set(key(owner(t), where(owner(t))), steps.length);

  const free: { off: number; size: number }[][] = Array.from({ length: nMem }, () => []);
  const top = new Array<number>(nMem).fill(0);
  const scratchBytes = new Array<number>(nMem).fill(0);
  const offsets = new Map<string, number>();
  const sizes = new Map<string, number>();
  const alloc = (m: number, size: number): number => {
    const list = free[m]!;
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      if (f.size >= size) {
        const off = f.off;
        if (f.size === size) list.splice(i, 1);
        else { f.off += size; f.size -= size; }
        return off;
      }
    }
    const off = top[m]!;
    top[m] = off + size;
    return off;
  };
  const release = (k: string) => {
    const m = Number(k.slice(k.indexOf('@') + 1));
    const list = free[m]!;
    list.push({ off: offsets.get(k)!, size: sizes.get(k)! });
    list.sort((a, b) => a.off - b.off);
    for (let i = 0; i + 1 < list.length;) {
      const a = list[i]!, b = list[i + 1]!;
      if (a.off + a.size === b.off) { a.size += b.size; list.splice(i + 1, 1); } else i++;
    }
  };

  // releases waiting for the end of a barrier group: step index -> keys
  const pending = new Map<number, string[]>();
  const later = (i: number, k: string) => {
    const f = fences[i]!;
    if (!pending.has(f)) pending.set(f, []);
    pending.get(f)!.push(k);
  };
  steps.forEach((s, i) => {
    for (const [f, ks] of pending) {
      if (f < i) {
        ks.forEach(release);
        pending.delete(f);
      }
    }
    if ('op' in s) scratchBytes[s.mem] = Math.max(scratchBytes[s.mem]!, s.op.scratchBytes ?? 0);
    const w = writes[i]!;
    const wk = key(w.t, w.mem);
    const placed = !fixed(w.t) || 'copy' in s;
    if (placed && !offsets.has(wk)) {
      const size = alignUp(tensorBytes(w.t));
      offsets.set(wk, alloc(w.mem, size));
      sizes.set(wk, size);
    }
    // free what this step read for the last time (after its output is placed, so they never overlap)
    for (const k of new Set(reads[i])) if (sizes.has(k) && lastUse.get(k) === i) later(i, k);
    if (placed && !lastUse.has(wk)) later(i, wk);
  });
  return { offsets, arenaBytes: top, scratchBytes: scratchBytes.map(alignUp) };
}

/** A graph with its memory, encoded for the executor (exec.ts). */
export class Plan {
  /** Per memory: the malloc'd arena (0 where a memory has none). */
  private readonly arenas: number[];
  /** Per memory: where the arena's bytes (tensors and scratch) start and how many there are. */
  private readonly arenaRanges: { mem: number; ptr: number; bytes: number }[] = [];
  private readonly outputs = new Map<Tensor, { ptr: number; mem: number }>();
  /** Bytes of arenas and scratch over all memories. */
  readonly arenaBytes: number;
  readonly encoded: EncodedPlan;
  private readonly kernels: readonly Kernels[];

  /** kernels: one instance per memory the graph's tensors live in (index = Tensor.mem). */
  constructor(readonly graph: Graph, kernels: Kernels | readonly Kernels[]) {
    this.kernels = Array.isArray(kernels) ? kernels : [kernels as Kernels];
    const nMem = this.kernels.length;
    const { steps, homes } = schedule(graph);
    const touches = phaseTouches(steps);
    const placement = place(graph, steps, homes, nMem, groupFences(touches));
    this.arenas = new Array<number>(nMem).fill(0);
    const bases: number[] = [];
    const scratch: number[] = [];
    let total = 0;
    for (let m = 0; m < nMem; m++) {
      const bytes = placement.arenaBytes[m]! + placement.scratchBytes[m]!;
      total += bytes;
      if (bytes > 0) this.arenas[m] = this.kernels[m]!.malloc(bytes + ALIGN);
      bases.push(alignUp(this.arenas[m]!));
      if (bytes > 0) this.arenaRanges.push({ mem: m, ptr: bases[m]!, bytes });
      scratch.push(bases[m]! + placement.arenaBytes[m]!);
    }
    this.arenaBytes = total;
    const where = (t: Tensor) => (fixed(t) ? memOf(t) : homes.get(t));
    const resolve = (t: Tensor, mem: number): number => {
      if (t.kind === 'view') return resolve(t.base!, mem) + t.viewOffset!;
      if (fixed(t) && memOf(t) === mem) return t.ptr!;
      const off = placement.offsets.get(key(t, mem));
      if (off === undefined) throw new RangeError(`tensor ${t.name} has no memory (never written)`);
      return bases[mem]! + off;
    };
    for (const t of graph.outputs) {
      const mem = where(owner(t));
      if (mem === undefined) throw new RangeError(`graph output ${t.name} is never written`);
      this.outputs.set(t, { ptr: resolve(t, mem), mem });
    }

    const fns: string[] = [];
    const fnIndex = new Map<string, number>();
    const fnOf = (name: string) => {
      let fn = fnIndex.get(name);
      if (fn === undefined) {
        fn = fns.push(name) - 1;
        fnIndex.set(name, fn);
      }
      return fn;
    };
    const phases: EncodedPhase[] = [];
    for (const s of steps) {
      if ('copy' in s) {
        // (from, src, to, dst, bytes): every thread copies its share
        phases.push({ fn: fnOf(COPY_ACROSS_MEMORIES), mem: s.mem,
          args: [s.from, resolve(s.copy, s.from), s.mem, resolve(s.copy, s.mem), tensorBytes(s.copy)] });
        continue;
      }
      for (const ph of s.op.phases) {
        const args = ph.args.map((a) =>
          typeof a === 'number' ? a : 'scratch' in a ? scratch[s.mem]! + a.scratch : resolve(a.tensor, s.mem) + (a.offset ?? 0));
        // a one-row phase is all thread 0's whatever the thread count: as solo, the others skip it
        phases.push({ fn: fnOf(ph.fn), args, mem: s.mem, ...(ph.solo || ph.rows === 1 ? { solo: true } : {}) });
      }
    }
    // the barriers the placed bytes need (the fences kept reuse from adding any)
    const locate: Locate = (t, mem) => {
      const lo = resolve(t, mem);
      return [lo, lo + (fixed(t) && memOf(t) === mem ? tensorBytes(t) : alignUp(tensorBytes(t)))];
    };
    const touched = phaseAccesses(touches, locate, (m) => [scratch[m]!, scratch[m]! + placement.scratchBytes[m]!]);
    barriersAfter(touched).forEach((sync, i) => {
      if (!sync) phases[i]!.sync = false;
    });
    this.encoded = { fns, phases };
  }

  /** @internal The arenas' bytes per memory (test/graph-barriers.test.ts fills them before a run). */
  get arenaSpans(): readonly { mem: number; ptr: number; bytes: number }[] {
    return this.arenaRanges;
  }

  /** Byte address of a graph output (valid until dispose), in memory outputMem(t). */
  ptr(t: Tensor): number {
    const p = this.outputs.get(t);
    if (p === undefined) throw new RangeError(`tensor ${t.name} is not an output of this graph`);
    return p.ptr;
  }

  /** The memory (index into the plan's kernels) a graph output is in. */
  outputMem(t: Tensor): number {
    const p = this.outputs.get(t);
    if (p === undefined) throw new RangeError(`tensor ${t.name} is not an output of this graph`);
    return p.mem;
  }

  dispose(): void {
    this.arenas.forEach((a, m) => {
      if (a) this.kernels[m]!.free(a);
    });
  }
}
