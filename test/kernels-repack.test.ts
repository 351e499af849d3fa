// Weights repacked at load (runtime/repack.ts): a repacked matrix must give
// exactly the bits of the file's layout, for a prompt batch and for decode,
// for any thread split (including splits that cut a group of four rows), for
// rows spanning several activation chunks, and as experts of ggml_mul_mat_id.
// The plain layout is held to the formats/ reference by kernels-legacy and
// kernels-matmul; equality here carries that to the repacked one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { quantizeRow } from '../formats/quant/index.js';
import { Graph, type Tensor } from '../runtime/graph/graph.js';
import { Ops } from '../runtime/graph/ops.js';
import type { Plan } from '../runtime/graph/plan.js';
import { weightRepacker } from '../runtime/repack.js';
import { loadKernels, type Kernels } from '../wasm/loader.js';
import { gaussian, mulberry32 } from './helpers/rng.js';
import { runAsThreads, wasmArena } from './helpers/run-graph.js';

const k: Kernels = await loadKernels();
/**
 * Each repacked layout, the weight type it holds and the row counts that get
 * it (q6_Kp: Q6_K matrices whose rows are not a multiple of 4; per expert).
 * 92 rows (23 groups) take every width of a decode that reads eight groups,
 * then four, then one (q4_0x4, q4_Kx4, q6_Kx4) at one thread; 44 rows (11 groups)
 * every width of one that reads eight, then two, then one (q3_Kx4, q5_Kx4).
 */
const LAYOUTS = [
  { type: GGMLType.Q2_K, layout: 'q2_Kx4', rows: 44, expertRows: 36, tokens: [1, 3, 65, 70] },
  { type: GGMLType.Q3_K, layout: 'q3_Kx4', rows: 44, expertRows: 36, tokens: [1, 3, 65, 70] },
  { type: GGMLType.Q4_0, layout: 'q4_0x4', rows: 92, expertRows: 36 },
  // q4_Kx4 and q6_Kx4 prompts stream 16 tokens at a time past each pair of groups where activation rows
  // are more than 8 KiB apart (8704 columns; relaxed.h pass_tokens): 20 tokens end on a part pass
  { type: GGMLType.Q4_K, layout: 'q4_Kx4', rows: 92, expertRows: 36, tokens: [1, 3, 20, 65, 70] },
  { type: GGMLType.Q5_K, layout: 'q5_Kx4', rows: 44, expertRows: 36 },
  { type: GGMLType.Q6_K, layout: 'q6_Kx4', rows: 92, expertRows: 36, tokens: [1, 3, 20, 65, 70] },
  { type: GGMLType.Q6_K, layout: 'q6_Kp', rows: 42, expertRows: 34 },
  { type: GGMLType.Q8_0, layout: 'q8_0x4', rows: 44, expertRows: 36 },
  { type: GGMLType.IQ4_NL, layout: 'iq4_nlx4', rows: 44, expertRows: 36 },
  { type: GGMLType.IQ4_XS, layout: 'iq4_xsx4', rows: 44, expertRows: 36 },
  { type: GGMLType.MXFP4, layout: 'mxfp4x4', rows: 44, expertRows: 36 },
  // tq1_0x4 decode reads four groups a quarter apart, then one at a time: 92 rows (23 groups) take both
  { type: GGMLType.TQ1_0, layout: 'tq1_0x4', rows: 92, expertRows: 36, tokens: [1, 3, 65, 70] },
] as const;
const hasX4 = LAYOUTS.every((l) => k.lookup(`mat_rows_${l.layout}`) !== undefined);
const arena = wasmArena(k);
const put = arena.put;
test.after(arena.free);

const run = (g: Graph, nth: number): Plan => runAsThreads(k, g, nth);
const bits = (p: Plan, t: Tensor, n: number) => Array.from(new Uint32Array(k.floats(p.ptr(t), n).slice().buffer));

/**
 * plain x and packed x on nth threads in one graph: asserts the same bits (and, given fn, that the
 * packed side ran that kernel); returns the plain side's bits.
 */
