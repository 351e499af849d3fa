// Reads a model's tensor bytes straight into WASM memory (one memory, or
// several for a model past 4 GiB: runtime/shards.ts), in file order, after
// checking that weights + KV cache + scratch fit in the machine's memory.
import { GGMLType, ggmlTypeInfo } from '../formats/ggml-types.js';
import { mergeShards, readGGUFHeader, type ByteSource, type GGUFFile, type GGUFHeader } from '../formats/gguf/index.js';
import { LLM_KV_SPLIT_NO } from '../formats/gguf/split.js';
import type { Kernels } from '../wasm/loader.js';
import { WEIGHT_TYPES } from '../wasm/kernel-table.js';
import { ModelError, ModelTooLargeError, UnsupportedError } from './errors.js';
import type { Tensor } from './graph/graph.js';
import { DEFAULT_ATTENTION_TILE } from './graph/ops.js';
import type { HParams } from './hparams.js';

/** What loading needs to know of each tensor in the file(s). */
export interface TensorSource {
  name: string;
  type: GGMLType;
  ne: readonly number[];
  /** File holding the bytes (split models have several). */
  file: string;
  /** Absolute byte offset of the data in that file. */
  offset: number;
  bytes: number;
}

/**
 * Bytes of a model file that is not a path read with node:fs: a Blob, an
 * ArrayBuffer, a fetched stream (browsers, or any caller with the bytes).
 * readInto, when present, fills WASM memory without an intermediate copy.
 */
export interface TensorByteSource extends ByteSource {
  /** Reads up to dest.length bytes from offset into dest; resolves to the count read (0: the end). */
  readInto?(offset: number, dest: Uint8Array): Promise<number>;
}

export interface LoadProgress {
  loadedBytes: number;
  totalBytes: number;
}

/** wasm32's ceiling: the most one WebAssembly memory holds. */
export const WASM_MEMORY_LIMIT = 4 * 1024 ** 3;
/** Kept free in each memory for the module's own data, thread stacks and the allocator. */
export const MARGIN = 64 * 1024 ** 2;

const ALIGN = 64;
const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/**
 * Bytes the weights take in WASM memory: each file's tensor data is copied as
 * one span (tensors keep their file offsets, so one sequential read per file).
 */
export function weightBytes(tensors: readonly TensorSource[]): number {
  let total = 0;
  for (const { lo, hi } of spans(tensors).values()) total += alignUp(hi - lo);
  return total;
}

/** Per file, the byte range holding all its tensors. */
function spans(tensors: readonly TensorSource[]): Map<string, { lo: number; hi: number }> {
  const m = new Map<string, { lo: number; hi: number }>();
  for (const t of tensors) {
    const s = m.get(t.file);
    if (!s) m.set(t.file, { lo: t.offset, hi: t.offset + t.bytes });
    else {
      s.lo = Math.min(s.lo, t.offset);
      s.hi = Math.max(s.hi, t.offset + t.bytes);
    }
  }
  return m;
}

/**
 * Throws UnsupportedError, before any tensor data is read, for the first
 * tensor whose type the kernels cannot read (an i-quant today), naming the
 * tensor, its type and the types that run.
 */
export function checkWeightTypes(file: string, tensors: readonly TensorSource[]): void {
  const supported: readonly string[] = WEIGHT_TYPES;
  for (const t of tensors) {
    const name = ggmlTypeInfo(t.type)?.name;
    if (name !== undefined && supported.includes(name)) continue;
    const type = name?.toUpperCase() ?? `type ${t.type}`;
    throw new UnsupportedError(`${file}: tensor ${t.name} is ${type}, a weight type run-gguf cannot run yet ` +
      `(it runs ${WEIGHT_TYPES.map((n) => n.toUpperCase()).join(', ')})`, t.name, type);
  }
}

/**
 * Throws ModelTooLargeError, before any tensor data is read, when weights +
 * KV cache + scratch exceed the machine's memory (Node: its physical memory;
 * browsers do not say, and find out when a memory cannot grow). Models past
 * one WebAssembly memory's 4 GiB are spread over several (runtime/shards.ts).
 */
