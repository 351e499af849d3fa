// Calling row kernels directly on WebAssembly memory, for the tests that hold
// a kernel to its scalar reference bit for bit (kernels-altup, kernels-ssm):
// the kernels (RUN_GGUF_SIMD picks the build), f32 buffers in an arena, and
// the bytes of a result to compare.
import { loadKernels, type Kernels, type Ptr } from '../../wasm/loader.js';
import { wasmArena } from './run-graph.js';

/** A kernel export called with numbers (pointers, counts, floats, then ith, nth). */
export type KernelFn = (...args: number[]) => number;

export interface KernelCalls {
  K: Kernels;
  /** Reserves bytes (contents unset), 64-byte aligned. */
  alloc(bytes: number): Ptr;
  /** Copies floats in. */
  put(data: Float32Array): Ptr;
  /** A copy of n floats at p. */
  get(p: Ptr, n: number): Float32Array;
  /** Releases every buffer (give it to test.after). */
  free(): void;
}

export async function kernelCalls(): Promise<KernelCalls> {
  const K = await loadKernels();
  const arena = wasmArena(K);
  return {
    K,
    alloc: (bytes) => arena.alloc(bytes),
    put: (data) => arena.put(data),
    get: (p, n) => new Float32Array(K.floats(p, n)),
    free: () => arena.free(),
  };
}

/** The bytes of a float array, for bit-exact comparison (Buffer.equals) and messages. */
export const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
