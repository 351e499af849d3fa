// Importance-matrix files as llama.cpp writes and reads them: the GGUF form
// (gguf.ts, what llama-imatrix writes by default) and the legacy .dat form
// (dat.ts). Either is read from its bytes (the GGUF magic tells them apart,
// as llama.cpp falls back to .dat when a file is not GGUF), and turned into
// the per-column importance llama-quantize hands to the quantizers.
// node:fs is imported on first use, so browsers can use the byte functions.
import { encodeGGUF, parseGGUF } from '../gguf/index.js';
import { encodeIMatrixDat, fromLegacyIMatrix, parseIMatrixDat, toLegacyIMatrix } from './dat.js';
import { IMatrixError } from './errors.js';
import { imatrixFromGGUF, imatrixGGUFSpec } from './gguf.js';
import type { IMatrix, LegacyIMatrix } from './types.js';

export { IMatrixError, type IMatrixErrorInit } from './errors.js';
export type { IMatrix, IMatrixEntry, LegacyIMatrix, LegacyIMatrixEntry } from './types.js';
export { encodeIMatrixDat, fromLegacyIMatrix, parseIMatrixDat, toLegacyIMatrix } from './dat.js';
export {
  imatrixFromGGUF, imatrixGGUFSpec, LLM_KV_IMATRIX_CHUNK_COUNT, LLM_KV_IMATRIX_CHUNK_SIZE, LLM_KV_IMATRIX_DATASETS,
} from './gguf.js';

export type IMatrixFormat = 'gguf' | 'dat';

/** A file read back: which form it is, and its contents in that form. */
export type IMatrixFile =
  | { format: 'gguf'; file: string; imatrix: IMatrix; hasMetadata: boolean }
  | { format: 'dat'; file: string; legacy: LegacyIMatrix };

const isGGUF = (b: Uint8Array): boolean => b.length >= 4 && b[0] === 0x47 && b[1] === 0x47 && b[2] === 0x55 && b[3] === 0x46;

/** Parses an imatrix file's bytes, GGUF or legacy. */
export async function parseIMatrix(bytes: Uint8Array, file = '<memory>'): Promise<IMatrixFile> {
  if (!isGGUF(bytes)) return { format: 'dat', file, legacy: parseIMatrixDat(bytes, file) };
  const h = parseGGUF(bytes, { file });
  const { hasMetadata, ...imatrix } = await imatrixFromGGUF(h, (t) => bytes.subarray(t.absoluteOffset, t.absoluteOffset + t.nBytes));
  return { format: 'gguf', file, imatrix, hasMetadata };
}

/** Reads an imatrix file from disk (Node). */
export async function readIMatrix(path: string): Promise<IMatrixFile> {
  const { readFile } = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new IMatrixError({ file: path, problem: `cannot read the file (${(e as Error).message})`, cause: e });
  }
  return parseIMatrix(bytes, path);
}

/** The bytes of `m` in either form (the .dat form as llama-imatrix --output-format dat computes it). */
export function encodeIMatrix(m: IMatrix, format: IMatrixFormat): Uint8Array {
  return format === 'gguf' ? encodeGGUF(imatrixGGUFSpec(m)) : encodeIMatrixDat(toLegacyIMatrix(m));
}

/** Writes `m` to `path` in either form (Node). */
export async function writeIMatrix(path: string, m: IMatrix, format: IMatrixFormat): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, encodeIMatrix(m, format));
}

/** Collected statistics from either form; a .dat file's chunk size is not stored, so `chunkSize` is assumed (llama.cpp: -c). */
export function imatrixOf(f: IMatrixFile, chunkSize = 512): IMatrix {
  return f.format === 'gguf' ? f.imatrix : fromLegacyIMatrix(f.legacy, chunkSize);
}

/** What llama-quantize --imatrix loads: per weight name, one importance per column. */
export interface Importance {
  /** Weight name -> per-column importance (n_cols * n_mat floats). */
  weights: Map<string, Float32Array>;
  datasets: string[];
  /** Chunks the statistics cover (quantize.imatrix.chunks_count). */
  chunkCount: number;
}

/**
 * The importance llama-quantize derives from a file: the mean squared
 * activation, in_sum2 / count in float per matrix (1 where a matrix saw no
 * tokens), or a .dat value / ncall. Rejects what llama-quantize rejects: a
 * GGUF imatrix without its metadata, non-finite values.
 */
export function importanceOf(f: IMatrixFile): Importance {
  const weights = new Map<string, Float32Array>();
  const check = (name: string, v: Float32Array) => {
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new IMatrixError({ file: f.file, entry: name, problem: `value ${bad} is ${v[bad]} (imatrix values must be finite)` });
    weights.set(name, v);
  };
  if (f.format === 'dat') {
    for (const e of f.legacy.entries) {
      const v = new Float32Array(e.values.length);
      for (let i = 0; i < v.length; i++) v[i] = e.ncall > 0 ? Math.fround(e.values[i]! / e.ncall) : e.values[i]!;
      check(e.name, v);
    }
    return { weights, datasets: f.legacy.dataset ? [f.legacy.dataset] : [], chunkCount: f.legacy.lastCall ?? 0 };
  }
  if (!f.hasMetadata) throw new IMatrixError({ file: f.file, problem: 'missing imatrix metadata (imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size)' });
  for (const e of f.imatrix.entries) {
    if (e.counts.length === 0) continue;
    const per = e.sums.length / e.counts.length;
    const v = new Float32Array(e.sums.length);
    e.counts.forEach((c, m) => {
      const count = Math.fround(c);
      for (let i = 0; i < per; i++) v[m * per + i] = count > 0 ? Math.fround(e.sums[m * per + i]! / count) : 1;
    });
    check(e.name, v);
  }
  return { weights, datasets: f.imatrix.datasets, chunkCount: f.imatrix.chunkCount };
}
