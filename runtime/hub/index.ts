// run-gguf's model downloads (Node): a name (runtime/hub/names.ts) becomes
// local files in the cache, fetched once, resumed when interrupted, verified
// against the hub's checksums. `run-gguf pull`, every command's model
// argument and loadModel('hf:...') come through resolveModel / pullModel.
import { existsSync, readFileSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { DownloadError } from '../errors.js';
import { downloadFile, PARTIAL_SUFFIX, request, sha256File, statusMessage, type HttpAuth } from './download.js';
import { hubEnv, type HubEnv } from './env.js';
import { parseModelName, type ModelName } from './names.js';
import { selectFiles, type RepoFile } from './select.js';

export { parseModelName, looksLikeModelName, type ModelName } from './names.js';
export { hubEnv, hubCacheDir, runGgufCacheDir, type HubEnv } from './env.js';
export { downloadFile, type Checksum, type FileDownloadOptions } from './download.js';
export { selectFiles, findModelFile, isModelFile, type RepoFile } from './select.js';

export interface PullProgress {
  /** The file being fetched (its path in the repository, or its URL's last part). */
  file: string;
  /** 0-based, of fileCount (a split model has several). */
  fileIndex: number;
  fileCount: number;
  /** Bytes of every file of the model so far (counting files already in the cache), and their total (0 while unknown). */
  downloadedBytes: number;
  totalBytes: number;
}

export interface PullOptions {
  signal?: AbortSignal;
  onProgress?: (p: PullProgress) => void;
  /** Things worth telling (working offline from the cache). */
  onNotice?: (message: string) => void;
  /** Instead of process.env (tests). */
  env?: NodeJS.ProcessEnv;
  /** Passed to each file's download (see FileDownloadOptions). */
  attempts?: number;
  retryDelayMs?: number;
  idleTimeoutMs?: number;
}

export interface PulledModel {
  /** The file to load: the model, or a split model's first shard. */
  path: string;
  /** Every file of the model, in shard order. */
  files: string[];
  /** Bytes fetched now (0 when everything came from the cache). */
  downloadedBytes: number;
  /** The hub revision the files are from (hf: names), when known. */
  commit?: string;
}

interface Planned {
  url: string;
  dest: string;
  label: string;
  size?: number;
  sha256?: string;
  gitSha1?: string;
}

const isHex = (s: string, n: number) => s.length === n && /^[0-9a-f]+$/i.test(s);

async function getJson(url: string, auth: HttpAuth, signal?: AbortSignal): Promise<{ json: unknown; next?: string }> {
  const { response } = await request(url, { headers: { accept: 'application/json' }, auth, signal });
  if (!response.ok) {
    let detail = '';
    try {
      const body = (await response.json()) as { error?: unknown };
      if (typeof body?.error === 'string') detail = `: ${body.error}`;
    } catch { /* no JSON body */ }
    throw new DownloadError(statusMessage(url, response.status, response.statusText, auth) + detail, url, response.status);
  }
  const link = response.headers.get('link') ?? '';
  const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1];
  try {
    return { json: await response.json(), next: next ? new URL(next, url).href : undefined };
  } catch (err) {
    throw new DownloadError(`${url}: the answer is not JSON (${(err as Error).message})`, url);
  }
}

