// llama-quantize itself as the oracle of per-tensor types: llama.cpp's
// llama_model_quantize in the libllama that node-llama-cpp (pinned 3.21.1)
// ships prebuilt, called through the koffi FFI. The struct below is
// llama_model_quantize_params as that library's llama.h lays it out; the
// defaults come from the library (llama_model_quantize_default_params), so
// only the fields a test sets are ours.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { GGMLType } from '../../formats/ggml-types.js';
import type { LlamaFileType } from '../../formats/gguf/index.js';
import { REPO_ROOT } from './shared.js';

export interface LlamaQuantizeOptions {
  ftype: LlamaFileType;
  pure?: boolean;
  outputTensorType?: GGMLType;
  tokenEmbeddingType?: GGMLType;
  /** Default 2 (this machine's cores are shared). */
  nthread?: number;
}

export interface LlamaQuantizer {
  /** The shared library in use. */
  library: string;
  /** Writes `out` from `inp` as llama-quantize would; throws when llama.cpp reports a failure. */
  quantize(inp: string, out: string, options: LlamaQuantizeOptions): void;
}

/** The CPU build's libllama for this platform in node-llama-cpp's prebuilt packages, or undefined. */
export function findLibllama(): string | undefined {
  const dir = join(REPO_ROOT, 'node_modules', '@node-llama-cpp', `${process.platform}-${process.arch}`, 'bins');
  if (!existsSync(dir)) return undefined;
  const name = /^(lib)?llama(\.v[\d.]+)?\.(so|dylib|dll)$/;
  for (const sub of readdirSync(dir).sort()) {
    const d = join(dir, sub);
    const f = existsSync(d) ? readdirSync(d).find((x) => name.test(x)) : undefined;
    if (f) return join(d, f);
  }
  return undefined;
}

let cached: Promise<LlamaQuantizer | string> | undefined;

/** The oracle, or why it cannot run here (koffi or the library missing, or the library fails to load). */
export function llamaQuantizer(): Promise<LlamaQuantizer | string> {
  cached ??= load();
  return cached;
}

async function load(): Promise<LlamaQuantizer | string> {
  const library = findLibllama();
  if (!library) return `no prebuilt libllama for ${process.platform}-${process.arch} under node_modules/@node-llama-cpp`;
  let koffi: typeof import('koffi');
  try {
    const mod = await import('koffi');
    koffi = ((mod as { default?: unknown }).default ?? mod) as typeof import('koffi');
  } catch (e) {
    return `the koffi FFI package cannot be loaded (${(e as Error).message.split('\n')[0]})`;
  }
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
    const defaults = lib.func('llama_model_quantize_default_params', Params, []);
    const quantize = lib.func('llama_model_quantize', 'uint32_t', ['const char *', 'const char *', koffi.pointer(Params)]);
    // llama.cpp logs every tensor to stderr: a no-op logger keeps test output readable. The logger is
    // the library's, shared with node-llama-cpp in this process, so it is put back after each call.
    const LogCallback = koffi.proto('void llama_quantize_oracle_log(int level, const char *text, void *user_data)');
    const logGet = lib.func('llama_log_get', 'void', [koffi.out(koffi.pointer('void *')), koffi.out(koffi.pointer('void *'))]);
    const logSet = lib.func('llama_log_set', 'void', ['void *', 'void *']);
    const silent = koffi.register(() => {}, koffi.pointer(LogCallback));
    return {
      library,
      quantize(inp, out, o) {
        const p = defaults() as Record<string, unknown>;
        p.ftype = o.ftype;
        p.nthread = o.nthread ?? 2;
        if (o.pure) p.pure = true;
        if (o.outputTensorType !== undefined) p.output_tensor_type = o.outputTensorType;
        if (o.tokenEmbeddingType !== undefined) p.token_embedding_type = o.tokenEmbeddingType;
        const prev: [unknown[], unknown[]] = [[null], [null]];
        logGet(prev[0], prev[1]);
        logSet(silent, null);
        let rc: number;
        try {
          rc = quantize(inp, out, p) as number;
        } finally {
          logSet(prev[0][0], prev[1][0]);
        }
        if (rc !== 0) throw new Error(`llama_model_quantize(${inp}) failed (${rc})`);
      },
    };
  } catch (e) {
    return `${library} cannot be loaded through koffi (${(e as Error).message.split('\n')[0]})`;
  }
}
