// Reading GGUF headers from files: only the header is read, in growing
// chunks, never the tensor data; split models are read as one.
import { openFileSource, type ByteSource } from './byte-source.js';
import { GGUFError, GGUFIncompleteError } from './errors.js';
import type { GGUFFile, GGUFHeader, GGUFTensorInfo } from './header.js';
import { parseGGUF } from './reader.js';
import { mergeShards, shardPaths, splitCount } from './split.js';

export interface ReadOptions {
  /** Bytes read first (default 1 MiB); more is read when the header is longer. */
  initialBytes?: number;
}

const FIRST_READ = 1 << 20;
// Each retry reads at least 4x as much as before, so a header of size H is
// parsed O(log H) times and at most ~4H bytes are read.
const GROWTH = 4;

/** Parses the header of one file from any byte source (no split handling). */
export async function readGGUFHeader(source: ByteSource, options: ReadOptions & { shard?: number } = {}): Promise<GGUFHeader> {
  let have = Math.min(source.size, Math.max(1, options.initialBytes ?? FIRST_READ));
  let bytes = await source.read(0, have);
  for (;;) {
    try {
      return parseGGUF(bytes, { file: source.name, fileSize: source.size, shard: options.shard });
    } catch (err) {
      if (!(err instanceof GGUFIncompleteError)) throw err;
      const want = Math.min(source.size, Math.max(err.needed, have * GROWTH));
      const grown = new Uint8Array(want);
      grown.set(bytes);
      grown.set(await source.read(have, want - have), have);
      bytes = grown;
      have = want;
    }
  }
}

async function readHeaderAt(path: string, shard: number, options: ReadOptions): Promise<GGUFHeader> {
  const source = await openFileSource(path);
  try {
    return await readGGUFHeader(source, { ...options, shard });
  } finally {
    await source.close();
  }
}

/**
 * Reads a GGUF file's header (Node). When the file is one shard of a split
 * model (split.count > 1), the other shards are found by name and read too,
 * and the result lists every shard's tensors with their own file and
 * absolute offset. Any shard may be given; the first holds the metadata.
 */
export async function readGGUF(path: string, options: ReadOptions = {}): Promise<GGUFFile> {
  const opened = await readHeaderAt(path, 0, options);
  const count = splitCount(opened);
  if (count === undefined || count <= 1) return { ...opened, shards: [opened] };

  const paths = shardPaths(opened, count);
  const { existsSync } = await import('node:fs');
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new GGUFError({
      code: 'split-missing', file: missing[0],
      problem: `shard missing: the split model ${path} has ${count} shards and ${missing.length === 1 ? 'this one is' : `${missing.length} are`} absent (${missing.join(', ')})`,
    });
  }
  const openedIndex = paths.indexOf(opened.file);
  for (const t of opened.tensors) t.shard = openedIndex;
  const shards: GGUFHeader[] = [];
  for (let i = 0; i < count; i++) shards.push(i === openedIndex ? opened : await readHeaderAt(paths[i], i, options));
  return mergeShards(shards);
}

/** A tensor's bytes, read from its file at its absolute offset (Node). */
export async function readTensorData(tensor: GGUFTensorInfo): Promise<Uint8Array> {
  const source = await openFileSource(tensor.file);
  try {
    if (tensor.absoluteOffset + tensor.nBytes > source.size) {
      throw new GGUFError({
        code: 'data-bounds', file: tensor.file, offset: tensor.absoluteOffset, key: tensor.name, keyIsTensor: true,
        problem: `data [${tensor.absoluteOffset}, ${tensor.absoluteOffset + tensor.nBytes}) lies outside the file (${source.size} bytes)`,
      });
    }
    return await source.read(tensor.absoluteOffset, tensor.nBytes);
  } finally {
    await source.close();
  }
}