/** The repository's files at its main branch (llama.cpp's order of calls: refs, then the tree at that commit). */
export async function listRepoFiles(env: HubEnv, repo: string, signal?: AbortSignal): Promise<{ commit: string; files: RepoFile[] }> {
  const auth: HttpAuth = { token: env.token, origin: new URL(env.endpoint).origin };
  const refs = (await getJson(`${env.endpoint}/api/models/${repo}/refs`, auth, signal)).json as { branches?: { name?: unknown; targetCommit?: unknown }[] };
  const branches = Array.isArray(refs?.branches) ? refs.branches : [];
  const valid = branches.filter((b) => typeof b.name === 'string' && typeof b.targetCommit === 'string' && isHex(b.targetCommit, 40));
  const branch = valid.find((b) => b.name === 'main') ?? valid[0];
  const commit = branch ? (branch.targetCommit as string) : 'main';
  const files: RepoFile[] = [];
  let url: string | undefined = `${env.endpoint}/api/models/${repo}/tree/${commit}?recursive=true`;
  for (let page = 0; url && page < 1000; page++) {
    const { json, next } = await getJson(url, auth, signal);
    if (!Array.isArray(json)) throw new DownloadError(`${url}: expected a JSON array of files`, url);
    for (const item of json as { type?: unknown; path?: unknown; size?: unknown; oid?: unknown; lfs?: { oid?: unknown; size?: unknown } }[]) {
      if (item?.type !== 'file' || typeof item.path !== 'string') continue;
      // a path that would leave the repository's folder is not a file of it
      if (item.path.startsWith('/') || item.path.split('/').some((p) => p === '..' || p === '' || p === '.') || item.path.includes('\\')) continue;
      const lfsOid = typeof item.lfs?.oid === 'string' && isHex(item.lfs.oid, 64) ? item.lfs.oid : undefined;
      const gitOid = !item.lfs && typeof item.oid === 'string' && isHex(item.oid, 40) ? item.oid : undefined;
      const size = typeof item.lfs?.size === 'number' ? item.lfs.size : typeof item.size === 'number' ? item.size : undefined;
      files.push({ path: item.path, size, oid: lfsOid ?? gitOid });
    }
    url = next;
  }
  return { commit, files };
}

/** Files under a cached repository folder, as a listing (for offline use). */
async function cachedRepoFiles(dir: string): Promise<RepoFile[]> {
  const out: RepoFile[] = [];
  const walk = async (d: string) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && e.name.toLowerCase().endsWith('.gguf')) out.push({ path: relative(dir, p).split(sep).join('/') });
    }
  };
  await walk(dir);
  return out;
}

