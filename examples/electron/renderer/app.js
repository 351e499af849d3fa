// @ts-check
// The renderer: chats through run-gguf here (the browser build, in Web
// Workers) or, with the preload's bridge, through the main process.
import { loadModel } from 'run-gguf';

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function el(id, type) {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`#${id} is missing`);
  return e;
}

const ui = {
  source: el('source', HTMLInputElement),
  file: el('file', HTMLInputElement),
  load: el('load', HTMLButtonElement),
  loadMain: el('load-main', HTMLButtonElement),
  progress: el('progress', HTMLProgressElement),
  status: el('status', HTMLElement),
  threads: el('threads', HTMLElement),
  where: el('where', HTMLElement),
  notice: el('notice', HTMLElement),
  seed: el('seed', HTMLInputElement),
  temperature: el('temperature', HTMLInputElement),
  maxTokens: el('max-tokens', HTMLInputElement),
  log: el('log', HTMLElement),
  form: el('send-form', HTMLFormElement),
  prompt: el('prompt', HTMLInputElement),
  send: el('send', HTMLButtonElement),
  stop: el('stop', HTMLButtonElement),
  usage: el('usage', HTMLElement),
};

/** @type {import('run-gguf').Model | undefined} */
let model;
/** @type {import('run-gguf').Chat | undefined} */
let chat;
/** @type {'renderer' | 'main' | undefined} */
let where;
/** @type {AbortController | undefined} */
let replying;

const bridge = window.runGgufMain;
ui.loadMain.hidden = !bridge;

/** @param {'idle' | 'loading' | 'ready' | 'replying' | 'error'} state */
function setState(state) {
  document.body.dataset.state = state;
  ui.send.disabled = state !== 'ready';
  ui.stop.disabled = state !== 'replying';
  ui.load.disabled = ui.loadMain.disabled = state === 'loading' || state === 'replying';
}

/** @param {unknown} err */
function showError(err) {
  ui.status.textContent = `Error: ${err instanceof Error ? err.message : String(err)}`;
  setState('error');
}

const mb = (/** @type {number} */ n) => `${(n / 1024 ** 2).toFixed(1)} MB`;

/** @param {import('run-gguf').ModelInfo} info @param {number} threads */
function showModel(info, threads) {
  ui.status.textContent = `${info.name}: ${info.architecture}, ${info.layerCount} layers, ${mb(info.weightBytes)} of weights`;
  ui.threads.textContent = String(threads);
}

async function loadHere() {
  const file = ui.file.files?.[0];
  const source = file ?? ui.source.value.trim();
  if (!source) return showError(new Error('give a URL or pick a file'));
  setState('loading');
  ui.notice.textContent = '';
  try {
    await model?.dispose();
    model = undefined;
    model = await loadModel(source, {
      onProgress: ({ loadedBytes, totalBytes }) => {
        ui.progress.max = totalBytes;
        ui.progress.value = loadedBytes;
      },
      // a name (hf:user/repo:Q4_K_M) is downloaded into the Origin Private File System first, once
      onDownload: ({ downloadedBytes, totalBytes }) => {
        ui.progress.max = totalBytes || 1;
        ui.progress.value = downloadedBytes;
      },
    });
    chat = await model.createChat();
    where = 'renderer';
    showModel(model.info, chat.threads);
    ui.where.textContent = '(in this window\'s workers)';
    ui.notice.textContent = model.threadsNotice ?? '';
    ui.log.textContent = '';
    setState('ready');
  } catch (err) {
    showError(err);
  }
}

async function loadInMain() {
  if (!bridge) return;
  setState('loading');
  try {
    const loaded = await bridge.pickAndLoad();
    if (!loaded) return setState(where ? 'ready' : 'idle');
    await model?.dispose();
    model = undefined;
    where = 'main';
    showModel(loaded.info, loaded.threads);
    ui.where.textContent = '(in the main process)';
    ui.notice.textContent = '';
    ui.log.textContent = '';
    setState('ready');
  } catch (err) {
    showError(err);
  }
}

/** @param {string} cls @param {string} text */
function addMessage(cls, text) {
  const div = document.createElement('div');
  div.className = cls;
  div.textContent = text;
  ui.log.append(div);
  return div;
}

function sendOptions() {
  const seed = ui.seed.value.trim();
  return {
    seed: seed === '' ? undefined : Number(seed),
    temperature: Number(ui.temperature.value),
    maxTokens: Number(ui.maxTokens.value),
  };
}

async function send() {
  const text = ui.prompt.value;
  if (!text || !where) return;
  ui.prompt.value = '';
  addMessage('user', text);
  const out = addMessage('assistant', '');
  const onText = (/** @type {string} */ piece) => {
    out.textContent += piece;
  };
  setState('replying');
  try {
    let result;
    if (where === 'main' && bridge) {
      bridge.onText(onText);
      result = await bridge.send(text, sendOptions());
    } else if (chat) {
      replying = new AbortController();
      const reply = chat.send(text, { ...sendOptions(), signal: replying.signal });
      for await (const piece of reply) onText(piece);
      result = await reply.result;
    } else {
      throw new Error('no chat');
    }
    const u = result.usage;
    ui.usage.textContent = `${u.promptTokens} prompt tokens (${u.reusedTokens} reused), ${u.generatedTokens} generated, ` +
      `${u.tokensPerSecond.toFixed(1)} tokens/s${result.stop === 'aborted' ? ' · stopped' : ''}`;
    setState('ready');
  } catch (err) {
    showError(err);
  }
}

ui.load.addEventListener('click', () => void loadHere());
ui.loadMain.addEventListener('click', () => void loadInMain());
ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  void send();
});
ui.stop.addEventListener('click', () => {
  if (where === 'main') void bridge?.stop();
  else replying?.abort();
});
window.addEventListener('beforeunload', () => void model?.dispose());
setState('idle');
