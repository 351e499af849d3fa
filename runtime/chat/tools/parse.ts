// Reading the model's function calls out of its reply, per template family.
// The shapes are the ones each family's template renders for an assistant
// message with tool_calls (so a model trained on it writes them back):
//
//   hermes        <tool_call>{"name": N, "arguments": {...}}</tool_call>   (Hermes 2/3, Qwen 2.5/3)
//   llama3        [<|python_tag|>]{"name": N, "parameters": {...}}           (Llama 3.1-3.3)
//   mistral       [TOOL_CALLS][{"name": N, "arguments": {...}, "id": ...}]   (Mistral Nemo)
//   mistral-args  [TOOL_CALLS]N[CALL_ID]id[ARGS]{...}, [CALL_ID] optional  (Mistral Small 3.2, Devstral)
//   gpt-oss       <|channel|>commentary to=functions.N <|constrain|>json<|message|>{...}[<|call|>]
//   generic       {"tool_call": {"name": N, "arguments": {...}}} | {"tool_calls": [...]} | {"response": "..."}
//
// A reply that starts a call and does not finish it, names a function that
// was not offered, or holds arguments that are not a JSON object is refused
// with a ToolCallError saying what and where.
import { ToolCallError } from '../../errors.js';

export type ToolFormat = 'hermes' | 'llama3' | 'mistral' | 'mistral-args' | 'gpt-oss' | 'generic';

export interface ParsedCall {
  name: string;
  arguments: Record<string, unknown>;
  /** The id the model wrote (Mistral's formats), if any. */
  id?: string;
}

export interface ParsedReply {
  /** The reply's text without the calls (for gpt-oss: the final channel's message). */
  content: string;
  calls: ParsedCall[];
}

/** Where the JSON value starting at or after `from` ends (whitespace skipped first); -1 if it does not end. */
export function jsonEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && /\s/.test(text[i]!)) i++;
  if (i >= text.length) return -1;
  const open = text[i];
  if (open !== '{' && open !== '[') {
    if (open === '"') {
      for (let j = i + 1; j < text.length; j++) {
        if (text[j] === '\\') j++;
        else if (text[j] === '"') return j + 1;
      }
      return -1;
    }
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)/.exec(text.slice(i));
    return m ? i + m[0].length : -1;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text[j];
    if (c === '"') {
      for (j++; j < text.length && text[j] !== '"'; j++) if (text[j] === '\\') j++;
      if (j >= text.length) return -1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return -1;
}

/** The JSON value at `from`, and where it ends; throws ToolCallError when it is cut short or not JSON. */
function readJson(format: ToolFormat, text: string, from: number, what: string): { value: unknown; end: number } {
  const end = jsonEnd(text, from);
  const excerpt = text.slice(from, from + 200);
  if (end < 0) throw new ToolCallError(`${what} is not complete JSON: ${JSON.stringify(excerpt)}`, format, excerpt);
  try {
    return { value: JSON.parse(text.slice(from, end)), end };
  } catch (err) {
    throw new ToolCallError(`${what} is not valid JSON (${(err as Error).message}): ${JSON.stringify(text.slice(from, end))}`, format, text.slice(from, end));
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A call from {name, arguments|parameters}; checks the name is offered and the arguments an object. */
function callOf(format: ToolFormat, v: unknown, names: ReadonlySet<string>, argsKey: 'arguments' | 'parameters' | 'either'): ParsedCall {
  const shown = JSON.stringify(v);
  if (!isObject(v)) throw new ToolCallError(`expected a JSON object with "name" and arguments, got ${shown}`, format, shown);
  if (typeof v.name !== 'string') throw new ToolCallError(`the call has no string "name": ${shown}`, format, shown);
  let args = argsKey === 'parameters' ? v.parameters : argsKey === 'arguments' ? v.arguments : (v.arguments ?? v.parameters);
  // some models write the arguments as a JSON string (OpenAI's own shape)
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      throw new ToolCallError(`the arguments of ${v.name} are a string that is not JSON: ${shown}`, format, shown);
    }
  }
  return checked(format, v.name, args, names, shown, typeof v.id === 'string' ? v.id : undefined);
}

