// run-gguf imatrix against llama-imatrix: the file formats byte for byte
// (written here by hand from llama.cpp's layout), the statistics against the
// matmul inputs computed apart, and the point of it all: with an imatrix
// from a calibration text, Q2_K and Q3_K_S of a random Llama whose
// activations differ across columns are closer to F16 on another text.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { encodeGGUF, readGGUF, readTensorData, writeGGUF } from '../formats/gguf/index.js';
import {
  encodeIMatrix, encodeIMatrixDat, IMatrixError, imatrixGGUFSpec, importanceOf, parseIMatrix, parseIMatrixDat, readIMatrix,
  toLegacyIMatrix, type IMatrix,
} from '../formats/imatrix/index.js';
import { quantizeGGUF } from '../formats/quantize/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { buildLlama } from '../runtime/arch/llama.js';
import type { BuildGraph } from '../runtime/arch/context.js';
import { computeIMatrix, IMatrixCollector } from '../runtime/imatrix/index.js';
import { loadModel } from '../runtime/index.js';
import { perplexity, perplexityChunks } from '../runtime/perplexity/index.js';
import { klDivergence, kldStats } from '../runtime/perplexity/kld.js';
import { gaussian, mulberry32 } from './helpers/rng.js';
import { REPO_ROOT } from './helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-imatrix-'));
const shape = LLAMA_SHAPES['test-tiny']!;
const model = join(dir, 'model-f32.gguf');
const f = Math.fround;

const CALIB = `The old lighthouse keeper climbed the stairs every evening and lit the lamp. Ships passed far away on the dark sea, and their lights answered his. In the morning he wrote the names of the ships in a big book, drank his tea, and watched the gulls over the rocks. One winter a storm broke the window at the top of the tower. He fixed it with wood and nails, and the lamp burned all night. When spring came, children from the village visited him and asked about the ships, the storm and the sea. He showed them the book and the lamp, and told them how the light turns and why the ships need it. Before they left, he gave each child a shell from the beach and asked them to come back in the summer.`;

const EVAL = `A small brown dog lived on a farm with a cow, three hens and a very old horse. Every day the dog ran around the fields and barked at the birds. The farmer laughed and called him the king of the farm. One afternoon the sky turned grey and the wind began to blow. The hens hid in the barn, the cow walked under a tree and the horse stood by the fence. The dog was not afraid. He ran to the house and barked at the door until the farmer came out. Together they brought the animals inside before the rain came down. That night the farmer gave the dog a bone and a warm blanket by the fire, and the dog slept well.`;

/**
 * The random Llama with log-normal norm weights: each column of the
 * attention and FFN inputs has its own scale (a spread of about e^±1), as
 * in real models, so the imatrix has something to say.
 */
async function writeNonUniformModel(path: string): Promise<void> {
  const spec = llamaModelSpec(shape, GGMLType.F32, { seed: 7, logitStd: 9, blockOutScale: 0.35 });
  let k = 0;
  const tensors = spec.tensors!.map((t) => {
    if (!/^blk\.\d+\.(attn|ffn)_norm\.weight$/.test(t.name)) return t;
    const z = gaussian(mulberry32(1000 + k++), t.shape[0]!, 1);
    const w = z.map((v) => Math.exp(v));
    const rms = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    return { ...t, data: new Uint8Array(w.map((v) => v / rms).buffer) };
  });
  await writeGGUF(path, { ...spec, tensors });
}

test.before(async () => {
  await writeNonUniformModel(model);
});

// --- the file formats ------------------------------------------------------

/** Little-endian bytes written field by field, as the format descriptions say. */
class Bytes {
  private readonly out: number[] = [];
  u32(v: number) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); this.out.push(...b); return this; }
  i32(v: number) { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v, true); this.out.push(...b); return this; }
  u64(v: number) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); this.out.push(...b); return this; }
  f32(...vs: number[]) { for (const v of vs) { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); this.out.push(...b); } return this; }
  raw(s: string) { this.out.push(...new TextEncoder().encode(s)); return this; }
  /** GGUF string: uint64 length, bytes. */
  str(s: string) { return this.u64(new TextEncoder().encode(s).length).raw(s); }
  pad(a: number) { while (this.out.length % a) this.out.push(0); return this; }
  get length() { return this.out.length; }
  bytes() { return Uint8Array.from(this.out); }
}

