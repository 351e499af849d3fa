// llama-quantize for GGUF files: the per-tensor type choice of
// llama_tensor_get_type (tensor-type.ts, fed by the model's metadata) and a
// streaming rewrite in which every row goes through the reference
// dequantizer and quantizer, so the bytes are ggml's.
// node:fs is imported on first use, like gguf/write-file.ts.
import { GGMLType, ggmlTypeInfo, ggmlTypeName, rowSize } from '../ggml-types.js';
import {
  fileRange, GGUFValueType, LLM_KV_SPLIT_COUNT, LLM_KV_SPLIT_NO, LLM_KV_SPLIT_TENSORS_COUNT, readGGUF, writeGGUF,
  type GGUFFile, type GGUFKVInput, type GGUFTensorInfo, type TensorDataProvider,
} from '../gguf/index.js';
import { decodeString } from '../gguf/strings.js';
import type { Importance } from '../imatrix/index.js';
import { quantizableTypes } from '../quant/index.js';
import { convertRowBytes, type RowConverter, type RowJob } from './rows.js';
import { GRID_PRESETS, llamaTensorTypes, PRESETS, presetNames, quantizeHParams } from './tensor-type.js';
import { LlamaFileType } from '../gguf/file-type.js';

export { convertRowBytes, type RowConverter, type RowJob } from './rows.js';
export {
  ftypeDefaultType, GRID_PRESETS, llamaTensorTypes, nGqa, PRESETS, presetNames, quantizeHParams, TensorCategory, tensorCategory,
  tensorAllowsQuantization, tensorRequiresImatrix, tensorTypeFallback, useMoreBits,
  type Preset, type QuantizeHParams, type TensorRef, type TensorTypeChoice, type TensorTypeParams,
} from './tensor-type.js';

/** ggml's GGML_QNT_VERSION, written as general.quantization_version. */
export const GGML_QNT_VERSION = 2;

/** The TYPE names `quantize` takes: llama-quantize's, for the types with a reference quantizer here (the grid i-quant ones last). */
export function quantizeTypeNames(): string[] {
  return [...presetNames(), ...Object.keys(GRID_PRESETS)];
}

export interface QuantizeOptions {
  /** --pure: every quantizable tensor in the base type (the row-length fallback still applies). */
  pure?: boolean;
  /** --output-tensor-type. */
  outputTensorType?: GGMLType;
  /** --token-embedding-type. */
  tokenEmbeddingType?: GGMLType;
  /**
   * An imatrix is given (llama.cpp's qs.has_imatrix): Q4_0 and Q5_0 then
   * give the first eighth of the ffn_down matrices Q4_1 / Q5_1, IQ4_NL and
   * IQ4_XS keep them in their own type (Q5_K without), and a Q2_K_S file may
   * be written.
   */
  hasImatrix?: boolean;
  /** --leave-output-tensor: output.weight is copied as it is. */
  leaveOutputTensor?: boolean;
}

/** llama-quantize's metadata keys recording the imatrix a model was quantized with. */
export const LLM_KV_QUANTIZE_IMATRIX_FILE = 'quantize.imatrix.file';
export const LLM_KV_QUANTIZE_IMATRIX_DATASET = 'quantize.imatrix.dataset';
export const LLM_KV_QUANTIZE_IMATRIX_N_ENTRIES = 'quantize.imatrix.entries_count';
export const LLM_KV_QUANTIZE_IMATRIX_N_CHUNKS = 'quantize.imatrix.chunks_count';

export interface TensorPlan {
  tensor: GGUFTensorInfo;
  /** The type it is written in; equal to tensor.type means its bytes are copied. */
  type: GGMLType;
  /** The type the rules asked for, when its blocks did not fit the rows and `type` is llama.cpp's fallback. */
  fallbackFrom?: GGMLType;
  /** llama-quantize refuses to write it without importance weights (Q2_K in a Q2_K_S file; the grid i-quants). */
  requiresImatrix?: boolean;
}

export interface QuantizePlan {
  name: string;
  fileType: LlamaFileType;
  tensors: TensorPlan[];
  /** How many tensors fell back to another type for their row length (llama-quantize's closing warning). */
  nFallback: number;
}

/**
 * A llama-quantize file type that is known here but cannot be written yet
 * (the grid i-quants: their quantizers are not ported). Named as the
 * runtime's UnsupportedError so callers can tell it from a bad argument.
 */
