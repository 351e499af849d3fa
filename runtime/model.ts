// A loaded model: its GGUF header, tokenizer, hyper-parameters and weights in
// WASM memory. Contexts (KV cache + graphs) are created from it.
import { readGGUF, type GGUFFile } from '../formats/gguf/index.js';
import { loadKernels, type Kernels } from '../wasm/loader.js';
import { architectureOf, supportedArchitectures } from './arch/index.js';
import { checkFileTensors, type RecurrentLayout } from './arch/declare.js';
import type { BuildGraph } from './arch/context.js';
import { Context, type ContextOptions, type KvCacheType } from './context.js';
import { ModelError, ModelTooLargeError } from './errors.js';
import { Embedder, type EmbedOptions, type EmbedderOptions } from './embed.js';
import { Ranker, type RankedDocument, type RankerOptions, type RankOptions } from './rank.js';
import type { Tensor } from './graph/graph.js';
import { readHParams, type HParams } from './hparams.js';
import {
  MARGIN, WASM_MEMORY_LIMIT, checkFits, scratchEstimate, type ModelFit, checkWeightTypes, loadWeights, machineMemory, readSourcesHeader, weightBytes,
  type LoadProgress, type TensorByteSource, type TensorSource,
} from './load.js';
import { intOption, kvCacheTypeOption, MAX_INT32 } from './options.js';
import { printable } from './terminal/printable.js';
import { planShards, type ShardPlan } from './shards.js';
import { weightRepacker } from './repack.js';
import { LoraAdapters, type LoraAdapterOptions } from './lora.js';
import { fingerprintSample, loraFingerprint, modelFingerprint } from './state.js';
import { Tokenizer, type TokenizeOptions } from './tokenizer/index.js';
import { looksLikeModelName } from './hub/names.js';
import type { PullProgress } from './hub/index.js';

export interface LoadModelOptions {
  /** Called as tensor bytes arrive. */
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
  /** Context size the fit check assumes before reading weights. Default: min(4096, n_ctx_train). */
  contextSize?: number;
  /** Oddities in the file that do not stop loading (llama.cpp logs them). Default: ignored. */
  onWarning?: (message: string) => void;
  /**
   * Replaces the architecture's graph builder. For experiments and for tests
   * that prove a comparison can fail (a deliberately broken graph).
   */
  buildGraph?: BuildGraph;
  /**
   * Rewrite weights into the faster layouts the kernels have (runtime/repack.ts;
   * same results, bit for bit). Default true; false keeps the file's bytes as they are.
   */
  repack?: boolean;
  /**
   * The most bytes one WebAssembly memory may hold. Default (and at most)
   * 4 GiB, wasm32's limit; a model whose weights + KV cache + scratch need
   * more is spread over several memories, whole layers per memory. Smaller
   * values spread small models (tests prove the split changes no bits).
   */
  memoryBytes?: number;
  /**
   * LoRA adapters applied beside the weights (runtime/lora.ts), as llama.cpp's
   * --lora FILE / --lora-scaled FILE SCALE. Default none.
   */
  lora?: readonly LoraAdapterOptions[];
  /** The K cache type contexts will use, for the fit check (ContextOptions.cacheTypeK). Default 'f16'. */
  cacheTypeK?: KvCacheType;
  /** The V cache type contexts will use, for the fit check (ContextOptions.cacheTypeV). Default 'f16'. */
  cacheTypeV?: KvCacheType;
  /**
   * Download progress when the source is a model name (hf:user/repo:QUANT,
   * hf:user/repo/file.gguf, user/repo:QUANT, an https URL): the files are
   * fetched into the cache first (runtime/hub). Default: none.
   */
  onDownload?: (p: PullProgress) => void;
  /** HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE for model names, instead of process.env. Default: process.env. */
  hubEnv?: Record<string, string | undefined>;
}

const alignUp = (n: number) => Math.ceil(n / 64) * 64;

export class Model {
  private isDisposed = false;
  /** Contexts not yet disposed: disposing the model ends them (their threads and KV caches) too. */
  private readonly contexts = new Set<Context>();
  private embedder?: Embedder;
  private ranker?: Ranker;

  /** The kernels on the first memory (the only one unless the model is spread over several). */
  readonly kernels: Kernels;

  private constructor(
    readonly path: string,
    readonly gguf: GGUFFile,
    /** One kernels instance per WebAssembly memory the model is spread over (index = Tensor.mem). */
    readonly memories: readonly Kernels[],
    readonly hparams: HParams,
    readonly tokenizer: Tokenizer,
    readonly build: BuildGraph,
    private readonly weights: Map<string, Tensor>,
    private readonly regions: { mem: number; ptr: number }[],
    private readonly shards: ShardPlan,
    /** What a new context's KV cache is counted against (runtime/load.ts checkContextFits). */
    readonly fit: ModelFit,
    /** Identifies the model in saved sequence states (runtime/state.ts). */
    readonly fingerprint: string,
    /** The recurrent layers' state (hybrid architectures: lfm2...); absent: every layer attends. */
    readonly recurrent?: RecurrentLayout,
    /** The layer whose KV cache each layer reads (Architecture.kvSource); absent: its own. */
    readonly kvSource?: readonly number[],
  ) {
    this.kernels = memories[0]!;
  }

