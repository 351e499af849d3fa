// ggml's own quantizers and dequantizers as the oracle of formats/quant: the
// libggml-base that node-llama-cpp (pinned 3.21.1) ships prebuilt, called
// through the koffi FFI. Used only by tests. The struct below is
// ggml_type_traits as that library's ggml.h lays it out.
import { ggmlTypeInfo, rowSize, type GGMLType } from '../../formats/ggml-types.js';
import { findNodeLlamaCppLibrary, openNodeLlamaCppLibrary } from './native-lib.js';

export interface GGMLQuants {
  /** The shared library in use. */
  library: string;
  /** type_traits[type].to_float over n elements (dequantize_row_*). */
  dequantize(type: GGMLType, bytes: Uint8Array, n: number): Float32Array;
  /** type_traits[type].from_float_ref (quantize_row_*_ref) over one row. */
  quantizeRef(type: GGMLType, x: Float32Array): Uint8Array;
  /** ggml_quantize_chunk(type, x, dst, 0, nrows, n_per_row, imatrix): what llama-quantize writes. */
  quantizeChunk(type: GGMLType, x: Float32Array, nPerRow: number, imatrix?: Float32Array): Uint8Array;
  requiresImatrix(type: GGMLType): boolean;
}

/** node-llama-cpp's prebuilt libggml-base for this platform, or undefined. */
export function findLibggmlBase(): string | undefined {
  return findNodeLlamaCppLibrary('ggml-base');
}

let cached: Promise<GGMLQuants | string> | undefined;

/** The oracle, or why it cannot run here (koffi or the library missing, or the library fails to load). */
export function ggmlQuants(): Promise<GGMLQuants | string> {
  cached ??= load();
  return cached;
}

async function load(): Promise<GGMLQuants | string> {
  const opened = await openNodeLlamaCppLibrary('ggml-base');
  if (typeof opened === 'string') return opened;
  const { koffi, library } = opened;
  try {
    const lib = koffi.load(library);
    const Traits = koffi.struct('ggml_type_traits_oracle', {
      type_name: 'const char *',
      blck_size: 'int64_t',
      blck_size_interleave: 'int64_t',
      type_size: 'size_t',
      is_quantized: 'bool',
      to_float: 'void *',
      from_float_ref: 'void *',
    });
    const ToFloat = koffi.proto('void ggml_oracle_to_float(const void *x, _Out_ float *y, int64_t k)');
    const FromFloat = koffi.proto('void ggml_oracle_from_float(const float *x, _Out_ uint8_t *y, int64_t k)');
    const getTraits = lib.func('ggml_get_type_traits', koffi.pointer(Traits), ['int']);
    const quantizeChunk = lib.func('ggml_quantize_chunk', 'size_t',
      ['int', 'const float *', '_Out_ uint8_t *', 'int64_t', 'int64_t', 'int64_t', 'const float *']);
    const quantizeInit = lib.func('ggml_quantize_init', 'void', ['int']);
    const requiresImatrix = lib.func('ggml_quantize_requires_imatrix', 'bool', ['int']);
    const traits = (type: GGMLType) => {
      const t = koffi.decode(getTraits(type), Traits) as { type_name: string; to_float: unknown; from_float_ref: unknown };
      if (t.type_name !== ggmlTypeInfo(type)!.name) throw new Error(`ggml calls type ${type} ${t.type_name}`);
      return t;
    };
    return {
      library,
      dequantize(type, bytes, n) {
        const y = new Float32Array(n);
        koffi.call(traits(type).to_float, ToFloat, bytes, y, n);
        return y;
      },
      quantizeRef(type, x) {
        const y = new Uint8Array(rowSize(type, x.length));
        koffi.call(traits(type).from_float_ref, FromFloat, x, y, x.length);
        return y;
      },
      quantizeChunk(type, x, nPerRow, imatrix) {
        quantizeInit(type);
        const nrows = x.length / nPerRow;
        const y = new Uint8Array(rowSize(type, nPerRow) * nrows);
        const written = Number(quantizeChunk(type, x, y, 0, nrows, nPerRow, imatrix ?? null));
        if (written !== y.length) throw new Error(`ggml_quantize_chunk wrote ${written} bytes, expected ${y.length}`);
        return y;
      },
      requiresImatrix: (type) => requiresImatrix(type) as boolean,
    };
  } catch (e) {
    return `${library} cannot be loaded through koffi (${(e as Error).message.split('\n')[0]})`;
  }
}
