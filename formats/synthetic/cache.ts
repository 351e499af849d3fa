// Random-weight models for benchmarks, written once to a cache folder and
// reused: `tinyllama-1.1b:Q4_K_M` is a 640 MB file that takes seconds to
// write and no download. Node only (files).
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readGGUF, writeGGUF } from '../gguf/index.js';
import { ggmlTypeInfo } from '../ggml-types.js';
import { quantizableTypes } from '../quant/index.js';
import type { RowsQuantizer } from '../quantize/rows.js';
import type { GGUFWriteSpec } from '../gguf/index.js';
import { GGMLType } from '../ggml-types.js';
import { GEMMA3N_SHAPES, gemma3nModelSpec } from './gemma3n.js';
import { GPT_OSS_SHAPES, gptOssModelSpec } from './gpt-oss.js';
import { DEEPSEEK2_SHAPES, deepseek2ModelSpec } from './deepseek2.js';
import { ERNIE_SHAPES, ernieModelSpec } from './ernie.js';
import { GRANITE_HYBRID_SHAPES, graniteHybridModelSpec } from './granitehybrid.js';
import { LFM2_SHAPES, lfm2ModelSpec } from './lfm2.js';
import { QWEN3NEXT_SHAPES, qwen3nextModelSpec } from './qwen3next.js';
import { GLM4MOE_SHAPES, glm4moeModelSpec } from './glm4moe.js';
import { LLAMA_SHAPES, llamaModelSpec } from './llama.js';
import { LLAMA4_SHAPES, llama4ModelSpec } from './llama4.js';
import { quantMixFor } from './mix.js';
import { MOE_BENCH_SHAPES, moeModelSpec } from './moe.js';
import type { SyntheticOptions } from './tensors.js';

/** The shapes `--synthetic` knows: every Llama-family shape (smollm3 and mistral3 too), the MoE shapes of real size, test-gpt-oss, ERNIE 4.5's, deepseek2's, glm4moe's, llama4's, test-gemma3n, the hybrids (test-lfm2, test-granitehybrid, test-qwen3next, test-qwen35, test-qwen35moe). */
const SHAPES: Readonly<Record<string, (type: GGMLType, o: SyntheticOptions) => GGUFWriteSpec>> = {
  ...Object.fromEntries(Object.entries(LLAMA_SHAPES).map(([name, s]) => [name, (type: GGMLType, o: SyntheticOptions) => llamaModelSpec(s, type, o)])),
  ...Object.fromEntries(Object.entries(MOE_BENCH_SHAPES).map(([name, s]) => [name, (type: GGMLType, o: SyntheticOptions) => moeModelSpec(s, type, o)])),
  // gpt-oss at test size: sinks, alternating 128-token window, biased experts with swiglu_oai
  'test-gpt-oss': (type, o) => gptOssModelSpec(GPT_OSS_SHAPES['gpt-oss-tiny']!, type, o),
  ...Object.fromEntries(Object.entries(ERNIE_SHAPES).map(([name, s]) => [name, (type: GGMLType, o: SyntheticOptions) => ernieModelSpec(s, type, o)])),
  ...Object.fromEntries(Object.entries(LFM2_SHAPES).map(([name, s]) => [name, (type: GGMLType, o: SyntheticOptions) => lfm2ModelSpec(s, type, o)])),
  ...Object.fromEntries(Object.entries(GRANITE_HYBRID_SHAPES).map(([name, s]) => [name, (type: GGMLType, o: SyntheticOptions) => graniteHybridModelSpec(s, type, o)])),
  ...Object.fromEntries(Object.entries(QWEN3NEXT_SHAPES).map(([name, s]) => [name, (type: GGMLType, o: SyntheticOptions) => qwen3nextModelSpec(s, type, o)])),
  // multi-head latent attention: DeepSeek-V2-Lite's layout and GLM-4.7-Flash's
  ...Object.fromEntries(Object.entries(DEEPSEEK2_SHAPES).map(([name, s]) => [name, (type: GGMLType, o: SyntheticOptions) => deepseek2ModelSpec(s, type, o)])),
  ...Object.fromEntries(Object.entries(GLM4MOE_SHAPES).map(([name, s]) => [name, (type: GGMLType, o: SyntheticOptions) => glm4moeModelSpec(s, type, o)])),
  ...Object.fromEntries(Object.entries(LLAMA4_SHAPES).map(([name, s]) => [name, (type: GGMLType, o: SyntheticOptions) => llama4ModelSpec(s, type, o)])),
  ...Object.fromEntries(Object.entries(GEMMA3N_SHAPES).map(([name, s]) => [name, (type: GGMLType, o: SyntheticOptions) => gemma3nModelSpec(s, type, o)])),
};

/** The names `--synthetic SHAPE:TYPE` takes. */
export function syntheticShapes(): string[] {
  return Object.keys(SHAPES);
}

