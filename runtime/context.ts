// An inference context: the KV cache, the batch inputs and the graphs built
// for each batch shape. Evaluating tokens appends them to the cache;
// generating samples one token at a time and streams text.
import { GGMLType } from '../formats/ggml-types.js';
import type { Kernels } from '../wasm/loader.js';
import type { BuildGraph } from './arch/context.js';
import { ModelError } from './errors.js';
import { Graph, type Tensor } from './graph/graph.js';
import { Ops, type LayerCache } from './graph/ops.js';
import { DYNAMIC_SLOTS } from './graph/exec.js';
import { Plan } from './graph/plan.js';
import { ThreadPool } from './threads/pool.js';
import { availableParallelism } from 'node:os';
import type { HParams } from './hparams.js';
import { createSampler, type SamplerOptions } from './sample/index.js';
import type { Tokenizer } from './tokenizer/index.js';

export interface ContextOptions {
  /** Tokens the KV cache holds. Default: min(4096, the model's training context). */
  contextSize?: number;
  /** Prompt tokens per graph run (llama.cpp's n_batch). Default 512. */
  batchSize?: number;
  /** Threads sharing every op (worker threads on the model's memory). Default: the number of cores. */
  threads?: number;
}

export interface EvaluateOptions {
  /** Return the logits of every position, not only the last. Default false. */
  allLogits?: boolean;
}

export interface GenerateOptions extends SamplerOptions {
  /** Tokens to generate at most. Default 256; -1 until the context is full. */
  maxTokens?: number;
  /** Stops generation early; the iterator then ends without an error. */
  signal?: AbortSignal;
  /** Add BOS (and EOS) per the model's metadata when tokenizing the prompt. Default true. */
  addSpecial?: boolean;
  /** Parse special tokens written in the prompt text. Default false. */
  special?: boolean;
}

/** What the context needs of its model. */
export interface ContextModel {
  readonly path: string;
  readonly kernels: Kernels;
  readonly hparams: HParams;
  readonly tokenizer: Tokenizer;
  readonly build: BuildGraph;
  weight(name: string): Tensor | undefined;
}

export class Context {
  readonly contextSize: number;
  readonly batchSize: number;
  readonly threads: number;
  private nPast = 0;
  private readonly caches: LayerCache[] = [];
  private readonly allocations: number[] = [];
  private readonly idsPtr: number;
  private readonly posPtr: number;
  private readonly plans = new Map<string, { plan: Plan; logits: Tensor; id: number }>();
  private readonly pool: ThreadPool;
  private disposed = false;

