// run-gguf quantize against llama-quantize's behaviour: a random F32 Llama
// quantized to Q4_0, Q8_0 and Q4_K_M. Each output must (1) hold, tensor by
// tensor, exactly the bytes of ggml's reference quantizer on the input rows,
// (2) give each tensor the type llama-quantize's mix gives it, and (3) load in
// llama.cpp with next-token distributions matching ours. The input is never
// touched and can never be the output.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeName, rowSize } from '../formats/ggml-types.js';
import { LlamaFileType, readGGUF, readTensorData, writeGGUF } from '../formats/gguf/index.js';
import { importanceOf, readIMatrix, writeIMatrix } from '../formats/imatrix/index.js';
import { quantizeRow, quantizeRowWeighted, weightedTypes } from '../formats/quant/index.js';
import { llamaTensorTypes, planQuantize, quantizeGGUF, quantizeHParams } from '../formats/quantize/index.js';
import { computeIMatrix } from '../runtime/imatrix/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { loadModel } from '../runtime/index.js';
import { compareDistributions, llamaCppProbabilities } from './helpers/compare.js';
import { oracle } from './helpers/oracle.js';
import { mulberry32 } from './helpers/rng.js';
import { REPO_ROOT, sharedDir } from './helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-quantize-'));
const input = join(dir, 'model-f32.gguf');
const shape = LLAMA_SHAPES['test-tiny']!; // 2 layers: llama.cpp's use_more_bits picks layer 1
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
let inputHash = '';

const rand = mulberry32(42);
const SEQ = [1, ...Array.from({ length: 63 }, () => 3 + Math.floor(rand() * (shape.n_vocab - 3)))];

const Q = GGMLType;
/** Expected type per tensor name (norms are F32 in every case), from llama_tensor_get_type. */
const CASES: { type: string; ftype: LlamaFileType; expect: (name: string) => GGMLType }[] = [
  // output.weight: Q6_K unless the file type is Q8_0
  { type: 'Q4_0', ftype: LlamaFileType.MOSTLY_Q4_0, expect: (n) => (n === 'output.weight' ? Q.Q6_K : Q.Q4_0) },
  { type: 'Q8_0', ftype: LlamaFileType.MOSTLY_Q8_0, expect: () => Q.Q8_0 },
  {
    type: 'Q4_K_M', ftype: LlamaFileType.MOSTLY_Q4_K_M,
    expect: (n) => (n === 'output.weight' || n === 'blk.1.attn_v.weight' || n === 'blk.1.ffn_down.weight' ? Q.Q6_K : Q.Q4_K),
  },
];

test.before(async () => {
  await writeGGUF(input, llamaModelSpec(shape, GGMLType.F32, { seed: 7, logitStd: 9, blockOutScale: 0.35 }));
  inputHash = sha(input);
});

for (const c of CASES) {
  test(`${c.type}: llama-quantize's types, ggml's reference bytes, distributions match llama.cpp`, async () => {
    const out = join(dir, `model-${c.type}.gguf`);
    await quantizeGGUF(input, out, c.type);
    const [src, dst] = [await readGGUF(input), await readGGUF(out)];
    assert.is(dst.metadata.get('general.file_type'), c.ftype);
    assert.is(dst.metadata.get('general.quantization_version'), 2);
    // set as ggml's gguf_set_val_u32 does: removed, then appended
    assert.equal(dst.kv.slice(-2).map((e) => e.key), ['general.quantization_version', 'general.file_type']);
    assert.is(dst.kv.length, src.kv.length + 1);
    assert.equal(dst.tensors.map((t) => t.name), src.tensors.map((t) => t.name));
    for (const t of dst.tensors) {
      const want = t.shape.length === 1 ? Q.F32 : c.expect(t.name);
      assert.is(ggmlTypeName(t.type), ggmlTypeName(want), t.name);
      const s = src.tensors.find((x) => x.name === t.name)!;
      const f32 = new Float32Array((await readTensorData(s)).slice().buffer);
      const ne0 = t.shape[0]!;
      const rb = rowSize(t.type, ne0);
      const got = await readTensorData(t);
      for (let r = 0; r < f32.length / ne0; r++) {
        const ref = t.type === Q.F32 ? new Uint8Array(f32.buffer, r * ne0 * 4, ne0 * 4) : quantizeRow(t.type, f32.subarray(r * ne0, (r + 1) * ne0));
        if (Buffer.compare(got.subarray(r * rb, (r + 1) * rb), ref) !== 0) assert.unreachable(`${t.name} row ${r} differs from the reference quantizer`);
      }
    }

    const llama = await (await oracle()).loadModel({ modelPath: out });
    try {
      const theirs = await llamaCppProbabilities(llama, SEQ);
      const model = await loadModel(out);
      const ctx = model.createContext({ contextSize: 512 });
      const logits = ctx.evaluate(SEQ, { allLogits: true });
      ctx.dispose();
      model.dispose();
      const st = compareDistributions(logits, shape.n_vocab, theirs);
      console.log(`  ${c.type}: KL mean ${st.meanKL.toExponential(2)} max ${st.maxKL.toExponential(2)}, argmax ${(100 * st.argmaxAgreement).toFixed(1)}%`);
      assert.ok(st.meanKL <= 1e-3, `mean KL ${st.meanKL} > 1e-3`);
    } finally {
      await llama.dispose();
    }
  });
}

