// The real GGUF files beside the repository (../shared): every one parses,
// rewriting it gives the same bytes, and the reader reads only the header.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  encodeGGUF, GGUFValueType, memorySource, parseGGUF, readGGUF, readGGUFHeader, readTensorData, rewriteGGUF,
  specFromHeader, type ByteSource, type GGUFHeader,
} from '../formats/index.js';
import { sharedDir, sharedGGUFFiles } from './helpers/shared.js';

const files = sharedGGUFFiles();

function dataOf(bytes: Uint8Array) {
  return (t: { absoluteOffset: number; nBytes: number }) => bytes.subarray(t.absoluteOffset, t.absoluteOffset + t.nBytes);
}

function sameBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

test('every shared .gguf parses and rewrites to identical bytes (same version)', () => {
  if (files.length === 0) return;
  assert.ok(files.length >= 11, `expected the 11 shared files, found ${files.length}`);
  for (const path of files) {
    const bytes = readFileSync(path);
    const h = parseGGUF(bytes, { file: path });
    assert.is(h.file, path);
    assert.ok(h.kv.length > 0, `${path}: no metadata`);
    assert.ok(h.headerSize <= h.dataOffset && h.dataOffset <= bytes.length);
    const out = encodeGGUF(specFromHeader(h, dataOf(bytes)));
    const diff = sameBytes(out, bytes);
    assert.is(diff, -1, `${basename(path)}: rewrite differs at byte ${diff} (${out.length} vs ${bytes.length} bytes)`);
  }
});

test('the v1 file and its v3 twin hold the same tensors and tensor bytes', () => {
  const dir = sharedDir('models');
  if (!dir) return;
  const v1Bytes = readFileSync(join(dir, 'tinyllamas-stories-260k-f32.gguf'));
  const v3Bytes = readFileSync(join(dir, 'stories260K.gguf'));
  const v1 = parseGGUF(v1Bytes);
  const v3 = parseGGUF(v3Bytes);
  assert.is(v1.version, 1);
  assert.is(v3.version, 3);
  assert.is(v1.tensors.length, 48);
  assert.is(v1.kv.length, 18);
  assert.is(v1.metadata.get('llama.context_length'), 512);
  assert.is(v3.metadata.get('llama.context_length'), 2048);
  const byName = new Map(v3.tensors.map((t) => [t.name, t]));
  for (const t of v1.tensors) {
    const u = byName.get(t.name);
    assert.ok(u, `${t.name} missing from the v3 file`);
    assert.equal(t.shape, u!.shape);
    assert.is(t.type, u!.type);
    assert.is(sameBytes(dataOf(v1Bytes)(t), dataOf(v3Bytes)(u!)), -1, `${t.name}: data differs`);
  }
});

test('metadata values take their natural JS types', () => {
  const dir = sharedDir('models');
  if (!dir) return;
  const h = parseGGUF(readFileSync(join(dir, 'llama-2-tiny-random.gguf')));
  const tokens = h.metadata.get('tokenizer.ggml.tokens');
  assert.ok(Array.isArray(tokens));
  assert.is((tokens as string[]).length, 32000);
  assert.is((tokens as string[])[1], '<s>');
  assert.is((tokens as string[])[29871], '▁'); // non-ASCII pieces decode as UTF-8
  const scores = h.metadata.get('tokenizer.ggml.scores');
  assert.instance(scores, Float32Array);
  assert.instance(h.metadata.get('tokenizer.ggml.token_type'), Int32Array);
  assert.is(h.metadata.get('general.architecture'), 'llama');
  assert.is(h.metadata.get('llama.embedding_length'), 8);
  const eps = h.kv.find((e) => e.key === 'llama.attention.layer_norm_rms_epsilon')!;
  assert.is(eps.type, GGUFValueType.FLOAT32);
  assert.is(eps.value, Math.fround(1e-5));
  assert.is(h.tensors[0].name, 'token_embd.weight');
  assert.equal(h.tensors[0].shape, [8, 32000]);
  assert.is(h.tensors[0].nBytes, 8 * 32000 * 2);
  assert.is(h.tensors[0].absoluteOffset, h.dataOffset + h.tensors[0].offset);
});

