// Reads a model's tensor bytes straight into WASM memory, in file order,
// after checking that weights + KV cache + scratch fit in wasm32's 4 GiB.
import { open } from 'node:fs/promises';
import { GGMLType, ggmlTypeInfo } from '../formats/ggml-types.js';
import type { Kernels } from '../wasm/loader.js';
import { ModelTooLargeError } from './errors.js';
import type { Tensor } from './graph/graph.js';

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

export interface LoadProgress {
  loadedBytes: number;
  totalBytes: number;
}

/** wasm32's ceiling; we keep a margin for the module's own data and the allocator. */
export const WASM_MEMORY_LIMIT = 4 * 1024 ** 3;
const MARGIN = 64 * 1024 ** 2;

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

/** Throws ModelTooLargeError, before any tensor data is read, when the model cannot fit. */
export function checkFits(file: string, weights: number, kvCache: number, scratch: number): void {
  const need = weights + kvCache + scratch + MARGIN;
  if (need > WASM_MEMORY_LIMIT) {
    const mb = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;
    throw new ModelTooLargeError(
      `model needs ${mb(need)} (weights ${mb(weights)} + KV cache ${mb(kvCache)} + scratch ${mb(scratch + MARGIN)}) ` +
        `but WebAssembly memory is limited to ${mb(WASM_MEMORY_LIMIT)}; try a smaller context (-c) or a smaller quantization`,
      file, need, WASM_MEMORY_LIMIT);
  }
}

const CHUNK = 16 * 1024 * 1024;

/**
 * Allocates one region for all weights and copies each file's tensor data
 * into it with large sequential reads. Tensors keep their relative file
 * offsets (GGUF aligns them, to 32 bytes by default), so a tensor's pointer is
 * the span's base plus its offset. Returns graph tensors (kind 'weight') by name.
 */
export async function loadWeights(
  kernels: Kernels,
  tensors: readonly TensorSource[],
  onProgress?: (p: LoadProgress) => void,
  signal?: AbortSignal,
): Promise<{ weights: Map<string, Tensor>; region: number }> {
  for (const t of tensors) if (!ggmlTypeInfo(t.type)) throw new Error(`tensor ${t.name}: unknown type ${t.type}`);
  const fileSpans = spans(tensors);
  const total = weightBytes(tensors);
  const region = kernels.malloc(total + ALIGN);
  const bases = new Map<string, number>();
  let at = alignUp(region);
  for (const [file, { lo, hi }] of fileSpans) {
    bases.set(file, at);
    at += alignUp(hi - lo);
  }
  let loaded = 0;
  try {
    for (const [file, { lo, hi }] of fileSpans) {
      const base = bases.get(file)!;
      const fh = await open(file, 'r');
      try {
        for (let done = 0; done < hi - lo;) {
          signal?.throwIfAborted();
          const n = Math.min(CHUNK, hi - lo - done);
          // a fresh view each time: the memory may have grown since the last one
          const { bytesRead } = await fh.read(kernels.bytes(base + done, n), 0, n, lo + done);
          if (bytesRead === 0) throw new Error(`${file}: tensor data ends early, at byte ${lo + done} of ${hi}`);
          done += bytesRead;
          loaded += bytesRead;
          onProgress?.({ loadedBytes: loaded, totalBytes: total });
        }
      } finally {
        await fh.close();
      }
    }
  } catch (e) {
    kernels.free(region);
    throw e;
  }
  const weights = new Map<string, Tensor>();
  for (const t of tensors) {
    const ptr = bases.get(t.file)! + (t.offset - fileSpans.get(t.file)!.lo);
    weights.set(t.name, { id: -1, name: t.name, type: t.type, ne: t.ne, kind: 'weight', ptr });
  }
  return { weights, region };
}
