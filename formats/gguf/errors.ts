// The one error type the GGUF layer throws. Every problem with a file's bytes
// is reported with the file, the byte offset where the problem is, and when
// relevant the metadata key or tensor name, so a user can see at a glance
// whether a download is truncated or a converter wrote something wrong.

/** What went wrong, for callers that branch on it (tests, the CLI, loaders). */
export type GGUFErrorCode =
  | 'io' // the file cannot be opened or read
  | 'magic' // not a GGUF file
  | 'version' // a GGUF version this reader does not know
  | 'truncated' // a field runs past the end of the file
  | 'incomplete' // an in-memory prefix ends before the header does (the file itself may be fine)
  | 'length' // a string or array length larger than the bytes left in the file
  | 'count' // n_tensors / n_kv that cannot fit in the bytes left
  | 'value-type' // unknown metadata value type
  | 'key' // an empty metadata key
  | 'nesting' // arrays of arrays nested deeper than any real file needs
  | 'alignment' // general.alignment is not a uint32 power of two
  | 'tensor-type' // unknown ggml tensor type id
  | 'n-dims' // more dimensions than ggml's GGML_MAX_DIMS (4)
  | 'shape' // a negative dimension, or an element count beyond 2^53 or the file
  | 'row-size' // ne0 is not a whole number of blocks of the tensor's type
  | 'too-large' // a 64-bit value beyond Number.MAX_SAFE_INTEGER
  | 'data-bounds' // tensor data outside the file
  | 'overlap' // two tensors' data overlap
  | 'misaligned' // tensor data offset not a multiple of the alignment
  | 'duplicate-tensor' // two tensors with the same name
  | 'split' // split (sharded) model inconsistent
  | 'split-missing' // a shard of a split model is absent
  | 'write'; // the writer was given something it cannot write

export interface GGUFErrorInit {
  code: GGUFErrorCode;
  /** Path of the file (or the name given to an in-memory buffer). */
  file: string;
  /** Byte offset in the file where the problem is; absent for whole-file problems (io). */
  offset?: number;
  /** Metadata key or tensor name the problem belongs to. */
  key?: string;
  /** Whether `key` names a tensor (phrases the message as tensor "x"). */
  keyIsTensor?: boolean;
  /** What was expected there, in words ("uint32", "at most 4", "GGUF"). */
  expected?: string;
  /** The problem, without the file/offset/key prefix. */
  problem: string;
  cause?: unknown;
}

export class GGUFError extends Error {
  override readonly name: string = 'GGUFError';
  readonly code: GGUFErrorCode;
  readonly file: string;
  readonly offset: number | undefined;
  readonly key: string | undefined;
  readonly expected: string | undefined;
  /** The problem alone, without location (the message is `location: problem`). */
  readonly problem: string;

  constructor(init: GGUFErrorInit) {
    let where = init.file;
    if (init.offset !== undefined) where += `: at byte ${init.offset}`;
    if (init.key !== undefined) where += `${init.offset !== undefined ? ',' : ':'} ${init.keyIsTensor ? 'tensor' : 'key'} "${init.key}"`;
    super(`${where}: ${init.problem}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.file = init.file;
    this.offset = init.offset;
    this.key = init.key;
    this.expected = init.expected;
    this.problem = init.problem;
  }
}

/**
 * The in-memory bytes end before the header does, but the file is longer:
 * whoever holds the file can read up to `needed` bytes and parse again.
 */
export class GGUFIncompleteError extends GGUFError {
  /** Its own name, so that it keeps its class across the worker boundary (runtime/api/protocol.ts). */
  override readonly name: string = 'GGUFIncompleteError';
  /** Bytes from the start of the file the parser needs (at least). */
  readonly needed: number;

  constructor(file: string, offset: number, needed: number, have: number) {
    super({
      code: 'incomplete', file, offset, expected: `${needed} bytes`,
      problem: `the header needs bytes up to ${needed} but only the first ${have} bytes were given`,
    });
    this.needed = needed;
  }
}
