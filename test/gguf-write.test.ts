// Hand-built files through the writer and back through the reader: every
// value type, arrays of arrays, v1/v2/v3, custom alignment, strings that are
// not UTF-8, and the writer's own checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeGGUF, GGMLType, GGUFError, GGUFValueType, parseGGUF, planGGUF, readGGUF, readTensorData, rowSize,
  specFromHeader, writeGGUF, type GGUFKVInput, type GGUFWriteSpec,
} from '../formats/index.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const T = GGUFValueType;

/** One entry of every value type, explicit types, and nested arrays. */
function allTypesKV(): GGUFKVInput[] {
  return [
    { key: 'general.architecture', value: 'llama' },
    { key: 't.u8', type: T.UINT8, value: 255 },
    { key: 't.i8', type: T.INT8, value: -128 },
    { key: 't.u16', type: T.UINT16, value: 65535 },
    { key: 't.i16', type: T.INT16, value: -32768 },
    { key: 't.u32', type: T.UINT32, value: 4294967295 },
    { key: 't.i32', type: T.INT32, value: -2147483648 },
    { key: 't.f32', type: T.FLOAT32, value: Math.fround(0.1) },
    { key: 't.bool', type: T.BOOL, value: true },
    { key: 't.str', type: T.STRING, value: 'héllo ▁wörld 🦙' },
    { key: 't.u64', type: T.UINT64, value: 18446744073709551615n },
    { key: 't.i64', type: T.INT64, value: -9223372036854775808n },
    { key: 't.f64', type: T.FLOAT64, value: 1 / 3 },
    { key: 'a.u8', value: new Uint8Array([0, 1, 255]) },
    { key: 'a.i8', value: new Int8Array([-128, 0, 127]) },
    { key: 'a.u16', value: new Uint16Array([1, 65535]) },
    { key: 'a.i16', value: new Int16Array([-1, 2]) },
    { key: 'a.u32', value: new Uint32Array([7, 4294967295]) },
    { key: 'a.i32', value: new Int32Array([-5, 5]) },
    { key: 'a.f32', value: new Float32Array([0.5, -1.25, Infinity]) },
    { key: 'a.f64', value: new Float64Array([Math.PI]) },
    { key: 'a.u64', value: new BigUint64Array([1n, 1n << 63n]) },
    { key: 'a.i64', value: new BigInt64Array([-1n]) },
    { key: 'a.bool', value: [true, false, true] },
    { key: 'a.str', value: ['a', '', 'ü'] },
    { key: 'a.empty', type: T.ARRAY, elementType: T.STRING, value: [] },
    { key: 'a.nested', value: [['x', 'y'], ['q'], ['z']] },
    { key: 'a.mixed', type: T.ARRAY, elementType: T.ARRAY, value: [new Int32Array([1, 2]), [true], [new Float32Array([3])]] },
  ];
}

function randomTensors(seed: number) {
  const rand = mulberry32(seed);
  return [
    { name: 'token_embd.weight', type: GGMLType.F32, shape: [32, 4], data: new Uint8Array(gaussian(rand, 128).buffer) },
    // Quantized data is opaque to the file format: random bytes of the right size.
    { name: 'blk.0.attn_q.weight', type: GGMLType.Q8_0, shape: [64, 2], data: randomBytes(rand, rowSize(GGMLType.Q8_0, 64) * 2) },
    { name: 'blk.0.ffn_up.weight', type: GGMLType.Q4_K, shape: [256], data: randomBytes(rand, rowSize(GGMLType.Q4_K, 256)) },
    { name: 'output_norm.weight', type: GGMLType.F16, shape: [3], data: new Uint8Array(6).fill(0x3c) },
    { name: 'scalar', type: GGMLType.F32, shape: [], data: new Uint8Array(new Float32Array([42]).buffer) },
  ];
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
}

