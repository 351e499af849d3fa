// Loads wasm/kernels.wasm (built by wasm/build.sh from kernels/*.c) in Node,
// Electron or a browser, on one shared WebAssembly.Memory.
//
// Node and browsers differ only in how the bytes arrive: a file: URL is read
// with node:fs, anything else is fetched (and compiled while it streams when
// the server sends application/wasm). Everything after that is one path.
//
// Every export is checked against wasm/kernel-table.ts (names and parameter
// counts) when an instance is made: WebAssembly calls are unchecked, so a
// stale build would otherwise run with zeros for missing arguments.
//
// Memory: the module imports env.memory, SHARED (so later worker threads can
// instantiate the same module on it). Pointers are byte offsets into it.
// Views over memory.buffer go stale when the memory grows (malloc grows it),
// so take views from the helpers here each time rather than keeping them.

import { probeDotAdd, type DotProbe } from './dot-probe.js';
import { RELAXED_EXPORTS, checkExports, type BaselineKernelName, type KernelArgs, type KernelParams } from './kernel-table.js';

/**
 * The most bytes one malloc may ask for: wasm32 sizes are 32-bit, and
 * emscripten's sbrk grows the heap by a signed 32-bit increment.
 */
export const MAX_MALLOC_BYTES = 2 ** 31 - 1;

/** Byte offset into the kernels' memory. */
export type Ptr = number;

/** out[r] = dot(row r, a) for r in [r0, r1); rows are rowBytes apart, n elements long. */
export type MatvecFn = (w: Ptr, rowBytes: number, a: Ptr, out: Ptr, n: number, r0: number, r1: number) => void;
/** Dot of one weight row with an activation row already in the weight type's vecDotType. */
export type VecDotFn = (n: number, w: Ptr, a: Ptr) => number;
/** n elements from x to y: activation quantizers, f32 -> f16/bf16 converters, dequantizers. */
export type RowFn = (x: Ptr, y: Ptr, n: number) => void;

/** The exports most callers use, with their signatures. */
interface TypedExports {
  malloc(size: number): Ptr;
  free(ptr: Ptr): void;
  stackSave(): Ptr;
  stackRestore(ptr: Ptr): void;

  quantize_row_q8_0: RowFn;
  quantize_row_q8_1: RowFn;
  convert_row_f32_to_f16: RowFn;
  convert_row_f32_to_bf16: RowFn;

  vec_dot_f32_f32: VecDotFn;
  vec_dot_f16_f16: VecDotFn;
  vec_dot_bf16_bf16: VecDotFn;
  vec_dot_q4_0_q8_0: VecDotFn;
  vec_dot_q4_1_q8_1: VecDotFn;
  vec_dot_q5_0_q8_0: VecDotFn;
  vec_dot_q5_1_q8_1: VecDotFn;
  vec_dot_q8_0_q8_0: VecDotFn;

  matvec_f32: MatvecFn;
  matvec_f16: MatvecFn;
  matvec_bf16: MatvecFn;
  matvec_q4_0: MatvecFn;
  matvec_q4_1: MatvecFn;
  matvec_q5_0: MatvecFn;
  matvec_q5_1: MatvecFn;
  matvec_q8_0: MatvecFn;

  dequantize_row_f16: RowFn;
  dequantize_row_bf16: RowFn;
  dequantize_row_q4_0: RowFn;
  dequantize_row_q4_1: RowFn;
  dequantize_row_q5_0: RowFn;
  dequantize_row_q5_1: RowFn;
  dequantize_row_q8_0: RowFn;
}

// Compile-time: each signature above takes as many parameters as the table says.
type ArityAgrees = { [K in keyof TypedExports]: Parameters<TypedExports[K]>['length'] extends KernelParams<K>['length'] ? true : false };
type AssertTrue<T extends true> = T;
type _TypedExportsMatchTable = AssertTrue<ArityAgrees[keyof TypedExports]>;

/**
 * Every function the baseline build exports (wasm/kernel-table.ts; loadKernels
 * checks them all): the common ones typed above, the others as one number per
 * parameter of the table.
 */
export type KernelExports = TypedExports & {
  readonly [K in Exclude<BaselineKernelName, keyof TypedExports>]: (...args: KernelArgs<K>) => unknown;
};

/** 64 KiB WebAssembly pages. */
export const PAGE_BYTES = 65536;
/** The module's declared minimum (build.sh: -sINITIAL_MEMORY=4MB); the memory must start at least this big. */
export const MIN_PAGES = 64;
/** wasm32's ceiling, 4 GiB (build.sh: -sMAXIMUM_MEMORY=4GB). */
export const MAX_PAGES = 65536;