function samePacked(plain: Tensor, packed: Tensor, x: number, nTok: number, nth: number, what: string, fn?: string): number[] {
  const [nIn, nOut] = [plain.ne[0]!, plain.ne[1]!];
  const g = new Graph();
  const ops = new Ops(g, k);
  const xt = g.tensor({ name: 'x', type: GGMLType.F32, ne: [nIn, nTok], kind: 'input', ptr: x });
  const a = ops.matmul(plain, xt, 'plain');
  const b = ops.matmul(packed, xt, 'packed');
  g.markOutput(a);
  g.markOutput(b);
  const plan = run(g, nth);
  try {
    if (fn) assert.ok(plan.encoded.fns.includes(fn), plan.encoded.fns.join());
    const pa = bits(plan, a, nOut * nTok);
    assert.equal(bits(plan, b, nOut * nTok), pa, what);
    return pa;
  } finally {
    plan.dispose();
  }
}

/** Quantized rows, twice: one copy stays plain, the other goes through weightRepacker under `name`. */
function q4Matrix(rand: () => number, nIn: number, rows: number, name: string, ne: number[], type: GGMLType = GGMLType.Q4_0) {
  const rb = rowSize(type, nIn);
  const bytes = new Uint8Array(rb * rows);
  for (let r = 0; r < rows; r++) bytes.set(quantizeRow(type, gaussian(rand, nIn, 0.05)), r * rb);
  const plain: Tensor = { id: -1, name, type, ne, kind: 'weight', ptr: put(bytes) };
  const packed = weightRepacker([k])({ ...plain, name, ptr: put(bytes) });
  return { plain, packed, bytes };
}

