// Tool calls (runtime/chat/tools) for each template family, with the
// families' published templates:
// - the prompt with tools and with earlier calls and results equals the
//   template's own rendering by @huggingface/jinja of the same OpenAI-shaped
//   inputs (the way HF transformers and llama.cpp hand them over);
// - calls are read from hand-written replies in each format (several calls,
//   text around them), and malformed ones are refused with ToolCallError;
// - on a random-weight model carrying each template, a forced call's
//   arguments validate against the function's schema, the handler runs, its
//   result joins the conversation and the next generation answers in text;
//   the KV cache then holds exactly the template's rendering of that
//   conversation (the call as the model made it, the handler's result);
// - a lazy grammar leaves the reply free until its trigger, then constrains it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { ChatSession, JinjaChatTemplate, resolveChatTemplate, templateTokens, type ChatMessage } from '../runtime/chat/index.js';
import {
  callGrammar, detectToolFormat, LazyGrammar, parseToolCalls, planToolTurn, type ChatFunction, type ToolFormat,
} from '../runtime/chat/tools/index.js';
import { ToolCallError } from '../runtime/errors.js';
import { loadModel, type Model } from '../runtime/index.js';
import { createGrammarConstraint } from '../runtime/sample/index.js';
import { validate } from './helpers/json-schema-validate.js';
import { TOOL_TEMPLATES, type ToolTemplate } from './helpers/tool-templates.js';

const WEATHER_SCHEMA = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 10 },
    days: { type: 'integer', minimum: 1, maximum: 7 },
    unit: { enum: ['c', 'f'] },
  },
  required: ['city', 'days', 'unit'],
  additionalProperties: false,
};
const TIME_SCHEMA = { type: 'object', properties: { zone: { type: 'string', maxLength: 6 } }, required: ['zone'] };

const TOOLS_OAI = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather forecast for a city', parameters: WEATHER_SCHEMA } },
  { type: 'function', function: { name: 'get_time', description: 'The time in a zone', parameters: TIME_SCHEMA } },
];

function functions(calls: { name: string; args: Record<string, unknown> }[] = []): Record<string, ChatFunction> {
  return {
    get_weather: {
      description: 'Weather forecast for a city', parameters: WEATHER_SCHEMA,
      handler: (args) => {
        calls.push({ name: 'get_weather', args });
        return { temperature: 21, sky: 'clear' };
      },
    },
    get_time: {
      description: 'The time in a zone', parameters: TIME_SCHEMA,
      handler: (args) => {
        calls.push({ name: 'get_time', args });
        return '12:00';
      },
    },
  };
}

const tokens = (t: ToolTemplate) => ({ bosToken: t.bos, eosToken: t.eos });

// ---------------------------------------------------------------- detection

test('each family is detected from its template text', () => {
  for (const t of TOOL_TEMPLATES) {
    assert.is(detectToolFormat(new JinjaChatTemplate(t.source, tokens(t))), t.format, t.model);
  }
});

// ---------------------------------------------------------------- rendering

test('the prompt with tools, a call and its result equals the template rendering the same OpenAI-shaped inputs itself', () => {
  const call = { id: 'abc123XYZ', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris', days: 2, unit: 'c' } } };
  const conversation: ChatMessage[] = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: '', tool_calls: [call as never] },
    { role: 'tool', tool_call_id: 'abc123XYZ', name: 'get_weather', content: '{"temperature": 21}' },
  ];
  for (const t of TOOL_TEMPLATES.filter((x) => x.format !== 'generic')) {
    const template = new JinjaChatTemplate(t.source, tokens(t));
    const plan = planToolTurn(template, functions(), 'auto');
    const ours = template.render(plan.messages(conversation), { tools: plan.tools });
    // the same inputs written out by hand, as transformers' apply_chat_template passes them
    const expected = new Template(t.source).render({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'abc123XYZ', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris', days: 2, unit: 'c' } } }] },
        { role: 'tool', tool_call_id: 'abc123XYZ', name: 'get_weather', content: '{"temperature": 21}' },
      ],
      tools: TOOLS_OAI,
      add_generation_prompt: true, bos_token: t.bos, eos_token: t.eos,
    });
    assert.is(ours, expected, t.model);
    assert.ok(ours.includes('get_time') && ours.includes('Weather forecast for a city'), `${t.model}: the tool list is in the prompt`);
    assert.ok(ours.includes('temperature'), `${t.model}: the result is in the prompt`);
  }
});