test('Q4_K_M of a Q8_0 file: rows go through the reference dequantizer, then the quantizer', async () => {
  const q8 = join(dir, 'model-Q8_0.gguf');
  const out = join(dir, 'requant.gguf');
  await quantizeGGUF(q8, out, 'Q4_K_M');
  const [src, dst] = [await readGGUF(q8), await readGGUF(out)];
  const t = dst.tensors.find((x) => x.name === 'blk.0.attn_q.weight')!;
  assert.is(t.type, Q.Q4_K);
  const { dequantizeRow } = await import('../formats/quant/index.js');
  const s = src.tensors.find((x) => x.name === t.name)!;
  const bytes = await readTensorData(s);
  const rb = rowSize(s.type, 256);
  const row0 = quantizeRow(Q.Q4_K, dequantizeRow(Q.Q8_0, bytes.subarray(0, rb), 256));
  assert.equal((await readTensorData(t)).subarray(0, row0.length), row0);
});

test('--pure and --output-tensor-type / --token-embedding-type', async () => {
  const out = join(dir, 'pure.gguf');
  await quantizeGGUF(input, out, 'Q4_K_M', { pure: true, outputTensorType: Q.Q8_0, tokenEmbeddingType: Q.F16 });
  const types = new Map((await readGGUF(out)).tensors.map((t) => [t.name, t.type]));
  assert.is(types.get('blk.1.attn_v.weight'), Q.Q4_K);
  assert.is(types.get('blk.1.ffn_down.weight'), Q.Q4_K);
  assert.is(types.get('output.weight'), Q.Q8_0);
  assert.is(types.get('token_embd.weight'), Q.F16);
  assert.is(types.get('output_norm.weight'), Q.F32);
});

test('refuses to write over its input (also through a symlink), leaves the input and the folder clean', async () => {
  let err: unknown;
  try { await quantizeGGUF(input, input, 'Q4_0'); } catch (e) { err = e; }
  assert.match(String(err), /refusing to overwrite the input/);
  const link = join(dir, 'link.gguf');
  symlinkSync(input, link);
  err = undefined;
  try { await quantizeGGUF(input, link, 'Q8_0'); } catch (e) { err = e; }
  assert.match(String(err), /refusing to overwrite the input/);
  err = undefined;
  try { await quantizeGGUF(input, join(dir, 'bad.gguf'), 'Q9_X'); } catch (e) { err = e; }
  assert.match(String(err), /unknown quantization type/);
  assert.is(sha(input), inputHash, 'the input file changed');
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('tmp') || f === 'bad.gguf'), [], 'a temporary or partial file was left');
});

test('stories260K Q4_K_M: rows of 64 and 172 fall back as llama.cpp does (Q5_0, Q8_0, F16)', async () => {
  const models = sharedDir('models');
  if (!models) return;
  const out = join(dir, 'stories-q4km.gguf');
  await quantizeGGUF(join(models, 'stories260K.gguf'), out, 'Q4_K_M');
  const types = new Map((await readGGUF(out)).tensors.map((t) => [t.name, ggmlTypeName(t.type)]));
  assert.is(types.get('token_embd.weight'), ggmlTypeName(Q.Q5_0)); // Q4_K -> Q5_0
  assert.is(types.get('output.weight'), ggmlTypeName(Q.Q8_0)); // a row of 64 is no whole Q6_K block
  // 5 layers: use_more_bits picks layers 2 and 4, whose Q6_K falls back to Q8_0
  assert.is(types.get('blk.2.attn_v.weight'), ggmlTypeName(Q.Q8_0));
  assert.is(types.get('blk.1.attn_v.weight'), ggmlTypeName(Q.Q5_0));
  // rows of 172 are not whole blocks of 32 either: F16
  assert.is(types.get('blk.0.ffn_down.weight'), ggmlTypeName(Q.F16));
  assert.is(types.get('blk.0.attn_norm.weight'), ggmlTypeName(Q.F32));
});

