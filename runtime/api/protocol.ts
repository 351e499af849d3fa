// Messages between the caller's thread and the host worker. Every request
// carries an id; the host answers with progress or text while working, then
// exactly one 'ok' or 'err'. 'abort' asks the host to stop request `id`.
import { GGUFError, GGUFIncompleteError } from '../../formats/gguf/errors.js';
import { GrammarError, JsonSchemaError } from '../../formats/grammar/errors.js';
import { IMatrixError } from '../../formats/imatrix/errors.js';
import type { ChatMessage } from '../chat/types.js';
import { ChatTemplateError, DownloadError, ModelError, ModelTooLargeError, StateError, ThreadError, ToolCallError, UnsupportedError } from '../errors.js';
import type { ToolChoice } from '../chat/tools/index.js';
import { TokenizerError } from '../tokenizer/errors.js';
import { KernelArgsError, KernelTableError } from '../../wasm/kernel-table.js';
import type {
  ChatOptions, ChatResult, DownloadProgress, SavedChatState, EmbedOptions, RankOptions, LoadModelOptions, ModelInfo, SamplingOptions, SendOptions,
} from './types.js';

/** A model file as it crosses to the host (paths and URLs as strings). */
export type FileDescriptor =
  | { kind: 'path'; path: string }
  | { kind: 'url'; url: string }
  /** A model name (or a URL to cache) the host downloads into the browser's store, then reads from there. */
  | { kind: 'name'; text: string }
  | { kind: 'blob'; blob: Blob; name: string }
  | { kind: 'bytes'; bytes: Uint8Array; name: string };

export type LoadRequestOptions = Pick<LoadModelOptions, 'threads' | 'contextSize' | 'memoryBytes' | 'lora' | 'hubEnv' | 'storage' | 'cacheTypeK' | 'cacheTypeV'>;
/** The functions cross without their handlers: those stay with the caller, who runs them when asked. */
export type ChatRequestOptions = Omit<ChatOptions, 'signal' | 'functions'> & {
  functions?: Record<string, { description?: string; parameters?: unknown }>;
};

export type Request =
  | { type: 'load'; id: number; files: FileDescriptor[]; options: LoadRequestOptions }
  | { type: 'chat.create'; id: number; chat: number; options: ChatRequestOptions }
  | { type: 'chat.send'; id: number; chat: number; text: string; options: SamplingOptions & Pick<SendOptions, 'maxTokens' | 'grammar' | 'jsonSchema' | 'toolChoice' | 'maxToolRounds'> }
  /** The caller's handler finished call `call` of send `id`: its result as text, or the error it threw. */
  | { type: 'tool.result'; id: number; call: number; result?: string; error?: string }
  | { type: 'chat.reset'; id: number; chat: number }
  | { type: 'chat.tokens'; id: number; chat: number }
  | { type: 'chat.dispose'; id: number; chat: number }
  | { type: 'chat.saveState'; id: number; chat: number }
  | { type: 'chat.loadState'; id: number; chat: number; saved: SavedChatState }
  | { type: 'embed'; id: number; texts: string[]; options: EmbedOptions }
  | { type: 'rank'; id: number; query: string; documents: string[]; options: RankOptions }
  | { type: 'tokenize'; id: number; text: string; options: { addSpecial?: boolean; special?: boolean } }
  | { type: 'detokenize'; id: number; ids: number[] }
  | { type: 'dispose'; id: number }
  | { type: 'abort'; id: number };

export interface LoadedInfo {
  info: ModelInfo;
  threads: number;
  threadsNotice: string | undefined;
}

export interface ChatCreated {
  template: string;
  contextSize: number;
  threads: number;
  history: ChatMessage[];
}

export interface SendDone extends ChatResult {
  history: ChatMessage[];
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** Own enumerable fields of typed errors (GGUFError's code, file, key; ModelTooLargeError's byte counts...). */
  fields?: Record<string, unknown>;
  /** The error's cause, when it is an error too. */
  cause?: SerializedError;
}

export type Reply =
  | { type: 'progress'; id: number; loadedBytes: number; totalBytes: number }
  | { type: 'download'; id: number; progress: DownloadProgress }
  | { type: 'warning'; id: number; message: string }
  | { type: 'text'; id: number; text: string }
  /** Send `id` asks the caller to run a function; answered with a 'tool.result' request. */
  | { type: 'tool'; id: number; call: number; name: string; arguments: Record<string, unknown> }
  | { type: 'ok'; id: number; value?: unknown }
  | { type: 'err'; id: number; error: SerializedError };

/** A field value that crosses postMessage as data: primitives, and arrays and plain objects of them. */
function plainData(v: unknown, depth = 0): boolean {
  if (v === null || v === undefined || ['string', 'number', 'boolean', 'bigint'].includes(typeof v)) return true;
  if (depth > 4 || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.length <= 10_000 && v.every((x) => plainData(x, depth + 1));
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(v).every((x) => plainData(x, depth + 1));
}

export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) if (plainData(v)) fields[k] = v;
  const out: SerializedError = { name: err.name, message: err.message, stack: err.stack, fields };
  if (err.cause instanceof Error && depth < 4) out.cause = serializeError(err.cause, depth + 1);
  return out;
}

/**
 * The classes an error keeps across the worker boundary: the caller's
 * `instanceof ModelError` holds for a ModelError thrown in the host.
 */
export const ERROR_CLASSES: Readonly<Record<string, { prototype: Error }>> = {
  ModelError, ModelTooLargeError, UnsupportedError, ThreadError, ChatTemplateError, ToolCallError, TokenizerError, GGUFError, GGUFIncompleteError, IMatrixError,
  KernelTableError, KernelArgsError, GrammarError, JsonSchemaError, DownloadError, StateError,
  RangeError, TypeError, SyntaxError,
};

/** An error on the caller's side of the host's class (when known), with its name, message, fields and stack. */
export function deserializeError(e: SerializedError): Error {
  const Class = Object.hasOwn(ERROR_CLASSES, e.name) ? ERROR_CLASSES[e.name]! : Error;
  // no constructor call: the classes take different arguments; the fields carry their state
  const err = Object.create(Class.prototype) as Error;
  Object.defineProperty(err, 'message', { value: e.message, enumerable: false, configurable: true, writable: true });
  Object.defineProperty(err, 'stack', { value: new Error(e.message).stack, enumerable: false, configurable: true, writable: true });
  Object.assign(err, e.fields ?? {});
  Object.defineProperty(err, 'name', { value: e.name, enumerable: false, configurable: true, writable: true });
  if (e.stack) err.stack = `${e.stack}\n    (in the run-gguf host worker)`;
  if (e.cause) Object.defineProperty(err, 'cause', { value: deserializeError(e.cause), enumerable: false, configurable: true, writable: true });
  return err;
}
