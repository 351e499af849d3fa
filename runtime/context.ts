// An inference context: the KV cache of its sequences, the batch inputs and
// one graph runner (threads + plans). Sequences (runtime/sequence.ts) are
// streams of tokens in it; evaluate/generate/position/truncate/reset on the
// context itself act on its default sequence, the one-sequence shorthand.
// evaluateBatch evaluates tokens of several sequences in the same graph runs
// (runtime/batch.ts); a sequence's own evaluate is that with one part.
// Recurrent layers' states (hybrid models) sit beside the KV cache, one block
// per sequence, which the kernels pick per batch row as attention does.
import { defaultThreads } from './threads/cores.js';
import { GGMLType, rowSize } from '../formats/ggml-types.js';
import type { Kernels } from '../wasm/loader.js';
import type { BuildGraph } from './arch/context.js';
import type { RecurrentLayout } from './arch/declare.js';
import { evaluateParts, type BatchPart, type BatchRows } from './batch.js';
import { ModelError } from './errors.js';
import type { GenerateOptions } from './generate.js';
import type { Tensor } from './graph/graph.js';
import { KV_CACHE_TYPES as KV_TYPES, type KvCacheType, type LayerCache, type LayerState } from './graph/ops.js';
import { DEFAULT_MAX_PLANS, GraphRunner, type PlannedGraph } from './graph/runner.js';
import { stateIdentity } from './state.js';
import { isMla, type HParams } from './hparams.js';
import { Sequence, type EvaluateOptions, type SequenceHost } from './sequence.js';
import { checkContextFits, scratchEstimate, type ModelFit } from './load.js';
import { intOption, kvCacheTypeOption, MAX_INT32, MAX_THREADS } from './options.js';
import type { Tokenizer } from './tokenizer/index.js';

export type { EvaluateOptions } from './sequence.js';

/** One sequence's tokens in context.evaluateBatch. */
export interface BatchItem extends EvaluateOptions {
  /** A sequence of this context; at most one item per sequence in a batch. */
  sequence: Sequence;
  /** Tokens appended after what the sequence holds (at least one). */
  tokens: ArrayLike<number>;
}
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
  /** Graph plans kept for reuse (one per batch shape, least recently used evicted). Default 4, plus one per sequence past the first (decoding k sequences together is a shape of its own). */
  maxPlans?: number;
  /**
   * Run on fewer threads while the machine is too busy to schedule them all,
   * back to all when it is free (runtime/threads/governor.ts). Default true;
   * false for fixed-thread measurements.
   */
  adaptiveThreads?: boolean;
  /**
   * The K cache's type, as llama.cpp's --cache-type-k: 'f16', or 'q8_0'
   * (34 bytes per 32 values instead of 64; head_dim must be a multiple of
   * 32). Default 'f16'.
   */
  cacheTypeK?: KvCacheType;
  /**
   * A ranking context (decoder rerankers, runtime/rank.ts): each evaluation
   * returns the classifier head's [n_cls_out] scores instead of logits.
   * Default false.
   */
  ranking?: boolean;
  /**
   * The V cache's type, as llama.cpp's --cache-type-v: 'f16' or 'q8_0'. With
   * both q8_0 the cache takes 53% of the f16 one (34 bytes per 32 values instead of 64). llama.cpp accepts a
   * quantized V only with flash attention on; run-gguf's tiled attention
   * reads either type on its one path. Not for multi-head latent attention
   * (deepseek2), whose V lives inside its f16 K rows. Default 'f16'.
   */
  cacheTypeV?: KvCacheType;
  /**
   * KV cells attention streams per tile (kernels/ops-attention.c). Rows of
   * up to this many cells give llama.cpp's non-flash numerics exactly;
   * longer rows merge tiles (flash-attention style). Default 256; smaller
   * values exist to exercise the merge on short contexts.
   */
  attentionTile?: number;
}

