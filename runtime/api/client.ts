// The caller's side: Model and Chat objects that only exchange messages with
// the host worker, so the caller's thread never computes.
import type { ChatFunction } from '../chat/tools/index.js';
import type { ChatMessage } from '../chat/types.js';
import type { ChatCreated, FileDescriptor, LoadedInfo, SendDone } from './protocol.js';
import { intOption, kvCacheTypeOption, MAX_INT32, MAX_THREADS, numberOption } from '../options.js';
import { Connection } from './spawn.js';
import { looksLikeModelName } from '../hub/names.js';
import type {
  Chat, ChatOptions, ChatReply, ChatResult, EmbedOptions, RankOptions, RankedDocument, SavedChatState, LoadModelOptions, Model, ModelFile, ModelInfo, ModelSource, SamplingOptions, SendOptions,
} from './types.js';

const isNode = () => !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;

function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error(r === undefined ? 'aborted' : String(r));
  e.name = 'AbortError';
  return e;
}

async function fileUrlToPath(u: URL): Promise<string> {
  const urlModule = 'node:url';
  const { fileURLToPath } = (await import(/* @vite-ignore */ urlModule)) as typeof import('node:url');
  return fileURLToPath(u);
}

/** A model file as it can cross to the worker; bytes are copied once and the copy moved. */
async function describe(f: ModelFile, index: number, transfer: Transferable[], cache: boolean): Promise<FileDescriptor> {
  if (typeof f === 'string') {
    // names (and URLs to cache): Node's core pulls a "path" that is a name; a browser's host pulls into its store
    const name = /^https?:/i.test(f) ? cache : looksLikeModelName(f);
    if (name) return isNode() ? { kind: 'path', path: f } : { kind: 'name', text: f };
    if (/^(https?|blob|data):/i.test(f)) return { kind: 'url', url: f };
    if (/^file:/i.test(f)) return describe(new URL(f), index, transfer, cache);
    if (isNode()) return { kind: 'path', path: f };
    // a page's relative URL: the worker's base differs, so resolve it here
    const base = (globalThis as { location?: { href: string } }).location?.href;
    return { kind: 'url', url: new URL(f, base).href };
  }
  if (f instanceof URL) {
    if (/^https?:$/.test(f.protocol) && cache) return describe(f.href, index, transfer, cache);
    if (f.protocol === 'file:' && isNode()) return { kind: 'path', path: await fileUrlToPath(f) };
    return { kind: 'url', url: f.href };
  }
  if (typeof Blob === 'function' && f instanceof Blob) {
    return { kind: 'blob', blob: f, name: (f as { name?: string }).name || `blob ${index + 1}` };
  }
  if (f instanceof ArrayBuffer || ArrayBuffer.isView(f)) {
    const view = f instanceof ArrayBuffer ? new Uint8Array(f) : new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
    const bytes = view.slice();
    transfer.push(bytes.buffer);
    return { kind: 'bytes', bytes, name: `buffer ${index + 1}` };
  }
  throw new TypeError(`loadModel: a model file is a path, URL, Blob, File or ArrayBuffer; got ${Object.prototype.toString.call(f)}`);
}

