// The host worker's work: one model, its chats, and the requests the
// caller's thread sends. Compute happens here (and on this worker's pool
// threads), never on the caller's thread. Between tokens the core yields to
// this worker's event loop, which is when an 'abort' message lands and
// aborts the reply's signal.
import { ChatSession, parseSavedChat } from '../chat/session.js';
import type { ChatFunction } from '../chat/tools/index.js';
import { resolveChatTemplate, type ChatTemplate } from '../chat/template.js';
import type { Context, ContextOptions } from '../context.js';
import { loadModel, type Model } from '../model.js';
import type { SamplerOptions } from '../sample/index.js';
import { poolsStarted } from '../threads/started.js';
import { openFiles, type DownloadMeter } from './sources.js';
import {
  serializeError, type ChatCreated, type LoadedInfo, type Reply, type Request, type SendDone,
} from './protocol.js';
import type { ChatResult, DownloadProgress, SamplingOptions } from './types.js';
import { ThreadError } from '../errors.js';
import { intOption, MAX_THREADS } from '../options.js';
import { defaultThreads } from '../threads/cores.js';

export interface HostPort {
  post(message: Reply, transfer?: Transferable[]): void;
  onMessage(handler: (message: Request) => void): void;
}

interface ChatState {
  /** The send in progress (its request id), whose caller runs the function handlers. */
  sending: number;
  context: Context;
  session: ChatSession;
  defaults: SamplingOptions;
  maxTokens: number;
  /** Sends run one after another. */
  queue: Promise<void>;
}

const PROGRESS_EVERY_MS = 50;
/** Worker threads start in well under a second; this only turns one that never does into an error. */
const START_TIMEOUT_MS = 60_000;