/** llama-quantize's refusal when a tensor needs importance weights and none were given. */
function requireImatrixError(name: string, type: GGMLType): RangeError {
  return new RangeError(`this quantization requires an importance matrix (--imatrix): offending tensor ${name}, target type ${ggmlTypeName(type)}`);
}

/** Every tensor's new type, as llama_tensor_get_type picks it for `typeName` ("Q4_K_M") and this model's metadata. */
export function planQuantize(file: GGUFFile, typeName: string, options: QuantizeOptions = {}): QuantizePlan {
  const upper = typeName.toUpperCase();
  const preset = PRESETS[upper] ?? GRID_PRESETS[upper];
  if (!preset) throw new RangeError(`unknown quantization type "${typeName}" (one of: ${quantizeTypeNames().join(', ')})`);
  const hp = quantizeHParams((k) => file.metadata.get(k));
  const choices = llamaTensorTypes(file.tensors, hp, {
    ftype: preset.ftype, pure: options.pure, hasImatrix: options.hasImatrix,
    outputTensorType: options.outputTensorType, tokenEmbeddingType: options.tokenEmbeddingType,
    quantizeOutputTensor: !options.leaveOutputTensor,
  });
  // llama-quantize checks every tensor before writing any, and names the first that needs an imatrix
  if (!options.hasImatrix) {
    const i = choices.findIndex((c) => c.allowsQuantization && c.requiresImatrix);
    if (i >= 0) throw requireImatrixError(file.tensors[i]!.name, choices[i]!.type);
  }
  const known = new Set(quantizableTypes());
  let nFallback = 0;
  const tensors = file.tensors.map((t, i): TensorPlan => {
    const c = choices[i]!;
    const type = c.type;
    if (!c.allowsQuantization) return { tensor: t, type };
    if (c.fallbackFrom !== undefined) nFallback++;
    if (type !== t.type && !known.has(t.type)) throw new RangeError(`${t.name}: no reference dequantizer for ${ggmlTypeName(t.type)}`);
    if (type !== t.type && !known.has(type)) throw new RangeError(`${t.name}: no reference quantizer for ${ggmlTypeName(type)}`);
    if (t.shape[0]! % ggmlTypeInfo(type)!.blockSize !== 0) {
      throw new RangeError(`${t.name}: rows of ${t.shape[0]} are not whole ${ggmlTypeName(type)} blocks`);
    }
    return {
      tensor: t, type,
      ...(c.fallbackFrom !== undefined ? { fallbackFrom: c.fallbackFrom } : {}),
      ...(c.requiresImatrix ? { requiresImatrix: true } : {}),
    };
  });
  return { name: upper, fileType: preset.ftype, tensors, nFallback };
}

/** llama-quantize copies a string override into a 128-byte buffer: at most 127 bytes survive. */
function overrideString(v: string): { value: string; raw?: Uint8Array } {
  const bytes = new TextEncoder().encode(v);
  if (bytes.length <= 127) return { value: v };
  const d = decodeString(bytes.subarray(0, 127));
  return d.raw ? { value: d.text, raw: d.raw } : { value: d.text };
}

/**
 * The quantize.imatrix.* entries llama-quantize adds (as kv overrides, after
 * general.file_type): the file as named on its command line, the first
 * dataset, the number of entries, and the chunk count when known.
 */
export function imatrixKV(imatrixFile: string, imatrix: Importance): GGUFKVInput[] {
  const kv: GGUFKVInput[] = [{ key: LLM_KV_QUANTIZE_IMATRIX_FILE, type: GGUFValueType.STRING, ...overrideString(imatrixFile) }];
  if (imatrix.datasets.length > 0) kv.push({ key: LLM_KV_QUANTIZE_IMATRIX_DATASET, type: GGUFValueType.STRING, ...overrideString(imatrix.datasets[0]!) });
  kv.push({ key: LLM_KV_QUANTIZE_IMATRIX_N_ENTRIES, value: imatrix.weights.size, type: GGUFValueType.UINT32 });
  if (imatrix.chunkCount > 0) kv.push({ key: LLM_KV_QUANTIZE_IMATRIX_N_CHUNKS, value: imatrix.chunkCount, type: GGUFValueType.UINT32 });
  return kv;
}