test("a template without tool support: the generic format's instructions in the system message, calls and results as JSON messages", () => {
  const t = TOOL_TEMPLATES.find((x) => x.format === 'generic')!;
  const template = new JinjaChatTemplate(t.source, tokens(t));
  const plan = planToolTurn(template, functions(), 'auto');
  const msgs = plan.messages([
    { role: 'user', content: 'Weather?' },
    { role: 'assistant', content: '', tool_calls: [{ id: 'abc123XYZ', type: 'function', function: { name: 'get_weather', arguments: { city: 'Oslo', days: 1, unit: 'c' } } }] },
    { role: 'tool', tool_call_id: 'abc123XYZ', name: 'get_weather', content: 'sunny' },
  ]);
  assert.is(msgs[0]!.role, 'system');
  assert.ok(msgs[0]!.content.includes('"get_weather"') && msgs[0]!.content.includes('"tool_call"'));
  assert.equal(JSON.parse(msgs[2]!.content), { tool_call: { name: 'get_weather', arguments: { city: 'Oslo', days: 1, unit: 'c' } } });
  assert.is(msgs[3]!.role, 'user');
  assert.equal(JSON.parse(msgs[3]!.content).tool_response.content, 'sunny');
  const text = template.render(msgs);
  assert.is(text, new Template(t.source).render({ messages: msgs, add_generation_prompt: true, bos_token: t.bos, eos_token: t.eos }));
});

// ---------------------------------------------------------------- parsing

const NAMES = ['get_weather', 'get_time'];
const W = { city: 'Paris', days: 2, unit: 'c' };

