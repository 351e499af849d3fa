// One file over HTTP(S) into place: written to `<dest>.partial` beside the
// destination, resumed with a Range request after a dropped connection (in
// this run, or the next one), checked against the checksum the server
// publishes (the listing's LFS sha256, X-Linked-Etag or a sha256 ETag, or the
// git blob sha1 of small files), and only then renamed to `dest`. A body that
// fails the check is deleted: a corrupted file is never kept.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DownloadError } from '../errors.js';

export interface Checksum {
  /** Hex sha256 of the whole file (an LFS oid). */
  sha256?: string;
  /** Hex sha1 of git's blob object ("blob <size>\0" + bytes): a file kept in git, not LFS. */
  gitSha1?: string;
  size?: number;
}

export interface HttpAuth {
  /** Sent as `Authorization: Bearer` to this origin only (never to a CDN a redirect leads to). */
  token?: string;
  origin?: string;
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
  path: string;
  size: number;
  /** The checksum the body was verified against (hex), or undefined when the server published none. */
  verified?: string;
  /** The server's ETag (for a later "has it changed" check), unquoted. */
  etag?: string;
}

export const USER_AGENT = 'run-gguf';
export const PARTIAL_SUFFIX = '.partial';

const unquote = (etag: string | null) => (etag ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');
const isSha256 = (s: string) => /^[0-9a-f]{64}$/i.test(s);

interface Answer {
  response: Response;
  /** Headers of the first answer: the hub puts X-Linked-Etag / X-Linked-Size on its redirect. */
  first: Headers;
  url: string;
}

/** GET (or HEAD) following redirects by hand, so the token goes only to its own origin. */
export async function request(url: string, init: { method?: string; headers?: Record<string, string>; auth?: HttpAuth; signal?: AbortSignal }): Promise<Answer> {
  let u = url;
  let first: Headers | undefined;
  for (let hop = 0; hop < 10; hop++) {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...init.headers };
    if (init.auth?.token && init.auth.origin && new URL(u).origin === init.auth.origin) headers.authorization = `Bearer ${init.auth.token}`;
    let response: Response;
    try {
      response = await fetch(u, { method: init.method ?? 'GET', headers, redirect: 'manual', signal: init.signal });
    } catch (err) {
      if (init.signal?.aborted) throw init.signal.reason ?? err;
      throw new DownloadError(`${u}: ${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause: Error }).cause.message})` : ''}`, u);
    }
    first ??= response.headers;
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel().catch(() => {});
      u = new URL(location, u).href;
      continue;
    }
    return { response, first, url: u };
  }
  throw new DownloadError(`${url}: more than 10 redirects`, url);
}

/** Why a status failed, in words a user can act on. */
export function statusMessage(url: string, status: number, statusText: string, auth?: HttpAuth): string {
  const hint = status === 401 || status === 403
    ? auth?.token ? ' (HF_TOKEN was sent: does it grant access to this repository? gated repositories need their terms accepted first)' : ' (a private or gated repository needs HF_TOKEN)'
    : status === 404 ? ' (no such repository, revision or file)' : '';
  return `${url}: HTTP ${status}${statusText ? ` ${statusText}` : ''}${hint}`;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function hashPrefix(hash: Hash, path: string, signal?: AbortSignal): Promise<void> {
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
}

function newHash(expected: { kind: 'sha256' | 'gitSha1'; size: number } | null): Hash {
  if (expected?.kind === 'gitSha1') {
    const h = createHash('sha1');
    h.update(`blob ${expected.size}\0`);
    return h;
  }
  return createHash('sha256');
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (ms <= 0) return resolve();
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
});

/** The sha256 of a file on disk (hex). */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  await hashPrefix(h, path, signal);
  return h.digest('hex');
}

/** Downloads `url` to `dest` (see the file comment). Resolves when `dest` holds the verified file. */
export async function downloadFile(url: string, dest: string, options: FileDownloadOptions = {}): Promise<Downloaded> {
  await mkdir(dirname(dest), { recursive: true });
  const unlock = await lockPartial(dest + PARTIAL_SUFFIX, url);
  try {
    return await downloadLocked(url, dest, options);
  } finally {
    await unlock();
  }
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * One writer per .partial: two processes appending to it would interleave
 * their bytes. A lock left by a process that is gone is taken over.
 */
async function lockPartial(partial: string, url: string): Promise<() => Promise<void>> {
  const lock = `${partial}.lock`;
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fh = await open(lock, 'wx');
      await fh.write(`${process.pid}\n`);
      await fh.close();
      return () => unlink(lock).catch(() => {});
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let pid = NaN;
      try {
        pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
      } catch { /* removed meanwhile */ }
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new DownloadError(`${url}: process ${pid} is already downloading it into ${partial}; wait for it to finish (or remove ${lock} if it is not running)`, url);
      }
      await unlink(lock).catch(() => {});
    }
  }
  throw new DownloadError(`${url}: could not lock ${lock}`, url);
}

async function downloadLocked(url: string, dest: string, options: FileDownloadOptions): Promise<Downloaded> {
  const { signal, auth } = options;
  const attempts = options.attempts ?? 5;
  const idleMs = options.idleTimeoutMs ?? 60_000;
  let delay = options.retryDelayMs ?? 1000;
  const partial = dest + PARTIAL_SUFFIX;
  let lastProblem = '';
  let restartedAfterMismatch = false;

  for (let attempt = 0; attempt < attempts; attempt++) {
    signal?.throwIfAborted();
    if (attempt > 0) {
      await sleep(delay, signal);
      delay *= 2;
    }
    let have = await sizeOf(partial);
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
        await unlink(partial).catch(() => {});
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
        await unlink(partial).catch(() => {});
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

    const hash = newHash(check);
    if (!fromStart) await hashPrefix(hash, partial, signal);
    let received = have;
    options.onProgress?.(received, total);
    let dropped: unknown = null;
    if (response.status !== 416) {
      const fh = await open(partial, fromStart ? 'w' : 'a');
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(new DownloadError(`${url}: no data for ${idleMs / 1000} s`, url)), idleMs);
      };
      try {
        arm();
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          arm();
          await fh.write(chunk);
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
    if (dropped || (total > 0 && received < total)) {
      lastProblem = `${url}: the connection dropped at byte ${received}${total ? ` of ${total}` : ''}${dropped ? ` (${(dropped as Error).message})` : ''}`;
      continue;
    }
    if (expectedSize !== undefined && received !== expectedSize) {
      await unlink(partial).catch(() => {});
      throw new DownloadError(`${url}: got ${received} bytes, expected ${expectedSize}; the partial file was deleted`, url);
    }
    if (check) {
      const got = hash.digest('hex');
      if (got !== check.hex) {
        await unlink(partial).catch(() => {});
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
    await rename(partial, dest);
    const verified = check?.hex;
    await writeFile(dest + '.etag', `${verified ?? etag}\n`).catch(() => {});
    return { path: dest, size: received, verified, etag: etag || undefined };
  }
  throw new DownloadError(`${lastProblem || url}; gave up after ${attempts} tries (run the same command again to resume from ${partial})`, url);
}
