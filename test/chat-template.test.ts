// Chat templates: published Jinja templates render what node-llama-cpp's
// JinjaTemplateChatWrapper renders for the same messages; the built-in
// fallbacks equal the real templates they stand in for; llama.cpp's
// detection, system-role polyfill and BOS rule.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readGGUF } from '../formats/gguf/index.js';
import {
  BuiltinChatTemplate, chatPromptText, detectTemplate, JinjaChatTemplate, resolveChatTemplate, tokenizeChat,
  type ChatMessage,
} from '../runtime/chat/index.js';
import { Tokenizer } from '../runtime/tokenizer/index.js';
import { PUBLISHED_TEMPLATES, GEMMA2_2B_IT, MISTRAL_7B_INSTRUCT_V02, QWEN2_7B_INSTRUCT } from './helpers/chat-templates.js';
import { sharedDir } from './helpers/shared.js';

type OracleItem = { type: 'system'; text: string } | { type: 'user'; text: string } | { type: 'model'; response: string[] };

const nlc = await import('node-llama-cpp');

/**
 * The text node-llama-cpp's Jinja wrapper builds for a chat history: its
 * LlamaText with BOS/EOS/EOT special tokens written as the model's strings.
 */
function oracleRender(source: string, bos: string, eos: string, history: OracleItem[]): string {
  const wrapper = new nlc.JinjaTemplateChatWrapper({ template: source, reasoning: null });
  const { contextText } = wrapper.generateContextState({ chatHistory: history });
  return contextText.values.map((v) => {
    if (typeof v === 'string') return v;
    if (v instanceof nlc.SpecialTokensText) return v.value;
    if (v instanceof nlc.SpecialToken) return v.value === 'BOS' ? bos : v.value === 'EOS' ? eos : `<<${v.value}>>`;
    throw new Error(`unexpected LlamaText value ${String(v)}`);
  }).join('');
}

function toOracle(messages: ChatMessage[]): OracleItem[] {
  return messages.map((m) => (m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: m.role as 'system' | 'user', text: m.content }));
}

function conversation(withSystem: boolean): ChatMessage[] {
  const turns: ChatMessage[] = [
    { role: 'user', content: 'What is the capital of France?' },
    { role: 'assistant', content: 'Paris.' },
    { role: 'user', content: 'And of Italy?\nAnswer in one word.' },
  ];
  return withSystem ? [{ role: 'system', content: 'You are terse.' }, ...turns] : turns;
}

for (const t of PUBLISHED_TEMPLATES) {
  test(`${t.model}: renders as node-llama-cpp's JinjaTemplateChatWrapper does`, () => {
    const tmpl = new JinjaChatTemplate(t.source, { bosToken: t.bos, eosToken: t.eos });
    assert.is(tmpl.supportsSystemRole, t.system, 'system role support');
    for (const withSystem of t.system ? [false, true] : [false]) {
      const msgs = conversation(withSystem);
      // ending with the user's message: no generation prompt, as the wrapper renders a history
      const plain = tmpl.render(msgs, { addGenerationPrompt: false });
      assert.is(plain, oracleRender(t.source, t.bos, t.eos, toOracle(msgs)), `history (system: ${withSystem})`);
      // the wrapper opens the reply by rendering an empty model turn and cutting after it
      const open = tmpl.render(msgs, { addGenerationPrompt: true });
      const oracleOpen = oracleRender(t.source, t.bos, t.eos, [...toOracle(msgs), { type: 'model', response: [] }]);
      if (t.detects === 'deepseek3') {
        // R1's generation prompt is "<｜Assistant｜><think>\n"; the wrapper reaches the same turn
        // opening and leaves the <think> to its thought segment
        assert.ok(open.startsWith(oracleOpen), `generation prompt starts as the wrapper's: ${JSON.stringify(oracleOpen.slice(-40))}`);
        assert.ok(open.endsWith('<｜Assistant｜><think>\n'));
      } else if (t.detects === 'deepseek2') {
        // the wrapper cuts an empty "Assistant: " + eos turn after its space; the
        // template's own generation prompt is "Assistant:" (llama.cpp's deepseek2 format too)
        assert.is(`${open} `, oracleOpen, `with generation prompt (system: ${withSystem})`);
        assert.ok(open.endsWith('Assistant:'));
      } else {
        assert.is(open, oracleOpen, `with generation prompt (system: ${withSystem})`);
      }
    }
  });

  test(`${t.model}: detected as llama.cpp's built-in "${t.detects}"`, () => {
    assert.is(detectTemplate(t.source), t.detects);
  });
}