test('every value type and arrays of arrays survive write -> read, in v1, v2 and v3', () => {
  for (const version of [1, 2, 3] as const) {
    const spec: GGUFWriteSpec = { version, kv: allTypesKV(), tensors: randomTensors(1) };
    const bytes = encodeGGUF(spec);
    const h = parseGGUF(bytes);
    assert.is(h.version, version);
    const m = h.metadata;
    assert.is(m.get('t.u8'), 255);
    assert.is(m.get('t.i8'), -128);
    assert.is(m.get('t.u16'), 65535);
    assert.is(m.get('t.i16'), -32768);
    assert.is(m.get('t.u32'), 4294967295);
    assert.is(m.get('t.i32'), -2147483648);
    assert.is(m.get('t.f32'), Math.fround(0.1));
    assert.is(m.get('t.bool'), true);
    assert.is(m.get('t.str'), 'héllo ▁wörld 🦙');
    assert.is(m.get('t.u64'), 18446744073709551615n);
    assert.is(m.get('t.i64'), -9223372036854775808n);
    assert.is(m.get('t.f64'), 1 / 3);
    assert.equal(m.get('a.u8'), new Uint8Array([0, 1, 255]));
    assert.equal(m.get('a.i8'), new Int8Array([-128, 0, 127]));
    assert.equal(m.get('a.u16'), new Uint16Array([1, 65535]));
    assert.equal(m.get('a.i16'), new Int16Array([-1, 2]));
    assert.equal(m.get('a.u32'), new Uint32Array([7, 4294967295]));
    assert.equal(m.get('a.i32'), new Int32Array([-5, 5]));
    assert.equal(m.get('a.f32'), new Float32Array([0.5, -1.25, Infinity]));
    assert.equal(m.get('a.f64'), new Float64Array([Math.PI]));
    assert.equal(m.get('a.u64'), new BigUint64Array([1n, 1n << 63n]));
    assert.equal(m.get('a.i64'), new BigInt64Array([-1n]));
    assert.equal(m.get('a.bool'), [true, false, true]);
    assert.equal(m.get('a.str'), ['a', '', 'ü']);
    assert.equal(m.get('a.empty'), []);
    assert.equal(m.get('a.nested'), [['x', 'y'], ['q'], ['z']]);
    const mixed = h.kv.find((e) => e.key === 'a.mixed')!;
    assert.is(mixed.elementType, T.ARRAY);
    assert.equal(mixed.items!.map((it) => it.elementType), [T.INT32, T.BOOL, T.ARRAY]);
    assert.equal(mixed.items![2].items![0].value, new Float32Array([3]));
    // exact types are kept for rewriting
    const typeOf = (k: string) => h.kv.find((e) => e.key === k)!;
    for (const e of allTypesKV()) if (e.type !== undefined) assert.is(typeOf(e.key).type, e.type, e.key);
    assert.is(typeOf('a.f32').elementType, T.FLOAT32);
    assert.is(typeOf('a.i64').elementType, T.INT64);
    assert.is(typeOf('a.nested').elementType, T.ARRAY);
    // tensors: shapes, offsets and bytes
    const tensors = randomTensors(1);
    assert.is(h.tensors.length, tensors.length);
    for (let i = 0; i < tensors.length; i++) {
      const t = h.tensors[i];
      assert.is(t.name, tensors[i].name);
      assert.equal(t.shape, tensors[i].shape);
      assert.is(t.offset % 32, 0);
      assert.equal(bytes.subarray(t.absoluteOffset, t.absoluteOffset + t.nBytes), tensors[i].data);
    }
    assert.is(h.tensors[4].nElements, 1, 'n_dims 0 is a scalar');
    // and the file rewrites to itself
    assert.equal(encodeGGUF(specFromHeader(h, (t) => bytes.subarray(t.absoluteOffset, t.absoluteOffset + t.nBytes))), bytes);
  }
});

test('v1 stores counts, lengths and dims in 32 bits; v2/v3 in 64', () => {
  const spec = (version: 1 | 2 | 3): GGUFWriteSpec => ({
    version, kv: [{ key: 'k', value: 'v' }], tensors: [{ name: 't', type: GGMLType.F32, shape: [2, 3], data: new Uint8Array(24) }],
  });
  const v1 = parseGGUF(encodeGGUF(spec(1)));
  const v3 = parseGGUF(encodeGGUF(spec(3)));
  // header 4+4 magic/version; counts 2x(4|8); key len (4|8)+1, type 4, value len (4|8)+1;
  // name len (4|8)+1, n_dims 4, 2 dims x (4|8), type 4, offset 8
  assert.is(v1.headerSize, 8 + 8 + (4 + 1 + 4 + 4 + 1) + (4 + 1 + 4 + 8 + 4 + 8));
  assert.is(v3.headerSize, 8 + 16 + (8 + 1 + 4 + 8 + 1) + (8 + 1 + 4 + 16 + 4 + 8));
  const v2 = parseGGUF(encodeGGUF(spec(2)));
  assert.is(v2.headerSize, v3.headerSize);
  assert.throws(() => encodeGGUF({ version: 1, kv: [], tensors: [{ name: 'big', type: GGMLType.I8, shape: [2 ** 32] }] }),
    (e: unknown) => e instanceof GGUFError && e.code === 'write' && /uint32/.test(e.message));
});