function checked(format: ToolFormat, name: string, args: unknown, names: ReadonlySet<string>, shown: string, id?: string): ParsedCall {
  if (!names.has(name)) throw new ToolCallError(`the model called "${name}", which is not one of the functions offered (${[...names].join(', ')})`, format, shown);
  if (args === undefined) args = {};
  if (!isObject(args)) throw new ToolCallError(`the arguments of ${name} are not a JSON object: ${shown}`, format, shown);
  return id === undefined ? { name, arguments: args } : { name, arguments: args, id };
}

function parseHermes(text: string, names: ReadonlySet<string>): ParsedReply {
  const calls: ParsedCall[] = [];
  let content = '';
  let at = 0;
  for (;;) {
    const open = text.indexOf('<tool_call>', at);
    if (open < 0) break;
    content += text.slice(at, open);
    const { value, end } = readJson('hermes', text, open + '<tool_call>'.length, 'the <tool_call> body');
    calls.push(callOf('hermes', value, names, 'either'));
    let next = end;
    while (next < text.length && /\s/.test(text[next]!)) next++;
    if (text.startsWith('</tool_call>', next)) next += '</tool_call>'.length;
    else if (next < text.length) throw new ToolCallError(`expected </tool_call> after the call, found ${JSON.stringify(text.slice(next, next + 40))}`, 'hermes', text.slice(open, next + 40));
    at = next;
  }
  content += text.slice(at);
  // a text answer stays as the model wrote it
  return { content: calls.length ? content.trim() : text, calls };
}

