// The one graph runner: every caller that runs a model (contexts, the
// embedder) holds one. It owns the thread pool and the plans built for it:
// a graph is built by the caller's function the first time a batch shape
// (its key) is asked for, planned for exactly this pool's thread count (so
// per-thread scratch is never shorter than the threads writing it), and kept
// in a small most-recently-used cache. A long chat meets many prompt lengths;
// evicting the least recently used plan frees its arena, so the memory plans
// take is bounded by `maxPlans` arenas of the largest batch.
import type { Kernels } from '../../wasm/loader.js';
import { ThreadPool } from '../threads/pool.js';
import type { ThreadGovernor } from '../threads/governor.js';
import { Graph, type Tensor } from './graph.js';
import { DEFAULT_ATTENTION_TILE, MAX_THREADS, Ops } from './ops.js';
import { Plan } from './plan.js';

/**
 * Plans kept by default. Decode has one shape (one token) and is always among
 * them; a chat's prompts bring the others, each new length a rebuild, which
 * costs far less than evaluating the prompt it serves.
 */
export const DEFAULT_MAX_PLANS = 4;

export interface RunnerOptions {
  /** Threads sharing every op, 1..MAX_THREADS. */
  threads: number;
  /** Plans kept for reuse (least recently used evicted first). Default DEFAULT_MAX_PLANS. */
  maxPlans?: number;
  /** Fewer threads while the machine is busy (threads/governor.ts). Default true. */
  adaptiveThreads?: boolean;
  /** KV cells per attention tile (Ops.attentionTile). Default DEFAULT_ATTENTION_TILE. */
  attentionTile?: number;
}

/** A planned graph registered with the pool. */
export interface PlannedGraph {
  readonly plan: Plan;
  /** The graph's output (logits or hidden states). */
  readonly output: Tensor;
  readonly id: number;
}

export class GraphRunner {
  readonly threads: number;
  readonly maxPlans: number;
  readonly attentionTile: number;
  private readonly pool: ThreadPool;
  /** Insertion order is recency: the first entry is the least recently used. */
  private readonly plans = new Map<string, PlannedGraph>();
  /** Plans built over the runner's life (a cache miss each). */
  builds = 0;
  private disposed = false;

  /** One kernels instance per memory of the model (index = Tensor.mem); one for most models. */
  readonly kernels: readonly Kernels[];

  constructor(kernels: Kernels | readonly Kernels[], options: RunnerOptions) {
    this.kernels = Array.isArray(kernels) ? kernels as readonly Kernels[] : [kernels as Kernels];
    const { threads } = options;
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new RangeError(`threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
    }
    this.maxPlans = options.maxPlans ?? DEFAULT_MAX_PLANS;
    if (!Number.isInteger(this.maxPlans) || this.maxPlans < 1) throw new RangeError(`maxPlans must be a positive integer, got ${options.maxPlans}`);
    this.threads = threads;
    this.attentionTile = options.attentionTile ?? DEFAULT_ATTENTION_TILE;
    this.pool = ThreadPool.create(this.kernels, threads, { adaptive: options.adaptiveThreads ?? true });
  }

  /** Threads the pool runs on now (fewer than `threads` while the machine is busy) and how often that changed. */
  get threadState(): { threads: number; changes: number } {
    return this.pool.governor.state;
  }

  /** The pool's thread governor (threads/governor.ts). */
  get governor(): ThreadGovernor {
    return this.pool.governor;
  }

  /** Plans held now (at most maxPlans). */
  get planCount(): number {
    return this.plans.size;
  }

  /** Bytes of WebAssembly memory the held plans' arenas take. */
  get planBytes(): number {
    let n = 0;
    for (const p of this.plans.values()) n += p.plan.arenaBytes;
    return n;
  }

  /**
   * The plan for `key`, built with `build` when absent: build adds the graph's
   * ops through the Ops it gets (made for this runner's threads) and returns
   * the output tensor.
   */
  planFor(key: string, build: (ops: Ops) => Tensor): PlannedGraph {
    this.check();
    const hit = this.plans.get(key);
    if (hit) {
      this.plans.delete(key);
      this.plans.set(key, hit);
      return hit;
    }
    // evict before the new plan allocates its arena, so the arenas held never exceed maxPlans
    while (this.plans.size >= this.maxPlans) {
      const [oldKey, old] = this.plans.entries().next().value!;
      this.plans.delete(oldKey);
      this.pool.unregister(old.id);
      old.plan.dispose();
    }
    const g = new Graph();
    const ops = new Ops(g, this.kernels[0]!, this.threads, this.attentionTile);
    const output = build(ops);
    g.markOutput(output);
    const plan = new Plan(g, this.kernels);
    const entry: PlannedGraph = { plan, output, id: this.pool.register(plan.encoded) };
    this.builds++;
    this.plans.set(key, entry);
    return entry;
  }

  /** Runs a plan on every thread (its inputs written by the caller); returns when all are done. */
  run(p: PlannedGraph): void {
    this.check();
    this.pool.run(p.id);
  }

  /** The first n floats of a plan's output (a view: copy it before the next run). */
  output(p: PlannedGraph, n: number): Float32Array {
    return this.kernels[p.plan.outputMem(p.output)]!.floats(p.plan.ptr(p.output), n);
  }

  private check(): void {
    if (this.disposed) throw new RangeError('this context is disposed');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pool.dispose();
    for (const p of this.plans.values()) p.plan.dispose();
    this.plans.clear();
  }
}