test('general.alignment places the data section and every tensor', () => {
  for (const alignment of [1, 8, 64, 4096]) {
    const bytes = encodeGGUF({
      kv: [{ key: 'general.alignment', type: T.UINT32, value: alignment }],
      tensors: [
        { name: 'a', type: GGMLType.F32, shape: [3], data: new Uint8Array(12).fill(1) },
        { name: 'b', type: GGMLType.F32, shape: [5], data: new Uint8Array(20).fill(2) },
      ],
    });
    const h = parseGGUF(bytes);
    assert.is(h.alignment, alignment);
    assert.is(h.dataOffset % alignment, 0);
    assert.ok(h.dataOffset - h.headerSize < alignment);
    assert.is(h.tensors[1].offset, Math.ceil(12 / alignment) * alignment);
    assert.is(bytes.length % alignment, 0, 'the file ends padded');
    assert.is(bytes[h.tensors[1].absoluteOffset], 2);
  }
  // the default
  const h = parseGGUF(encodeGGUF({ kv: [], tensors: [{ name: 'a', type: GGMLType.F32, shape: [1], data: new Uint8Array(4) }] }));
  assert.is(h.alignment, 32);
  assert.is(h.dataOffset % 32, 0);
});

test('a file without tensors ends right after its header unless padEmpty', () => {
  const plain = encodeGGUF({ kv: [{ key: 'k', value: 1 }] });
  const h = parseGGUF(plain);
  assert.is(plain.length, h.headerSize);
  assert.is(h.dataOffset, h.headerSize);
  const padded = encodeGGUF({ kv: [{ key: 'k', value: 1 }], padEmpty: true });
  assert.is(padded.length % 32, 0);
  const hp = parseGGUF(padded);
  assert.equal(encodeGGUF(specFromHeader(hp, () => new Uint8Array(0))), padded);
});

test('strings that are not UTF-8, odd bools and NaN payloads rewrite byte-identically', () => {
  const bytes = encodeGGUF({
    kv: [
      { key: 'ok', value: 'x' },
      { key: 'bad', value: 'aaaa' },
      { key: 'arr', value: ['bbbb', 'cc', '\uFEFFbom'] },
      { key: 'b', type: T.BOOL, value: true },
      { key: 'bools', value: [true, false] },
      { key: 'nan', type: T.FLOAT32, value: 0 },
    ],
  });
  // Patch in invalid UTF-8, a bool byte of 7 and a NaN with a payload.
  const h0 = parseGGUF(bytes);
  const at = (key: string) => h0.kv.find((e) => e.key === key)!.offset;
  const valueAt = (key: string) => at(key) + 8 + key.length + 4; // after key and type
  bytes.set([0xff, 0xc3, 0x28, 0x80], valueAt('bad') + 8);
  bytes.set([0xed, 0xa0, 0x80, 0x41], valueAt('arr') + 4 + 8 + 8); // a lone surrogate, CESU-style
  bytes[valueAt('b')] = 7;
  bytes[valueAt('bools') + 4 + 8 + 1] = 2;
  bytes.set([0x01, 0x00, 0xc0, 0x7f], valueAt('nan'));
  const h = parseGGUF(bytes);
  const bad = h.kv.find((e) => e.key === 'bad')!;
  assert.ok(bad.raw, 'raw bytes kept');
  assert.is(typeof bad.value, 'string');
  assert.ok((bad.value as string).includes('\uFFFD'));
  assert.ok(h.kv.find((e) => e.key === 'arr')!.rawItems?.has(0));
  assert.is((h.metadata.get('arr') as string[])[2], '\uFEFFbom', 'a leading BOM is kept');
  assert.is(h.metadata.get('b'), true);
  assert.equal(h.kv.find((e) => e.key === 'b')!.raw, Uint8Array.of(7));
  assert.equal(h.kv.find((e) => e.key === 'bools')!.rawItems, new Map([[1, Uint8Array.of(2)]]));
  assert.equal(h.metadata.get('bools'), [true, true]);
  assert.ok(Number.isNaN(h.metadata.get('nan')));
  assert.equal(encodeGGUF(specFromHeader(h, () => new Uint8Array(0))), bytes);
  // Editing a value drops its stale raw bytes.
  const edited = specFromHeader(h, () => new Uint8Array(0));
  const kv = edited.kv.map((e) => (e.key === 'bad' ? { ...e, value: 'fixed' } : e));
  assert.is(parseGGUF(encodeGGUF({ ...edited, kv })).metadata.get('bad'), 'fixed');
});

