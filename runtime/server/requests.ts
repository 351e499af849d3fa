// Request bodies of /v1/chat/completions, /v1/completions and /v1/embeddings
// checked field by field: a known field of the wrong type or out of range is
// a 400 naming it (OpenAI's `param`); unknown fields are ignored, as
// llama-server ignores them. null stands for "absent", as in OpenAI's schema.
import type { ChatMessage } from '../chat/types.js';
import { LLAMA_DEFAULT_SEED } from '../sample/index.js';
import type { SamplerOptions } from '../sample/index.js';
import { badField, notSupported } from './errors.js';

type Body = Record<string, unknown>;

/** What the scheduler needs to run one generation, whichever route asked. */
export interface GenerationParams {
  sampling: SamplerOptions;
  /** Tokens to generate at most; -1: until the slot's context is full. */
  maxTokens: number;
  /** Strings that end the reply (not included in it). */
  stop: string[];
  /** Added to a token's logit before sampling (OpenAI's logit_bias; -100 or less bans it). */
  logitBias: Map<number, number>;
  /** Alternatives reported per token with logprobs; undefined: no logprobs. */
  topLogprobs: number | undefined;
  stream: boolean;
  /** stream_options.include_usage: a last chunk carries the usage. */
  includeUsage: boolean;
}

export interface ChatRequest extends GenerationParams {
  messages: ChatMessage[];
}

export interface CompletionRequest extends GenerationParams {
  /** Text (tokenized with BOS per the model and special tokens parsed, as llama-server does) or token ids. */
  prompt: string | number[];
  echo: boolean;
}

export interface EmbeddingRequest {
  /** Texts, or token-id sequences used as they are. */
  input: string[] | number[][];
  encoding: 'float' | 'base64';
}

const has = (b: Body, k: string) => b[k] !== undefined && b[k] !== null;

function num(b: Body, k: string, min = -Infinity, max = Infinity): number | undefined {
  if (!has(b, k)) return undefined;
  const v = b[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badField(k, `${k} must be a number, got ${JSON.stringify(v)}`);
  if (v < min || v > max) throw badField(k, `${k} must be in [${min}, ${max}], got ${v}`);
  return v;
}

function int(b: Body, k: string, min = -Infinity, max = Infinity): number | undefined {
  const v = num(b, k, min, max);
  if (v !== undefined && !Number.isInteger(v)) throw badField(k, `${k} must be an integer, got ${v}`);
  return v;
}

function bool(b: Body, k: string): boolean | undefined {
  if (!has(b, k)) return undefined;
  if (typeof b[k] !== 'boolean') throw badField(k, `${k} must be a boolean, got ${JSON.stringify(b[k])}`);
  return b[k] as boolean;
}

function object(b: Body, k: string): Body | undefined {
  if (!has(b, k)) return undefined;
  const v = b[k];
  if (typeof v !== 'object' || Array.isArray(v)) throw badField(k, `${k} must be an object`);
  return v as Body;
}

/** The request body as an object (the caller parsed the JSON). */
export function asBody(v: unknown): Body {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badField('body', 'the request body must be a JSON object');
  return v as Body;
}

/** OpenAI's seed is any integer; the sampler takes 32 bits. -1 (llama.cpp) or none: random. */
function seedOf(b: Body): number | undefined {
  const s = int(b, 'seed');
  if (s === undefined || s === -1) return undefined;
  const u32 = Number(BigInt.asUintN(32, BigInt(s)));
  return u32 === LLAMA_DEFAULT_SEED ? undefined : u32;
}

function stopOf(b: Body): string[] {
  if (!has(b, 'stop')) return [];
  const v = b.stop;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw badField('stop', 'stop must be a string or an array of strings');
  return list.filter((s) => s !== '');
}

function logitBiasOf(b: Body, nVocab: number): Map<number, number> {
  const o = object(b, 'logit_bias');
  const out = new Map<number, number>();
  for (const [k, v] of Object.entries(o ?? {})) {
    const id = Number(k);
    if (!Number.isInteger(id) || id < 0 || id >= nVocab) throw badField('logit_bias', `logit_bias: token id ${JSON.stringify(k)} is outside the vocabulary (0..${nVocab - 1})`);
    if (typeof v !== 'number' || !(v >= -100 && v <= 100)) throw badField('logit_bias', `logit_bias[${k}] must be a number in [-100, 100]`);
    out.set(id, v);
  }
  return out;
}

function common(b: Body, maxTokenKeys: string[], nVocab: number): Omit<GenerationParams, 'topLogprobs'> {
  const sampling: SamplerOptions = {
    temp: num(b, 'temperature', 0),
    top_p: num(b, 'top_p', 0, 1),
    top_k: int(b, 'top_k'),
    min_p: num(b, 'min_p', 0, 1),
    penalty_present: num(b, 'presence_penalty', -2, 2),
    penalty_freq: num(b, 'frequency_penalty', -2, 2),
    penalty_repeat: num(b, 'repeat_penalty', 0),
    seed: seedOf(b),
  };
  let maxTokens = -1;
  for (const k of maxTokenKeys) {
    const v = int(b, k, -1);
    if (v !== undefined) {
      maxTokens = v;
      break;
    }
  }
  const n = int(b, 'n', 1);
  if (n !== undefined && n > 1) throw notSupported('n', 'n > 1 (several choices per request)');
  const stream = bool(b, 'stream') ?? false;
  const so = object(b, 'stream_options');
  const includeUsage = so ? (bool(so, 'include_usage') ?? false) : false;
  return { sampling, maxTokens, stop: stopOf(b), logitBias: logitBiasOf(b, nVocab), stream, includeUsage };
}

/** Text of a message's content: a string, or an array of text parts. */
function contentText(v: unknown, param: string): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) {
    return v.map((part, j) => {
      const p = part as Body;
      if (typeof p !== 'object' || p === null) throw badField(`${param}[${j}]`, 'a content part must be an object');
      if (p.type !== 'text') throw notSupported(`${param}[${j}].type`, `content part type ${JSON.stringify(p.type)}`);
      if (typeof p.text !== 'string') throw badField(`${param}[${j}].text`, 'a text part needs a string text');
      return p.text;
    }).join('');
  }
  throw badField(param, 'content must be a string or an array of text parts');
}