export type { KvCacheType };

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
  /** The layer whose KV cache each layer reads (gemma 3n's shared KV); absent: its own. */
  readonly kvSource?: readonly number[];
  weight(name: string): Tensor | undefined;
  /** False until the model is disposed; a context of a disposed model refuses every call. */
  readonly disposed?: boolean;
  /** What the fit check counts a new context against (absent: no check, as for test models). */
  readonly fit?: ModelFit;
  /** Called when a context of this model is disposed. */
  forget?(context: Context): void;
  /** Identifies the model in saved states (runtime/state.ts). */
  readonly fingerprint: string;
  readonly gguf?: { metadata: ReadonlyMap<string, unknown> };
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

/** The default thread count: the physical cores (threads/cores.ts). */
export { defaultThreads };

export class Context {
  /** Cells per sequence. */
  readonly contextSize: number;
  readonly sequences: number;
  readonly batchSize: number;
  readonly threads: number;
  /** The K cache's type (ContextOptions.cacheTypeK). */
  readonly cacheTypeK: KvCacheType;
  /** Floats an output row gives: n_vocab logits, or n_cls_out scores in a ranking context. */
  private readonly outWidth: number;
  private readonly ranking: boolean;
  /** The V cache's type (ContextOptions.cacheTypeV). */
  readonly cacheTypeV: KvCacheType;
  private readonly caches: (LayerCache | undefined)[] = [];
  private readonly states: (LayerState | undefined)[] = [];
  private readonly allocations: { mem: number; ptr: number }[] = [];
  private readonly idsPtr: number;
  private readonly posPtr: number;
  /** int32 [2, batchSize]: each row's sequence slot and cells in use (ops.attention's kv rows). */
  private readonly kvRowsPtr: number;
  /** int32 [batchSize]: the rows whose logits a run returns. */
  private readonly outIdsPtr: number;
  private readonly runner: GraphRunner;
  private readonly slots: (Sequence | undefined)[];
  private fallback: Sequence | undefined;
  /** What every sequence of this context calls back into. */
  private readonly host: SequenceHost;
  private disposed = false;

