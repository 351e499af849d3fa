// A model name (names.ts) becomes files in a store (store.ts): the repo's
// listing read, the files chosen as llama.cpp's -hf chooses (select.ts),
// each fetched once, resumed when interrupted and verified (download.ts).
// Shared by Node (runtime/hub/index.ts: the cache folder) and browsers
// (runtime/hub/web.ts: the Origin Private File System or the Cache API); the
// store is the only difference.
import { DownloadError } from '../errors.js';
import { downloadInto, sha256Entry, unquote } from './download.js';
import { request, statusMessage, type HttpAuth } from './http.js';
import { parseModelName, type ModelName } from './names.js';
import { isModelFile, selectFiles, type RepoFile } from './select.js';
import { PARTIAL_SUFFIX, SIDECAR_SUFFIX, type HubStore } from './store.js';

/** Where the hub is and who we are to it (the variables Hugging Face's own tools read). */
export interface HubSettings {
  /** HF_ENDPOINT without a trailing slash; default https://huggingface.co. */
  endpoint: string;
  /** HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN); Node also reads the token file `huggingface-cli login` wrote. */
  token?: string;
  /** HF_HUB_OFFLINE: use what the store holds, never ask the network. */
  offline: boolean;
}

export type HubVariables = Record<string, string | undefined>;

const truthy = (v: string | undefined) => !!v && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());

