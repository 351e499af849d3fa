// The model cache from the API: pullModel, cachedModels and deleteCachedModel
// work the same in Node (the cache folder, runtime/hub/index.ts) and in
// browsers (the Origin Private File System or the Cache API,
// runtime/hub/web.ts). The Node module is imported only in Node, so browsers
// and bundlers never see node:*.
import type { CachedModel, PulledModel, PullProgress } from '../hub/pull.js';
import { cachedModelsWeb, deleteCachedModelWeb, pullModelWeb } from '../hub/web.js';

export type { CachedModel, PulledModel } from '../hub/pull.js';

export interface ModelCacheOptions {
  /** HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE (and in Node XDG_CACHE_HOME). Default: process.env in Node; none in browsers. */
  hubEnv?: Record<string, string | undefined>;
  /** Browsers: 'auto' (default: the Origin Private File System, else the Cache API), 'opfs' or 'cache'. */
  storage?: 'auto' | 'opfs' | 'cache';
}

export interface PullModelOptions extends ModelCacheOptions {
  signal?: AbortSignal;
  /** Bytes of every file of the model so far, as loadModel's onDownload. */
  onProgress?: (progress: PullProgress) => void;
  /** Things worth telling (working offline from the cache). */
  onNotice?: (message: string) => void;
  /** Tries after a dropped connection or a 5xx, each resuming where the last stopped. Default 5. */
  attempts?: number;
  /** Pause before the first retry, doubled each time. Default 1000 ms. */
  retryDelayMs?: number;
  /** An attempt with no bytes for this long is dropped and retried. Default 60 s. */
  idleTimeoutMs?: number;
}

const isNode = () => !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node && typeof (globalThis as { window?: unknown }).window === 'undefined';

async function nodeHub(): Promise<typeof import('../hub/index.js')> {
  const hubModule = '../hub/index.js';
  return (await import(/* @vite-ignore */ hubModule)) as typeof import('../hub/index.js');
}

const nodeEnv = (o: ModelCacheOptions) => (o.hubEnv ? { ...process.env, ...o.hubEnv } : undefined);

/**
 * Downloads a model by name (hf:user/repo[:QUANT], hf:user/repo/file.gguf,
 * user/repo:QUANT, an https URL) into the model cache, or finds it there;
 * resumed and verified. `path`/`files` are paths in Node, store keys in browsers.
 */
export async function pullModel(name: string, options: PullModelOptions = {}): Promise<PulledModel> {
  const { hubEnv, storage, ...tuning } = options;
  if (isNode()) return (await nodeHub()).pullModel(name, { ...tuning, env: nodeEnv(options) });
  return pullModelWeb(name, { ...tuning, env: hubEnv, storage });
}

/** The models in the cache (finished or partly downloaded; a split model is one entry). */
export async function cachedModels(options: ModelCacheOptions = {}): Promise<CachedModel[]> {
  if (isNode()) return (await nodeHub()).cachedModels({ env: nodeEnv(options) });
  return cachedModelsWeb({ env: options.hubEnv, storage: options.storage });
}

/** Deletes a cached model: a name or path as cachedModels gives it, or a model name; resolves to what was deleted. */
export async function deleteCachedModel(nameOrPath: string, options: ModelCacheOptions = {}): Promise<string[]> {
  if (isNode()) return (await nodeHub()).deleteCachedModel(nameOrPath, { env: nodeEnv(options) });
  return deleteCachedModelWeb(nameOrPath, { env: options.hubEnv, storage: options.storage });
}
