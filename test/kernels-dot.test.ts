// The dot-add build (wasm/kernels-relaxed-dot.wasm: kernels/relaxed/*.c with
// RELAXED_DOT_ADD) sums the same exact integers as kernels-relaxed.wasm and
// takes the same float steps, so every matmul it changes must give the
// relaxed module's bits: Q4_K, Q6_K, Q4_0 and Q2_K in each layout a model gets
// (plain, q6_Kp, x4; each module's x4 written by its own repack), prompt batches (3, 65 and 70 tokens: four-token groups, a pass
// of 64 and the tails) and decode, 1 and 2 threads, two activation chunks
// per row, and as experts. The relaxed module is held to the formats/
// reference by the other kernels-* tests; equality carries that here.
//
// Where the engine cannot run the build (Node 20: V8 11.3 validates the
// instruction only behind a flag, and computes wrong sums there), the test
// checks that the loader refuses it and picks the relaxed module.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { quantizeRow } from '../formats/quant/index.js';
import { Graph, type Tensor } from '../runtime/graph/graph.js';
import { Ops } from '../runtime/graph/ops.js';
import type { Plan } from '../runtime/graph/plan.js';
import { weightRepacker } from '../runtime/repack.js';
import { DEFAULT_WASM_URL, dotAddSupport, loadKernels, type Kernels } from '../wasm/loader.js';
import { gaussian, mulberry32 } from './helpers/rng.js';
import { runAsThreads, wasmArena } from './helpers/run-graph.js';

const kr = await loadKernels({ simd: 'relaxed' });
let kd: Kernels | null = null;
let refused = '';
try {
  // a second instance on the same memory: both read the same weights and activations
  kd = await loadKernels({ simd: 'relaxed-dot', module: kr.module, memory: kr.memory });
} catch (e) {
  refused = (e as Error).message;
}
const nodeMajor = Number(process.versions.node.split('.')[0]);
const support = dotAddSupport();
// test/run.mjs runs the kernel tests again with RUN_GGUF_SIMD=baseline: then 'auto' means baseline
const envBaseline = process.env.RUN_GGUF_SIMD === 'baseline';
console.log(`  (node ${process.versions.node}, V8 ${process.versions.v8}: dot-add build ${kd ? 'runs' : 'refused'}; ` +
  `auto ${support.chosen ? 'takes it' : 'keeps kernels-relaxed.wasm'}: ${support.reason})`);

