// ggml's own block codecs as an oracle: libggml-base from node-llama-cpp's
// prebuilt package (pinned 3.21.1), called through the koffi FFI. Tests only:
// ggml_get_type_traits(type)->to_float dequantizes a row, ggml_quantize_chunk
// quantizes rows (with an importance matrix, which the i-quants require).
// The struct is ggml_type_traits as that library's ggml.h lays it out.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GGMLType, rowSize } from '../../formats/ggml-types.js';
import { REPO_ROOT } from './shared.js';

export interface GgmlQuants {
  /** The shared library in use. */
  library: string;
  /** ggml's to_float: n elements of `type` blocks to f32. */
  dequantize(type: GGMLType, bytes: Uint8Array, n: number): Float32Array;
  /**
   * ggml_quantize_chunk over rows of nPerRow values (src.length / nPerRow
   * rows), with the importance matrix `imatrix` (nPerRow floats; default all
   * ones), as llama-quantize calls it.
   */
  quantize(type: GGMLType, src: Float32Array, nPerRow: number, imatrix?: Float32Array): Uint8Array;
}

/** libggml-base for this platform in node-llama-cpp's prebuilt packages, or undefined. */
export function findLibggmlBase(): string | undefined {
  const dir = join(REPO_ROOT, 'node_modules', '@node-llama-cpp', `${process.platform}-${process.arch}`, 'bins');
  if (!existsSync(dir)) return undefined;
  const name = /^(lib)?ggml-base\.(so|dylib|dll)$/;
  for (const sub of readdirSync(dir).sort()) {
    const d = join(dir, sub);
    const f = existsSync(d) ? readdirSync(d).find((x) => name.test(x)) : undefined;
    if (f) return join(d, f);
  }
  return undefined;
}

let cached: Promise<GgmlQuants | string> | undefined;

/** The oracle, or why it cannot run here (koffi or the library missing, or the library fails to load). */
export function ggmlQuants(): Promise<GgmlQuants | string> {
  cached ??= load();
  return cached;
}

async function load(): Promise<GgmlQuants | string> {
  const library = findLibggmlBase();
  if (!library) return `no prebuilt libggml-base for ${process.platform}-${process.arch} under node_modules/@node-llama-cpp`;
  let koffi: typeof import('koffi');
  try {
    const mod = await import('koffi');
    koffi = ((mod as { default?: unknown }).default ?? mod) as typeof import('koffi');
  } catch (e) {
    return `the koffi FFI package cannot be loaded (${(e as Error).message.split('\n')[0]})`;
  }
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
    const ToFloat = koffi.proto('void ggml_to_float_oracle(const void *x, float *y, int64_t k)');
    const getTraits = lib.func('ggml_get_type_traits', koffi.pointer(Traits), ['int']);
    const quantizeChunk = lib.func('ggml_quantize_chunk', 'size_t',
      ['int', 'const float *', 'void *', 'int64_t', 'int64_t', 'int64_t', 'const float *']);
    const toFloat = new Map<GGMLType, unknown>();
    return {
      library,
      dequantize(type, bytes, n) {
        let f = toFloat.get(type);
        if (f === undefined) {
          const t = koffi.decode(getTraits(type), Traits) as { to_float: unknown; type_name: string };
          if (!t.to_float) throw new Error(`ggml has no to_float for ${t.type_name}`);
          toFloat.set(type, (f = t.to_float));
        }
        const need = rowSize(type, n);
        if (bytes.length < need) throw new RangeError(`${n} elements need ${need} bytes`);
        const y = new Float32Array(n);
        koffi.call(f, ToFloat, bytes.subarray(0, need), y, n);
        return y;
      },
      quantize(type, src, nPerRow, imatrix) {
        if (src.length % nPerRow !== 0) throw new RangeError('quantize: src is not whole rows');
        const rows = src.length / nPerRow;
        const dst = new Uint8Array(rows * rowSize(type, nPerRow));
        const im = imatrix ?? new Float32Array(nPerRow).fill(1);
        const written = quantizeChunk(type, src, dst, 0, rows, nPerRow, im) as number;
        if (written !== dst.length) throw new Error(`ggml_quantize_chunk wrote ${written} bytes, expected ${dst.length}`);
        return dst;
      },
    };
  } catch (e) {
    return `${library} cannot be loaded through koffi (${(e as Error).message.split('\n')[0]})`;
  }
}