/** poolsStarted(), rejecting instead of waiting forever for a thread that never starts. */
function threadsStarted(): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ThreadError(`the compute threads did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  });
  return Promise.race([poolsStarted(), late]).finally(() => clearTimeout(timer));
}

function samplerOptions(s: SamplingOptions): SamplerOptions {
  const out: SamplerOptions = {};
  if (s.temperature !== undefined) out.temp = s.temperature;
  if (s.topK !== undefined) out.top_k = s.topK;
  if (s.topP !== undefined) out.top_p = s.topP;
  if (s.minP !== undefined) out.min_p = s.minP;
  if (s.repeatPenalty !== undefined) out.penalty_repeat = s.repeatPenalty;
  if (s.repeatLastN !== undefined) out.penalty_last_n = s.repeatLastN;
  if (s.frequencyPenalty !== undefined) out.penalty_freq = s.frequencyPenalty;
  if (s.presencePenalty !== undefined) out.penalty_present = s.presencePenalty;
  if (s.seed !== undefined) out.seed = s.seed;
  return out;
}

const SAMPLING_KEYS: readonly (keyof SamplingOptions)[] = [
  'temperature', 'topK', 'topP', 'minP', 'repeatPenalty', 'repeatLastN', 'frequencyPenalty', 'presencePenalty', 'seed',
];


function templateLabel(t: ChatTemplate): string {
  if (t.kind === 'completion') return `completion (${t.origin})`;
  return t.kind === 'jinja' ? `jinja (${t.origin})` : `${t.name} (${t.origin})`;
}

export function serve(port: HostPort): void {
  let model: Model | undefined;
  let threads = 1;
  let contextSize: number | undefined;
  let cacheTypes: Pick<ContextOptions, 'cacheTypeK' | 'cacheTypeV'> = {};
  const chats = new Map<number, ChatState>();
  const aborts = new Map<number, AbortController>();
  /** Function calls waiting for the caller's handler: call number -> the send it belongs to and its settlement. */
  const calls = new Map<number, { send: number; resolve: (text: string) => void; reject: (err: Error) => void }>();
  let nextCall = 1;

  /** Asks the caller of send `send` to run a function; resolves with the result text. */
  const callOnCaller = (send: number, name: string, args: Record<string, unknown>): Promise<string> =>
    new Promise((resolve, reject) => {
      const call = nextCall++;
      calls.set(call, { send, resolve, reject });
      port.post({ type: 'tool', id: send, call, name, arguments: args });
    });

  const need = (): Model => {
    if (!model) throw new RangeError('no model is loaded');
    return model;
  };
  const chatOf = (chat: number): ChatState => {
    const c = chats.get(chat);
    if (!c) throw new RangeError(`chat ${chat} is disposed`);
    return c;
  };

  async function load(req: Extract<Request, { type: 'load' }>, signal: AbortSignal): Promise<LoadedInfo> {
    let lastPost = 0;
    let lastDownloadPost = 0;
    const progress = (loadedBytes: number, totalBytes: number) => {
      const now = Date.now();
      if (loadedBytes < totalBytes && now - lastPost < PROGRESS_EVERY_MS) return;
      lastPost = now;
      port.post({ type: 'progress', id: req.id, loadedBytes, totalBytes });
    };
    // URL sources report the download; the others, bytes copied into memory
    let downloaded = 0;
    let downloadTotal = 0;
    const meter: DownloadMeter = {
      add: (n) => {
        downloadTotal += n;
      },
      received: (n) => {
        downloaded += n;
        progress(downloaded, downloadTotal);
      },
    };
    // the same checks as the caller's side: this worker may be driven by another client
    intOption('threads', req.options.threads, 1, MAX_THREADS);
    const hasUrl = req.files.some((f) => f.kind === 'url');
    const onDownload = (p: DownloadProgress) => {
      const now = Date.now();
      if (p.downloadedBytes < p.totalBytes && now - lastDownloadPost < PROGRESS_EVERY_MS) return;
      lastDownloadPost = now;
      port.post({ type: 'download', id: req.id, progress: p });
    };
    const files = await openFiles(req.files, meter, signal, { onDownload, hubEnv: req.options.hubEnv, storage: req.options.storage });
    try {
      model = await loadModel(files.source, {
        contextSize: req.options.contextSize,
        memoryBytes: req.options.memoryBytes,
        lora: req.options.lora,
        cacheTypeK: req.options.cacheTypeK,
        cacheTypeV: req.options.cacheTypeV,
        signal,
        onProgress: hasUrl ? undefined : (p) => progress(p.loadedBytes, p.totalBytes),
        onDownload,
        hubEnv: req.options.hubEnv,
        onWarning: (message) => port.post({ type: 'warning', id: req.id, message }),
      });
    } finally {
      await files.close();
    }
    contextSize = req.options.contextSize;
    cacheTypes = { cacheTypeK: req.options.cacheTypeK, cacheTypeV: req.options.cacheTypeV };
    const cores = defaultThreads();
    threads = req.options.threads ?? cores;
    let threadsNotice: string | undefined;
    if (typeof SharedArrayBuffer !== 'function' && threads > 1) {
      threadsNotice = `running on 1 thread instead of ${threads}: SharedArrayBuffer is unavailable because the page is not ` +
        'cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
      threads = 1;
    }
    const m = model;
    const name = m.gguf.metadata.get('general.name');
    return {
      info: {
        name: typeof name === 'string' && name ? name : m.path,
        architecture: m.hparams.arch,
        trainContextSize: m.hparams.n_ctx_train,
        vocabSize: m.hparams.n_vocab,
        embeddingLength: m.hparams.n_embd,
        layerCount: m.hparams.n_layer,
        weightBytes: m.gguf.tensors.reduce((s, t) => s + t.nBytes, 0),
        memories: m.memories.length,
        simd: m.kernels.dotAdd ? 'relaxed-dot' : m.kernels.simd,
      },
      threads,
      threadsNotice,
    };
  }

  async function createChat(req: Extract<Request, { type: 'chat.create' }>, signal: AbortSignal): Promise<ChatCreated> {
    const m = need();
    const o = req.options;
    const template = resolveChatTemplate(
      { get: (k) => m.gguf.metadata.get(k), tokenizer: m.tokenizer, fileName: m.path.split(/[\\/]/).pop() },
      { override: o.chatTemplate, overrideLabel: 'chatTemplate', fallback: o.chatTemplateFallback === true },
    );
    const context = m.createContext({ contextSize: o.contextSize ?? contextSize, batchSize: o.batchSize, threads, ...cacheTypes });
    try {
      await threadsStarted();
      signal.throwIfAborted();
    } catch (err) {
      context.dispose();
      throw err;
    }
    const defaults: SamplingOptions = {};
    for (const k of SAMPLING_KEYS) if (o[k] !== undefined) defaults[k] = o[k];
    const state = { sending: 0 } as ChatState;
    let functions: Record<string, ChatFunction> | undefined;
    if (o.functions) {
      functions = {};
      for (const [name, f] of Object.entries(o.functions)) {
        functions[name] = { description: f.description, parameters: f.parameters, handler: (args) => callOnCaller(state.sending, name, args) };
      }
    }
    const session = new ChatSession(m, context, {
      template, system: o.systemPrompt, maxTokens: o.maxTokens ?? -1, ignoreEos: o.ignoreEos, ...samplerOptions(defaults),
      functions, toolChoice: o.toolChoice, parallelToolCalls: o.parallelToolCalls,
    });
    Object.assign(state, { context, session, defaults, maxTokens: o.maxTokens ?? -1, queue: Promise.resolve() });
    chats.set(req.chat, state);
    return { template: templateLabel(template), contextSize: context.contextSize, threads: context.threads, history: session.messages };
  }

  function send(req: Extract<Request, { type: 'chat.send' }>, signal: AbortSignal): Promise<SendDone> {
    const state = chatOf(req.chat);
    const run = async (): Promise<SendDone> => {
      const o = req.options;
      const own = SAMPLING_KEYS.some((k) => o[k] !== undefined);
      state.session.configure({ sampling: own ? samplerOptions({ ...state.defaults, ...o }) : undefined, maxTokens: o.maxTokens ?? state.maxTokens });
      const notices: string[] = [];
      state.sending = req.id;
      const stats = await state.session.reply(req.text, {
        signal,
        toolChoice: o.toolChoice,
        maxToolRounds: o.maxToolRounds,
        grammar: o.grammar,
        jsonSchema: o.jsonSchema,
        onText: (text) => port.post({ type: 'text', id: req.id, text }),
        onNotice: (n) => notices.push(n),
      });
      const result: ChatResult = {
        text: stats.text,
        stop: stats.stop,
        usage: {
          promptTokens: stats.promptTokens,
          reusedTokens: stats.reusedTokens,
          generatedTokens: stats.generatedTokens,
          promptMs: stats.promptMs,
          generateMs: stats.generateMs,
          tokensPerSecond: stats.generateMs > 0 ? (stats.generatedTokens * 1000) / stats.generateMs : 0,
        },
        notices,
        toolCalls: stats.toolCalls.map(({ name, arguments: args, result: r }) => ({ name, arguments: args, result: r })),
      };
      return { ...result, history: state.session.messages };
    };
    const done = state.queue.then(run);
    state.queue = done.then(() => {}, () => {});
    return done;
  }

  async function embed(req: Extract<Request, { type: 'embed' }>): Promise<Float32Array[]> {
    const m = need();
    const options = { ...req.options, threads };
    // an empty call starts the embedder's threads without running them (and
    // throws for a model without embeddings): browser workers start only
    // once this thread yields, so it must not block in a run before that
    m.embed([], options);
    await threadsStarted();
    return m.embed(req.texts, options);
  }

  async function rank(req: Extract<Request, { type: 'rank' }>): Promise<number[]> {
    const m = need();
    const options = { ...req.options, threads };
    // as embed: start the ranker's threads (or throw for a model that is not a reranker) before running
    m.rank(req.query, [], options);
    await threadsStarted();
    return m.rank(req.query, req.documents, options);
  }

  function disposeAll(): void {
    for (const c of chats.values()) c.context.dispose();
    chats.clear();
    model?.dispose();
    model = undefined;
  }

  async function handle(req: Request, signal: AbortSignal): Promise<unknown> {
    switch (req.type) {
      case 'load':
        if (model) throw new RangeError('this worker already holds a model');
        return load(req, signal);
      case 'chat.create':
        return createChat(req, signal);
      case 'chat.send':
        return send(req, signal);
      case 'chat.reset': {
        const state = chatOf(req.chat);
        // after the reply in progress, if any
        await state.queue;
        state.session.reset();
        return state.session.messages;
      }
      case 'chat.tokens': {
        const state = chatOf(req.chat);
        await state.queue;
        return state.session.cachedTokens;
      }
      case 'chat.saveState': {
        const state = chatOf(req.chat);
        await state.queue;
        return { conversation: state.session.toJSON(), cache: state.session.sequence.stateBytes() };
      }
      case 'chat.loadState': {
        const state = chatOf(req.chat);
        await state.queue;
        // the conversation is checked and the cache restored (or refused) before anything changes
        parseSavedChat(req.saved.conversation);
        if (!(req.saved.cache instanceof Uint8Array)) throw new TypeError('loadState: saved.cache must be the Uint8Array saveState gave');
        state.session.sequence.restoreState(req.saved.cache);
        state.session.load(req.saved.conversation, { seen: true });
        return state.session.messages;
      }
      case 'chat.dispose': {
        const state = chats.get(req.chat);
        if (!state) return undefined;
        chats.delete(req.chat);
        await state.queue;
        state.context.dispose();
        return undefined;
      }
      case 'embed':
        return embed(req);
      case 'rank':
        return rank(req);
      case 'tokenize':
        return need().tokenize(req.text, req.options);
      case 'detokenize':
        return need().detokenize(req.ids);
      case 'dispose':
        disposeAll();
        return undefined;
      case 'tool.result': {
        const c = calls.get(req.call);
        if (!c) return undefined;
        calls.delete(req.call);
        if (req.error !== undefined) c.reject(new Error(req.error));
        else c.resolve(req.result ?? '');
        return undefined;
      }
      case 'abort':
        return undefined;
    }
  }

  port.onMessage((req) => {
    if (req.type === 'abort') {
      aborts.get(req.id)?.abort();
      // a handler the caller will not finish: the reply stops as aborted
      for (const [call, c] of calls) {
        if (c.send !== req.id) continue;
        calls.delete(call);
        c.reject(new Error('aborted'));
      }
      return;
    }
    const ac = new AbortController();
    aborts.set(req.id, ac);
    handle(req, ac.signal).then(
      (value) => port.post({ type: 'ok', id: req.id, value }),
      (err: unknown) => port.post({ type: 'err', id: req.id, error: serializeError(err) }),
    ).finally(() => aborts.delete(req.id));
  });
}