  constructor(private readonly model: ContextModel, options: ContextOptions = {}) {
    const hp = model.hparams;
    if (model.disposed) throw new RangeError('the model is disposed');
    this.contextSize = intOption('contextSize', options.contextSize, 1, MAX_INT32) ?? Math.min(4096, hp.n_ctx_train);
    this.sequences = intOption('sequences', options.sequences, 1, MAX_INT32) ?? 1;
    this.batchSize = Math.min(intOption('batchSize', options.batchSize, 1, MAX_INT32) ?? 512, this.contextSize);
    this.ranking = options.ranking ?? false;
    this.outWidth = this.ranking ? hp.n_cls_out : hp.n_vocab;
    this.threads = intOption('threads', options.threads, 1, MAX_THREADS) ?? defaultThreads();
    intOption('maxPlans', options.maxPlans, 1, MAX_INT32);
    this.cacheTypeK = kvCacheTypeOption('cacheTypeK', options.cacheTypeK) ?? 'f16';
    this.cacheTypeV = kvCacheTypeOption('cacheTypeV', options.cacheTypeV) ?? 'f16';
    for (const [opt, type, headSize] of [['cacheTypeK', this.cacheTypeK, hp.n_embd_head_k], ['cacheTypeV', this.cacheTypeV, hp.n_embd_head_v]] as const) {
      // multi-head latent attention reads V inside its f16 K cache
      if (type !== 'f16' && isMla(hp)) throw new RangeError(`${opt} ${type}: a ${hp.arch} model's compressed cache holds V inside K, which run-gguf keeps in f16`);
      if (type === 'q8_0' && headSize % 32 !== 0) throw new RangeError(`${opt} q8_0 needs a head size that is a multiple of 32; this model's is ${headSize}`);
    }
    const attentionTile = intOption('attentionTile', options.attentionTile, 1, MAX_INT32);
    // the KV cache is counted, in bytes, before anything is allocated or a thread started
    const nCells = this.contextSize * this.sequences;
    const rec = model.recurrent;
    if (model.fit) {
      const what = `a context of ${this.contextSize} tokens${this.sequences > 1 ? ` x ${this.sequences} sequences` : ''}`;
      const largest = Math.max(rowSize(KV_TYPES[this.cacheTypeK], hp.n_embd_head_k) * hp.n_head_kv * nCells,
        rowSize(KV_TYPES[this.cacheTypeV], hp.n_embd_head_v) * hp.n_head_kv * nCells, rec ? Math.max(rec.rFloats, rec.sFloats) * 4 * this.sequences : 0) + 64;
      const kvBytes = Context.kvBytes(hp, this.contextSize, { cacheTypeK: this.cacheTypeK, cacheTypeV: this.cacheTypeV, recurrent: rec, sequences: this.sequences, kvSource: model.kvSource });
      checkContextFits(model.path, model.fit, hp.n_layer, (il) => model.layerMemory(il), kvBytes / hp.n_layer,
        largest, scratchEstimate(hp, this.contextSize), what);
    }
    // decoding k sequences together is a plan of its own (k rows), one per k up to `sequences`
    const maxPlans = options.maxPlans ?? DEFAULT_MAX_PLANS + this.sequences - 1;
    this.runner = new GraphRunner(model.memories, { threads: this.threads, maxPlans, adaptiveThreads: options.adaptiveThreads, attentionTile });
    try {
      // each layer's cache in the memory that holds the layer
      const mk = (name: string, type: GGMLType, hd: number, mem: number): Tensor => {
        const ne = [hd, this.contextSize, hp.n_head_kv, this.sequences];
        return { id: -1, name, type, ne, kind: 'state', ptr: this.alloc(this.sequences * hp.n_head_kv * this.contextSize * rowSize(type, hd), mem), mem };
      };
      // a recurrent layer's state, f32 [n, 1, 1, n_seq]: one block per sequence, as the KV cache
      const st = (name: string, n: number, mem: number): Tensor => {
        const ne = [n, 1, 1, this.sequences];
        return { id: -1, name, type: GGMLType.F32, ne, kind: 'state', ptr: this.alloc(n * this.sequences * 4, mem), mem };
      };
      for (let il = 0; il < hp.n_layer; il++) {
        const mem = model.layerMemory(il);
        if (rec?.layers[il]) {
          this.caches.push(undefined);
          this.states.push({ r: st(`cache_r_l${il}`, rec.rFloats, mem), ...(rec.sFloats > 0 ? { s: st(`cache_s_l${il}`, rec.sFloats, mem) } : {}) });
          continue;
        }
        this.states.push(undefined);
        // a layer sharing an earlier layer's cache reads that one (the same LayerCache)
        const src = model.kvSource?.[il] ?? il;
        if (src !== il) {
          const shared = src < il ? this.caches[src] : undefined;
          if (!shared) throw new Error(`layer ${il} shares the KV cache of layer ${src}, which has none before it`);
          this.caches.push(shared);
          continue;
        }
        const k = mk(`cache_k_l${il}`, KV_TYPES[this.cacheTypeK], hp.n_embd_head_k, mem);
        // MLA's one cache row per token holds V too (ops.attention reads V inside K)
        this.caches.push({ k, v: isMla(hp) ? k : mk(`cache_v_l${il}`, KV_TYPES[this.cacheTypeV], hp.n_embd_head_v, mem), nCtx: this.contextSize });
      }
      this.idsPtr = this.alloc(this.batchSize * 4);
      this.posPtr = this.alloc(this.batchSize * 4);
      this.kvRowsPtr = this.alloc(this.batchSize * 8);
      this.outIdsPtr = this.alloc(this.batchSize * 4);
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
      evaluate: (parts) => this.evaluateParts(parts),
      release: (s) => {
        this.slots[s] = undefined;
      },
      stateIdentity: () => {
        const name = this.model.gguf?.metadata.get('general.name');
        return stateIdentity(this.model.fingerprint, typeof name === 'string' && name ? name : this.model.path, hp, this.contextSize, { k: this.cacheTypeK, v: this.cacheTypeV },
          { kvLayers: new Set(this.caches.filter((c) => c !== undefined)).size, bytes: this.stateBlocks(0).reduce((a, b) => a + b.bytes, 0) });
      },
      readCells: (s, n) => this.copyCells(s, n, null),
      writeCells: (s, n, cells) => void this.copyCells(s, n, cells),
      readRecurrent: (s) => this.copyRecurrent(s, null),
      writeRecurrent: (s, state) => void this.copyRecurrent(s, state),
    };
  }

