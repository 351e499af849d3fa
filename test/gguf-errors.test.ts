// Every way a header can be wrong gives a GGUFError that names the file, the
// byte offset of the bad field, and the key or tensor it belongs to.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  encodeGGUF, GGMLType, GGUFError, GGUFValueType, parseGGUF, readGGUF, type GGUFErrorCode, type GGUFHeader, type GGUFVersion,
} from '../formats/index.js';

const T = GGUFValueType;
const NAME = 'model.gguf';

function base(version: GGUFVersion = 3, extraKV: { key: string; type?: GGUFValueType; value: never }[] = []): Uint8Array {
  return encodeGGUF({
    version,
    kv: [
      { key: 'general.architecture', value: 'llama' },
      // long enough that a file cut after it still passes the count check
      { key: 'general.description', value: 'x'.repeat(200) },
      { key: 'tokenizer.ggml.tokens', value: ['a', 'b', 'c'] },
      { key: 'n', type: T.UINT32, value: 5 },
      ...extraKV,
    ],
    tensors: [
      { name: 'a', type: GGMLType.F32, shape: [8], data: new Uint8Array(32) },
      { name: 'b', type: GGMLType.F32, shape: [8], data: new Uint8Array(32) },
      { name: 'm', type: GGMLType.F32, shape: [8, 2, 1, 1], data: new Uint8Array(64) },
      { name: 'q', type: GGMLType.Q4_0, shape: [64], data: new Uint8Array(36) },
    ],
  });
}

/** Where each field of an entry or tensor info lies (v2/v3 layout unless narrow). */
function fields(h: GGUFHeader) {
  const w = h.version >= 2 ? 8 : 4;
  const kv = (key: string) => {
    const e = h.kv.find((x) => x.key === key)!;
    const typeAt = e.offset + w + key.length;
    return { at: e.offset, typeAt, valueAt: typeAt + 4 };
  };
  const tensor = (name: string) => {
    const t = h.tensors.find((x) => x.name === name)!;
    const nDimsAt = t.infoOffset + w + name.length;
    const dimsAt = nDimsAt + 4;
    const typeAt = dimsAt + w * t.shape.length;
    return { at: t.infoOffset, nDimsAt, dimsAt, typeAt, offsetAt: typeAt + 4 };
  };
  return { kv, tensor };
}

function patch(bytes: Uint8Array, at: number, value: number | bigint, size: 4 | 8 = 4): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  if (size === 4) v.setUint32(at, Number(value), true);
  else v.setBigUint64(at, BigInt(value), true);
  return out;
}

function expectError(bytes: Uint8Array, want: { code: GGUFErrorCode; offset: number; key?: string; message?: RegExp }): GGUFError {
  try {
    parseGGUF(bytes, { file: NAME });
  } catch (err) {
    assert.instance(err, GGUFError);
    const e = err as GGUFError;
    assert.is(e.code, want.code, e.message);
    assert.is(e.file, NAME);
    assert.is(e.offset, want.offset, `${e.message}: offset`);
    if (want.key !== undefined) assert.is(e.key, want.key, e.message);
    assert.ok(e.expected, `${e.message}: no "expected"`);
    assert.ok(e.message.startsWith(`${NAME}: at byte ${want.offset}`), e.message);
    if (want.message) assert.match(e.message, want.message);
    return e;
  }
  assert.unreachable(`no error (wanted ${want.code} at ${want.offset})`);
  throw new Error('unreachable');
}

const good = base();
const h = parseGGUF(good);
const { kv, tensor } = fields(h);

test('the unpatched file is fine', () => {
  assert.is(h.tensors.length, 4);
  assert.is(h.warnings.length, 0);
});

