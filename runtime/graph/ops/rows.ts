// Row-wise ops: every output row is computed from the same row of the inputs
// (a broadcast row aside), so these run the same for any mix of sequences.
// Embedding rows, norms, element-wise arithmetic, the GLUs, unary
// activations, and the copies and views between row layouts.
import { GGMLType, ggmlTypeInfo, rowSize } from '../../../formats/ggml-types.js';
import { elementCount, type Tensor } from '../graph.js';
import { NULL, OpsCore, at } from './core.js';

/**
 * Element-wise ops up to this many elements run on one thread (Phase.solo):
 * a microsecond of adds, less than a barrier between threads costs.
 */
const SOLO_MAX_ELEMENTS = 8192;

export class RowOps extends OpsCore {
  /** Rows of a token embedding table (any weight type) for int32 ids. */
  getRows(table: Tensor, ids: Tensor, name = 'inp_embd'): Tensor {
    if (table.layout) throw new Error(`${name}: ${table.name} was repacked (${table.layout}) for matmuls and cannot be read by row`);
    const n = table.ne[0]!;
    const nIds = elementCount(ids.ne);
    const out = this.g.f32(name, [n, nIds]);
    // the table and the ids are read anywhere: a split is declared only while they are a weight and an input
    const phase = table.type === GGMLType.F32 || table.type === GGMLType.F16
      ? this.rowsPhase(nIds, [table, ids], table.type === GGMLType.F32 ? 'get_rows_f32' : 'get_rows_f16', at(table), at(ids), at(out), nIds, n)
      : this.rowsPhase(nIds, [table, ids], `get_rows_q_${ggmlTypeInfo(table.type)!.name}`, at(table), rowSize(table.type, n), at(ids), at(out), nIds, n);
    return this.g.add({ name, inputs: [table, ids], output: out, phases: [phase] });
  }

  /**
   * The rows of x named by `rows` (int32 [n], batch row indices read at run
   * time): the rows that need logits, wherever in the batch their sequences
   * put them (llama.cpp's inp_out_ids). A copy, so no bits change.
   */
  selectRows(x: Tensor, rows: Tensor, name: string): Tensor {
    if (x.type !== GGMLType.F32 || (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4)) throw new Error(`${name}: rows of a strided or non-f32 tensor`);
    const n = x.ne[0]!;
    const nRows = elementCount(rows.ne);
    const out = this.g.f32(name, [n, nRows]);
    return this.g.add({ name, inputs: [x, rows], output: out, phases: [this.phase('get_rows_f32', at(x), at(rows), at(out), nRows, n)] });
  }

  /** y = x / rms(x) * w  (w optional): llama's RMSNorm. */
  rmsNorm(x: Tensor, w: Tensor | null, eps: number, name: string): Tensor {
    const [n, rows] = [x.ne[0]!, elementCount(x.ne) / x.ne[0]!];
    const out = this.g.f32(name, x.ne);
    return this.g.add({
      name, inputs: w ? [x, w] : [x], output: out,
      phases: [this.rowsPhase(rows, [w], 'rms_norm_f32', at(x), at(out), w ? at(w) : NULL, rows, n, eps)],
    });
  }

  /** LayerNorm: (x - mean) / sqrt(var + eps) * w + b (w, b optional). */
  norm(x: Tensor, w: Tensor | null, b: Tensor | null, eps: number, name: string): Tensor {
    const [n, rows] = [x.ne[0]!, elementCount(x.ne) / x.ne[0]!];
    const out = this.g.f32(name, x.ne);
    return this.g.add({
      name, inputs: [x, ...(w ? [w] : []), ...(b ? [b] : [])], output: out,
      phases: [this.rowsPhase(rows, [w, b], 'norm_f32', at(x), at(out), w ? at(w) : NULL, b ? at(b) : NULL, rows, n, eps)],
    });
  }

  /** Element-wise a + b, b broadcast by rows (a bias row, or a whole tensor of a's shape). */
  add(a: Tensor, b: Tensor, name: string): Tensor {
    return this.binary('add_f32', a, b, name);
  }

  mul(a: Tensor, b: Tensor, name: string): Tensor {
    return this.binary('mul_f32', a, b, name);
  }

  private binary(kernel: string, a: Tensor, b: Tensor, name: string): Tensor {
    const n = a.ne[0]!;
    const rows = elementCount(a.ne) / n;
    const bRows = elementCount(b.ne) / n;
    if (b.ne[0] !== n || rows % bRows !== 0) throw new Error(`${name}: cannot broadcast [${b.ne}] over [${a.ne}]`);
    const strided = (t: Tensor) => t.rowStride !== undefined && t.rowStride !== n * 4;
    if (strided(a) || strided(b)) {
      // views into a fused projection (lfm2's b, c, x): row by row, no broadcast
      if (kernel !== 'mul_f32' || bRows !== rows) throw new Error(`${name}: ${kernel} of strided views`);
      const out = this.g.f32(name, [n, rows]);
      return this.g.add({
        name, inputs: [a, b], output: out,
        phases: [this.phase('mul_rows_f32', at(a), (a.rowStride ?? n * 4) / 4, at(b), (b.rowStride ?? n * 4) / 4, at(out), rows, n)],
      });
    }
    const out = this.g.f32(name, a.ne);
    // a decode token's residual add: one thread, so the norm after it follows without a barrier
    const solo = rows * n <= SOLO_MAX_ELEMENTS;
    return this.g.add({ name, inputs: [a, b], output: out, phases: [{ ...this.phase(kernel, at(a), at(b), at(out), rows, n, bRows), solo }] });
  }

