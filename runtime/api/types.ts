// The public types of the worker-hosted API (the package's main entry).
import type { ChatFunction, ToolChoice } from '../chat/tools/index.js';
import type { ChatMessage } from '../chat/types.js';

export type { ChatMessage, ChatRole, ChatToolCall } from '../chat/types.js';
export type { ChatFunction, ToolChoice } from '../chat/tools/index.js';

/**
 * One GGUF file: a path (Node), a URL or URL string (fetched, streamed into
 * memory; relative strings resolve against the page in browsers), a File or
 * Blob, or the bytes themselves (copied to the worker; the caller keeps its
 * buffer). A model name (`hf:user/repo`, `hf:user/repo:Q4_K_M`,
 * `hf:user/repo/file.gguf`, `user/repo:QUANT`) is downloaded into the model
 * cache first, as `run-gguf pull` does (see onDownload): the cache folder in
 * Node, the Origin Private File System (or the Cache API) in browsers, so a
 * reload loads it from there. URLs go through the cache too with `cache: true`.
 */
export type ModelFile = string | URL | Blob | ArrayBuffer | ArrayBufferView;

/** One file, or every shard of a split model (any order). A path to one shard finds the others by name. */
export type ModelSource = ModelFile | readonly ModelFile[];

export interface LoadProgress {
  /** Bytes downloaded (URL sources) or copied into memory (others) so far. */
  loadedBytes: number;
  totalBytes: number;
}

/** Download of a model named hf:... (or a URL with `cache: true`) into the model cache: bytes of all its files. */
export interface DownloadProgress {
  /** The file being fetched (its path in the repository). */
  file: string;
  /** 0-based, of fileCount (a split model has several). */
  fileIndex: number;
  fileCount: number;
  /** Bytes so far over every file of the model (counting files already cached), and their total. */
  downloadedBytes: number;
  totalBytes: number;
}

export interface LoadModelOptions {
  onProgress?: (progress: LoadProgress) => void;
  /** Download progress when the source is a model name (hf:...); resumed and verified as `run-gguf pull` does. */
  onDownload?: (progress: DownloadProgress) => void;
  /**
   * http(s) URLs too are downloaded into the model cache (resumed, verified
   * against the server's sha256 ETag when it gives one) and loaded from there,
   * as model names always are. Default false: a URL is streamed into memory.
   */
  cache?: boolean;
  /**
   * HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE for model names, as Hugging
   * Face's tools read them from the environment. Default: process.env in
   * Node; none in browsers (https://huggingface.co, no token).
   */
  hubEnv?: Record<string, string | undefined>;
  /** Browsers: where downloaded models are kept. Default 'auto': the Origin Private File System, else the Cache API. */
  storage?: 'auto' | 'opfs' | 'cache';
  /** Aborting stops the load, ends the worker and rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Threads each chat computes on (the host worker and threads - 1 more).
   * Default: the number of cores. Where SharedArrayBuffer is missing (a page
   * that is not cross-origin isolated) it is 1; see Model.threadsNotice.
   */
  threads?: number;
  /** Context size chats get by default, and what the fit check assumes. Default: min(4096, the model's training context). */
  contextSize?: number;
  /** Called with oddities of the file that do not stop loading. */
  onWarning?: (message: string) => void;
  /** Where the host worker script is, when a bundler moved it. Default: host-worker.js beside this module. */
  workerUrl?: string | URL;
  /**
   * The most bytes one WebAssembly memory may hold (default and at most 4 GiB).
   * Models past it are spread over several memories, whole layers per memory.
   */
  memoryBytes?: number;
  /**
   * LoRA adapters (GGUF files; paths, so Node and Electron's main process)
   * applied beside the weights, as llama.cpp's --lora / --lora-scaled. Default none.
   */
  lora?: readonly { path: string; scale?: number }[];
  /**
   * KV cache types of every chat's context, and what the fit check assumes,
   * as llama.cpp's --cache-type-k/-v: 'f16' or 'q8_0' (34 bytes per 32
   * values instead of 64). Default 'f16' each.
   */
  cacheTypeK?: 'f16' | 'q8_0';
  cacheTypeV?: 'f16' | 'q8_0';
}

/** What a loaded model is, read from its metadata. */
export interface ModelInfo {
  /** general.name, else the file name. */
  name: string;
  architecture: string;
  /** The training context (n_ctx_train). */
  trainContextSize: number;
  vocabSize: number;
  embeddingLength: number;
  layerCount: number;
  /** Bytes of weights in memory. */
  weightBytes: number;
  /** WebAssembly memories the model is spread over (1 unless it needs more than 4 GiB). */
  memories: number;
  /** 'relaxed-dot', 'relaxed' or 'baseline': the SIMD level the kernels run with (wasm/loader.ts SimdLevel). */
  simd: string;
}

