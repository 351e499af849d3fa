// Request bodies of /v1/chat/completions, /v1/completions and /v1/embeddings
// checked field by field: a known field of the wrong type or out of range is
// a 400 naming it (OpenAI's `param`); unknown fields are ignored, as
// llama-server ignores them. null stands for "absent", as in OpenAI's schema.
import { JsonSchemaError, JSON_GRAMMAR, jsonSchemaToGrammar } from '../../formats/grammar/index.js';
import type { ChatFunction, ToolChoice } from '../chat/tools/index.js';
import type { ChatMessage, ChatToolCall } from '../chat/types.js';
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
  /** GBNF the reply must fit; with triggers it applies from the first trigger on (a lazy tool-call grammar). */
  grammar?: { gbnf: string; triggers?: string[] };
  /** Decode special tokens as text (tool-call markers). */
  special?: boolean;
}

export interface ChatRequest extends GenerationParams {
  messages: ChatMessage[];
  /** The request's tools (no handlers: the client runs them), when any. */
  tools?: Record<string, ChatFunction>;
  toolChoice: ToolChoice;
  parallelToolCalls: boolean;
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

export interface RerankRequest {
  query: string;
  documents: string[];
  /** The best topN results only; undefined: all. */
  topN: number | undefined;
  /** TEI's form ("texts" in the request): a bare array of { index, score } answers. */
  tei: boolean;
  /** TEI's return_text: each result carries its text. */
  returnText: boolean;
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

/** An assistant message's tool_calls (arguments: OpenAI's JSON string, or an object). */
function toolCallsOf(v: unknown, param: string): ChatToolCall[] {
  if (!Array.isArray(v)) throw badField(param, `${param} must be an array`);
  return v.map((c, j) => {
    const p = `${param}[${j}]`;
    const cc = c as Body;
    if (typeof cc !== 'object' || cc === null) throw badField(p, `${p} must be an object`);
    const f = cc.function as Body;
    if (typeof f !== 'object' || f === null || typeof f.name !== 'string') throw badField(`${p}.function`, `${p}.function needs a string name`);
    let args: unknown = f.arguments ?? {};
    if (typeof args === 'string') {
      try {
        args = JSON.parse(args || '{}');
      } catch {
        throw badField(`${p}.function.arguments`, `${p}.function.arguments is not JSON`);
      }
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args)) throw badField(`${p}.function.arguments`, `${p}.function.arguments must be a JSON object`);
    const id = typeof cc.id === 'string' ? cc.id : `call${j}`;
    return { id, type: 'function' as const, function: { name: f.name, arguments: args as Record<string, unknown> } };
  });
}

function toolsOf(b: Body): Record<string, ChatFunction> | undefined {
  if (!has(b, 'tools')) return undefined;
  if (!Array.isArray(b.tools)) throw badField('tools', 'tools must be an array');
  if (b.tools.length === 0) return undefined;
  const out: Record<string, ChatFunction> = {};
  b.tools.forEach((t, i) => {
    const tt = t as Body;
    if (typeof tt !== 'object' || tt === null || tt.type !== 'function') throw badField(`tools[${i}].type`, `tools[${i}] must be {"type": "function", "function": {...}}`);
    const f = tt.function as Body;
    if (typeof f !== 'object' || f === null || typeof f.name !== 'string' || !/^[a-zA-Z0-9_.-]{1,64}$/.test(f.name)) {
      throw badField(`tools[${i}].function.name`, `tools[${i}].function.name must be 1-64 characters of a-z, A-Z, 0-9, _, . and -`);
    }
    if (f.description !== undefined && typeof f.description !== 'string') throw badField(`tools[${i}].function.description`, 'description must be a string');
    if (f.parameters !== undefined && (typeof f.parameters !== 'object' || f.parameters === null)) throw badField(`tools[${i}].function.parameters`, 'parameters must be a JSON schema object');
    out[f.name] = { description: f.description as string | undefined, parameters: f.parameters };
  });
  return out;
}

function toolChoiceOf(b: Body, tools: Record<string, ChatFunction> | undefined): ToolChoice {
  if (!has(b, 'tool_choice')) return 'auto';
  const v = b.tool_choice;
  if (v === 'auto' || v === 'none' || v === 'required') {
    if (v === 'required' && !tools) throw badField('tool_choice', 'tool_choice "required" needs tools');
    return v;
  }
  if (typeof v === 'object' && !Array.isArray(v)) {
    const name = ((v as Body).function as Body | undefined)?.name;
    if ((v as Body).type !== 'function' || typeof name !== 'string') throw badField('tool_choice', 'tool_choice must be {"type": "function", "function": {"name": ...}}');
    if (!tools || !(name in tools)) throw badField('tool_choice', `tool_choice names "${name}", which is not in tools`);
    return { type: 'function', function: { name } };
  }
  throw badField('tool_choice', 'tool_choice must be "auto", "none", "required" or {"type": "function", "function": {"name": ...}}');
}

/** response_format as a grammar: json_object any JSON object, json_schema the schema's JSON. */
function responseGrammar(b: Body): string | undefined {
  const rf = object(b, 'response_format');
  if (!rf || rf.type === 'text') return undefined;
  if (rf.type === 'json_object') return JSON_GRAMMAR;
  if (rf.type !== 'json_schema') throw badField('response_format.type', 'response_format.type must be text, json_object or json_schema');
  const js = rf.json_schema as Body | undefined;
  if (typeof js !== 'object' || js === null) throw badField('response_format.json_schema', 'response_format.json_schema must be an object with a schema');
  // strict or not, the reply is held to the schema (a grammar cannot be looser than it)
  const schema = js.schema ?? {};
  try {
    return jsonSchemaToGrammar(schema);
  } catch (err) {
    if (err instanceof JsonSchemaError) throw badField('response_format.json_schema.schema', `the JSON schema cannot be converted: ${err.message}`);
    throw err;
  }
}

export function parseChatRequest(b: Body, nVocab: number): ChatRequest {
  const msgs = b.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) throw badField('messages', 'messages must be a non-empty array');
  const messages: ChatMessage[] = msgs.map((m, i) => {
    const param = `messages[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw badField(param, `${param} must be an object`);
    const mm = m as Body;
    const role = mm.role === 'developer' ? 'system' : mm.role;
    if (role === 'tool') {
      if (typeof mm.tool_call_id !== 'string') throw badField(`${param}.tool_call_id`, `${param}: a tool message needs a string tool_call_id`);
      const out: ChatMessage = { role: 'tool', content: contentText(mm.content, `${param}.content`), tool_call_id: mm.tool_call_id };
      if (typeof mm.name === 'string') out.name = mm.name;
      return out;
    }
    if (role !== 'system' && role !== 'user' && role !== 'assistant') {
      throw badField(`${param}.role`, `${param}.role must be one of system, developer, user, assistant, tool; got ${JSON.stringify(mm.role)}`);
    }
    const out: ChatMessage = { role, content: contentText(mm.content, `${param}.content`) };
    if (role === 'assistant' && has(mm, 'tool_calls')) {
      const calls = toolCallsOf(mm.tool_calls, `${param}.tool_calls`);
      if (calls.length > 0) out.tool_calls = calls;
    }
    return out;
  });
  // a tool message's name, as templates print it: the function of the call it answers
  const names = new Map<string, string>();
  for (const m of messages) {
    for (const c of m.tool_calls ?? []) names.set(c.id, c.function.name);
    if (m.role === 'tool' && m.name === undefined && names.has(m.tool_call_id!)) m.name = names.get(m.tool_call_id!);
  }
  const c = common(b, ['max_completion_tokens', 'max_tokens', 'n_predict'], nVocab);
  const logprobs = bool(b, 'logprobs') ?? false;
  const top = int(b, 'top_logprobs', 0, 20);
  if (top !== undefined && !logprobs) throw badField('top_logprobs', 'top_logprobs needs logprobs: true');
  const tools = toolsOf(b);
  const toolChoice = toolChoiceOf(b, tools);
  const parallelToolCalls = bool(b, 'parallel_tool_calls') ?? false;
  const gbnf = responseGrammar(b);
  if (gbnf && tools && toolChoice !== 'none') throw badField('response_format', 'response_format json_object/json_schema and tools cannot be combined');
  return {
    ...c, messages, topLogprobs: logprobs ? (top ?? 0) : undefined, tools, toolChoice, parallelToolCalls,
    grammar: gbnf ? { gbnf } : undefined,
  };
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

/** llama-server's /rerank body: Jina's { query, documents, top_n } or TEI's { query, texts, return_text }. */
export function parseRerankRequest(b: Body): RerankRequest {
  if (typeof b.query !== 'string') throw badField('query', 'query must be a string');
  const tei = !has(b, 'documents') && has(b, 'texts');
  const key = tei ? 'texts' : 'documents';
  const d = b[key];
  if (!Array.isArray(d) || d.length === 0 || !d.every((x) => typeof x === 'string')) throw badField(key, `${key} must be a non-empty array of strings`);
  return { query: b.query, documents: d as string[], topN: int(b, 'top_n', 1), tei, returnText: tei && (bool(b, 'return_text') ?? false) };
}
