// Where header bytes come from: a file (Node), a Blob (browsers), or memory.
// The parser only ever asks for the beginning of a file, growing it as the
// header turns out to be longer, so a 40 GB model costs a few MB of reads.
import { GGUFError } from './errors.js';

export interface ByteSource {
  /** Path or name, used in errors and as tensors' `file`. */
  readonly name: string;
  /** Size of the whole file in bytes. */
  readonly size: number;
  /** Bytes [offset, offset + length), which must lie within `size`. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export function memorySource(bytes: Uint8Array | ArrayBuffer, name = '<memory>'): ByteSource {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return {
    name,
    size: u8.length,
    read: async (offset, length) => u8.subarray(offset, offset + length),
    close: async () => {},
  };
}

/** A Blob or File (browsers): reads slices, never the whole blob. */
export function blobSource(blob: Blob, name = (blob as { name?: string }).name ?? '<blob>'): ByteSource {
  return {
    name,
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
    close: async () => {},
  };
}

/**
 * A file on disk through one FileHandle and positioned reads. node:fs is
 * imported on first use so that browsers can load this module.
 */
export async function openFileSource(path: string): Promise<ByteSource> {
  const { open } = await import('node:fs/promises');
  let fh: Awaited<ReturnType<typeof open>>;
  let size: number;
  try {
    fh = await open(path, 'r');
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw new GGUFError({ code: 'io', file: path, problem: 'not a regular file' });
    }
    size = st.size;
  } catch (err) {
    if (err instanceof GGUFError) throw err;
    throw ioError(path, err);
  }
  return {
    name: path,
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      let done = 0;
      try {
        while (done < length) {
          const { bytesRead } = await fh.read(out, done, length - done, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
      } catch (err) {
        throw ioError(path, err, offset);
      }
      if (done < length) {
        throw new GGUFError({ code: 'io', file: path, offset: offset + done, problem: `the file ended early (did it change while being read?)` });
      }
      return out;
    },
    close: () => fh.close(),
  };
}

function ioError(path: string, err: unknown, offset?: number): GGUFError {
  const e = err as NodeJS.ErrnoException;
  const why =
    e?.code === 'ENOENT' ? 'no such file'
    : e?.code === 'EACCES' ? 'permission denied'
    : e?.code === 'EISDIR' ? 'is a directory'
    : (e?.message ?? String(err));
  return new GGUFError({ code: 'io', file: path, offset, problem: `cannot read: ${why}`, cause: err });
}