const SAMPLE: IMatrix = {
  datasets: ['calib.txt'],
  chunkCount: 2,
  chunkSize: 512,
  entries: [
    // given out of order: writers sort by name
    { name: 'blk.0.ffn_down_exps.weight', sums: Float32Array.from([4, 5, 6, 7]), counts: [600, 0], inSum: Float32Array.from([-1, 1, 2, -2]) },
    { name: 'blk.0.attn_q.weight', sums: Float32Array.from([1.5, 0.25, 3]), counts: [1000] },
  ],
};

test('GGUF form: the bytes of llama.cpp\'s layout, written by hand; reads back', async () => {
  const GGUF_UINT32 = 4, GGUF_STRING = 8, GGUF_ARRAY = 9, F32 = 0;
  const b = new Bytes().raw('GGUF').u32(3).u64(5).u64(4)
    .str('general.type').u32(GGUF_STRING).str('imatrix')
    .str('imatrix.datasets').u32(GGUF_ARRAY).u32(GGUF_STRING).u64(1).str('calib.txt')
    .str('imatrix.chunk_count').u32(GGUF_UINT32).u32(2)
    .str('imatrix.chunk_size').u32(GGUF_UINT32).u32(512);
  // name, n_dims (trailing 1s dropped, as ggml_n_dims does), ne..., type, offset (each tensor padded to 32)
  b.str('blk.0.attn_q.weight.in_sum2').u32(1).u64(3).u32(F32).u64(0);
  b.str('blk.0.attn_q.weight.counts').u32(1).u64(1).u32(F32).u64(32);
  b.str('blk.0.ffn_down_exps.weight.in_sum2').u32(2).u64(2).u64(2).u32(F32).u64(64);
  b.str('blk.0.ffn_down_exps.weight.counts').u32(2).u64(1).u64(2).u32(F32).u64(96);
  b.str('blk.0.ffn_down_exps.weight.in_sum').u32(2).u64(2).u64(2).u32(F32).u64(128);
  b.pad(32).f32(1.5, 0.25, 3).pad(32).f32(1000).pad(32).f32(4, 5, 6, 7).pad(32).f32(600, 0).pad(32).f32(-1, 1, 2, -2).pad(32);
  const ours = encodeIMatrix(SAMPLE, 'gguf');
  assert.equal(ours, b.bytes());
  const back = await parseIMatrix(ours, 'sample.gguf');
  assert.is(back.format, 'gguf');
  if (back.format !== 'gguf') return;
  assert.ok(back.hasMetadata);
  assert.equal(back.imatrix, { ...SAMPLE, entries: [SAMPLE.entries[1]!, SAMPLE.entries[0]!] });
});

test('.dat form: the bytes of llama.cpp\'s legacy layout, written by hand; reads back; importance agrees with the GGUF form', async () => {
  // ncall = ceil(max count / chunk size) = 2; values = (sum / count) * ncall; a matrix with no tokens stores 1 * ncall
  const b = new Bytes().i32(2)
    .i32(19).raw('blk.0.attn_q.weight').i32(2).i32(3).f32(f(f(1.5 / 1000) * 2), f(f(0.25 / 1000) * 2), f(f(3 / 1000) * 2))
    .i32(26).raw('blk.0.ffn_down_exps.weight').i32(2).i32(4).f32(f(f(4 / 600) * 2), f(f(5 / 600) * 2), 2, 2)
    .i32(2).i32(9).raw('calib.txt');
  const ours = encodeIMatrix(SAMPLE, 'dat');
  assert.equal(ours, b.bytes());
  const legacy = parseIMatrixDat(ours, 'sample.dat');
  assert.equal(legacy, toLegacyIMatrix(SAMPLE));
  assert.equal(encodeIMatrixDat(legacy), ours);
  // llama-quantize's importance: in_sum2 / count (1 without tokens), or value / ncall
  const fromGGUF = importanceOf(await parseIMatrix(encodeIMatrix(SAMPLE, 'gguf')));
  const fromDat = importanceOf(await parseIMatrix(ours));
  assert.equal([...fromGGUF.weights.get('blk.0.attn_q.weight')!], [f(1.5 / 1000), f(0.25 / 1000), f(3 / 1000)]);
  assert.equal([...fromGGUF.weights.get('blk.0.ffn_down_exps.weight')!], [f(4 / 600), f(5 / 600), 1, 1]);
  assert.equal(fromDat.weights, fromGGUF.weights);
  assert.equal([fromDat.datasets, fromDat.chunkCount], [['calib.txt'], 2]);
});

