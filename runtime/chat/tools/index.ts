// Function calling for chat sessions: which format the model's template uses
// for calls (detected from its text, by the markers llama.cpp's chat layer
// looks for), how the tool list and earlier calls reach the prompt, the
// grammar that keeps a call's arguments inside the function's JSON schema,
// and reading the calls back out of the reply.
//
// Templates that know tools (Hermes/Qwen, Llama 3.x, Mistral, gpt-oss) get
// the list as their `tools` variable and render calls and results
// themselves. Any other template gets the generic format (llama.cpp's
// "generic" handler does the same): the list and the JSON answer format go
// into the system message, earlier calls and results are written as JSON in
// ordinary assistant and user messages, and the reply is grammar-forced JSON.
import type { Tokenizer } from '../../tokenizer/index.js';
import { JinjaChatTemplate, type ChatTemplate, type TemplateTool } from '../template.js';
import type { ChatMessage, ChatToolCall } from '../types.js';
import { callGrammar, type CallGrammar } from './grammar.js';
import { parseToolCalls, type ParsedReply, type ToolFormat } from './parse.js';

export { callGrammar, prefixRules, type CallGrammar, type CallGrammarTool } from './grammar.js';
export { LazyGrammar } from './lazy.js';
export { ReplyStream } from './stream.js';
export { jsonEnd, parseToolCalls, type ParsedCall, type ParsedReply, type ToolFormat } from './parse.js';

/** A function the model may call. */
export interface ChatFunction {
  description?: string;
  /** JSON schema of the arguments object (the grammar keeps the model's arguments inside it). Default: any object. */
  parameters?: unknown;
  /** Runs the call; what it returns (a string, or anything JSON.stringify takes) goes back to the model. */
  handler?: (args: Record<string, unknown>) => unknown;
}

/** OpenAI's tool_choice: 'auto' (the model decides), 'none', 'required' (some call), or one function by name. */
export type ToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

/** The call format of a template, from its text (the markers llama.cpp's chat layer detects). */
export function detectToolFormat(template: ChatTemplate): ToolFormat {
  if (!(template instanceof JinjaChatTemplate)) return 'generic';
  const src = template.source;
  if (src.includes('<|channel|>')) return 'gpt-oss';
  if (src.includes('[TOOL_CALLS]')) return src.includes('[ARGS]') ? 'mistral-args' : 'mistral';
  if (src.includes('<tool_call>')) return 'hermes';
  if (src.includes('<|start_header_id|>') && src.includes('ipython')) return 'llama3';
  return 'generic';
}

/** The functions as the template's `tools` variable takes them (OpenAI's shape). */
export function templateTools(functions: Readonly<Record<string, ChatFunction>>): TemplateTool[] {
  return Object.entries(functions).map(([name, f]) => ({
    type: 'function',
    function: { name, ...(f.description !== undefined ? { description: f.description } : {}), parameters: f.parameters ?? { type: 'object', properties: {} } },
  }));
}

const ID_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A call id of 9 alphanumerics (Mistral's templates refuse any other). */
export function newCallId(): string {
  let s = '';
  for (let i = 0; i < 9; i++) s += ID_CHARS[Math.floor(Math.random() * ID_CHARS.length)];
  return s;
}

/** The generic format's instructions, appended to the system message. */
export function genericToolPrompt(tools: readonly TemplateTool[]): string {
  return 'You can call these functions (JSON schema of each):\n' + JSON.stringify(tools, null, 2) +
    '\n\nReply with one JSON object: {"tool_call": {"name": "<function name>", "arguments": {...}}} to call a function, ' +
    'or {"response": "<your answer>"} to answer the user.';
}

/**
 * Messages for a template without tool support: earlier calls become the
 * assistant's JSON, results become user messages holding a tool_response.
 */
export function polyfillToolMessages(messages: readonly ChatMessage[], tools: readonly TemplateTool[] | undefined): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const m of messages) {
    if (m.role === 'tool') {
      out.push({ role: 'user', content: JSON.stringify({ tool_response: { tool: m.name, tool_call_id: m.tool_call_id, content: m.content } }) });
    } else if (m.tool_calls?.length) {
      const calls = m.tool_calls.map((c) => ({ name: c.function.name, arguments: c.function.arguments }));
      out.push({ role: 'assistant', content: JSON.stringify(calls.length === 1 ? { tool_call: calls[0] } : { tool_calls: calls }) });
    } else out.push({ role: m.role, content: m.content });
  }
  if (tools) {
    const prompt = genericToolPrompt(tools);
    if (out[0]?.role === 'system') out[0] = { role: 'system', content: `${out[0].content}\n\n${prompt}` };
    else out.unshift({ role: 'system', content: prompt });
  }
  return out;
}

