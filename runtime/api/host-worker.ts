// The host worker's entry: a worker_threads worker in Node (and Electron's
// main process), a module Web Worker in browsers and renderers. It wires the
// thread's message port to serve().
import './immediate.js';
import { serve, type HostPort } from './host.js';
import type { Reply, Request } from './protocol.js';

interface NodePort {
  postMessage(value: unknown, transfer?: readonly Transferable[]): void;
  on(event: 'message', listener: (value: unknown) => void): void;
}

async function nodePort(): Promise<NodePort | null> {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (!proc?.versions?.node) return null;
  const wtModule = 'node:worker_threads';
  const { parentPort } = (await import(/* @vite-ignore */ wtModule)) as typeof import('node:worker_threads');
  return parentPort as unknown as NodePort | null;
}

const parent = await nodePort();
let port: HostPort;
if (parent) {
  port = {
    post: (m: Reply, transfer?: Transferable[]) => parent.postMessage(m, transfer),
    onMessage: (h) => parent.on('message', (m) => h(m as Request)),
  };
} else {
  const scope = globalThis as unknown as {
    postMessage(m: unknown, transfer?: Transferable[]): void;
    addEventListener(type: 'message', h: (e: MessageEvent) => void): void;
  };
  port = {
    post: (m: Reply, transfer?: Transferable[]) => scope.postMessage(m, transfer ?? []),
    onMessage: (h) => scope.addEventListener('message', (e) => h(e.data as Request)),
  };
}
serve(port);
