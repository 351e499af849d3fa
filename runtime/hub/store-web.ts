// The browser stores: the Origin Private File System (navigator.storage.
// getDirectory()), else the Cache API where OPFS is missing. Both stream: a
// download is written chunk by chunk and read back by slices (a File or Blob
// backed by the browser's disk), so a multi-gigabyte model never sits in a
// JavaScript buffer whole.
//
// OPFS: in a worker (where loadModel downloads: the host worker) a sync access
// handle writes in place, flushed as it goes, so a partial download survives
// a closed tab and resumes; on a page's main thread, a writable stream, whose
// bytes become durable when it closes (after each attempt, dropped or not).
// Cache API: an entry is a list of segments (one per attempt, each a cached
// Response written from a stream), read back as one Blob of them.
import { DownloadError } from '../errors.js';
import { createSha1, createSha256, type Hasher } from './sha.js';
import type { HubStore, StoreWriter } from './store.js';

/** Where models go in a browser: 'opfs', 'cache' (the Cache API), or 'auto' (OPFS where it works). */
export type WebStorage = 'auto' | 'opfs' | 'cache';

export interface WebStore extends HubStore {
  readonly kind: 'opfs' | 'cache';
  /** The finished entry as a disk-backed Blob (read by slices). */
  blob(key: string): Promise<Blob>;
}

/** Folder (OPFS) / cache name everything goes under. */
const ROOT = 'run-gguf';
const SLICE = 8 * 1024 * 1024;
/** A sync access handle is flushed this often, so a closed tab keeps what arrived. */
const FLUSH_EVERY = 16 * 1024 * 1024;

interface SyncHandle {
  getSize(): number;
  truncate(size: number): void;
  write(data: Uint8Array, options: { at: number }): number;
  flush(): void;
  close(): void;
}

type Entries = AsyncIterable<[string, FileSystemHandle]>;

const isNotFound = (err: unknown) => (err as { name?: string })?.name === 'NotFoundError' || (err as { name?: string })?.name === 'TypeError';

async function* sliceBlob(blob: Blob, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  for (let at = 0; at < blob.size; at += SLICE) {
    signal?.throwIfAborted();
    yield new Uint8Array(await blob.slice(at, Math.min(blob.size, at + SLICE)).arrayBuffer());
  }
}

const hasher = (kind: 'sha256' | 'sha1'): Hasher => (kind === 'sha256' ? createSha256() : createSha1());

/**
 * One writer per partial download across tabs and workers (Web Locks); a
 * second one is refused, as Node refuses a second process.
 */
async function webLock(key: string, url: string): Promise<() => Promise<void>> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) return async () => {};
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const got = await new Promise<boolean>((resolve, reject) => {
    locks.request(`run-gguf:${key}`, { ifAvailable: true }, async (lock) => {
      resolve(lock !== null);
      if (lock) await held;
    }).catch(reject);
  });
  if (!got) throw new DownloadError(`${url}: another tab or worker is already downloading it (${key}); wait for it to finish`, url);
  return async () => release();
}

class OpfsStore implements WebStore {
  readonly kind = 'opfs' as const;
  constructor(private readonly root: FileSystemDirectoryHandle) {}

  locate(key: string): string {
    return key;
  }

  private async dir(parts: string[], create: boolean): Promise<FileSystemDirectoryHandle> {
    let d = this.root;
    for (const p of parts) d = await d.getDirectoryHandle(p, { create });
    return d;
  }

  private async handle(key: string, create = false): Promise<FileSystemFileHandle | undefined> {
    const parts = key.split('/');
    try {
      return await (await this.dir(parts.slice(0, -1), create)).getFileHandle(parts[parts.length - 1]!, { create });
    } catch (err) {
      if (!create && isNotFound(err)) return undefined;
      throw err;
    }
  }

  async size(key: string): Promise<number | undefined> {
    const h = await this.handle(key);
    return h ? (await h.getFile()).size : undefined;
  }

