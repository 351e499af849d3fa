// Test files in the grid i-quants: a synthetic model is generated in F32 and
// its matrices are then quantized with an importance matrix of ones (these
// types require one) by a quantizer of ggml's bytes: ggml_quantize_chunk
// through koffi (GGMLQuants), or the C quantizers (WasmQuantizer, whose bytes
// are ggml's: quant-iq-grid-quantize.test.ts), which need no ggml grid-table
// build (seconds per process).
import type { GGMLType } from '../../formats/ggml-types.js';
import { GGMLType as T } from '../../formats/ggml-types.js';
import type { GGUFWriteSpec } from '../../formats/gguf/index.js';

/** ggml_quantize_chunk's shape: rows of nPerRow values to `type`, with one importance weight per column. */
export interface ChunkQuantizer {
  quantizeChunk(type: GGMLType, x: Float32Array, nPerRow: number, imatrix?: Float32Array): Uint8Array;
}

/** The F32 matrices (2-D or 3-D, rows of whole 256-blocks) of `spec` that get `type`; routers stay F32. */
const quantizable = (name: string, shape: readonly number[]) =>
  shape.length >= 2 && shape[0]! % 256 === 0 && name.endsWith('.weight') && !name.includes('ffn_gate_inp');

/** `spec` (written with F32 matrices) with its matrices quantized to `type` by ggml. */
export async function requantizeSpec(spec: GGUFWriteSpec, type: GGMLType, ggml: ChunkQuantizer): Promise<GGUFWriteSpec> {
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