/** How one generation of a chat deals with tools. */
export interface ToolTurn {
  format: ToolFormat;
  /** The template's `tools` variable (undefined: none passed). */
  tools: TemplateTool[] | undefined;
  /** The messages as the template should see them. */
  messages(conversation: readonly ChatMessage[]): ChatMessage[];
  /** The call grammar, or undefined when nothing is constrained ('none'). */
  grammar: CallGrammar | undefined;
  /** Whether the reply is read for calls. */
  parse: boolean;
  read(text: string): ParsedReply;
}

/**
 * The plan for one generation with these functions and this choice.
 * 'none' renders no tools and reads no calls; the others render the list,
 * constrain the call (lazily for 'auto') and read the reply.
 */
export function planToolTurn(
  template: ChatTemplate, functions: Readonly<Record<string, ChatFunction>>, choice: ToolChoice, parallel = false, tokenizer?: Tokenizer,
): ToolTurn {
  const format = detectToolFormat(template);
  const names = Object.keys(functions);
  let offered = names;
  if (typeof choice === 'object') {
    const name = choice.function?.name;
    if (!names.includes(name)) throw new RangeError(`toolChoice names "${name}", which is not one of the functions (${names.join(', ') || 'none'})`);
    offered = [name];
  } else if (choice !== 'auto' && choice !== 'none' && choice !== 'required') {
    throw new RangeError(`toolChoice must be 'auto', 'none', 'required' or {type: 'function', function: {name}}; got ${JSON.stringify(choice)}`);
  }
  if (choice === 'required' && names.length === 0) throw new RangeError("toolChoice 'required' needs at least one function");
  const active = choice !== 'none' && names.length > 0;
  const all = templateTools(functions);
  const native = format !== 'generic';
  const ownTools = template instanceof JinjaChatTemplate && template.usesTools;
  const tools = active && (native || ownTools) ? all : undefined;
  const polyfill = !native && !(template instanceof JinjaChatTemplate && template.source.includes('tool_calls'));
  return {
    format,
    tools,
    messages: (conversation) => (polyfill || (active && !native) ? polyfillToolMessages(conversation, active && !native ? all : undefined) : [...conversation]),
    grammar: active ? callGrammar(format, offered.map((name) => ({ name, parameters: functions[name]!.parameters })), { lazy: choice === 'auto', parallel, marker: tokenizer ? (t) => controlToken(tokenizer, t) : undefined }) : undefined,
    parse: active,
    read: (text) => parseToolCalls(format, text, offered),
  };
}

/**
 * `<[id]>` when the vocabulary holds `text` as one control token (which the
 * output text leaves out, so the grammar must name the token), else undefined.
 */
export function controlToken(tok: Tokenizer, text: string): string | undefined {
  const ids = tok.tokenize(text, { addSpecial: false, special: true });
  if (ids.length !== 1) return undefined;
  const id = ids[0]!;
  return tok.tokenToPiece(id, { special: true }) === text && tok.tokenToPiece(id, { special: false }) !== text ? `<[${id}]>` : undefined;
}

/** The assistant message holding calls, with fresh ids where the model gave none. */
export function callMessage(content: string, calls: ParsedReply['calls']): ChatMessage {
  const tool_calls: ChatToolCall[] = calls.map((c) => ({
    id: c.id && /^[a-zA-Z0-9]{9}$/.test(c.id) ? c.id : newCallId(), type: 'function', function: { name: c.name, arguments: c.arguments },
  }));
  return { role: 'assistant', content, tool_calls };
}

/** A handler's result as the text the model reads. */
export function resultText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v);
}