  /**
   * A sequence's first n cells, out of the cache (into a new buffer) or into
   * it (from `cells`): per layer K then V, per KV head n rows (head_dim values
   * in the cache's type: cacheTypeK for K, cacheTypeV for V), the order runtime/state.ts writes.
   */
  private copyCells(slot: number, n: number, cells: Uint8Array | null): Uint8Array {
    this.check();
    const hp = this.model.hparams;
    // the attention layers' cells only (the recurrent layers' state is copyRecurrent's)
    const rec = this.model.recurrent;
    const bytes = Context.kvBytes(hp, n, { cacheTypeK: this.cacheTypeK, cacheTypeV: this.cacheTypeV, recurrent: rec && { ...rec, rFloats: 0, sFloats: 0 }, kvSource: this.model.kvSource });
    const out = cells ?? new Uint8Array(bytes);
    if (out.length !== bytes) throw new RangeError(`${out.length} bytes of cells for ${n} tokens, expected ${bytes}`);
    let at = 0;
    // a shared cache once
    for (const c of new Set(this.caches)) {
      if (!c) continue;
      // MLA's V lives inside its K rows: one tensor to copy
      for (const t of c.v === c.k ? [c.k] : [c.k, c.v]) {
        const rowBytes = rowSize(t.type, t.ne[0]!);
        const block = t.ptr! + slot * rowBytes * this.contextSize * hp.n_head_kv;
        const mem = this.model.memories[t.mem ?? 0]!;
        for (let h = 0; h < hp.n_head_kv; h++) {
          const view = mem.bytes(block + h * this.contextSize * rowBytes, n * rowBytes);
          if (cells) view.set(out.subarray(at, at + view.length));
          else out.set(view, at);
          at += view.length;
        }
      }
    }
    return out;
  }