/** The metadata llama-quantize writes: the input's, without split keys, with the quantization version and file type set (and `extra`, e.g. imatrixKV, after them). */
export function quantizedKV(file: GGUFFile, fileType: LlamaFileType, extra: readonly GGUFKVInput[] = []): GGUFKVInput[] {
  // ggml's gguf_set_* removes the key and appends it: a value set later moves to the end
  let kv: GGUFKVInput[] = [];
  const set = (entry: GGUFKVInput) => {
    kv = kv.filter((e) => e.key !== entry.key);
    kv.push(entry);
  };
  for (const e of file.kv) set(e);
  set({ key: 'general.quantization_version', value: GGML_QNT_VERSION, type: GGUFValueType.UINT32 });
  set({ key: 'general.file_type', value: fileType, type: GGUFValueType.UINT32 });
  const split = new Set([LLM_KV_SPLIT_NO, LLM_KV_SPLIT_COUNT, LLM_KV_SPLIT_TENSORS_COUNT]);
  kv = kv.filter((e) => !split.has(e.key));
  for (const e of extra) set(e);
  return kv;
}

/** Bytes (input or output, the larger) converted at once: memory stays bounded whatever the model's size. */
const READ_CHUNK = 4 << 20;

export interface ConvertRowsOptions {
  /** Where the rows are converted (a pool of threads, say); here, in order, by default. */
  convert?: RowConverter;
  /** Bytes per chunk, input or output (the larger). Default 4 MiB. */
  chunkBytes?: number;
}

/**
 * A tensor's rows, each dequantized to f32 and quantized to `to`, streamed
 * chunk by chunk; with `importance` (one weight per column) through the
 * imatrix quantizers, as ggml_quantize_chunk does when given an imatrix
 * (a stacked [ne0, ne1, n_expert] tensor: ne0 weights per expert, in order).
 * With `convert` (a pool of threads, say) each chunk goes through it, the
 * next chunk already converting while this one is written.
 */
export function convertRows(t: GGUFTensorInfo, to: GGMLType, importance?: Float32Array, options: ConvertRowsOptions = {}): TensorDataProvider {
  const { convert, chunkBytes = READ_CHUNK } = options;
  return async function* () {
    const { open } = await import('node:fs/promises');
    const ne0 = t.shape[0] ?? 1;
    const nRows = t.nElements / ne0;
    const inRow = rowSize(t.type, ne0);
    const rowsPerChunk = Math.max(1, Math.floor(chunkBytes / Math.max(inRow, rowSize(to, ne0))));
    const fh = await open(t.file, 'r');
    const job = async (r0: number): Promise<Uint8Array> => {
      const n = Math.min(rowsPerChunk, nRows - r0);
      const src = new Uint8Array(n * inRow);
      const { bytesRead } = await fh.read(src, 0, src.length, t.absoluteOffset + r0 * inRow);
      if (bytesRead !== src.length) throw new Error(`${t.file}: the file ended inside tensor ${t.name}`);
      const j: RowJob = { from: t.type, to, ne0, firstRow: r0, src, rowsPerMatrix: t.shape[1] ?? 1, ...(importance ? { importance } : {}) };
      return convert ? convert(j) : convertRowBytes(j);
    };
    let pending: Promise<Uint8Array> | undefined = nRows > 0 ? job(0) : undefined;
    try {
      for (let r0 = 0; r0 < nRows; r0 += rowsPerChunk) {
        const current = pending!;
        const r1 = r0 + rowsPerChunk;
        pending = convert && r1 < nRows ? job(r1) : undefined;
        // a failure of the chunk ahead is thrown when its turn comes, not as an unhandled rejection
        pending?.catch(() => {});
        yield await current;
        if (!pending && r1 < nRows) pending = job(r1);
      }
    } finally {
      await pending?.catch(() => {});
      await fh.close();
    }
  };
}

export interface QuantizeProgress {
  /** 1-based, as llama-quantize's [ i/ n] lines. */
  index: number;
  total: number;
  tensor: GGUFTensorInfo;
  type: GGMLType;
  /** Bytes written for it. */
  nBytes: number;
  /** Bytes of tensor data written for the whole model. */
  totalBytes: number;
  /** Quantized with importance weights from the imatrix. */
  imatrix: boolean;
}

export interface QuantizeFileOptions extends QuantizeOptions {
  /** Called when a tensor starts being written. */
  onTensor?: (p: QuantizeProgress) => void;
  /** Convert already-quantized tensors too (llama-quantize --allow-requantize). Default true. */
  allowRequantize?: boolean;
  /** --imatrix: per-column importance by weight name (formats/imatrix importanceOf). */
  imatrix?: Importance;
  /** The imatrix file as named by the user, recorded in quantize.imatrix.file. Default "". */
  imatrixFile?: string;
  /** What llama-quantize logs and goes on from: a tensor with no or mis-sized imatrix data. */
  onWarning?: (message: string) => void;
  /** Converts runs of rows (runtime/quantize's worker pool); by default they are converted here, in order. */
  convertRows?: RowConverter;
  /** Bytes of a tensor converted at once (input or output, the larger). Default 4 MiB. */
  chunkBytes?: number;
  /** Called after each chunk of tensor data is written, with its size in bytes. */
  onData?: (nBytes: number) => void;
}

