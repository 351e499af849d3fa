// Split models: three shards written by the writer read back as one model,
// with each tensor's file and absolute offset pointing at its bytes; broken
// sets of shards give clear errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GGMLType, GGUFError, GGUFValueType, parseSplitPath, readGGUF, readTensorData, splitPath, writeGGUF, writeSplitGGUF,
  type GGUFErrorCode, type GGUFWriteSpec,
} from '../formats/index.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const T = GGUFValueType;

function spec(): GGUFWriteSpec {
  const rand = mulberry32(3);
  const tensors = Array.from({ length: 7 }, (_, i) => ({
    name: `blk.${i}.weight`, type: GGMLType.F32, shape: [16, i + 1], data: new Uint8Array(gaussian(rand, 16 * (i + 1)).buffer),
  }));
  return {
    kv: [
      { key: 'general.architecture', value: 'llama' },
      { key: 'general.alignment', type: T.UINT32, value: 64 },
      { key: 'llama.block_count', value: 7 },
    ],
    tensors,
  };
}

async function expectError(p: Promise<unknown>, code: GGUFErrorCode, file: string, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, GGUFError, String(err));
    const e = err as GGUFError;
    assert.is(e.code, code, e.message);
    assert.is(e.file, file, e.message);
    assert.match(e.message, re);
    return;
  }
  assert.unreachable(`no error (wanted ${code})`);
}

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gguf-split-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('shard names follow llama.cpp', () => {
  assert.is(splitPath('/m/model', 0, 3), '/m/model-00001-of-00003.gguf');
  assert.equal(parseSplitPath('/m/model-00002-of-00003.gguf'), { prefix: '/m/model', index: 1, count: 3 });
  assert.is(parseSplitPath('/m/model.gguf'), null);
});

test('three shards read back as one model, from any shard', withDir(async (dir) => {
  const s = spec();
  const paths = await writeSplitGGUF(join(dir, 'model'), s, 3);
  assert.equal(paths, [1, 2, 3].map((i) => join(dir, `model-0000${i}-of-00003.gguf`)));
  const f = await readGGUF(paths[0]);
  assert.is(f.shards.length, 3);
  assert.equal(f.shards.map((h) => h.file), paths);
  assert.is(f.metadata.get('general.architecture'), 'llama');
  assert.is(f.metadata.get('split.count'), 3);
  assert.is(f.metadata.get('split.tensors.count'), 7);
  assert.is(f.alignment, 64);
  assert.is(f.tensors.length, 7);
  const perShard = [3, 3, 1];
  for (let i = 0; i < 7; i++) {
    const t = f.tensors[i];
    const shard = i < 3 ? 0 : i < 6 ? 1 : 2;
    assert.is(t.name, s.tensors![i].name);
    assert.is(t.shard, shard);
    assert.is(t.file, paths[shard]);
    assert.is(t.absoluteOffset, f.shards[shard].dataOffset + t.offset);
    assert.is(t.absoluteOffset % 64, 0);
    assert.equal(await readTensorData(t), s.tensors![i].data, `${t.name}: bytes at its offset`);
  }
  assert.equal(f.shards.map((h) => h.tensors.length), perShard);
  // The other shards carry only split keys (and the alignment).
  assert.equal([...f.shards[1].metadata.keys()], ['general.alignment', 'split.no', 'split.count', 'split.tensors.count']);

  const fromMiddle = await readGGUF(paths[1]);
  assert.is(fromMiddle.file, paths[0], 'the model is named by its first shard');
  assert.equal(fromMiddle.tensors.map((t) => [t.name, t.file, t.shard, t.absoluteOffset]), f.tensors.map((t) => [t.name, t.file, t.shard, t.absoluteOffset]));
}));

test('a missing shard is named', withDir(async (dir) => {
  const paths = await writeSplitGGUF(join(dir, 'model'), spec(), 3);
  unlinkSync(paths[2]);
  await expectError(readGGUF(paths[0]), 'split-missing', paths[2], /shard missing: the split model .* has 3 shards and this one is absent/);
}));

test('shards that do not belong together are refused', withDir(async (dir) => {
  const paths = await writeSplitGGUF(join(dir, 'model'), spec(), 3);
  const shard = (no: number, count: number, tensors = 7) => ({
    kv: [
      { key: 'split.no', type: T.UINT16, value: no },
      { key: 'split.count', type: T.UINT16, value: count },
      { key: 'split.tensors.count', type: T.INT32, value: tensors },
    ],
    tensors: [{ name: 'blk.6.weight', type: GGMLType.F32, shape: [4], data: new Uint8Array(16) }],
  });
  await writeGGUF(paths[2], shard(2, 4));
  await expectError(readGGUF(paths[0]), 'split', paths[2], /split\.count is 4 but the first shard says 3/);
  await writeGGUF(paths[2], shard(1, 3));
  await expectError(readGGUF(paths[0]), 'split', paths[2], /split\.no is 1, expected 2/);
  await writeGGUF(paths[2], { ...shard(2, 3), tensors: [{ name: 'blk.0.weight', type: GGMLType.F32, shape: [4], data: new Uint8Array(16) }] });
  await expectError(readGGUF(paths[0]), 'duplicate-tensor', paths[2], /tensor "blk\.0\.weight": tensor also in shard/);
  await writeGGUF(paths[2], { ...shard(2, 3), tensors: [] });
  await expectError(readGGUF(paths[0]), 'split', paths[0], /split\.tensors\.count is 7 but the 3 shards hold 6 tensors/);
  // A shard renamed so that its name no longer says where the others are.
  const lone = join(dir, 'renamed.gguf');
  copyFileSync(paths[0], lone);
  await expectError(readGGUF(lone), 'split', lone, /file name does not follow <name>-00001-of-00003\.gguf/);
}));

test.run();
