// Builds GGUF files: the header bytes and where each tensor's data goes.
// Writes v3 by default, or v1/v2, so that reading a file and writing it with
// its own version gives the same bytes. write-file.ts streams to disk.
import { ggmlTypeInfo, type GGMLType } from '../ggml-types.js';
import { ByteBuilder } from './byte-builder.js';
import { GGUFError } from './errors.js';
import { GGML_MAX_DIMS, GGUF_DEFAULT_ALIGNMENT, type GGUFHeader, type GGUFTensorInfo, type GGUFVersion } from './header.js';
import { toTypedValue, writeTypedValue, type GGUFKVInput } from './kv-encode.js';
import { alignUp } from './reader.js';
import { encodeString } from './strings.js';
import { checkTensorData } from './tensor-checks.js';
import { GGUFValueType, type GGUFTypedValue } from './value-types.js';

/** Chunks of a tensor's bytes, produced when the writer gets to that tensor. */
export type TensorDataProvider = () => AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface GGUFTensorInput {
  name: string;
  type: GGMLType;
  /** ne0 (row length) first, 0 to 4 dims. */
  shape: readonly number[];
  /** Exactly the tensor's bytes; a provider lets write-file.ts stream them. Absent: zeros. */
  data?: Uint8Array | TensorDataProvider;
  /** Offset in the data section; default: after the previous tensor, aligned. */
  offset?: number;
  nameRaw?: Uint8Array;
}

export interface GGUFWriteSpec {
  /** Default 3. */
  version?: GGUFVersion;
  kv: readonly GGUFKVInput[];
  tensors?: readonly GGUFTensorInput[];
  /**
   * Pad the header to the alignment even when there are no tensors (ggml's
   * writer does; gguf-py, which wrote llama.cpp's vocab files, does not).
   * Default false.
   */
  padEmpty?: boolean;
}

export interface PlannedTensor {
  input: GGUFTensorInput;
  nBytes: number;
  /** Offset in the data section. */
  offset: number;
}

export interface GGUFLayout {
  /** Header bytes, padded up to the data section. */
  header: Uint8Array;
  alignment: number;
  dataOffset: number;
  /** Tensors in the order of their infos. */
  tensors: PlannedTensor[];
  /** Total file size: data end padded to the alignment. */
  fileSize: number;
}

/** Encodes the header and places every tensor; `file` names the output in errors. */
export function planGGUF(spec: GGUFWriteSpec, file = '<output>'): GGUFLayout {
  const version = spec.version ?? 3;
  if (version !== 1 && version !== 2 && version !== 3) {
    throw new GGUFError({ code: 'write', file, problem: `cannot write GGUF version ${version}`, expected: '1, 2 or 3' });
  }
  const w = new ByteBuilder(version >= 2, file);
  const kv = spec.kv.map((e) => ({ key: e.key, keyRaw: e.keyRaw, tv: toTypedValue(e, file, e.key) }));
  const alignment = alignmentOf(kv, file);
  const inputs = spec.tensors ?? [];

  w.bytes(new Uint8Array([0x47, 0x47, 0x55, 0x46])); // "GGUF"
  w.u32(version);
  w.size(inputs.length, 'tensor count');
  w.size(kv.length, 'kv count');
  for (const e of kv) {
    w.stringBytes(encodeString(e.key, e.keyRaw), e.key);
    writeTypedValue(w, e.tv, e.key);
  }

  const tensors = placeTensors(inputs, alignment, file);
  for (const t of tensors) {
    const { name, shape, type, nameRaw } = t.input;
    w.stringBytes(encodeString(name, nameRaw), name);
    w.u32(shape.length);
    for (const ne of shape) w.size(ne, 'dimension', name);
    w.i32(type);
    w.u64(t.offset);
  }
  const headerSize = w.length;
  if (inputs.length > 0 || spec.padEmpty) w.pad(alignment);
  const dataOffset = w.length;

  let dataEnd = 0;
  for (const t of tensors) dataEnd = Math.max(dataEnd, t.offset + t.nBytes);
  const fileSize = inputs.length > 0 ? dataOffset + alignUp(dataEnd, alignment) : dataOffset;
  // The same checks as reading: a file we write must read back.
  checkTensorData(
    tensors.map((t) => ({ name: t.input.name, offset: t.offset, nBytes: t.nBytes })),
    tensors.map(() => headerSize), { file, alignment, dataOffset, fileSize },
  );
  return { header: w.result(), alignment, dataOffset, tensors, fileSize };
}