/** Sampling, named as in most JS LLM APIs (llama.cpp's names in the comments). */
export interface SamplingOptions {
  /** temp: <= 0 is greedy. Default 0.8. */
  temperature?: number;
  /** top_k; <= 0 disables. Default 40. */
  topK?: number;
  /** top_p; >= 1 disables. Default 0.95. */
  topP?: number;
  /** min_p; <= 0 disables. Default 0.05. */
  minP?: number;
  /** penalty_repeat; 1 disables. Default 1. */
  repeatPenalty?: number;
  /** penalty_last_n. Default 64. */
  repeatLastN?: number;
  /** penalty_freq. Default 0. */
  frequencyPenalty?: number;
  /** penalty_present. Default 0. */
  presencePenalty?: number;
  /** 32-bit seed: the same seed, prompt and settings give the same reply. Default: random. */
  seed?: number;
}

export interface ChatOptions extends SamplingOptions {
  systemPrompt?: string;
  /**
   * A built-in template name (chatml, llama3, mistral-v7, ...), 'completion'
   * (no template: plain text continuation) or Jinja text. Default: the
   * model's own template, else one its vocabulary or name points to.
   */
  chatTemplate?: string;
  /**
   * When the Jinja template runs into its rendering limit (steps, time,
   * output size: a template from a file is untrusted), use the built-in
   * format it resembles. Default false: createChat rejects with a
   * ChatTemplateError naming the limit.
   */
  chatTemplateFallback?: boolean;
  /** Tokens the chat's KV cache holds. Default: the model's contextSize option. */
  contextSize?: number;
  /** Prompt tokens per graph run. Default 512. */
  batchSize?: number;
  /** Tokens per reply at most unless send() says otherwise. Default: until the model stops or the context is full. */
  maxTokens?: number;
  /** Never end a reply with an end-of-generation token (llama.cpp's --ignore-eos): replies run to maxTokens. */
  ignoreEos?: boolean;
  /** Aborts the chat's creation (KV cache allocation and thread start). */
  signal?: AbortSignal;
  /**
   * Functions the model may call: name -> { description, parameters (JSON
   * schema), handler }. Handlers run on the caller's thread; what they return
   * goes back to the model, and the reply goes on until it answers in text.
   */
  functions?: Readonly<Record<string, ChatFunction>>;
  /** OpenAI's tool_choice for each send's first generation. Default 'auto'. */
  toolChoice?: ToolChoice;
  /** Several calls in one generation. Default false. */
  parallelToolCalls?: boolean;
}

export interface SendOptions extends SamplingOptions {
  /** Stops the reply; what was generated so far stays in the history. */
  signal?: AbortSignal;
  maxTokens?: number;
  /**
   * Constrain the reply to a GBNF grammar (llama.cpp's format); the reply
   * ends where the grammar is complete. A bad grammar rejects with GrammarError.
   */
  grammar?: string;
  /**
   * Constrain the reply to JSON valid under this JSON schema (an object or
   * its JSON text), as llama.cpp's --json-schema does: JSON.parse(result.text)
   * then holds a valid value. A schema it cannot convert rejects with JsonSchemaError.
   */
  jsonSchema?: unknown;
  /** tool_choice for this send's first generation (the chat's by default); later ones are 'auto'. */
  toolChoice?: ToolChoice;
  /** Generations that may call functions in one send; the one after is 'none'. Default 8. */
  maxToolRounds?: number;
}

/** A function call made during a reply, and its handler's result as the model read it. */
export interface ToolCallResult {
  name: string;
  arguments: Record<string, unknown>;
  result: string;
}

export type StopReason = 'eog' | 'max-tokens' | 'aborted' | 'context-full';

export interface ChatUsage {
  /** Prompt tokens evaluated for this reply (the rest was in the KV cache). */
  promptTokens: number;
  /** Prompt tokens reused from the KV cache. */
  reusedTokens: number;
  generatedTokens: number;
  promptMs: number;
  generateMs: number;
  /** generatedTokens per second of generation. */
  tokensPerSecond: number;
}

export interface ChatResult {
  /** The whole reply. */
  text: string;
  stop: StopReason;
  usage: ChatUsage;
  /** Things the user should be told (context shifts: the oldest messages dropped). */
  notices: string[];
  /** Functions called during the reply, in order. */
  toolCalls: ToolCallResult[];
}