/** Where the committed build lives, relative to this file once compiled to dist/wasm/. */
export const DEFAULT_WASM_URL = new URL('../../wasm/kernels.wasm', import.meta.url);
/** The relaxed-SIMD kernels (wasm/build.sh), beside the baseline build. */
export const RELAXED_WASM_NAME = 'kernels-relaxed.wasm';
/** The same kernels built with i32x4.relaxed_dot_i8x16_i7x16_add_s (wasm/build.sh, kernels/relaxed/relaxed.h), beside it. */
export const RELAXED_DOT_WASM_NAME = 'kernels-relaxed-dot.wasm';

/**
 * Which SIMD the kernels use: 'relaxed' adds the relaxed-SIMD module's
 * kernels over the baseline ones where the engine validates it (Chrome and
 * Electron, Node 22+, Node 20 with the V8 flag this loader sets); 'baseline'
 * is WebAssembly SIMD128 alone, on every engine. 'relaxed-dot' is the
 * relaxed module's dot-add build (same kernels, same bits; faster where the
 * CPU has AVX-VNNI), where the engine validates it without flags (not Node
 * 20). Default 'auto': relaxed-dot where it validates and a probe at load
 * finds it faster (wasm/dot-probe.ts), else relaxed when available, unless
 * RUN_GGUF_SIMD (baseline, relaxed, relaxed-dot) says otherwise.
 */
export type SimdLevel = 'auto' | 'relaxed-dot' | 'relaxed' | 'baseline';

export interface LoadOptions {
  /** Where to get the .wasm: a file: URL (Node reads it) or an http(s)/blob URL (fetched). */
  url?: URL | string;
  /** Already-compiled module (what a worker receives), skipping the load. */
  module?: WebAssembly.Module;
  /** Memory to instantiate on (shared, max MAX_PAGES); a new one when absent. */
  memory?: WebAssembly.Memory;
  /** Initial pages of a new memory (at least MIN_PAGES). */
  initialPages?: number;
  /** See SimdLevel. 'relaxed' and 'relaxed-dot' throw when the engine cannot run them. */
  simd?: SimdLevel;
  /** Already-compiled relaxed module (what a worker receives; either build); null: baseline only. */
  relaxedModule?: WebAssembly.Module | null;
}

export interface Kernels {
  readonly exports: KernelExports;
  readonly module: WebAssembly.Module;
  /** The relaxed-SIMD module whose kernels replace baseline ones here, or null. */
  readonly relaxedModule: WebAssembly.Module | null;
  /** 'relaxed' or 'baseline': what this instance runs. */
  readonly simd: 'relaxed' | 'baseline';
  /**
   * The relaxed module is the dot-add build (kernels-relaxed-dot.wasm: same
   * exports, same bits), as known to the thread that compiled it (a pool
   * worker runs the module it was sent, and reports false).
   */
  readonly dotAdd: boolean;
  readonly memory: WebAssembly.Memory;
  /** Moves this thread's stack (both modules) to the region ending at `top` (workers: their own stack). */
  moveStack(top: Ptr): void;
  /** An export by name, or undefined when this instance lacks it (the relaxed module's own kernels on baseline SIMD, or a name neither module has). */
  lookup<T extends (...args: never[]) => unknown>(name: string): T | undefined;
  /** malloc that throws instead of returning 0. Main thread only: dlmalloc is not thread safe here. */
  malloc(bytes: number): Ptr;
  free(ptr: Ptr): void;
  /** Whole-memory views over the current buffer (remade after growth). */
  u8(): Uint8Array;
  i8(): Int8Array;
  u16(): Uint16Array;
  i32(): Int32Array;
  f32(): Float32Array;
  /** Copy a typed array's bytes into memory at ptr. */
  write(ptr: Ptr, src: ArrayBufferView): void;
  /** A fresh Float32Array view of len floats at ptr (ptr 4-aligned). */
  floats(ptr: Ptr, len: number): Float32Array;
  /** A fresh Uint8Array view of len bytes at ptr. */
  bytes(ptr: Ptr, len: number): Uint8Array;
}