const GOOD: [ToolFormat, string, { content: string; calls: [string, unknown][] }][] = [
  ['hermes', '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "unit": "c"}}\n</tool_call>', { content: '', calls: [['get_weather', W]] }],
  ['hermes', 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "unit": "c"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n</tool_call>', { content: 'Let me check.', calls: [['get_weather', W], ['get_time', { zone: 'CET' }]] }],
  ['hermes', 'It is sunny.', { content: 'It is sunny.', calls: [] }],
  ['llama3', '{"name": "get_weather", "parameters": {"city": "Paris", "days": 2, "unit": "c"}}', { content: '', calls: [['get_weather', W]] }],
  ['llama3', '<|python_tag|>{"name": "get_time", "parameters": {"zone": "CET"}}; {"name": "get_weather", "parameters": {"city": "Paris", "days": 2, "unit": "c"}}', { content: '', calls: [['get_time', { zone: 'CET' }], ['get_weather', W]] }],
  ['llama3', 'The weather is fine.', { content: 'The weather is fine.', calls: [] }],
  ['llama3', 'Checking. {"name": "get_time", "parameters": {"zone": "CET"}}', { content: 'Checking.', calls: [['get_time', { zone: 'CET' }]] }],
  ['mistral', '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "unit": "c"}, "id": "abc123XYZ"}, {"name": "get_time", "arguments": {"zone": "CET"}}]', { content: '', calls: [['get_weather', W], ['get_time', { zone: 'CET' }]] }],
  ['mistral', 'No call here.', { content: 'No call here.', calls: [] }],
  ['mistral-args', '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "days": 2, "unit": "c"}[TOOL_CALLS]get_time[ARGS]{"zone": "CET"}', { content: '', calls: [['get_weather', W], ['get_time', { zone: 'CET' }]] }],
  ['mistral-args', 'Checking.[TOOL_CALLS]get_time[CALL_ID]abc123XYZ[ARGS]{"zone": "CET"}', { content: 'Checking.', calls: [['get_time', { zone: 'CET' }]] }],
  ['gpt-oss', '<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris", "days": 2, "unit": "c"}<|call|>', { content: '', calls: [['get_weather', W]] }],
  ['gpt-oss', '<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant<|channel|>final<|message|>It is noon.', { content: 'It is noon.', calls: [] }],
  ['generic', '{"tool_call": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "unit": "c"}}}', { content: '', calls: [['get_weather', W]] }],
  ['generic', '{"tool_calls": [{"name": "get_time", "arguments": {"zone": "CET"}}, {"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "unit": "c"}}]}', { content: '', calls: [['get_time', { zone: 'CET' }], ['get_weather', W]] }],
  ['generic', '{"response": "Hello!"}', { content: 'Hello!', calls: [] }],
];

test('calls read from replies in each format: one, several, text around them, none', () => {
  for (const [format, text, want] of GOOD) {
    const r = parseToolCalls(format, text, NAMES);
    assert.is(r.content, want.content, `${format}: ${text}`);
    assert.equal(r.calls.map((c) => [c.name, c.arguments]), want.calls, `${format}: ${text}`);
  }
});

const BAD: [ToolFormat, string, RegExp][] = [
  ['hermes', '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par', /not complete JSON/],
  ['hermes', '<tool_call>{"name": "get_wether", "arguments": {}}</tool_call>', /"get_wether", which is not one of the functions offered/],
  ['hermes', '<tool_call>{"name": "get_time", "arguments": [1]}</tool_call>', /not a JSON object/],
  ['hermes', '<tool_call>{"name": "get_time", "arguments": {}} trailing</tool_call>', /expected <\/tool_call>/],
  ['hermes', '<tool_call>{"arguments": {}}</tool_call>', /no string "name"/],
  ['llama3', '{"name": "get_time", "parameters": {"zone": "CET"}} and more', /unexpected text after the call/],
  ['llama3', '<|python_tag|>{"name": "get_time", "parameters": {zone: CET}}', /not valid JSON/],
  ['mistral', '[TOOL_CALLS][{"name": "get_time", "arguments": {"zone": "CET"}}', /not complete JSON/],
  ['mistral-args', '[TOOL_CALLS]get_time{"zone": "CET"}', /without \[ARGS\]/],
  ['mistral-args', '[TOOL_CALLS]get_time[ARGS]"CET"', /not a JSON object/],
  ['gpt-oss', '<|channel|>commentary to=functions.get_time <|constrain|>json', /has no <\|message\|>/],
  ['gpt-oss', '<|channel|>commentary to=functions.launch <|constrain|>json<|message|>{}', /"launch", which is not one of the functions offered/],
  ['generic', '{"tool_call": {"name": "get_time", "arguments": {"zone": "CET"}}', /not complete JSON/],
  ['generic', '{"answer": 1}', /neither "tool_call", "tool_calls" nor "response"/],
  ['generic', 'plain text', /not complete JSON/],
];

test('malformed calls are refused with a ToolCallError naming the format and the problem', () => {
  for (const [format, text, re] of BAD) {
    let err: unknown;
    try {
      parseToolCalls(format, text, NAMES);
    } catch (e) {
      err = e;
    }
    assert.instance(err, ToolCallError, `${format}: ${text}`);
    assert.match((err as Error).message, re, `${format}: ${text}`);
    assert.match((err as Error).message, new RegExp(`^${format} tool call: `));
    assert.is((err as ToolCallError).format, format);
  }
});

test('every call grammar accepts the call written in its format and refuses one whose arguments break the schema', () => {
  const good: Record<ToolFormat, string> = {
    hermes: '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "unit": "c"}}\n</tool_call>',
    llama3: '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris", "days": 2, "unit": "c"}}',
    mistral: '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "unit": "c"}, "id": "abc123XYZ"}]',
    'mistral-args': '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "days": 2, "unit": "c"}',
    'gpt-oss': '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris", "days": 2, "unit": "c"}',
    generic: '{"tool_call": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "unit": "c"}}}',
  };
  const tool = [{ name: 'get_weather', parameters: WEATHER_SCHEMA }];
  // a grammar over characters needs no vocabulary: a matcher run over the text's code points
  for (const [format, text] of Object.entries(good) as [ToolFormat, string][]) {
    const g = callGrammar(format, tool, { lazy: false, parallel: false });
    assert.ok(accepts(g.gbnf, text), `${format} accepts its call`);
    assert.not.ok(accepts(g.gbnf, text.replace('"days": 2', '"days": 9')), `${format} refuses days 9 (maximum 7)`);
    assert.not.ok(accepts(g.gbnf, text.replace('get_weather', 'get_wether')), `${format} refuses another name`);
    assert.equal(parseToolCalls(format, text, ['get_weather']).calls[0]!.arguments, W, `${format}: what the grammar allows, the parser reads`);
  }
});

function accepts(gbnf: string, text: string): boolean {
  const c = createGrammarConstraint(gbnf, tinyModel().tokenizer);
  try {
    c.acceptText(text);
  } catch {
    return false;
  }
  return c.canEnd;
}

// ---------------------------------------------------------------- random-weight models

const tmp = mkdtempSync(join(tmpdir(), 'tools-'));
const models = new Map<string, Model>();
test.after(() => {
  for (const m of models.values()) m.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

let plain: Model | undefined;
function tinyModel(): Model {
  if (!plain) throw new Error('the tiny model loads first');
  return plain;
}

async function modelWith(t: ToolTemplate): Promise<Model> {
  let m = models.get(t.model);
  if (m) return m;
  const path = join(tmp, `${models.size}.gguf`);
  await writeGGUF(path, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q8_0, { seed: 5, extraKV: [{ key: 'tokenizer.chat_template', value: t.source }] }));
  m = await loadModel(path);
  models.set(t.model, m);
  return m;
}

test.before(async () => {
  plain = await modelWith(TOOL_TEMPLATES[0]!);
});

/** bos_token and eos_token as the model's vocabulary spells them. */
function modelTokens(m: Model): { bos_token: string; eos_token: string } {
  const { bosToken, eosToken } = templateTokens(m.tokenizer);
  return { bos_token: bosToken, eos_token: eosToken };
}

/** The prompt text as ChatSession tokenizes it (BOS text removed when the tokenizer adds BOS). */
function promptTokens(m: Model, text: string): number[] {
  const tok = m.tokenizer;
  const bos = tok.bosId === undefined ? '' : tok.tokenToPiece(tok.bosId, { special: true });
  if (tok.addBos && bos && text.startsWith(bos)) text = text.slice(bos.length);
  return tok.tokenize(text, { addSpecial: true, special: true });
}

for (const t of TOOL_TEMPLATES) {
  test(`${t.model} (${t.format}), random weights: a forced call validates, the handler's result goes back, the next generation answers in text; the cache holds the template's rendering`, async () => {
    const m = await modelWith(t);
    const template = resolveChatTemplate({ get: (k) => m.gguf.metadata.get(k), tokenizer: m.tokenizer });
    assert.is(template.kind, 'jinja');
    const ctx = m.createContext({ contextSize: 4096, threads: 1 });
    try {
      const calls: { name: string; args: Record<string, unknown> }[] = [];
      const s = new ChatSession(m, ctx, { template, functions: functions(calls), system: 'Be brief.', temp: 0.8, seed: 7, maxTokens: 160 });
      const seen: string[] = [];
      const r = await s.reply('Weather in Paris?', { toolChoice: { type: 'function', function: { name: 'get_weather' } }, maxToolRounds: 1, onToolCall: (c) => seen.push(c.name) });
      assert.is(calls.length, 1, 'the handler ran once');
      assert.is(calls[0]!.name, 'get_weather');
      assert.is(validate(WEATHER_SCHEMA, calls[0]!.args), '', `arguments ${JSON.stringify(calls[0]!.args)} validate`);
      assert.equal(seen, ['get_weather']);
      assert.equal(r.toolCalls.map((c) => c.result), ['{"temperature":21,"sky":"clear"}']);
      const msgs = s.messages;
      assert.equal(msgs.map((x) => x.role), ['system', 'user', 'assistant', 'tool', 'assistant']);
      const call = msgs[2]!.tool_calls![0]!;
      assert.match(call.id, /^[a-zA-Z0-9]{9}$/);
      assert.equal(call.function.arguments, calls[0]!.args);
      assert.is(msgs[3]!.tool_call_id, call.id);
      assert.is(msgs[3]!.content, '{"temperature":21,"sky":"clear"}');
      assert.is(msgs[4]!.tool_calls, undefined, 'the last generation (tool choice none) is text');
      assert.is(r.text, msgs[4]!.content);
      if (t.format === 'generic') return;
      // the second generation's prompt: the template's own rendering of the conversation in OpenAI's shape
      const expected = new Template(t.source).render({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: msgs[2]!.content, tool_calls: [{ id: call.id, type: 'function', function: { name: 'get_weather', arguments: calls[0]!.args } }] },
          { role: 'tool', tool_call_id: call.id, name: 'get_weather', content: '{"temperature":21,"sky":"clear"}' },
        ],
        add_generation_prompt: true, ...modelTokens(m),
      });
      const ids = promptTokens(m, expected);
      assert.equal(s.cachedTokens.slice(0, ids.length), ids, 'the cache starts with the rendering of the conversation without tools (choice none)');
    } finally {
      ctx.dispose();
    }
  });
}