test('built-in fallbacks render what the real templates render (the BOS text aside)', () => {
  const dropBos = (s: string, bos: string) => (bos && s.startsWith(bos) ? s.slice(bos.length) : s);
  for (const t of PUBLISHED_TEMPLATES) {
    if (t.detects === 'deepseek3') continue; // R1 adds <think> and rewrites replies: no built-in equals it
    const jinja = new JinjaChatTemplate(t.source, { bosToken: t.bos, eosToken: t.eos });
    const builtin = new BuiltinChatTemplate(t.detects, 'test');
    // Qwen2's template adds a default system prompt; the built-in chatml renders what it is given
    for (const withSystem of t.system ? [true] : [false]) {
      const msgs = conversation(withSystem);
      assert.is(builtin.render(msgs), dropBos(jinja.render(msgs), t.bos), `${t.model} as ${t.detects}`);
    }
  }
});

test("a template without a system role gets the system text in the first user message (minja's polyfill)", () => {
  const gemma = new JinjaChatTemplate(GEMMA2_2B_IT, { bosToken: '<bos>', eosToken: '<eos>' });
  assert.is(gemma.supportsSystemRole, false);
  assert.is(
    gemma.render(conversation(true).slice(0, 2)),
    '<bos><start_of_turn>user\nYou are terse.\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n',
  );
  // llama.cpp's built-in gemma format keeps its own rule (system + "\n\n")
  assert.is(
    new BuiltinChatTemplate('gemma', 'test').render(conversation(true).slice(0, 2)),
    '<start_of_turn>user\nYou are terse.\n\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n',
  );
});

test('detection: names, aliases and unknown templates', () => {
  assert.is(detectTemplate('chatml'), 'chatml');
  assert.is(detectTemplate('mistral'), 'llama2');
  assert.is(detectTemplate('{{ messages }}'), undefined);
  assert.is(detectTemplate("{{ '<|im_start|>' + m + '<|im_sep|>' }}"), 'phi4');
  assert.is(detectTemplate("{{ '[SYSTEM_PROMPT]' }}[INST]"), 'mistral-v7');
});

const models = sharedDir('models');