test('types are inferred when not given', () => {
  const h = parseGGUF(encodeGGUF({
    kv: [
      { key: 'n', value: 7 }, { key: 'neg', value: -7 }, { key: 'f', value: 0.5 }, { key: 'big', value: 2 ** 40 },
      { key: 'bi', value: -3n }, { key: 'ints', value: [1, -2] }, { key: 'uints', value: [1, 3e9] }, { key: 'floats', value: [1, 0.5] },
      { key: 's', value: 'x' }, { key: 'b', value: false },
    ],
  }));
  const type = (k: string) => { const e = h.kv.find((x) => x.key === k)!; return e.type === T.ARRAY ? [e.type, e.elementType] : e.type; };
  assert.is(type('n'), T.UINT32);
  assert.is(type('neg'), T.INT32);
  assert.is(type('f'), T.FLOAT32);
  assert.is(type('big'), T.UINT64);
  assert.is(h.metadata.get('big'), 2n ** 40n);
  assert.is(type('bi'), T.INT64);
  assert.equal(type('ints'), [T.ARRAY, T.INT32]);
  assert.equal(type('uints'), [T.ARRAY, T.UINT32]);
  assert.equal(type('floats'), [T.ARRAY, T.FLOAT32]);
  assert.is(type('s'), T.STRING);
  assert.is(type('b'), T.BOOL);
});

test('the writer refuses what it cannot write, with GGUFError', () => {
  const bad = (spec: GGUFWriteSpec, re: RegExp) =>
    assert.throws(() => encodeGGUF(spec), (e: unknown) => e instanceof GGUFError && re.test(e.message), String(re));
  bad({ kv: [{ key: 'x', type: T.UINT8, value: 256 }] }, /256 cannot be written as uint8/);
  bad({ kv: [{ key: 'x', type: T.INT32, value: 1.5 }] }, /1.5 cannot be written as int32/);
  bad({ kv: [{ key: 'x', type: T.ARRAY, elementType: T.INT32, value: new Float32Array(1) }] }, /Float32Array cannot be written as int32/);
  bad({ kv: [{ key: 'x', value: [] }] }, /empty array needs an explicit elementType/);
  bad({ kv: [{ key: 'general.alignment', value: 48 }] }, /power of two/);
  bad({ kv: [], tensors: [{ name: 'a', type: GGMLType.Q4_0, shape: [48] }] }, /block size 32/);
  bad({ kv: [], tensors: [{ name: 'a', type: GGMLType.F32, shape: [1] }, { name: 'a', type: GGMLType.F32, shape: [1] }] }, /repeated/);
  bad({ kv: [], tensors: [{ name: 'a', type: GGMLType.F32, shape: [1, 1, 1, 1, 1] }] }, /more than 4/);
  bad({ kv: [], tensors: [{ name: 'a', type: GGMLType.F32, shape: [4], data: new Uint8Array(15) }] }, /data has 15 bytes but .* takes 16/);
  bad({ kv: [], tensors: [{ name: 'a', type: GGMLType.F32, shape: [4], offset: 8 }] }, /not a multiple of the alignment/);
  bad({ kv: [], tensors: [{ name: 'a', type: GGMLType.F32, shape: [16] }, { name: 'b', type: GGMLType.F32, shape: [4], offset: 32 }] }, /overlaps/);
});

test('writeGGUF streams chunked tensor data to disk; planGGUF agrees with the file', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'gguf-write-'));
  try {
    const rand = mulberry32(7);
    const big = gaussian(rand, 1 << 16);
    const bigBytes = new Uint8Array(big.buffer);
    const spec: GGUFWriteSpec = {
      kv: [{ key: 'general.architecture', value: 'llama' }],
      tensors: [
        { name: 'big', type: GGMLType.F32, shape: [256, 256], data: function* () { for (let o = 0; o < bigBytes.length; o += 10000) yield bigBytes.subarray(o, o + 10000); } },
        { name: 'zeros', type: GGMLType.F16, shape: [10] },
        { name: 'small', type: GGMLType.F32, shape: [2], data: new Uint8Array(new Float32Array([1, 2]).buffer) },
      ],
    };
    const path = join(tmp, 'm.gguf');
    const size = await writeGGUF(path, spec);
    const plan = planGGUF(spec);
    const onDisk = readFileSync(path);
    assert.is(size, plan.fileSize);
    assert.is(onDisk.length, plan.fileSize);
    assert.equal(new Uint8Array(onDisk.subarray(0, plan.header.length)), plan.header);
    const f = await readGGUF(path);
    assert.equal(await readTensorData(f.tensors[0]), bigBytes);
    assert.equal(await readTensorData(f.tensors[1]), new Uint8Array(20));
    assert.equal(new Float32Array((await readTensorData(f.tensors[2])).buffer), new Float32Array([1, 2]));
    // A provider yielding too many bytes is refused.
    await writeGGUF(join(tmp, 'bad.gguf'), { kv: [], tensors: [{ name: 'x', type: GGMLType.F32, shape: [1], data: () => [new Uint8Array(8)] }] })
      .then(() => assert.unreachable('should throw'), (e) => assert.ok(e instanceof GGUFError && /data has 8 bytes/.test(e.message)));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
