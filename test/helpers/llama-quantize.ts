// llama-quantize itself as the oracle of per-tensor types: llama.cpp's
// llama_model_quantize in the libllama that node-llama-cpp (pinned 3.21.1)
// ships prebuilt, called through the koffi FFI. The struct below is
// llama_model_quantize_params as that library's llama.h lays it out; the
// defaults come from the library (llama_model_quantize_default_params), so
// only the fields a test sets are ours.
import type { GGMLType } from '../../formats/ggml-types.js';
import type { LlamaFileType } from '../../formats/gguf/index.js';
import { findNodeLlamaCppLibrary, openNodeLlamaCppLibrary } from './native-lib.js';

export interface LlamaQuantizeOptions {
  ftype: LlamaFileType;
  pure?: boolean;
  outputTensorType?: GGMLType;
  tokenEmbeddingType?: GGMLType;
  /** Default 2 (this machine's cores are shared). */
  nthread?: number;
  /**
   * llama-quantize --imatrix: per-column importance by tensor name, as
   * llama_model_quantize_params.imatrix takes it (an array of {name, data,
   * size} ending with a null name; the tool fills it from the imatrix file).
   */
  imatrix?: ReadonlyMap<string, Float32Array>;
}

export interface LlamaQuantizer {
  /** The shared library in use. */
  library: string;
  /** Writes `out` from `inp` as llama-quantize would; throws when llama.cpp reports a failure. */
  quantize(inp: string, out: string, options: LlamaQuantizeOptions): void;
  /**
   * llama-quantize --dry-run: every tensor's type as llama.cpp chose it (read
   * from the lines it logs per tensor), and whether writing the file would
   * need an imatrix (its closing warning). Writes nothing, quantizes nothing:
   * the type rules can be checked on every preset for the cost of a file read.
   */
  dryRun(inp: string, options: LlamaQuantizeOptions): { types: Map<string, string>; requiresImatrix: boolean };
}

/** The CPU build's libllama for this platform in node-llama-cpp's prebuilt packages, or undefined. */
export function findLibllama(): string | undefined {
  return findNodeLlamaCppLibrary('llama');
}

let cached: Promise<LlamaQuantizer | string> | undefined;

/** The oracle, or why it cannot run here (koffi or the library missing, or the library fails to load). */
export function llamaQuantizer(): Promise<LlamaQuantizer | string> {
  cached ??= load();
  return cached;
}

async function load(): Promise<LlamaQuantizer | string> {
  const opened = await openNodeLlamaCppLibrary('llama');
  if (typeof opened === 'string') return opened;
  const { koffi, library } = opened;
  try {
    const lib = koffi.load(library);
    const Params = koffi.struct('llama_model_quantize_params', {
      nthread: 'int32_t',
      ftype: 'int', // enum llama_ftype
      output_tensor_type: 'int', // enum ggml_type; GGML_TYPE_COUNT: the rules decide
      token_embedding_type: 'int',
      allow_requantize: 'bool',
      quantize_output_tensor: 'bool',
      only_copy: 'bool',
      pure: 'bool',
      keep_split: 'bool',
      dry_run: 'bool',
      imatrix: 'void *',
      kv_overrides: 'void *',
      tt_overrides: 'void *',
      prune_layers: 'void *',
      max_buf_size: 'size_t',
    });
    // the imatrix field is declared void * above; the entries are passed as this array (koffi copies it, and the
    // names and data it points to, for the duration of the call)
    const ImatrixData = koffi.struct('llama_model_imatrix_data', { name: 'const char *', data: 'const float *', size: 'size_t' });
    const defaults = lib.func('llama_model_quantize_default_params', Params, []);
    const quantize = lib.func('llama_model_quantize', 'uint32_t', ['const char *', 'const char *', koffi.pointer(Params)]);
    // llama.cpp logs every tensor to stderr: a no-op logger keeps test output readable. The logger is
    // the library's, shared with node-llama-cpp in this process, so it is put back after each call.
    const LogCallback = koffi.proto('void llama_quantize_oracle_log(int level, const char *text, void *user_data)');
    const logGet = lib.func('llama_log_get', 'void', [koffi.out(koffi.pointer('void *')), koffi.out(koffi.pointer('void *'))]);
    const logSet = lib.func('llama_log_set', 'void', ['void *', 'void *']);
    const silent = koffi.register(() => {}, koffi.pointer(LogCallback));
    // a dry run's log is its result: collected by a logger of our own for the length of the call
    let captured: string[] | undefined;
    const capture = koffi.register((_level: number, text: string) => captured?.push(text), koffi.pointer(LogCallback));
    const call = (inp: string, out: string, o: LlamaQuantizeOptions, dryRun: boolean): void => {
      const p = defaults() as Record<string, unknown>;
      p.ftype = o.ftype;
      p.nthread = o.nthread ?? 2;
      p.dry_run = dryRun;
      if (o.pure) p.pure = true;
      if (o.outputTensorType !== undefined) p.output_tensor_type = o.outputTensorType;
      if (o.tokenEmbeddingType !== undefined) p.token_embedding_type = o.tokenEmbeddingType;
      if (o.imatrix) {
        const entries = [...o.imatrix].map(([name, data]) => ({ name, data, size: data.length }));
        p.imatrix = koffi.as([...entries, { name: null, data: null, size: 0 }], koffi.pointer(ImatrixData));
      }
      const prev: [unknown[], unknown[]] = [[null], [null]];
      logGet(prev[0], prev[1]);
      logSet(dryRun ? capture : silent, null);
      let rc: number;
      try {
        rc = quantize(inp, out, p) as number;
      } finally {
        logSet(prev[0][0], prev[1][0]);
      }
      if (rc !== 0) throw new Error(`llama_model_quantize(${inp}) failed (${rc})`);
    };
    return {
      library,
      quantize: (inp, out, o) => call(inp, out, o, false),
      dryRun(inp, o) {
        captured = [];
        let text: string;
        try {
          call(inp, '', o, true);
        } finally {
          text = captured.join('');
          captured = undefined;
        }
        // "[   3/  47] blk.0.attn_k.weight - [256, 64, 1, 1], type = f16, size = 0.031 MiB -> 0.008 MiB (q8_0)"
        // (a tensor kept as it is has no "-> ... (type)")
        const types = new Map<string, string>();
        for (const m of text.matchAll(/^\[\s*\d+\/\s*\d+\]\s+(\S+)\s+- \[[^\]]*\], type =\s*(\w+), size =[^\n]*?(?:\((\w+)\))?$/gm)) {
          types.set(m[1]!, (m[3] ?? m[2]!).toUpperCase());
        }
        if (types.size === 0) throw new Error(`llama_model_quantize(${inp}) dry run: no tensor lines in its log`);
        return { types, requiresImatrix: /will require an imatrix/.test(text) };
      },
    };
  } catch (e) {
    return `${library} cannot be loaded through koffi (${(e as Error).message.split('\n')[0]})`;
  }
}