export interface QuantizeResult {
  plan: QuantizePlan;
  inBytes: number;
  outBytes: number;
  fileSize: number;
}

/**
 * Quantizes the model at `inPath` (any shard of a split model) into one file
 * at `outPath`. The output is written to a temporary file beside it and
 * renamed at the end, so a failure never leaves a half-written model, and
 * `outPath` may not be the input itself (by real path).
 */
export async function quantizeGGUF(inPath: string, outPath: string, typeName: string, options: QuantizeFileOptions = {}): Promise<QuantizeResult> {
  const { checkNotInput, writeOutput } = await import('../output-file.js');
  const file = await readGGUF(inPath);
  // the model's files and the imatrix are inputs: the output may be none of them (by device and inode)
  const inputs = [inPath, ...file.shards.map((h) => h.file), ...(options.imatrixFile ? [options.imatrixFile] : [])];
  checkNotInput(outPath, inputs);

  const plan = planQuantize(file, typeName, { ...options, hasImatrix: options.hasImatrix ?? (options.imatrix !== undefined && options.imatrix.weights.size > 0) });
  if (options.allowRequantize === false) {
    const re = plan.tensors.find((p) => p.type !== p.tensor.type && ggmlTypeInfo(p.tensor.type)!.isQuantized);
    if (re) throw new Error(`requantizing from type ${ggmlTypeName(re.tensor.type)} is disabled (${re.tensor.name})`);
  }
  let inBytes = 0, outBytes = 0;
  const total = plan.tensors.length;
  const tensors = plan.tensors.map(({ tensor: t, type, requiresImatrix }, i) => {
    const nBytes = rowSize(type, t.shape[0] ?? 1) * (t.nElements / (t.shape[0] ?? 1));
    inBytes += t.nBytes;
    outBytes += nBytes;
    const importance = type === t.type ? undefined : importanceFor(t, options);
    // an imatrix without this tensor's weights: llama-quantize stops rather than write garbage
    if (requiresImatrix && !importance) throw new Error(`missing importance matrix for tensor ${t.name} in a very low-bit quantization (${ggmlTypeName(type)})`);
    const inner = type === t.type ? fileRange(t.file, t.absoluteOffset, t.nBytes) : convertRows(t, type, importance, { convert: options.convertRows, chunkBytes: options.chunkBytes });
    const data: TensorDataProvider = async function* () {
      options.onTensor?.({ index: i + 1, total, tensor: t, type, nBytes, totalBytes: outBytes, imatrix: importance !== undefined });
      for await (const chunk of inner()) {
        yield chunk;
        options.onData?.(chunk.length);
      }
    };
    return { name: t.name, nameRaw: t.nameRaw, type, shape: t.shape, data };
  });

  // llama-quantize records an imatrix only when it has entries
  const extra = options.imatrix && options.imatrix.weights.size > 0 ? imatrixKV(options.imatrixFile ?? '', options.imatrix) : [];
  let fileSize = 0;
  await writeOutput(outPath, inputs, async (tmp) => {
    fileSize = await writeGGUF(tmp, { version: 3, kv: quantizedKV(file, plan.fileType, extra), tensors });
  });
  return { plan, inBytes, outBytes, fileSize };
}

/**
 * A tensor's imatrix weights as llama_model_quantize finds them: by name,
 * used only when there is one value per column (per column and expert for
 * stacked experts); otherwise it says so and quantizes without.
 */
function importanceFor(t: GGUFTensorInfo, options: QuantizeFileOptions): Float32Array | undefined {
  if (!options.imatrix) return undefined;
  const v = options.imatrix.weights.get(t.name);
  if (!v) {
    options.onWarning?.(`did not find imatrix data for ${t.name}`);
    return undefined;
  }
  const want = (t.shape[0] ?? 1) * (t.shape[2] ?? 1);
  if (v.length !== want) {
    options.onWarning?.(`imatrix size ${v.length} is different from tensor size ${want} for ${t.name}`);
    return undefined;
  }
  return v;
}