  /** From a path (Node; split models are found by name), or byte sources: one file or every shard. */
  static async load(source: ModelSource, options: LoadModelOptions = {}): Promise<Model> {
    intOption('contextSize', options.contextSize, 1, MAX_INT32);
    if (typeof source === 'string' && looksLikeModelName(source)) {
      // Node only: fetched into the cache (or found there), then loaded from the path
      const hubModule = './hub/index.js';
      const hub = (await import(/* @vite-ignore */ hubModule)) as typeof import('./hub/index.js');
      source = await hub.resolveModel(source, { signal: options.signal, onProgress: options.onDownload, onNotice: options.onWarning, env: options.hubEnv && { ...process.env, ...options.hubEnv } });
    }
    const byteSources = typeof source === 'string' ? undefined : Array.isArray(source) ? source : [source as TensorByteSource];
    const gguf = byteSources ? await readSourcesHeader(byteSources) : await readGGUF(source as string);
    const path = typeof source === 'string' ? source : gguf.file;
    const warn = options.onWarning ?? (() => {});
    for (const w of gguf.warnings) warn(w);
    const get = (key: string) => gguf.metadata.get(key);
    const arch = get('general.architecture');
    const declared = architectureOf(arch);
    const build = options.buildGraph ?? declared?.build;
    if (!build) {
      throw new ModelError(`architecture ${printable(JSON.stringify(String(arch)))} is not supported (supported: ${supportedArchitectures().join(', ')})`, path, 'general.architecture');
    }
    const tokenizer = Tokenizer.fromMetadata(get, { warn });
    const hparams = readHParams(get, path, tokenizer.vocabSize, warn);
    // the recurrent layers' state sizes check their ssm.* / shortconv.* keys: name the file when they are wrong
    let recurrent: RecurrentLayout | undefined;
    try {
      recurrent = declared?.recurrent?.(hparams);
    } catch (e) {
      if (e instanceof ModelError && !e.file) throw new ModelError(e.message, path, e.key);
      throw e;
    }
    const kvSource = declared?.kvSource?.(hparams);
    // before any tensor data is read (a buildGraph override still loads the file's own architecture)
    if (declared) checkFileTensors(String(arch), declared, hparams, gguf.tensors, path);
    const sources: TensorSource[] = gguf.tensors.map((t) => ({
      name: t.name, type: t.type, ne: t.shape, file: t.file, offset: t.absoluteOffset, bytes: t.nBytes,
    }));
    const nCtx = options.contextSize ?? Math.min(4096, hparams.n_ctx_train);
    checkWeightTypes(path, sources);
    const kvBytes = Context.kvBytes(hparams, nCtx, {
      cacheTypeK: kvCacheTypeOption('cacheTypeK', options.cacheTypeK), cacheTypeV: kvCacheTypeOption('cacheTypeV', options.cacheTypeV), recurrent, kvSource,
    });
    const scratch = scratchEstimate(hparams, nCtx);
    const machineBytes = await machineMemory();
    checkFits(path, weightBytes(sources), kvBytes, scratch, machineBytes);
    const memoryBytes = options.memoryBytes ?? WASM_MEMORY_LIMIT;
    if (!(memoryBytes > 0 && memoryBytes <= WASM_MEMORY_LIMIT)) throw new RangeError(`memoryBytes must be in (0, ${WASM_MEMORY_LIMIT}], got ${options.memoryBytes}`);
    let shards: ShardPlan;
    try {
      shards = planShards(sources.map((t) => ({ name: t.name, bytes: alignUp(t.bytes) })), {
        n_layer: hparams.n_layer, kvBytesPerLayer: kvBytes / Math.max(1, hparams.n_layer),
        reserveBytes: Math.min(scratch + MARGIN, memoryBytes / 4), memoryBytes,
      });
    } catch (e) {
      const { neededBytes, limitBytes } = e as { neededBytes?: number; limitBytes?: number };
      throw new ModelTooLargeError(`${(e as Error).message}; try a smaller context (-c)`, path, neededBytes ?? memoryBytes, limitBytes ?? memoryBytes);
    }
    const first = await loadKernels();
    const memories = [first];
    for (let m = 1; m < shards.count; m++) memories.push(await loadKernels({ module: first.module, relaxedModule: first.relaxedModule }));
    const byName = byteSources && new Map(byteSources.map((s) => [s.name, s]));
    const memoryOf = (name: string) => shards.memoryOf.get(name) ?? 0;
    const nBytes = new Map(sources.map((t) => [t.name, t.bytes]));
    const samples = new Map<string, Uint8Array[]>();
    const repack = options.repack === false ? undefined : weightRepacker(memories);
    const { weights, regions } = await loadWeights(memories, sources, memoryOf, {
      onProgress: options.onProgress, signal: options.signal, sources: byName,
      onTensor: (t) => {
        samples.set(t.name, fingerprintSample(memories[t.mem ?? 0]!, t, nBytes.get(t.name) ?? 0));
        return repack ? repack(t) : t;
      },
    });
    const fingerprint = modelFingerprint(gguf, samples);
    const perMemory = new Array<number>(shards.count).fill(0);
    for (const t of sources) perMemory[memoryOf(t.name)] += alignUp(t.bytes);
    const fit: ModelFit = { machineBytes, memoryBytes, weightBytes: perMemory };
    if (!options.lora?.length) return new Model(path, gguf, memories, hparams, tokenizer, build, weights, regions, shards, fit, fingerprint, recurrent, kvSource);
    let lora: LoraAdapters;
    try {
      lora = await LoraAdapters.load(options.lora, { path, arch: String(arch), memories, weight: (n) => weights.get(n) });
    } catch (e) {
      for (const { mem, ptr } of regions) memories[mem]!.free(ptr);
      throw e;
    }
    // adapters change what the cells hold: they are part of the identity
    const withLora = loraFingerprint(fingerprint, options.lora);
    return new Model(path, gguf, memories, hparams, tokenizer, lora.wrap(build), weights, [...regions, ...lora.regions], shards, fit, withLora, recurrent, kvSource);
  }

