// Browser tests: Debian's chromium driven by playwright-core, and a static
// file server on 127.0.0.1 with or without the cross-origin isolation
// headers (COOP/COEP) that SharedArrayBuffer needs.
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserSkipReason(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is absent (.ci/run installs Debian's chromium: apt-get install -y chromium)`;
  return undefined;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
};

export interface StaticServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** Paths requested so far (to check what the page fetched). */
  requested: string[];
  close(): Promise<void>;
}

/**
 * Serves `mounts` (URL prefix -> directory) on 127.0.0.1. With `isolated`,
 * every response carries COOP same-origin and COEP require-corp.
 */
export async function serveStatic(mounts: Record<string, string>, options: { isolated: boolean }): Promise<StaticServer> {
  const requested: string[] = [];
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requested.push(path);
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    if (options.isolated) {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
    }
    const prefix = prefixes.find((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`));
    if (prefix === undefined) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    const dir = mounts[prefix]!;
    const file = normalize(join(dir, path.slice(prefix.length)));
    if ((file !== dir && !file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    headers['content-type'] = TYPES[extname(file)] ?? 'application/octet-stream';
    headers['content-length'] = String(statSync(file).size);
    res.writeHead(200, headers);
    // big models stream at disk speed (the trickle below would take hours)
    if (extname(file) !== '.gguf' || statSync(file).size > 64 * 1024 ** 2) {
      createReadStream(file).pipe(res);
      return;
    }
    // Models go out in 64 KiB pieces a few ms apart, as over a network: on
    // localhost a small file would otherwise arrive in one read, and the
    // page's progress (which the tests check) would have a single step.
    const bytes = readFileSync(file);
    let at = 0;
    const next = () => {
      if (res.destroyed) return;
      if (at >= bytes.length) {
        res.end();
        return;
      }
      res.write(bytes.subarray(at, (at += 65536)));
      setTimeout(next, 5);
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requested,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
