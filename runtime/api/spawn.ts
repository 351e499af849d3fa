// Starting the host worker and talking to it: worker_threads in Node and
// Electron's main process, a module Web Worker in browsers and renderers.
// Neither path imports node:* statically, so browsers can load this module.
import { deserializeError, type Reply, type Request } from './protocol.js';
import { ThreadError } from '../errors.js';
import type { DownloadProgress } from './types.js';

/** The host worker as the caller sees it. */
export interface HostLink {
  post(message: Request, transfer?: Transferable[]): void;
  /** Keeps a Node process alive while requests are pending (an idle model does not). */
  hold(active: boolean): void;
  terminate(): Promise<void>;
}

export interface HostEvents {
  message(reply: Reply): void;
  /** The worker died or could not start. */
  failed(error: Error): void;
}

/** Where the host worker script is: beside this module (dist/runtime/api/ or dist/browser/). */
export const HOST_WORKER_URL = new URL('./host-worker.js', import.meta.url);

function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string }; type?: string } }).process;
  // an Electron renderer with Node integration still has Web Workers: use them
  return !!proc?.versions?.node && typeof (globalThis as { Worker?: unknown }).Worker !== 'function';
}

export async function startHost(events: HostEvents, url: URL | string = HOST_WORKER_URL): Promise<HostLink> {
  const href = new URL(url, HOST_WORKER_URL);
  return isNode() ? startNode(events, href) : startWeb(events, href);
}

async function startNode(events: HostEvents, url: URL): Promise<HostLink> {
  const wtModule = 'node:worker_threads';
  const { Worker } = (await import(/* @vite-ignore */ wtModule)) as typeof import('node:worker_threads');
  const worker = new Worker(url, { name: 'run-gguf host' });
  let ending = false;
  worker.on('message', (m) => events.message(m as Reply));
  worker.on('error', (err) => events.failed(err));
  worker.on('exit', (code) => {
    if (!ending) events.failed(new ThreadError(`the run-gguf host worker exited (code ${code})`));
  });
  worker.unref();
  return {
    post: (m, transfer) => worker.postMessage(m, transfer as never),
    hold: (active) => (active ? worker.ref() : worker.unref()),
    async terminate() {
      ending = true;
      await worker.terminate();
    },
  };
}

async function startWeb(events: HostEvents, url: URL): Promise<HostLink> {
  const worker = new Worker(url, { type: 'module', name: 'run-gguf host' });
  worker.addEventListener('message', (e: MessageEvent) => events.message(e.data as Reply));
  worker.addEventListener('error', (e: ErrorEvent) => {
    e.preventDefault();
    events.failed(new ThreadError(`the run-gguf host worker failed${e.message ? `: ${e.message}` : ` to start (${url.href})`}`));
  });
  worker.addEventListener('messageerror', () => events.failed(new ThreadError('a message from the run-gguf host worker could not be read')));
  return {
    post: (m, transfer) => worker.postMessage(m, transfer ?? []),
    hold: () => {},
    async terminate() {
      worker.terminate();
    },
  };
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onText?(text: string): void;
  /** The host asks the caller to run a function (chat sends). */
  onTool?(call: number, name: string, args: Record<string, unknown>): void;
  onProgress?(loaded: number, total: number): void;
  onDownload?(progress: DownloadProgress): void;
  onWarning?(message: string): void;
}

/** Requests and their replies over one host worker. */
export class Connection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private link: HostLink | undefined;
  private failure: Error | undefined;

  private constructor() {}

  static async open(url?: URL | string): Promise<Connection> {
    const c = new Connection();
    c.link = await startHost({ message: (m) => c.onReply(m), failed: (e) => c.fail(e) }, url);
    return c;
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  private onReply(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    switch (m.type) {
      case 'text':
        p.onText?.(m.text);
        return;
      case 'tool':
        p.onTool?.(m.call, m.name, m.arguments);
        return;
      case 'progress':
        p.onProgress?.(m.loadedBytes, m.totalBytes);
        return;
      case 'download':
        p.onDownload?.(m.progress);
        return;
      case 'warning':
        p.onWarning?.(m.message);
        return;
      case 'ok':
        this.settle(m.id);
        p.resolve(m.value);
        return;
      case 'err':
        this.settle(m.id);
        p.reject(deserializeError(m.error));
    }
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.link?.hold(false);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
    void this.link?.terminate();
  }

  /** Sends a request; `handlers` get its progress and text. Resolves with the host's answer. */
  request<T>(body: DistributiveOmit<Request, 'id'>, handlers: Omit<Pending, 'resolve' | 'reject'> = {}, transfer?: Transferable[]): { id: number; done: Promise<T> } {
    const id = this.nextId++;
    if (this.failure) return { id, done: Promise.reject(this.failure) };
    const done = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...handlers });
    });
    if (this.pending.size === 1) this.link!.hold(true);
    this.link!.post({ ...body, id } as Request, transfer);
    return { id, done };
  }

  /** Answers a host's function call (not a request: no reply expected beyond the host's 'ok'). */
  toolResult(id: number, call: number, outcome: { result?: string; error?: string }): void {
    if (this.failure) return;
    const rid = this.nextId++;
    this.link!.post({ type: 'tool.result', id: rid, call, ...outcome });
  }

  abort(id: number): void {
    if (!this.failure && this.pending.has(id)) this.link!.post({ type: 'abort', id });
  }

  /** Ends the worker at once; pending requests reject with `reason`. */
  async terminate(reason: Error = new RangeError('the model is disposed')): Promise<void> {
    const link = this.link;
    this.fail(reason);
    await link?.terminate();
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
