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

export function weightBytes(tensors: readonly TensorSource[]): number {
  return tensors.reduce((s, t) => s + alignUp(t.bytes), 0);
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
 * Allocates one region for all weights and reads each tensor into it in file
 * order. Returns graph tensors (kind 'weight') by name and the region's pointer.
 */
export async function loadWeights(
  kernels: Kernels,
  tensors: readonly TensorSource[],
  onProgress?: (p: LoadProgress) => void,
  signal?: AbortSignal,
): Promise<{ weights: Map<string, Tensor>; region: number }> {
  const total = weightBytes(tensors);
  const region = kernels.malloc(total + ALIGN);
  const base = alignUp(region);
  const weights = new Map<string, Tensor>();
  const order = [...tensors].map((t, i) => ({ t, i })).sort((a, b) => a.t.file.localeCompare(b.t.file) || a.t.offset - b.t.offset);
  let at = base;
  let loaded = 0;
  const placed = new Map<number, number>();
  for (const { i, t } of order) {
    placed.set(i, at);
    at += alignUp(t.bytes);
  }
  try {
    const byFile = new Map<string, { t: TensorSource; i: number }[]>();
    for (const e of order) (byFile.get(e.t.file) ?? byFile.set(e.t.file, []).get(e.t.file)!).push(e);
    for (const [file, list] of byFile) {
      const fh = await open(file, 'r');
      try {
        for (const { t, i } of list) {
          const dst = placed.get(i)!;
          for (let done = 0; done < t.bytes;) {
            signal?.throwIfAborted();
            const n = Math.min(CHUNK, t.bytes - done);
            // a fresh view each time: the memory may have grown since the last one
            const view = kernels.bytes(dst + done, n);
            const { bytesRead } = await fh.read(view, 0, n, t.offset + done);
            if (bytesRead !== n) throw new Error(`${file}: tensor ${t.name} is truncated at byte ${t.offset + done + bytesRead}`);
            done += n;
            loaded += n;
            onProgress?.({ loadedBytes: loaded, totalBytes: total });
          }
        }
      } finally {
        await fh.close();
      }
    }
  } catch (e) {
    kernels.free(region);
    throw e;
  }
  tensors.forEach((t, i) => {
    if (!ggmlTypeInfo(t.type)) throw new Error(`tensor ${t.name}: unknown type ${t.type}`);
    weights.set(t.name, { id: -1, name: t.name, type: t.type, ne: t.ne, kind: 'weight', ptr: placed.get(i)! });
  });
  return { weights, region };
}