export function checkFits(file: string, weights: number, kvCache: number, scratch: number, machineBytes: number | undefined): void {
  const need = weights + kvCache + scratch + MARGIN;
  if (machineBytes !== undefined && need > machineBytes) {
    const mb = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;
    throw new ModelTooLargeError(
      `model needs ${mb(need)} (weights ${mb(weights)} + KV cache ${mb(kvCache)} + scratch ${mb(scratch + MARGIN)}) ` +
        `but this machine has ${mb(machineBytes)} of memory; try a smaller context (-c) or a smaller quantization`,
      file, need, machineBytes);
  }
}

/** What a context's fit check needs of its model, measured when it was loaded. */
export interface ModelFit {
  /** The machine's memory (undefined in browsers, which do not say). */
  machineBytes: number | undefined;
  /** The most bytes one of the model's WebAssembly memories may hold. */
  memoryBytes: number;
  /** Weight bytes in each memory (index = memory). */
  weightBytes: readonly number[];
}

/** The most bytes one malloc can take: emscripten's sbrk takes a signed 32-bit increment. */
export const MAX_ALLOCATION = 2 ** 31 - 1 - ALIGN;

const mib = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;

/**
 * Throws ModelTooLargeError, before anything is allocated, when a context's
 * KV cache (`kvBytes` per layer, in the layer's memory) does not fit: beside
 * the weights in the machine's memory (checkFits), beside its memory's
 * weights in one WebAssembly memory, or one layer's K or V in one allocation.
 * Every size is a double computed from bounded hparams, so nothing wraps.
 */
export function checkContextFits(
  file: string, fit: ModelFit, nLayer: number, layerMemory: (il: number) => number,
  kvBytesPerLayer: number, largestTensor: number, scratch: number, what: string,
): void {
  const weights = fit.weightBytes.reduce((a, b) => a + b, 0);
  checkFits(file, weights, kvBytesPerLayer * nLayer, scratch, fit.machineBytes);
  const perMemory = fit.weightBytes.map(() => 0);
  for (let il = 0; il < nLayer; il++) perMemory[layerMemory(il)] = (perMemory[layerMemory(il)] ?? 0) + kvBytesPerLayer;
  const reserve = Math.min(scratch + MARGIN, fit.memoryBytes / 4);
  perMemory.forEach((kv, m) => {
    const need = (fit.weightBytes[m] ?? 0) + kv + reserve;
    if (need > fit.memoryBytes) {
      throw new ModelTooLargeError(
        `${what} needs a KV cache of ${mib(kv)} in WebAssembly memory ${m}, which holds ${mib(fit.weightBytes[m] ?? 0)} of weights ` +
          `and ${mib(reserve)} of scratch: ${mib(need)}, more than one memory's ${mib(fit.memoryBytes)}; try a smaller context (-c)`,
        file, need, fit.memoryBytes);
    }
  });
  if (largestTensor > MAX_ALLOCATION) {
    throw new ModelTooLargeError(
      `${what} needs ${mib(largestTensor)} for one layer's K or V cache, more than one allocation holds (${mib(MAX_ALLOCATION)}); try a smaller context (-c)`,
      file, largestTensor, MAX_ALLOCATION);
  }
}

/** The machine's physical memory in Node; undefined elsewhere. */
export async function machineMemory(): Promise<number | undefined> {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (!proc?.versions?.node) return undefined;
  const osModule = 'node:os';
  const os = (await import(/* @vite-ignore */ osModule)) as typeof import('node:os');
  return os.totalmem();
}

/**
 * Scratch a graph needs beyond weights and KV cache, roughly: activations of
 * one 512-token batch, and attention's scores, which exist for one tile of
 * cells at a time (kernels/ops-attention.c), per head and per thread (up to 8
 * counted), however long the context.
 */