test('run-gguf quantize: progress on stderr, exit codes', () => {
  const cli = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
  const out = join(dir, 'cli-q5_1.gguf');
  const ok = spawnSync(process.execPath, [cli, 'quantize', input, out, 'q5_1', '--output-tensor-type', 'q8_0'], { encoding: 'utf8' });
  assert.is(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /^\[ 1\/21\] token_embd\.weight +- \[256, 512\], type = +F32, converting to Q5_1/m);
  assert.match(ok.stderr, /output\.weight .*converting to Q8_0/);
  const same = spawnSync(process.execPath, [cli, 'quantize', input, input, 'Q4_0'], { encoding: 'utf8' });
  assert.is(same.status, 1);
  assert.match(same.stderr, /refusing to overwrite the input/);
});

// --- with an importance matrix (--imatrix) ---------------------------------

// Golden hashes of what llama.cpp's ggml_quantize_chunk(type, rows, imatrix)
// writes for weightedGoldenInput(): libggml-base.so from node-llama-cpp
// 3.21.1's prebuilt linux-x64 binaries (llama.cpp bundle v0.4.0), called
// through a throwaway C harness (not in the repository), as for the
// reference quantizers in quant-k.test.ts. The rows include an all-zero row,
// a constant row and a half-zero row; the imatrix spans e^-3..e^3 and is 0
// over columns 32..63 (a whole sub-block without weight).
function weightedGoldenInput(): { x: Float32Array; im: Float32Array; n: number; rows: number } {
  const rand = mulberry32(20250301);
  const n = 512, rows = 24;
  const x = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const scale = 2 ** ((r % 7) - 3);
    for (let i = 0; i < n; i++) {
      const u = rand(), v = rand();
      let val: number;
      switch (r % 4) {
        case 0: val = u - 0.5; break;
        case 1: val = (u - 0.5) / (v + 0.02); break;
        case 2: val = v < 0.7 ? 0 : u - 0.25; break;
        default: val = -(u * u) - 0.5 * v; break;
      }
      if (r === 21) val = 0;
      if (r === 22) val = 0.3;
      if (r === 23 && i >= 256) val = 0;
      x[r * n + i] = val * scale;
    }
  }
  const im = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    im[i] = i >= 32 && i < 64 ? 0 : Math.fround(Math.exp(6 * (u - 0.5)));
  }
  return { x, im, n, rows };
}

const WEIGHTED_GOLDEN: Record<string, string> = {
  Q4_0: 'dd8687977c40d6f01f2ed82fdeedb650d72f98fce7d00a8c76c87c2fa68e59aa',
  Q4_1: 'cfb73892c908341c156fd8cf4e431258c87d71a4b3d63761694a8f16f78b7f6a',
  Q5_0: 'd3a27d7cd652d681379caa562329f84c011fbdff6aab8434fdc444543597fbac',
  Q5_1: '5c50012f835163bdd4b126b965879040bb42390738678d4cdcec03246ed7ce9b',
  Q2_K: '957a0287986058b8e57515b5b22154bcc6e940b8b78f1fc13e376e3ac7b6516e',
  Q3_K: '92338492f393371104add34ced77be19f74dc11d126d41191985a041e4f09d65',
  Q4_K: 'afbd3a473e311dc60c15494403ad0d1e0725a618ec037c66fabb354e534246b6',
  Q5_K: 'b5492e30b11e49f9c81ef6b13bcb9806713b882812498c6d54fb2f6214833f84',
  Q6_K: '1bbfc94d06af5f97dbd6a7b721b84df45dbfeb458089a0d3a83cf89612aa5372',
  // from ggml_quantize_chunk in node-llama-cpp's libggml-base (test/helpers/ggml-quants.ts)
  IQ4_NL: '65a1b76b681d9eec314bc24470eb328f55b4bdab66a760bb7d6e0235d1e3d9cf',
  IQ4_XS: 'a35ca917f818c97c32ef9c49033bb42a12fb7a8c4e2befa156fdee6553f34445',
  // the same, by test/helpers/ggml-quants.ts's ggml_quantize_chunk over the 24 rows
  IQ2_XXS: 'd7756cbceac412cb60116ea29af6d84d904290e7bc61a213298afe99a73f96b4',
  IQ2_XS: '5c112d7b58ec5f4138a1e2a2228bb769af419f9adf32402f5bce2f400bf59be3',
  IQ2_S: '00b505fef311f46ac67dd3298575364ff0921aa6274428aad342dd36fcdd957c',
  IQ3_XXS: 'ff71937777081763e2e483736d49a7a6b5f2bcc9b1376a2d6f5c937c77e9ae2b',
  IQ3_S: '2d24976db998481add3ff21c371977a8915944973f444fb49e4551e41343bc15',
  IQ1_S: 'aa2a04950169f6cf73b13fc0e4e490ad7772c5d24b9bd7c577c545225446bc10',
  IQ1_M: '7ad363090936a3484a1cf954a3ace984effdf248c06d6ede04869cbbbea2a854',
};
/** Weighted types ggml quantizes only with an imatrix: "without" is an imatrix of ones for them. */
const NEEDS_WEIGHTS = new Set<GGMLType>([Q.IQ2_XXS, Q.IQ2_XS, Q.IQ1_S]);