export function parseChatRequest(b: Body, nVocab: number): ChatRequest {
  const msgs = b.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) throw badField('messages', 'messages must be a non-empty array');
  const messages: ChatMessage[] = msgs.map((m, i) => {
    const param = `messages[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw badField(param, `${param} must be an object`);
    const mm = m as Body;
    const role = mm.role === 'developer' ? 'system' : mm.role;
    if (role === 'tool' || (role === 'assistant' && has(mm, 'tool_calls'))) throw notSupported(`${param}.role`, 'tool calls and tool messages');
    if (role !== 'system' && role !== 'user' && role !== 'assistant') {
      throw badField(`${param}.role`, `${param}.role must be one of system, developer, user, assistant; got ${JSON.stringify(mm.role)}`);
    }
    return { role, content: contentText(mm.content, `${param}.content`) };
  });
  const c = common(b, ['max_completion_tokens', 'max_tokens', 'n_predict'], nVocab);
  const logprobs = bool(b, 'logprobs') ?? false;
  const top = int(b, 'top_logprobs', 0, 20);
  if (top !== undefined && !logprobs) throw badField('top_logprobs', 'top_logprobs needs logprobs: true');
  // Grammar-constrained output (json_object, json_schema, tools) lands with the grammar sampler.
  const rf = object(b, 'response_format');
  if (rf) {
    if (rf.type === 'json_object' || rf.type === 'json_schema') throw notSupported('response_format', `response_format ${rf.type}`);
    if (rf.type !== 'text') throw badField('response_format.type', 'response_format.type must be text, json_object or json_schema');
  }
  if (has(b, 'tools')) {
    if (!Array.isArray(b.tools)) throw badField('tools', 'tools must be an array');
    if (b.tools.length > 0) throw notSupported('tools', 'tools (function calling)');
  }
  if (has(b, 'tool_choice') && typeof b.tool_choice !== 'string' && (typeof b.tool_choice !== 'object' || Array.isArray(b.tool_choice))) {
    throw badField('tool_choice', 'tool_choice must be a string or an object');
  }
  return { ...c, messages, topLogprobs: logprobs ? (top ?? 0) : undefined };
}

export function parseCompletionRequest(b: Body, nVocab: number): CompletionRequest {
  let p = b.prompt;
  if (Array.isArray(p) && p.length === 1 && (typeof p[0] === 'string' || Array.isArray(p[0]))) p = p[0];
  let prompt: string | number[];
  if (typeof p === 'string') prompt = p;
  else if (Array.isArray(p) && p.every((t) => Number.isInteger(t))) prompt = p as number[];
  else if (Array.isArray(p) && p.length > 1) throw notSupported('prompt', 'several prompts in one request');
  else throw badField('prompt', 'prompt must be a string or an array of token ids');
  const c = common(b, ['max_tokens', 'n_predict'], nVocab);
  // legacy completions: logprobs is the number of alternatives (0..5), null for none
  const lp = int(b, 'logprobs', 0, 20);
  return { ...c, prompt, echo: bool(b, 'echo') ?? false, topLogprobs: lp };
}

export function parseEmbeddingRequest(b: Body): EmbeddingRequest {
  const v = b.input;
  let input: string[] | number[][];
  if (typeof v === 'string') input = [v];
  else if (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string')) input = v as string[];
  else if (Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t))) input = [v as number[]];
  else if (Array.isArray(v) && v.length > 0 && v.every((s) => Array.isArray(s) && s.length > 0 && s.every((t) => Number.isInteger(t)))) input = v as number[][];
  else throw badField('input', 'input must be a string, an array of strings, or token ids');
  const enc = has(b, 'encoding_format') ? b.encoding_format : 'float';
  if (enc !== 'float' && enc !== 'base64') throw badField('encoding_format', 'encoding_format must be float or base64');
  if (has(b, 'dimensions')) throw notSupported('dimensions', 'dimensions (shortened embeddings)');
  return { input, encoding: enc };
}