  constructor(private readonly model: ContextModel, options: ContextOptions = {}) {
    const hp = model.hparams;
    this.contextSize = options.contextSize ?? Math.min(4096, hp.n_ctx_train);
    this.batchSize = Math.max(1, Math.min(options.batchSize ?? 512, this.contextSize));
    this.threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(this.contextSize) || this.contextSize < 1) throw new RangeError(`contextSize must be a positive integer, got ${options.contextSize}`);
    const k = model.kernels;
    const kvRow = hp.n_head_kv * this.contextSize;
    for (let il = 0; il < hp.n_layer; il++) {
      const kp = this.alloc(kvRow * hp.n_embd_head_k * 2);
      const vp = this.alloc(kvRow * hp.n_embd_head_v * 2);
      const mk = (name: string, ptr: number, hd: number): Tensor =>
        ({ id: -1, name, type: GGMLType.F16, ne: [hd, this.contextSize, hp.n_head_kv], kind: 'state', ptr });
      this.caches.push({ k: mk(`cache_k_l${il}`, kp, hp.n_embd_head_k), v: mk(`cache_v_l${il}`, vp, hp.n_embd_head_v), nCtx: this.contextSize });
    }
    this.idsPtr = this.alloc(this.batchSize * 4);
    this.posPtr = this.alloc(this.batchSize * 4);
    this.pool = ThreadPool.create(k, this.threads);
  }

  /** KV-cache bytes a context of n tokens takes for these hparams. */
  static kvBytes(hp: HParams, n: number): number {
    return hp.n_layer * hp.n_head_kv * n * (hp.n_embd_head_k + hp.n_embd_head_v) * 2;
  }

  private alloc(bytes: number): number {
    const p = this.model.kernels.malloc(bytes + 64);
    this.allocations.push(p);
    return Math.ceil(p / 64) * 64;
  }

  /** Tokens currently in the KV cache. */
  get position(): number {
    return this.nPast;
  }

  /** Forgets everything evaluated so far. */
  reset(): void {
    this.nPast = 0;
  }

  /** Drops cache cells from `n` on (keeps the first n tokens). */
  truncate(n: number): void {
    if (n < 0 || n > this.nPast) throw new RangeError(`truncate(${n}): the context holds ${this.nPast} tokens`);
    this.nPast = n;
  }

  private planFor(nTokens: number, nOutputs: number) {
    const key = `${nTokens}:${nOutputs}`;
    let entry = this.plans.get(key);
    if (entry) return entry;
    const { model } = this;
    const g = new Graph();
    const ops = new Ops(g, model.kernels);
    const inpTokens = g.tensor({ name: 'inp_tokens', type: GGMLType.I32, ne: [nTokens], kind: 'input', ptr: this.idsPtr });
    const inpPos = g.tensor({ name: 'inp_pos', type: GGMLType.I32, ne: [nTokens], kind: 'input', ptr: this.posPtr });
    const logits = model.build({
      ops, hp: model.hparams, inpTokens, inpPos, nTokens, nOutputs, cache: this.caches,
      w: (name) => {
        const t = model.weight(name);
        if (!t) throw new ModelError(`tensor ${name} is missing`, model.path, name);
        return t;
      },
      wOpt: (name) => model.weight(name),
    });
    g.markOutput(logits);
    const plan = new Plan(g, model.kernels);
    entry = { plan, logits, id: this.pool.register(plan.encoded) };
    this.plans.set(key, entry);
    return entry;
  }

  /**
   * Appends tokens to the context and runs the model over them in batches of
   * batchSize. Returns the logits of the last token ([n_vocab]), or of every
   * token ([n_tokens * n_vocab]) with allLogits.
   */
  evaluate(tokens: ArrayLike<number>, options: EvaluateOptions = {}): Float32Array {
    if (this.disposed) throw new Error('context is disposed');
    const n = tokens.length;
    if (n === 0) throw new RangeError('evaluate: no tokens');
    if (this.nPast + n > this.contextSize) {
      throw new RangeError(`evaluate: ${n} tokens after ${this.nPast} exceed the context size ${this.contextSize}`);
    }
    const nVocab = this.model.hparams.n_vocab;
    const out = new Float32Array(options.allLogits ? n * nVocab : nVocab);
    const k = this.model.kernels;
    for (let i0 = 0; i0 < n; i0 += this.batchSize) {
      const nb = Math.min(this.batchSize, n - i0);
      const last = i0 + nb === n;
      const nOut = options.allLogits ? nb : last ? 1 : 0;
      const i32 = k.i32();
      for (let j = 0; j < nb; j++) {
        const id = tokens[i0 + j]!;
        if (!Number.isInteger(id) || id < 0 || id >= nVocab) throw new RangeError(`evaluate: token id ${id} is outside the vocabulary (0..${nVocab - 1})`);
        i32[(this.idsPtr >> 2) + j] = id;
        i32[(this.posPtr >> 2) + j] = this.nPast + j;
      }
      // the graph reads nKv (cells in use after this batch) when it runs
      this.nPast += nb;
      const { plan, logits, id } = this.planFor(nb, Math.max(nOut, 1));
      this.pool.dynamic[DYNAMIC_SLOTS.nKv] = this.nPast;
      this.pool.run(id);
      if (nOut > 0) {
        const src = k.floats(plan.ptr(logits), nOut * nVocab);
        out.set(src, options.allLogits ? i0 * nVocab : 0);
      }
    }
    return out;
  }

  /**
   * Streams a completion of `prompt` (text, or token ids used as they are):
   * yields text pieces as they become valid UTF-8, stops at an
   * end-of-generation token, maxTokens, a full context or the abort signal.
   */
  async *generate(prompt: string | readonly number[], options: GenerateOptions = {}): AsyncGenerator<string, void, undefined> {
    const tok = this.model.tokenizer;
    const ids = typeof prompt === 'string'
      ? tok.tokenize(prompt, { addSpecial: options.addSpecial ?? true, special: options.special ?? false })
      : [...prompt];
    const sampler = createSampler(options);
    const maxTokens = options.maxTokens ?? 256;
    const decoder = tok.createStreamDecoder();
    if (ids.length === 0) return;
    let logits = this.evaluate(ids);
    for (const id of ids) sampler.accept(id);
    for (let produced = 0; maxTokens < 0 || produced < maxTokens; produced++) {
      if (options.signal?.aborted) break;
      const next = sampler.sample(logits);
      sampler.accept(next);
      if (tok.isEog(next)) break;
      const text = decoder.push(next);
      if (text) yield text;
      if (this.nPast >= this.contextSize) break;
      // let the event loop breathe between tokens (abort signals, UI)
      await yieldToEventLoop();
      logits = this.evaluate([next]);
    }
    const rest = decoder.flush();
    if (rest) yield rest;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pool.dispose();
    for (const { plan } of this.plans.values()) plan.dispose();
    for (const p of this.allocations) this.model.kernels.free(p);
    this.plans.clear();
  }
}

const yieldToEventLoop: () => Promise<void> = typeof setImmediate === 'function'
  ? () => new Promise((r) => setImmediate(r))
  : () => new Promise((r) => setTimeout(r, 0));