test('readers: typed errors naming the file, the byte offset and the entry', async () => {
  const dat = encodeIMatrix(SAMPLE, 'dat');
  const err = (fn: () => unknown): IMatrixError => {
    try { fn(); } catch (e) { if (e instanceof IMatrixError) return e; throw e; }
    throw new Error('no error');
  };
  const cut = err(() => parseIMatrixDat(dat.subarray(0, 40), 'cut.dat'));
  assert.is(cut.file, 'cut.dat');
  assert.is(cut.offset, 35);
  assert.is(cut.entry, 'blk.0.attn_q.weight');
  assert.match(cut.message, /^cut\.dat: at byte 35, entry "blk\.0\.attn_q\.weight": the file ends inside the 3 values/);
  assert.match(err(() => parseIMatrixDat(new Uint8Array(4), 'empty.dat')).message, /no data: the entry count is 0/);
  assert.match(err(() => parseIMatrixDat(new TextEncoder().encode('not an imatrix at all'), 'text.dat')).message, /cannot fit/);

  const spec = imatrixGGUFSpec(SAMPLE);
  const noCounts = encodeGGUF({ ...spec, tensors: spec.tensors!.filter((t) => t.name !== 'blk.0.attn_q.weight.counts') });
  let e = await parseIMatrix(noCounts, 'nocounts.gguf').catch((x: unknown) => x);
  assert.instance(e, IMatrixError);
  assert.match(String(e), /nocounts\.gguf: at byte \d+, entry "blk\.0\.attn_q\.weight": has in_sum2 but no counts tensor/);
  const f16 = encodeGGUF({ ...spec, tensors: spec.tensors!.map((t) => (t.name === 'blk.0.attn_q.weight.counts' ? { ...t, type: GGMLType.F16, shape: [2], data: new Uint8Array(4) } : t)) });
  e = await parseIMatrix(f16, 'f16.gguf').catch((x: unknown) => x);
  assert.match(String(e), /f16\.gguf: at byte \d+, entry "blk\.0\.attn_q\.weight": tensor blk\.0\.attn_q\.weight\.counts is not f32/);
  const noMeta = encodeGGUF({ ...spec, kv: spec.kv.filter((k) => k.key !== 'imatrix.chunk_size') });
  const noMetaFile = await parseIMatrix(noMeta, 'nometa.gguf');
  assert.ok(noMetaFile.format === 'gguf' && !noMetaFile.hasMetadata);
  assert.throws(() => importanceOf(noMetaFile), /nometa\.gguf: missing imatrix metadata/);
  const nan: IMatrix = { ...SAMPLE, entries: [{ name: 'blk.1.ffn_up.weight', sums: Float32Array.from([1, NaN]), counts: [3] }] };
  assert.throws(() => importanceOf({ format: 'gguf', file: 'nan.gguf', imatrix: nan, hasMetadata: true }), /nan\.gguf: entry "blk\.1\.ffn_up\.weight": value 1 is NaN/);
  e = await readIMatrix(join(dir, 'absent.gguf')).catch((x: unknown) => x);
  assert.instance(e, IMatrixError);
  assert.match(String(e), /absent\.gguf: cannot read the file/);
});

// --- the statistics ----------------------------------------------------------

const N_CTX = 64;
const N_CHUNKS = 3;

