// The i-quant quantizers in C (kernels/iq*-quantize.c, iq-search.h) behind
// formats/quantize's RowsQuantizer: the grid i-quants and IQ4_NL / IQ4_XS,
// byte for byte what formats/quant's TypeScript quantizers (and ggml) write,
// some 10-50x faster. Each instance has its own small WebAssembly memory
// (quantize workers make one each); a grid's search tables are built in it
// once, on first use, and reused for every later call.
import { GGMLType, ggmlTypeInfo, rowSize } from '../../formats/ggml-types.js';
import type { RowsQuantizer } from '../../formats/quantize/rows.js';
import { loadKernels, type Kernels, type Ptr } from '../../wasm/loader.js';

/** Each type's export and, for the grid i-quants, the grid whose search tables it reads (kernels/iq-quantize.h's IQG_*). */
const TYPES: Partial<Record<GGMLType, { fn: string; grid?: number; needsWeights?: boolean }>> = {
  [GGMLType.IQ2_XXS]: { fn: 'quantize_rows_iq2_xxs', grid: 0, needsWeights: true },
  [GGMLType.IQ2_XS]: { fn: 'quantize_rows_iq2_xs', grid: 1, needsWeights: true },
  [GGMLType.IQ2_S]: { fn: 'quantize_rows_iq2_s', grid: 2 },
  [GGMLType.IQ3_XXS]: { fn: 'quantize_rows_iq3_xxs', grid: 3 },
  [GGMLType.IQ3_S]: { fn: 'quantize_rows_iq3_s', grid: 4 },
  [GGMLType.IQ1_S]: { fn: 'quantize_rows_iq1_s', grid: 5, needsWeights: true },
  [GGMLType.IQ1_M]: { fn: 'quantize_rows_iq1_m', grid: 5 },
  [GGMLType.IQ4_NL]: { fn: 'quantize_rows_iq4_nl' },
  [GGMLType.IQ4_XS]: { fn: 'quantize_rows_iq4_xs' },
};

// kernels/iq-quantize.h's IQ_ERR_*
const ERR_NO_NEIGHBOUR = 1;
const ERR_WEIGHTS = 4;

/** Rows per call into the kernels: bounds the memory a call needs whatever the caller hands over. */
const MAX_CALL_FLOATS = 1 << 20;

type RowsFn = (x: Ptr, y: Ptr, nRows: number, nPerRow: number, imatrix: Ptr, search: Ptr) => number;

export class WasmQuantizer implements RowsQuantizer {
  private readonly search = new Map<number, Ptr>();

  private constructor(private readonly k: Kernels) {}

  /** Loads the baseline kernels on a memory of their own. */
  static async load(): Promise<WasmQuantizer> {
    return new WasmQuantizer(await loadKernels({ simd: 'baseline' }));
  }

  /** The types quantized here (the others stay with formats/quant). */
  static types(): GGMLType[] {
    return Object.keys(TYPES).map(Number) as GGMLType[];
  }

  handles(type: GGMLType): boolean {
    return TYPES[type] !== undefined;
  }

  /**
   * Rows of `ne0` values (rows.length / ne0 of them) quantized to `type`,
   * with `importance` (ne0 weights shared by every row) or without, as
   * formats/quant's quantizeRowWeighted / quantizeRow would write them.
   */
  quantize(type: GGMLType, rows: Float32Array, ne0: number, importance?: Float32Array): Uint8Array {
    const t = TYPES[type];
    if (!t) throw new RangeError(`no C quantizer for ${ggmlTypeInfo(type)?.name ?? type}`);
    const name = ggmlTypeInfo(type)?.name ?? String(type);
    if (rows.length % ne0 !== 0) throw new RangeError(`${name}: ${rows.length} values are not whole rows of ${ne0}`);
    if (importance && importance.length !== ne0) throw new RangeError(`quantizeRowWeighted(${name}): ${importance.length} weights for a row of ${ne0}`);
    if (t.needsWeights && !importance) throw new RangeError(`${name} needs importance weights (an imatrix) to quantize, as in ggml`);
    const nRows = rows.length / ne0;
    const outRow = rowSize(type, ne0);
    const out = new Uint8Array(nRows * outRow);
    const search = t.grid === undefined ? 0 : this.searchTables(t.grid);
    const fn = this.k.lookup<RowsFn>(t.fn)!;
    const perCall = Math.max(1, Math.floor(MAX_CALL_FLOATS / ne0));
    const callRows = Math.min(nRows, perCall);
    const x = this.k.malloc(callRows * ne0 * 4);
    const y = this.k.malloc(callRows * outRow);
    const w = importance ? this.k.malloc(ne0 * 4) : 0;
    try {
      if (importance) this.k.write(w, importance);
      for (let r0 = 0; r0 < nRows; r0 += perCall) {
        const n = Math.min(perCall, nRows - r0);
        this.k.write(x, rows.subarray(r0 * ne0, (r0 + n) * ne0));
        const rc = fn(x, y, n, ne0, w, search);
        if (rc === ERR_NO_NEIGHBOUR) {
          throw new RangeError('grid i-quant: no grid point fits (values or importance weights not finite, or too large to square in float32; ggml aborts here)');
        }
        if (rc === ERR_WEIGHTS) throw new RangeError(`${name} needs importance weights (an imatrix) to quantize, as in ggml`);
        if (rc !== 0) throw new RangeError(`${t.fn}: kernel error ${rc} (rows of ${ne0})`);
        out.set(this.k.bytes(y, n * outRow), r0 * outRow);
      }
    } finally {
      this.k.free(x);
      this.k.free(y);
      if (w) this.k.free(w);
    }
    return out;
  }

  /** A grid's search tables, built in this memory on first use. */
  private searchTables(grid: number): Ptr {
    let p = this.search.get(grid);
    if (p === undefined) {
      const e = this.k.exports;
      const bytes = e.iq_grid_search_bytes(grid) as number;
      if (bytes <= 0) throw new Error(`iq_grid_search_bytes(${grid}) failed`);
      p = this.k.malloc(bytes);
      if (e.iq_grid_search_init(grid, p) !== bytes) throw new Error(`iq_grid_search_init(${grid}) failed`);
      this.search.set(grid, p);
    }
    return p;
  }
}
