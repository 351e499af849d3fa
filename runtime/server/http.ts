// The HTTP side: routes, body reading, auth, OpenAI's response shapes and
// server-sent events. Everything that computes goes through the scheduler
// (generation) or the model's embedder (embeddings); a failing request gets
// the OpenAI error object and the server goes on with the others.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tokenizeChat, type ChatTemplate } from '../chat/index.js';
import { callMessage, planToolTurn, ReplyStream, type ToolTurn } from '../chat/tools/index.js';
import { modelPooling } from '../embed.js';
import type { Model } from '../model.js';
import { isReranker } from '../rank.js';
import { ApiError, badField } from './errors.js';
import type { Metrics } from './metrics.js';
import { CHAT_PAGE } from './page.js';
import {
  asBody, parseChatRequest, parseCompletionRequest, parseEmbeddingRequest, parseRerankRequest, type GenerationParams,
} from './requests.js';
import type { GeneratedToken, JobResult, Scheduler, TokenLogprob } from './scheduler.js';

export interface HandlerSetup {
  model: Model;
  /** Undefined for encoder models (embeddings only). */
  scheduler: Scheduler | undefined;
  template: ChatTemplate | undefined;
  metrics: Metrics;
  modelId: string;
  created: number;
  apiKey: string | undefined;
  maxBodyBytes: number;
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, content-type',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...CORS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      if (!over) chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (over) return reject(new ApiError(413, `the request body is larger than ${limit} bytes`, 'invalid_request_error', null, 'request_too_large'));
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new ApiError(400, `the request body is not valid JSON: ${(err as Error).message}`, 'invalid_request_error', null, 'invalid_json'));
      }
    });
  });
}

function authorized(req: IncomingMessage, key: string): boolean {
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${key}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Errors of the engine that the request caused (a template that refuses the conversation, a bad token id). */
function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as Error;
  if (e?.name === 'ChatTemplateError' || e?.name === 'TokenizerError' || err instanceof RangeError) {
    return new ApiError(400, e.message, 'invalid_request_error');
  }
  return new ApiError(500, `internal error: ${e?.message ?? String(err)}`, 'server_error');
}

interface OpenAiCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

function usageOf(r: JobResult): Usage {
  return {
    prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens,
    prompt_tokens_details: { cached_tokens: r.cachedTokens },
  };
}

/** OpenAI's chat logprob entry. */
const chatLogprob = (l: TokenLogprob) => ({
  token: l.token, logprob: l.logprob, bytes: l.bytes, top_logprobs: l.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes })),
});

/** The legacy completions logprobs object for a run of tokens; text_offset counts from `offset`. */
function completionLogprobs(ls: TokenLogprob[], offset: number) {
  const text_offset: number[] = [];
  let at = offset;
  for (const l of ls) {
    text_offset.push(at);
    at += l.token.length;
  }
  return {
    tokens: ls.map((l) => l.token), token_logprobs: ls.map((l) => l.logprob),
    top_logprobs: ls.map((l) => Object.fromEntries(l.top.map((t) => [t.token, t.logprob]))), text_offset,
  };
}

