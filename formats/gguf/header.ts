// What reading a GGUF header gives: the ordered kv list exactly as stored,
// a resolved metadata view, and the tensor infos with absolute data offsets.
import type { GGMLType } from '../ggml-types.js';
import type { GGUFTypedValue, GGUFValue } from './value-types.js';

export const GGUF_MAGIC = 'GGUF';
/** general.alignment when the key is absent (GGUF_DEFAULT_ALIGNMENT). */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS: tensors have at most 4 dimensions. */
export const GGML_MAX_DIMS = 4;
export const GGUF_VERSIONS = [1, 2, 3] as const;
export type GGUFVersion = (typeof GGUF_VERSIONS)[number];

/** One metadata entry as stored (duplicates included, in file order). */
export interface GGUFKV extends GGUFTypedValue {
  key: string;
  /** The key's bytes when they are not valid UTF-8. */
  keyRaw?: Uint8Array;
  /** Byte offset of the entry (its key length) in the file. */
  offset: number;
}

export interface GGUFTensorInfo {
  name: string;
  /** The name's bytes when they are not valid UTF-8. */
  nameRaw?: Uint8Array;
  /** ne[0..n_dims), ne0 (the row length) first, as GGUF stores it. */
  shape: number[];
  type: GGMLType;
  /** Data offset as stored: relative to the data section of its file. */
  offset: number;
  /** Byte offset of the data in `file`. */
  absoluteOffset: number;
  nElements: number;
  nBytes: number;
  /** Path (or in-memory name) of the file holding the data; split models have several. */
  file: string;
  /** Index of that file among the shards (0 when not split). */
  shard: number;
  /** Byte offset of this tensor info in the header. */
  infoOffset: number;
}

/** One parsed GGUF file (one shard of a split model). */
export interface GGUFHeader {
  file: string;
  version: GGUFVersion;
  /** Every kv entry in file order, duplicates included: rewriting these gives the same bytes. */
  kv: GGUFKV[];
  /** key -> value; when a key repeats, the last one wins (and `warnings` says so). */
  metadata: Map<string, GGUFValue>;
  tensors: GGUFTensorInfo[];
  alignment: number;
  /** End of the tensor infos. */
  headerSize: number;
  /** Start of the tensor data: headerSize padded to the alignment (not padded when there are no tensors). */
  dataOffset: number;
  fileSize: number;
  /** Oddities that do not stop reading (a repeated key). The library never prints them. */
  warnings: string[];
}

/**
 * A model as one: for a split model (name-00001-of-00003.gguf), the first
 * shard's metadata, and the tensors of every shard with their own file and
 * absolute offset. For a single file, `shards` is just that file.
 */
export interface GGUFFile extends GGUFHeader {
  shards: GGUFHeader[];
}
