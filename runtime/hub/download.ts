// One file over HTTP(S) into a store (store.ts): written to `<key>.partial`,
// resumed with a Range request after a dropped connection (in this run, or
// the next one), checked against the checksum the server publishes (the
// listing's LFS sha256, X-Linked-Etag or a sha256 ETag, or the git blob sha1
// of small files), and only then renamed to `key`. A body that fails the check
// is deleted: a corrupted file is never kept. Shared by Node and browsers.
import { DownloadError } from '../errors.js';
import { request, statusMessage, type Answer, type HttpAuth } from './http.js';
import type { Hasher } from './sha.js';
import { PARTIAL_SUFFIX, SIDECAR_SUFFIX, type HubStore } from './store.js';

export interface Checksum {
  /** Hex sha256 of the whole file (an LFS oid). */
  sha256?: string;
  /** Hex sha1 of git's blob object ("blob <size>\0" + bytes): a file kept in git, not LFS. */
  gitSha1?: string;
  size?: number;
}

export interface FileDownloadOptions {
  auth?: HttpAuth;
  /** What the file must hash to; when absent, the server's X-Linked-Etag / ETag if it is a sha256. */
  expected?: Checksum;
  signal?: AbortSignal;
  /** Bytes of this file so far (counting what a resumed .partial already held) and its size (0 while unknown). */
  onProgress?: (received: number, total: number) => void;
  /** Tries after a dropped connection or a 5xx, each resuming where the last stopped. Default 5. */
  attempts?: number;
  /** Pause before the first retry, doubled each time. Default 1000 ms. */
  retryDelayMs?: number;
  /** An attempt with no bytes for this long is dropped and retried. Default 60 s. */
  idleTimeoutMs?: number;
}

export interface Downloaded {
  /** Where the file is (store.locate of its key). */
  path: string;
  size: number;
  /** The checksum the body was verified against (hex), or undefined when the server published none. */
  verified?: string;
  /** The server's ETag (for a later "has it changed" check), unquoted. */
  etag?: string;
}

export { PARTIAL_SUFFIX };

export const unquote = (etag: string | null) => (etag ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');
const isSha256 = (s: string) => /^[0-9a-f]{64}$/i.test(s);

async function hashEntry(hash: Hasher, store: HubStore, key: string, signal?: AbortSignal): Promise<void> {
  for await (const chunk of store.chunks(key, signal)) hash.update(chunk);
}

function newHash(store: HubStore, expected: { kind: 'sha256' | 'gitSha1'; size: number } | null): Hasher {
  if (expected?.kind === 'gitSha1') {
    const h = store.hasher('sha1');
    h.update(new TextEncoder().encode(`blob ${expected.size}\0`));
    return h;
  }
  return store.hasher('sha256');
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (ms <= 0) return resolve();
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
});

/** The sha256 of a stored entry (hex). */
export async function sha256Entry(store: HubStore, key: string, signal?: AbortSignal): Promise<string> {
  const h = store.hasher('sha256');
  await hashEntry(h, store, key, signal);
  return h.digest();
}

/** Downloads `url` into `key` of `store` (see the file comment). Resolves when the entry holds the verified file. */
export async function downloadInto(store: HubStore, url: string, key: string, options: FileDownloadOptions = {}): Promise<Downloaded> {
  const unlock = await store.lock(key + PARTIAL_SUFFIX, url);
  try {
    return await downloadLocked(store, url, key, options);
  } finally {
    await unlock();
  }
}