async function compile(url: URL): Promise<WebAssembly.Module> {
  if (url.protocol === 'file:') {
    // a variable specifier keeps browser bundlers from trying to bundle node:fs
    const fsModule = 'node:fs/promises';
    const { readFile } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
    return WebAssembly.compile(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`loadKernels: fetching ${url.href} failed: ${response.status} ${response.statusText}`);
  if (typeof WebAssembly.compileStreaming === 'function' &&
      response.headers.get('content-type')?.split(';')[0]?.trim() === 'application/wasm') {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

async function readBytes(url: URL): Promise<Uint8Array<ArrayBuffer> | null> {
  try {
    if (url.protocol === 'file:') {
      const fsModule = 'node:fs/promises';
      const { readFile } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
      return new Uint8Array(await readFile(url));
    }
    const response = await fetch(url);
    return response.ok ? new Uint8Array(await response.arrayBuffer()) : null;
  } catch {
    return null;
  }
}

function envSimd(): SimdLevel {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.RUN_GGUF_SIMD;
  return v === 'baseline' || v === 'relaxed' || v === 'relaxed-dot' ? v : 'auto';
}

/** Compiled dot-add modules (a worker's structured clone is another object: it reports dotAdd false). */
const dotModules = new WeakSet<WebAssembly.Module>();

/** Why this engine may or may not run the dot-add build: the loader's decision, once per thread. */
export interface DotAddSupport {
  /** The module validates without engine flags and the engine is not one known to miscompute it. */
  readonly runs: boolean;
  /** And the probe found it faster: 'auto' takes it. */
  readonly chosen: boolean;
  readonly reason: string;
  readonly probe: DotProbe | null;
}

let dotSupport: DotAddSupport | null = null;

/**
 * Whether the dot-add build can run here (and is worth it). Decided before
 * the loader sets Node 20's relaxed-SIMD flag and from V8's version, since
 * with that flag Node 20 (V8 11.3) validates i32x4.relaxed_dot_i8x16_i7x16_add_s
 * and its first tier then computes wrong sums. Relaxed SIMD shipped unflagged
 * in V8 11.4.
 */
export function dotAddSupport(): DotAddSupport {
  if (dotSupport) return dotSupport;
  const v8 = (globalThis as { process?: { versions?: { v8?: string } } }).process?.versions?.v8;
  const m = v8 ? /^(\d+)\.(\d+)/.exec(v8) : null;
  if (m && (Number(m[1]) < 11 || (Number(m[1]) === 11 && Number(m[2]) < 4))) {
    dotSupport = { runs: false, chosen: false, reason: `V8 ${v8} predates unflagged relaxed SIMD (11.4); its dot-add is not trusted`, probe: null };
    return dotSupport;
  }
  const probe = probeDotAdd();
  const runs = Number.isFinite(probe.speedup);
  dotSupport = { runs, chosen: runs && probe.fast, reason: probe.reason, probe };
  return dotSupport;
}

/**
 * The relaxed-SIMD module, or null where the engine cannot run it. Node 20's
 * V8 implements relaxed SIMD behind a flag; setting it before the first
 * compile is enough (flags are per process, workers get compiled modules).
 */
async function compileRelaxed(url: URL, level: SimdLevel): Promise<WebAssembly.Module | null> {
  if (level === 'baseline') return null;
  // beside the baseline build; a data: or blob: URL has no "beside"
  const beside = (name: string) => {
    try {
      return new URL(name, url);
    } catch {
      return null;
    }
  };
  if (level === 'relaxed-dot' || (level === 'auto' && dotAddSupport().chosen)) {
    const support = dotAddSupport();
    if (!support.runs) throw new Error(`loadKernels: this engine cannot run ${RELAXED_DOT_WASM_NAME}: ${support.reason}`);
    const dotUrl = beside(RELAXED_DOT_WASM_NAME);
    const dotBytes = dotUrl ? await readBytes(dotUrl) : null;
    if (dotBytes && WebAssembly.validate(dotBytes)) {
      const module = await WebAssembly.compile(dotBytes);
      dotModules.add(module);
      return module;
    }
    if (level === 'relaxed-dot') throw new Error(`loadKernels: no valid ${RELAXED_DOT_WASM_NAME} could be read beside ${url.href}`);
  }
  const relaxedUrl = beside(RELAXED_WASM_NAME);
  const bytes = relaxedUrl ? await readBytes(relaxedUrl) : null;
  if (!bytes) {
    if (level === 'relaxed') throw new Error(`loadKernels: no ${RELAXED_WASM_NAME} could be read beside ${url.href}`);
    return null;
  }
  let valid = WebAssembly.validate(bytes);
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (!valid && proc?.versions?.node) {
    const v8Module = 'node:v8';
    const v8 = (await import(/* @vite-ignore */ v8Module)) as typeof import('node:v8');
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    valid = WebAssembly.validate(bytes);
  }
  if (!valid) {
    if (level === 'relaxed') throw new Error('loadKernels: this engine has no relaxed SIMD');
    return null;
  }
  return WebAssembly.compile(bytes);
}

/** Compile (or reuse) the kernels module and instantiate it on a shared memory. */
export async function loadKernels(options: LoadOptions = {}): Promise<Kernels> {
  const url = options.url === undefined ? DEFAULT_WASM_URL : new URL(options.url, DEFAULT_WASM_URL);
  const level = options.simd && options.simd !== 'auto' ? options.simd : envSimd();
  const [module, relaxedModule] = await Promise.all([
    options.module ?? compile(url),
    options.relaxedModule !== undefined ? options.relaxedModule : compileRelaxed(url, level),
  ]);
  const initial = options.initialPages ?? MIN_PAGES;
  if (initial < MIN_PAGES) throw new RangeError(`loadKernels: initialPages must be at least ${MIN_PAGES}`);
  const memory = options.memory ?? new WebAssembly.Memory({ initial, maximum: MAX_PAGES, shared: true });

  // Emscripten's sbrk calls this after memory.grow; views are checked lazily instead.
  const imports = { env: { memory, emscripten_notify_memory_growth: (_index: number) => {} } };
  // A second instance on a memory already in use does not re-run the data
  // initialisation: emcc guards it with an atomic flag in that memory.
  const instance = await WebAssembly.instantiate(module, imports);
  const base = instance.exports as Record<string, unknown>;
  checkExports(base, 'baseline', url.href);
  // the relaxed module holds no data: it reads the grid i-quants' tables where this instance keeps them
  const relaxedImports = { env: { memory, iq_grids: base.iq_grids as () => number } };
  const relaxed = relaxedModule ? (await WebAssembly.instantiate(relaxedModule, relaxedImports)).exports as Record<string, unknown> : null;
  const relaxedSp = relaxed?.__stack_pointer as WebAssembly.Global | undefined;
  const dotAdd = relaxedModule ? dotModules.has(relaxedModule) : false;
  if (relaxed && !relaxedSp) throw new Error(`loadKernels: ${dotAdd ? RELAXED_DOT_WASM_NAME : RELAXED_WASM_NAME} does not export __stack_pointer; rebuild it with npm run build:wasm`);
  if (relaxed) checkExports(relaxed, 'relaxed', dotAdd ? RELAXED_DOT_WASM_NAME : RELAXED_WASM_NAME);
  // the relaxed module's listed overrides replace the baseline kernels of the same name, and add its own
  const raw: Record<string, unknown> = { ...base };
  if (relaxed) for (const name of RELAXED_EXPORTS) raw[name] = relaxed[name];
  const exports = raw as unknown as KernelExports;
  // C constructors (none today) run once per memory, from its first instance.
  if (!options.memory && typeof raw._initialize === 'function') (raw._initialize as () => void)();
  // the relaxed module runs on whatever stack this thread's baseline instance has
  if (relaxedSp) relaxedSp.value = exports.stackSave();

  let buffer: ArrayBufferLike | null = null;
  let views: { u8: Uint8Array; i8: Int8Array; u16: Uint16Array; i32: Int32Array; f32: Float32Array };
  const current = () => {
    const b = memory.buffer;
    // A grown shared memory hands out a new, longer buffer; the old one keeps its length.
    if (buffer === null || buffer.byteLength !== b.byteLength) {
      buffer = b;
      views = { u8: new Uint8Array(b), i8: new Int8Array(b), u16: new Uint16Array(b), i32: new Int32Array(b), f32: new Float32Array(b) };
    }
    return views;
  };

  return {
    exports,
    module,
    relaxedModule: relaxedModule ?? null,
    simd: relaxed ? 'relaxed' : 'baseline',
    dotAdd,
    memory,
    moveStack(top: Ptr) {
      exports.stackRestore(top);
      if (relaxedSp) relaxedSp.value = top;
    },
    lookup<T extends (...args: never[]) => unknown>(name: string): T | undefined {
      const f = raw[name];
      return typeof f === 'function' ? (f as T) : undefined;
    },
    malloc(bytes: number): Ptr {
      // the export takes an i32, so 2^32 + 64 would arrive as 64 and "succeed":
      // every size is checked here, in doubles, before it reaches wasm
      if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > MAX_MALLOC_BYTES) {
        throw new RangeError(`kernels: cannot allocate ${bytes} bytes: one allocation takes 0 to ${MAX_MALLOC_BYTES} bytes`);
      }
      const p = exports.malloc(bytes) >>> 0;
      if (p === 0 && bytes > 0) throw new RangeError(`kernels: out of memory allocating ${bytes} bytes (memory is ${memory.buffer.byteLength} bytes)`);
      return p;
    },
    free: (ptr) => exports.free(ptr),
    u8: () => current().u8,
    i8: () => current().i8,
    u16: () => current().u16,
    i32: () => current().i32,
    f32: () => current().f32,
    write(ptr: Ptr, src: ArrayBufferView) {
      current().u8.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), ptr);
    },
    floats: (ptr, len) => new Float32Array(current().u8.buffer, ptr, len),
    bytes: (ptr, len) => new Uint8Array(current().u8.buffer, ptr, len),
  };
}