function readSidecar(dest: string): string | undefined {
  try {
    return readFileSync(dest + '.etag', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** True when `dest` is already the file `p` describes (checked by hash once, then by the sidecar). */
async function isCurrent(p: Planned, signal?: AbortSignal): Promise<boolean> {
  if (!existsSync(p.dest)) return false;
  const want = (p.sha256 ?? p.gitSha1)?.toLowerCase();
  if (!want) return true;
  if (readSidecar(p.dest)?.toLowerCase() === want) return true;
  if (!p.sha256) return false;
  // a file from before the sidecar existed (or copied in): hash it once
  if ((await sha256File(p.dest, signal)) !== want) return false;
  await writeFile(p.dest + '.etag', `${want}\n`).catch(() => {});
  return true;
}

/** Cache folder of a URL: host, then the URL's path, each part made safe for a file name. */
function urlDest(cacheDir: string, u: URL): string {
  const safe = (s: string) => decodeURIComponent(s).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || '_';
  return join(cacheDir, 'url', safe(u.host), ...u.pathname.split('/').filter(Boolean).map(safe));
}

/** A split model's shards from the URL of one (name-00001-of-00003.gguf), else the URL alone. */
function urlShards(url: string): string[] {
  const u = new URL(url);
  const m = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i.exec(u.pathname);
  if (!m) return [u.href];
  const count = Number(m[3]);
  return Array.from({ length: count }, (_, i) => {
    const v = new URL(u.href);
    v.pathname = `${m[1]}-${String(i + 1).padStart(5, '0')}-of-${m[3]}.gguf`;
    return v.href;
  });
}

async function planHf(env: HubEnv, name: Extract<ModelName, { kind: 'hf' }>, options: PullOptions): Promise<{ plan: Planned[]; commit?: string; offline: boolean }> {
  const repoDir = join(env.cacheDir, 'hf', ...name.repo.split('/'));
  const fromCache = async (why: string): Promise<{ plan: Planned[]; offline: boolean }> => {
    const files = await cachedRepoFiles(repoDir);
    const chosen = selectFiles(files, name.repo, name);
    options.onNotice?.(`${why}: using the cached ${chosen.map((f) => f.path).join(', ')}`);
    return { plan: chosen.map((f) => ({ url: '', dest: join(repoDir, ...f.path.split('/')), label: f.path })), offline: true };
  };
  if (env.offline) return fromCache('HF_HUB_OFFLINE is set');
  let listing: { commit: string; files: RepoFile[] };
  try {
    listing = await listRepoFiles(env, name.repo, options.signal);
  } catch (err) {
    // no network (not an HTTP answer): what the cache has, if it has it
    if (err instanceof DownloadError && err.status === undefined && !options.signal?.aborted) {
      try {
        return await fromCache(`the hub could not be reached (${err.message})`);
      } catch {
        throw err;
      }
    }
    throw err;
  }
  const chosen = selectFiles(listing.files, name.repo, name);
  const plan = chosen.map((f) => ({
    url: `${env.endpoint}/${name.repo}/resolve/${listing.commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`,
    dest: join(repoDir, ...f.path.split('/')),
    label: f.path,
    size: f.size,
    sha256: f.oid && isHex(f.oid, 64) ? f.oid : undefined,
    gitSha1: f.oid && isHex(f.oid, 40) ? f.oid : undefined,
  }));
  return { plan, commit: listing.commit, offline: false };
}

/** Downloads (or finds in the cache) the files a name means; see PulledModel. */
export async function pullModel(nameOrText: string | ModelName, options: PullOptions = {}): Promise<PulledModel> {
  const name = typeof nameOrText === 'string' ? parseModelName(nameOrText) : nameOrText;
  if (!name) throw new DownloadError(`"${String(nameOrText)}" is not a model name (hf:user/repo[:QUANT], hf:user/repo/file.gguf, user/repo:QUANT or an https URL)`);
  const env = hubEnv(options.env);
  const auth: HttpAuth = { token: env.token, origin: new URL(env.endpoint).origin };
  let plan: Planned[];
  let commit: string | undefined;
  if (name.kind === 'hf') {
    const r = await planHf(env, name, options);
    if (r.offline) return { path: r.plan[0]!.dest, files: r.plan.map((p) => p.dest), downloadedBytes: 0 };
    plan = r.plan;
    commit = r.commit;
  } else {
    plan = urlShards(name.url).map((url) => ({ url, dest: urlDest(env.cacheDir, new URL(url)), label: decodeURIComponent(new URL(url).pathname.split('/').pop() || url) }));
  }

  // what is already here: by checksum for hub files; for plain URLs, unless the server's ETag changed
  const todo: boolean[] = [];
  for (const p of plan) {
    if (name.kind === 'hf') {
      todo.push(!(await isCurrent(p, options.signal)));
    } else if (!existsSync(p.dest)) {
      todo.push(true);
    } else {
      todo.push(await urlChanged(p, auth, options.signal));
    }
  }
  const totalOf = () => plan.reduce((s, p) => s + (p.size ?? 0), 0);
  let doneBytes = plan.reduce((s, p, i) => s + (todo[i] ? 0 : p.size ?? 0), 0);
  let fetched = 0;
  for (let i = 0; i < plan.length; i++) {
    if (!todo[i]) continue;
    const p = plan[i]!;
    const before = doneBytes;
    const got = await downloadFile(p.url, p.dest, {
      auth, signal: options.signal, attempts: options.attempts, retryDelayMs: options.retryDelayMs, idleTimeoutMs: options.idleTimeoutMs,
      expected: p.sha256 || p.gitSha1 || p.size !== undefined ? { sha256: p.sha256, gitSha1: p.gitSha1, size: p.size } : undefined,
      onProgress: (received, total) => {
        if (p.size === undefined && total > 0) p.size = total;
        options.onProgress?.({ file: p.label, fileIndex: i, fileCount: plan.length, downloadedBytes: before + received, totalBytes: totalOf() });
      },
    });
    p.size = got.size;
    doneBytes = before + got.size;
    fetched += got.size;
  }
  options.onProgress?.({ file: plan[plan.length - 1]!.label, fileIndex: plan.length - 1, fileCount: plan.length, downloadedBytes: doneBytes, totalBytes: totalOf() });
  return { path: plan[0]!.dest, files: plan.map((p) => p.dest), downloadedBytes: fetched, commit };
}

/** A cached plain-URL file is stale when the server now gives a different ETag; no answer keeps the cached one. */
async function urlChanged(p: Planned, auth: HttpAuth, signal?: AbortSignal): Promise<boolean> {
  const stored = readSidecar(p.dest);
  if (!stored) return false;
  try {
    const { response, first } = await request(p.url, { method: 'HEAD', auth, signal });
    if (!response.ok) return false;
    const unq = (v: string | null) => (v ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');
    const now = unq(first.get('x-linked-etag')) || unq(response.headers.get('etag'));
    return !!now && now.toLowerCase() !== stored.toLowerCase();
  } catch {
    return false;
  }
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

export { PARTIAL_SUFFIX };
