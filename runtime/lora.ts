// LoRA adapters: GGUF files with general.type = "adapter", adapter.type =
// "lora", adapter.lora.alpha, and a pair of tensors per adapted weight
// (`<weight>.lora_a` [n_in, r], `<weight>.lora_b` [r, n_out]). Applied as
// llama.cpp applies them (build_lora_mm), never merged into the base weights,
// so several adapters stack and the base stays as loaded (repacked or not):
//
//   W x  ->  W x + sum over adapters of scale * B (A x)
//   scale = user scale * alpha / r   (the user scale alone when alpha is 0)
//
// Each pair is loaded into the WebAssembly memory that holds its base weight,
// so the extra matmuls never cross memories. An adapter with scale 0 is not
// loaded at all: the model is then the base model, bit for bit.
import { readGGUF } from '../formats/gguf/index.js';
import type { Kernels } from '../wasm/loader.js';
import type { BuildGraph } from './arch/context.js';
import { ModelError, UnsupportedError } from './errors.js';
import type { Tensor } from './graph/graph.js';
import { checkWeightTypes, loadWeights, type TensorSource } from './load.js';

export interface LoraAdapterOptions {
  /** The adapter's GGUF file. */
  path: string;
  /** llama.cpp's --lora-scaled SCALE. Default 1. */
  scale?: number;
}

/** One adapter's pair for one base weight, with its final scale. */
export interface LoraWeight {
  a: Tensor;
  b: Tensor;
  scale: number;
}

export interface LoraBase {
  path: string;
  arch: string;
  memories: readonly Kernels[];
  weight(name: string): Tensor | undefined;
}

export class LoraAdapters {
  private constructor(
    private readonly byWeight: Map<string, LoraWeight[]>,
    /** Allocations to free with the model. */
    readonly regions: { mem: number; ptr: number }[],
  ) {}

  /** Reads, checks and loads every adapter (before the first graph is built). */
  static async load(specs: readonly LoraAdapterOptions[], base: LoraBase): Promise<LoraAdapters> {
    const byWeight = new Map<string, LoraWeight[]>();
    const regions: { mem: number; ptr: number }[] = [];
    try {
      for (const spec of specs) {
        const scale = spec.scale ?? 1;
        if (typeof spec.path !== 'string' || spec.path === '') throw new RangeError(`lora: each adapter needs a path, got ${JSON.stringify(spec.path)}`);
        if (!Number.isFinite(scale)) throw new RangeError(`lora: the scale of ${spec.path} must be a finite number, got ${spec.scale}`);
        if (scale === 0) continue;
        await loadOne(spec.path, scale, base, byWeight, regions);
      }
    } catch (e) {
      for (const { mem, ptr } of regions) base.memories[mem]!.free(ptr);
      throw e;
    }
    return new LoraAdapters(byWeight, regions);
  }

  /** The adapters of a base weight, if any. */
  of(w: Tensor): readonly LoraWeight[] | undefined {
    return this.byWeight.get(w.name);
  }

  get size(): number {
    return this.byWeight.size;
  }

  /** `build` with every matmul of an adapted weight adding its adapters' products. */
  wrap(build: BuildGraph): BuildGraph {
    return (c) => {
      c.ops.lora = (w) => this.of(w);
      return build(c);
    };
  }
}

// llama.cpp computes the scale in float
const f32 = Math.fround;

async function loadOne(
  path: string, scale: number, base: LoraBase, byWeight: Map<string, LoraWeight[]>, regions: { mem: number; ptr: number }[],
): Promise<void> {
  const gguf = await readGGUF(path);
  const str = (key: string) => {
    const v = gguf.metadata.get(key);
    return typeof v === 'string' ? v : undefined;
  };
  if (str('general.type') !== 'adapter') throw new ModelError(`expected general.type "adapter" (a LoRA adapter), got ${JSON.stringify(str('general.type') ?? null)}`, path, 'general.type');
  if (str('adapter.type') !== 'lora') throw new UnsupportedError(`adapter.type ${JSON.stringify(str('adapter.type') ?? null)} is not supported (only "lora")`, path, 'adapter.type');
  if (str('general.architecture') !== base.arch) {
    throw new ModelError(`the adapter is for architecture ${JSON.stringify(str('general.architecture') ?? null)}, the model is ${base.arch}`, path, 'general.architecture');
  }
  const alphaRaw = gguf.metadata.get('adapter.lora.alpha');
  if (alphaRaw !== undefined && (typeof alphaRaw !== 'number' || !Number.isFinite(alphaRaw))) {
    throw new ModelError(`adapter.lora.alpha must be a number, got ${JSON.stringify(alphaRaw)}`, path, 'adapter.lora.alpha');
  }
  const alpha = (alphaRaw as number | undefined) ?? 0;

  // pair the tensors by their base weight's name
  const pairs = new Map<string, { a?: (typeof gguf.tensors)[number]; b?: (typeof gguf.tensors)[number] }>();
  for (const t of gguf.tensors) {
    const m = /^(.*)\.lora_([ab])$/.exec(t.name);
    if (!m) throw new ModelError(`tensor ${t.name} is not a LoRA tensor (expected <weight>.lora_a or .lora_b)`, path, t.name);
    const p = pairs.get(m[1]!) ?? {};
    p[m[2] as 'a' | 'b'] = t;
    pairs.set(m[1]!, p);
  }
  const sources: TensorSource[] = [];
  const memOf = new Map<string, number>();
  const plan: { name: string; rank: number }[] = [];
  for (const [name, { a, b }] of pairs) {
    if (!a || !b) throw new ModelError(`LoRA tensor ${name} lacks its .lora_${a ? 'b' : 'a'} half`, path, name);
    const w = base.weight(name);
    if (!w) throw new ModelError(`LoRA tensor ${name} has no weight of that name in the model (an adapter for another model?)`, path, name);
    if (w.ne.length > 2 && (w.ne[2] ?? 1) > 1) throw new UnsupportedError(`LoRA on the experts tensor ${name} is not supported`, path, name);
    if (name === 'token_embd.weight') throw new UnsupportedError('LoRA on token_embd.weight is not supported', path, name);
    const [nIn, nOut] = [w.ne[0]!, w.ne[1] ?? 1];
    if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[0] !== nIn || b.shape[1] !== nOut) {
      throw new ModelError(`LoRA tensors of ${name} have shapes [${a.shape}] and [${b.shape}]; the weight is [${w.ne}], so expected [${nIn}, r] and [r, ${nOut}]`, path, name);
    }
    if (a.shape[1] !== b.shape[0]) throw new ModelError(`${name}.lora_a is [${a.shape}] and .lora_b [${b.shape}]: their rank differs (lora_a not transposed?)`, path, name);
    for (const t of [a, b]) {
      sources.push({ name: t.name, type: t.type, ne: t.shape, file: t.file, offset: t.absoluteOffset, bytes: t.nBytes });
      memOf.set(t.name, w.mem ?? 0);
    }
    plan.push({ name, rank: b.shape[0]! });
  }
  checkWeightTypes(path, sources);
  const { weights, regions: mine } = await loadWeights(base.memories, sources, (n) => memOf.get(n) ?? 0);
  regions.push(...mine);
  for (const { name, rank } of plan) {
    const list = byWeight.get(name) ?? [];
    list.push({ a: weights.get(`${name}.lora_a`)!, b: weights.get(`${name}.lora_b`)!, scale: alpha ? f32(f32(scale * alpha) / rank) : scale });
    byWeight.set(name, list);
  }
}