export function scratchEstimate(hp: HParams, nCtx: number): number {
  const batch = 512;
  const widest = Math.max(hp.n_embd, hp.n_ff, hp.n_vocab / 8) * 4;
  return batch * widest * 8 + hp.n_head * Math.min(nCtx, DEFAULT_ATTENTION_TILE) * 4 * 8;
}

const CHUNK = 16 * 1024 * 1024;

/**
 * The longest stretch allocated at once: emscripten's sbrk takes a signed
 * 32-bit increment, so one malloc past 2 GiB fails even in a 4 GiB memory.
 */
const MAX_RUN = 1024 ** 3;

/** A stretch of one file whose tensors all go to one memory, in one allocation: read with large sequential reads. */
interface Run {
  file: string;
  lo: number;
  hi: number;
  mem: number;
  base: number;
  /** Its tensors in file order; `next` is the first not yet handed to onTensor. */
  tensors: TensorSource[];
  next: number;
}

/**
 * Copies every tensor's bytes into its memory (memoryOf: runtime/shards.ts;
 * all in memory 0 unless the model is spread over several). Consecutive
 * tensors of a file that go to the same memory keep their relative offsets
 * (GGUF aligns them, to 32 bytes by default) and are read as one stretch of
 * at most MAX_RUN bytes, in file order, into one allocation.
 * Returns graph tensors (kind 'weight') by name and the regions to free.
 */
export interface LoadWeightsOptions {
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
  /** Byte sources by file name; any other file is a path, read with node:fs. */
  sources?: ReadonlyMap<string, TensorByteSource>;
  /**
   * Called once per tensor as soon as all its bytes are in memory, while the
   * next chunk is being read, so that CPU work on the weights (repacking)
   * overlaps the reads instead of following them; returns the tensor to keep.
   */
  onTensor?: (t: Tensor) => Tensor;
}

export async function loadWeights(
  memories: readonly Kernels[],
  tensors: readonly TensorSource[],
  memoryOf: (name: string) => number,
  { onProgress, signal, sources, onTensor }: LoadWeightsOptions = {},
): Promise<{ weights: Map<string, Tensor>; regions: { mem: number; ptr: number }[] }> {
  for (const t of tensors) if (!ggmlTypeInfo(t.type)) throw new ModelError(`tensor ${t.name} has unknown type ${t.type}`, t.file, t.name);
  const order = [...tensors].sort((a, b) => (a.file === b.file ? a.offset - b.offset : a.file < b.file ? -1 : 1));
  const runs: Run[] = [];
  for (const t of order) {
    const mem = memoryOf(t.name);
    const last = runs.at(-1);
    const joins = last && last.file === t.file && last.mem === mem && t.offset + t.bytes - last.lo <= MAX_RUN;
    const run = joins ? last : { file: t.file, lo: t.offset, hi: t.offset, mem, base: 0, tensors: [], next: 0 };
    if (run !== last) runs.push(run);
    run.hi = Math.max(run.hi, t.offset + t.bytes);
    run.tensors.push(t);
  }
  const regions: { mem: number; ptr: number }[] = [];
  let total = 0;
  try {
    for (const r of runs) {
      const ptr = memories[r.mem]!.malloc(r.hi - r.lo + ALIGN);
      regions.push({ mem: r.mem, ptr });
      r.base = alignUp(ptr);
      total += r.hi - r.lo;
    }
    let loaded = 0;
    let open: { file: string; fh: Required<Pick<TensorByteSource, 'readInto' | 'close'>> } | undefined;
    const close = async () => {
      // a caller's source stays open (it may read it again); a path's handle is ours
      if (open && !sources?.has(open.file)) await open.fh.close();
      open = undefined;
    };
    const weights = new Map<string, Tensor>();
    const tensorOf = (t: TensorSource, run: Run): Tensor =>
      ({ id: -1, name: t.name, type: t.type, ne: t.ne, kind: 'weight', ptr: run.base + (t.offset - run.lo), mem: run.mem });
    // tensors complete in memory and not yet handed to onTensor
    const ready: Tensor[] = [];
    const complete = (r: Run, upTo: number) => {
      while (r.next < r.tensors.length && r.tensors[r.next]!.offset + r.tensors[r.next]!.bytes <= upTo) ready.push(tensorOf(r.tensors[r.next++]!, r));
    };
    const drain = () => {
      for (let t = ready.shift(); t; t = ready.shift()) weights.set(t.name, onTensor ? onTensor(t) : t);
    };
    try {
      for (const r of runs) {
        if (open?.file !== r.file) {
          await close();
          const given = sources?.get(r.file);
          open = { file: r.file, fh: given ? withReadInto(given) as Required<Pick<TensorByteSource, 'readInto' | 'close'>> : await openPath(r.file) };
        }
        const k = memories[r.mem]!;
        for (let done = 0; done < r.hi - r.lo;) {
          signal?.throwIfAborted();
          const n = Math.min(CHUNK, r.hi - r.lo - done);
          // a fresh view each time: the memory may have grown since the last one
          // (the memories are shared, so growing during the read keeps this view valid)
          const reading = open.fh.readInto(r.lo + done, k.bytes(r.base + done, n));
          try {
            drain();
          } catch (e) {
            await reading.catch(() => 0);
            throw e;
          }
          const bytesRead = await reading;
          if (bytesRead === 0) throw new ModelError(`tensor data ends early, at byte ${r.lo + done} of ${r.hi}`, r.file);
          done += bytesRead;
          loaded += bytesRead;
          complete(r, r.lo + done);
          onProgress?.({ loadedBytes: loaded, totalBytes: total });
        }
        complete(r, r.hi); // empty tensors, which no read completes
      }
      drain();
    } finally {
      await close();
    }
    return { weights, regions };
  } catch (e) {
    for (const { mem, ptr } of regions) memories[mem]!.free(ptr);
    throw e;
  }
}