test("toolChoice 'required' over two functions calls one of them with arguments valid for that one", async () => {
  const t = TOOL_TEMPLATES.find((x) => x.format === 'hermes')!;
  const m = await modelWith(t);
  const template = resolveChatTemplate({ get: (k) => m.gguf.metadata.get(k), tokenizer: m.tokenizer });
  const ctx = m.createContext({ contextSize: 4096, threads: 1 });
  try {
    for (const seed of [1, 2, 3]) {
      const calls: { name: string; args: Record<string, unknown> }[] = [];
      const s = new ChatSession(m, ctx, { template, functions: functions(calls), toolChoice: 'required', temp: 1, seed, maxTokens: 160 });
      await s.reply('Anything?', { maxToolRounds: 1 });
      assert.is(calls.length, 1);
      assert.is(validate(calls[0]!.name === 'get_weather' ? WEATHER_SCHEMA : TIME_SCHEMA, calls[0]!.args), '', JSON.stringify(calls[0]));
      s.reset();
    }
  } finally {
    ctx.dispose();
  }
});

test("toolChoice 'auto' on a reply without a call: the text streams as it comes and is the assistant's message", async () => {
  const t = TOOL_TEMPLATES.find((x) => x.format === 'hermes')!;
  const m = await modelWith(t);
  const template = resolveChatTemplate({ get: (k) => m.gguf.metadata.get(k), tokenizer: m.tokenizer });
  const ctx = m.createContext({ contextSize: 4096, threads: 1 });
  try {
    const calls: { name: string; args: Record<string, unknown> }[] = [];
    const s = new ChatSession(m, ctx, { template, functions: functions(calls), temp: 0.8, seed: 9, maxTokens: 24 });
    const pieces: string[] = [];
    const r = await s.reply('Hello', { onText: (p) => pieces.push(p) });
    assert.is(calls.length, 0);
    assert.ok(pieces.length > 1, 'streamed in pieces');
    assert.is(pieces.join(''), r.text);
    assert.equal(s.messages.at(-1), { role: 'assistant', content: r.text });
    // the prompt rendered the tools
    const text = new Template(t.source).render({ messages: [{ role: 'user', content: 'Hello' }], tools: TOOLS_OAI, add_generation_prompt: true, ...modelTokens(m) });
    const ids = promptTokens(m, text);
    assert.equal(s.cachedTokens.slice(0, ids.length), ids);
  } finally {
    ctx.dispose();
  }
});