function parseLlama3(text: string, names: ReadonlySet<string>): ParsedReply {
  // the call starts at <|python_tag|> or at a {"name" object (a lazy grammar may let text come first)
  const tagAt = text.indexOf('<|python_tag|>');
  const objAt = text.search(/\{\s*"name"/);
  const at = tagAt >= 0 && (objAt < 0 || tagAt < objAt) ? tagAt : objAt;
  // a reply without either is a text answer
  if (at < 0) return { content: text, calls: [] };
  const content = text.slice(0, at).trim();
  let body = text.slice(at);
  if (body.startsWith('<|python_tag|>')) body = body.slice('<|python_tag|>'.length);
  body = body.trim();
  const calls: ParsedCall[] = [];
  let from = 0;
  // several calls: separated by ';' (llama.cpp accepts that too)
  for (;;) {
    const { value, end } = readJson('llama3', body, from, 'the call');
    calls.push(callOf('llama3', value, names, 'either'));
    const rest = body.slice(end).trim();
    if (rest === '') break;
    if (!rest.startsWith(';')) throw new ToolCallError(`unexpected text after the call: ${JSON.stringify(rest.slice(0, 40))}`, 'llama3', rest);
    body = rest.slice(1);
    from = 0;
  }
  return { content, calls };
}

function parseMistral(text: string, names: ReadonlySet<string>): ParsedReply {
  const open = text.indexOf('[TOOL_CALLS]');
  if (open < 0) return { content: text, calls: [] };
  const { value, end } = readJson('mistral', text, open + '[TOOL_CALLS]'.length, 'the [TOOL_CALLS] list');
  const list = Array.isArray(value) ? value : [value];
  const rest = text.slice(end).trim();
  if (rest) throw new ToolCallError(`unexpected text after the call list: ${JSON.stringify(rest.slice(0, 40))}`, 'mistral', rest);
  return { content: text.slice(0, open).trim(), calls: list.map((c) => callOf('mistral', c, names, 'arguments')) };
}

function parseMistralArgs(text: string, names: ReadonlySet<string>): ParsedReply {
  const first = text.indexOf('[TOOL_CALLS]');
  if (first < 0) return { content: text, calls: [] };
  const calls: ParsedCall[] = [];
  let at = first;
  while (at < text.length) {
    if (!text.startsWith('[TOOL_CALLS]', at)) {
      throw new ToolCallError(`expected [TOOL_CALLS] or the end, found ${JSON.stringify(text.slice(at, at + 40))}`, 'mistral-args', text.slice(at));
    }
    at += '[TOOL_CALLS]'.length;
    // the older form carries a JSON list right after the marker
    if (text[at] === '[') {
      const { value, end } = readJson('mistral-args', text, at, 'the [TOOL_CALLS] list');
      for (const c of Array.isArray(value) ? value : [value]) calls.push(callOf('mistral-args', c, names, 'arguments'));
      at = end;
    } else {
      const argsAt = text.indexOf('[ARGS]', at);
      if (argsAt < 0) throw new ToolCallError(`[TOOL_CALLS] without [ARGS]: ${JSON.stringify(text.slice(at, at + 60))}`, 'mistral-args', text.slice(at));
      let name = text.slice(at, argsAt);
      let id: string | undefined;
      const idAt = name.indexOf('[CALL_ID]');
      if (idAt >= 0) {
        id = name.slice(idAt + '[CALL_ID]'.length);
        name = name.slice(0, idAt);
      }
      const { value, end } = readJson('mistral-args', text, argsAt + '[ARGS]'.length, `the [ARGS] of ${name}`);
      calls.push(checked('mistral-args', name.trim(), value, names, text.slice(at, end), id));
      at = end;
    }
    while (at < text.length && /\s/.test(text[at]!)) at++;
  }
  return { content: text.slice(0, first).trim(), calls };
}

const HARMONY_CALL = /to=functions\.([^\s<]+)/g;

function parseGptOss(text: string, names: ReadonlySet<string>): ParsedReply {
  const calls: ParsedCall[] = [];
  for (const m of text.matchAll(HARMONY_CALL)) {
    const msg = text.indexOf('<|message|>', m.index);
    if (msg < 0) throw new ToolCallError(`the call to ${m[1]} has no <|message|>: ${JSON.stringify(text.slice(m.index, m.index + 80))}`, 'gpt-oss', text.slice(m.index));
    const { value, end } = readJson('gpt-oss', text, msg + '<|message|>'.length, `the arguments of ${m[1]}`);
    calls.push(checked('gpt-oss', m[1]!, value, names, text.slice(m.index, end)));
    const rest = text.slice(end);
    const next = rest.search(/\S/);
    if (next >= 0 && !rest.startsWith('<|call|>', next) && !rest.startsWith('<|start|>', next) && !rest.startsWith('<|end|>', next)) {
      throw new ToolCallError(`expected <|call|> after the arguments of ${m[1]}, found ${JSON.stringify(rest.slice(next, next + 40))}`, 'gpt-oss', rest);
    }
  }
  const final = /<\|channel\|>final<\|message\|>([\s\S]*?)(?:<\|end\|>|<\|return\|>|$)/.exec(text);
  let content: string;
  if (final) content = final[1]!;
  else if (calls.length > 0 || text.includes('<|channel|>')) content = '';
  else content = text;
  return { content: content.trim(), calls };
}

function parseGeneric(text: string, names: ReadonlySet<string>): ParsedReply {
  const { value, end } = readJson('generic', text, 0, 'the reply');
  const rest = text.slice(end).trim();
  if (rest) throw new ToolCallError(`unexpected text after the JSON reply: ${JSON.stringify(rest.slice(0, 40))}`, 'generic', rest);
  if (!isObject(value)) throw new ToolCallError(`the reply is not a JSON object: ${JSON.stringify(value)}`, 'generic', text);
  if ('tool_call' in value) return { content: '', calls: [callOf('generic', value.tool_call, names, 'arguments')] };
  if ('tool_calls' in value) {
    if (!Array.isArray(value.tool_calls)) throw new ToolCallError('"tool_calls" is not a list', 'generic', text);
    return { content: '', calls: value.tool_calls.map((c) => callOf('generic', c, names, 'arguments')) };
  }
  if (typeof value.response === 'string') return { content: value.response, calls: [] };
  if ('response' in value) return { content: JSON.stringify(value.response), calls: [] };
  throw new ToolCallError(`the reply has neither "tool_call", "tool_calls" nor "response": ${JSON.stringify(value).slice(0, 200)}`, 'generic', text);
}

const PARSERS: Record<ToolFormat, (text: string, names: ReadonlySet<string>) => ParsedReply> = {
  hermes: parseHermes,
  llama3: parseLlama3,
  mistral: parseMistral,
  'mistral-args': parseMistralArgs,
  'gpt-oss': parseGptOss,
  generic: parseGeneric,
};

/** The calls (and the remaining text) in a reply written in `format`, for the functions named `names`. */
export function parseToolCalls(format: ToolFormat, text: string, names: Iterable<string>): ParsedReply {
  return PARSERS[format](text, new Set(names));
}