  /**
   * The recurrent state of the sequence in `slot`, out of the context (into
   * a new buffer) or into it (from `state`): per recurrent layer its r then
   * its s block, f32 as they are (runtime/state.ts's order). Empty without
   * recurrent layers.
   */
  private copyRecurrent(slot: number, state: Uint8Array | null): Uint8Array {
    this.check();
    const blocks = this.stateBlocks(slot);
    const bytes = blocks.reduce((a, b) => a + b.bytes, 0);
    const out = state ?? new Uint8Array(bytes);
    if (out.length !== bytes) throw new RangeError(`${out.length} bytes of recurrent state, expected ${bytes}`);
    let at = 0;
    for (const { mem, at: ptr, bytes: n } of blocks) {
      const view = this.model.memories[mem]!.bytes(ptr, n);
      if (state) view.set(out.subarray(at, at + n));
      else out.set(view, at);
      at += n;
    }
    return out;
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

  /** Zeroes the recurrent state blocks of the sequence in `slot` (llama.cpp clears a new sequence's cell). */
  private clearRecurrent(slot: number): void {
    for (const { mem, at, bytes } of this.stateBlocks(slot)) this.model.memories[mem]!.bytes(at, bytes).fill(0);
  }

  /**
   * Bytes of n KV cells (K in cacheTypeK, V in cacheTypeV; MLA: no V) in every attention layer with a cache of its own,
   * plus `sequences` (default 1) sequences' recurrent state when the model has recurrent layers.
   */
  static kvBytes(hp: HParams, n: number, o: { cacheTypeK?: KvCacheType; cacheTypeV?: KvCacheType; recurrent?: RecurrentLayout; sequences?: number; kvSource?: readonly number[] } = {}): number {
    // MLA (deepseek2) caches no V of its own
    const perCell = hp.n_head_kv * (rowSize(KV_TYPES[o.cacheTypeK ?? 'f16'], hp.n_embd_head_k) + (isMla(hp) ? 0 : rowSize(KV_TYPES[o.cacheTypeV ?? 'f16'], hp.n_embd_head_v)));
    const rec = o.recurrent;
    const seqs = o.sequences ?? 1;
    let bytes = 0;
    for (let il = 0; il < hp.n_layer; il++) {
      if (rec?.layers[il]) bytes += (rec.rFloats + rec.sFloats) * 4 * seqs;
      else if ((o.kvSource?.[il] ?? il) === il) bytes += perCell * n * seqs;
    }
    return bytes;
  }

  private alloc(bytes: number, mem = 0): number {
    const ptr = this.model.memories[mem]!.malloc(bytes + 64);
    this.allocations.push({ mem, ptr });
    return Math.ceil(ptr / 64) * 64;
  }

  /** Threads the runs use now (fewer than `threads` while the machine is busy) and how often that changed. */
  get threadState(): { threads: number; changes: number } {
    return this.runner.threadState;
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

  /**
   * Evaluates tokens of several sequences together: each item's tokens are
   * appended to its sequence, and the rows of all items share graph runs of
   * at most batchSize rows (packed in the items' order), so the weights are
   * read once per run for all of them. Returns each item's logits, in the
   * items' order: [n_vocab] of its last token, or [n_tokens * n_vocab] with
   * allLogits. Sequences may be at different lengths; to reuse a prompt's
   * common prefix first, call sequence.keepPrefix(prompt) and pass
   * prompt.slice(kept). Each sequence's logits are the bits it would get
   * evaluated alone. Checks every item before evaluating any.
   */
  evaluateBatch(items: readonly BatchItem[]): Float32Array[] {
    this.check();
    if (items.length === 0) return [];
    const seen = new Set<Sequence>();
    for (const { sequence } of items) {
      if (this.slots[sequence.slot] !== sequence) throw new RangeError(`evaluateBatch: sequence ${sequence.slot} is not a live sequence of this context`);
      if (seen.has(sequence)) throw new RangeError(`evaluateBatch: sequence ${sequence.slot} appears twice; give it one item with all its tokens`);
      seen.add(sequence);
    }
    return this.evaluateParts(items.map((it) => it.sequence.part(it.tokens, it)));
  }

  private evaluateParts(parts: readonly BatchPart[]): Float32Array[] {
    this.check();
    // a sequence starting over starts from a zero recurrent state (its runs come after this)
    for (const p of parts) if (p.firstPos === 0 && p.tokens.length > 0) this.clearRecurrent(p.slot);
    return evaluateParts(parts, this.batchSize, this.outWidth, (rows) => this.runRows(rows));
  }

  /** One graph run: writes the rows into the batch inputs and returns the logits of rows.outIds. */
  private runRows(rows: BatchRows): Float32Array {
    const nRows = rows.tokens.length;
    const nOut = rows.outIds.length;
    const i32 = this.model.memories[0]!.i32();
    i32.set(rows.tokens, this.idsPtr >>> 2);
    i32.set(rows.positions, this.posPtr >>> 2);
    i32.set(rows.kvRows, this.kvRowsPtr >>> 2);
    i32.set(rows.outIds, this.outIdsPtr >>> 2);
    const p = this.plannedGraph(nRows, nOut);
    this.runner.run(p);
    return this.runner.output(p, nOut * this.outWidth);
  }

  /**
   * @internal The plan a batch of nTokens rows with nOutputs logit rows runs
   * (built when absent): any mix of sequences, which the inputs say at run
   * time. bench/profile.ts times its phases.
   */
  plannedGraph(nTokens: number, nOutputs: number): PlannedGraph {
    return this.runner.planFor(`${nTokens}:${nOutputs}`, (ops) => {
      const input = (name: string, ne: number[], ptr: number) => ops.g.tensor({ name, type: GGMLType.I32, ne, kind: 'input', ptr });
      return this.model.build({
        ops, hp: this.model.hparams, nTokens, nOutputs, cache: this.caches, state: this.states,
        inpTokens: input('inp_tokens', [nTokens], this.idsPtr),
        inpPos: input('inp_pos', [nTokens], this.posPtr),
        inpKvRows: input('inp_kv_rows', [2, nTokens], this.kvRowsPtr),
        inpOutIds: input('inp_out_ids', [nOutputs], this.outIdsPtr),
        rank: this.ranking,
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
    // its weights and caches were freed with the model: running would read freed memory
    if (this.model.disposed) throw new RangeError('the model of this context is disposed');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runner?.dispose();
    for (const { mem, ptr } of this.allocations) this.model.memories[mem]!.free(ptr);
    this.allocations.length = 0;
    this.model.forget?.(this);
  }
}