/** What Chat.saveState gives and loadState takes. */
export interface SavedChatState {
  /** The conversation ({format: 'run-gguf-chat', version, messages, seen}), as the CLI's /save writes it. */
  conversation: unknown;
  /** The sequence's tokens and KV cells (runtime/state.ts's format, as sequence.saveState writes it). */
  cache: Uint8Array;
}

/** A reply in progress: iterate it for text as it comes; `result` resolves when it ends. */
export interface ChatReply extends AsyncIterable<string> {
  readonly result: Promise<ChatResult>;
}

export interface Chat {
  /** The conversation as of the last finished reply (the system prompt first when there is one). */
  readonly history: readonly ChatMessage[];
  /** Which template renders the conversation, and why it was chosen. */
  readonly template: string;
  readonly contextSize: number;
  /** Threads this chat computes on. */
  readonly threads: number;
  /**
   * Sends a user message; replies stream as text. Sends queue: one reply at a
   * time. Leaving a for-await loop early (break) aborts the reply.
   */
  send(text: string, options?: SendOptions): ChatReply;
  /** The token ids in the chat's KV cache, in order: the conversation as the model saw it. */
  contextTokens(): Promise<number[]>;
  /**
   * The conversation and its KV cache, to keep across restarts: give it to
   * loadState on a chat of the same model and context size, and the next
   * reply evaluates only the new message, with the bits of never stopping.
   * Plain data (structured-cloneable; the cache is bytes).
   */
  saveState(): Promise<SavedChatState>;
  /**
   * Replaces the conversation and the cache with a saved state. A StateError
   * (the chat unchanged) when it was saved for another model or context size.
   */
  loadState(saved: SavedChatState): Promise<void>;
  /** Forgets the conversation (the system prompt stays). */
  reset(): Promise<void>;
  /** Frees the chat's KV cache and threads. */
  dispose(): Promise<void>;
}

export interface EmbedOptions {
  /** How token vectors become one: default the file's pooling_type; 'none' returns every token's vector, concatenated. */
  pooling?: 'none' | 'mean' | 'cls' | 'last';
  /** Divide each vector by its L2 norm. Default true. */
  normalize?: boolean;
  /** Tokens per graph run, which also bounds a text's length. Default 512. */
  batchSize?: number;
}

export interface RankOptions {
  /**
   * The pair's text with {query} and {document}, special tokens written as
   * text. Default: the file's tokenizer.chat_template.rerank, else
   * BOS query EOS SEP document EOS.
   */
  template?: string;
  /** Tokens per graph run; for encoders also the longest pair. Default 512. */
  batchSize?: number;
  /** Decoder rerankers (Qwen3-Reranker): the context, the longest pair. Default min(4096, the training context). */
  contextSize?: number;
}

/** A document with its score, as rankAndSort gives them. */
export interface RankedDocument {
  document: string;
  /** Its place in the documents given. */
  index: number;
  /** 0..1: how relevant the document is to the query. */
  score: number;
}

export interface Model {
  readonly info: ModelInfo;
  /** Threads each chat computes on by default. */
  readonly threads: number;
  /**
   * Why fewer threads run than the machine has, e.g. a page without
   * cross-origin isolation (no SharedArrayBuffer); undefined otherwise.
   */
  readonly threadsNotice: string | undefined;
  readonly disposed: boolean;
  createChat(options?: ChatOptions): Promise<Chat>;
  /** One vector per text, for encoder architectures (bert, nomic-bert); other models reject, saying so. */
  embed(texts: string | readonly string[], options?: EmbedOptions): Promise<Float32Array[]>;
  /**
   * How relevant each document is to the query (0..1), in the documents'
   * order, for reranker models (bge-reranker, Qwen3-Reranker), as
   * node-llama-cpp's ranking context scores them; other models reject with a
   * ModelError saying so.
   */
  rank(query: string, documents: readonly string[], options?: RankOptions): Promise<number[]>;
  /** rank(), as the documents with their index and score, highest score first. */
  rankAndSort(query: string, documents: readonly string[], options?: RankOptions): Promise<RankedDocument[]>;
  tokenize(text: string, options?: { addSpecial?: boolean; special?: boolean }): Promise<number[]>;
  detokenize(ids: readonly number[]): Promise<string>;
  /** Ends the model's workers; its memory goes with them. Chats end too. */
  dispose(): Promise<void>;
}
