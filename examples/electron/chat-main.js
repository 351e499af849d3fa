// @ts-check
// The main process's chat: run-gguf's Node entry (worker_threads), so the
// main process's event loop stays free while the model computes.
import { loadModel } from 'run-gguf';

/** @type {import('run-gguf').Model | undefined} */
let model;
/** @type {import('run-gguf').Chat | undefined} */
let chat;
/** @type {AbortController | undefined} */
let replying;

/** @param {string} path */
export async function load(path) {
  await close();
  model = await loadModel(path);
  chat = await model.createChat();
  return { info: model.info, threads: chat.threads };
}

/**
 * @param {string} text
 * @param {Omit<import('run-gguf').SendOptions, 'signal'>} options
 * @param {(text: string) => void} onText
 */
export async function send(text, options, onText) {
  if (!chat) throw new Error('load a model first');
  replying = new AbortController();
  const reply = chat.send(text, { ...options, signal: replying.signal });
  for await (const piece of reply) onText(piece);
  return reply.result;
}

export function stop() {
  replying?.abort();
}

export async function close() {
  const m = model;
  model = undefined;
  chat = undefined;
  await m?.dispose();
}