export function createHandler(s: HandlerSetup): (req: IncomingMessage, res: ServerResponse) => void {
  const tok = s.model.tokenizer;

  const generator = (): Scheduler => {
    if (!s.scheduler) throw new ApiError(400, `this model (${s.model.hparams.arch}) computes embeddings; it does not generate text`, 'invalid_request_error', 'model', 'model_not_supported');
    return s.scheduler;
  };

  /** Runs one generation; streams it as server-sent events or answers with one JSON body. */
  async function generate(res: ServerResponse, prompt: number[], p: GenerationParams, kind: 'chat' | 'completion', echo = '', tools?: ToolTurn): Promise<void> {
    const scheduler = generator();
    const ac = new AbortController();
    // a client that goes away stops its generation at the next step
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const base = { id, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created, model: s.modelId, system_fingerprint: 'run-gguf' };
    const logprobs: TokenLogprob[] = [];
    let textOffset = echo.length;
    const send = (data: unknown) => {
      if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`);
    };
    const extra = p.includeUsage ? { usage: null } : {};
    const chunk = (t: { text: string; logprob?: TokenLogprob; finish?: string; role?: boolean }) => {
      const finish_reason = t.finish ?? null;
      if (kind === 'chat') {
        const delta: Record<string, unknown> = t.role ? { role: 'assistant', content: t.text } : t.finish ? {} : { content: t.text };
        const lp = t.logprob ? { content: [chatLogprob(t.logprob)], refusal: null } : null;
        return { ...base, choices: [{ index: 0, delta, logprobs: lp, finish_reason }], ...extra };
      }
      const lp = t.logprob ? completionLogprobs([t.logprob], textOffset) : null;
      return { ...base, choices: [{ index: 0, text: t.text, logprobs: lp, finish_reason }], ...extra };
    };
    // with tools, content streams up to a call's opening (all of it is read at the end)
    const toolStream = tools && p.stream ? new ReplyStream((text) => send(chunk({ text })), tools.grammar?.triggers ?? null) : undefined;
    const onToken = (t: GeneratedToken) => {
      if (t.logprob) logprobs.push(t.logprob);
      if (toolStream) return toolStream.push(t.text);
      if (p.stream && (t.text || t.logprob)) {
        send(chunk({ text: t.text, logprob: t.logprob }));
        textOffset += t.text.length;
      }
    };
    /** The reply read for calls; unreadable text stays content. */
    const readCalls = (r: JobResult): { content: string | null; calls: OpenAiCall[]; finish: string } => {
      if (!tools) return { content: r.text, calls: [], finish: r.finishReason };
      let parsed;
      try {
        parsed = tools.read(r.text);
      } catch {
        return { content: r.text, calls: [], finish: r.finishReason };
      }
      if (parsed.calls.length === 0) return { content: parsed.content, calls: [], finish: r.finishReason };
      const calls = callMessage(parsed.content, parsed.calls).tool_calls!.map((c) => ({
        id: c.id, type: 'function' as const, function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments) },
      }));
      return { content: parsed.content || null, calls, finish: 'tool_calls' };
    };
    // over the context size: throws here, before any header is sent
    const done = scheduler.submit({ prompt, params: p, signal: ac.signal, onToken });
    if (p.stream) {
      res.writeHead(200, { ...CORS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
      if (kind === 'chat') send(chunk({ text: '', role: true }));
      else if (echo) send(chunk({ text: echo }));
      let r: JobResult;
      try {
        r = await done;
      } catch (err) {
        const e = asApiError(err);
        s.metrics.countError(e.status);
        send(e.body);
        res.end();
        return;
      }
      if (r.finishReason === 'aborted') return void res.end();
      let finish: string = r.finishReason;
      if (tools) {
        const read = readCalls(r);
        finish = read.finish;
        if (read.calls.length === 0) {
          // the content the stream held back: a text answer (or the generic format's response)
          if (tools.grammar?.triggers) toolStream!.flush();
          else if (read.content) send(chunk({ text: read.content }));
        }
        read.calls.forEach((c, index) => send({
          ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, ...c }] }, logprobs: null, finish_reason: null }], ...extra,
        }));
      }
      send(chunk({ text: '', finish }));
      if (p.includeUsage) send({ ...base, choices: [], usage: usageOf(r) });
      res.end('data: [DONE]\n\n');
      return;
    }
    const r = await done;
    if (r.finishReason === 'aborted') return void res.end();
    const read = readCalls(r);
    const body = kind === 'chat'
      ? {
        ...base, object: 'chat.completion',
        choices: [{
          index: 0, message: { role: 'assistant', content: read.content, refusal: null, ...(read.calls.length ? { tool_calls: read.calls } : {}) },
          logprobs: p.topLogprobs !== undefined ? { content: logprobs.map(chatLogprob), refusal: null } : null, finish_reason: read.finish,
        }],
        usage: usageOf(r),
      }
      : {
        ...base,
        choices: [{ index: 0, text: echo + r.text, logprobs: p.topLogprobs !== undefined ? completionLogprobs(logprobs, echo.length) : null, finish_reason: r.finishReason }],
        usage: usageOf(r),
      };
    sendJson(res, 200, body);
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = parseChatRequest(asBody(await readBody(req, s.maxBodyBytes)), s.model.hparams.n_vocab);
    generator();
    // tools: rendered into the template, the call held to its schema, the reply read for calls
    const plan = r.tools || r.messages.some((m) => m.role === 'tool' || m.tool_calls)
      ? planToolTurn(s.template!, r.tools ?? {}, r.tools ? r.toolChoice : 'none', r.parallelToolCalls, tok)
      : undefined;
    const ids = plan ? tokenizeChat(tok, s.template!, plan.messages(r.messages), { tools: plan.tools }) : tokenizeChat(tok, s.template!, r.messages);
    if (plan?.grammar) {
      r.grammar = { gbnf: plan.grammar.gbnf, triggers: plan.grammar.triggers };
      r.special = true;
    }
    await generate(res, ids, r, 'chat', '', plan?.parse ? plan : undefined);
  }

  async function completion(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = parseCompletionRequest(asBody(await readBody(req, s.maxBodyBytes)), s.model.hparams.n_vocab);
    generator();
    const n = s.model.hparams.n_vocab;
    let ids: number[];
    if (typeof r.prompt === 'string') {
      // as llama-server: BOS per the model's metadata, special tokens in the text parsed
      ids = tok.tokenize(r.prompt, { addSpecial: true, special: true });
    } else {
      ids = r.prompt;
      const bad = ids.findIndex((t) => t < 0 || t >= n);
      if (bad >= 0) throw badField('prompt', `prompt[${bad}] = ${ids[bad]} is outside the vocabulary (0..${n - 1})`);
    }
    const echo = r.echo ? (typeof r.prompt === 'string' ? r.prompt : tok.detokenize(ids)) : '';
    await generate(res, ids, r, 'completion', echo);
  }

  async function embeddings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = parseEmbeddingRequest(asBody(await readBody(req, s.maxBodyBytes)));
    if (s.scheduler) {
      throw new ApiError(501, `this model (${s.model.hparams.arch}) generates text; embeddings need an encoder model (bert, nomic-bert)`, 'not_supported_error', 'model', 'model_not_supported');
    }
    if (s.model.hparams.pooling_type === 4) {
      throw new ApiError(501, 'this model is a reranker (pooling type rank): use /v1/rerank', 'not_supported_error', 'model', 'model_not_supported');
    }
    if (modelPooling(s.model.hparams, s.model.path) === 'none') {
      throw new ApiError(400, "this model's pooling type is none (a vector per token), which the OpenAI embeddings API cannot return", 'invalid_request_error', 'model');
    }
    const seqs = typeof r.input[0] === 'string' ? (r.input as string[]).map((t) => tok.tokenize(t, { addSpecial: true })) : (r.input as number[][]);
    const vectors = s.model.embedTokens(seqs);
    const nTokens = seqs.reduce((a, q) => a + q.length, 0);
    sendJson(res, 200, {
      object: 'list', model: s.modelId,
      data: vectors.map((v, index) => ({
        object: 'embedding', index,
        embedding: r.encoding === 'base64' ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v),
      })),
      usage: { prompt_tokens: nTokens, total_tokens: nTokens },
    });
  }

  async function rerank(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = parseRerankRequest(asBody(await readBody(req, s.maxBodyBytes)));
    if (!isReranker(s.model)) {
      throw new ApiError(501, `this model (${s.model.hparams.arch}) is not a reranker: it has no classifier head (cls.weight or cls.output.weight)`, 'not_supported_error', 'model', 'model_not_supported');
    }
    // node-llama-cpp's 0..1 scores (llama-server returns the head's raw output)
    const ranked = s.model.rankAndSort(r.query, r.documents).slice(0, r.topN);
    if (r.tei) {
      return sendJson(res, 200, ranked.map(({ index, score, document }) => ({ index, score, ...(r.returnText ? { text: document } : {}) })));
    }
    sendJson(res, 200, { model: s.modelId, object: 'list', results: ranked.map(({ index, score }) => ({ index, relevance_score: score })) });
  }

  const routes: Record<string, { method: string; run: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void }> = {
    '/v1/chat/completions': { method: 'POST', run: chat },
    '/chat/completions': { method: 'POST', run: chat },
    '/v1/completions': { method: 'POST', run: completion },
    '/completions': { method: 'POST', run: completion },
    '/v1/embeddings': { method: 'POST', run: embeddings },
    '/embeddings': { method: 'POST', run: embeddings },
    '/v1/rerank': { method: 'POST', run: rerank },
    '/rerank': { method: 'POST', run: rerank },
    '/v1/reranking': { method: 'POST', run: rerank },
    '/reranking': { method: 'POST', run: rerank },
    '/v1/models': { method: 'GET', run: (_q, res) => sendJson(res, 200, { object: 'list', data: [{ id: s.modelId, object: 'model', created: s.created, owned_by: 'run-gguf' }] }) },
    '/metrics': {
      method: 'GET',
      run: (_q, res) => {
        res.writeHead(200, { ...CORS, 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(s.metrics.text());
      },
    },
  };
  routes['/models'] = routes['/v1/models']!;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'OPTIONS') return void res.writeHead(204, CORS).end();
    if (path === '/health' || path === '/v1/health') return sendJson(res, 200, { status: 'ok' });
    // the page is static and holds nothing of the model's; it asks for the key when the API needs one
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      return void res.end(req.method === 'HEAD' ? undefined : CHAT_PAGE);
    }
    if (s.apiKey !== undefined && !authorized(req, s.apiKey)) {
      throw new ApiError(401, 'Invalid API key: send it as "Authorization: Bearer KEY"', 'authentication_error', null, 'invalid_api_key');
    }
    const route = routes[path];
    if (!route) throw new ApiError(404, `no route ${path}`, 'invalid_request_error', null, 'not_found');
    if (req.method !== route.method) throw new ApiError(405, `${path} takes ${route.method}, not ${req.method}`, 'invalid_request_error', null, 'method_not_allowed');
    s.metrics.countRequest(path);
    await route.run(req, res);
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = asApiError(err);
      s.metrics.countError(e.status);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // an unread body (a 401 before reading it) would otherwise keep the socket busy
      req.resume();
      sendJson(res, e.status, e.body);
    });
  };
}
