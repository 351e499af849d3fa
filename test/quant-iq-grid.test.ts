// The grid i-quants' scalar references (formats/quant/iq1.ts, iq2.ts, iq3.ts)
// against ggml itself: libggml-base's to_float (through koffi,
// test/helpers/ggml-quants.ts) must give the same floats bit for bit, on
// random blocks (every bit pattern is a valid block, except that the f16
// scale is kept finite) and on blocks quantized from gaussian rows with an
// importance matrix of ones and a random one (by the C quantizers, whose
// bytes are ggml's: quant-iq-grid-quantize.test.ts; ggml's own would build
// its grid tables here again, which takes seconds).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { dequantizeOnlyTypes, dequantizeRow, quantizeRow } from '../formats/quant/index.js';
import { WasmQuantizer } from '../runtime/quantize/wasm-quantizer.js';
import { ggmlQuants, type GGMLQuants } from './helpers/ggml-quants.js';
import { IQ_GRID_TYPES, randomIqBlocks as randomBlocks, setIqScale } from './helpers/iq-blocks.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const QK_K = 256;
const name = (t: GGMLType) => ggmlTypeInfo(t)!.name;

function sameBits(got: Float32Array, want: Float32Array, what: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < g.length; i++) {
    if (g[i] !== w[i]) assert.unreachable(`${what}: element ${i} is ${got[i]} (0x${g[i]!.toString(16)}), ggml ${want[i]} (0x${w[i]!.toString(16)})`);
  }
}

let oracle: GGMLQuants | string;
let fast: WasmQuantizer;
test.before(async () => {
  oracle = await ggmlQuants();
  fast = await WasmQuantizer.load();
  if (typeof oracle === 'string') console.log(`  skip: the ggml oracle tests do not run: ${oracle}`);
});

test('the grid i-quants have no BlockCodec; those ggml quantizes only with an imatrix refuse quantizeRow', () => {
  assert.equal([...dequantizeOnlyTypes()].sort((a, b) => a - b), [...IQ_GRID_TYPES].sort((a, b) => a - b));
  for (const t of IQ_GRID_TYPES) {
    if (t === GGMLType.IQ2_XXS || t === GGMLType.IQ2_XS || t === GGMLType.IQ1_S) {
      assert.throws(() => quantizeRow(t, new Float32Array(QK_K)), /needs importance weights/, name(t));
    }
    assert.throws(() => dequantizeRow(t, new Uint8Array(rowSize(t, QK_K) - 1), QK_K), RangeError, name(t));
  }
});

for (const type of IQ_GRID_TYPES) {
  test(`${name(type)}: dequantizeRow equals ggml's to_float bit for bit (random blocks, ggml-quantized rows)`, () => {
    if (typeof oracle === 'string') return;
    const g = oracle;
    // random blocks: every field's every value, 512 blocks
    const nb = 512;
    const rnd = randomBlocks(type, nb, 0x1a2b + type);
    sameBits(dequantizeRow(type, rnd, nb * QK_K), g.dequantize(type, rnd, nb * QK_K), `${name(type)} random blocks`);
    // scales at the ends of the f16 range: zero, subnormal, the largest finite
    const ends = randomBlocks(type, 3, 0x77 + type);
    const setD = (blk: number, h: number) => setIqScale(type, ends, blk, h);
    setD(0, 0x0000);
    setD(1, 0x8001);
    setD(2, 0x7bff);
    sameBits(dequantizeRow(type, ends, 3 * QK_K), g.dequantize(type, ends, 3 * QK_K), `${name(type)} extreme scales`);
    // quantized gaussian rows with outliers, importance all ones and random
    const n = 4 * QK_K;
    const rand = mulberry32(0x5eed + type);
    const x = gaussian(rand, 8 * n, 1);
    for (let i = 13; i < x.length; i += 301) x[i]! *= 25;
    const imRandom = new Float32Array(n).map(() => 0.1 + 3 * rand());
    for (const [label, im] of [['ones', new Float32Array(n).fill(1)], ['random', imRandom]] as const) {
      const q = fast.quantize(type, x, n, im);
      sameBits(dequantizeRow(type, q, x.length), g.dequantize(type, q, x.length), `${name(type)} quantized (imatrix ${label})`);
    }
  });
}

test.run();
