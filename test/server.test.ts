// run-gguf serve through the official openai client (chat and completions,
// streaming and not, embeddings) and raw HTTP (errors, auth, disconnects),
// on random-weight models. Replies under greedy or seeded sampling must equal
// what the core API generates alone for the same prompt, also when 4 slots
// run at once and when more requests than slots queue.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { join } from 'node:path';
import OpenAI from 'openai';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { BERT_SHAPES, bertModelSpec } from '../formats/synthetic/bert.js';
import { resolveChatTemplate, tokenizeChat, type ChatMessage } from '../runtime/chat/index.js';
import { loadModel, type Context, type GenerateOptions, type Model } from '../runtime/index.js';
import { createServer as createServerFromMain } from '../runtime/api/index.js';
import { createServer, type RunGgufServer } from '../runtime/server/index.js';
import { writeTinyModel, type TinyModel } from './helpers/browser-model.js';
import { metrics, raw } from './helpers/server.js';

const SLOTS = 4;
const SLOT_CTX = 512;

let tiny: TinyModel;
let model: Model;
let server: RunGgufServer;
let base: string;
let client: OpenAI;
let ref: Context;

test.before(async () => {
  tiny = await writeTinyModel();
  model = await loadModel(tiny.path);
  server = await createServer(model, { slots: SLOTS, contextSize: SLOTS * SLOT_CTX, threads: 1, maxBodyBytes: 1 << 20 });
  base = (await server.listen(0)).url;
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  ref = model.createContext({ contextSize: SLOT_CTX, threads: 1 });
});

test.after(async () => {
  await server?.close();
  ref?.dispose();
  model?.dispose();
  tiny?.cleanup();
});

/** The core API's completion alone, on a fresh sequence. */
async function alone(prompt: string | number[], o: GenerateOptions): Promise<string> {
  ref.reset();
  let text = '';
  for await (const piece of ref.generate(prompt, o)) text += piece;
  return text;
}

/** Messages the openai client's types accept as they are. */
type PlainMessage = { role: 'system' | 'user' | 'assistant'; content: string };
const chatIds = (messages: ChatMessage[]) => tokenizeChat(model.tokenizer, server.template!, messages);

test('greedy completion equals the core API alone; usage counts the prompt and reply', async () => {
  const prompt = 'Once upon a time';
  const r = await client.completions.create({ model: 'tiny', prompt, max_tokens: 24, temperature: 0 });
  const expected = await alone(prompt, { maxTokens: 24, temp: 0 });
  assert.ok(expected.length > 0);
  assert.is(r.choices[0]!.text, expected);
  assert.is(r.choices[0]!.finish_reason, 'length');
  assert.is(r.usage!.prompt_tokens, model.tokenize(prompt, { addSpecial: true }).length);
  assert.is(r.usage!.completion_tokens, 24);
  assert.is(r.object, 'text_completion');
});

test('chat, streamed and not, equals the core API alone on the templated prompt; the usage chunk comes last', async () => {
  const messages: PlainMessage[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }];
  const expected = await alone(chatIds(messages), { maxTokens: 20, temp: 0 });
  const r = await client.chat.completions.create({ model: 'tiny', messages, max_completion_tokens: 20, temperature: 0 });
  assert.is(r.choices[0]!.message.content, expected);
  assert.is(r.choices[0]!.message.role, 'assistant');
  assert.is(r.usage!.prompt_tokens, chatIds(messages).length);

  const stream = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 20, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let pieces = 0;
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined | null;
  let afterUsage = 0;
  for await (const c of stream) {
    if (usage) afterUsage++;
    if (c.usage) {
      usage = c.usage;
      assert.is(c.choices.length, 0);
    }
    const ch = c.choices[0];
    if (ch?.delta?.content) {
      text += ch.delta.content;
      pieces++;
    }
    if (ch?.finish_reason) finish = ch.finish_reason;
  }
  assert.is(text, expected);
  assert.ok(pieces > 1, 'streamed in pieces');
  assert.is(finish, 'length');
  assert.is(usage?.completion_tokens, 20);
  assert.is(afterUsage, 0);
});

