// An inference context: the KV cache of its sequences, the batch inputs and
// one graph runner (threads + plans). Sequences (runtime/sequence.ts) are
// streams of tokens in it; evaluate/generate/position/truncate/reset on the
// context itself act on its default sequence, the one-sequence shorthand.
import { availableParallelism } from 'node:os';
import { GGMLType } from '../formats/ggml-types.js';
import type { Kernels } from '../wasm/loader.js';
import type { BuildGraph } from './arch/context.js';
import type { RecurrentLayout } from './arch/declare.js';
import { ModelError } from './errors.js';
import type { GenerateOptions } from './generate.js';
import type { Tensor } from './graph/graph.js';
import { MAX_THREADS, type LayerCache, type LayerState } from './graph/ops.js';
import { GraphRunner, type PlannedGraph } from './graph/runner.js';
import type { HParams } from './hparams.js';
import { Sequence, type EvaluateOptions, type SequenceHost } from './sequence.js';
import type { Tokenizer } from './tokenizer/index.js';

export type { EvaluateOptions } from './sequence.js';
export type { GenerateOptions } from './generate.js';

export interface ContextOptions {
  /** Tokens each sequence's KV cache holds. Default: min(4096, the model's training context). */
  contextSize?: number;
  /** Sequences the context holds, each with contextSize cells of its own (node-llama-cpp's `sequences`). Default 1. */
  sequences?: number;
  /** Prompt tokens per graph run (llama.cpp's n_batch). Default 512. */
  batchSize?: number;
  /** Threads sharing every op (worker threads on the model's memory), 1..256. Default: the number of cores. */
  threads?: number;
  /** Graph plans kept for reuse (one per batch shape, least recently used evicted). Default 4. */
  maxPlans?: number;
}

/** What the context needs of its model. */
export interface ContextModel {
  readonly path: string;
  /** The kernels on each WebAssembly memory the model is spread over (one for most models). */
  readonly memories: readonly Kernels[];
  /** The memory holding layer il (its KV cache goes there too). */
  layerMemory(il: number): number;
  readonly hparams: HParams;
  readonly tokenizer: Tokenizer;
  readonly build: BuildGraph;
  /** The recurrent layers' state (hybrid architectures); absent: every layer attends. */
  readonly recurrent?: RecurrentLayout;
  weight(name: string): Tensor | undefined;
}

/** The weight lookups a graph builder gets: a missing required weight is the file's fault. */
export function weightLookup(model: ContextModel): { w(name: string): Tensor; wOpt(name: string): Tensor | undefined } {
  return {
    w: (name) => {
      const t = model.weight(name);
      if (!t) throw new ModelError(`tensor ${name} is missing`, model.path, name);
      return t;
    },
    wOpt: (name) => model.weight(name),
  };
}

/** The default thread count: every core, within what a pool runs. */
export function defaultThreads(): number {
  return Math.min(availableParallelism(), MAX_THREADS);
}

export class Context {
  /** Cells per sequence. */
  readonly contextSize: number;
  readonly sequences: number;
  readonly batchSize: number;
  readonly threads: number;
  private readonly caches: (LayerCache | undefined)[] = [];
  private readonly states: (LayerState | undefined)[] = [];
  private readonly allocations: { mem: number; ptr: number }[] = [];
  private readonly idsPtr: number;
  private readonly posPtr: number;
  private readonly runner: GraphRunner;
  private readonly slots: (Sequence | undefined)[];
  private fallback: Sequence | undefined;
  /** What every sequence of this context calls back into. */
  private readonly host: SequenceHost;
  private disposed = false;

