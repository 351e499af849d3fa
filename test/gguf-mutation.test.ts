// 10,000+ seeded mutations of real and writer-built headers (truncations,
// byte flips, 4/8-byte overwrites with extreme values, aimed mostly at the
// header's structural fields). Every parse must return or throw GGUFError,
// take under a second, and never allocate more than the file holds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  encodeGGUF, GGMLType, GGUFError, GGUFValueType, parseGGUF, rowSize,
  type GGUFHeader, type GGUFTypedValue, type GGUFWriteSpec, type ParseStats,
} from '../formats/index.js';
import { mulberry32 } from './helpers/rng.js';
import { sharedGGUFFiles } from './helpers/shared.js';

const T = GGUFValueType;
const utf8 = new TextEncoder();

function writerBuilt(version: 1 | 2 | 3, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
  const types = [GGMLType.F32, GGMLType.F16, GGMLType.Q4_0, GGMLType.Q8_0, GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.I32];
  const spec: GGUFWriteSpec = {
    version,
    kv: [
      { key: 'general.architecture', value: 'llama' },
      { key: 'general.alignment', type: T.UINT32, value: version === 3 ? 64 : 32 },
      { key: 'u8', type: T.UINT8, value: 1 }, { key: 'i8', type: T.INT8, value: -1 },
      { key: 'u16', type: T.UINT16, value: 2 }, { key: 'i16', type: T.INT16, value: -2 },
      { key: 'i32', type: T.INT32, value: -3 }, { key: 'f32', type: T.FLOAT32, value: 0.5 },
      { key: 'b', type: T.BOOL, value: true }, { key: 'u64', type: T.UINT64, value: 5n },
      { key: 'i64', type: T.INT64, value: -5n }, { key: 'f64', type: T.FLOAT64, value: 0.25 },
      { key: 'tokenizer.ggml.tokens', value: Array.from({ length: 40 }, (_, i) => `tok${i}▁`) },
      { key: 'tokenizer.ggml.scores', value: new Float32Array(40).fill(-1) },
      { key: 'tokenizer.ggml.token_type', value: new Int32Array(40).fill(1) },
      { key: 'bools', value: [true, false] },
      { key: 'nested', type: T.ARRAY, elementType: T.ARRAY, value: [new Uint16Array([1, 2]), ['a', 'b'], [[true]]] },
    ],
    tensors: types.map((type, i) => {
      const shape = [256, 1 + (i % 3)];
      return { name: `blk.${i}.w`, type, shape, data: bytes(rowSize(type, 256) * shape[1]) };
    }),
  };
  return encodeGGUF(spec);
}

/** Byte offsets of the header's structural fields: counts, lengths, type ids, dims, offsets. */
function structuralFields(h: GGUFHeader): number[] {
  const w = h.version >= 2 ? 8 : 4;
  const out = [4, 8, 8 + w];
  const arrayFields = (tv: GGUFTypedValue, at: number): number => {
    // element type, length; then for string arrays the first few element lengths
    out.push(at, at + 4);
    let p = at + 4 + w;
    if (tv.elementType === T.STRING) {
      const arr = tv.value as string[];
      for (let i = 0; i < arr.length; i++) {
        if (i < 3 || i === arr.length - 1) out.push(p);
        p += w + utf8.encode(arr[i]).length;
      }
    } else if (tv.elementType === T.ARRAY) {
      for (const it of tv.items!) p = arrayFields(it, p);
    } else {
      p += (tv.value as ArrayLike<unknown>).length * (tv.elementType === T.BOOL ? 1 : (tv.value as Uint8Array).BYTES_PER_ELEMENT);
    }
    return p;
  };
  for (const e of h.kv) {
    const typeAt = e.offset + w + utf8.encode(e.key).length;
    out.push(e.offset, typeAt, typeAt + 4);
    if (e.type === T.ARRAY) arrayFields(e, typeAt + 4);
  }
  for (const t of h.tensors) {
    const nDimsAt = t.infoOffset + w + utf8.encode(t.name).length;
    out.push(t.infoOffset, nDimsAt);
    for (let d = 0; d < t.shape.length; d++) out.push(nDimsAt + 4 + d * w);
    const typeAt = nDimsAt + 4 + t.shape.length * w;
    out.push(typeAt, typeAt + 4);
  }
  return out;
}

const EXTREMES32 = [0, 1, 0x7f, 0xff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 13, 64, 5];
const EXTREMES64 = [0n, 1n, 2n ** 31n, 2n ** 32n, 2n ** 32n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 40n];

interface Source { name: string; bytes: Uint8Array; fields: number[]; headerEnd: number; mutations: number }

