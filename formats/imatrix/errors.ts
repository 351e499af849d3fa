// The error the imatrix readers throw: the file, the byte offset of the
// problem (or of the tensor info / entry it belongs to) and the entry name,
// so a truncated download or a file of another kind is recognisable.

export interface IMatrixErrorInit {
  file: string;
  offset?: number;
  /** The imatrix entry (weight name) or tensor the problem belongs to. */
  entry?: string;
  problem: string;
  cause?: unknown;
}

export class IMatrixError extends Error {
  override readonly name = 'IMatrixError';
  readonly file: string;
  readonly offset: number | undefined;
  readonly entry: string | undefined;
  readonly problem: string;

  constructor(init: IMatrixErrorInit) {
    let where = init.file;
    if (init.offset !== undefined) where += `: at byte ${init.offset}`;
    if (init.entry !== undefined) where += `${init.offset !== undefined ? ',' : ':'} entry "${init.entry}"`;
    super(`${where}: ${init.problem}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.file = init.file;
    this.offset = init.offset;
    this.entry = init.entry;
    this.problem = init.problem;
  }
}
