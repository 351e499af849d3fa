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
import { quantizeRow } from '../formats/quant/index.js';
import { quantizeGGUF } from '../formats/quantize/index.js';
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
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f === 'bad.gguf'), [], 'a temporary or partial file was left');
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

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