test('dbrx repeats general.file_type: a warning is recorded and the last value wins', () => {
  const dir = sharedDir('vocab');
  if (!dir) return;
  const path = join(dir, 'ggml-vocab-dbrx.gguf');
  const h = parseGGUF(readFileSync(path), { file: path });
  const entries = h.kv.filter((e) => e.key === 'general.file_type');
  assert.is(entries.length, 2, 'both entries stay in the raw kv list');
  assert.is(h.warnings.length, 1);
  assert.match(h.warnings[0], 'general.file_type');
  assert.match(h.warnings[0], `at byte ${entries[1].offset}`);
  assert.match(h.warnings[0], path);
  assert.is(h.metadata.get('general.file_type'), entries[1].value);
  // The resolved view has each key once.
  assert.is(h.metadata.size, h.kv.length - 1);
});

test('readGGUF reads only the header, growing its reads as needed', async () => {
  const dir = sharedDir('vocab');
  if (!dir) return;
  const bytes = readFileSync(join(dir, 'ggml-vocab-llama-spm.gguf'));
  let read = 0;
  let largest = 0;
  const inner = memorySource(bytes, 'spm.gguf');
  const counting: ByteSource = {
    ...inner,
    read: async (offset, length) => {
      read += length;
      largest = Math.max(largest, offset + length);
      return inner.read(offset, length);
    },
  };
  // A vocab file is all header: the reader must read it all, in a few growing steps.
  const h = await readGGUFHeader(counting, { initialBytes: 4096 });
  assert.is(h.tensors.length, 0);
  assert.is(read, bytes.length, 'each byte read once');

  const models = sharedDir('models');
  if (!models) return;
  const model = readFileSync(join(models, 'stories260K.gguf'));
  let modelRead = 0;
  const src = memorySource(model, 'stories.gguf');
  const h2 = await readGGUFHeader({ ...src, read: async (o, l) => { modelRead += l; return src.read(o, l); } }, { initialBytes: 1024 });
  assert.is(h2.tensors.length, 48);
  assert.ok(modelRead < 4 * h2.headerSize, `read ${modelRead} bytes for a ${h2.headerSize}-byte header`);
  assert.ok(modelRead < model.length / 10, 'tensor data was not read');
});

test('readGGUF from disk agrees with parseGGUF, and rewriteGGUF streams an identical copy', async () => {
  const dir = sharedDir('models');
  if (!dir) return;
  const tmp = mkdtempSync(join(tmpdir(), 'gguf-read-'));
  try {
    for (const name of ['llama-2-tiny-random.gguf', 'tinyllamas-stories-260k-f32.gguf']) {
      const path = join(dir, name);
      const bytes = readFileSync(path);
      const f = await readGGUF(path);
      const m: GGUFHeader = parseGGUF(bytes, { file: path });
      assert.is(f.shards.length, 1);
      assert.equal(f.tensors.map((t) => [t.name, t.absoluteOffset, t.nBytes]), m.tensors.map((t) => [t.name, t.absoluteOffset, t.nBytes]));
      const last = f.tensors[f.tensors.length - 1];
      assert.is(sameBytes(await readTensorData(last), dataOf(bytes)(last)), -1);
      const out = join(tmp, name);
      const size = await rewriteGGUF(f, out);
      assert.is(size, bytes.length);
      assert.is(sameBytes(readFileSync(out), bytes), -1, `${name}: streamed rewrite differs`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a real file rewritten as v2 and v1 reads back with the same content', () => {
  const dir = sharedDir('models');
  if (!dir) return;
  const bytes = readFileSync(join(dir, 'stories260K.gguf'));
  const h = parseGGUF(bytes);
  for (const version of [1, 2] as const) {
    const out = encodeGGUF(specFromHeader(h, dataOf(bytes), version));
    const back = parseGGUF(out);
    assert.is(back.version, version);
    assert.equal([...back.metadata.keys()], [...h.metadata.keys()]);
    assert.equal(back.metadata.get('tokenizer.ggml.tokens'), h.metadata.get('tokenizer.ggml.tokens'));
    assert.equal(back.tensors.map((t) => t.offset), h.tensors.map((t) => t.offset));
    // v1 and v2 headers differ in size from v3, but rewriting each with its own version is exact.
    assert.is(sameBytes(encodeGGUF(specFromHeader(back, dataOf(out))), out), -1);
  }
});

test.run();