test("toolChoice 'none': no tools in the prompt and the reply is not read for calls", async () => {
  const t = TOOL_TEMPLATES.find((x) => x.format === 'hermes')!;
  const m = await modelWith(t);
  const template = resolveChatTemplate({ get: (k) => m.gguf.metadata.get(k), tokenizer: m.tokenizer });
  const ctx = m.createContext({ contextSize: 4096, threads: 1 });
  try {
    const calls: { name: string; args: Record<string, unknown> }[] = [];
    const s = new ChatSession(m, ctx, { template, functions: functions(calls), toolChoice: 'none', temp: 0, maxTokens: 8 });
    const r = await s.reply('Hi');
    assert.is(calls.length, 0);
    assert.equal(r.toolCalls, []);
    const text = new Template(t.source).render({ messages: [{ role: 'user', content: 'Hi' }], add_generation_prompt: true, ...modelTokens(m) });
    const ids = promptTokens(m, text);
    assert.equal(s.cachedTokens.slice(0, ids.length), ids);
  } finally {
    ctx.dispose();
  }
});

test('a lazy grammar leaves the text free until the trigger, then only the call fits', () => {
  const m = tinyModel();
  const tok = m.tokenizer;
  const g = callGrammar('hermes', [{ name: 'get_time', parameters: TIME_SCHEMA }], { lazy: true, parallel: false });
  assert.equal(g.triggers, ['<tool_call>']);
  const lazy = new LazyGrammar(g.gbnf, tok, g.triggers!);
  const feed = (text: string) => {
    for (const id of tok.tokenize(text, { addSpecial: false })) {
      assert.ok(lazy.allows(id), `allowed: ${JSON.stringify(tok.tokenToPiece(id))}`);
      lazy.accept(id);
    }
  };
  const piece = (p: string) => {
    for (let id = 0; id < tok.vocabSize; id++) if (tok.tokenToPiece(id, { special: true }) === p) return id;
    throw new Error(`no token ${p}`);
  };
  const x = piece('x');
  feed('Let me look that up. ');
  assert.not.ok(lazy.triggered);
  assert.ok(lazy.allows(x), 'free text before the trigger');
  feed('<tool_call>{"name":');
  assert.ok(lazy.triggered);
  assert.not.ok(lazy.allows(x), 'after the trigger only the call fits');
  assert.ok(lazy.allows(piece('"')));
  // (the tokenizer's dummy prefix gives this text its leading space)
  feed('"get_time", "arguments": {"zone": "CET"}}</tool_call>');
  assert.ok(lazy.finished, 'the call is complete: the reply ends');
});

