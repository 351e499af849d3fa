// run-gguf serve as a library: an OpenAI-compatible HTTP server over one
// loaded model, in pure Node http.
//
//   const server = await createServer('model.gguf', { slots: 4, contextSize: 8192 });
//   const { url } = await server.listen(8080);          // 127.0.0.1 unless a host is given
//   ...
//   await server.close();
//
// The engine computes on this thread and its worker pool: each step blocks
// the event loop for one graph run per busy slot, and requests are read and
// answered between steps.
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { resolveChatTemplate, type ChatTemplate } from '../chat/index.js';
import type { Context } from '../context.js';
import { ENCODER_ARCHITECTURES } from '../embed.js';
import { loadModel, type Model } from '../model.js';
import { createHandler } from './http.js';
import { Metrics } from './metrics.js';
import { Scheduler } from './scheduler.js';

export { ApiError } from './errors.js';
export { evaluateStep, type SlotWork } from './step.js';
export type { FinishReason, JobResult } from './scheduler.js';

export interface ServerOptions {
  /**
   * KV cells of all slots together (llama-server's -c): each slot gets
   * contextSize / slots. Default: min(4096, the model's training context) per slot times slots.
   */
  contextSize?: number;
  /** Sequences served at once (llama-server's -np); more requests wait in a queue. Default 1. */
  slots?: number;
  /** When set, every route but /health and the page at / needs `Authorization: Bearer KEY`. */
  apiKey?: string;
  /** Threads each step computes on. Default: the number of cores. */
  threads?: number;
  /** Prompt tokens per graph run (n_batch). Default 512. */
  batchSize?: number;
  /** The model's id in /v1/models and responses. Default: the file name. */
  modelId?: string;
  /** A built-in template name, "completion", or Jinja text; default the file's template. */
  chatTemplate?: string;
  /** Largest request body accepted (413 beyond). Default 16 MiB. */
  maxBodyBytes?: number;
}

export interface RunGgufServer {
  /** The node:http server (not listening until listen()). */
  readonly http: Server;
  /** Cells each slot holds. */
  readonly slotContextSize: number;
  readonly slots: number;
  readonly metrics: Metrics;
  readonly template: ChatTemplate | undefined;
  /** Listens on host (default 127.0.0.1) and port (default 8080; 0 picks a free one). */
  listen(port?: number, host?: string): Promise<{ url: string; host: string; port: number }>;
  /** Stops listening, ends running requests, frees the context (and the model when a path was given). */
  close(): Promise<void>;
}

/** A server over a loaded core model (run-gguf/core's loadModel), or over the file at a path (loaded here, disposed by close). */
export async function createServer(model: Model | string, options: ServerOptions = {}): Promise<RunGgufServer> {
  const slots = options.slots ?? 1;
  if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be a positive integer, got ${options.slots}`);
  const owned = typeof model === 'string';
  const m = typeof model === 'string' ? await loadModel(model, { contextSize: options.contextSize }) : model;
  try {
    const hp = m.hparams;
    const encoder = ENCODER_ARCHITECTURES.has(hp.arch);
    // llama-server (without a unified KV cache) gives each slot n_ctx / n_parallel cells
    const total = options.contextSize ?? Math.min(4096, hp.n_ctx_train) * slots;
    const perSlot = Math.floor(total / slots);
    if (!Number.isInteger(total) || perSlot < 1) throw new RangeError(`contextSize ${options.contextSize} is too small for ${slots} slots`);
    let context: Context | undefined;
    let scheduler: Scheduler | undefined;
    let template: ChatTemplate | undefined;
    const metrics = new Metrics(() => ({ slotsBusy: scheduler?.busy ?? 0, slotsTotal: encoder ? 0 : slots, queued: scheduler?.queued ?? 0 }));
    if (!encoder) {
      template = resolveChatTemplate({ get: (k) => m.gguf.metadata.get(k), tokenizer: m.tokenizer, fileName: basename(m.path) }, { override: options.chatTemplate });
      context = m.createContext({ contextSize: perSlot, sequences: slots, threads: options.threads, batchSize: options.batchSize });
      scheduler = new Scheduler(context, m.tokenizer, metrics);
    }
    const handler = createHandler({
      model: m, scheduler, template, metrics, modelId: options.modelId ?? basename(m.path), created: Math.floor(Date.now() / 1000),
      apiKey: options.apiKey, maxBodyBytes: options.maxBodyBytes ?? 16 * 1024 * 1024,
    });
    const http = createHttpServer(handler);
    let closed = false;
    return {
      http, slotContextSize: encoder ? 0 : perSlot, slots, metrics, template,
      listen(port = 8080, host = '127.0.0.1') {
        return new Promise((resolve, reject) => {
          http.once('error', reject);
          http.listen(port, host, () => {
            http.off('error', reject);
            const a = http.address() as AddressInfo;
            const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
            resolve({ url: `http://${h}:${a.port}`, host: a.address, port: a.port });
          });
        });
      },
      async close() {
        if (closed) return;
        closed = true;
        scheduler?.close();
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
        context?.dispose();
        if (owned) m.dispose();
      },
    };
  } catch (err) {
    if (owned) m.dispose();
    throw err;
  }
}