test('imatrix quantizers: the bytes of llama.cpp\'s ggml_quantize_chunk with an imatrix (golden hashes)', () => {
  const { x, im, n, rows } = weightedGoldenInput();
  const hex = (b: ArrayBufferView) => createHash('sha256').update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).digest('hex');
  assert.is(hex(x), '195ff28eafa8d311cca26e14b9001a110c5b3dac68e921fcb54d3c0f8eea68ad', 'golden input changed');
  assert.is(hex(im), '9f1dd3e4ce9be887dc5bb6a10e533b439a86d3e63965f972a445ac680dac2970', 'golden imatrix changed');
  assert.equal(Object.keys(WEIGHTED_GOLDEN).sort(), weightedTypes().map(ggmlTypeName).sort());
  for (const [name, want] of Object.entries(WEIGHTED_GOLDEN)) {
    const t = Q[name as keyof typeof Q] as GGMLType;
    const rowsOut = Array.from({ length: rows }, (_, r) => quantizeRowWeighted(t, x.subarray(r * n, (r + 1) * n), im));
    assert.is(hex(Buffer.concat(rowsOut)), want, `${name} bytes differ from llama.cpp's`);
    // the weights matter: the plain reference quantizer gives other bytes
    const plain = NEEDS_WEIGHTS.has(t) ? quantizeRowWeighted(t, x.subarray(0, n), new Float32Array(n).fill(1)) : quantizeRow(t, x.subarray(0, n));
    assert.not.equal(rowsOut[0], plain, `${name}: the imatrix changed nothing`);
  }
  // types ggml quantizes without looking at the imatrix
  assert.equal(quantizeRowWeighted(Q.Q8_0, x.subarray(0, n), im), quantizeRow(Q.Q8_0, x.subarray(0, n)));
  assert.throws(() => quantizeRowWeighted(Q.Q4_K, x.subarray(0, n), im.subarray(0, 256)), /256 weights for a row of 512/);
});

const CALIB = `The old lighthouse keeper climbed the stairs every evening and lit the lamp. Ships passed far away on the dark sea, and their lights answered his. In the morning he wrote the names of the ships in a big book, drank his tea, and watched the gulls over the rocks. One winter a storm broke the window at the top of the tower. He fixed it with wood and nails, and the lamp burned all night. When spring came, children from the village visited him and asked about the ships, the storm and the sea.`;