// A vocabulary that holds the families' markers as control tokens (as the real
// ones do): the output text leaves them out, so the grammar must name them as tokens.
const MARKERS = ['[TOOL_CALLS]', '[ARGS]', '<|python_tag|>', '<|channel|>', '<|constrain|>', '<|message|>'];
let marked: Model | undefined;
async function markedModel(source: string): Promise<Model> {
  marked?.dispose();
  const spec = llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q8_0, { seed: 5, extraKV: [{ key: 'tokenizer.chat_template', value: source }] });
  const tokens = [...(spec.kv.find((k) => k.key === 'tokenizer.ggml.tokens')!.value as string[])];
  const types = Int32Array.from(spec.kv.find((k) => k.key === 'tokenizer.ggml.token_type')!.value as Int32Array);
  MARKERS.forEach((m, i) => {
    tokens[tokens.length - 1 - i] = m;
    types[types.length - 1 - i] = 3; // CONTROL
  });
  const kv = spec.kv.map((k) => (k.key === 'tokenizer.ggml.tokens' ? { ...k, value: tokens } : k.key === 'tokenizer.ggml.token_type' ? { ...k, value: types } : k));
  const path = join(tmp, 'marked.gguf');
  await writeGGUF(path, { ...spec, kv });
  marked = await loadModel(path);
  return marked;
}
test.after(() => marked?.dispose());