if (!kd) {
  test('this engine cannot run the dot-add build: the loader refuses it and picks the relaxed module', async () => {
    console.log(`  (refused: ${refused})`);
    // Node 22+ (V8 12.4+) validates relaxed SIMD unflagged: refusing it there would be a loader bug
    assert.ok(nodeMajor < 22, `node ${process.versions.node} should run the dot-add build (${refused})`);
    assert.match(refused, /cannot run kernels-relaxed-dot\.wasm/);
    assert.not.ok(support.runs);
    const auto = await loadKernels();
    assert.is(auto.simd, envBaseline ? 'baseline' : 'relaxed', 'auto still takes relaxed SIMD (unless RUN_GGUF_SIMD=baseline)');
    assert.not.ok(auto.dotAdd, 'and not the dot-add build');
  });
} else {
  const dot = kd;
  const arena = wasmArena(kr);
  test.after(arena.free);
  const bits = (k: Kernels, p: Plan, t: Tensor, n: number) => Array.from(new Uint32Array(k.floats(p.ptr(t), n).slice().buffer));

  /**
   * Quantized rows three times: one copy keeps the file layout, the others go through each module's
   * repacker (a layout is the module's own: the dot-add build's q2_Kx4 orders its quants otherwise).
   */
  function matrix(rand: () => number, type: GGMLType, nIn: number, rows: number, name: string, ne: number[]) {
    const rb = rowSize(type, nIn);
    const bytes = new Uint8Array(rb * rows);
    for (let r = 0; r < rows; r++) bytes.set(quantizeRow(type, gaussian(rand, nIn, 0.05)), r * rb);
    const plain: Tensor = { id: -1, name, type, ne, kind: 'weight', ptr: arena.put(bytes) };
    const packed = weightRepacker([kr])({ ...plain, ptr: arena.put(bytes) });
    const packedDot = weightRepacker([dot])({ ...plain, ptr: arena.put(bytes) });
    return { plain, packed, packedDot };
  }

  /** The graph `build` makes (given the module), planned and run on each module: its outputs' bits. */
  function both(build: (g: Graph, ops: Ops, k: Kernels) => Tensor, n: number, nth: number, fn: string): [number[], number[]] {
    const out = [kr, dot].map((k) => {
      const g = new Graph();
      const y = build(g, new Ops(g, k), k);
      g.markOutput(y);
      const plan = runAsThreads(k, g, nth);
      assert.ok(plan.encoded.fns.includes(fn), `the plan calls ${fn}`);
      const b = bits(k, plan, y, n);
      plan.dispose();
      return b;
    });
    return [out[0]!, out[1]!];
  }

  test('the dot-add build loads as the relaxed module, with its own kernels', () => {
    assert.ok(dot.dotAdd);
    assert.not.ok(kr.dotAdd);
    assert.is(dot.simd, 'relaxed');
    assert.is.not(dot.relaxedModule, kr.relaxedModule);
  });

  // 8704 columns: two activation chunks (ACT_CHUNK = 8192) of 17 super-blocks each
  const nIn = 8704;
  for (const type of [GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.Q4_0, GGMLType.Q2_K]) for (const rows of [42, 44]) {
    const name = ggmlTypeInfo(type)!.name;
    test(`${name}, ${rows} rows, file layout and repacked: the dot-add build gives the relaxed module's bits, 1, 3, 65 and 70 tokens, 1 and 2 threads`, () => {
      const rand = mulberry32(rows * 31 + type);
      const { plain, packed, packedDot } = matrix(rand, type, nIn, rows, 'blk.2.ffn_down.weight', [nIn, rows]);
      const layouts = [plain, packed, packedDot].map((w) => w.layout ?? name);
      // 44 rows repack to x4; 42 keep the file layout, but Q6_K's takes q6_Kp
      const x4 = rows % 4 === 0 ? `${name}x4` : type === GGMLType.Q6_K ? 'q6_Kp' : name;
      assert.equal(layouts, [name, x4, x4]);
      for (const nTok of [1, 3, 65, 70]) {
        const x = arena.put(gaussian(rand, nIn * nTok, 1));
        for (const w of [plain, packed]) for (const nth of [1, 2]) {
          const [a, b] = both((g, ops, k) => ops.matmul(k === dot && w === packed ? packedDot : w,
            g.tensor({ name: 'x', type: GGMLType.F32, ne: [nIn, nTok], kind: 'input', ptr: x }), 'y'),
          rows * nTok, nth, `mat_rows_${w.layout ?? name}`);
          assert.equal(b, a, `${w.layout ?? name}, ${nTok} tokens, ${nth} threads`);
        }
      }
    });
  }

  for (const type of [GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.Q4_0, GGMLType.Q2_K]) test(`${ggmlTypeInfo(type)!.name} experts (ggml_mul_mat_id), repacked: the relaxed module's bits, 1 and 2 threads`, () => {
    const rand = mulberry32(77 + type);
    const [n, nOut, nExpert, kk, nTok] = [512, 36, 4, 2, 13];
    const { packed, packedDot } = matrix(rand, type, n, nOut * nExpert, 'blk.0.ffn_up_exps.weight', [n, nOut, nExpert]);
    const x = arena.put(gaussian(rand, n * nTok, 1));
    const ids = arena.put(Int32Array.from({ length: kk * nTok }, (_, i) => (i * 3 + (i >> 1)) % nExpert));
    for (const nth of [1, 2]) {
      const [a, b] = both((g, ops, k) => ops.matmulId(k === dot ? packedDot : packed,
        g.tensor({ name: 'x', type: GGMLType.F32, ne: [n, nTok], kind: 'input', ptr: x }),
        g.tensor({ name: 'ids', type: GGMLType.I32, ne: [kk, nTok], kind: 'input', ptr: ids }), 'y'),
      nOut * kk * nTok, nth, `mat_rows_id_${packed.layout}`);
      assert.equal(b, a, `${nth} threads`);
    }
  });

  // q3_Kx4 is laid out per build (kernels/relaxed/q3_K-relaxed.c, q3_Kx4_elem: the dot-add build's
  // vectors hold four elements of one sub-block per i32 lane), so each module repacks its own copy:
  // the dot-add build's plain and repacked rows must give the relaxed module's plain rows' bits, in
  // decode and in its prompt loop (four tokens at a time from -4 * bsum, the tails one at a time).
  // Quantized rows over two activation chunks; random bytes with every 6-bit scale (-32 and 31
  // included) and edge f16 d; all quants 7 as stored with scales 31 and -32 against activations
  // at -128 (a constant row's q8_K), the bound of the dot-add sums with the -4 offset folded in.
  test('Q3_K, 44 rows, file layout and each build\'s q3_Kx4: the dot-add build gives the relaxed module\'s bits, 1, 3, 65 and 70 tokens, 1 and 2 threads', () => {
    const rand = mulberry32(0x3d);
    const f16s = [0x0000, 0x8000, 0x0001, 0x03ff, 0x8201, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0xfbff, 0x1234, 0x9abc];
    const rows = 44, small = 512, rbOf = (n: number) => rowSize(GGMLType.Q3_K, n);
    const quantized = new Uint8Array(rbOf(nIn) * rows);
    for (let r = 0; r < rows; r++) quantized.set(quantizeRow(GGMLType.Q3_K, gaussian(rand, nIn, 0.05)), r * rbOf(nIn));
    const random = new Uint8Array(rbOf(small) * rows);
    for (let i = 0; i < random.length; i++) random[i] = Math.floor(rand() * 256);
    for (let o = 0, b = 0; o < random.length; o += 110, b++) { // block_q3_K: hmask[32], qs[64], scales[12], d
      const d = f16s[b % f16s.length]!;
      random[o + 108] = d & 0xff, random[o + 109] = d >> 8;
    }
    const full = new Uint8Array(rbOf(small) * rows).fill(0xff);
    for (let o = 0, b = 0; o < full.length; o += 110, b++) {
      if (b % 2) full.fill(0, o + 96, o + 108); // scales -32 in every other block, 31 in the rest
      full[o + 108] = 0x00, full[o + 109] = 0x3c;
    }
    const constant = (n: number, nTok: number) => Float32Array.from({ length: n * nTok }, (_, i) => (Math.floor(i / n) % 2 ? 1 : -2));
    const cases: [string, Uint8Array, number, (nTok: number) => Float32Array][] = [
      ['quantized rows', quantized, nIn, (nTok) => gaussian(rand, nIn * nTok, 1)],
      ['random bytes', random, small, (nTok) => gaussian(rand, small * nTok, 1)],
      ['largest sums', full, small, (nTok) => constant(small, nTok)],
    ];
    const run = (k: Kernels, w: Tensor, x: number, n: number, nTok: number, nth: number): number[] => {
      const g = new Graph();
      const y = new Ops(g, k).matmul(w, g.tensor({ name: 'x', type: GGMLType.F32, ne: [n, nTok], kind: 'input', ptr: x }), 'y');
      g.markOutput(y);
      const plan = runAsThreads(k, g, nth);
      assert.ok(plan.encoded.fns.includes(`mat_rows_${w.layout ?? 'q3_K'}`), plan.encoded.fns.join());
      const b = bits(k, plan, y, rows * nTok);
      plan.dispose();
      return b;
    };
    for (const [what, bytes, n, xs] of cases) {
      const plain: Tensor = { id: -1, name: 'blk.2.ffn_down.weight', type: GGMLType.Q3_K, ne: [n, rows], kind: 'weight', ptr: arena.put(bytes) };
      const packedR = weightRepacker([kr])({ ...plain, ptr: arena.put(bytes) });
      const packedD = weightRepacker([dot])({ ...plain, ptr: arena.put(bytes) });
      assert.equal([packedR.layout, packedD.layout], ['q3_Kx4', 'q3_Kx4']);
      for (const nTok of [1, 3, 65, 70]) {
        const x = arena.put(xs(nTok));
        for (const nth of [1, 2]) {
          const ref = run(kr, plain, x, n, nTok, 1);
          assert.ok(ref.some((v) => v !== 0), `${what}: nonzero results`);
          assert.equal(run(kr, packedR, x, n, nTok, nth), ref, `${what}: relaxed q3_Kx4, ${nTok} tokens, ${nth} threads`);
          assert.equal(run(dot, plain, x, n, nTok, nth), ref, `${what}: dot-add q3_K, ${nTok} tokens, ${nth} threads`);
          assert.equal(run(dot, packedD, x, n, nTok, nth), ref, `${what}: dot-add q3_Kx4, ${nTok} tokens, ${nth} threads`);
        }
      }
    }
  });

  // The dot-add build's q2_Kx4 has its own quant order (kernels/relaxed/q2_K-relaxed.h: one sub-block
  // per i32 lane, rows 2 and 3 summed four times over and narrowed to int16): edge bytes against
  // q8_K activations written directly (-128 included, which only a hand-made block holds), so the
  // largest sums (all quants 3, scales 15: |lane| = 16 * 128 * 12) and every scale and min nibble
  // meet the bound. 60 rows (15 groups: eight spread, four, two, one) in 1, 2 and 3 row splits; one
  // token (decode) and three (the prompt path), against the relaxed module's plain rows.
  test('Q2_K edge bytes against hand-made q8_K (-128, -127, 127, random): the dot-add q2_Kx4 gives the plain rows\' bits', () => {
    const rand = mulberry32(0x2d);
    const [nIn, nOut] = [512, 60];
    const rb = rowSize(GGMLType.Q2_K, nIn);
    const nb = nIn / 256, arb = 292 * nb; // block_q8_K: f32 d, 256 int8, 16 int16 bsums
    const f16s = [0x0000, 0x8000, 0x0001, 0x03ff, 0x8201, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0xfbff, 0x1234, 0x9abc];
    const random = new Uint8Array(rb * nOut);
    for (let i = 0; i < random.length; i++) random[i] = Math.floor(rand() * 256);
    for (let o = 0, b = 0; o < random.length; o += 84, b++) { // block_q2_K: scales[16], qs[64], d, dmin
      const d = f16s[b % f16s.length]!, dmin = f16s[(b * 5 + 3) % f16s.length]!;
      random[o + 80] = d & 0xff, random[o + 81] = d >> 8, random[o + 82] = dmin & 0xff, random[o + 83] = dmin >> 8;
    }
    const full = new Uint8Array(rb * nOut).fill(0xff); // quants 3, scales and mins 15, d 1, dmin 0.5
    for (let o = 0; o < full.length; o += 84) full[o + 80] = 0x00, full[o + 81] = 0x3c, full[o + 82] = 0x00, full[o + 83] = 0x38;
    // scales 0 and 15 by turns (mins 15 and 0), quants 3
    const edges = full.slice();
    for (let o = 0; o < edges.length; o += 84) for (let j = 0; j < 16; j++) edges[o + j] = (j + (o / 84)) % 2 ? 0x0f : 0xf0;
    /** Three tokens of q8_K: every quant `q` (or random where q is null), bsums to match. */
    const act = (qs: (number | null)[]) => {
      const bytes = new Uint8Array(arb * qs.length);
      const dv = new DataView(bytes.buffer);
      qs.forEach((q, t) => {
        for (let b = 0; b < nb; b++) {
          const o = t * arb + b * 292;
          dv.setFloat32(o, 0.0123 * (b + 1), true);
          for (let j = 0; j < 16; j++) {
            let sum = 0;
            for (let e = 0; e < 16; e++) {
              const v = q ?? Math.floor(rand() * 256) - 128;
              dv.setInt8(o + 4 + 16 * j + e, v);
              sum += v;
            }
            dv.setInt16(o + 260 + 2 * j, sum, true);
          }
        }
      });
      return arena.put(bytes);
    };
    type MatRows = (w: number, rb: number, a: number, arb: number, out: number, os: number, n: number, nTok: number, nRows: number, ith: number, nth: number) => void;
    const out = arena.alloc(4 * nOut * 3);
    const run = (k: Kernels, fn: string, w: number, a: number, nTok: number, nth: number) => {
      const f = k.lookup<MatRows>(`mat_rows_${fn}`)!;
      for (let ith = 0; ith < nth; ith++) f(w, rb, a, arb, out, nOut, nIn, nTok, nOut, ith, nth);
      return Array.from(new Uint32Array(k.floats(out, nOut * nTok).slice().buffer));
    };
    const acts = [act([-128, -127, 127]), act([127, -128, null]), act([null, null, -128])];
    for (const [what, bytes] of [['random bytes', random], ['largest sums', full], ['scales 0 and 15', edges]] as const) {
      const plain: Tensor = { id: -1, name: 'blk.0.ffn_up.weight', type: GGMLType.Q2_K, ne: [nIn, nOut], kind: 'weight', ptr: arena.put(bytes) };
      const packed = weightRepacker([dot])({ ...plain, ptr: arena.put(bytes) });
      assert.is(packed.layout, 'q2_Kx4');
      for (const a of acts) for (const nTok of [1, 3]) {
        const want = run(kr, 'q2_K', plain.ptr!, a, nTok, 1);
        assert.ok(want.some((v) => v !== 0), `${what}: nonzero results`);
        for (const nth of [1, 2, 3]) assert.equal(run(dot, 'q2_Kx4', packed.ptr!, a, nTok, nth), want, `${what}, ${nTok} tokens, ${nth} splits`);
      }
    }
  });

  test('auto takes the dot-add build only where the probe finds it faster; workers get the module auto chose', async () => {
    const auto = await loadKernels();
    assert.is(auto.dotAdd, support.chosen && !envBaseline);
    assert.is(auto.simd, envBaseline ? 'baseline' : 'relaxed');
    const w = await loadKernels({ module: auto.module, relaxedModule: auto.relaxedModule, memory: auto.memory });
    assert.is(w.relaxedModule, auto.relaxedModule);
    // V8 13 (Node 24) lowers the instruction to vpdpbusd where it finds AVX-VNNI (x64): there the probe
    // must pick it. V8 12.4 (Node 22) lowers it to pmaddubsw + pmaddwd + paddd even then (measured 0.55x).
    const cpuinfo = process.platform === 'linux' && existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
    const v8Major = Number(process.versions.v8.split('.')[0]);
    if (process.arch === 'x64' && /\bavx_vnni\b/.test(cpuinfo) && v8Major >= 13) {
      assert.ok(support.chosen, `AVX-VNNI present, but ${support.reason}`);
    } else {
      console.log(`  (${process.arch} CPU ${/\bavx_vnni\b/.test(cpuinfo) ? 'with' : 'without'} AVX-VNNI, V8 ${v8Major}: the probe's choice is not asserted)`);
    }
  });

  test('with AVX-VNNI turned off (V8 flag), the probe finds no gain and auto keeps the relaxed module', () => {
    const script = `import(${JSON.stringify(new URL('../wasm/loader.js', import.meta.url).href)}).then(async (m) => {
      const k = await m.loadKernels();
      console.log(JSON.stringify({ simd: k.simd, dotAdd: k.dotAdd, reason: m.dotAddSupport().reason }));
    });`;
    const res = spawnSync(process.execPath, ['--no-enable-avx-vnni', '-e', script], { encoding: 'utf8', env: { ...process.env, RUN_GGUF_SIMD: 'auto' } });
    if (res.status !== 0 && /bad option/.test(res.stderr)) {
      console.log(`  (V8 ${process.versions.v8} has no --enable-avx-vnni flag: not checked)`);
      return;
    }
    assert.is(res.status, 0, res.stderr);
    const r = JSON.parse(res.stdout.trim()) as { simd: string; dotAdd: boolean; reason: string };
    console.log(`  (without AVX-VNNI: ${r.reason})`);
    assert.is(r.simd, 'relaxed');
    assert.not.ok(r.dotAdd, r.reason);
  });
}

// the build ships beside the others (browser build and npm package: scripts/build-browser.mjs, api-package test)
test('kernels-relaxed-dot.wasm is committed beside kernels.wasm', () => {
  assert.ok(existsSync(new URL('kernels-relaxed-dot.wasm', DEFAULT_WASM_URL)));
});

test.run();