  constructor(private readonly model: ContextModel, options: ContextOptions = {}) {
    const hp = model.hparams;
    this.contextSize = options.contextSize ?? Math.min(4096, hp.n_ctx_train);
    this.sequences = options.sequences ?? 1;
    this.batchSize = Math.max(1, Math.min(options.batchSize ?? 512, this.contextSize));
    this.threads = options.threads ?? defaultThreads();
    if (!Number.isInteger(this.contextSize) || this.contextSize < 1) throw new RangeError(`contextSize must be a positive integer, got ${options.contextSize}`);
    if (!Number.isInteger(this.sequences) || this.sequences < 1) throw new RangeError(`sequences must be a positive integer, got ${options.sequences}`);
    if (!Number.isInteger(this.batchSize)) throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    // threads are checked by the runner; allocate only once every option is valid
    this.runner = new GraphRunner(model.memories, { threads: this.threads, maxPlans: options.maxPlans });
    try {
      // each layer's cache in the memory that holds the layer
      const mk = (name: string, hd: number, mem: number): Tensor => {
        const ne = [hd, this.contextSize, hp.n_head_kv, this.sequences];
        return { id: -1, name, type: GGMLType.F16, ne, kind: 'state', ptr: this.alloc(ne.reduce((a, b) => a * b, 2), mem), mem };
      };
      // a recurrent layer's state, f32 [n, 1, 1, n_seq]: one block per sequence, as the KV cache
      const st = (name: string, n: number, mem: number): Tensor => {
        const ne = [n, 1, 1, this.sequences];
        return { id: -1, name, type: GGMLType.F32, ne, kind: 'state', ptr: this.alloc(n * this.sequences * 4, mem), mem };
      };
      const rec = model.recurrent;
      for (let il = 0; il < hp.n_layer; il++) {
        const mem = model.layerMemory(il);
        if (rec?.layers[il]) {
          this.caches.push(undefined);
          this.states.push({ r: st(`cache_r_l${il}`, rec.rFloats, mem), ...(rec.sFloats > 0 ? { s: st(`cache_s_l${il}`, rec.sFloats, mem) } : {}) });
          continue;
        }
        this.caches.push({ k: mk(`cache_k_l${il}`, hp.n_embd_head_k, mem), v: mk(`cache_v_l${il}`, hp.n_embd_head_v, mem), nCtx: this.contextSize });
        this.states.push(undefined);
      }
      this.idsPtr = this.alloc(this.batchSize * 4);
      this.posPtr = this.alloc(this.batchSize * 4);
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.slots = new Array<Sequence | undefined>(this.sequences).fill(undefined);
    this.host = {
      contextSize: this.contextSize,
      batchSize: this.batchSize,
      nVocab: hp.n_vocab,
      recurrent: this.states.some((x) => x !== undefined),
      tokenizer: model.tokenizer,
      runBatch: (s, tokens, firstPos, nOutputs) => this.runBatch(s, tokens, firstPos, nOutputs),
      saveState: (s) => this.stateBlocks(s).map(({ mem, at, bytes }) => this.model.memories[mem]!.u8().slice(at, at + bytes)),
      restoreState: (s, state) => {
        const copies = state as Uint8Array[];
        this.stateBlocks(s).forEach(({ mem, at }, i) => this.model.memories[mem]!.u8().set(copies[i]!, at));
      },
      release: (s) => {
        this.slots[s] = undefined;
      },
    };
  }

  /** KV-cache bytes of n cells for these hparams, plus one sequence's recurrent state when the layout has one. */
  static kvBytes(hp: HParams, n: number, recurrent?: RecurrentLayout): number {
    let bytes = 0;
    for (let il = 0; il < hp.n_layer; il++) {
      if (recurrent?.layers[il]) bytes += (recurrent.rFloats + recurrent.sFloats) * 4;
      else bytes += hp.n_head_kv * n * (hp.n_embd_head_k + hp.n_embd_head_v) * 2;
    }
    return bytes;
  }

  private alloc(bytes: number, mem = 0): number {
    const ptr = this.model.memories[mem]!.malloc(bytes + 64);
    this.allocations.push({ mem, ptr });
    return Math.ceil(ptr / 64) * 64;
  }

  /** Plans held now and the bytes of their arenas (bounded by maxPlans). */
  get planStats(): { plans: number; bytes: number; builds: number; maxPlans: number } {
    return { plans: this.runner.planCount, bytes: this.runner.planBytes, builds: this.runner.builds, maxPlans: this.runner.maxPlans };
  }

  /** Sequences not handed out yet. */
  get freeSequences(): number {
    return this.slots.filter((s) => s === undefined).length;
  }

  /** A new sequence with its own cells; a RangeError when all `sequences` are in use. */
  createSequence(): Sequence {
    this.check();
    const slot = this.slots.indexOf(undefined);
    if (slot < 0) throw new RangeError(`all ${this.sequences} sequences of this context are in use; dispose one or create the context with more sequences`);
    const seq = new Sequence(this.host, slot);
    this.slots[slot] = seq;
    return seq;
  }

  /** The sequence the context's own evaluate/generate/truncate act on (the first one they need). */
  get sequence(): Sequence {
    if (!this.fallback || this.fallback.isDisposed) this.fallback = this.createSequence();
    return this.fallback;
  }

  private runBatch(slot: number, tokens: ArrayLike<number>, firstPos: number, nOutputs: number): Float32Array {
    this.check();
    const nb = tokens.length;
    const i32 = this.model.memories[0]!.i32();
    for (let j = 0; j < nb; j++) {
      i32[(this.idsPtr >> 2) + j] = tokens[j]!;
      i32[(this.posPtr >> 2) + j] = firstPos + j;
    }
    // a sequence starting over starts from a zero state (llama.cpp clears a new sequence's cell)
    if (firstPos === 0) this.clearState(slot);
    const p = this.plannedGraph(nb, nOutputs);
    // the graph reads nKv (cells in use after this batch) and the sequence's block when it runs
    this.runner.run(p, { nKv: firstPos + nb, seq: slot });
    return this.runner.output(p, nOutputs * this.model.hparams.n_vocab);
  }

  /** Where the recurrent state of the sequence in `slot` lives: one block per state tensor. */
  private stateBlocks(slot: number): { mem: number; at: number; bytes: number }[] {
    const out: { mem: number; at: number; bytes: number }[] = [];
    for (const st of this.states) {
      if (!st) continue;
      for (const t of st.s ? [st.r, st.s] : [st.r]) {
        const bytes = t.ne[0]! * 4;
        out.push({ mem: t.mem ?? 0, at: t.ptr! + slot * bytes, bytes });
      }
    }
    return out;
  }

  /** Zeroes the recurrent state blocks of the sequence in `slot`. */
  private clearState(slot: number): void {
    for (const { mem, at, bytes } of this.stateBlocks(slot)) this.model.memories[mem]!.u8().fill(0, at, at + bytes);
  }

  /** @internal The plan a batch of nTokens runs (built when absent); bench/profile.ts times its phases. */
  plannedGraph(nTokens: number, nOutputs: number): PlannedGraph {
    return this.runner.planFor(`${nTokens}:${nOutputs}`, (ops) => {
      const inpTokens = ops.g.tensor({ name: 'inp_tokens', type: GGMLType.I32, ne: [nTokens], kind: 'input', ptr: this.idsPtr });
      const inpPos = ops.g.tensor({ name: 'inp_pos', type: GGMLType.I32, ne: [nTokens], kind: 'input', ptr: this.posPtr });
      return this.model.build({
        ops, hp: this.model.hparams, inpTokens, inpPos, nTokens, nOutputs, cache: this.caches, state: this.states,
        ...weightLookup(this.model),
      });
    });
  }

  /** Tokens in the default sequence. */
  get position(): number {
    return this.sequence.position;
  }

  /** Empties the default sequence. */
  reset(): void {
    this.sequence.reset();
  }

  /** Keeps the default sequence's first n tokens. */
  truncate(n: number): void {
    this.sequence.truncate(n);
  }

  /**
   * Appends tokens to the default sequence and runs the model over them in
   * batches of batchSize. Returns the logits of the last token ([n_vocab]),
   * or of every token ([n_tokens * n_vocab]) with allLogits.
   */
  evaluate(tokens: ArrayLike<number>, options: EvaluateOptions = {}): Float32Array {
    this.check();
    return this.sequence.append(tokens, options);
  }

  /**
   * Streams a completion of `prompt` (text, or token ids used as they are)
   * in the default sequence: yields text pieces as they become valid UTF-8,
   * stops at an end-of-generation token, maxTokens, a full context or the
   * abort signal.
   */
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): AsyncGenerator<string, void, undefined> {
    this.check();
    return this.sequence.generate(prompt, options);
  }

  private check(): void {
    if (this.disposed) throw new RangeError('this context is disposed');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runner?.dispose();
    for (const { mem, ptr } of this.allocations) this.model.memories[mem]!.free(ptr);
    this.allocations.length = 0;
  }
}