for (const format of ['mistral', 'gpt-oss'] as const) {
  test(`${format}: markers that are control tokens are forced as those tokens, and the call reads back`, async () => {
    const t = TOOL_TEMPLATES.find((x) => x.format === format)!;
    const m = await markedModel(t.source);
    const tok = m.tokenizer;
    const marker = format === 'mistral' ? '[TOOL_CALLS]' : '<|channel|>';
    const id = tok.tokenize(marker, { addSpecial: false, special: true });
    assert.is(id.length, 1);
    // llama.cpp shows gpt-oss's <|channel|> <|message|> <|constrain|> in the output (user-defined): then the text is the grammar's
    const hidden = tok.tokenToPiece(id[0]!, { special: false }) === '';
    assert.is(hidden, format === 'mistral', 'which markers the output hides');
    const template = resolveChatTemplate({ get: (k) => m.gguf.metadata.get(k), tokenizer: tok });
    const ctx = m.createContext({ contextSize: 4096, threads: 1 });
    try {
      const calls: { name: string; args: Record<string, unknown> }[] = [];
      const s = new ChatSession(m, ctx, { template, functions: functions(calls), system: 'Be brief.', temp: 0.8, seed: 3, maxTokens: 160 });
      await s.reply('Weather?', { toolChoice: { type: 'function', function: { name: 'get_weather' } }, maxToolRounds: 1 });
      assert.is(calls.length, 1);
      assert.is(validate(WEATHER_SCHEMA, calls[0]!.args), '');
      const plan = planToolTurn(template, functions(), { type: 'function', function: { name: 'get_weather' } }, false, tok);
      assert.is(plan.grammar!.gbnf.includes(`<[${id[0]}]>`), hidden, 'the grammar names the token where the text alone would be refused');
      if (hidden) assert.ok(s.messages[2]!.tool_calls, 'the call was read from the reply holding the control token');
    } finally {
      ctx.dispose();
    }
  });
}

test('a lazy grammar triggered by a control token: fed the tokens from the trigger on, then only the call fits', async () => {
  const m = await markedModel(TOOL_TEMPLATES.find((x) => x.format === 'mistral')!.source);
  const tok = m.tokenizer;
  const template = resolveChatTemplate({ get: (k) => m.gguf.metadata.get(k), tokenizer: tok });
  const plan = planToolTurn(template, functions(), 'auto', false, tok);
  const g = plan.grammar!;
  const lazy = new LazyGrammar(g.gbnf, tok, g.triggers!);
  for (const id of tok.tokenize('Sure', { addSpecial: false })) lazy.accept(id);
  assert.not.ok(lazy.triggered);
  lazy.accept(tok.tokenize('[TOOL_CALLS]', { addSpecial: false, special: true })[0]!);
  assert.ok(lazy.triggered);
  const piece = (p: string) => {
    for (let id = 0; id < tok.vocabSize; id++) if (tok.tokenToPiece(id, { special: true }) === p) return id;
    throw new Error(`no token ${p}`);
  };
  assert.ok(lazy.allows(piece('[')), 'the call list opens');
  assert.not.ok(lazy.allows(piece('x')));
});

test('bad tool choices are refused', () => {
  const template = new JinjaChatTemplate(TOOL_TEMPLATES[0]!.source, tokens(TOOL_TEMPLATES[0]!));
  assert.throws(() => planToolTurn(template, functions(), { type: 'function', function: { name: 'nope' } }), /names "nope", which is not one of the functions/);
  assert.throws(() => planToolTurn(template, {}, 'required'), /needs at least one function/);
  assert.throws(() => planToolTurn(template, functions(), 'always' as never), /toolChoice must be/);
});

test.run();
