// The weight matmul (ggml_mul_mat) and the conversion of its activations to
// the weight type's vec_dot_type, shared by the matmuls of one input; the
// hooks LoRA and the importance-matrix collector attach to it. The experts'
// matmul (matmulId) is in moe.ts.
import { GGMLType, ggmlTypeInfo, rowSize } from '../../../formats/ggml-types.js';
import { elementCount, type Phase, type Tensor } from '../graph.js';
import { at } from './core.js';
import { RowOps } from './rows.js';

/** The exported kernel converting f32 activation rows to each vec_dot_type. */
const CONVERT_ROWS: Partial<Record<GGMLType, string>> = {
  [GGMLType.F16]: 'convert_rows_f16',
  [GGMLType.BF16]: 'convert_rows_bf16',
  [GGMLType.Q8_0]: 'convert_rows_q8_0',
  [GGMLType.Q8_1]: 'convert_rows_q8_1',
  [GGMLType.Q8_K]: 'convert_rows_q8_K',
};

export class MatmulOps extends RowOps {
  /**
   * Called by matmul with its weight and f32 input before the product is
   * added, so that it may add ops reading x (runtime/imatrix collects
   * activation statistics this way). Unset: matmul is unchanged.
   */
  matmulObserver?: (ops: this, w: Tensor, x: Tensor, nTokens: number) => void;

  /**
   * The LoRA adapters of a weight (runtime/lora.ts): matmul adds
   * scale * B (A x) for each, after the product, as llama.cpp's build_lora_mm.
   * Unset: no adapters.
   */
  lora?: (w: Tensor) => readonly { a: Tensor; b: Tensor; scale: number }[] | undefined;

  /** Each input matmul has converted to a vec_dot_type, by type (see convertedInput). */
  private readonly converted = new Map<Tensor, Map<GGMLType, Tensor>>();

  /**
   * x as rows of vdt (quantize_row_q8_K and co.), converted once per graph:
   * the matmuls of one input (attn_q, attn_k, attn_v; ffn_gate, ffn_up) share
   * it, as they would share ggml's wdata if it were kept between ops. Each
   * conversion is a phase, so a barrier between threads, and a pass over x.
   */
  private convertedInput(x: Tensor, vdt: GGMLType, nIn: number, nTok: number, name: string): Tensor {
    let byType = this.converted.get(x);
    const done = byType?.get(vdt);
    if (done) return done;
    const convert = CONVERT_ROWS[vdt];
    if (!convert) throw new Error(`${name}: no activation converter for ${ggmlTypeInfo(vdt)!.name}`);
    const qx = this.g.tensor({ name: `${name}.${ggmlTypeInfo(vdt)!.name}_input`, type: vdt, ne: [nIn, nTok], kind: 'intermediate' });
    this.g.add({ name: `${name}.convert`, inputs: [x], output: qx,
      phases: [this.rowsPhase(nTok, [], convert, at(x), x.rowStride ?? nIn * 4, at(qx), rowSize(vdt, nIn), nIn, nTok)] });
    if (!byType) this.converted.set(x, byType = new Map());
    byType.set(vdt, qx);
    return qx;
  }

  /**
   * out = W x for each token row (ggml_mul_mat(W, x)): the activation is first
   * converted to the weight type's vec_dot_type (as ggml does, so results track
   * llama.cpp; once per input, convertedInput), then each thread computes a
   * slice of the output rows.
   */
  matmul(w: Tensor, x: Tensor, name: string): Tensor {
    const nIn = w.ne[0]!;
    const nOut = w.ne[1]!;
    if (x.ne[0] !== nIn) throw new Error(`${name}: ${w.name} expects rows of ${nIn}, got ${x.ne[0]}`);
    const nTok = elementCount(x.ne) / nIn;
    this.matmulObserver?.(this, w, x, nTok);
    const out = this.g.f32(name, [nOut, nTok]);
    const info = ggmlTypeInfo(w.type)!;
    const vdt = info.vecDotType;
    if (vdt === null) throw new Error(`${name}: ${w.name} has type ${info.name}, which is not a matmul weight`);
    const phases: Phase[] = [];
    let input = x;
    let actRow = x.rowStride ?? nIn * 4;
    if (vdt !== GGMLType.F32) {
      input = this.convertedInput(x, vdt, nIn, nTok, name);
      actRow = rowSize(vdt, nIn);
    }
    phases.push(this.phase(`mat_rows_${w.layout ?? info.name}`, at(w), rowSize(w.type, nIn), at(input), actRow, at(out), nOut, nIn, nTok, nOut));
    let res = this.g.add({ name, inputs: [w, input], output: out, phases });
    this.lora?.(w)?.forEach((l, i) => {
      const ab = this.matmul(l.b, this.matmul(l.a, x, `${name}.lora${i}_a`), `${name}.lora${i}_b`);
      res = this.add(res, this.scale(ab, l.scale, `${name}.lora${i}_scaled`), `${name}.lora${i}`);
    });
    return res;
  }
}