test('bad magic, unknown and byte-swapped versions', () => {
  const m = good.slice();
  m[0] = 0x58;
  expectError(m, { code: 'magic', offset: 0, message: /not a GGUF file \(magic "XGUF"/ });
  expectError(new Uint8Array([0x47, 0x47]), { code: 'magic', offset: 0, message: /too short/ });
  expectError(patch(good, 4, 7), { code: 'version', offset: 4, message: /unknown GGUF version 7/ });
  expectError(patch(good, 4, 0), { code: 'version', offset: 4 });
  expectError(patch(good, 4, 0x03000000), { code: 'version', offset: 4, message: /big-endian/ });
});

test('truncation: inside a value, a tensor info, and before the tensor data ends', () => {
  const n = kv('n');
  expectError(good.subarray(0, n.valueAt + 2), { code: 'truncated', offset: n.valueAt, key: 'n', message: /file ends at byte \d+, in the middle of the uint32 value/ });
  const b = tensor('b');
  expectError(good.subarray(0, b.offsetAt + 3), { code: 'truncated', offset: b.offsetAt, key: 'b' });
  expectError(good.subarray(0, 10), { code: 'truncated', offset: 8 });
  // Cut early, the counts themselves cannot fit.
  expectError(good.subarray(0, 100), { code: 'count', offset: 8, message: /tensor count 4 \(at least 24 bytes each\) exceeds the 76 bytes left/ });
  const q = tensor('q');
  expectError(good.subarray(0, h.dataOffset + 40), { code: 'data-bounds', offset: tensor('b').offsetAt, key: 'b', message: /lies outside the file/ });
  const qInfo = h.tensors[3];
  expectError(good.subarray(0, qInfo.absoluteOffset + qInfo.nBytes - 1), { code: 'data-bounds', offset: q.offsetAt, key: 'q' });
  // Cutting only the padding after the last tensor is harmless.
  assert.is(parseGGUF(good.subarray(0, qInfo.absoluteOffset + qInfo.nBytes)).tensors.length, 4);
});

test('string and array lengths beyond the file', () => {
  const arch = kv('general.architecture');
  expectError(patch(good, arch.at, 1e6, 8), { code: 'length', offset: arch.at, message: /key length 1000000 exceeds the \d+ bytes left in the file/ });
  expectError(patch(good, arch.valueAt, 2 ** 40, 8), { code: 'length', offset: arch.valueAt, key: 'general.architecture' });
  const tok = kv('tokenizer.ggml.tokens');
  const left = good.length - (tok.valueAt + 12);
  expectError(patch(good, tok.valueAt + 4, 0xffffffff, 8), {
    code: 'length', offset: tok.valueAt + 4, key: 'tokenizer.ggml.tokens',
    message: new RegExp(`^model\\.gguf: at byte ${tok.valueAt + 4}, key "tokenizer\\.ggml\\.tokens": string array length 4294967295 \\(at least 8 bytes each\\) exceeds the ${left} bytes left in the file$`),
  });
  expectError(patch(good, tok.valueAt + 4, 2n ** 62n, 8), { code: 'too-large', offset: tok.valueAt + 4, key: 'tokenizer.ggml.tokens' });
  // An element's own length
  expectError(patch(good, tok.valueAt + 12, 0xffffff, 8), { code: 'length', offset: tok.valueAt + 12, key: 'tokenizer.ggml.tokens' });
  // and a tensor name's
  expectError(patch(good, tensor('a').at, 5000, 8), { code: 'length', offset: tensor('a').at });
});

test('absurd tensor and kv counts', () => {
  expectError(patch(good, 8, 2 ** 40, 8), { code: 'count', offset: 8, message: /tensor count 1099511627776 .*exceeds/ });
  expectError(patch(good, 16, 2 ** 33, 8), { code: 'count', offset: 16, message: /metadata kv count/ });
  expectError(patch(good, 16, 2n ** 63n, 8), { code: 'too-large', offset: 16 });
  // Each count fits alone, but not both together.
  const together = patch(patch(good, 8, Math.floor(good.length / 24) - 2, 8), 16, Math.floor(good.length / 13) - 2, 8);
  expectError(together, { code: 'count', offset: 8, message: /cannot fit/ });
});

test('unknown value types and tensor types', () => {
  const n = kv('n');
  expectError(patch(good, n.typeAt, 13), { code: 'value-type', offset: n.typeAt, key: 'n', message: /unknown value type 13/ });
  expectError(patch(good, n.typeAt, 0xffffffff), { code: 'value-type', offset: n.typeAt, key: 'n' });
  const tok = kv('tokenizer.ggml.tokens');
  expectError(patch(good, tok.valueAt, 99), { code: 'value-type', offset: tok.valueAt, key: 'tokenizer.ggml.tokens', message: /array element type 99/ });
  const a = tensor('a');
  expectError(patch(good, a.typeAt, 99), { code: 'tensor-type', offset: a.typeAt, key: 'a', message: /tensor "a": unknown ggml type 99/ });
  expectError(patch(good, a.typeAt, 4), { code: 'tensor-type', offset: a.typeAt, key: 'a' }); // Q4_2, removed
});

test('n_dims, negative and overflowing dimensions, row sizes', () => {
  const a = tensor('a');
  expectError(patch(good, a.nDimsAt, 5), { code: 'n-dims', offset: a.nDimsAt, key: 'a', message: /n_dims 5 is more than ggml's 4/ });
  expectError(patch(good, a.dimsAt, 2n ** 64n - 1n, 8), { code: 'shape', offset: a.dimsAt, key: 'a', message: /ne\[0\] = -1 is negative/ });
  expectError(patch(good, a.dimsAt, 2n ** 60n, 8), { code: 'shape', offset: a.dimsAt, key: 'a', message: /beyond 2\^53/ });
  const m = tensor('m');
  let big = good;
  for (let d = 0; d < 3; d++) big = patch(big, m.dimsAt + 8 * d, 2 ** 31, 8);
  // 2^31 * 2^31 is already beyond 2^53: the second dimension is at fault.
  expectError(big, { code: 'shape', offset: m.dimsAt + 8, key: 'm', message: /element count of shape \[2147483648, 2147483648\.\.\.\] is beyond 2\^53/ });
  expectError(patch(good, m.dimsAt + 8, 2 ** 30, 8), { code: 'shape', offset: m.nDimsAt, key: 'm', message: /more than the whole file/ });
  const q = tensor('q');
  expectError(patch(good, q.dimsAt, 48, 8), { code: 'row-size', offset: q.dimsAt, key: 'q', message: /ne\[0\] = 48 is not a multiple of q4_0's block size 32/ });
});

test('tensor data: outside the file, overlapping, misaligned, offsets beyond 2^53', () => {
  const q = tensor('q');
  expectError(patch(good, q.offsetAt, 1 << 20, 8), { code: 'data-bounds', offset: q.offsetAt, key: 'q' });
  const b = tensor('b');
  expectError(patch(good, b.offsetAt, 0, 8), { code: 'overlap', offset: b.offsetAt, key: 'b', message: /overlaps tensor "a"/ });
  expectError(patch(good, b.offsetAt, h.tensors[1].offset + 4, 8), { code: 'misaligned', offset: b.offsetAt, key: 'b', message: /not a multiple of the alignment 32/ });
  expectError(patch(good, b.offsetAt, 2 ** 60, 8), { code: 'too-large', offset: b.offsetAt, key: 'b' });
});

test('duplicate tensor names; a repeated key only warns', () => {
  const b = tensor('b');
  const dup = good.slice();
  dup[b.at + 8] = 'a'.charCodeAt(0);
  expectError(dup, { code: 'duplicate-tensor', offset: b.at, key: 'a', message: /first at byte/ });

  const twice = encodeGGUF({ kv: [{ key: 'k', value: 1 }, { key: 'j', value: 'x' }, { key: 'k', value: 2 }] });
  const t = parseGGUF(twice, { file: NAME });
  assert.is(t.metadata.get('k'), 2);
  assert.equal(t.kv.map((e) => e.key), ['k', 'j', 'k']);
  assert.is(t.warnings.length, 1);
  assert.match(t.warnings[0], /^model\.gguf: at byte \d+, key "k" is repeated \(first at byte 24\); the last value wins$/);
});

test('general.alignment must be a uint32 power of two; keys must not be empty', () => {
  const withAlign = base(3, [{ key: 'general.alignment', type: T.UINT32, value: 64 as never }]);
  const f = fields(parseGGUF(withAlign)).kv('general.alignment');
  expectError(patch(withAlign, f.valueAt, 48), { code: 'alignment', offset: f.at, key: 'general.alignment', message: /alignment 48 is not a power of two/ });
  expectError(patch(withAlign, f.valueAt, 0), { code: 'alignment', offset: f.at, key: 'general.alignment' });
  expectError(patch(withAlign, f.typeAt, T.INT32), { code: 'alignment', offset: f.at, message: /must be a uint32, not int32/ });
  expectError(patch(good, kv('n').at, 0, 8), { code: 'key', offset: kv('n').at, message: /empty metadata key/ });
});

test('arrays of arrays nested beyond any real file are refused, not recursed into', () => {
  const depth = 40;
  const parts: number[] = [];
  const u32 = (v: number) => parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  const u64 = (v: number) => { u32(v); u32(0); };
  parts.push(0x47, 0x47, 0x55, 0x46);
  u32(3); u64(0); u64(1);
  u64(1); parts.push(0x78); // key "x"
  u32(T.ARRAY);
  for (let i = 0; i < depth; i++) { u32(T.ARRAY); u64(1); }
  u32(T.UINT8); u64(0);
  // Header 24, key 9, type 4; then 12 bytes (element type, length) per level: level 16's length is refused.
  const e = expectError(new Uint8Array(parts), { code: 'nesting', offset: 24 + 9 + 4 + 12 * 16 + 4, key: 'x' });
  assert.match(e.message, /nested more than 16 deep/);
});

test('v1 files: 32-bit lengths are checked the same way', () => {
  const v1 = base(1);
  const h1 = parseGGUF(v1);
  const f = fields(h1);
  const tok = f.kv('tokenizer.ggml.tokens');
  expectError(patch(v1, tok.valueAt + 4, 0xffffffff), { code: 'length', offset: tok.valueAt + 4, key: 'tokenizer.ggml.tokens' });
  expectError(patch(v1, 8, 0xffffffff), { code: 'count', offset: 8 });
  const a = f.tensor('a');
  expectError(patch(v1, a.typeAt, 1000), { code: 'tensor-type', offset: a.typeAt, key: 'a' });
});

test('a missing file is an io GGUFError naming it', async () => {
  const path = join(tmpdir(), 'run-gguf-does-not-exist.gguf');
  try {
    await readGGUF(path);
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, GGUFError);
    assert.is((err as GGUFError).code, 'io');
    assert.is((err as GGUFError).file, path);
    assert.match((err as GGUFError).message, `${path}: cannot read: no such file`);
  }
});

test.run();