/** HubSettings from environment-like variables (process.env in Node; an option in browsers). */
export function hubSettings(vars: HubVariables, tokenFallback?: () => string | undefined): HubSettings {
  const endpoint = (vars.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  const token = truthy(vars.HF_HUB_DISABLE_IMPLICIT_TOKEN) ? undefined
    : (vars.HF_TOKEN || vars.HUGGING_FACE_HUB_TOKEN || '').trim() || tokenFallback?.();
  return { endpoint, token, offline: truthy(vars.HF_HUB_OFFLINE) };
}

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

export interface PullTuning {
  signal?: AbortSignal;
  onProgress?: (p: PullProgress) => void;
  /** Things worth telling (working offline from the cache). */
  onNotice?: (message: string) => void;
  /** Passed to each file's download (see FileDownloadOptions). */
  attempts?: number;
  retryDelayMs?: number;
  idleTimeoutMs?: number;
}

export interface PulledModel {
  /** The file to load: the model, or a split model's first shard (a path in Node, a store key in browsers). */
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
  key: string;
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

const authOf = (hub: HubSettings): HttpAuth => ({ token: hub.token, origin: new URL(hub.endpoint).origin });

/** The repository's files at its main branch (llama.cpp's order of calls: refs, then the tree at that commit). */
export async function listRepoFiles(hub: HubSettings, repo: string, signal?: AbortSignal): Promise<{ commit: string; files: RepoFile[] }> {
  const auth = authOf(hub);
  const refs = (await getJson(`${hub.endpoint}/api/models/${repo}/refs`, auth, signal)).json as { branches?: { name?: unknown; targetCommit?: unknown }[] };
  const branches = Array.isArray(refs?.branches) ? refs.branches : [];
  const valid = branches.filter((b) => typeof b.name === 'string' && typeof b.targetCommit === 'string' && isHex(b.targetCommit, 40));
  const branch = valid.find((b) => b.name === 'main') ?? valid[0];
  const commit = branch ? (branch.targetCommit as string) : 'main';
  const files: RepoFile[] = [];
  let url: string | undefined = `${hub.endpoint}/api/models/${repo}/tree/${commit}?recursive=true`;
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

const isStoredModel = (key: string) => key.toLowerCase().endsWith('.gguf');

/** Files under a cached repository's key, as a listing (for offline use). */
async function cachedRepoFiles(store: HubStore, repoKey: string): Promise<RepoFile[]> {
  return (await store.list(repoKey)).filter(isStoredModel).map((k) => ({ path: k.slice(repoKey.length + 1) }));
}

/** True when `key` already holds the file `p` describes (checked by hash once, then by the sidecar). */
async function isCurrent(store: HubStore, p: Planned, signal?: AbortSignal): Promise<boolean> {
  if ((await store.size(p.key)) === undefined) return false;
  const want = (p.sha256 ?? p.gitSha1)?.toLowerCase();
  if (!want) return true;
  if ((await store.readText(p.key + SIDECAR_SUFFIX))?.trim().toLowerCase() === want) return true;
  if (!p.sha256) return false;
  // a file from before the sidecar existed (or copied in): hash it once
  if ((await sha256Entry(store, p.key, signal)) !== want) return false;
  await store.writeText(p.key + SIDECAR_SUFFIX, `${want}\n`).catch(() => {});
  return true;
}

const safePart = (s: string) => decodeURIComponent(s).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || '_';

/** Key of a URL's file: host, then the URL's path, each part made safe for a file name. */
export function urlKey(u: URL): string {
  return ['url', safePart(u.host), ...u.pathname.split('/').filter(Boolean).map(safePart)].join('/');
}

/** Key of a repository's file. */
export const hfKey = (repo: string, path: string) => ['hf', ...repo.split('/'), ...path.split('/')].join('/');

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

async function planHf(store: HubStore, hub: HubSettings, name: Extract<ModelName, { kind: 'hf' }>, options: PullTuning): Promise<{ plan: Planned[]; commit?: string; offline: boolean }> {
  const repoKey = hfKey(name.repo, '').replace(/\/$/, '');
  const fromCache = async (why: string): Promise<{ plan: Planned[]; offline: boolean }> => {
    const files = await cachedRepoFiles(store, repoKey);
    const chosen = selectFiles(files, name.repo, name);
    options.onNotice?.(`${why}: using the cached ${chosen.map((f) => f.path).join(', ')}`);
    return { plan: chosen.map((f) => ({ url: '', key: hfKey(name.repo, f.path), label: f.path })), offline: true };
  };
  if (hub.offline) return fromCache('HF_HUB_OFFLINE is set');
  let listing: { commit: string; files: RepoFile[] };
  try {
    listing = await listRepoFiles(hub, name.repo, options.signal);
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
    url: `${hub.endpoint}/${name.repo}/resolve/${listing.commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`,
    key: hfKey(name.repo, f.path),
    label: f.path,
    size: f.size,
    sha256: f.oid && isHex(f.oid, 64) ? f.oid : undefined,
    gitSha1: f.oid && isHex(f.oid, 40) ? f.oid : undefined,
  }));
  return { plan, commit: listing.commit, offline: false };
}

export function parseOrThrow(nameOrText: string | ModelName): ModelName {
  const name = typeof nameOrText === 'string' ? parseModelName(nameOrText) : nameOrText;
  if (!name) throw new DownloadError(`"${String(nameOrText)}" is not a model name (hf:user/repo[:QUANT], hf:user/repo/file.gguf, user/repo:QUANT or an https URL)`);
  return name;
}

/** Downloads (or finds in the store) the files a name means; see PulledModel. */
export async function pullInto(store: HubStore, hub: HubSettings, nameOrText: string | ModelName, options: PullTuning = {}): Promise<PulledModel> {
  const name = parseOrThrow(nameOrText);
  const auth = authOf(hub);
  let plan: Planned[];
  let commit: string | undefined;
  if (name.kind === 'hf') {
    const r = await planHf(store, hub, name, options);
    const files = r.plan.map((p) => store.locate(p.key));
    if (r.offline) return { path: files[0]!, files, downloadedBytes: 0 };
    plan = r.plan;
    commit = r.commit;
  } else {
    plan = urlShards(name.url).map((url) => ({ url, key: urlKey(new URL(url)), label: decodeURIComponent(new URL(url).pathname.split('/').pop() || url) }));
  }

  // what is already here: by checksum for hub files; for plain URLs, unless the server's ETag changed
  const todo: boolean[] = [];
  for (const p of plan) {
    if (name.kind === 'hf') {
      todo.push(!(await isCurrent(store, p, options.signal)));
    } else if ((await store.size(p.key)) === undefined) {
      todo.push(true);
    } else {
      todo.push(!hub.offline && await urlChanged(store, p, auth, options.signal));
    }
  }
  for (let i = 0; i < plan.length; i++) if (!todo[i] && plan[i]!.size === undefined) plan[i]!.size = await store.size(plan[i]!.key);
  const totalOf = () => plan.reduce((s, p) => s + (p.size ?? 0), 0);
  let doneBytes = plan.reduce((s, p, i) => s + (todo[i] ? 0 : p.size ?? 0), 0);
  let fetched = 0;
  for (let i = 0; i < plan.length; i++) {
    if (!todo[i]) continue;
    const p = plan[i]!;
    const before = doneBytes;
    const got = await downloadInto(store, p.url, p.key, {
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
  const files = plan.map((p) => store.locate(p.key));
  return { path: files[0]!, files, downloadedBytes: fetched, commit };
}

/** A cached plain-URL file is stale when the server now gives a different ETag; no answer keeps the cached one. */
async function urlChanged(store: HubStore, p: Planned, auth: HttpAuth, signal?: AbortSignal): Promise<boolean> {
  const stored = (await store.readText(p.key + SIDECAR_SUFFIX))?.trim();
  if (!stored) return false;
  try {
    const { response, first } = await request(p.url, { method: 'HEAD', auth, signal });
    if (!response.ok) return false;
    const now = unquote(first.get('x-linked-etag')) || unquote(response.headers.get('etag'));
    return !!now && now.toLowerCase() !== stored.toLowerCase();
  } catch {
    return false;
  }
}

/** A model in the store. */
export interface CachedModel {
  /** The name that loads it from the cache: hf:user/repo/file.gguf, or the store key of a URL's file. */
  name: string;
  /** The first file (a path in Node, a store key in browsers). */
  path: string;
  /** Every file, in shard order (a split model has several). */
  files: string[];
  /** Bytes of every file. */
  size: number;
  /** A download that has not finished (a .partial is there; loading the name resumes it). */
  partial: boolean;
}

const SHARD = /^(.*)-(\d{5})-of-(\d{5})\.gguf(\.partial)?$/i;

/** Every model the store holds (finished or partly downloaded), split models as one entry. */
export async function listStored(store: HubStore): Promise<CachedModel[]> {
  const keys = (await store.list('')).filter((k) => isStoredModel(k) || k.toLowerCase().endsWith(`.gguf${PARTIAL_SUFFIX}`));
  const groups = new Map<string, string[]>();
  for (const k of keys) {
    const m = SHARD.exec(k);
    const group = m ? `${m[1]}-of-${m[3]}` : k.replace(/\.partial$/, '');
    groups.set(group, [...(groups.get(group) ?? []), k]);
  }
  const out: CachedModel[] = [];
  for (const members of groups.values()) {
    const partial = members.some((k) => k.endsWith(PARTIAL_SUFFIX));
    const files = [...new Set(members.map((k) => k.replace(/\.partial$/, '')))].sort();
    let size = 0;
    for (const k of members) size += (await store.size(k)) ?? 0;
    const first = files[0]!;
    const parts = first.split('/');
    const name = parts[0] === 'hf' && parts.length >= 4 && isModelFile(first) ? `hf:${parts.slice(1).join('/')}` : first;
    out.push({ name, path: store.locate(first), files: files.map((k) => store.locate(k)), size, partial });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Deletes a model from the store: named as listStored names it (or its
 * path), or by a model name (hf:user/repo:QUANT, a URL) resolved against
 * what the store holds. Every shard, partial download and sidecar goes.
 * Resolves to the files deleted (none when it was not there).
 */
export async function deleteStored(store: HubStore, nameOrPath: string): Promise<string[]> {
  const models = await listStored(store);
  let hit = models.find((m) => m.name === nameOrPath || m.path === nameOrPath || m.files.includes(nameOrPath));
  if (!hit) {
    const name = parseModelName(nameOrPath);
    if (name?.kind === 'url') {
      const key = store.locate(urlKey(new URL(urlShards(name.url)[0]!)));
      hit = models.find((m) => m.path === key);
    } else if (name?.kind === 'hf') {
      const repoKey = hfKey(name.repo, '').replace(/\/$/, '');
      const cached = await cachedRepoFiles(store, repoKey);
      let chosen: RepoFile[] = [];
      try {
        chosen = selectFiles(cached, name.repo, name);
      } catch { /* none of it is cached */ }
      const key = chosen[0] && store.locate(hfKey(name.repo, chosen[0].path));
      hit = models.find((m) => m.path === key);
      // only a partial download of it: its .partial keys carry the name
      hit ??= models.find((m) => m.partial && m.name.toLowerCase() === `hf:${name.repo}/${name.file ?? ''}`.toLowerCase());
    }
  }
  if (!hit) return [];
  const keys = (await store.list('')).filter((k) => hit!.files.some((f) => store.locate(k.replace(/\.(partial|etag)$/, '').replace(/\.partial$/, '')) === f));
  for (const k of keys) await store.remove(k);
  return keys.map((k) => store.locate(k));
}
