// The built-in chat page at /: plain HTML and JS, no framework. It posts the
// conversation to /v1/chat/completions with stream: true, reads the
// server-sent events with fetch's body reader, and shows tokens per second
// (completion tokens from the usage chunk over the time since the first).
// Sampling settings can be given in the address (?temperature=0&max_tokens=64).
// body[data-state] (idle, streaming, done, error) lets tests wait on it.
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>run-gguf</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 46rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; }
  #log { display: flex; flex-direction: column; gap: .6rem; margin-bottom: 1rem; }
  .msg { white-space: pre-wrap; padding: .5rem .75rem; border-radius: .5rem; }
  .user { background: #e8effa; align-self: flex-end; }
  .assistant { background: #f3f3f3; }
  .error { background: #fde8e8; color: #900; }
  form { display: flex; gap: .5rem; }
  textarea { flex: 1; font: inherit; padding: .4rem; min-height: 3rem; }
  #status { color: #666; font-size: 13px; margin-top: .4rem; min-height: 1.2em; }
  #key { width: 12rem; }
  header { display: flex; justify-content: space-between; align-items: baseline; }
</style>
</head>
<body data-state="idle">
<header><h3 id="model">run-gguf</h3><label>API key <input id="key" type="password" autocomplete="off"></label></header>
<div id="log"></div>
<form id="form">
  <textarea id="input" placeholder="Message (Enter sends, Shift+Enter is a new line)"></textarea>
  <button id="send" type="submit">Send</button>
</form>
<div id="status"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const messages = [];
// sampling settings from the address: /?temperature=0&max_tokens=64&seed=1
const query = new URLSearchParams(location.search);
const settings = {};
for (const k of ['temperature', 'top_p', 'top_k', 'min_p', 'seed', 'max_tokens']) {
  if (query.has(k)) settings[k] = Number(query.get(k));
}
const keyInput = $('key');
keyInput.value = sessionStorage.getItem('run-gguf-key') || '';
keyInput.addEventListener('change', () => sessionStorage.setItem('run-gguf-key', keyInput.value));
const headers = () => {
  const h = { 'content-type': 'application/json' };
  if (keyInput.value) h.authorization = 'Bearer ' + keyInput.value;
  return h;
};
fetch('/v1/models', { headers: headers() }).then((r) => r.json()).then((j) => {
  if (j.data && j.data[0]) $('model').textContent = j.data[0].id;
}).catch(() => {});

function bubble(role, text) {
  const d = document.createElement('div');
  d.className = 'msg ' + role;
  d.textContent = text;
  $('log').appendChild(d);
  return d;
}

async function send(text) {
  document.body.dataset.state = 'streaming';
  $('send').disabled = true;
  messages.push({ role: 'user', content: text });
  bubble('user', text);
  const out = bubble('assistant', '');
  const status = $('status');
  let reply = '', first = 0, pieces = 0, usage = null;
  const t0 = performance.now();
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST', headers: headers(),
      body: JSON.stringify({ ...settings, messages, stream: true, stream_options: { include_usage: true } }),
    });
    if (!res.ok) {
      const j = await res.json().catch(() => ({}));
      throw new Error((j.error && j.error.message) || res.status + ' ' + res.statusText);
    }
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let at;
      while ((at = buf.indexOf('\\n\\n')) >= 0) {
        const event = buf.slice(0, at);
        buf = buf.slice(at + 2);
        for (const line of event.split('\\n')) {
          if (!line.startsWith('data:')) continue;
          const data = line.slice(5).trim();
          if (data === '[DONE]') continue;
          const j = JSON.parse(data);
          if (j.error) throw new Error(j.error.message);
          if (j.usage) usage = j.usage;
          const c = j.choices && j.choices[0];
          const piece = c && c.delta && c.delta.content;
          if (piece) {
            if (!first) first = performance.now();
            pieces++;
            reply += piece;
            out.textContent = reply;
          }
        }
      }
      if (first) {
        const s = (performance.now() - first) / 1000;
        if (s > 0 && pieces > 1) status.textContent = ((pieces - 1) / s).toFixed(1) + ' tokens/s';
      }
    }
    const n = usage ? usage.completion_tokens : pieces;
    const secs = ((first ? performance.now() - first : 0) / 1000);
    const rate = n > 1 && secs > 0 ? (n - 1) / secs : 0;
    status.textContent = n + ' tokens, ' + rate.toFixed(1) + ' tokens/s (first token after ' + ((first - t0) / 1000).toFixed(2) + ' s)';
    status.dataset.tokens = String(n);
    status.dataset.tokensPerSecond = String(rate);
    messages.push({ role: 'assistant', content: reply });
    document.body.dataset.state = 'done';
  } catch (err) {
    out.className = 'msg error';
    out.textContent = String(err.message || err);
    messages.pop();
    document.body.dataset.state = 'error';
  } finally {
    $('send').disabled = false;
  }
}

$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('input').value.trim();
  if (!text || document.body.dataset.state === 'streaming') return;
  $('input').value = '';
  send(text);
});
$('input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('form').requestSubmit();
  }
});
</script>
</body>
</html>
`;
