// The host worker's side of model files: descriptors become what the core's
// loader reads (a path string, or byte sources with readInto). A URL is
// fetched once, as a stream: the header is parsed from its first bytes and
// the tensor data is copied into WASM memory as it arrives, so a model is
// never held twice in memory and any server works (no Range requests).
// Blobs and buffers are read with copies (the core's withReadInto).
import { blobSource, memorySource } from '../../formats/gguf/byte-source.js';
import type { TensorByteSource } from '../load.js';
import type { ModelSource } from '../model.js';
import type { FileDescriptor } from './protocol.js';
import { ModelError } from '../errors.js';
import type { PullProgress } from '../hub/pull.js';
import type { LoadRequestOptions } from './protocol.js';

/** Download progress of the URL sources, for the caller's onProgress. */
export interface DownloadMeter {
  add(total: number): void;
  received(bytes: number): void;
}

/**
 * A response body read in order. Bytes are kept until tensor data is read
 * (readInto), so header reads may go back to offset 0; from then on only what
 * lies ahead of the last read is kept.
 */
class StreamSource implements TensorByteSource {
  private readonly chunks: { start: number; bytes: Uint8Array }[] = [];
  /** Bytes received so far (the end of the last chunk). */
  private end = 0;
  private done = false;

  constructor(
    readonly name: string,
    readonly size: number,
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly meter: DownloadMeter,
  ) {}

  /** Pulls chunks until `want` bytes have arrived or the stream ends. */
  private async fill(want: number): Promise<void> {
    while (this.end < want && !this.done) {
      const { value, done } = await this.reader.read();
      if (done) {
        this.done = true;
        break;
      }
      if (value.length === 0) continue;
      this.chunks.push({ start: this.end, bytes: value });
      this.end += value.length;
      this.meter.received(value.length);
    }
  }

  /** Copies kept bytes [offset, offset + dest.length) into dest; returns how many were available. */
  private copy(offset: number, dest: Uint8Array): number {
    const first = this.chunks[0];
    if (first && offset < first.start) throw new RangeError(`${this.name}: bytes before ${first.start} were already read and dropped (reads must move forward)`);
    let n = 0;
    for (const c of this.chunks) {
      const at = offset + n;
      if (at >= c.start + c.bytes.length) continue;
      if (at < c.start || n === dest.length) break;
      const take = Math.min(c.bytes.length - (at - c.start), dest.length - n);
      dest.set(c.bytes.subarray(at - c.start, at - c.start + take), n);
      n += take;
    }
    return n;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    await this.fill(offset + length);
    const out = new Uint8Array(Math.max(0, Math.min(length, this.end - offset)));
    this.copy(offset, out);
    return out;
  }

  async readInto(offset: number, dest: Uint8Array): Promise<number> {
    // drop what lies wholly before this read: tensor data is read in order
    while (this.chunks.length > 0 && this.chunks[0]!.start + this.chunks[0]!.bytes.length <= offset) this.chunks.shift();
    await this.fill(offset + dest.length);
    return this.copy(offset, dest);
  }

  async close(): Promise<void> {
    this.chunks.length = 0;
    await this.reader.cancel().catch(() => {});
  }
}

function urlName(url: string): string {
  try {
    const u = new URL(url);
    return decodeURIComponent(u.pathname.split('/').filter(Boolean).pop() ?? u.href) || u.href;
  } catch {
    return url;
  }
}

async function openUrl(url: string, meter: DownloadMeter, signal: AbortSignal): Promise<TensorByteSource> {
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (err) {
    throw new ModelError(`fetch failed: ${(err as Error).message}`, url);
  }
  if (!response.ok) throw new ModelError(`HTTP ${response.status} ${response.statusText}`, url);
  const length = Number(response.headers.get('content-length'));
  const encoding = response.headers.get('content-encoding');
  const name = urlName(response.url || url);
  if (response.body && Number.isSafeInteger(length) && length > 0 && (!encoding || encoding === 'identity')) {
    meter.add(length);
    return new StreamSource(name, length, response.body.getReader(), meter);
  }
  // no usable length (compressed, chunked): the whole body first, then parse it
  const bytes = new Uint8Array(await response.arrayBuffer());
  meter.add(bytes.length);
  meter.received(bytes.length);
  return memorySource(bytes, name);
}

async function openPathSource(path: string): Promise<TensorByteSource> {
  const fsModule = 'node:fs/promises';
  const { open } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
  const fh = await open(path, 'r');
  const { size } = await fh.stat();
  const readInto = async (offset: number, dest: Uint8Array) => (await fh.read(dest, 0, dest.length, offset)).bytesRead;
  return {
    name: path,
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      let n = 0;
      while (n < length) {
        const got = await readInto(offset + n, out.subarray(n));
        if (got === 0) break;
        n += got;
      }
      return out.subarray(0, n);
    },
    readInto,
    close: () => fh.close(),
  };
}

/** How model names are pulled in a browser's host (into OPFS or the Cache API; runtime/hub/web.ts). */
export interface NamePulling extends Pick<LoadRequestOptions, 'hubEnv' | 'storage'> {
  onDownload?: (p: PullProgress) => void;
}

/** A model name's files, downloaded into the browser's store (or found there), as disk-backed Blobs. */
async function openName(text: string, pulling: NamePulling, signal: AbortSignal): Promise<TensorByteSource[]> {
  const { pullModelWeb, openPulledWeb } = await import('../hub/web.js');
  const hub = { env: pulling.hubEnv, storage: pulling.storage };
  const pulled = await pullModelWeb(text, { ...hub, signal, onProgress: pulling.onDownload });
  return (await openPulledWeb(pulled, hub)).map((f) => blobSource(f.blob, f.name));
}

/**
 * What the core loads: a path stays a path (Node's fast path, split shards
 * found by name); anything else becomes byte sources with distinct names.
 */
export async function openFiles(files: readonly FileDescriptor[], meter: DownloadMeter, signal: AbortSignal, pulling: NamePulling = {}): Promise<{ source: ModelSource; close(): Promise<void> }> {
  if (files.length === 1 && files[0]!.kind === 'path') return { source: files[0].path, close: async () => {} };
  const opened: TensorByteSource[] = [];
  const close = async () => {
    await Promise.all(opened.map((s) => s.close().catch(() => {})));
  };
  try {
    for (const f of files) {
      if (f.kind === 'name') {
        opened.push(...await openName(f.text, pulling, signal));
        continue;
      }
      opened.push(
        f.kind === 'path' ? await openPathSource(f.path)
        : f.kind === 'url' ? await openUrl(f.url, meter, signal)
        : f.kind === 'blob' ? blobSource(f.blob, f.name)
        : memorySource(f.bytes, f.name),
      );
    }
  } catch (err) {
    await close();
    throw err;
  }
  // tensors are keyed by file name: two Blobs both called "model.gguf" must not collide
  const seen = new Map<string, number>();
  const named = opened.map((s) => {
    const n = (seen.get(s.name) ?? 0) + 1;
    seen.set(s.name, n);
    return n === 1 ? s : renamed(s, `${s.name} (${n})`);
  });
  return { source: named.length === 1 ? named[0]! : named, close };
}

function renamed(s: TensorByteSource, name: string): TensorByteSource {
  return { name, size: s.size, read: (o, l) => s.read(o, l), readInto: s.readInto?.bind(s), close: () => s.close() };
}
