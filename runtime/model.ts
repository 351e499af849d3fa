// A loaded model: its GGUF header, tokenizer, hyper-parameters and weights in
// WASM memory. Contexts (KV cache + graphs) are created from it.
import { readGGUF, type GGUFFile } from '../formats/gguf/index.js';
import { loadKernels, type Kernels } from '../wasm/loader.js';
import { architectureOf, supportedArchitectures } from './arch/index.js';
import { checkFileTensors, type RecurrentLayout } from './arch/declare.js';
import type { BuildGraph } from './arch/context.js';
import { Context, type ContextOptions } from './context.js';
import { ModelError, ModelTooLargeError } from './errors.js';
import { Embedder, type EmbedOptions, type EmbedderOptions } from './embed.js';
import type { Tensor } from './graph/graph.js';
import { readHParams, type HParams } from './hparams.js';
import {
  MARGIN, WASM_MEMORY_LIMIT, checkFits, checkWeightTypes, loadWeights, machineMemory, readSourcesHeader, weightBytes,
  type LoadProgress, type TensorByteSource, type TensorSource,
} from './load.js';
import { planShards, type ShardPlan } from './shards.js';
import { repackWeights } from './repack.js';
import { Tokenizer, type TokenizeOptions } from './tokenizer/index.js';

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
}

const alignUp = (n: number) => Math.ceil(n / 64) * 64;

/** Scratch a graph needs beyond weights and KV cache, roughly (activations of one 512-token batch). */
function scratchEstimate(hp: HParams, nCtx: number): number {
  const batch = 512;
  const widest = Math.max(hp.n_embd, hp.n_ff, hp.n_vocab / 8) * 4;
  return batch * widest * 8 + hp.n_head * nCtx * 4 * 8;
}

export class Model {
  private disposed = false;
  private embedder?: Embedder;

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
    /** The recurrent layers' state (hybrid architectures: lfm2...); absent: every layer attends. */
    readonly recurrent?: RecurrentLayout,
  ) {
    this.kernels = memories[0]!;
  }

  /** From a path (Node; split models are found by name), or byte sources: one file or every shard. */
  static async load(source: ModelSource, options: LoadModelOptions = {}): Promise<Model> {
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
      throw new ModelError(`architecture "${String(arch)}" is not supported (supported: ${supportedArchitectures().join(', ')})`, path, 'general.architecture');
    }
    const tokenizer = Tokenizer.fromMetadata(get, { warn });
    const hparams = readHParams(get, path, tokenizer.vocabSize);
    // the recurrent layers' state sizes check their ssm.* / shortconv.* keys: name the file when they are wrong
    let recurrent: RecurrentLayout | undefined;
    try {
      recurrent = declared?.recurrent?.(hparams);
    } catch (e) {
      if (e instanceof ModelError && !e.file) throw new ModelError(e.message, path, e.key);
      throw e;
    }
    // before any tensor data is read (a buildGraph override still loads the file's own architecture)
    if (declared) checkFileTensors(String(arch), declared, hparams, gguf.tensors, path);
    const sources: TensorSource[] = gguf.tensors.map((t) => ({
      name: t.name, type: t.type, ne: t.shape, file: t.file, offset: t.absoluteOffset, bytes: t.nBytes,
    }));
    const nCtx = options.contextSize ?? Math.min(4096, hparams.n_ctx_train);
    checkWeightTypes(path, sources);
    const kvBytes = Context.kvBytes(hparams, nCtx, recurrent);
    const scratch = scratchEstimate(hparams, nCtx);
    checkFits(path, weightBytes(sources), kvBytes, scratch, await machineMemory());
    const memoryBytes = options.memoryBytes ?? WASM_MEMORY_LIMIT;
    if (!(memoryBytes > 0 && memoryBytes <= WASM_MEMORY_LIMIT)) throw new RangeError(`memoryBytes must be in (0, ${WASM_MEMORY_LIMIT}], got ${options.memoryBytes}`);
    let shards: ShardPlan;
    try {
      shards = planShards(sources.map((t) => ({ name: t.name, bytes: alignUp(t.bytes) })), {
        n_layer: hparams.n_layer, kvBytesPerLayer: kvBytes / Math.max(1, hparams.n_layer),
        reserveBytes: Math.min(scratch + MARGIN, memoryBytes / 4), memoryBytes,
      });
    } catch (e) {
      throw new ModelTooLargeError(`${(e as Error).message}; try a smaller context (-c)`, path, memoryBytes, memoryBytes);
    }
    const first = await loadKernels();
    const memories = [first];
    for (let m = 1; m < shards.count; m++) memories.push(await loadKernels({ module: first.module, relaxedModule: first.relaxedModule }));
    const byName = byteSources && new Map(byteSources.map((s) => [s.name, s]));
    const memoryOf = (name: string) => shards.memoryOf.get(name) ?? 0;
    const { weights: loaded, regions } = await loadWeights(memories, sources, memoryOf, options.onProgress, options.signal, byName);
    const weights = options.repack === false ? loaded : repackWeights(memories, loaded);
    return new Model(path, gguf, memories, hparams, tokenizer, build, weights, regions, shards, recurrent);
  }

  /** The memory holding layer il's weights, where its KV cache goes too. */
  layerMemory(il: number): number {
    return this.shards.layerMemory[il] ?? 0;
  }

  weight(name: string): Tensor | undefined {
    return this.weights.get(name);
  }

  tokenize(text: string, options: TokenizeOptions = {}): number[] {
    return this.tokenizer.tokenize(text, options);
  }

  detokenize(ids: ArrayLike<number>, options: { special?: boolean } = {}): string {
    return this.tokenizer.detokenize(ids, options);
  }

  createContext(options: ContextOptions = {}): Context {
    if (this.disposed) throw new RangeError('the model is disposed');
    return new Context(this, options);
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

  private embedderFor(o: EmbedderOptions): Embedder {
    if (this.disposed) throw new RangeError('the model is disposed');
    const e = this.embedder;
    if (e && (o.threads === undefined || o.threads === e.threads) && (o.batchSize === undefined || o.batchSize === e.batchSize)) return e;
    e?.dispose();
    this.embedder = undefined;
    this.embedder = new Embedder(this, o);
    return this.embedder;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.embedder?.dispose();
    for (const { mem, ptr } of this.regions) this.memories[mem]!.free(ptr);
  }
}

/** A path (Node), or the bytes of one GGUF file, or of every shard of a split one. */
export type ModelSource = string | TensorByteSource | readonly TensorByteSource[];

/** Loads a GGUF model from a path (Node) or byte sources (see ModelSource). */
export function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<Model> {
  return Model.load(source, options);
}