/**
 * A path's positioned reads straight into WASM memory. node:fs is imported
 * on first use, so that browsers (which pass byte sources) never load it.
 */
async function openPath(path: string): Promise<Required<Pick<TensorByteSource, 'readInto' | 'close'>>> {
  const fsModule = 'node:fs/promises';
  const { open } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
  const fh = await open(path, 'r');
  return {
    readInto: async (offset, dest) => (await fh.read(dest, 0, dest.length, offset)).bytesRead,
    close: () => fh.close(),
  };
}

/** Gives every source readInto (copying from read() where it has none). */
export function withReadInto(source: TensorByteSource): TensorByteSource & Required<Pick<TensorByteSource, 'readInto'>> {
  if (source.readInto) return source as TensorByteSource & Required<Pick<TensorByteSource, 'readInto'>>;
  return Object.assign(Object.create(source) as TensorByteSource, {
    readInto: async (offset: number, dest: Uint8Array) => {
      const n = Math.max(0, Math.min(dest.length, source.size - offset));
      if (n === 0) return 0;
      const bytes = await source.read(offset, n);
      dest.set(bytes.subarray(0, n));
      return Math.min(n, bytes.length);
    },
  });
}

/**
 * The header of a model given as byte sources: one file, or every shard of
 * a split model in any order (they are put in split.no order and checked to
 * belong together). Sources' names must differ: tensors are keyed by them.
 */
export async function readSourcesHeader(sources: readonly ByteSource[]): Promise<GGUFFile> {
  if (sources.length === 0) throw new RangeError('loadModel: no sources given');
  const names = new Set(sources.map((s) => s.name));
  if (names.size !== sources.length) throw new RangeError(`loadModel: sources need distinct names (got ${sources.map((s) => s.name).join(', ')})`);
  const headers: GGUFHeader[] = [];
  for (const [i, source] of sources.entries()) headers.push(await readGGUFHeader(source, { shard: i }));
  if (headers.length === 1) return { ...headers[0]!, shards: [headers[0]!] };
  const no = (h: GGUFHeader) => Number(h.metadata.get(LLM_KV_SPLIT_NO) ?? -1);
  headers.sort((a, b) => no(a) - no(b));
  headers.forEach((h, i) => {
    for (const t of h.tensors) t.shard = i;
  });
  return mergeShards(headers);
}