function source(name: string, bytes: Uint8Array, mutations: number): Source {
  const h = parseGGUF(bytes, { file: name });
  return { name, bytes, fields: structuralFields(h), headerEnd: h.dataOffset, mutations };
}

test('10,000 seeded mutations: a result or a GGUFError, quickly, with bounded allocation', () => {
  const sources: Source[] = [
    source('writer-v3', writerBuilt(3, 1), 2000),
    source('writer-v2', writerBuilt(2, 2), 1500),
    source('writer-v1', writerBuilt(1, 3), 1500),
  ];
  const shared = sharedGGUFFiles();
  for (const path of shared) {
    const bytes = new Uint8Array(readFileSync(path));
    const small = parseGGUF(bytes).headerSize < 64 * 1024;
    // Small headers (the stories models) take thousands of mutations; the
    // large vocabularies parse in tens of ms each, so they get a few, aimed at fields.
    sources.push(source(basename(path), bytes, small ? 2500 : 12));
  }
  if (shared.length === 0) sources.forEach((s) => (s.mutations *= 2));

  const rand = mulberry32(20240601);
  const int = (n: number) => Math.floor(rand() * n);
  const outcomes = new Map<string, number>();
  let total = 0;
  let slowest = 0;
  let slowestWhat = '';
  for (const src of sources) {
    const work = src.bytes.slice();
    const view = new DataView(work.buffer);
    const bigFile = src.mutations < 100;
    for (let m = 0; m < src.mutations; m++) {
      const kind = int(100) < 15 ? 'truncate' : int(100) < 40 ? 'flip' : 'overwrite';
      const atField = bigFile || rand() < 0.6;
      const pos = atField ? src.fields[int(src.fields.length)] + (rand() < 0.8 ? 0 : int(8)) : int(src.headerEnd);
      let input = work;
      const saved: [number, number][] = [];
      const set = (at: number, v: number) => { if (at < work.length) { saved.push([at, work[at]]); work[at] = v; } };
      if (kind === 'truncate') {
        input = work.subarray(0, bigFile ? Math.min(pos + int(16), work.length) : int(Math.min(work.length, src.headerEnd + 64) + 1));
      } else if (kind === 'flip') {
        const n = 1 + int(4);
        for (let k = 0; k < n; k++) {
          const at = k === 0 ? pos : int(src.headerEnd);
          set(at, work[at] ^ (1 + int(255)));
        }
      } else if (int(2) === 0 && pos + 4 <= work.length) {
        for (let k = 0; k < 4; k++) saved.push([pos + k, work[pos + k]]);
        view.setUint32(pos, rand() < 0.8 ? EXTREMES32[int(EXTREMES32.length)] : int(2 ** 32), true);
      } else if (pos + 8 <= work.length) {
        for (let k = 0; k < 8; k++) saved.push([pos + k, work[pos + k]]);
        view.setBigUint64(pos, EXTREMES64[int(EXTREMES64.length)], true);
      }

      const stats: ParseStats = { largestAllocation: 0 };
      const what = `${src.name} #${m}: ${kind} at ${pos}`;
      const t0 = performance.now();
      let outcome = 'ok';
      try {
        parseGGUF(input, { file: src.name, stats });
      } catch (err) {
        if (!(err instanceof GGUFError)) {
          assert.unreachable(`${what}: threw ${(err as Error)?.stack ?? err} instead of a GGUFError`);
          throw err;
        }
        outcome = err.code;
        assert.is(err.file, src.name);
        assert.ok(err.offset === undefined || (err.offset >= 0 && err.offset <= input.length), `${what}: error offset ${err.offset}`);
      }
      const dt = performance.now() - t0;
      if (dt > slowest) { slowest = dt; slowestWhat = what; }
      assert.ok(dt < 1000, `${what}: parse took ${dt.toFixed(0)} ms`);
      assert.ok(stats.largestAllocation <= input.length, `${what}: allocated ${stats.largestAllocation} bytes for a ${input.length}-byte file`);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      total++;
      for (let k = saved.length - 1; k >= 0; k--) work[saved[k][0]] = saved[k][1];
    }
  }
  assert.ok(total >= 10_000, `only ${total} mutations`);
  // The mutations must reach deep into the parser, not just break the magic.
  for (const code of ['ok', 'truncated', 'length', 'count', 'value-type', 'tensor-type', 'n-dims', 'shape', 'data-bounds']) {
    assert.ok((outcomes.get(code) ?? 0) > 0, `no mutation ended in "${code}": ${JSON.stringify([...outcomes])}`);
  }
  console.log(`  ${total} mutations; slowest parse ${slowest.toFixed(1)} ms (${slowestWhat}); outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
});

test.run();
