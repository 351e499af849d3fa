// Test files in types we read but do not write yet (the grid i-quants): a
// synthetic model is generated in F32 and its matrices are then quantized by
// ggml's own quantizer (ggml_quantize_chunk through koffi, with an importance
// matrix of ones: these types require one). Tests only: shipping code never
// calls ggml.
import type { GGMLType } from '../../formats/ggml-types.js';
import { GGMLType as T } from '../../formats/ggml-types.js';
import type { GGUFWriteSpec } from '../../formats/gguf/index.js';
import type { GGMLQuants } from './ggml-quants.js';

/** The F32 matrices (2-D or 3-D, rows of whole 256-blocks) of `spec` that get `type`; routers stay F32. */
const quantizable = (name: string, shape: readonly number[]) =>
  shape.length >= 2 && shape[0]! % 256 === 0 && name.endsWith('.weight') && !name.includes('ffn_gate_inp');

/** `spec` (written with F32 matrices) with its matrices quantized to `type` by ggml. */
export async function requantizeSpec(spec: GGUFWriteSpec, type: GGMLType, ggml: GGMLQuants): Promise<GGUFWriteSpec> {
  const tensors = [];
  for (const t of spec.tensors ?? []) {
    if (t.type !== T.F32 || !quantizable(t.name, t.shape)) {
      tensors.push(t);
      continue;
    }
    const parts: Uint8Array[] = [];
    if (t.data instanceof Uint8Array) parts.push(t.data);
    else if (t.data) for await (const p of t.data()) parts.push(p.slice());
    const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    const x = new Float32Array(bytes.buffer, 0, bytes.length / 4);
    tensors.push({ ...t, type, data: ggml.quantizeChunk(type, x, t.shape[0]!, new Float32Array(t.shape[0]!).fill(1)) });
  }
  return { ...spec, tensors };
}
