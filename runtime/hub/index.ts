// run-gguf's model downloads in Node: a name (runtime/hub/names.ts) becomes
// local files in the cache folder, fetched once, resumed when interrupted,
// verified against the hub's checksums (the shared pull.ts over the folder
// store). `run-gguf pull`, every command's model argument and
// loadModel('hf:...') come through resolveModel / pullModel.
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { downloadInto, type Downloaded, type FileDownloadOptions } from './download.js';
import { hubEnv, type HubEnv } from './env.js';
import { parseModelName, type ModelName } from './names.js';
import { deleteStored, listStored, listRepoFiles as listWith, pullInto, type CachedModel, type PulledModel, type PullTuning } from './pull.js';
import { FolderStore } from './store-node.js';
import type { RepoFile } from './select.js';

export { parseModelName, looksLikeModelName, type ModelName } from './names.js';
export { hubEnv, hubCacheDir, runGgufCacheDir, type HubEnv } from './env.js';
export { type Checksum, type FileDownloadOptions } from './download.js';
export { selectFiles, findModelFile, isModelFile, type RepoFile } from './select.js';
export { PARTIAL_SUFFIX } from './store.js';
export type { CachedModel, PulledModel, PullProgress } from './pull.js';

export interface PullOptions extends PullTuning {
  /** Instead of process.env (tests). */
  env?: NodeJS.ProcessEnv;
}

const storeOf = (env: HubEnv) => new FolderStore(env.cacheDir);

/** Downloads `url` to the file `dest` (resumed from `dest`.partial, verified; see download.ts). */
export function downloadFile(url: string, dest: string, options: FileDownloadOptions = {}): Promise<Downloaded> {
  return downloadInto(new FolderStore(dirname(dest)), url, basename(dest), options);
}

/** The repository's files at its main branch. */
export function listRepoFiles(env: HubEnv, repo: string, signal?: AbortSignal): Promise<{ commit: string; files: RepoFile[] }> {
  return listWith(env, repo, signal);
}

/** Downloads (or finds in the cache) the files a name means; see PulledModel. */
export function pullModel(nameOrText: string | ModelName, options: PullOptions = {}): Promise<PulledModel> {
  const env = hubEnv(options.env);
  return pullInto(storeOf(env), env, nameOrText, options);
}

/** The models in the cache folder (finished or partly downloaded). */
export function cachedModels(options: { env?: NodeJS.ProcessEnv } = {}): Promise<CachedModel[]> {
  return listStored(storeOf(hubEnv(options.env)));
}

/** Deletes a cached model (its name or path as cachedModels gives it, or a model name); resolves to the files deleted. */
export function deleteCachedModel(nameOrPath: string, options: { env?: NodeJS.ProcessEnv } = {}): Promise<string[]> {
  return deleteStored(storeOf(hubEnv(options.env)), nameOrPath);
}

/**
 * A model argument as a local path: an existing path stays as it is; a model
 * name is pulled (or found in the cache) and its first file returned.
 */
export async function resolveModel(text: string, options: PullOptions = {}): Promise<string> {
  if (existsSync(text)) return text;
  const name = parseModelName(text);
  if (!name) return text;
  return (await pullModel(name, options)).path;
}
