// Where downloaded models live: the one platform-specific part of the hub
// code. Everything else (names, quant choice, URLs, the HTTP resume and
// integrity rules in download.ts and pull.ts) is shared by Node, whose store
// is a cache folder (store-node.ts), and browsers, whose store is the Origin
// Private File System or the Cache API (store-web.ts).
//
// Keys are '/'-separated relative paths (hf/user/repo/file.gguf,
// url/host/path/file.gguf); a key's sidecar is the key + '.etag', its download
// in progress the key + '.partial'.
import type { Hasher } from './sha.js';

export interface StoreWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Makes what was written durable (also after a failure: the bytes so far are kept for a resume). */
  close(): Promise<void>;
}

export interface HubStore {
  /** How a key is shown and returned to the caller: a path in Node, the key itself in browsers. */
  locate(key: string): string;
  /** Bytes in the entry, or undefined when it does not exist. */
  size(key: string): Promise<number | undefined>;
  /** The entry's bytes in order, a slice at a time (never the whole file at once). */
  chunks(key: string, signal?: AbortSignal): AsyncIterable<Uint8Array>;
  /** A writer at the entry's end (append), or at its start after truncating it. */
  writer(key: string, append: boolean): Promise<StoreWriter>;
  readText(key: string): Promise<string | undefined>;
  writeText(key: string, text: string): Promise<void>;
  /** Replaces `to` with `from`. */
  rename(from: string, to: string): Promise<void>;
  /** Deletes the entry; no error when it is absent. */
  remove(key: string): Promise<void>;
  /** Keys of the entries under `prefix` (a folder key, '' for all), sorted. */
  list(prefix: string): Promise<string[]>;
  /** One writer per partial download across processes or tabs; resolves to the release function. */
  lock(key: string, url: string): Promise<() => Promise<void>>;
  /** sha256, or git's sha1. */
  hasher(kind: 'sha256' | 'sha1'): Hasher;
}

export const PARTIAL_SUFFIX = '.partial';
export const SIDECAR_SUFFIX = '.etag';
