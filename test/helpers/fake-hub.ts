// A local HTTP server that answers as the Hugging Face hub does for what
// model downloads use: /api/models/{repo}/refs, the recursive tree listing
// (paginated with a Link header), /{repo}/resolve/{rev}/{path} redirecting
// LFS files to a CDN on another origin with X-Linked-Etag / X-Linked-Size,
// Range requests (206 + Content-Range), git-stored files served directly with
// their blob sha1 as ETag. Faults on demand: a connection dropped mid-file,
// a corrupted body, a slow body, a gated repository that wants a token.
// With `cors`, both servers answer pages on other origins as the hub does
// (Access-Control-* headers, preflights, CORP for cross-origin isolated pages).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubFile {
  bytes: Uint8Array;
  /** Stored in LFS (the default for .gguf): redirected to the CDN, sha256 as ETag. */
  lfs?: boolean;
}

export interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

export interface Faults {
  /** Paths whose next N GETs end the connection after `bytes` bytes of body. */
  drop?: Map<string, { bytes: number; times: number }>;
  /** Paths served with one byte changed (the headers still announce the true checksum). */
  corrupt?: Set<string>;
  /** Paths whose body goes out in 16 KiB pieces, `ms` apart. */
  slow?: Map<string, number>;
  /** Paths whose next N requests get no answer at all (the connection stays open). */
  hang?: Map<string, number>;
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Uint8Array) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export class FakeHub {
  readonly log: LoggedRequest[] = [];
  readonly faults: Required<Faults> = { drop: new Map(), corrupt: new Set(), slow: new Map(), hang: new Map() };
  /** Repos that answer 401 unless this token is sent. */
  readonly gated = new Map<string, string>();
  /** Entries per page of the tree listing. */
  pageSize = 4;
  /** Answer browsers' cross-origin requests (the browser tests). */
  cors = false;
  private hub!: Server;
  private cdn!: Server;
  endpoint = '';
  cdnOrigin = '';
  private readonly blobs = new Map<string, { bytes: Uint8Array; path: string }>();

  constructor(readonly repos: Map<string, { commit: string; files: Map<string, HubFile> }>) {}

  async start(): Promise<this> {
    this.hub = createServer((q, s) => this.withCors('hub', q, s) || this.answerHub(q, s));
    this.cdn = createServer((q, s) => this.withCors('cdn', q, s) || this.answerCdn(q, s));
    await Promise.all([this.hub, this.cdn].map((srv) => new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))));
    this.endpoint = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.cdnOrigin = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
    for (const repo of this.repos.values()) for (const [path, f] of repo.files) this.blobs.set(sha256(f.bytes), { bytes: f.bytes, path });
    return this;
  }

  async stop(): Promise<void> {
    for (const srv of [this.hub, this.cdn]) {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  }

  requests(server?: 'hub' | 'cdn'): LoggedRequest[] {
    return server ? this.log.filter((r) => r.server === server) : this.log;
  }

  /** The CORS headers on every answer; true when it was a preflight, answered here. */
  private withCors(server: 'hub' | 'cdn', q: IncomingMessage, s: ServerResponse): boolean {
    if (!this.cors) return false;
    s.setHeader('access-control-allow-origin', '*');
    s.setHeader('access-control-expose-headers', 'etag, x-linked-etag, x-linked-size, x-repo-commit, content-range, content-length, accept-ranges, link');
    s.setHeader('cross-origin-resource-policy', 'cross-origin');
    if (q.method !== 'OPTIONS') return false;
    this.record(server, q);
    s.writeHead(204, { 'access-control-allow-methods': 'GET, HEAD', 'access-control-allow-headers': 'authorization, range, accept', 'access-control-max-age': '600' });
    s.end();
    return true;
  }

  private record(server: 'hub' | 'cdn', q: IncomingMessage): void {
    this.log.push({ server, method: q.method ?? 'GET', path: q.url ?? '', range: q.headers.range, authorization: q.headers.authorization });
  }

  private json(s: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    s.writeHead(status, { 'content-type': 'application/json', ...headers });
    s.end(JSON.stringify(body));
  }

  private answerHub(q: IncomingMessage, s: ServerResponse): void {
    this.record('hub', q);
    const url = new URL(q.url ?? '/', this.endpoint);
    const path = decodeURIComponent(url.pathname);
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/(refs|tree\/([^/]+))$/.exec(path);
    const repoOf = (id: string) => {
      const repo = this.repos.get(id);
      const need = this.gated.get(id);
      if (repo && need && q.headers.authorization !== `Bearer ${need}`) {
        this.json(s, 401, { error: 'Access to this repository is restricted' });
        return null;
      }
      if (!repo) this.json(s, 404, { error: 'Repository not found' });
      return repo ?? null;
    };
    if (m) {
      const repo = repoOf(m[1]!);
      if (!repo) return;
      if (m[2] === 'refs') {
        this.json(s, 200, { branches: [{ name: 'main', ref: 'refs/heads/main', targetCommit: repo.commit }], converts: [], tags: [] });
        return;
      }
      if (m[3] !== repo.commit && m[3] !== 'main') return this.json(s, 404, { error: 'Revision not found' });
      // directories first as the hub lists them, then files, in path order
      const entries: unknown[] = [];
      const dirs = new Set<string>();
      for (const p of [...repo.files.keys()].sort()) {
        const parts = p.split('/');
        for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
      }
      for (const d of [...dirs].sort()) entries.push({ type: 'directory', oid: '0'.repeat(40), size: 0, path: d });
      for (const [p, f] of [...repo.files].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        const lfs = f.lfs ?? p.endsWith('.gguf');
        entries.push(lfs
          ? { type: 'file', oid: gitSha1(new TextEncoder().encode(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.bytes)}\nsize ${f.bytes.length}\n`)), size: f.bytes.length, path: p, lfs: { oid: sha256(f.bytes), size: f.bytes.length, pointerSize: 134 } }
          : { type: 'file', oid: gitSha1(f.bytes), size: f.bytes.length, path: p });
      }
      const start = Number(url.searchParams.get('cursor') ?? 0);
      const page = entries.slice(start, start + this.pageSize);
      const headers: Record<string, string> = {};
      if (start + this.pageSize < entries.length) {
        const next = new URL(url.href);
        next.searchParams.set('cursor', String(start + this.pageSize));
        headers.link = `<${next.href}>; rel="next"`;
      }
      return this.json(s, 200, page, headers);
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (m) {
      const repo = repoOf(m[1]!);
      if (!repo) return;
      const f = repo.files.get(m[3]!);
      if (!f) return this.json(s, 404, { error: 'Entry not found' });
      if (f.lfs ?? m[3]!.endsWith('.gguf')) {
        const sha = sha256(f.bytes);
        s.writeHead(302, {
          location: `${this.cdnOrigin}/repos/${sha}?response-content-disposition=attachment`,
          'x-linked-etag': `"${sha}"`, 'x-linked-size': String(f.bytes.length), 'x-repo-commit': repo.commit, etag: `"${gitSha1(f.bytes)}"`,
        });
        s.end();
        return;
      }
      return this.body(q, s, m[3]!, f.bytes, `"${gitSha1(f.bytes)}"`);
    }
    this.json(s, 404, { error: 'Not found' });
  }

  private answerCdn(q: IncomingMessage, s: ServerResponse): void {
    this.record('cdn', q);
    const sha = /^\/repos\/([0-9a-f]{64})$/.exec(new URL(q.url ?? '/', this.cdnOrigin).pathname)?.[1];
    const blob = sha ? this.blobs.get(sha) : undefined;
    if (!blob) {
      s.writeHead(404);
      s.end();
      return;
    }
    this.body(q, s, blob.path, blob.bytes, `"${sha}"`);
  }

  /** The bytes, whole or a Range, with the faults that apply to this path. */
  private body(q: IncomingMessage, s: ServerResponse, path: string, whole: Uint8Array, etag: string): void {
    const hang = this.faults.hang.get(path) ?? 0;
    if (hang > 0) {
      this.faults.hang.set(path, hang - 1);
      return; // closed by stop() or by the client giving up
    }
    let bytes = whole;
    if (this.faults.corrupt.has(path)) {
      bytes = whole.slice();
      bytes[bytes.length >> 1] ^= 0x40;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(q.headers.range ?? '');
    const headers: Record<string, string> = { 'accept-ranges': 'bytes', etag, 'content-type': 'application/octet-stream' };
    if (range) {
      start = Number(range[1]);
      if (start >= bytes.length) {
        s.writeHead(416, { 'content-range': `bytes */${bytes.length}` });
        s.end();
        return;
      }
      headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    }
    headers['content-length'] = String(bytes.length - start);
    s.writeHead(range ? 206 : 200, headers);
    if (q.method === 'HEAD') return void s.end();
    let body = bytes.subarray(start);
    const drop = this.faults.drop.get(path);
    if (drop && drop.times > 0) {
      drop.times--;
      // part of the body, then the connection ends without the rest
      s.write(body.subarray(0, Math.min(drop.bytes, body.length)));
      s.socket?.end();
      return;
    }
    const ms = this.faults.slow.get(path);
    if (!ms) return void s.end(body);
    const next = () => {
      if (s.destroyed) return;
      if (body.length === 0) return void s.end();
      const piece = body.subarray(0, 16384);
      body = body.subarray(16384);
      s.write(piece);
      setTimeout(next, ms);
    };
    next();
  }
}
