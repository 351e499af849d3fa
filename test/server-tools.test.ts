// run-gguf serve's structured output through the official openai client, on
// random-weight models: tools forced with tool_choice come back as OpenAI
// tool_calls (streamed as delta.tool_calls) whose arguments parse and
// validate against the tool's schema; a follow-up request carrying the
// assistant's tool_calls and the tool's result is accepted and its prompt is
// the template's own rendering of those messages; response_format
// json_schema / json_object replies parse with JSON.parse and validate. One
// model carries Qwen 2.5's template (Hermes-style calls), one a template
// without tool support (the generic JSON format).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Template } from '@huggingface/jinja';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { templateTokens } from '../runtime/chat/index.js';
import { loadModel, type Model } from '../runtime/index.js';
import { createServer, type RunGgufServer } from '../runtime/server/index.js';
import { validate } from './helpers/json-schema-validate.js';
import { TOOL_TEMPLATES } from './helpers/tool-templates.js';

const WEATHER = {
  type: 'object',
  properties: { city: { type: 'string', maxLength: 10 }, days: { type: 'integer', minimum: 1, maximum: 7 }, unit: { enum: ['c', 'f'] } },
  required: ['city', 'days', 'unit'],
  additionalProperties: false,
};
const TIME = { type: 'object', properties: { zone: { type: 'string', maxLength: 6 } }, required: ['zone'] };
const TOOLS: OpenAI.Chat.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather forecast', parameters: WEATHER } },
  { type: 'function', function: { name: 'get_time', description: 'The time in a zone', parameters: TIME } },
];
const schemaOf = (name: string) => (name === 'get_weather' ? WEATHER : TIME);

const tmp = mkdtempSync(join(tmpdir(), 'server-tools-'));
const open: { server: RunGgufServer; model: Model }[] = [];

async function serve(source: string): Promise<{ client: OpenAI; model: Model; server: RunGgufServer }> {
  const path = join(tmp, `${open.length}.gguf`);
  await writeGGUF(path, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q8_0, { seed: 11, extraKV: [{ key: 'tokenizer.chat_template', value: source }] }));
  const model = await loadModel(path);
  const server = await createServer(model, { slots: 2, contextSize: 2 * 2048, threads: 1 });
  open.push({ server, model });
  const { url } = await server.listen(0);
  return { client: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 }), model, server };
}

test.after(async () => {
  for (const o of open) {
    await o.server.close();
    o.model.dispose();
  }
  rmSync(tmp, { recursive: true, force: true });
});

const qwen = TOOL_TEMPLATES.find((t) => t.format === 'hermes')!;
const generic = TOOL_TEMPLATES.find((t) => t.format === 'generic')!;
let hermesServer: Awaited<ReturnType<typeof serve>>;
let genericServer: Awaited<ReturnType<typeof serve>>;

test.before(async () => {
  hermesServer = await serve(qwen.source);
  genericServer = await serve(generic.source);
});

function checkCalls(calls: { function: { name: string; arguments: string } }[] | undefined, only?: string): void {
  assert.ok(calls && calls.length === 1, `one call: ${JSON.stringify(calls)}`);
  const c = calls![0]!;
  if (only) assert.is(c.function.name, only);
  const args = JSON.parse(c.function.arguments) as unknown;
  assert.is(validate(schemaOf(c.function.name), args), '', `${c.function.name}(${c.function.arguments}) validates`);
}