async function downloadLocked(store: HubStore, url: string, key: string, options: FileDownloadOptions): Promise<Downloaded> {
  const { signal, auth } = options;
  const attempts = options.attempts ?? 5;
  const idleMs = options.idleTimeoutMs ?? 60_000;
  let delay = options.retryDelayMs ?? 1000;
  const partial = key + PARTIAL_SUFFIX;
  const shown = store.locate(partial);
  let lastProblem = '';
  let restartedAfterMismatch = false;

  for (let attempt = 0; attempt < attempts; attempt++) {
    signal?.throwIfAborted();
    if (attempt > 0) {
      await sleep(delay, signal);
      delay *= 2;
    }
    let have = (await store.size(partial)) ?? 0;
    const idle = new AbortController();
    const both = signal ? AbortSignal.any([signal, idle.signal]) : idle.signal;
    // a server that never answers is dropped and tried again, like one that stops sending
    const answerTimer = setTimeout(() => idle.abort(new DownloadError(`${url}: no answer for ${idleMs / 1000} s`, url)), idleMs);
    let answer: Answer;
    try {
      answer = await request(url, { headers: have > 0 ? { range: `bytes=${have}-`, 'accept-encoding': 'identity' } : { 'accept-encoding': 'identity' }, auth, signal: both });
    } catch (err) {
      if (!idle.signal.aborted || signal?.aborted) throw err;
      lastProblem = (idle.signal.reason as Error).message;
      continue;
    } finally {
      clearTimeout(answerTimer);
    }
    const { response, first } = answer;

    if (response.status === 416 && have > 0) {
      // the partial already holds the whole file (or more): check it from scratch below
      await response.body?.cancel().catch(() => {});
      const size = options.expected?.size;
      if (size === undefined || have !== size) {
        await store.remove(partial).catch(() => {});
        lastProblem = `${url}: the server refused to resume at byte ${have}`;
        attempt--; // not a network failure: start over at once
        continue;
      }
    } else if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      const msg = statusMessage(url, response.status, response.statusText, auth);
      if (response.status >= 500 || response.status === 429) {
        lastProblem = msg;
        continue;
      }
      throw new DownloadError(msg, url, response.status);
    }

    // a 200 to a Range request is the whole file again: drop what we had
    const fromStart = have === 0 || response.status === 200;
    if (response.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have) {
        await response.body?.cancel().catch(() => {});
        await store.remove(partial).catch(() => {});
        lastProblem = `${url}: the server resumed at the wrong byte (${response.headers.get('content-range')})`;
        attempt--;
        continue;
      }
    }
    if (fromStart && have > 0) have = 0;

    // what the body must hash to
    const linked = unquote(first.get('x-linked-etag'));
    const etag = unquote(response.headers.get('etag')) || unquote(first.get('etag'));
    const serverSha = isSha256(linked) ? linked : isSha256(etag) ? etag : undefined;
    const lengthHeader = response.headers.get('content-length');
    const linkedSize = Number(first.get('x-linked-size') ?? NaN);
    const total = response.status === 416 ? have
      : lengthHeader !== null && Number.isSafeInteger(Number(lengthHeader)) ? have + Number(lengthHeader)
      : options.expected?.size ?? (Number.isSafeInteger(linkedSize) ? linkedSize : 0);
    const expectedSize = options.expected?.size ?? (Number.isSafeInteger(total) && total > 0 ? total : undefined);
    const check: { kind: 'sha256' | 'gitSha1'; hex: string; size: number } | null =
      options.expected?.sha256 ? { kind: 'sha256', hex: options.expected.sha256.toLowerCase(), size: expectedSize ?? 0 }
      : options.expected?.gitSha1 && expectedSize !== undefined ? { kind: 'gitSha1', hex: options.expected.gitSha1.toLowerCase(), size: expectedSize }
      : serverSha ? { kind: 'sha256', hex: serverSha.toLowerCase(), size: expectedSize ?? 0 } : null;
    if (options.expected?.sha256 && serverSha && serverSha.toLowerCase() !== options.expected.sha256.toLowerCase()) {
      await response.body?.cancel().catch(() => {});
      throw new DownloadError(`${url}: the server's checksum ${serverSha} is not the listing's ${options.expected.sha256} (the file changed while downloading? pull again)`, url);
    }

    const hash = newHash(store, check);
    if (!fromStart) await hashEntry(hash, store, partial, signal);
    let received = have;
    options.onProgress?.(received, total);
    let dropped: unknown = null;
    let storeFailure: unknown = null;
    if (response.status !== 416) {
      const fh = await store.writer(partial, !fromStart);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(new DownloadError(`${url}: no data for ${idleMs / 1000} s`, url)), idleMs);
      };
      try {
        arm();
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          arm();
          try {
            await fh.write(chunk);
          } catch (err) {
            // the disk (or the browser's quota) refused: not a network fault to retry
            storeFailure = err;
            break;
          }
          hash.update(chunk);
          received += chunk.length;
          options.onProgress?.(received, total);
        }
      } catch (err) {
        if (signal?.aborted) throw signal.reason ?? err;
        dropped = err;
      } finally {
        clearTimeout(timer);
        await fh.close();
      }
    }
    if (storeFailure) {
      throw new DownloadError(`${url}: could not write ${shown} at byte ${received}: ${(storeFailure as Error).message ?? storeFailure} (is the disk full, or the browser's storage quota used up?)`, url);
    }
    if (dropped || (total > 0 && received < total)) {
      lastProblem = `${url}: the connection dropped at byte ${received}${total ? ` of ${total}` : ''}${dropped ? ` (${(dropped as Error).message})` : ''}`;
      continue;
    }
    if (expectedSize !== undefined && received !== expectedSize) {
      await store.remove(partial).catch(() => {});
      throw new DownloadError(`${url}: got ${received} bytes, expected ${expectedSize}; the partial file was deleted`, url);
    }
    if (check) {
      const got = hash.digest();
      if (got !== check.hex) {
        await store.remove(partial).catch(() => {});
        // a partial from an older version of the file resumes into a wrong whole: once more from zero
        if (!fromStart && !restartedAfterMismatch) {
          restartedAfterMismatch = true;
          lastProblem = `${url}: checksum mismatch after resuming`;
          attempt--;
          continue;
        }
        throw new DownloadError(`${url}: checksum mismatch: the body's ${check.kind === 'sha256' ? 'sha256' : 'git sha1'} is ${got}, the server published ${check.hex}; the download was deleted`, url);
      }
    }
    await store.rename(partial, key);
    const verified = check?.hex;
    await store.writeText(key + SIDECAR_SUFFIX, `${verified ?? etag}\n`).catch(() => {});
    return { path: store.locate(key), size: received, verified, etag: etag || undefined };
  }
  throw new DownloadError(`${lastProblem || url}; gave up after ${attempts} tries (try again to resume from ${shown})`, url);
}