test('seeded sampling with penalties and filters equals the core sampler with the same settings', async () => {
  const prompt = 'The cat sat';
  const settings = { temperature: 0.9, top_p: 0.9, seed: 1234, presence_penalty: 0.5, frequency_penalty: 0.3 };
  const body = { prompt, max_tokens: 24, ...settings, top_k: 30, min_p: 0.02 };
  const a = await raw(`${base}/v1/completions`, { body: JSON.stringify(body) });
  assert.is(a.status, 200, a.text);
  const expected = await alone(prompt, { maxTokens: 24, temp: 0.9, top_p: 0.9, top_k: 30, min_p: 0.02, seed: 1234, penalty_present: 0.5, penalty_freq: 0.3 });
  assert.is(a.json().choices[0].text, expected);
  // a broken mapping would show: without the penalties the reply differs
  const plain = await alone(prompt, { maxTokens: 24, temp: 0.9, top_p: 0.9, top_k: 30, min_p: 0.02, seed: 1234 });
  assert.is.not(plain, expected, 'the penalties change this reply, so the test can tell');
  const b = await client.completions.create({ model: 'tiny', prompt, max_tokens: 24, ...settings, top_k: 30, min_p: 0.02 } as OpenAI.CompletionCreateParamsNonStreaming);
  assert.is(b.choices[0]!.text, expected);
});

test('stop strings end the reply before them; max_tokens 0 gives nothing', async () => {
  const prompt = 'Once upon a time';
  const full = await alone(prompt, { maxTokens: 32, temp: 0 });
  const stop = full.slice(6, 9);
  assert.ok(stop.length === 3);
  const cut = full.indexOf(stop);
  const r = await client.completions.create({ model: 'tiny', prompt, max_tokens: 32, temperature: 0, stop: [stop, 'never-there'] });
  assert.is(r.choices[0]!.text, full.slice(0, cut));
  assert.is(r.choices[0]!.finish_reason, 'stop');
  const s = await client.completions.create({ model: 'tiny', prompt, max_tokens: 32, temperature: 0, stop, stream: true });
  let text = '';
  for await (const c of s) text += c.choices[0]?.text ?? '';
  assert.is(text, full.slice(0, cut));
  const z = await client.completions.create({ model: 'tiny', prompt, max_tokens: 0, temperature: 0 });
  assert.is(z.choices[0]!.text, '');
  assert.is(z.usage!.completion_tokens, 0);
});

test('logprobs: the log-softmax of the logits the core API gives, top alternatives sorted', async () => {
  const messages: PlainMessage[] = [{ role: 'user', content: 'Hi' }];
  const ids = chatIds(messages);
  ref.reset();
  const logits = ref.evaluate(ids);
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const argmax = logits.indexOf(max);
  const r = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 3, temperature: 0, logprobs: true, top_logprobs: 3 });
  const lp = r.choices[0]!.logprobs!.content!;
  assert.is(lp.length, 3);
  assert.is(lp[0]!.token, model.tokenizer.tokenToPiece(argmax));
  assert.ok(Math.abs(lp[0]!.logprob - (max - max - Math.log(sum))) < 1e-5, `${lp[0]!.logprob}`);
  const top = lp[0]!.top_logprobs;
  assert.is(top.length, 3);
  assert.is(top[0]!.logprob, lp[0]!.logprob);
  assert.ok(top[0]!.logprob >= top[1]!.logprob && top[1]!.logprob >= top[2]!.logprob);
  // logit_bias -100 bans the greedy token: the second best is chosen, logprobs still the model's
  const biased = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 1, temperature: 0, logprobs: true, top_logprobs: 2, logit_bias: { [argmax]: -100 } });
  const b0 = biased.choices[0]!.logprobs!.content![0]!;
  assert.is(b0.top_logprobs[0]!.logprob, lp[0]!.logprob);
  assert.is(b0.token, top[1]!.token);
  assert.is(b0.logprob, top[1]!.logprob);
  const c = await client.completions.create({ model: 'tiny', prompt: 'Hi', max_tokens: 2, temperature: 0, logprobs: 2 });
  assert.is(c.choices[0]!.logprobs!.tokens!.length, 2);
  assert.is(Object.keys(c.choices[0]!.logprobs!.top_logprobs![0]!).length, 2);
});