/** Loads a GGUF model in a new host worker; see LoadModelOptions. */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<Model> {
  const { signal } = options;
  signal?.throwIfAborted();
  // checked here, before a worker is spawned, not when the first chat starts its threads
  intOption('threads', options.threads, 1, MAX_THREADS);
  intOption('contextSize', options.contextSize, 1, MAX_INT32);
  intOption('memoryBytes', options.memoryBytes, 1, 4 * 1024 ** 3);
  kvCacheTypeOption('cacheTypeK', options.cacheTypeK);
  kvCacheTypeOption('cacheTypeV', options.cacheTypeV);
  const list: readonly ModelFile[] = Array.isArray(source) ? source : [source as ModelFile];
  const transfer: Transferable[] = [];
  const files = await Promise.all(list.map((f, i) => describe(f, i, transfer, options.cache ?? false)));
  const conn = await Connection.open(options.workerUrl);
  const { done } = conn.request<LoadedInfo>(
    { type: 'load', files, options: { threads: options.threads, contextSize: options.contextSize, memoryBytes: options.memoryBytes, lora: options.lora?.map((l) => ({ ...l })),
      hubEnv: options.hubEnv && { ...options.hubEnv }, storage: options.storage, cacheTypeK: options.cacheTypeK, cacheTypeV: options.cacheTypeV } },
    {
      onProgress: options.onProgress && ((loadedBytes, totalBytes) => options.onProgress!({ loadedBytes, totalBytes })),
      onDownload: options.onDownload,
      onWarning: options.onWarning,
    },
    transfer,
  );
  // aborting ends the worker at once: whatever it was reading or allocating goes with it
  const onAbort = () => void conn.terminate(abortReason(signal!));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const loaded = await done;
    return new HostedModel(conn, loaded);
  } catch (err) {
    await conn.terminate();
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Sampling numbers must be finite (NaN would reach the sampler); the seed a 32-bit integer. */
function checkSampling(o: SamplingOptions): void {
  for (const k of ['temperature', 'topP', 'minP', 'repeatPenalty', 'frequencyPenalty', 'presencePenalty'] as const) numberOption(k, o[k]);
  intOption('topK', o.topK, -MAX_INT32, MAX_INT32);
  intOption('repeatLastN', o.repeatLastN, -1, MAX_INT32);
  intOption('seed', o.seed, 0, 2 ** 32 - 1);
}

class HostedModel implements Model {
  readonly info: ModelInfo;
  readonly threads: number;
  readonly threadsNotice: string | undefined;
  private nextChat = 1;
  private readonly chats = new Set<HostedChat>();
  private disposing: Promise<void> | undefined;

  constructor(private readonly conn: Connection, loaded: LoadedInfo) {
    this.info = loaded.info;
    this.threads = loaded.threads;
    this.threadsNotice = loaded.threadsNotice;
  }

  get disposed(): boolean {
    return this.disposing !== undefined || this.conn.closed;
  }

  private check(): void {
    if (this.disposed) throw new RangeError('the model is disposed');
  }

  async createChat(options: ChatOptions = {}): Promise<Chat> {
    this.check();
    const { signal, functions, ...rest } = options;
    intOption('contextSize', rest.contextSize, 1, MAX_INT32);
    intOption('batchSize', rest.batchSize, 1, MAX_INT32);
    intOption('maxTokens', rest.maxTokens, -1, MAX_INT32);
    checkSampling(rest);
    signal?.throwIfAborted();
    const chat = this.nextChat++;
    const described = functions
      ? Object.fromEntries(Object.entries(functions).map(([name, f]) => [name, { description: f.description, parameters: f.parameters }]))
      : undefined;
    const { id, done } = this.conn.request<ChatCreated>({ type: 'chat.create', chat, options: { ...rest, functions: described } });
    const onAbort = () => this.conn.abort(id);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const created = await done;
      const c = new HostedChat(this.conn, chat, created, () => this.chats.delete(c), functions);
      this.chats.add(c);
      return c;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async embed(texts: string | readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    this.check();
    intOption('batchSize', options.batchSize, 1, MAX_INT32);
    return this.conn.request<Float32Array[]>({ type: 'embed', texts: typeof texts === 'string' ? [texts] : [...texts], options }).done;
  }

  async rank(query: string, documents: readonly string[], options: RankOptions = {}): Promise<number[]> {
    this.check();
    if (typeof query !== 'string') throw new TypeError('rank: query must be a string');
    if (!Array.isArray(documents) || !documents.every((d) => typeof d === 'string')) throw new TypeError('rank: documents must be an array of strings');
    intOption('batchSize', options.batchSize, 1, MAX_INT32);
    intOption('contextSize', options.contextSize, 1, MAX_INT32);
    return this.conn.request<number[]>({ type: 'rank', query, documents: [...documents], options }).done;
  }

  async rankAndSort(query: string, documents: readonly string[], options: RankOptions = {}): Promise<RankedDocument[]> {
    const scores = await this.rank(query, documents, options);
    return documents.map((document, index) => ({ document, index, score: scores[index]! })).sort((a, b) => b.score - a.score);
  }

  async tokenize(text: string, options: { addSpecial?: boolean; special?: boolean } = {}): Promise<number[]> {
    this.check();
    return this.conn.request<number[]>({ type: 'tokenize', text, options }).done;
  }

  async detokenize(ids: readonly number[]): Promise<string> {
    this.check();
    return this.conn.request<string>({ type: 'detokenize', ids: [...ids] }).done;
  }

  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      for (const c of this.chats) c.markDisposed();
      // a graceful end frees the engine's memory first; a stuck worker is ended anyway
      const graceful = this.conn.request({ type: 'dispose' }).done.catch(() => {});
      await Promise.race([graceful, new Promise((r) => setTimeout(r, 2000))]);
      await this.conn.terminate();
    })();
    return this.disposing;
  }
}

/** A handler's result as the text the model reads (as the core's resultText; kept here so this side loads no engine code). */
function resultText(v: unknown): string {
  if (typeof v === 'string') return v;
  return v === undefined ? '' : JSON.stringify(v);
}