  /** y = act(gate) * up: 'silu' (SwiGLU) or 'gelu' (GeGLU). */
  glu(kind: 'silu' | 'gelu', gate: Tensor, up: Tensor, name: string): Tensor {
    const n = gate.ne[0]!;
    const rows = elementCount(gate.ne) / n;
    const out = this.g.f32(name, [n, rows]);
    const gs = (gate.rowStride ?? n * 4) / 4;
    const us = (up.rowStride ?? n * 4) / 4;
    return this.g.add({
      name, inputs: [gate, up], output: out,
      phases: [this.phase(kind === 'silu' ? 'swiglu_f32' : 'geglu_f32', at(gate), at(up), at(out), rows, n, gs, us)],
    });
  }

  /**
   * gpt-oss's clamped GLU (ggml_swiglu_oai): min(gate, limit) times
   * sigmoid(alpha * that), times clamp(up, -limit, limit) + 1.
   */
  swigluOai(gate: Tensor, up: Tensor, alpha: number, limit: number, name: string): Tensor {
    const n = gate.ne[0]!;
    const rows = elementCount(gate.ne) / n;
    const out = this.g.f32(name, gate.ne);
    const gs = (gate.rowStride ?? n * 4) / 4;
    const us = (up.rowStride ?? n * 4) / 4;
    return this.g.add({
      name, inputs: [gate, up], output: out,
      phases: [this.phase('swiglu_oai_f32', at(gate), at(up), at(out), rows, n, gs, us, alpha, limit)],
    });
  }

  /** ggml_silu as ggml's CPU backend computes it (kernels/ops-unary.c). */
  silu(x: Tensor, name: string): Tensor {
    return this.unary('silu', 'silu_f32', x, name);
  }

  /** ggml_gelu as ggml's CPU backend computes it (tanh approximation through an f16 table; kernels/ops-unary.c). */
  gelu(x: Tensor, name: string): Tensor {
    return this.unary('gelu', 'gelu_f32', x, name);
  }

  /** 1 / (1 + e^-x) element-wise (ggml_sigmoid: a router's sigmoid gating). */
  sigmoid(x: Tensor, name: string): Tensor {
    return this.unary('sigmoid', 'sigmoid_f32', x, name);
  }

  /** y = cap * tanh(x / cap): gemma2's final logit soft-capping (ggml scale, tanh, scale). */
  softcap(x: Tensor, cap: number, name: string): Tensor {
    return this.unary('softcap', 'softcap_f32', x, name, cap);
  }

  /** y = x * s (ggml_scale). */
  scale(x: Tensor, s: number, name: string): Tensor {
    return this.unary('scale', 'scale_f32', x, name, s);
  }

  /** An element-wise op of a contiguous tensor: kernel(x, out, n, ...numbers). */
  private unary(what: string, kernel: string, x: Tensor, name: string, ...numbers: number[]): Tensor {
    const out = this.g.f32(name, x.ne);
    if (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4) throw new Error(`${name}: ${what} of a strided view`);
    return this.g.add({ name, inputs: [x], output: out, phases: [this.phase(kernel, at(x), at(out), elementCount(x.ne), ...numbers)] });
  }

  /** Rows of a then rows of b side by side (ggml_concat on dimension 0); either may be a strided view. */
  concat(a: Tensor, b: Tensor, name: string): Tensor {
    const [na, nb] = [a.ne[0]!, b.ne[0]!];
    const rows = elementCount(a.ne) / na;
    if (elementCount(b.ne) / nb !== rows) throw new Error(`${name}: ${rows} rows of ${a.name} and ${elementCount(b.ne) / nb} of ${b.name}`);
    const out = this.g.f32(name, [na + nb, ...a.ne.slice(1)]);
    return this.g.add({
      name, inputs: [a, b], output: out,
      phases: [this.phase('concat_f32', at(a), (a.rowStride ?? na * 4) / 4, na, at(b), (b.rowStride ?? nb * 4) / 4, nb, at(out), rows)],
    });
  }

  /** A strided view copied into contiguous rows (ggml_cont), for ops that read rows back to back. */
  cont(x: Tensor, name: string): Tensor {
    const n = x.ne[0]!;
    const rows = elementCount(x.ne) / n;
    const out = this.g.f32(name, x.ne);
    // a concat with nothing on the right
    return this.g.add({ name, inputs: [x], output: out, phases: [this.phase('concat_f32', at(x), (x.rowStride ?? n * 4) / 4, n, at(x), 0, 0, at(out), rows)] });
  }

  /** A contiguous [n_head*head_dim, n_tokens] tensor seen as [head_dim, n_head*n_tokens] rows (per-head ops). */
  heads(x: Tensor, headDim: number): Tensor {
    if (x.rowStride !== undefined && x.rowStride !== x.ne[0]! * 4) throw new Error(`${x.name}: per-head view of a strided tensor`);
    return this.g.view(x, `${x.name}-heads`, [headDim, elementCount(x.ne) / headDim], 0, headDim * 4);
  }
}
