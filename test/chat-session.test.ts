// ChatSession on a real model (stories260K): multi-turn reuse of the KV
// cache gives the same replies as evaluating the conversation from scratch,
// abort keeps the partial reply, a full context shifts (system prompt kept)
// instead of failing, and conversations save and load.
// On a random-weight llama with Mistral's template in its metadata (runs
// anywhere): a reply whose text re-tokenizes to other ids still stays in the
// cache, and turn 2 evaluates exactly the ids llama.cpp gives the new text.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import {
  BuiltinChatTemplate, ChatSession, CompletionTemplate, resolveChatTemplate, tokenizeChat, type ChatTemplate,
} from '../runtime/chat/index.js';
import { loadModel, type Context, type Model } from '../runtime/index.js';
import { MISTRAL_7B_INSTRUCT_V02 } from './helpers/chat-templates.js';
import { oracle } from './helpers/oracle.js';
import { sharedDir } from './helpers/shared.js';

/** The context each test session runs on, to dispose it with the session. */
const contextOf = new Map<ChatSession, Context>();
function track(ctx: Context, make: (ctx: Context) => ChatSession): ChatSession {
  const s = make(ctx);
  contextOf.set(s, ctx);
  return s;
}

const commonPrefix = (a: readonly number[], b: readonly number[]) => {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
};