class HostedChat implements Chat {
  private messages: ChatMessage[];
  readonly template: string;
  readonly contextSize: number;
  readonly threads: number;
  private disposed = false;

  constructor(
    private readonly conn: Connection, private readonly chat: number, created: ChatCreated, private readonly forget: () => void,
    private readonly functions?: Readonly<Record<string, ChatFunction>>,
  ) {
    this.messages = created.history;
    this.template = created.template;
    this.contextSize = created.contextSize;
    this.threads = created.threads;
  }

  get history(): readonly ChatMessage[] {
    return this.messages;
  }

  markDisposed(): void {
    this.disposed = true;
  }

  send(text: string, options: SendOptions = {}): ChatReply {
    const { signal, ...rest } = options;
    const stream = new TextStream();
    let invalid: Error | undefined;
    try {
      if (this.disposed) throw new RangeError('the chat is disposed');
      intOption('maxTokens', rest.maxTokens, -1, MAX_INT32);
      checkSampling(rest);
    } catch (err) {
      invalid = err as Error;
    }
    if (invalid) {
      stream.fail(invalid);
      return stream.reply(Promise.reject(invalid), () => {});
    }
    const runTool = (send: number, call: number, name: string, args: Record<string, unknown>) => {
      void (async () => {
        const handler = this.functions?.[name]?.handler;
        if (!handler) throw new RangeError(`the model called ${name}, which has no handler`);
        return resultText(await handler(args));
      })().then(
        (result) => this.conn.toolResult(send, call, { result }),
        (err: unknown) => this.conn.toolResult(send, call, { error: (err as Error)?.message ?? String(err) }),
      );
    };
    const req = this.conn.request<SendDone>({ type: 'chat.send', chat: this.chat, text, options: rest }, {
      onText: (t) => stream.push(t),
      onTool: (call, name, args) => runTool(req.id, call, name, args),
    });
    const { id, done } = req;
    const abort = () => this.conn.abort(id);
    if (signal?.aborted) abort();
    else signal?.addEventListener('abort', abort, { once: true });
    const result = done.then(
      ({ history, ...r }) => {
        this.messages = history;
        stream.end();
        return r as ChatResult;
      },
      (err: Error) => {
        stream.fail(err);
        throw err;
      },
    ).finally(() => signal?.removeEventListener('abort', abort));
    return stream.reply(result, abort);
  }

  async contextTokens(): Promise<number[]> {
    if (this.disposed) throw new RangeError('the chat is disposed');
    return this.conn.request<number[]>({ type: 'chat.tokens', chat: this.chat }).done;
  }

  async saveState(): Promise<SavedChatState> {
    if (this.disposed) throw new RangeError('the chat is disposed');
    return this.conn.request<SavedChatState>({ type: 'chat.saveState', chat: this.chat }).done;
  }

  async loadState(saved: SavedChatState): Promise<void> {
    if (this.disposed) throw new RangeError('the chat is disposed');
    this.messages = await this.conn.request<ChatMessage[]>({ type: 'chat.loadState', chat: this.chat, saved }).done;
  }

  async reset(): Promise<void> {
    if (this.disposed) throw new RangeError('the chat is disposed');
    this.messages = await this.conn.request<ChatMessage[]>({ type: 'chat.reset', chat: this.chat }).done;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.forget();
    if (!this.conn.closed) await this.conn.request({ type: 'chat.dispose', chat: this.chat }).done;
  }
}

/** Text pieces as they arrive, for one for-await consumer. */
class TextStream {
  private readonly pieces: string[] = [];
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  push(text: string): void {
    this.pieces.push(text);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(err: Error): void {
    this.error = err;
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  reply(result: Promise<ChatResult>, abort: () => void): ChatReply {
    // a result nobody awaits must not be an unhandled rejection: the iterator reports it too
    result.catch(() => {});
    return {
      result,
      [Symbol.asyncIterator]: (): AsyncIterator<string> => ({
        next: async (): Promise<IteratorResult<string>> => {
          for (;;) {
            if (this.pieces.length > 0) return { value: this.pieces.shift()!, done: false };
            if (this.error) throw this.error;
            if (this.ended) return { value: undefined, done: true };
            await new Promise<void>((r) => {
              this.wake = r;
            });
          }
        },
        return: async (): Promise<IteratorResult<string>> => {
          // leaving the loop early stops the reply
          if (!this.ended) abort();
          return { value: undefined, done: true };
        },
      }),
    };
  }
}
