// What an importance matrix holds, in the two forms llama.cpp writes.

/**
 * One matmul weight's statistics as llama-imatrix keeps them (the GGUF
 * form): per input column, the sum over every counted token of the squared
 * activation, and how many tokens were counted. A 2-D weight has one matrix
 * (counts.length 1); a stacked MoE weight one per expert, sums being
 * counts.length rows of n columns.
 */
export interface IMatrixEntry {
  /** The weight's GGUF name ("blk.0.attn_q.weight"). */
  name: string;
  /** <name>.in_sum2: sum of x^2 per column, counts.length rows. */
  sums: Float32Array;
  /** <name>.counts: tokens counted, per matrix (stored as f32, read back rounded). */
  counts: number[];
  /** <name>.in_sum: sum of x per column, when the file has it (newer llama.cpp writes it). */
  inSum?: Float32Array;
}

export interface IMatrix {
  /** imatrix.datasets: the calibration files. */
  datasets: string[];
  /** imatrix.chunk_count: chunks the statistics cover. */
  chunkCount: number;
  /** imatrix.chunk_size: tokens per chunk (n_ctx / n_parallel). */
  chunkSize: number;
  /** Sorted by name, as llama.cpp writes them. */
  entries: IMatrixEntry[];
}

/**
 * One entry of the legacy .dat file: the values are the mean squared
 * activation times ncall (the chunk count), so value / ncall is the mean.
 */
export interface LegacyIMatrixEntry {
  name: string;
  ncall: number;
  values: Float32Array;
}

/** The legacy binary form (imatrix.dat): entries, then the chunk count and the dataset path. */
export interface LegacyIMatrix {
  entries: LegacyIMatrixEntry[];
  /** The trailing call count (llama.cpp's m_last_chunk); absent in files that end after the entries. */
  lastCall?: number;
  /** The calibration file's path; absent in files that end before it. */
  dataset?: string;
}