test('4 streams at once and 2 more queued: every reply equals its prompt\'s alone', async () => {
  const prompts = ['Once upon a time', 'The dog ran', 'A small bird', 'In the morning', 'She said hello', 'Far away'];
  const expected: string[] = [];
  for (const p of prompts) expected.push(await alone([{ role: 'user', content: p }].map(() => chatIds([{ role: 'user', content: p }]))[0]!, { maxTokens: 16, temp: 0 }));
  let maxBusy = 0;
  let sawQueue = false;
  const poll = setInterval(() => {
    void metrics(base).then((m) => {
      maxBusy = Math.max(maxBusy, m.slots_busy ?? 0);
      if ((m.requests_queued ?? 0) > 0) sawQueue = true;
    }).catch(() => {});
  }, 5);
  const got = await Promise.all(prompts.map(async (p, i) => {
    const messages: PlainMessage[] = [{ role: 'user', content: p }];
    if (i % 2 === 1) {
      const r = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 16, temperature: 0 });
      return r.choices[0]!.message.content;
    }
    const s = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 16, temperature: 0, stream: true });
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    return text;
  }));
  clearInterval(poll);
  assert.equal(got, expected);
  assert.ok(new Set(expected).size > 1, 'the prompts give different replies');
  assert.is(maxBusy, SLOTS, 'every slot was busy at once');
  assert.ok(sawQueue, 'requests past the slots waited in the queue');
});

/** A streamed chat over raw HTTP; with leaveAfter, the client goes away after that many events. */
function streamChat(content: string, leaveAfter?: number): Promise<string | 'left'> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let buf = '';
      let events = 0;
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        events = buf.split('data: ').length - 1;
        if (leaveAfter !== undefined && events >= leaveAfter) {
          req.destroy();
          resolve('left');
        }
      });
      res.on('end', () => {
        let text = '';
        for (const ev of buf.split('\n\n')) {
          const data = ev.replace(/^data: /, '');
          if (!data || data === '[DONE]') continue;
          text += JSON.parse(data).choices[0]?.delta?.content ?? '';
        }
        resolve(text);
      });
    });
    req.on('error', (e) => (leaveAfter !== undefined ? undefined : reject(e)));
    req.end(JSON.stringify({ messages: [{ role: 'user', content }], max_tokens: leaveAfter !== undefined ? 200 : 12, temperature: 0, stream: true }));
  });
}

test('8 streaming clients on 4 slots, 2 leaving mid-way: the 6 others get their replies; memory flat over 3 rounds', async () => {
  const prompts = Array.from({ length: 8 }, (_, i) => `Client ${i} asks${' about the weather'.repeat(i % 3)} today`);
  const expected: string[] = [];
  for (const p of prompts) expected.push(await alone(chatIds([{ role: 'user', content: p }]), { maxTokens: 12, temp: 0 }));
  const memory: number[] = [];
  for (let round = 0; round < 3; round++) {
    const before = await metrics(base);
    const got = await Promise.all(prompts.map((p, i) => streamChat(p, i === 2 || i === 5 ? 3 : undefined)));
    got.forEach((g, i) => assert.is(g, i === 2 || i === 5 ? 'left' : expected[i], `round ${round}, client ${i}`));
    let m = await metrics(base);
    for (let i = 0; i < 200 && m.slots_busy !== 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      m = await metrics(base);
    }
    assert.is(m.slots_busy, 0);
    assert.is(m.requests_queued, 0);
    assert.is(m.requests_aborted_total! - before.requests_aborted_total!, 2, `round ${round}: two generations stopped`);
    memory.push(model.kernels.memory.buffer.byteLength);
  }
  assert.is(memory[2], memory[1], `WebAssembly memory after each round: ${memory.join(', ')}`);
});