/** Presets covering every imatrix quantizer (Q2_K's mix adds Q3_K and Q4_K, Q4_K_M Q6_K). */
const IMATRIX_CASES = ['Q2_K', 'Q3_K_S', 'Q4_K_M', 'Q5_K_S', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1'];

test('--imatrix: each tensor is ggml\'s imatrix quantizer on its rows, metadata as llama-quantize writes it, llama.cpp runs every file', async () => {
  const calib = join(dir, 'calib.txt');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(calib, CALIB);
  const { imatrix } = await computeIMatrix(input, CALIB, { contextSize: 32, threads: 1, dataset: calib });
  const imPath = join(dir, 'imatrix.gguf');
  await writeIMatrix(imPath, imatrix, 'gguf');
  const importance = importanceOf(await readIMatrix(imPath));
  assert.is(importance.weights.size, 14, 'seven matmul weights per layer');
  const src = await readGGUF(input);
  const rowsOf = async (name: string) => new Float32Array((await readTensorData(src.tensors.find((t) => t.name === name)!)).slice().buffer);
  const llama = await oracle();
  for (const type of IMATRIX_CASES) {
    const out = join(dir, `imatrix-${type}.gguf`);
    const warnings: string[] = [];
    await quantizeGGUF(input, out, type, { imatrix: importance, imatrixFile: imPath, onWarning: (m) => warnings.push(m) });
    const dst = await readGGUF(out);
    // what llama-quantize adds after general.file_type
    assert.equal(dst.kv.slice(-4).map((e) => [e.key, e.value]), [
      ['quantize.imatrix.file', imPath], ['quantize.imatrix.dataset', calib],
      ['quantize.imatrix.entries_count', 14], ['quantize.imatrix.chunks_count', imatrix.chunkCount],
    ]);
    assert.ok(warnings.includes('did not find imatrix data for token_embd.weight'), warnings.join('; '));
    let weightedRows = 0;
    for (const t of dst.tensors) {
      if (t.shape.length < 2) continue;
      const f32 = await rowsOf(t.name);
      const ne0 = t.shape[0]!;
      const rb = rowSize(t.type, ne0);
      const got = await readTensorData(t);
      const w = importance.weights.get(t.name);
      for (let r = 0; r < f32.length / ne0; r++) {
        const row = f32.subarray(r * ne0, (r + 1) * ne0);
        const ref = t.type === Q.F32 ? new Uint8Array(row.buffer, row.byteOffset, row.byteLength) : w ? quantizeRowWeighted(t.type, row, w) : quantizeRow(t.type, row);
        if (Buffer.compare(got.subarray(r * rb, (r + 1) * rb), ref) !== 0) assert.unreachable(`${type}: ${t.name} row ${r} differs from ggml's quantizer`);
        if (w && weightedTypes().includes(t.type)) weightedRows++;
      }
    }
    assert.ok(weightedRows > 1000, `${type}: only ${weightedRows} rows went through the imatrix quantizers`);
    const lm = await llama.loadModel({ modelPath: out });
    try {
      const theirs = await llamaCppProbabilities(lm, SEQ);
      const model = await loadModel(out);
      const ctx = model.createContext({ contextSize: 512 });
      const logits = ctx.evaluate(SEQ, { allLogits: true });
      ctx.dispose();
      model.dispose();
      const st = compareDistributions(logits, shape.n_vocab, theirs);
      console.log(`  ${type} --imatrix: KL mean ${st.meanKL.toExponential(2)} max ${st.maxKL.toExponential(2)}, argmax ${(100 * st.argmaxAgreement).toFixed(1)}%`);
      assert.ok(st.meanKL <= 1e-3, `${type}: mean KL ${st.meanKL} > 1e-3`);
    } finally {
      await lm.dispose();
    }
  }
});

test('with an imatrix, Q4_0 and Q5_0 give the first n_layer/8 ffn_down matrices Q4_1 / Q5_1 (llama_tensor_get_type)', async () => {
  const path = join(dir, 'deep.gguf');
  await writeGGUF(path, llamaModelSpec({ n_vocab: 288, n_embd: 64, n_layer: 16, n_head: 2, n_head_kv: 2, n_ff: 64, n_ctx_train: 64 }, Q.F32));
  const file = await readGGUF(path);
  const typeOf = (plan: ReturnType<typeof planQuantize>, name: string) => ggmlTypeName(plan.tensors.find((p) => p.tensor.name === name)!.type);
  for (const [ftype, guarded] of [['Q4_0', 'Q4_1'], ['Q5_0', 'Q5_1']] as const) {
    const withIm = planQuantize(file, ftype, { hasImatrix: true });
    const without = planQuantize(file, ftype);
    assert.equal([0, 1, 2].map((l) => typeOf(withIm, `blk.${l}.ffn_down.weight`)), [guarded, guarded, ftype]);
    assert.is(typeOf(withIm, 'blk.0.ffn_up.weight'), ftype);
    assert.is(typeOf(without, 'blk.0.ffn_down.weight'), ftype);
    assert.is(typeOf(planQuantize(file, ftype, { hasImatrix: true, pure: true }), 'blk.0.ffn_down.weight'), ftype);
  }
  assert.is(typeOf(planQuantize(file, 'Q4_1', { hasImatrix: true }), 'blk.0.ffn_down.weight'), 'Q4_1');
});

test('llama_tensor_get_type port: loader order (blk.10 after blk.9) whatever the file order; hyper-parameters from metadata', async () => {
  const path = join(dir, 'deep16.gguf');
  await writeGGUF(path, llamaModelSpec({ n_vocab: 288, n_embd: 256, n_layer: 16, n_head: 4, n_head_kv: 4, n_ff: 256, n_ctx_train: 64 }, Q.F32));
  const file = await readGGUF(path);
  const hp = quantizeHParams((k) => file.metadata.get(k));
  assert.equal(hp, { arch: 'llama', nLayer: 16, nHead: 4, nHeadKv: 4, nExpert: 0, is70B: false });
  const byName = (tensors: typeof file.tensors, ftype: LlamaFileType) => {
    const c = llamaTensorTypes(tensors, hp, { ftype });
    return new Map(tensors.map((t, i) => [t.name, ggmlTypeName(c[i]!.type)]));
  };
  const inOrder = byName(file.tensors, LlamaFileType.MOSTLY_Q3_K_M);
  // file order reversed, then sorted as plain strings (blk.1, blk.10, blk.11...): the counters must not follow either
  const shuffled = [...file.tensors].reverse();
  assert.equal(byName(shuffled, LlamaFileType.MOSTLY_Q3_K_M), inOrder);
  assert.equal(byName([...file.tensors].sort((a, b) => (a.name < b.name ? -1 : 1)), LlamaFileType.MOSTLY_Q3_K_M), inOrder);
  // Q3_K_M: the first two value matrices (by the loader's count) get Q5_K, ffn_down of layer 0 (< 16/16) Q5_K
  assert.equal([0, 1, 2, 10].map((l) => inOrder.get(`blk.${l}.attn_v.weight`)), ['Q5_K', 'Q5_K', 'Q4_K', 'Q4_K']);
  assert.equal([0, 1].map((l) => inOrder.get(`blk.${l}.ffn_down.weight`)), ['Q5_K', 'Q4_K']);
  // Q4_K_M: use_more_bits over 16 layers picks 0, 1, 4, 7, 10, 13, 14, 15
  const q4 = byName(shuffled, LlamaFileType.MOSTLY_Q4_K_M);
  assert.equal(Array.from({ length: 16 }, (_, l) => l).filter((l) => q4.get(`blk.${l}.attn_v.weight`) === 'Q6_K'), [0, 1, 4, 7, 10, 13, 14, 15]);

  // metadata: per-layer head_count_kv counts by layer 0, a missing one means no GQA; 70B by architecture
  const meta = (m: Record<string, unknown>) => quantizeHParams((k) => m[k]);
  assert.is(meta({ 'general.architecture': 'llama', 'llama.attention.head_count': 32, 'llama.attention.head_count_kv': new Int32Array([8, 8]) }).nHeadKv, 8);
  assert.is(meta({ 'general.architecture': 'llama', 'llama.attention.head_count': 32 }).nHeadKv, 32);
  const l70 = { 'general.architecture': 'llama', 'llama.block_count': 80, 'llama.attention.head_count': 64, 'llama.attention.head_count_kv': 8 };
  assert.is(meta(l70).is70B, true);
  assert.is(meta({ ...l70, 'llama.attention.head_count_kv': 64 }).is70B, false, 'the 65B has no GQA');
  assert.is(meta({ ...l70, 'llama.expert_count': 8 }).is70B, false, 'an 8-expert llama file is a Mixtral');
  assert.is(meta({ 'general.architecture': 'qwen2', 'qwen2.block_count': 80, 'qwen2.attention.head_count': 64, 'qwen2.attention.head_count_kv': 64 }).is70B, true);
  // with experts the layer comes from the name: one that has none cannot be placed
  const moe = { ...hp, nExpert: 4 };
  assert.throws(() => llamaTensorTypes([{ name: 'extra.ffn_down.weight', shape: [256, 256], type: Q.F32 }], moe, { ftype: LlamaFileType.MOSTLY_Q4_K_M }), /failed to determine the layer/);
  assert.throws(() => llamaTensorTypes([{ name: 'blk.16.ffn_down_exps.weight', shape: [256, 256, 4], type: Q.F32 }], moe, { ftype: LlamaFileType.MOSTLY_Q4_K_M }), /bad layer 16/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
