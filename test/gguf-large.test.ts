// Files over 4 GiB: offsets past 2^32 survive reading and writing. The file is
// sparse (the big tensor is a hole), so it costs no disk space.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType, parseGGUF, planGGUF, readGGUF, readTensorData, writeGGUF, type GGUFWriteSpec } from '../formats/index.js';

const GiB = 2 ** 30;

function spec(): GGUFWriteSpec {
  return {
    kv: [{ key: 'general.architecture', value: 'llama' }],
    tensors: [
      // 4.5 GiB of int8 that is never written: a hole in a sparse file.
      { name: 'huge', type: GGMLType.I8, shape: [4.5 * GiB] },
      { name: 'tail', type: GGMLType.F32, shape: [4], data: new Uint8Array(new Float32Array([1.5, -2, 3.25, 4]).buffer) },
    ],
  };
}

test('a tensor whose data lies past 4 GiB: header and bytes at its absolute offset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-large-'));
  try {
    const path = join(dir, 'big.gguf');
    const size = await writeGGUF(path, spec());
    assert.ok(size > 4.5 * GiB);
    const st = statSync(path);
    assert.is(st.size, size);
    if (st.blocks * 512 > 64 * 1024 * 1024) console.log(`  note: the filesystem did not keep ${path} sparse`);

    const f = await readGGUF(path);
    assert.is(f.fileSize, size);
    const huge = f.tensors[0];
    const tail = f.tensors[1];
    assert.equal(huge.shape, [4.5 * GiB]);
    assert.is(huge.nBytes, 4.5 * GiB);
    assert.is(tail.offset, 4.5 * GiB);
    assert.ok(tail.absoluteOffset > 2 ** 32);
    assert.is(tail.absoluteOffset, f.dataOffset + 4.5 * GiB);
    assert.equal(new Float32Array((await readTensorData(tail)).buffer), new Float32Array([1.5, -2, 3.25, 4]));
    // The hole reads as zeros.
    const { open } = await import('node:fs/promises');
    const fh = await open(path, 'r');
    const probe = new Uint8Array(16);
    await fh.read(probe, 0, 16, 4 * GiB + 12345);
    await fh.close();
    assert.equal(probe, new Uint8Array(16));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the in-memory parser takes a header-sized buffer and the real file size', () => {
  const layout = planGGUF(spec());
  const h = parseGGUF(layout.header, { file: 'big.gguf', fileSize: layout.fileSize });
  assert.is(h.tensors[1].absoluteOffset, layout.dataOffset + 4.5 * GiB);
  // Without the file size, the same header describes data beyond the buffer.
  assert.throws(() => parseGGUF(layout.header, { file: 'big.gguf' }), /tensor "huge": shape \[4831838208\] of i8 needs 4831838208 bytes, more than the whole file/);
});

test.run();
