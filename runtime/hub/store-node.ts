// The Node store: a cache folder ($XDG_CACHE_HOME/run-gguf/hub, else
// ~/.cache/run-gguf/hub), keys as relative paths, node:crypto hashes, and a
// lock file holding the writer's pid beside each partial download.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { DownloadError } from '../errors.js';
import type { Hasher } from './sha.js';
import type { HubStore, StoreWriter } from './store.js';

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export class FolderStore implements HubStore {
  constructor(readonly root: string) {}

  locate(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const st = await stat(this.locate(key));
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  }

  async *chunks(key: string, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    for await (const chunk of createReadStream(this.locate(key), { signal })) yield chunk as Buffer;
  }

  async writer(key: string, append: boolean): Promise<StoreWriter> {
    const path = this.locate(key);
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(path, append ? 'a' : 'w');
    return { write: async (chunk) => void (await fh.write(chunk)), close: () => fh.close() };
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.locate(key), 'utf8');
    } catch {
      return undefined;
    }
  }

  async writeText(key: string, text: string): Promise<void> {
    const path = this.locate(key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(this.locate(from), this.locate(to));
  }

  async remove(key: string): Promise<void> {
    await unlink(this.locate(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (d: string) => {
      let entries;
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile()) out.push(relative(this.root, p).split(sep).join('/'));
      }
    };
    await walk(prefix ? this.locate(prefix) : this.root);
    return out.sort();
  }

  /**
   * One writer per .partial: two processes appending to it would interleave
   * their bytes. A lock left by a process that is gone is taken over.
   */
  async lock(key: string, url: string): Promise<() => Promise<void>> {
    const partial = this.locate(key);
    const lock = `${partial}.lock`;
    await mkdir(dirname(lock), { recursive: true });
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

  hasher(kind: 'sha256' | 'sha1'): Hasher {
    const h = createHash(kind);
    return { update: (b) => void h.update(b), digest: () => h.digest('hex') };
  }
}
