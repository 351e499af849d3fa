// GGUF read and write: v1, v2, v3 and split models.
//   reader.ts      parseGGUF: header from bytes in memory (browsers, tests)
//   read.ts        readGGUF: header from a file, reading only the header; split models as one
//   byte-source.ts where bytes come from (file, Blob, memory)
//   writer.ts      planGGUF / encodeGGUF: header bytes and tensor placement
//   write-file.ts  writeGGUF / rewriteGGUF / writeSplitGGUF: streaming to disk
//   file-type.ts   general.file_type names and llama.cpp's guess
export { GGUFError, GGUFIncompleteError, type GGUFErrorCode, type GGUFErrorInit } from './errors.js';
export {
  GGUFValueType, ggufTypeName, ggufTypeShortName, ggufTypeSize, isGGUFValueType,
  type GGUFArray, type GGUFNumericArray, type GGUFTypedValue, type GGUFValue,
} from './value-types.js';
export {
  GGUF_DEFAULT_ALIGNMENT, GGML_MAX_DIMS, GGUF_VERSIONS,
  type GGUFFile, type GGUFHeader, type GGUFKV, type GGUFTensorInfo, type GGUFVersion,
} from './header.js';
export type { ParseStats } from './cursor.js';
export { parseGGUF, alignUp, type ParseOptions } from './reader.js';
export { blobSource, memorySource, openFileSource, type ByteSource } from './byte-source.js';
export { readGGUF, readGGUFHeader, readTensorData, type ReadOptions } from './read.js';
export {
  LLM_KV_SPLIT_COUNT, LLM_KV_SPLIT_NO, LLM_KV_SPLIT_TENSORS_COUNT, mergeShards, parseSplitPath, splitPath,
} from './split.js';
export type { GGUFKVInput, GGUFValueInput } from './kv-encode.js';
export {
  encodeGGUF, planGGUF, specFromHeader,
  type GGUFLayout, type GGUFTensorInput, type GGUFWriteSpec, type PlannedTensor, type TensorDataProvider,
} from './writer.js';
export { fileRange, rewriteGGUF, writeGGUF, writeSplitGGUF } from './write-file.js';
export { LlamaFileType, fileTypeOf, guessFileType, llamaFileTypeName, type FileTypeInfo } from './file-type.js';