for (const [label, get] of [['Qwen 2.5 template (hermes)', () => hermesServer], ['a template without tools (generic)', () => genericServer]] as const) {
  test(`${label}: tool_choice naming a function returns tool_calls whose arguments validate; finish_reason tool_calls`, async () => {
    const { client } = get();
    for (const seed of [1, 2]) {
      const r = await client.chat.completions.create({
        model: 'm', messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: TOOLS,
        tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 200, temperature: 1, seed,
      });
      const choice = r.choices[0]!;
      assert.is(choice.finish_reason, 'tool_calls');
      checkCalls(choice.message.tool_calls as never, 'get_weather');
      assert.match(choice.message.tool_calls![0]!.id, /^[a-zA-Z0-9]{9}$/);
    }
  });

  test(`${label}: streamed, the call arrives as delta.tool_calls and validates; tool_choice required picks one of the tools`, async () => {
    const { client } = get();
    const stream = await client.chat.completions.create({
      model: 'm', messages: [{ role: 'user', content: 'Anything' }], tools: TOOLS, tool_choice: 'required', max_tokens: 200, temperature: 1, seed: 3, stream: true,
    });
    const calls: { id?: string; function: { name: string; arguments: string } }[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (!c) continue;
      for (const d of c.delta.tool_calls ?? []) {
        calls[d.index] ??= { id: d.id, function: { name: '', arguments: '' } };
        calls[d.index]!.function.name += d.function?.name ?? '';
        calls[d.index]!.function.arguments += d.function?.arguments ?? '';
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.is(finish, 'tool_calls');
    checkCalls(calls);
  });
}

test('Qwen 2.5 template: a follow-up with the tool_calls and the tool result is accepted; its prompt is the template rendering those messages', async () => {
  const { client, model } = hermesServer;
  const first = await client.chat.completions.create({
    model: 'm', messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: TOOLS,
    tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 200, temperature: 1, seed: 4,
  });
  const call = first.choices[0]!.message.tool_calls![0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
    { role: 'user', content: 'Weather in Oslo?' },
    { role: 'assistant', content: null, tool_calls: [call] },
    { role: 'tool', tool_call_id: call.id, content: '{"temperature": 3}' },
  ];
  const second = await client.chat.completions.create({ model: 'm', messages, tools: TOOLS, tool_choice: 'none', max_tokens: 8, temperature: 0 });
  assert.is(second.choices[0]!.message.tool_calls, undefined);
  assert.type(second.choices[0]!.message.content, 'string');
  assert.not.equal(second.choices[0]!.finish_reason, 'tool_calls');
  // tool_choice none: no tools rendered; the call with its arguments as an object, the result as the tool message
  const { bosToken, eosToken } = templateTokens(model.tokenizer);
  const text = new Template(qwen.source).render({
    messages: [
      { role: 'user', content: 'Weather in Oslo?' },
      { role: 'assistant', content: '', tool_calls: [{ id: call.id, type: 'function', function: { name: 'get_weather', arguments: JSON.parse(call.function.arguments) } }] },
      { role: 'tool', tool_call_id: call.id, name: 'get_weather', content: '{"temperature": 3}' },
    ],
    add_generation_prompt: true, bos_token: bosToken, eos_token: eosToken,
  });
  assert.is(second.usage!.prompt_tokens, model.tokenizer.tokenize(text, { addSpecial: true, special: true }).length);
});

test("tool_choice auto, a reply without a call: content streams as text and equals the unstreamed reply's", async () => {
  const { client } = hermesServer;
  const body = { model: 'm', messages: [{ role: 'user' as const, content: 'Hello' }], tools: TOOLS, max_tokens: 16, temperature: 0.8, seed: 8 };
  const whole = await client.chat.completions.create(body);
  assert.is(whole.choices[0]!.message.tool_calls, undefined);
  assert.is(whole.choices[0]!.finish_reason, 'length');
  const stream = await client.chat.completions.create({ ...body, stream: true });
  let text = '';
  let pieces = 0;
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta;
    if (d?.content) {
      text += d.content;
      pieces++;
    }
    assert.is(d?.tool_calls, undefined);
  }
  assert.ok(pieces > 1, 'streamed in pieces');
  assert.is(text, whole.choices[0]!.message.content);
});

const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, maxItems: 3 },
  },
  required: ['name', 'age', 'tags'],
  additionalProperties: false,
};

test('response_format json_schema (strict and not) and json_object: replies parse with JSON.parse and validate, streamed or not', async () => {
  const { client } = hermesServer;
  for (const [strict, seed] of [[true, 1], [false, 2]] as const) {
    const r = await client.chat.completions.create({
      model: 'm', messages: [{ role: 'user', content: 'A person' }], max_tokens: 300, temperature: 1, seed,
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema: PERSON, strict } },
    });
    assert.is(r.choices[0]!.finish_reason, 'stop');
    assert.is(validate(PERSON, JSON.parse(r.choices[0]!.message.content!)), '', r.choices[0]!.message.content!);
  }
  const stream = await client.chat.completions.create({
    model: 'm', messages: [{ role: 'user', content: 'A person' }], max_tokens: 300, temperature: 1, seed: 5, stream: true,
    response_format: { type: 'json_schema', json_schema: { name: 'person', schema: PERSON } },
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  assert.is(validate(PERSON, JSON.parse(text)), '', text);
  const obj = await client.chat.completions.create({
    model: 'm', messages: [{ role: 'user', content: 'JSON please' }], max_tokens: 400, temperature: 0.7, seed: 6, response_format: { type: 'json_object' },
  });
  if (obj.choices[0]!.finish_reason === 'stop') {
    const v = JSON.parse(obj.choices[0]!.message.content!) as unknown;
    assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), obj.choices[0]!.message.content!);
  } else {
    // cut at max_tokens inside an open-ended object: still a prefix the grammar allowed
    assert.is(obj.choices[0]!.message.content![0], '{');
  }
});

test.run();