  /** The memory holding layer il's weights, where its KV cache goes too. */
  layerMemory(il: number): number {
    return this.shards.layerMemory[il] ?? 0;
  }

  weight(name: string): Tensor | undefined {
    this.check();
    return this.weights.get(name);
  }

  tokenize(text: string, options: TokenizeOptions = {}): number[] {
    this.check();
    return this.tokenizer.tokenize(text, options);
  }

  detokenize(ids: ArrayLike<number>, options: { special?: boolean } = {}): string {
    this.check();
    return this.tokenizer.detokenize(ids, options);
  }

  /** True once dispose() has run: every later call, and every call on its contexts, is a RangeError. */
  get disposed(): boolean {
    return this.isDisposed;
  }

  private check(): void {
    if (this.isDisposed) throw new RangeError('the model is disposed');
  }

  createContext(options: ContextOptions = {}): Context {
    this.check();
    const c = new Context(this, options);
    this.contexts.add(c);
    return c;
  }

  /** @internal A context calls this when it is disposed. */
  forget(c: Context): void {
    this.contexts.delete(c);
  }

  /**
   * One embedding per text (encoder models: bert, nomic-bert), pooled as the
   * file's pooling_type says unless `pooling` is given, L2-normalised unless
   * `normalize` is false. Several texts share a batch (batchSize tokens,
   * default 512, which also bounds a text's length). The thread pool and
   * graphs are kept for the next call; threads or batchSize changes start anew.
   */
  embed(texts: readonly string[], options: EmbedOptions & EmbedderOptions = {}): Float32Array[] {
    return this.embedderFor(options).embed(texts, options);
  }

  /** As embed(), for token ids used as they are (no [CLS]/[SEP] added). */
  embedTokens(sequences: readonly (readonly number[])[], options: EmbedOptions & EmbedderOptions = {}): Float32Array[] {
    return this.embedderFor(options).embedTokens(sequences, options);
  }

  /**
   * How relevant each document is to the query, 0..1, in the documents'
   * order: reranker files (bge-reranker, Qwen3-Reranker: a classifier head),
   * scored as node-llama-cpp's ranking context does (runtime/rank.ts). Other
   * models throw a ModelError. The ranker is kept for the next call, as embed's.
   */
  rank(query: string, documents: readonly string[], options: RankOptions & RankerOptions = {}): number[] {
    return this.rankerFor(options).rankAll(query, documents, options);
  }

  /** rank(), as the documents with their index and score, highest score first. */
  rankAndSort(query: string, documents: readonly string[], options: RankOptions & RankerOptions = {}): RankedDocument[] {
    return this.rankerFor(options).rankAndSort(query, documents, options);
  }

  private rankerFor(o: RankerOptions): Ranker {
    this.check();
    const r = this.ranker;
    const same = (a: number | undefined, b: number) => a === undefined || a === b;
    if (r && same(o.threads, r.threads) && same(o.batchSize, r.batchSize) && same(o.contextSize, r.contextSize)) return r;
    r?.dispose();
    this.ranker = undefined;
    this.ranker = new Ranker(this, o);
    return this.ranker;
  }

  private embedderFor(o: EmbedderOptions): Embedder {
    this.check();
    const e = this.embedder;
    if (e && (o.threads === undefined || o.threads === e.threads) && (o.batchSize === undefined || o.batchSize === e.batchSize)) return e;
    e?.dispose();
    this.embedder = undefined;
    this.embedder = new Embedder(this, o);
    return this.embedder;
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    for (const c of [...this.contexts]) c.dispose();
    this.embedder?.dispose();
    this.ranker?.dispose();
    for (const { mem, ptr } of this.regions) this.memories[mem]!.free(ptr);
  }
}

/** A path (Node), or the bytes of one GGUF file, or of every shard of a split one. */
export type ModelSource = string | TensorByteSource | readonly TensorByteSource[];

/** Loads a GGUF model from a path (Node) or byte sources (see ModelSource). */
export function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<Model> {
  return Model.load(source, options);
}
