// Collecting llama-imatrix's statistics while graphs run: for every matmul
// of a weight whose name starts with "blk." (and output.weight when asked,
// llama.cpp's --process-output), an op is added before the product that adds
// each input column's squared activations into sums kept in WASM memory
// across runs (kernels/imatrix.c), and the rows into a count. Token
// embeddings (a get_rows, not a matmul) and a tied output head
// (token_embd.weight) are never counted, as in llama.cpp.
import { GGMLType } from '../../formats/ggml-types.js';
import type { IMatrixEntry } from '../../formats/imatrix/index.js';
import type { Kernels } from '../../wasm/loader.js';
import type { BuildGraph } from '../arch/context.js';
import type { Tensor } from '../graph/graph.js';
import type { Ops } from '../graph/ops.js';

// kernels/imatrix.c; Graph.add checks its arguments against wasm/kernel-table.ts
const KERNEL = 'imatrix_accum_f32';

interface Slot {
  name: string;
  nCols: number;
  /** [count: f64][8 bytes pad][sums: f32 * nCols] */
  ptr: number;
}

export interface CollectorOptions {
  /** Also collect output.weight (llama-imatrix --process-output). Default false. */
  processOutput?: boolean;
}

export class IMatrixCollector {
  private kernels: Kernels | null = null;
  private readonly slots = new Map<string, Slot>();
  /** malloc'd blocks to free (slots are aligned inside them). */
  private raw: number[] = [];

  constructor(private readonly options: CollectorOptions = {}) {}

  /** Whether llama-imatrix collects statistics for the weight `name`. */
  collects(name: string): boolean {
    return name.startsWith('blk.') || (this.options.processOutput === true && name === 'output.weight');
  }

  /** The Ops.matmulObserver that adds the accumulate op; graphs built with it collect on every run. */
  readonly observe = (ops: Ops, w: Tensor, x: Tensor, nTokens: number): void => {
    if (!this.collects(w.name)) return;
    if (x.type !== GGMLType.F32) return; // llama.cpp collects f32 inputs only (all of ours are)
    if ((w.ne[2] ?? 1) > 1) return; // stacked experts go through matmulId, which is not observed (MoE aside)
    const nCols = w.ne[0]!;
    const slot = this.slot(ops.k, w.name, nCols);
    const state = ops.g.tensor({ name: `imatrix-${w.name}`, type: GGMLType.F32, ne: [nCols], kind: 'state', ptr: slot.ptr + 16 });
    ops.g.add({
      name: `imatrix-${w.name}`, inputs: [x], output: state,
      phases: [{ fn: KERNEL, args: [{ tensor: x }, x.rowStride ?? nCols * 4, slot.ptr + 16, slot.ptr, nTokens, nCols] }],
    });
  };

  /** `build` with this collector observing its matmuls. */
  wrap(build: BuildGraph): BuildGraph {
    return (c) => {
      c.ops.matmulObserver = this.observe;
      return build(c);
    };
  }

  private slot(k: Kernels, name: string, nCols: number): Slot {
    if (this.kernels && this.kernels !== k) throw new Error('an IMatrixCollector serves one model');
    this.kernels = k;
    let s = this.slots.get(name);
    if (s) {
      if (s.nCols !== nCols) throw new Error(`imatrix: ${name} has inputs of ${nCols} and ${s.nCols}`);
      return s;
    }
    const bytes = 16 + 4 * nCols;
    const raw = k.malloc(bytes + 16);
    const ptr = Math.ceil(raw / 16) * 16;
    k.bytes(ptr, bytes).fill(0);
    s = { name, nCols, ptr };
    this.slots.set(name, s);
    this.raw.push(raw);
    return s;
  }

  /** The statistics so far, sorted by name (sums of x^2 and tokens counted). */
  entries(): IMatrixEntry[] {
    const k = this.kernels;
    if (!k) return [];
    return [...this.slots.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((s) => ({
        name: s.name,
        sums: Float32Array.from(k.floats(s.ptr + 16, s.nCols)),
        counts: [new Float64Array(k.memory.buffer, s.ptr, 1)[0]!],
      }));
  }

  /** Frees the sums (before the model's memory goes). */
  dispose(): void {
    if (this.kernels) for (const p of this.raw) this.kernels.free(p);
    this.raw = [];
    this.slots.clear();
  }
}