test('the sums are the squared matmul inputs, per column, over every token of every chunk (computed apart)', async () => {
  // Our graph, with a second observer that copies every collected matmul input out (x * 1, exact).
  const collector = new IMatrixCollector();
  const captured = new Map<string, { ptr: number; n: number; nCols: number }>();
  const build: BuildGraph = (c) => {
    c.ops.matmulObserver = (ops, w, x, nTok) => {
      collector.observe(ops, w, x, nTok);
      if (!collector.collects(w.name)) return;
      const nCols = w.ne[0]!;
      assert.ok(x.rowStride === undefined || x.rowStride === nCols * 4, `${w.name}: strided input`);
      const cap = { ptr: ops.k.malloc(nTok * nCols * 4), n: nTok * nCols, nCols };
      captured.set(w.name, cap);
      const out = ops.g.tensor({ name: `copy-${w.name}`, type: GGMLType.F32, ne: [cap.n], kind: 'state', ptr: cap.ptr });
      ops.g.add({ name: `copy-${w.name}`, inputs: [x], output: out, phases: [{ fn: 'scale_f32', args: [{ tensor: x }, cap.ptr, cap.n, 1] }] });
    };
    return buildLlama(c);
  };
  const m = await loadModel(model, { buildGraph: build, contextSize: N_CTX });
  const direct = new Map<string, Float64Array>();
  let entries;
  let chunks: number[][];
  try {
    const tokens = m.tokenize(CALIB, { addSpecial: true });
    chunks = perplexityChunks(tokens, N_CTX, m.tokenizer.addBos, m.tokenizer.bosId, N_CHUNKS);
    const ctx = m.createContext({ contextSize: N_CTX, batchSize: N_CTX, threads: 1 });
    for (const chunk of chunks) {
      ctx.reset();
      ctx.evaluate(chunk, { allLogits: true });
      for (const [name, cap] of captured) {
        const x = m.kernels.floats(cap.ptr, cap.n);
        const s = direct.get(name) ?? new Float64Array(cap.nCols);
        for (let i = 0; i < cap.n; i++) s[i % cap.nCols] += x[i]! * x[i]!;
        direct.set(name, s);
      }
    }
    ctx.dispose();
    entries = collector.entries();
  } finally {
    collector.dispose();
    m.dispose();
  }
  const names = [0, 1].flatMap((l) => ['attn_k', 'attn_output', 'attn_q', 'attn_v', 'ffn_down', 'ffn_gate', 'ffn_up'].map((t) => `blk.${l}.${t}.weight`)).sort();
  assert.equal(entries.map((e) => e.name), names, 'every blk.* matmul weight, and nothing else (no token_embd, no output)');
  let worst = 0;
  for (const e of entries) {
    assert.equal(e.counts, [N_CHUNKS * N_CTX], `${e.name} counts every token`);
    const d = direct.get(e.name)!;
    for (let j = 0; j < d.length; j++) worst = Math.max(worst, Math.abs(e.sums[j]! - d[j]!) / d[j]!);
  }
  console.log(`  ${entries.length} weights, ${N_CHUNKS} chunks of ${N_CTX}: largest relative difference from the sums in double ${worst.toExponential(2)}`);
  assert.ok(worst < 1e-5, `float sums differ from double sums by ${worst}`);
  // one input, several weights
  const byName = new Map(entries.map((e) => [e.name, e.sums]));
  assert.equal(byName.get('blk.0.attn_k.weight'), byName.get('blk.0.attn_q.weight'));
  assert.equal(byName.get('blk.1.ffn_up.weight'), byName.get('blk.1.ffn_gate.weight'));

  // Layer 0's attention input from the file alone: RMSNorm(token_embd[t]) * attn_norm.
  const file = await readGGUF(model);
  const t = (name: string) => file.tensors.find((x) => x.name === name)!;
  const emb = new Float32Array((await readTensorData(t('token_embd.weight'))).slice().buffer);
  const g = new Float32Array((await readTensorData(t('blk.0.attn_norm.weight'))).slice().buffer);
  const n = shape.n_embd;
  const want = new Float64Array(n);
  for (const tok of chunks.flat()) {
    const e = emb.subarray(tok * n, (tok + 1) * n);
    const ms = e.reduce((s, v) => s + v * v, 0) / n;
    const inv = 1 / Math.sqrt(ms + 1e-5);
    for (let j = 0; j < n; j++) want[j] += (e[j]! * inv * g[j]!) ** 2;
  }
  const got = byName.get('blk.0.attn_q.weight')!;
  let worstIndep = 0;
  for (let j = 0; j < n; j++) worstIndep = Math.max(worstIndep, Math.abs(got[j]! - want[j]!) / want[j]!);
  console.log(`  blk.0.attn_q from the file's embeddings and norm: largest relative difference ${worstIndep.toExponential(2)}`);
  assert.ok(worstIndep < 1e-4, `layer 0 input differs by ${worstIndep}`);
  // the columns differ a lot: the imatrix has information
  const sorted = [...got].sort((a, b) => a - b);
  assert.ok(sorted[n - 1]! / sorted[0]! > 50, `column spread only ${sorted[n - 1]! / sorted[0]!}`);

  // computeIMatrix gives the same float sums, whatever the thread count
  for (const threads of [1, 2]) {
    const res = await computeIMatrix(model, CALIB, { contextSize: N_CTX, chunks: N_CHUNKS, threads });
    assert.equal(res.imatrix.entries, entries, `${threads} threads`);
    assert.equal([res.imatrix.chunkCount, res.imatrix.chunkSize], [N_CHUNKS, N_CTX]);
  }
  const withOutput = await computeIMatrix(model, CALIB, { contextSize: N_CTX, chunks: 1, processOutput: true, computePPL: false });
  assert.ok(withOutput.imatrix.entries.some((e) => e.name === 'output.weight'), '--process-output collects output.weight');
  assert.ok(Number.isNaN(withOutput.ppl));
});

// --- what it is for ------------------------------------------------------------