test('a step holds at most batchSize tokens: long prompts go in chunks beside generating slots, replies unchanged', async () => {
  const small = await createServer(model, { slots: 3, contextSize: 3 * 256, threads: 1, batchSize: 8 });
  try {
    const url = (await small.listen(0)).url;
    const prompts = ['Hi', 'A much longer prompt that takes several chunks of eight tokens to read', 'Another prompt, of middling length'];
    const got = await Promise.all(prompts.map(async (prompt, i) => {
      // staggered, so later prompts arrive while earlier slots generate
      await new Promise((r) => setTimeout(r, i * 15));
      const r = await raw(`${url}/v1/completions`, { body: JSON.stringify({ prompt, max_tokens: 24, temperature: 0 }) });
      return r.json().choices[0].text as string;
    }));
    for (let i = 0; i < prompts.length; i++) assert.is(got[i], await alone(prompts[i]!, { maxTokens: 24, temp: 0 }), prompts[i]);
    assert.ok(model.tokenize(prompts[1]!, { addSpecial: true }).length > 16);
  } finally {
    await small.close();
  }
});

test('a slot reuses the longest common prefix of its previous prompt', async () => {
  const messages: PlainMessage[] = [{ role: 'user', content: 'Tell me about the sea and the sky' }];
  const first = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 4, temperature: 0 });
  const again = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 4, temperature: 0 });
  const n = chatIds(messages).length;
  assert.is(again.usage!.prompt_tokens_details!.cached_tokens, n - 1);
  assert.is(again.choices[0]!.message.content, first.choices[0]!.message.content);
  const longer: PlainMessage[] = [...messages, { role: 'assistant', content: first.choices[0]!.message.content! }, { role: 'user', content: 'More' }];
  const third = await client.chat.completions.create({ model: 'tiny', messages: longer, max_tokens: 8, temperature: 0 });
  assert.ok(third.usage!.prompt_tokens_details!.cached_tokens! >= n - 1);
  assert.is(third.choices[0]!.message.content, await alone(chatIds(longer), { maxTokens: 8, temp: 0 }));
});

