// The chat page run-gguf serve sends at /, in Debian's chromium (headless,
// playwright-core): two turns streamed over server-sent events, each reply
// equal to the server's own non-streamed answer for the same conversation and
// settings (greedy, from the page's address), and the tokens/s line shown.
// A second server with --api-key: the page sends the key typed into it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chromium, type Page } from 'playwright-core';
import { loadModel, type Model } from '../runtime/index.js';
import { createServer, type RunGgufServer } from '../runtime/server/index.js';
import { browserSkipReason, CHROMIUM } from './helpers/browser.js';
import { writeTinyModel } from './helpers/browser-model.js';
import { raw } from './helpers/server.js';

const MAX_TOKENS = 24;

async function expectedReply(base: string, messages: { role: string; content: string }[], key?: string): Promise<{ text: string; tokens: number }> {
  const r = await raw(`${base}/v1/chat/completions`, {
    body: JSON.stringify({ messages, temperature: 0, max_tokens: MAX_TOKENS }),
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  assert.is(r.status, 200, r.text);
  const j = r.json();
  return { text: j.choices[0].message.content, tokens: j.usage.completion_tokens };
}

// The last message's text at every change of the log: a streamed reply shows
// partial texts before the whole. (Counting changes instead failed on a busy
// machine, where the observer's callbacks batch many tokens into one.)
async function sendAndWait(page: Page, text: string): Promise<{ reply: string; status: string; tokens: number; seen: string[] }> {
  await page.evaluate(() => {
    const w = window as unknown as { seen: string[] };
    w.seen = [];
    new MutationObserver(() => w.seen.push(Array.from(document.querySelectorAll('.msg')).at(-1)?.textContent ?? '')).observe(
      document.getElementById('log')!,
      { childList: true, subtree: true, characterData: true },
    );
  });
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
  await page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'error', undefined, { timeout: 60_000 });
  return page.evaluate(() => ({
    reply: Array.from(document.querySelectorAll('.msg')).at(-1)?.textContent ?? '',
    status: document.getElementById('status')!.textContent ?? '',
    tokens: Number(document.getElementById('status')!.dataset.tokens),
    seen: (window as unknown as { seen: string[] }).seen,
  }));
}

const skip = browserSkipReason();
if (skip) {
  test('the server\'s chat page in chromium', () => console.log(`  skip: ${skip}`));
} else {
  test('the chat page streams two replies equal to the API\'s, shows tokens/s, and sends the API key', async () => {
    const tiny = await writeTinyModel();
    let model: Model | undefined;
    let server: RunGgufServer | undefined;
    let keyed: RunGgufServer | undefined;
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    try {
      model = await loadModel(tiny.path);
      server = await createServer(model, { slots: 2, contextSize: 1024, threads: 1 });
      const base = (await server.listen(0)).url;
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}/?temperature=0&max_tokens=${MAX_TOKENS}`);
      await page.waitForFunction(() => document.getElementById('model')!.textContent === 'tiny.gguf');

      const history: { role: string; content: string }[] = [];
      for (const text of ['Hello there', 'And then?']) {
        history.push({ role: 'user', content: text });
        const want = await expectedReply(base, history);
        const got = await sendAndWait(page, text);
        assert.is(got.reply, want.text, `the page's reply to "${text}"`);
        assert.ok(want.text.length > 0);
        const partial = got.seen.filter((t) => t.length > 0 && t.length < got.reply.length && got.reply.startsWith(t));
        assert.ok(partial.length > 0, `streamed: no partial reply among ${JSON.stringify(got.seen)}`);
        assert.is(got.tokens, want.tokens, 'token count from the usage chunk');
        assert.match(got.status, /\d+ tokens, \d+(\.\d)? tokens\/s/);
        history.push({ role: 'assistant', content: want.text });
      }
      assert.equal(errors, []);
      await page.close();

      keyed = await createServer(model, { slots: 1, contextSize: 512, threads: 1, apiKey: 'k3y' });
      const kbase = (await keyed.listen(0)).url;
      const p2 = await browser.newPage();
      await p2.goto(`${kbase}/?temperature=0&max_tokens=${MAX_TOKENS}`);
      const refused = await sendAndWait(p2, 'Hello there');
      assert.match(refused.reply, 'Invalid API key');
      await p2.fill('#key', 'k3y');
      await p2.dispatchEvent('#key', 'change');
      const want = await expectedReply(kbase, [{ role: 'user', content: 'Hello there' }], 'k3y');
      const got = await sendAndWait(p2, 'Hello there');
      assert.is(got.reply, want.text);
      await p2.close();
    } finally {
      await browser.close();
      await keyed?.close();
      await server?.close();
      model?.dispose();
      tiny.cleanup();
    }
  });
}

test.run();