test('with an imatrix from a calibration text, Q2_K and Q3_K_S are closer to F16 on another text', async () => {
  const { imatrix } = await computeIMatrix(model, CALIB, { contextSize: N_CTX, threads: 1 });
  const imPath = join(dir, 'calib-imatrix.gguf');
  writeFileSync(imPath, encodeIMatrix(imatrix, 'gguf'));
  const importance = importanceOf(await readIMatrix(imPath));
  const f16 = join(dir, 'model-f16.gguf');
  await quantizeGGUF(model, f16, 'F16');
  const base = join(dir, 'eval-f16.kld');
  const fm = await loadModel(f16);
  await perplexity(fm, EVAL, { contextSize: N_CTX, threads: 1, logitsFile: base });
  fm.dispose();
  const score = async (path: string) => {
    const q = await loadModel(path);
    try {
      return kldStats(klDivergence(q, base, { threads: 1 }));
    } finally {
      q.dispose();
    }
  };
  for (const type of ['Q2_K', 'Q3_K_S']) {
    const plain = join(dir, `${type}.gguf`);
    const weighted = join(dir, `${type}-imatrix.gguf`);
    await quantizeGGUF(model, plain, type);
    await quantizeGGUF(model, weighted, type, { imatrix: importance, imatrixFile: imPath });
    const a = await score(plain);
    const b = await score(weighted);
    console.log(`  ${type.padEnd(7)} mean KLD vs F16: without imatrix ${a.kld[0].toFixed(4)} ± ${a.kld[1].toFixed(4)}, with ${b.kld[0].toFixed(4)} ± ${b.kld[1].toFixed(4)}; same top ${(100 * a.sameTop[0]).toFixed(1)}% -> ${(100 * b.sameTop[0]).toFixed(1)}%`);
    assert.ok(b.kld[0] < a.kld[0], `${type}: imatrix KLD ${b.kld[0]} is not below ${a.kld[0]}`);
  }
});

// --- the commands --------------------------------------------------------------

test('run-gguf imatrix writes both forms; quantize --imatrix reads either', () => {
  const cli = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
  const calib = join(dir, 'calib.txt');
  writeFileSync(calib, `${CALIB}\n`);
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  const g = run('imatrix', model, '-f', calib, '-o', join(dir, 'cli.gguf'), '-c', String(N_CTX), '--chunks', '2', '-t', '1');
  assert.is(g.status, 0, g.stderr);
  assert.match(g.stdout, /^\[1\]\d+\.\d{4},\[2\]\d+\.\d{4},\nFinal estimate: PPL = \d+\.\d{4} \+\/- \d+\.\d{5}$/m);
  assert.match(g.stderr, /stored collected data after 2 chunks \(14 entries\)/);
  const d = run('imatrix', model, '-f', calib, '-o', join(dir, 'cli.dat'), '--output-format', 'dat', '-c', String(N_CTX), '--chunks', '2', '-t', '1', '--no-ppl');
  assert.is(d.status, 0, d.stderr);
  assert.is(d.stdout, '');
  const bad = run('imatrix', model, '-f', calib, '--output-format', 'xml');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /expected gguf or dat/);
  const q = run('quantize', model, join(dir, 'cli-q3.gguf'), 'Q3_K_S', '--imatrix', join(dir, 'cli.dat'));
  assert.is(q.status, 0, q.stderr);
  assert.match(q.stderr, /load_imatrix: imatrix datasets=\['.*calib\.txt'\]\nload_imatrix: loaded 14 importance matrix entries from .*cli\.dat computed on 2 chunks/);
  assert.match(q.stderr, /did not find imatrix data for token_embd\.weight/);
});

test('the .dat written by the command gives the GGUF one\'s importance', async () => {
  const a = importanceOf(await readIMatrix(join(dir, 'cli.gguf')));
  const b = importanceOf(await readIMatrix(join(dir, 'cli.dat')));
  assert.equal([...a.weights.keys()].sort(), [...b.weights.keys()].sort());
  let worst = 0;
  for (const [name, v] of a.weights) {
    const w = b.weights.get(name)!;
    for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(v[i]! - w[i]!) / v[i]!);
  }
  // (sum / count) * ncall / ncall: one or two float roundings apart
  assert.ok(worst < 3e-7, `relative difference ${worst}`);
  const q = await readGGUF(join(dir, 'cli-q3.gguf'));
  assert.is(q.metadata.get('quantize.imatrix.file'), join(dir, 'cli.dat'));
  assert.is(q.metadata.get('quantize.imatrix.chunks_count'), 2);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