  async blob(key: string): Promise<Blob> {
    const h = await this.handle(key);
    if (!h) throw new DownloadError(`${key} is not in the Origin Private File System`);
    return h.getFile();
  }

  async *chunks(key: string, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    yield* sliceBlob(await this.blob(key), signal);
  }

  async writer(key: string, append: boolean): Promise<StoreWriter> {
    const h = (await this.handle(key, true))!;
    const sync = (h as { createSyncAccessHandle?: () => Promise<SyncHandle> }).createSyncAccessHandle;
    if (typeof sync === 'function') {
      // a dedicated worker: writes land in the file itself
      const access = await sync.call(h);
      if (!append) access.truncate(0);
      let at = access.getSize();
      let unflushed = 0;
      return {
        write: async (chunk) => {
          for (let n = 0; n < chunk.length;) n += access.write(chunk.subarray(n), { at: at + n });
          at += chunk.length;
          unflushed += chunk.length;
          if (unflushed >= FLUSH_EVERY) {
            access.flush();
            unflushed = 0;
          }
        },
        close: async () => {
          access.flush();
          access.close();
        },
      };
    }
    const w = await h.createWritable({ keepExistingData: append });
    if (append) await w.seek((await h.getFile()).size);
    return { write: (chunk) => w.write(chunk as Uint8Array<ArrayBuffer>), close: () => w.close() };
  }

  async readText(key: string): Promise<string | undefined> {
    const h = await this.handle(key);
    return h ? (await h.getFile()).text() : undefined;
  }

  async writeText(key: string, text: string): Promise<void> {
    const w = await this.writer(key, false);
    await w.write(new TextEncoder().encode(text));
    await w.close();
  }

  async rename(from: string, to: string): Promise<void> {
    const src = await this.handle(from);
    if (!src) throw new DownloadError(`${from} is not in the Origin Private File System`);
    await this.remove(to);
    const parts = to.split('/');
    const move = (src as { move?: (dir: FileSystemDirectoryHandle, name: string) => Promise<void> }).move;
    if (typeof move === 'function') {
      await move.call(src, await this.dir(parts.slice(0, -1), true), parts[parts.length - 1]!);
      return;
    }
    // no move(): copied by slices, then the source deleted
    const w = await this.writer(to, false);
    try {
      for await (const chunk of this.chunks(from)) await w.write(chunk);
    } finally {
      await w.close();
    }
    await this.remove(from);
  }

