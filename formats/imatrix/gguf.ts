// The GGUF imatrix file recent llama-imatrix writes (its default output):
//   metadata  general.type = "imatrix" (string)
//             imatrix.datasets (array of string), imatrix.chunk_count (uint32),
//             imatrix.chunk_size (uint32)
//   tensors   per weight, in name order: <name>.in_sum2 (f32, [n_cols, n_mat]:
//             sums of squared activations) and <name>.counts (f32, [1, n_mat]:
//             tokens counted); newer versions add <name>.in_sum (sums of x).
//             Trailing dimensions of 1 are not stored (ggml_n_dims), so a
//             dense weight's in_sum2 is 1-D [n_cols] and its counts [1].
import { GGMLType } from '../ggml-types.js';
import { GGUFValueType, type GGUFHeader, type GGUFTensorInfo, type GGUFWriteSpec } from '../gguf/index.js';
import { IMatrixError } from './errors.js';
import type { IMatrix, IMatrixEntry } from './types.js';

export const LLM_KV_IMATRIX_DATASETS = 'imatrix.datasets';
export const LLM_KV_IMATRIX_CHUNK_COUNT = 'imatrix.chunk_count';
export const LLM_KV_IMATRIX_CHUNK_SIZE = 'imatrix.chunk_size';

const SUFFIXES = { sums: '.in_sum2', counts: '.counts', inSum: '.in_sum' } as const;

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** ggml_n_dims: a 2-D [ne0, ne1] tensor is stored 1-D when ne1 is 1. */
const shape2 = (ne0: number, ne1: number): number[] => (ne1 > 1 ? [ne0, ne1] : [ne0]);

const f32Bytes = (a: Float32Array): Uint8Array => {
  const out = new Float32Array(a); // own, little-endian buffer on every platform Node runs on
  return new Uint8Array(out.buffer);
};

/** The write spec of an imatrix in llama.cpp's GGUF form (entries sorted by name). */
export function imatrixGGUFSpec(m: IMatrix): GGUFWriteSpec {
  const tensors: NonNullable<GGUFWriteSpec['tensors']>[number][] = [];
  for (const e of [...m.entries].sort(byName)) {
    const nMat = e.counts.length;
    if (nMat === 0 || e.sums.length === 0) continue;
    if (e.sums.length % nMat !== 0) throw new RangeError(`${e.name}: ${e.sums.length} sums do not split into ${nMat} matrices`);
    const nCols = e.sums.length / nMat;
    tensors.push({ name: `${e.name}${SUFFIXES.sums}`, type: GGMLType.F32, shape: shape2(nCols, nMat), data: f32Bytes(e.sums) });
    tensors.push({ name: `${e.name}${SUFFIXES.counts}`, type: GGMLType.F32, shape: shape2(1, nMat), data: f32Bytes(Float32Array.from(e.counts)) });
    if (e.inSum) {
      if (e.inSum.length !== e.sums.length) throw new RangeError(`${e.name}: in_sum has ${e.inSum.length} values, in_sum2 ${e.sums.length}`);
      tensors.push({ name: `${e.name}${SUFFIXES.inSum}`, type: GGMLType.F32, shape: shape2(nCols, nMat), data: f32Bytes(e.inSum) });
    }
  }
  return {
    version: 3,
    kv: [
      { key: 'general.type', value: 'imatrix', type: GGUFValueType.STRING },
      { key: LLM_KV_IMATRIX_DATASETS, value: m.datasets, type: GGUFValueType.ARRAY, elementType: GGUFValueType.STRING },
      { key: LLM_KV_IMATRIX_CHUNK_COUNT, value: m.chunkCount, type: GGUFValueType.UINT32 },
      { key: LLM_KV_IMATRIX_CHUNK_SIZE, value: m.chunkSize, type: GGUFValueType.UINT32 },
    ],
    tensors,
    padEmpty: true,
  };
}

/** What a GGUF imatrix file gives besides its entries. */
export interface IMatrixGGUFInfo {
  /** All three imatrix.* keys are present (llama-quantize refuses a GGUF imatrix without them). */
  hasMetadata: boolean;
}

/**
 * Reads the entries of a parsed GGUF imatrix; `data` returns a tensor's
 * bytes. Tensors of other names are ignored, as llama.cpp does; an entry
 * missing its sums or counts, or of another type than f32, is an error.
 */
export async function imatrixFromGGUF(
  h: GGUFHeader, data: (t: GGUFTensorInfo) => Promise<Uint8Array> | Uint8Array,
): Promise<IMatrix & IMatrixGGUFInfo> {
  const file = h.file;
  const parts = new Map<string, Partial<Record<keyof typeof SUFFIXES, GGUFTensorInfo>>>();
  for (const t of h.tensors) {
    const kind = (['sums', 'counts', 'inSum'] as const).find((k) => t.name.endsWith(SUFFIXES[k]));
    if (!kind) continue;
    const name = t.name.slice(0, -SUFFIXES[kind].length);
    if (name === '') continue;
    if (t.type !== GGMLType.F32) {
      throw new IMatrixError({ file, offset: t.infoOffset, entry: name, problem: `tensor ${t.name} is not f32` });
    }
    const p = parts.get(name) ?? {};
    p[kind] = t;
    parts.set(name, p);
  }
  const floats = async (t: GGUFTensorInfo): Promise<Float32Array> => {
    const b = await data(t);
    if (b.length !== t.nElements * 4) {
      throw new IMatrixError({ file, offset: t.absoluteOffset, entry: t.name, problem: `expected ${t.nElements * 4} bytes of data, got ${b.length}` });
    }
    return new Float32Array(b.slice().buffer);
  };
  const entries: IMatrixEntry[] = [];
  for (const [name, p] of [...parts].sort((a, b) => byName({ name: a[0] }, { name: b[0] }))) {
    const at = (p.sums ?? p.counts ?? p.inSum)!.infoOffset;
    if (!p.sums || !p.counts) {
      throw new IMatrixError({ file, offset: at, entry: name, problem: `has ${p.sums ? 'in_sum2' : 'counts'} but no ${p.sums ? 'counts' : 'in_sum2'} tensor` });
    }
    const sums = await floats(p.sums);
    const countsF = await floats(p.counts);
    if (countsF.length === 0 || sums.length % countsF.length !== 0) {
      throw new IMatrixError({ file, offset: at, entry: name, problem: `${sums.length} sums do not split into ${countsF.length} matrices` });
    }
    const e: IMatrixEntry = { name, sums, counts: [...countsF].map((c) => Math.round(c)) };
    if (p.inSum) {
      e.inSum = await floats(p.inSum);
      if (e.inSum.length !== sums.length) {
        throw new IMatrixError({ file, offset: at, entry: name, problem: `in_sum has ${e.inSum.length} values, in_sum2 ${sums.length}` });
      }
    }
    entries.push(e);
  }
  const md = h.metadata;
  const datasetsV = md.get(LLM_KV_IMATRIX_DATASETS);
  const datasets = Array.isArray(datasetsV) ? datasetsV.filter((s): s is string => typeof s === 'string') : [];
  const u32 = (k: string): number | undefined => {
    const v = md.get(k);
    return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
  };
  const chunkCount = u32(LLM_KV_IMATRIX_CHUNK_COUNT);
  const chunkSize = u32(LLM_KV_IMATRIX_CHUNK_SIZE);
  return {
    datasets, chunkCount: chunkCount ?? 0, chunkSize: chunkSize ?? 0, entries,
    hasMetadata: datasetsV !== undefined && chunkCount !== undefined && chunkSize !== undefined,
  };
}
