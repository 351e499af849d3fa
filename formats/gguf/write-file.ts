// Writing GGUF files to disk (Node): the header, then each tensor's bytes at
// its offset, streamed chunk by chunk so a large tensor never needs a second
// copy in memory. node:fs is imported on first use so browsers can load the
// barrel that re-exports this.
import { GGUFError } from './errors.js';
import type { GGUFHeader } from './header.js';
import { GGUFValueType } from './value-types.js';
import { splitPath, LLM_KV_SPLIT_COUNT, LLM_KV_SPLIT_NO, LLM_KV_SPLIT_TENSORS_COUNT } from './split.js';
import { checkDataLength, planGGUF, specFromHeader, type GGUFTensorInput, type GGUFWriteSpec, type TensorDataProvider } from './writer.js';

const CHUNK = 16 << 20;

/** Writes `spec` to `path`, streaming tensor data; returns the file size. */
export async function writeGGUF(path: string, spec: GGUFWriteSpec): Promise<number> {
  const layout = planGGUF(spec, path);
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'w');
  try {
    await fh.write(layout.header, 0, layout.header.length, 0);
    // File order, so the disk sees one sequential pass.
    const order = [...layout.tensors].sort((a, b) => a.offset - b.offset);
    for (const t of order) {
      let pos = layout.dataOffset + t.offset;
      let written = 0;
      const data = t.input.data;
      if (data === undefined) continue; // the hole reads back as zeros
      const chunks = data instanceof Uint8Array ? [data] : data();
      for await (const chunk of chunks) {
        if (written + chunk.length > t.nBytes) checkDataLength(t, written + chunk.length, path);
        await fh.write(chunk, 0, chunk.length, pos);
        pos += chunk.length;
        written += chunk.length;
      }
      checkDataLength(t, written, path);
    }
    // Gaps and the final padding: extending the file fills them with zeros.
    await fh.truncate(layout.fileSize);
  } finally {
    await fh.close();
  }
  return layout.fileSize;
}

/** A provider reading `length` bytes of `path` from `offset`, in chunks. */
export function fileRange(path: string, offset: number, length: number): TensorDataProvider {
  return async function* () {
    const { open } = await import('node:fs/promises');
    const fh = await open(path, 'r');
    try {
      let done = 0;
      while (done < length) {
        const n = Math.min(CHUNK, length - done);
        const buf = new Uint8Array(n);
        const { bytesRead } = await fh.read(buf, 0, n, offset + done);
        if (bytesRead === 0) {
          throw new GGUFError({ code: 'io', file: path, offset: offset + done, problem: 'the file ended before the tensor data did' });
        }
        yield bytesRead === n ? buf : buf.subarray(0, bytesRead);
        done += bytesRead;
      }
    } finally {
      await fh.close();
    }
  };
}

/** Rewrites a parsed file (one shard) to `path`, optionally as another version. */
export function rewriteGGUF(h: GGUFHeader, path: string, version = h.version): Promise<number> {
  return writeGGUF(path, specFromHeader(h, (t) => fileRange(t.file, t.absoluteOffset, t.nBytes), version));
}

/**
 * Writes `spec` as a split model of `shards` files named
 * <prefix>-00001-of-0000N.gguf, as llama.cpp's gguf-split does: the first
 * shard has all the metadata, every shard has split.no, split.count and
 * split.tensors.count, and the tensors are dealt out in order. Returns the paths.
 */
export async function writeSplitGGUF(prefix: string, spec: GGUFWriteSpec, shards: number): Promise<string[]> {
  const tensors = spec.tensors ?? [];
  if (!Number.isInteger(shards) || shards < 1 || shards > 99999) {
    throw new GGUFError({ code: 'write', file: prefix, problem: `cannot split into ${shards} shards`, expected: '1..99999' });
  }
  const per = Math.ceil(tensors.length / shards);
  const alignment = spec.kv.filter((e) => e.key === 'general.alignment').at(-1);
  const paths: string[] = [];
  for (let i = 0; i < shards; i++) {
    const own: GGUFTensorInput[] = tensors.slice(i * per, (i + 1) * per).map(({ offset: _dropped, ...t }) => t);
    const splitKV = [
      { key: LLM_KV_SPLIT_NO, type: GGUFValueType.UINT16, value: i },
      { key: LLM_KV_SPLIT_COUNT, type: GGUFValueType.UINT16, value: shards },
      { key: LLM_KV_SPLIT_TENSORS_COUNT, type: GGUFValueType.INT32, value: tensors.length },
    ];
    const kv = i === 0 ? [...spec.kv, ...splitKV] : [...(alignment ? [alignment] : []), ...splitKV];
    const path = splitPath(prefix, i, shards);
    await writeGGUF(path, { version: spec.version, kv, tensors: own });
    paths.push(path);
  }
  return paths;
}
