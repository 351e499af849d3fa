// Requests to the hub and its CDN, shared by Node and browsers. Node follows
// redirects by hand, so the token goes to the hub's origin only and the first
// answer's X-Linked-Etag / X-Linked-Size are seen; a browser's fetch cannot
// (a manual redirect is opaque there), so it follows them itself and strips
// Authorization on a cross-origin hop, and the listing's sha256 is what a
// download is checked against.
import { DownloadError } from '../errors.js';

export interface HttpAuth {
  /** Sent as `Authorization: Bearer` to this origin only (never to a CDN a redirect leads to). */
  token?: string;
  origin?: string;
}

export const USER_AGENT = 'run-gguf';

export interface Answer {
  response: Response;
  /** Headers of the first answer: the hub puts X-Linked-Etag / X-Linked-Size on its redirect (Node only). */
  first: Headers;
  url: string;
}

const inNode = () => !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node && typeof (globalThis as { window?: unknown }).window === 'undefined';

/** GET (or HEAD) following redirects (see the file comment). */
export async function request(url: string, init: { method?: string; headers?: Record<string, string>; auth?: HttpAuth; signal?: AbortSignal }): Promise<Answer> {
  let u = url;
  let first: Headers | undefined;
  let byHand = inNode();
  for (let hop = 0; hop < 10; hop++) {
    // browsers refuse to set user-agent and accept-encoding (and a preflight would be wasted on them)
    const headers: Record<string, string> = byHand ? { 'user-agent': USER_AGENT, ...init.headers } : Object.fromEntries(Object.entries(init.headers ?? {}).filter(([k]) => k !== 'accept-encoding'));
    if (init.auth?.token && init.auth.origin && new URL(u).origin === init.auth.origin) headers.authorization = `Bearer ${init.auth.token}`;
    let response: Response;
    try {
      response = await fetch(u, { method: init.method ?? 'GET', headers, redirect: byHand ? 'manual' : 'follow', signal: init.signal });
    } catch (err) {
      if (init.signal?.aborted) throw init.signal.reason ?? err;
      throw new DownloadError(`${u}: ${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause: Error }).cause.message})` : ''}`, u);
    }
    if (response.type === 'opaqueredirect') {
      // a fetch that hides redirects (a browser, an Electron renderer): let it follow them
      byHand = false;
      hop--;
      continue;
    }
    first ??= response.headers;
    const location = response.headers.get('location');
    if (byHand && response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel().catch(() => {});
      u = new URL(location, u).href;
      continue;
    }
    return { response, first, url: byHand ? u : response.url || u };
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