/**
 * Random rows quantized per (type, row length, scale). Rows of a matrix are
 * drawn from these; see SyntheticOptions.distinctRows. Part of the cache
 * key: a file made with another value is rewritten.
 */
const DISTINCT_ROWS = 256;
/** Bumped when the generator's output changes, so older cached files are not reused. */
const GENERATOR_VERSION = 1;
const STAMP_KEY = 'run_gguf.synthetic';

/** $XDG_CACHE_HOME/run-gguf/synthetic, else ~/.cache/run-gguf/synthetic. */
export function syntheticCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'run-gguf', 'synthetic');
}

export interface SyntheticModelSpec {
  shape: string;
  /** As asked ("Q4_K_M", "q8_0", "Q4_K:pure"): see quantMix. */
  type: string;
  seed: number;
}

/** Parses SHAPE:TYPE[:pure]; the shape must be one of syntheticShapes(). */
export function parseSyntheticSpec(spec: string, seed = 1): SyntheticModelSpec {
  const i = spec.indexOf(':');
  if (i <= 0 || i === spec.length - 1) throw new RangeError(`"${spec}": expected SHAPE:TYPE, e.g. llama-160m:Q4_0 (shapes: ${syntheticShapes().join(', ')})`);
  const shape = spec.slice(0, i).toLowerCase();
  if (!SHAPES[shape]) throw new RangeError(`unknown synthetic shape "${spec.slice(0, i)}" (shapes: ${syntheticShapes().join(', ')})`);
  return { shape, type: spec.slice(i + 1), seed };
}

export interface SyntheticModel {
  path: string;
  /** True when this call wrote the file; false when the cached one was reused. */
  written: boolean;
  /** Milliseconds spent writing (0 when reused). */
  ms: number;
}

export interface EnsureSyntheticOptions {
  /** Default: syntheticCacheDir(). */
  dir?: string;
  /** Called before a file is written (it can take a while for large shapes). */
  onWrite?: (path: string) => void;
  /** Quantizes the rows of the types it handles (the C i-quant quantizers: runtime/quantize/wasm-quantizer.ts); the same bytes as without. */
  quantizer?: RowsQuantizer;
}

/**
 * The path of the cached model for `spec`, writing it first when it is
 * missing or was made by another generator version. The file is written
 * under a temporary name and renamed when complete, so an interrupted write
 * never leaves a file that a later call would take for finished. Tensors are
 * generated one at a time as they are written: memory stays bounded.
 */
export async function ensureSyntheticModel(spec: SyntheticModelSpec, options: EnsureSyntheticOptions = {}): Promise<SyntheticModel> {
  const build = SHAPES[spec.shape];
  if (!build) throw new RangeError(`unknown synthetic shape "${spec.shape}"`);
  const mix = quantMixFor(spec.type, build(GGMLType.F32, {}));
  const dir = options.dir ?? syntheticCacheDir();
  const fileName = `${spec.shape}-${mix.name.replace(':', '-')}${spec.seed === 1 ? '' : `-s${spec.seed}`}.gguf`;
  const path = join(dir, fileName);
  const stamp = `${spec.shape}:${mix.name} seed=${spec.seed} rows=${DISTINCT_ROWS} v${GENERATOR_VERSION}`;
  if (existsSync(path) && (await stampOf(path)) === stamp) return { path, written: false, ms: 0 };

  const writeSpec = build(mix.base, {
    seed: spec.seed,
    matrixType: mix.matrixType,
    fileType: mix.fileType,
    distinctRows: DISTINCT_ROWS,
    extraKV: [{ key: STAMP_KEY, value: stamp }],
    ...(options.quantizer ? { quantizer: options.quantizer } : {}),
  });
  const haveCodec = new Set(quantizableTypes());
  for (const t of new Set((writeSpec.tensors ?? []).map((x) => x.type))) {
    if (!haveCodec.has(t)) throw new RangeError(`no quantizer here for ${ggmlTypeInfo(t)?.name ?? t}`);
  }

  mkdirSync(dir, { recursive: true });
  removeAbandoned(dir, fileName);
  options.onWrite?.(path);
  const tmp = `${path}.partial-${process.pid}`;
  const t0 = performance.now();
  try {
    await writeGGUF(tmp, writeSpec);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { path, written: true, ms: performance.now() - t0 };
}

/** Partial files of this model whose writer is gone (killed mid-write): they would only take space. */
function removeAbandoned(dir: string, fileName: string): void {
  const prefix = `${fileName}.partial-`;
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(prefix)) continue;
    const pid = Number(f.slice(prefix.length));
    if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) rmSync(join(dir, f), { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, someone else's
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The generator stamp in a cached file's metadata, or undefined when it has none or is unreadable. */
async function stampOf(path: string): Promise<string | undefined> {
  try {
    if (statSync(path).size === 0) return undefined;
    const v = (await readGGUF(path)).metadata.get(STAMP_KEY);
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}
