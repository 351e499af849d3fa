// Weights rewritten at load time into layouts the kernels read faster (as
// llama.cpp's CPU backend repacks Q4_0 into interleaved rows). A repacked
// tensor keeps its GGML type and byte size; its `layout` names the kernels
// that read it (mat_rows_<layout>), and nothing else may read its bytes.
//
// q4_0x4: four rows' block b side by side (their four f16 scales, then their
// nibbles in 4-byte groups), so a kernel gets four rows' block sums in the
// lanes of one vector with no shuffles (kernels/relaxed/legacy-relaxed.c).
// q4_Kx4: four rows' super-block likewise, their 6-bit scales and mins
// already interleaved by row, and each byte's two nibbles from one
// sub-block (kernels/relaxed/q4_K-relaxed.h), so decode sums a sub-block in
// one int16 accumulator per group as q4_0x4 does a block: from memory as
// fast per byte as q4_0x4 (issue 19). q5_Kx4: four rows' Q5_K super-block, the scales
// as q4_Kx4's and each quant's five bits whole, eight vectors of quants in
// five of bytes (kernels/relaxed/q5_K-relaxed.c; decode 1.4-1.8x the plain
// rows' speed, as fast per byte as q4_0x4). q3_Kx4 and q2_Kx4 likewise
// for Q3_K (each quant's three bits whole, eight vectors in three) and Q2_K,
// each vector holding two sub-blocks' elements of every row so that one dot
// applies both scales (kernels/relaxed/q3_K-relaxed.h, q2_K-relaxed.h;
// decode 1.8-2.3x the plain rows' speed in cache, 1.5-2.2x from memory);
// the dot-add build orders q2_Kx4's and q3_Kx4's quants its own way (one
// sub-block per i32 lane), so a layout is the loaded module's, written by
// that module's own repack_<layout>.
// q6_Kx4: four rows' Q6_K super-block in units of two
// sub-blocks, each the rows' scale pairs then their whole 6-bit quants mixed
// as q3_Kx4's (two sub-blocks per vector) and packed four vectors in three
// (decode as fast per byte as q4_0x4 from memory, faster in cache);
// q6_Kp, for Q6_K matrices whose rows are not a multiple of 4, keeps the
// rows apart but stores each quant's six bits whole in a byte (both in
// kernels/relaxed/q6_K-relaxed.h). q8_0x4:
// four rows' Q8_0 block side by side like q4_0x4 (kernels/relaxed/
// q8_0-relaxed.c; decode reads eight groups at a time, 2-3x faster than
// plain rows). Results are bit-identical to the plain layout.
import { GGMLType, rowSize } from '../formats/ggml-types.js';
import type { Kernels } from '../wasm/loader.js';
import type { Tensor, WeightLayout } from './graph/graph.js';

interface Repacker {
  type: GGMLType;
  layout: WeightLayout;
  /** Rows per group: the tensor's rows (per expert) must be a multiple. */
  rows: number;
}

const REPACKERS: readonly Repacker[] = [
  { type: GGMLType.Q2_K, layout: 'q2_Kx4', rows: 4 },
  { type: GGMLType.Q3_K, layout: 'q3_Kx4', rows: 4 },
  { type: GGMLType.Q4_0, layout: 'q4_0x4', rows: 4 },
  { type: GGMLType.Q4_K, layout: 'q4_Kx4', rows: 4 },
  { type: GGMLType.Q5_K, layout: 'q5_Kx4', rows: 4 },
  // the first that fits wins: q6_Kp takes the Q6_K matrices whose rows are not a multiple of 4
  { type: GGMLType.Q6_K, layout: 'q6_Kx4', rows: 4 },
  { type: GGMLType.Q6_K, layout: 'q6_Kp', rows: 1 },
  { type: GGMLType.Q8_0, layout: 'q8_0x4', rows: 4 },
  // iq4_nlx4, mxfp4x4: four rows' block side by side like q4_0x4 (kernels/relaxed/nl4-relaxed.c;
  // decode 1.28x / 1.09x plain rows); iq4_xsx4: four rows' super-block, their 6-bit scales regrouped
  // by block and row (kernels/relaxed/iq4_xs-relaxed.c; decode 1.23x)
  { type: GGMLType.IQ4_NL, layout: 'iq4_nlx4', rows: 4 },
  { type: GGMLType.IQ4_XS, layout: 'iq4_xsx4', rows: 4 },
  { type: GGMLType.MXFP4, layout: 'mxfp4x4', rows: 4 },
  // tq1_0x4: four rows' TQ1_0 super-block side by side, bytes stored in the signed form the trit
  // decode reads (kernels/relaxed/ternary-relaxed.c; decode reads four groups from four places:
  // 1.15-1.2x the plain rows' speed in cache, 1.25-1.35x from memory)
  { type: GGMLType.TQ1_0, layout: 'tq1_0x4', rows: 4 },
];

/**
 * Tensors only ever multiplied by (every blk.N.* matrix and output.weight;
 * token_embd is also read by row, so it keeps its layout).
 */
function onlyMatmul(name: string): boolean {
  return /^blk\.\d+\./.test(name) || name === 'output.weight';
}

/**
 * A function that repacks one loaded weight, in place, when it has a layout
 * the loaded kernels can run (the relaxed-SIMD module's), and returns it
 * marked with that layout (or unchanged). Called per tensor while the loader
 * reads the next one (runtime/load.ts onTensor), so repacking costs little
 * load time beyond the reads.
 */
export function weightRepacker(memories: readonly Kernels[]): (t: Tensor) => Tensor {
  const usable = REPACKERS.filter((r) => memories[0]!.lookup(`repack_${r.layout}`) && memories[0]!.lookup(`mat_rows_${r.layout}`));
  return (t) => {
    if (t.ne.length < 2 || !onlyMatmul(t.name)) return t;
    const r = usable.find((r) => r.type === t.type && t.ne[1]! % r.rows === 0);
    if (!r) return t;
    // each memory's own instance rewrites the weights it holds
    const kernels = memories[t.mem ?? 0]!;
    const repack = kernels.lookup<(w: number, rowBytes: number, nRows: number, scratch: number) => void>(`repack_${r.layout}`)!;
    const rowBytes = rowSize(t.type, t.ne[0]!);
    const nRows = t.ne.slice(1).reduce((a, b) => a * b, 1);
    const scratch = kernels.malloc(r.rows * rowBytes);
    try {
      repack(t.ptr!, rowBytes, nRows, scratch);
    } finally {
      kernels.free(scratch);
    }
    return { ...t, layout: r.layout };
  };
}