/** The whole file in memory (tensor data must be Uint8Arrays or absent). */
export function encodeGGUF(spec: GGUFWriteSpec): Uint8Array {
  const layout = planGGUF(spec);
  const out = new Uint8Array(layout.fileSize);
  out.set(layout.header);
  for (const t of layout.tensors) {
    const data = t.input.data;
    if (data === undefined) continue;
    if (!(data instanceof Uint8Array)) {
      throw new GGUFError({ code: 'write', file: '<output>', key: t.input.name, keyIsTensor: true, problem: 'encodeGGUF needs tensor data as a Uint8Array (use writeGGUF to stream)' });
    }
    checkDataLength(t, data.length, '<output>');
    out.set(data, layout.dataOffset + t.offset);
  }
  return out;
}

/**
 * What rewriting a parsed file takes: its kv list and tensor infos as they
 * are, with each tensor's bytes from `data`. Written with the same version,
 * the result is byte-identical to the original.
 */
export function specFromHeader(
  h: GGUFHeader, data: (t: GGUFTensorInfo) => Uint8Array | TensorDataProvider, version: GGUFVersion = h.version,
): GGUFWriteSpec {
  return {
    version,
    kv: h.kv,
    tensors: h.tensors.map((t) => ({ name: t.name, nameRaw: t.nameRaw, type: t.type, shape: t.shape, offset: t.offset, data: data(t) })),
    // A file with no tensors that goes on after its header was padded by its writer (ggml).
    padEmpty: h.tensors.length === 0 && h.fileSize > h.headerSize,
  };
}

export function checkDataLength(t: PlannedTensor, got: number, file: string): void {
  if (got !== t.nBytes) {
    throw new GGUFError({
      code: 'write', file, key: t.input.name, keyIsTensor: true, expected: `${t.nBytes} bytes`,
      problem: `data has ${got} bytes but shape [${t.input.shape.join(', ')}] of ${ggmlTypeInfo(t.input.type)?.name} takes ${t.nBytes}`,
    });
  }
}

function alignmentOf(kv: { key: string; tv: GGUFTypedValue }[], file: string): number {
  let a: GGUFTypedValue | undefined;
  for (const e of kv) if (e.key === 'general.alignment') a = e.tv;
  if (!a) return GGUF_DEFAULT_ALIGNMENT;
  const v = a.value;
  if (a.type !== GGUFValueType.UINT32 || typeof v !== 'number' || v === 0 || (v & (v - 1)) !== 0) {
    throw new GGUFError({ code: 'write', file, key: 'general.alignment', problem: `general.alignment must be a uint32 power of two, got ${String(v)}`, expected: 'a uint32 power of two' });
  }
  return v;
}

function placeTensors(inputs: readonly GGUFTensorInput[], alignment: number, file: string): PlannedTensor[] {
  const names = new Set<string>();
  let next = 0;
  return inputs.map((input) => {
    const fail = (problem: string, expected?: string): never => {
      throw new GGUFError({ code: 'write', file, key: input.name, keyIsTensor: true, problem, expected });
    };
    if (names.has(input.name)) fail('tensor name repeated', 'unique tensor names');
    names.add(input.name);
    const info = ggmlTypeInfo(input.type);
    if (!info) return fail(`unknown ggml type ${input.type}`);
    if (input.shape.length > GGML_MAX_DIMS) fail(`${input.shape.length} dimensions, more than ${GGML_MAX_DIMS}`);
    let n = 1;
    for (const ne of input.shape) {
      if (!Number.isSafeInteger(ne) || ne < 0) fail(`dimension ${ne} is not a non-negative integer`);
      n *= ne;
    }
    if (!Number.isSafeInteger(n)) fail(`shape [${input.shape.join(', ')}] has more than 2^53 elements`);
    const ne0 = input.shape.length > 0 ? input.shape[0] : 1;
    if (ne0 % info.blockSize !== 0) fail(`ne[0] = ${ne0} is not a multiple of ${info.name}'s block size ${info.blockSize}`);
    const nBytes = (n / info.blockSize) * info.typeSize;
    const offset = input.offset ?? alignUp(next, alignment);
    if (!Number.isSafeInteger(offset) || offset < 0) fail(`offset ${offset} is not a non-negative integer`);
    next = Math.max(next, offset + nBytes);
    return { input, nBytes, offset };
  });
}