if (models) {
  const llama2Vocab = await readGGUF(join(models, 'llama-2-tiny-random.gguf'));
  const meta = llama2Vocab.metadata;

  test("BOS rule: one BOS whether the template writes bos_token or not (llama.cpp's common_chat_templates_apply)", () => {
    const tok = Tokenizer.fromMetadata((k) => meta.get(k));
    assert.ok(tok.addBos, 'the Llama 2 vocabulary adds BOS');
    const bos = tok.bosId!;
    const msgs = conversation(false);
    const mistral = new JinjaChatTemplate(MISTRAL_7B_INSTRUCT_V02, { bosToken: '<s>', eosToken: '</s>' });
    const ids = tokenizeChat(tok, mistral, msgs);
    assert.is(ids[0], bos);
    assert.is(ids.filter((id) => id === bos).length, 1, 'exactly one BOS');
    assert.ok(ids.includes(tok.eosId!), '</s> after the assistant turn is parsed as the EOS token');
    // the brief's equivalent: the rendered text tokenized with special tokens and no added BOS
    assert.equal(ids, tok.tokenize(mistral.render(msgs), { special: true, addSpecial: false }));
    assert.not.ok(chatPromptText(tok, mistral, msgs).startsWith('<s>'));

    const chatml = new JinjaChatTemplate(QWEN2_7B_INSTRUCT, { bosToken: '<s>', eosToken: '</s>' });
    const ids2 = tokenizeChat(tok, chatml, msgs);
    assert.is(ids2[0], bos, 'a template without BOS still gets the one the model adds');
    assert.is(ids2.filter((id) => id === bos).length, 1);
  });

  test('BOS rule: a vocabulary that adds no BOS keeps the template\'s', () => {
    const noBos = Tokenizer.fromMetadata((k) => (k === 'tokenizer.ggml.add_bos_token' ? false : meta.get(k)));
    assert.not.ok(noBos.addBos);
    const mistral = new JinjaChatTemplate(MISTRAL_7B_INSTRUCT_V02, { bosToken: '<s>', eosToken: '</s>' });
    const ids = tokenizeChat(noBos, mistral, conversation(false));
    assert.is(ids[0], noBos.bosId);
    assert.is(ids.filter((id) => id === noBos.bosId).length, 1);
  });

  test('resolve: the file\'s template, --chat-template NAME / Jinja text, family fallbacks, plain completion', () => {
    const tok = Tokenizer.fromMetadata((k) => meta.get(k));
    const info = (extra: Record<string, unknown>, fileName = 'model.gguf') => ({
      get: (k: string) => (k in extra ? extra[k] : meta.get(k)), tokenizer: tok, fileName,
    });
    const own = resolveChatTemplate(info({ 'tokenizer.chat_template': MISTRAL_7B_INSTRUCT_V02 }));
    assert.is(own.kind, 'jinja');
    assert.match(own.origin, "model's");
    assert.is(resolveChatTemplate(info({}), { override: 'llama3' }).name, 'llama3');
    assert.is(resolveChatTemplate(info({}), { override: 'mistral' }).name, 'llama2');
    assert.is(resolveChatTemplate(info({}), { override: 'completion' }).kind, 'completion');
    assert.is(resolveChatTemplate(info({}), { override: QWEN2_7B_INSTRUCT }).kind, 'jinja');
    assert.throws(() => resolveChatTemplate(info({}), { override: 'no-such-template' }), /unknown chat template "no-such-template".*chatml/);
    // a template the Jinja engine cannot parse falls back to the format its markers name
    const broken = resolveChatTemplate(info({ 'tokenizer.chat_template': '{% for m in messages %}<|im_start|>{{ m.content }' }));
    assert.is(broken.name, 'chatml');
    assert.match(broken.origin, 'does not render');
    // no template: Llama 2 vocabulary named LLaMA v2 is not a chat model; "chat" in the name is
    assert.is(resolveChatTemplate(info({ 'tokenizer.chat_template': undefined })).kind, 'completion');
    assert.is(resolveChatTemplate(info({ 'tokenizer.chat_template': undefined }, 'llama-2-7b-chat.Q4_K_M.gguf')).name, 'llama2');
    assert.is(resolveChatTemplate(info({ 'tokenizer.chat_template': undefined, 'general.architecture': 'gemma2' })).name, 'gemma');
    assert.is(resolveChatTemplate(info({ 'tokenizer.chat_template': undefined, 'general.architecture': 'qwen2' })).name, 'chatml');
  });
}

test('family fallbacks: deepseek2, glm4moe, llama4 by architecture; llama 4 and GLM vocabularies by their markers', () => {
  const withVocab = (tokens: string[], arch?: string) => ({
    get: (k: string) => (k === 'general.architecture' ? arch : undefined),
    tokenizer: { vocab: { tokenToId: new Map(tokens.map((t, i) => [t, i])) }, type: 'bpe' } as unknown as Tokenizer,
  });
  assert.is(resolveChatTemplate(withVocab([], 'deepseek2')).name, 'deepseek2');
  assert.is(resolveChatTemplate(withVocab([], 'glm4moe')).name, 'chatglm4');
  assert.is(resolveChatTemplate(withVocab([], 'llama4')).name, 'llama4');
  // GLM-4.7-Flash is a deepseek2 file with GLM's vocabulary
  assert.is(resolveChatTemplate(withVocab(['[gMASK]', '<sop>', '<|assistant|>'], 'deepseek2')).name, 'chatglm4');
  assert.is(resolveChatTemplate(withVocab(['<|header_start|>', '<|header_end|>', '<|eot|>'])).name, 'llama4');
});

test('plain completion: one running text, each user message on a new line, replies continue it', () => {
  const t = resolveChatTemplate({ get: () => undefined, tokenizer: { vocab: { tokenToId: new Map() }, type: 'spm' } as unknown as Tokenizer });
  assert.is(t.kind, 'completion');
  assert.is(t.render([
    { role: 'user', content: 'Once upon a time' }, { role: 'assistant', content: ', a cat.' }, { role: 'user', content: 'The end' },
  ]), 'Once upon a time, a cat.\nThe end');
});

test.run();
