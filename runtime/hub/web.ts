// run-gguf's model downloads in browsers: the same names, listing, quant
// choice, resume and integrity rules as Node (pull.ts), stored in the Origin
// Private File System or the Cache API (store-web.ts), so a reload finds the
// model there and does not download it again. No node:* imports.
import { hubSettings, deleteStored, listStored, pullInto, type CachedModel, type HubVariables, type PulledModel, type PullTuning } from './pull.js';
import { openWebStore, type WebStorage } from './store-web.js';
import type { ModelName } from './names.js';

export type { WebStorage } from './store-web.js';

export interface WebHubOptions {
  /** HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE as Node reads them from its environment (a page has none). */
  env?: HubVariables;
  /** Where models are kept. Default 'auto': the Origin Private File System, else the Cache API. */
  storage?: WebStorage;
}

export type WebPullOptions = PullTuning & WebHubOptions;

/** Downloads (or finds in the browser's store) the files a name means; paths are store keys. */
export async function pullModelWeb(nameOrText: string | ModelName, options: WebPullOptions = {}): Promise<PulledModel> {
  return pullInto(await openWebStore(options.storage), hubSettings(options.env ?? {}), nameOrText, options);
}

/** The pulled model's files as disk-backed Blobs (named by their file names), for loading by slices. */
export async function openPulledWeb(pulled: PulledModel, options: WebHubOptions = {}): Promise<{ name: string; blob: Blob }[]> {
  const store = await openWebStore(options.storage);
  return Promise.all(pulled.files.map(async (key) => ({ name: key.slice(key.lastIndexOf('/') + 1), blob: await store.blob(key) })));
}

export async function cachedModelsWeb(options: WebHubOptions = {}): Promise<CachedModel[]> {
  return listStored(await openWebStore(options.storage));
}

export async function deleteCachedModelWeb(nameOrPath: string, options: WebHubOptions = {}): Promise<string[]> {
  return deleteStored(await openWebStore(options.storage), nameOrPath);
}