  async remove(key: string): Promise<void> {
    const parts = key.split('/');
    try {
      await (await this.dir(parts.slice(0, -1), false)).removeEntry(parts[parts.length - 1]!);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (d: FileSystemDirectoryHandle, at: string) => {
      for await (const [name, h] of (d as unknown as { entries(): Entries }).entries()) {
        const key = at ? `${at}/${name}` : name;
        if (h.kind === 'directory') await walk(h as FileSystemDirectoryHandle, key);
        else out.push(key);
      }
    };
    try {
      await walk(prefix ? await this.dir(prefix.split('/'), false) : this.root, prefix);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return out.sort();
  }

  lock(key: string, url: string): Promise<() => Promise<void>> {
    return webLock(key, url);
  }

  hasher(kind: 'sha256' | 'sha1'): Hasher {
    return hasher(kind);
  }
}

/** Cache API keys are URLs: an entry's segments are <base><key>~<n>. */
const BASE = 'https://run-gguf.invalid/';

class CacheStore implements WebStore {
  readonly kind = 'cache' as const;
  constructor(private readonly cache: Cache) {}

  locate(key: string): string {
    return key;
  }

  /** The entry's segments' URLs, in order. */
  private async segments(key: string): Promise<string[]> {
    const want = BASE + encodeURI(key) + '~';
    const urls = (await this.cache.keys()).map((r) => r.url).filter((u) => u.startsWith(want) && /^\d+$/.test(u.slice(want.length)));
    return urls.sort((a, b) => Number(a.slice(want.length)) - Number(b.slice(want.length)));
  }

  private async parts(key: string): Promise<Blob[] | undefined> {
    const segs = await this.segments(key);
    if (segs.length === 0) return undefined;
    const blobs: Blob[] = [];
    for (const u of segs) {
      const r = await this.cache.match(u);
      if (r) blobs.push(await r.blob());
    }
    return blobs;
  }

  async size(key: string): Promise<number | undefined> {
    const parts = await this.parts(key);
    return parts ? parts.reduce((n, b) => n + b.size, 0) : undefined;
  }

  async blob(key: string): Promise<Blob> {
    const parts = await this.parts(key);
    if (!parts) throw new DownloadError(`${key} is not in the Cache API store`);
    return new Blob(parts);
  }

  async *chunks(key: string, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    yield* sliceBlob(await this.blob(key), signal);
  }

  async writer(key: string, append: boolean): Promise<StoreWriter> {
    if (!append) await this.remove(key);
    const n = (await this.segments(key)).length;
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const w = writable.getWriter();
    const put = this.cache.put(`${BASE}${encodeURI(key)}~${n}`, new Response(readable as ReadableStream<Uint8Array<ArrayBuffer>>));
    put.catch(() => {});
    return {
      write: (chunk) => w.write(chunk),
      // the stream ends cleanly even after a dropped download: its bytes so far are kept
      close: async () => {
        await w.close();
        await put;
      },
    };
  }

  async readText(key: string): Promise<string | undefined> {
    const parts = await this.parts(key);
    return parts ? new Blob(parts).text() : undefined;
  }

  async writeText(key: string, text: string): Promise<void> {
    await this.remove(key);
    await this.cache.put(`${BASE}${encodeURI(key)}~0`, new Response(text));
  }

  async rename(from: string, to: string): Promise<void> {
    await this.remove(to);
    const segs = await this.segments(from);
    for (let i = 0; i < segs.length; i++) {
      const r = await this.cache.match(segs[i]!);
      if (r) await this.cache.put(`${BASE}${encodeURI(to)}~${i}`, r);
    }
    await this.remove(from);
  }

  async remove(key: string): Promise<void> {
    for (const u of await this.segments(key)) await this.cache.delete(u);
  }

  async list(prefix: string): Promise<string[]> {
    const keys = new Set<string>();
    for (const r of await this.cache.keys()) {
      if (!r.url.startsWith(BASE)) continue;
      const key = decodeURI(r.url.slice(BASE.length)).replace(/~\d+$/, '');
      if (!prefix || key.startsWith(`${prefix}/`)) keys.add(key);
    }
    return [...keys].sort();
  }

  lock(key: string, url: string): Promise<() => Promise<void>> {
    return webLock(key, url);
  }

  hasher(kind: 'sha256' | 'sha1'): Hasher {
    return hasher(kind);
  }
}

/** The store for `kind`; DownloadError when this browser has neither OPFS nor the Cache API (or not the one asked for). */
export async function openWebStore(kind: WebStorage = 'auto'): Promise<WebStore> {
  if (!['auto', 'opfs', 'cache'].includes(kind)) throw new RangeError(`storage: expected 'auto', 'opfs' or 'cache', got ${JSON.stringify(kind)}`);
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  let why = '';
  if (kind !== 'cache') {
    if (typeof storage?.getDirectory === 'function') {
      try {
        return new OpfsStore(await (await storage.getDirectory()).getDirectoryHandle(ROOT, { create: true }));
      } catch (err) {
        why = `the Origin Private File System failed (${(err as Error).message})`;
      }
    } else {
      why = 'this browser has no Origin Private File System';
    }
    if (kind === 'opfs') throw new DownloadError(`cannot store models: ${why}`);
  }
  if (typeof globalThis.caches?.open === 'function') return new CacheStore(await caches.open(ROOT));
  throw new DownloadError(`cannot store models: ${why ? `${why}, and ` : ''}the Cache API is missing (it needs a secure context: https or localhost)`);
}
