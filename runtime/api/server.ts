// createServer on the package's main entry. The server (runtime/server) is
// Node-only and runs the in-thread engine, so it is loaded on first use from
// beside this module: the browser bundle never includes it.
import type { Model as CoreModel } from '../model.js';
import type { RunGgufServer, ServerOptions } from '../server/index.js';

export type { RunGgufServer, ServerOptions } from '../server/index.js';

/**
 * An OpenAI-compatible HTTP server (Node only) over a GGUF file at a path, or
 * over a model loaded with run-gguf/core's loadModel. The engine computes on
 * the calling thread and its workers; in Electron, run it in a utility process.
 */
export async function createServer(model: CoreModel | string, options: ServerOptions = {}): Promise<RunGgufServer> {
  if (typeof process === 'undefined' || !process.versions?.node) throw new Error('createServer needs Node (node:http)');
  // a computed specifier: bundlers leave it alone
  const spec = new URL('../server/index.js', import.meta.url).href;
  const m = (await import(/* @vite-ignore */ /* webpackIgnore: true */ spec)) as typeof import('../server/index.js');
  return m.createServer(model, options);
}