test('errors: the OpenAI error object with 400/404/405/413, and the server keeps serving', async () => {
  const post = (path: string, body: string) => raw(`${base}${path}`, { body });
  const cases: [string, string, number, string | null, string][] = [
    ['/v1/chat/completions', '{"messages": [', 400, null, 'invalid_json'],
    ['/v1/chat/completions', '[1,2]', 400, 'body', 'invalid_value'],
    ['/v1/chat/completions', '{}', 400, 'messages', 'invalid_value'],
    ['/v1/chat/completions', '{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}', 400, 'temperature', 'invalid_value'],
    ['/v1/chat/completions', '{"messages":[{"role":"user","content":"x"}],"max_tokens":1.5}', 400, 'max_tokens', 'invalid_value'],
    ['/v1/chat/completions', '{"messages":[{"role":"user","content":"x"}],"stream":"yes"}', 400, 'stream', 'invalid_value'],
    ['/v1/chat/completions', '{"messages":[{"role":"wizard","content":"x"}]}', 400, 'messages[0].role', 'invalid_value'],
    ['/v1/chat/completions', '{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"$ref":"#/nowhere"}}}}', 400, 'response_format.json_schema.schema', 'invalid_value'],
    ['/v1/chat/completions', '{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}}', 400, 'response_format.type', 'invalid_value'],
    ['/v1/chat/completions', '{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"a b"}}]}', 400, 'tools[0].function.name', 'invalid_value'],
    ['/v1/chat/completions', '{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}', 400, 'tool_choice', 'invalid_value'],
    ['/v1/chat/completions', '{"messages":[{"role":"tool","content":"x"}]}', 400, 'messages[0].tool_call_id', 'invalid_value'],
    ['/v1/chat/completions', '{"messages":[{"role":"assistant","content":"","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}', 400, 'messages[0].tool_calls[0].function.arguments', 'invalid_value'],
    ['/v1/completions', '{"prompt":5}', 400, 'prompt', 'invalid_value'],
    ['/v1/completions', '{"prompt":"x","logit_bias":{"99999":1}}', 400, 'logit_bias', 'invalid_value'],
    ['/v1/completions', '{"prompt":"x","logit_bias":{"5":"high"}}', 400, 'logit_bias', 'invalid_value'],
    ['/v1/completions', '{"prompt":"x","n":2}', 400, 'n', 'not_supported'],
    ['/v1/completions', '{"prompt":[1,2,99999]}', 400, 'prompt', 'invalid_value'],
    ['/v1/embeddings', '{"input":"x"}', 501, 'model', 'model_not_supported'],
  ];
  for (const [path, body, status, param, code] of cases) {
    const r = await post(path, body);
    assert.is(r.status, status, `${body}: ${r.text}`);
    const e = r.json().error;
    assert.type(e.message, 'string');
    assert.type(e.type, 'string');
    assert.is(e.param, param, body);
    assert.is(e.code, code, body);
  }
  // over the slot's context: llama-server's exceed_context_size_error
  const long = Array.from({ length: SLOT_CTX + 1 }, () => 7);
  const over = await post('/v1/completions', JSON.stringify({ prompt: long, stream: true }));
  assert.is(over.status, 400);
  assert.is(over.json().error.type, 'exceed_context_size_error');
  assert.is(over.json().error.n_ctx, SLOT_CTX);
  const big = await post('/v1/completions', JSON.stringify({ prompt: 'x'.repeat(2 << 20) }));
  assert.is(big.status, 413);
  assert.is(big.json().error.code, 'request_too_large');
  assert.is((await raw(`${base}/v1/nothing`)).status, 404);
  assert.is((await raw(`${base}/v1/chat/completions`)).status, 405);
  // the openai client sees them as its typed errors
  try {
    await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], tool_choice: 'required' });
    assert.unreachable('tool_choice required without tools is refused');
  } catch (err) {
    assert.instance(err, OpenAI.BadRequestError);
    assert.match((err as Error).message, 'needs tools');
  }
  const ok = await client.completions.create({ model: 'tiny', prompt: 'still', max_tokens: 2, temperature: 0 });
  assert.is(ok.choices[0]!.text, await alone('still', { maxTokens: 2, temp: 0 }));
});

test('a client that disconnects stops its generation at once', async () => {
  const before = await metrics(base);
  await new Promise<void>((resolve, reject) => {
    const req = request(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let events = 0;
      res.on('data', (c: Buffer) => {
        events += c.toString().split('data: ').length - 1;
        if (events >= 5) {
          req.destroy();
          resolve();
        }
      });
      res.on('end', () => reject(new Error('the stream ended before the client left')));
    });
    req.on('error', () => {});
    req.end(JSON.stringify({ prompt: 'Once', max_tokens: -1, temperature: 0, stream: true }));
  });
  let m = await metrics(base);
  for (let i = 0; i < 200 && (m.slots_busy !== 0 || m.requests_aborted_total === before.requests_aborted_total); i++) {
    await new Promise((r) => setTimeout(r, 10));
    m = await metrics(base);
  }
  assert.is(m.requests_aborted_total, before.requests_aborted_total! + 1);
  assert.is(m.slots_busy, 0);
  const generated = m.generated_tokens_total! - before.generated_tokens_total!;
  assert.ok(generated < SLOT_CTX / 2, `stopped after ${generated} tokens, not at the context's end`);
  await new Promise((r) => setTimeout(r, 100));
  assert.is((await metrics(base)).generated_tokens_total, m.generated_tokens_total, 'no token after the stop');
});