{
  const tmp = mkdtempSync(join(tmpdir(), 'chat-session-'));
  const path = join(tmp, 'gen.gguf');
  await writeGGUF(path, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q8_0, {
    seed: 3, extraKV: [{ key: 'tokenizer.chat_template', value: MISTRAL_7B_INSTRUCT_V02 }],
  }));
  const gen = await loadModel(path);
  test.after(() => {
    gen.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("generated model, its own template: turn 2 reuses the whole cache though the reply's text re-tokenizes differently, and evaluates exactly llama.cpp's ids of the new text", async () => {
    const template = resolveChatTemplate({ get: (k) => gen.gguf.metadata.get(k), tokenizer: gen.tokenizer, fileName: 'gen.gguf' });
    assert.is(template.origin, "the model's template");
    const s = track(gen.createContext({ contextSize: 512 }), (ctx) => new ChatSession(gen, ctx, { template, maxTokens: 32, ignoreEos: true, temp: 0 }));
    const first = await s.reply('Hello there');
    assert.is(first.stop, 'max-tokens');
    assert.is(first.generatedTokens, 32);
    const after1 = s.cachedTokens; // the prompt and the reply but its last token (sampled, not yet evaluated)
    // what re-tokenizing the rendered conversation alone would reuse
    const naive = tokenizeChat(gen.tokenizer, template, [...s.messages, { role: 'user', content: 'How are you' }]);
    const naiveReuse = commonPrefix(naive, after1);

    const second = await s.reply('How are you');
    // the new text after turn 1's prompt and reply, as the Mistral template writes it
    const ref = await (await oracle()).loadModel({ modelPath: path });
    const newIds = Array.from(ref.tokenize('</s>[INST] How are you [/INST]', true)) as number[];
    await ref.dispose();
    const after2 = s.cachedTokens;
    console.log(`  turn 1: ${after1.length} tokens cached; turn 2: ${second.reusedTokens} reused, ${second.promptTokens} evaluated `
      + `(the reply's last token + ${newIds.length} new); re-tokenizing would have reused ${naiveReuse}`);
    assert.ok(naiveReuse < after1.length, `the reply re-tokenizes to other ids (else this test proves nothing): ${naiveReuse} of ${after1.length}`);
    assert.is(second.reusedTokens, after1.length, 'all of turn 1 reused');
    assert.is(second.promptTokens, 1 + newIds.length, "turn 2 evaluated the reply's last token and the new text only");
    assert.equal(after2.slice(0, after1.length), after1);
    assert.equal(after2.slice(after1.length + 1, after1.length + 1 + newIds.length), newIds, "the new text's ids as llama.cpp tokenizes it");
    assert.is(after2.length, after1.length + 1 + newIds.length + 31);

    // the third turn likewise; /reset empties the cache and the same message gets the same reply
    const third = await s.reply('Tell me more');
    assert.is(third.reusedTokens, after2.length);
    s.reset();
    assert.is(s.contextUsed, 0);
    const again = await s.reply('Hello there');
    assert.is(again.reusedTokens, 0);
    assert.is(again.text, first.text);
    contextOf.get(s)!.dispose();
  });

  test('--ignore-eos: without it the same greedy reply ends on </s>', async () => {
    const template = resolveChatTemplate({ get: (k) => gen.gguf.metadata.get(k), tokenizer: gen.tokenizer });
    const ctx = gen.createContext({ contextSize: 512 });
    const free = new ChatSession(gen, ctx, { template, maxTokens: 200, temp: 0 });
    const ended = await free.reply('Tell me a long story');
    assert.is(ended.stop, 'eog', `random weights reach </s> within 200 tokens: ${ended.generatedTokens} tokens`);
    const forced = new ChatSession(gen, ctx, { template, maxTokens: 200, temp: 0, ignoreEos: true });
    const kept = await forced.reply('Tell me a long story');
    assert.is(kept.stop, 'max-tokens');
    assert.is(kept.generatedTokens, 200);
    assert.ok(kept.text.startsWith(ended.text), 'the same greedy path up to where </s> was');
    ctx.dispose();
  });
}

const models = sharedDir('models');
if (!models) test('stories260K sessions', () => console.log('  skip: ../shared/models is absent, the stories260K session tests do not run'));

if (models) {
  const model: Model = await loadModel(join(models, 'stories260K.gguf'));
  test.after(() => model.dispose());

  const session = (template: ChatTemplate, opts: { contextSize?: number; system?: string; maxTokens?: number } = {}) =>
    track(model.createContext({ contextSize: opts.contextSize ?? 512 }), (ctx) => new ChatSession(model, ctx, {
      template, system: opts.system, maxTokens: opts.maxTokens ?? 24, temp: 0,
    }));

  test('a second turn evaluates only the new tokens, and replies as a fresh evaluation of the whole conversation does', async () => {
    for (const template of [new CompletionTemplate('test'), new BuiltinChatTemplate('chatml', 'test')] as ChatTemplate[]) {
      const s = session(template, { system: template.kind === 'completion' ? undefined : 'Tell stories.' });
      const first = await s.reply('Once upon a time');
      assert.is(first.reusedTokens, 0);
      assert.ok(first.generatedTokens > 0);
      const afterFirst = s.contextUsed;
      const fullPrompt = tokenizeChat(model.tokenizer, template, [...s.messages, { role: 'user', content: 'The little dog' }]).length;
      const second = await s.reply('The little dog');
      assert.is(second.reusedTokens, afterFirst, `${template.name}: all of turn 1 reused`);
      assert.is(second.promptTokens, fullPrompt - second.reusedTokens, `${template.name}: only the rest evaluated`);
      // the same conversation, evaluated from an empty cache, gives the same greedy reply
      const fresh = session(template);
      fresh.load(s.messages.slice(0, -2));
      const again = await fresh.reply('The little dog');
      assert.is(again.reusedTokens, 0);
      assert.is(again.text, second.text, `${template.name}: reply with a reused cache equals the fresh one`);
      contextOf.get(s)!.dispose();
      contextOf.get(fresh)!.dispose();
    }
  });

  test('the cache holds exactly the conversation\'s tokens: prompt of turn 2 = cache + new tokens', async () => {
    const t = new BuiltinChatTemplate('chatml', 'test');
    const s = session(t);
    await s.reply('Lily had a ball.');
    const full = tokenizeChat(model.tokenizer, t, [...s.messages, { role: 'user', content: 'Then?' }]);
    const second = await s.reply('Then?');
    assert.is(second.reusedTokens + second.promptTokens, full.length);
    contextOf.get(s)!.dispose();
  });

  test('abort: the reply stops early, the partial reply stays in the conversation', async () => {
    const s = session(new CompletionTemplate('test'), { maxTokens: 200 });
    const ac = new AbortController();
    let pieces = 0;
    const stats = await s.reply('Once upon a time', {
      signal: ac.signal,
      onText: () => {
        if (++pieces === 5) ac.abort();
      },
    });
    assert.is(stats.stop, 'aborted');
    assert.ok(stats.generatedTokens >= 5 && stats.generatedTokens < 10, `stopped right after the abort (${stats.generatedTokens} tokens)`);
    assert.is(s.messages.length, 2);
    assert.is(s.messages[1].content, stats.text);
    // aborting before any token: the message is withdrawn
    const ac2 = new AbortController();
    ac2.abort();
    const none = await s.reply('ignored', { signal: ac2.signal });
    assert.is(none.stop, 'aborted');
    assert.is(s.messages.length, 2);
    contextOf.get(s)!.dispose();
  });

  test('a full context drops the oldest turns (system prompt kept) instead of failing', async () => {
    const s = session(new BuiltinChatTemplate('chatml', 'test'), { contextSize: 96, system: 'You tell short stories.', maxTokens: 30 });
    const notices: string[] = [];
    let dropped = 0;
    for (const q of ['Once upon a time', 'The dog ran', 'The cat sat', 'A bird sang', 'The end']) {
      const st = await s.reply(q, { onNotice: (n) => notices.push(n) });
      dropped += st.droppedMessages;
      assert.ok(s.contextUsed <= 96);
      assert.is(s.messages[0].role, 'system');
      assert.is(s.messages[0].content, 'You tell short stories.');
    }
    assert.ok(dropped > 0, 'turns were dropped');
    assert.ok(notices.some((n) => n.startsWith('context full: dropped')), notices.join(' | '));
    assert.is(s.messages.at(-2)?.content, 'The end', 'the latest exchange stays');
    contextOf.get(s)!.dispose();
  });

  test('a reply longer than the context stops with a notice; a message too long is not sent', async () => {
    const s = session(new CompletionTemplate('test'), { contextSize: 48, maxTokens: -1 });
    const notices: string[] = [];
    const st = await s.reply('Once upon a time', { onNotice: (n) => notices.push(n) });
    assert.ok(st.stop === 'context-full' || st.stop === 'eog', st.stop);
    assert.ok(s.contextUsed <= 48);
    const long = await s.reply('word '.repeat(100), { onNotice: (n) => notices.push(n) });
    assert.is(long.stop, 'context-full');
    assert.ok(notices.some((n) => /message not sent/.test(n)), notices.join(' | '));
    assert.not.ok(s.messages.some((m) => m.content.startsWith('word word')));
    contextOf.get(s)!.dispose();
  });

  test('save / load / reset / system prompt', async () => {
    const s = session(new BuiltinChatTemplate('chatml', 'test'), { system: 'Be kind.' });
    await s.reply('Hello');
    const saved = JSON.parse(JSON.stringify(s.toJSON()));
    assert.is(saved.format, 'run-gguf-chat');
    assert.is(saved.messages.length, 3);
    const other = session(new BuiltinChatTemplate('chatml', 'test'));
    other.load(saved);
    assert.equal(other.messages, s.messages);
    assert.is(other.systemPrompt, 'Be kind.');
    assert.throws(() => other.load({ messages: [{ role: 'robot', content: 'x' }] }), /message 1/);
    s.setSystem('Be brief.');
    s.reset();
    assert.equal(s.messages, [{ role: 'system', content: 'Be brief.' }]);
    assert.is(s.contextUsed, 0);
    contextOf.get(s)!.dispose();
    contextOf.get(other)!.dispose();
  });
}

test.run();