if (!hasX4) {
  test('repack: this build has no repacked layouts (baseline SIMD): weights keep the file layout', () => {
    console.log('  (kernels without relaxed SIMD: the repacked layouts are only in kernels-relaxed.wasm)');
    for (const { type } of LAYOUTS) {
      const { packed } = q4Matrix(mulberry32(1), 256, 8, 'blk.0.attn_q.weight', [256, 8], type);
      assert.is(packed.layout, undefined);
    }
  });
} else {
  // 8704 columns: two activation chunks (ACT_CHUNK = 8192) per row
  for (const l of LAYOUTS) for (const nIn of [256, 8704]) {
    const { type, layout, rows } = l;
    const tokens: readonly number[] = 'tokens' in l ? l.tokens : [1, 3, 70];
    test(`${layout} (${nIn} columns) equals plain ${ggmlTypeInfo(type)!.name} bit for bit: 1, 2, 3 and 5 threads, ${tokens.join(', ')} tokens`, () => {
      const rand = mulberry32(nIn + type);
      const nOut = rows;
      const { plain, packed, bytes } = q4Matrix(rand, nIn, nOut, 'blk.3.ffn_down.weight', [nIn, nOut], type);
      assert.is(packed.layout, layout);
      assert.not.equal(Array.from(k.bytes(packed.ptr!, bytes.length)), Array.from(bytes), 'the bytes were rewritten');
      for (const nTok of tokens) {
        const x = put(gaussian(rand, nIn * nTok, 1));
        for (const nth of [1, 2, 3, 5]) samePacked(plain, packed, x, nTok, nth, `${nTok} tokens, ${nth} threads`, `mat_rows_${layout}`);
      }
    });
  }

  // q6_Kx4's decode reorders the activation on the stack in pieces of 64 super-blocks (16384 columns):
  // a row longer than that is read piece by piece, each piece's chunks added as the batch kernel adds
  // them; 65 tokens end with a one-token pass, which takes the decode kernel chunk by chunk
  test('q6_Kx4 over rows longer than its decode\'s activation piece (16640 columns) equals plain q6_K bit for bit: 1 and 65 tokens, 1 and 2 threads', () => {
    const rand = mulberry32(16640);
    const [nIn, nOut] = [16640, 12];
    const { plain, packed } = q4Matrix(rand, nIn, nOut, 'blk.3.ffn_down.weight', [nIn, nOut], GGMLType.Q6_K);
    assert.is(packed.layout, 'q6_Kx4');
    for (const nTok of [1, 65]) {
      const x = put(gaussian(rand, nIn * nTok, 1));
      for (const nth of [1, 2]) samePacked(plain, packed, x, nTok, nth, `${nTok} tokens, ${nth} threads`);
    }
  });

  for (const { type, layout, expertRows } of LAYOUTS) test(`${layout} experts (ggml_mul_mat_id) equal plain experts bit for bit, 1 and 3 threads`, () => {
    const rand = mulberry32(9);
    const [nIn, nOut, nExpert, kk, nTok] = [512, expertRows, 4, 2, 9];
    const { plain, packed } = q4Matrix(rand, nIn, nOut * nExpert, 'blk.0.ffn_up_exps.weight', [nIn, nOut, nExpert], type);
    assert.is(packed.layout, layout);
    const x = put(gaussian(rand, nIn * nTok, 1));
    const ids = put(Int32Array.from({ length: kk * nTok }, (_, i) => (i * 3 + (i >> 1)) % nExpert));
    for (const nth of [1, 3]) {
      const g = new Graph();
      const ops = new Ops(g, k);
      const xt = g.tensor({ name: 'x', type: GGMLType.F32, ne: [nIn, nTok], kind: 'input', ptr: x });
      const it = g.tensor({ name: 'ids', type: GGMLType.I32, ne: [kk, nTok], kind: 'input', ptr: ids });
      const a = ops.matmulId(plain, xt, it, 'plain');
      const b = ops.matmulId(packed, xt, it, 'packed');
      g.markOutput(a);
      g.markOutput(b);
      const plan = run(g, nth);
      assert.equal(bits(plan, b, nOut * kk * nTok), bits(plan, a, nOut * kk * nTok), `${nth} threads`);
      plan.dispose();
    }
  });

  // Row counts that are not a multiple of 4 keep the file's layout, which the relaxed module's own
  // k-quant kernels then read (four-row groups from each thread's first row in a batch, rows one at
  // a time in decode): a batch must give each token's decode bits, and any thread split the same.
  for (const type of [GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K]) {
    test(`plain ${ggmlTypeInfo(type)!.name}, 42 rows: 70 tokens equal each token alone, 1, 2, 3 and 5 threads, bit for bit`, () => {
      const rand = mulberry32(40 + type);
      const [nIn, nOut, nTok] = [512, 42, 70];
      const { plain } = q4Matrix(rand, nIn, nOut, 'blk.1.attn_k.weight', [nIn, nOut], type);
      const xs = gaussian(rand, nIn * nTok, 1);
      const x = put(xs);
      const matmul = (ptr: number, n: number, nth: number) => {
        const g = new Graph();
        const xt = g.tensor({ name: 'x', type: GGMLType.F32, ne: [nIn, n], kind: 'input', ptr });
        const y = new Ops(g, k).matmul(plain, xt, 'y');
        g.markOutput(y);
        const plan = run(g, nth);
        assert.ok(plan.encoded.fns.some((f) => f.startsWith(`mat_rows_${ggmlTypeInfo(type)!.name}`)), plan.encoded.fns.join());
        const out = bits(plan, y, nOut * n);
        plan.dispose();
        return out;
      };
      const batch = matmul(x, nTok, 1);
      for (const nth of [2, 3, 5]) assert.equal(matmul(x, nTok, nth), batch, `${nth} threads`);
      // 0..3 and 36..39: every place in the batch kernels' groups of tokens; 69: the pass's last, alone
      for (const t of [0, 1, 2, 3, 36, 37, 38, 39, 69]) {
        assert.equal(matmul(x + 4 * nIn * t, 1, t % 2 ? 3 : 1), batch.slice(nOut * t, nOut * (t + 1)), `token ${t} alone`);
      }
    });
  }

  // q8_0x4 decode reads 8 groups at a time, then 4, then one (kernels/relaxed/q8_0-relaxed.c):
  // 92 rows (23 groups) take every width at one thread, and the splits cut units and groups; 65
  // tokens end on a one-token pass inside a batch call. The bytes are uniformly random quants (-128
  // included, which ggml's quantizer never writes but a file may hold) with small f16 scales, and
  // 8704 columns cross the activation sub-chunk of 8192.
  test('q8_0x4 decode (random bytes, -128 included) equals plain Q8_0 bit for bit: 92 rows, 1 and 65 tokens, 1, 2 and 3 threads', () => {
    const rand = mulberry32(0x8a);
    const [nIn, nOut] = [8704, 92];
    const rb = rowSize(GGMLType.Q8_0, nIn);
    const bytes = new Uint8Array(rb * nOut);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
    for (let o = 0; o < bytes.length; o += 34) bytes[o + 1] = 0x10 + (bytes[o + 1]! & 0x83); // f16 scale 2^-11..2^-9, either sign
    for (let r = 0; r < nOut; r += 5) bytes[r * rb + 2 + r] = 0x80; // -128 in some rows for sure
    const plain: Tensor = { id: -1, name: 'blk.0.ffn_up.weight', type: GGMLType.Q8_0, ne: [nIn, nOut], kind: 'weight', ptr: put(bytes) };
    const packed = weightRepacker([k])({ ...plain, ptr: put(bytes) });
    assert.is(packed.layout, 'q8_0x4');
    for (const nTok of [1, 65]) {
      const x = put(gaussian(rand, nIn * nTok, 1));
      for (const nth of [1, 2, 3]) samePacked(plain, packed, x, nTok, nth, `${nTok} tokens, ${nth} threads`);
    }
  });

  // q2_Kx4 decode (kernels/relaxed/q2_K-decode.h) converts d and dmin by bit moves (exact for
  // every finite f16), reads its scales and mins as nibbles of swapped bytes and splits each dot
  // into x1 and x4 sums: random bytes (every scale and min nibble) with d and dmin from a list of
  // edge values (zero, -0, subnormals, negative, the largest), and all quants and nibbles at their
  // largest against activations all at -127 (what q8_K makes of a constant row), near the bound of the
  // int16 sums. 44 rows (eleven groups: four spread, two, one), 1 and 3 tokens, 1 and 2 threads.
  test('q2_Kx4 decode (random bytes, edge f16 scales, largest sums) equals plain Q2_K bit for bit: 1 and 3 tokens, 1 and 2 threads', () => {
    const rand = mulberry32(0x2c);
    const [nIn, nOut] = [512, 44];
    const rb = rowSize(GGMLType.Q2_K, nIn);
    const f16s = [0x0000, 0x8000, 0x0001, 0x03ff, 0x8201, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0xfbff, 0x1234, 0x9abc];
    const cases: [string, Uint8Array, Float32Array][] = [];
    const random = new Uint8Array(rb * nOut);
    for (let i = 0; i < random.length; i++) random[i] = Math.floor(rand() * 256);
    for (let o = 0, b = 0; o < random.length; o += 84, b++) { // block_q2_K: scales[16], qs[64], d, dmin
      const d = f16s[b % f16s.length]!, dmin = f16s[(b * 5 + 3) % f16s.length]!;
      random[o + 80] = d & 0xff, random[o + 81] = d >> 8, random[o + 82] = dmin & 0xff, random[o + 83] = dmin >> 8;
    }
    cases.push(['random bytes', random, gaussian(rand, nIn * 3, 1)]);
    const full = new Uint8Array(rb * nOut).fill(0xff);
    for (let o = 0; o < full.length; o += 84) full[o + 80] = 0x00, full[o + 81] = 0x3c, full[o + 82] = 0x00, full[o + 83] = 0x38;
    cases.push(['largest sums', full, Float32Array.from({ length: nIn * 3 }, (_, i) => (i < 2 * nIn ? -1 : 1))]);
    for (const [what, bytes, xs] of cases) {
      const plain: Tensor = { id: -1, name: 'blk.0.ffn_up.weight', type: GGMLType.Q2_K, ne: [nIn, nOut], kind: 'weight', ptr: put(bytes) };
      const packed = weightRepacker([k])({ ...plain, ptr: put(bytes) });
      assert.is(packed.layout, 'q2_Kx4');
      for (const nTok of [1, 3]) {
        const x = put(xs.subarray(0, nIn * nTok));
        for (const nth of [1, 2]) {
          const pa = samePacked(plain, packed, x, nTok, nth, `${what}, ${nTok} tokens, ${nth} threads`);
          assert.ok(pa.some((v) => v !== 0), `${what}: nonzero results`);
        }
      }
    }
  });

  // The edge-value tests below: each case's rows repacked must give the plain rows' bits for
  // 1 and 3 tokens on 1 and 2 threads.
  function edgeCasesEqualPlain(type: GGMLType, layout: string, name: string, nIn: number, nOut: number, cases: [string, Uint8Array, Float32Array][]): void {
    for (const [what, bytes, xs] of cases) {
      const plain: Tensor = { id: -1, name, type, ne: [nIn, nOut], kind: 'weight', ptr: put(bytes) };
      const packed = weightRepacker([k])({ ...plain, ptr: put(bytes) });
      assert.is(packed.layout, layout);
      for (const nTok of [1, 3]) {
        const x = put(xs.subarray(0, nIn * nTok));
        for (const nth of [1, 2]) {
          const pa = samePacked(plain, packed, x, nTok, nth, `${what}, ${nTok} tokens, ${nth} threads`);
          assert.ok(pa.some((v) => v !== 0), `${what}: nonzero results`);
        }
      }
    }
  }

  // q3_Kx4 decode (kernels/relaxed/q3_K-relaxed.h) converts d by integer moves and one exact
  // subtraction (every finite f16) and reads its signed 6-bit scales by shifts from 16-bit lanes:
  // random bytes (every scale value, -32 and 31 included) with d from the edge values, and all
  // quants at their largest (7 as stored) against activations at -127 and at 127, near the bound
  // of the int16 sums with the -4 offset folded in. 44 rows (eight spread groups, two, one).
  test('q3_Kx4 decode (random bytes, edge f16 scales, largest sums) equals plain Q3_K bit for bit: 1 and 3 tokens, 1 and 2 threads', () => {
    const rand = mulberry32(0x3c);
    const [nIn, nOut] = [512, 44];
    const rb = rowSize(GGMLType.Q3_K, nIn);
    const f16s = [0x0000, 0x8000, 0x0001, 0x03ff, 0x8201, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0xfbff, 0x1234, 0x9abc];
    const cases: [string, Uint8Array, Float32Array][] = [];
    const random = new Uint8Array(rb * nOut);
    for (let i = 0; i < random.length; i++) random[i] = Math.floor(rand() * 256);
    for (let o = 0, b = 0; o < random.length; o += 110, b++) { // block_q3_K: hmask[32], qs[64], scales[12], d
      const d = f16s[b % f16s.length]!;
      random[o + 108] = d & 0xff, random[o + 109] = d >> 8;
    }
    cases.push(['random bytes', random, gaussian(rand, nIn * 3, 1)]);
    const full = new Uint8Array(rb * nOut).fill(0xff); // quants 3 with the hmask bit (7 as stored), scales 63 - 32
    for (let o = 0, b = 0; o < full.length; o += 110, b++) {
      if (b % 2) full.fill(0, o + 96, o + 108); // every other block: scales -32
      full[o + 108] = 0x00, full[o + 109] = 0x3c;
    }
    cases.push(['largest sums', full, Float32Array.from({ length: nIn * 3 }, (_, i) => (i < 2 * nIn ? -1 : 1))]);
    edgeCasesEqualPlain(GGMLType.Q3_K, 'q3_Kx4', 'blk.0.ffn_down.weight', nIn, nOut, cases);
  });

  // q4_Kx4 decode (kernels/relaxed/q4_K-decode.h) converts d and dmin by bit moves when a group's
  // eight are normal f16s, else as every other path does: random bytes (every scale and min bit)
  // with d and dmin from a list of edge values (zero, -0, subnormals, negative, the largest, inf,
  // nan), and all nibbles at 15 against activations all at -128 (what q8_K makes of a constant row),
  // near the bound of the int16 sums. 92 rows (eight spread groups, four, one), 1 and 3 tokens,
  // 1 and 2 threads.
  test('q4_Kx4 decode (random bytes, edge f16 scales, largest sums) equals plain Q4_K bit for bit: 1 and 3 tokens, 1 and 2 threads', () => {
    const rand = mulberry32(0x4c);
    const [nIn, nOut] = [512, 92];
    const rb = rowSize(GGMLType.Q4_K, nIn);
    const f16s = [0x0000, 0x8000, 0x0001, 0x03ff, 0x8201, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0xfbff, 0x1234, 0x9abc, 0x7c00, 0x7e00];
    const cases: [string, Uint8Array, Float32Array][] = [];
    const random = new Uint8Array(rb * nOut);
    for (let i = 0; i < random.length; i++) random[i] = Math.floor(rand() * 256);
    for (let o = 0, b = 0; o < random.length; o += 144, b++) { // block_q4_K: d, dmin, scales[12], qs[128]
      // most blocks normal (the bit-move path), every seventh d and dmin from the edge list
      const d = b % 7 ? 0x1000 + (b & 0x3ff) : f16s[(b / 7) % f16s.length]!;
      const dmin = b % 7 ? 0x0c00 + (b & 0x3ff) : f16s[(b * 5 + 3) % f16s.length]!;
      random[o] = d & 0xff, random[o + 1] = d >> 8, random[o + 2] = dmin & 0xff, random[o + 3] = dmin >> 8;
    }
    cases.push(['random bytes', random, gaussian(rand, nIn * 3, 1)]);
    const full = new Uint8Array(rb * nOut).fill(0xff);
    for (let o = 0; o < full.length; o += 144) full[o] = 0x00, full[o + 1] = 0x3c, full[o + 2] = 0x00, full[o + 3] = 0x38;
    cases.push(['largest sums', full, Float32Array.from({ length: nIn * 3 }, (_, i) => (i < 2 * nIn ? -1 : 1))]);
    edgeCasesEqualPlain(GGMLType.Q4_K, 'q4_Kx4', 'blk.0.ffn_up.weight', nIn, nOut, cases);
  });

  // Every byte value, not only the 243 that ggml's quantizer writes (a file may hold any): tq1_0x4
  // stores b ^ 0x80 and decodes the trits by compares where the plain rows take the same formula,
  // so the two must agree on all 256, in the qh bytes too. Random f16 scales of moderate size.
  test('tq1_0x4 (random bytes, every value) equals plain TQ1_0 bit for bit: 92 rows, 1 and 65 tokens, 1, 2 and 3 threads', () => {
    const rand = mulberry32(0x71);
    const [nIn, nOut] = [512, 92];
    const rb = rowSize(GGMLType.TQ1_0, nIn);
    const bytes = new Uint8Array(rb * nOut);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
    for (let o = 0; o < bytes.length; o += 54) bytes[o + 53] = 0x10 + (bytes[o + 53]! & 0x83); // f16 scale 2^-11..2^-9, either sign
    for (let b = 0; b < 256; b++) bytes[54 * (b % (bytes.length / 54)) + (b % 52)] = b; // each value for sure, qs and qh
    const plain: Tensor = { id: -1, name: 'blk.0.ffn_gate.weight', type: GGMLType.TQ1_0, ne: [nIn, nOut], kind: 'weight', ptr: put(bytes) };
    const packed = weightRepacker([k])({ ...plain, ptr: put(bytes) });
    assert.is(packed.layout, 'tq1_0x4');
    for (const nTok of [1, 65]) {
      const x = put(gaussian(rand, nIn * nTok, 1));
      for (const nth of [1, 2, 3]) samePacked(plain, packed, x, nTok, nth, `${nTok} tokens, ${nth} threads`);
    }
  });

  test('repack leaves token_embd and row counts that are not a multiple of 4 alone; a repacked table cannot be read by row', () => {
    const rand = mulberry32(3);
    assert.is(q4Matrix(rand, 64, 8, 'token_embd.weight', [64, 8]).packed.layout, undefined);
    assert.is(q4Matrix(rand, 64, 6, 'blk.0.attn_k.weight', [64, 6]).packed.layout, undefined);
    for (const type of [GGMLType.IQ4_NL, GGMLType.IQ4_XS, GGMLType.MXFP4]) {
      assert.is(q4Matrix(rand, 256, 7, 'blk.0.attn_k.weight', [256, 7], type).packed.layout, undefined, ggmlTypeInfo(type)!.name);
    }
    const { packed } = q4Matrix(rand, 64, 8, 'output.weight', [64, 8]);
    assert.is(packed.layout, 'q4_0x4');
    const g = new Graph();
    const ids = g.tensor({ name: 'ids', type: GGMLType.I32, ne: [1], kind: 'input', ptr: put(new Int32Array(1)) });
    assert.throws(() => new Ops(g, k).getRows(packed, ids), /output\.weight was repacked \(q4_0x4\)/);
  });
}

test.run();