test('/health, /v1/models, /metrics and the page', async () => {
  assert.equal((await raw(`${base}/health`)).json(), { status: 'ok' });
  const models = await client.models.list();
  assert.is(models.data[0]!.id, 'tiny.gguf');
  const m = await raw(`${base}/metrics`);
  assert.match(m.headers['content-type'] as string, 'text/plain');
  assert.match(m.text, /# TYPE run_gguf_generated_tokens_total counter\nrun_gguf_generated_tokens_total \d+/);
  assert.match(m.text, /run_gguf_requests_total\{route="\/v1\/chat\/completions"\} \d+/);
  assert.match(m.text, /run_gguf_slots_total 4\n/);
  assert.match(m.text, /run_gguf_generated_tokens_per_second \d/);
  const page = await raw(`${base}/`);
  assert.is(page.status, 200);
  assert.match(page.text, '<title>run-gguf</title>');
});

test('--api-key: every route but /health and the page needs the bearer key', async () => {
  const keyed = await createServer(model, { slots: 1, contextSize: 256, threads: 1, apiKey: 'sekret' });
  try {
    const url = (await keyed.listen(0)).url;
    assert.is((await raw(`${url}/health`)).status, 200);
    assert.is((await raw(`${url}/`)).status, 200);
    for (const path of ['/v1/models', '/metrics', '/v1/chat/completions', '/v1/completions', '/v1/embeddings']) {
      const body = path.startsWith('/v1/c') || path === '/v1/embeddings' ? '{}' : undefined;
      const none = await raw(`${url}${path}`, { body });
      assert.is(none.status, 401, path);
      assert.is(none.json().error.type, 'authentication_error');
      assert.is((await raw(`${url}${path}`, { body, headers: { authorization: 'Bearer wrong!' } })).status, 401, path);
    }
    assert.is((await raw(`${url}/v1/models`, { headers: { authorization: 'Bearer sekret' } })).status, 200);
    const ok = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sekret', maxRetries: 0 });
    const r = await ok.completions.create({ model: 'tiny', prompt: 'Hi', max_tokens: 3, temperature: 0 });
    assert.is(r.choices[0]!.text, await alone('Hi', { maxTokens: 3, temp: 0 }));
    const bad = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'nope', maxRetries: 0 });
    await bad.models.list().then(() => assert.unreachable('a wrong key'), (err) => assert.instance(err, OpenAI.AuthenticationError));
  } finally {
    await keyed.close();
  }
});

test('embeddings of an encoder model: the core API\'s vectors, base64 (the client\'s default) and float', async () => {
  const path = join(tiny.dir, 'bert.gguf');
  await writeGGUF(path, bertModelSpec(BERT_SHAPES['bert-tiny']!, GGMLType.Q8_0, { seed: 5 }));
  const bert = await createServer(path, { threads: 1 });
  const core = await loadModel(path);
  try {
    const url = (await bert.listen(0)).url;
    const texts = ['Hello, World!', 'the quick brown fox'];
    const expected = core.embed(texts, { threads: 1 });
    const c = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
    const r = await c.embeddings.create({ model: 'bert', input: texts });
    assert.is(r.data.length, 2);
    for (let i = 0; i < 2; i++) assert.equal(r.data[i]!.embedding, Array.from(expected[i]!));
    const nTokens = texts.reduce((a, t) => a + core.tokenize(t, { addSpecial: true }).length, 0);
    assert.is(r.usage.prompt_tokens, nTokens);
    const f = await raw(`${url}/v1/embeddings`, { body: JSON.stringify({ input: texts[1], encoding_format: 'float' }) });
    assert.equal(f.json().data[0].embedding, Array.from(expected[1]!));
    const chat = await raw(`${url}/v1/chat/completions`, { body: '{"messages":[{"role":"user","content":"x"}]}' });
    assert.is(chat.status, 400);
    assert.is(chat.json().error.code, 'model_not_supported');
  } finally {
    await bert.close();
    core.dispose();
  }
});

test('createServer from the package\'s main entry, on a path (loaded and disposed by the server)', async () => {
  const s = await createServerFromMain(tiny.path, { threads: 1, contextSize: 256, modelId: 'my-model' });
  try {
    const url = (await s.listen(0)).url;
    assert.equal((await raw(`${url}/health`)).json(), { status: 'ok' });
    const r = await raw(`${url}/v1/completions`, { body: JSON.stringify({ prompt: 'Hello', max_tokens: 5, temperature: 0 }) });
    assert.is(r.json().model, 'my-model');
    assert.is(r.json().choices[0].text, await alone('Hello', { maxTokens: 5, temp: 0 }));
  } finally {
    await s.close();
  }
});

test.run();
