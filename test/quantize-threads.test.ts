// run-gguf quantize on worker threads: the file must be byte for byte the one
// a single thread writes (with and without --imatrix, through the API with
// small chunks so every tensor spans several chunks and the pool runs ahead,
// and through the CLI), the row ranges must keep each row's expert, worker
// failures must surface, and the progress line must appear on terminals only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, rowSize } from '../formats/ggml-types.js';
import { readGGUF, readTensorData, writeGGUF } from '../formats/gguf/index.js';
import { importanceOf, readIMatrix, writeIMatrix, type IMatrix } from '../formats/imatrix/index.js';
import { quantizeRowWeighted } from '../formats/quant/index.js';
import { convertRowBytes, type RowJob } from '../formats/quantize/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { QuantizePool, QuantizeProgressLine, quantizeModel } from '../runtime/quantize/index.js';
import { mulberry32 } from './helpers/rng.js';
import { REPO_ROOT } from './helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-quantize-threads-'));
const input = join(dir, 'model-f16.gguf');
const imPath = join(dir, 'imatrix.gguf');
const shape = LLAMA_SHAPES['test-tiny']!;
const cli = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');

/** Random positive statistics for every matmul weight but token_embd, as llama-imatrix would store them. */
function syntheticIMatrix(names: string[], cols: (name: string) => number): IMatrix {
  const rand = mulberry32(99);
  const entries = names.sort().map((name) => {
    const sums = new Float32Array(cols(name));
    for (let i = 0; i < sums.length; i++) sums[i] = Math.fround(10 * Math.exp(4 * (rand() - 0.5)));
    return { name, sums, counts: [10] };
  });
  return { datasets: ['synthetic.txt'], chunkCount: 3, chunkSize: 64, entries };
}

test.before(async () => {
  await writeGGUF(input, llamaModelSpec(shape, GGMLType.F16, { seed: 11 }));
  const f = await readGGUF(input);
  const mats = f.tensors.filter((t) => t.shape.length === 2 && t.name !== 'token_embd.weight');
  await writeIMatrix(imPath, syntheticIMatrix(mats.map((t) => t.name), (n) => mats.find((t) => t.name === n)!.shape[0]!), 'gguf');
});

const same = (a: string, b: string) => Buffer.compare(readFileSync(a), readFileSync(b)) === 0;

test('1 and 3 threads write the same bytes (Q4_K_M, Q2_K --imatrix, Q5_0 --imatrix, IQ2_XXS --imatrix, IQ4_XS), chunks of 16 KiB', async () => {
  const importance = importanceOf(await readIMatrix(imPath));
  const cases = [
    { type: 'Q4_K_M', options: {} },
    { type: 'Q2_K', options: { imatrix: importance, imatrixFile: imPath } },
    { type: 'Q5_0', options: { imatrix: importance, imatrixFile: imPath } },
    // the C i-quant quantizers: on the calling thread for 1, in each worker for 3
    { type: 'IQ2_XXS', options: { imatrix: importance, imatrixFile: imPath } },
    { type: 'IQ4_XS', options: {} },
  ];
  for (const { type, options } of cases) {
    const one = join(dir, `api-${type}-t1.gguf`), three = join(dir, `api-${type}-t3.gguf`);
    const chunks: number[] = [];
    await quantizeModel(input, one, type, { ...options, threads: 1, chunkBytes: 16 << 10 });
    await quantizeModel(input, three, type, { ...options, threads: 3, chunkBytes: 16 << 10, onData: (n) => chunks.push(n) });
    assert.ok(same(one, three), `${type}: 3 threads wrote other bytes than 1`);
    // the small chunks matter: most tensors are converted in several pieces, the next one ahead
    assert.ok(chunks.length > 40, `${type}: only ${chunks.length} chunks`);
    const f = await readGGUF(three);
    assert.ok(f.tensors.some((t) => t.type !== GGMLType.F16 && t.type !== GGMLType.F32), `${type}: nothing was quantized`);
    if (options.imatrix) assert.is(f.metadata.get('quantize.imatrix.file'), imPath);
    console.log(`  ${type}${options.imatrix ? ' --imatrix' : ''}: ${f.tensors.length} tensors, ${chunks.length} chunks, 1 thread == 3 threads`);
  }
});

test('run-gguf quantize -t 1 / -t 3: same file, with and without --imatrix; no progress line off a terminal', () => {
  for (const extra of [[], ['--imatrix', imPath]]) {
    const outs = [1, 3].map((t) => {
      const out = join(dir, `cli-t${t}${extra.length ? '-im' : ''}.gguf`);
      const r = spawnSync(process.execPath, [cli, 'quantize', input, out, 'Q3_K_M', '-t', String(t), ...extra], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`on ${t} thread${t > 1 ? 's' : ''}\\n`));
      // llama-quantize's per-tensor log stays; no carriage returns or escapes when stderr is a pipe
      assert.match(r.stderr, /^\[ 1\/21\] token_embd\.weight +- \[256, 512\], type = +F16, converting to /m);
      assert.not.match(r.stderr, /[\r\x1b]/);
      return out;
    });
    assert.ok(same(outs[0]!, outs[1]!), `-t 3 wrote other bytes than -t 1 (${extra.join(' ') || 'no imatrix'})`);
  }
  const bad = spawnSync(process.execPath, [cli, 'quantize', input, join(dir, 'bad.gguf'), 'Q4_0', '-t', '0'], { encoding: 'utf8' });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /-t: expected a positive integer, got "0"/);
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('tmp') || f === 'bad.gguf'), [], 'a temporary or partial file was left');
});

test('the pool splits rows into ranges and keeps each row\'s expert (stacked [ne0, ne1, n_expert] imatrix)', async () => {
  const rand = mulberry32(5);
  const ne0 = 256, ne1 = 5, nExpert = 3, nRows = ne1 * nExpert * 2 + 1; // rows past the last expert wrap, as ggml's do
  const x = new Float32Array(nRows * ne0).map(() => rand() - 0.5);
  const importance = new Float32Array(ne0 * nExpert).map(() => Math.exp(3 * (rand() - 0.5)));
  const job: RowJob = { from: GGMLType.F32, to: GGMLType.Q3_K, ne0, firstRow: ne1 - 2, src: new Uint8Array(x.buffer), importance, rowsPerMatrix: ne1 };
  const want = convertRowBytes(job);
  // ggml_quantize_chunk's rule, row by row
  const rb = rowSize(GGMLType.Q3_K, ne0);
  for (let i = 0; i < nRows; i++) {
    const e = Math.floor((job.firstRow + i) / ne1) % nExpert;
    const ref = quantizeRowWeighted(GGMLType.Q3_K, x.subarray(i * ne0, (i + 1) * ne0), importance.subarray(e * ne0, (e + 1) * ne0));
    if (Buffer.compare(want.subarray(i * rb, (i + 1) * rb), ref) !== 0) assert.unreachable(`row ${i}: not expert ${e}'s imatrix`);
  }
  // so a range converted with the wrong first row (the wrong experts) would show
  assert.not.ok(Buffer.compare(convertRowBytes({ ...job, firstRow: 0 }), want) === 0, 'the expert of a row changes nothing');
  const pool = QuantizePool.start(4);
  try {
    // 31 rows over 4 workers: ranges of 8, 8, 8, 7, a range boundary inside an expert
    const got = await pool.convert({ ...job, src: new Uint8Array(x.buffer.slice(0)) });
    assert.ok(Buffer.compare(got, want) === 0, 'the pool\'s rows differ from one pass over them');
    // a failure in a worker (I32 has no reference quantizer) reaches the caller, and the pool goes on
    const err = await pool.convert({ ...job, to: GGMLType.I32, importance: undefined, src: new Uint8Array(x.buffer.slice(0)) }).then(() => undefined, (e: Error) => e.message);
    assert.match(String(err), /no reference codec for i32/i);
    const again = await pool.convert({ ...job, importance: undefined, src: new Uint8Array(x.buffer.slice(0)) });
    assert.ok(Buffer.compare(again, convertRowBytes({ ...job, importance: undefined })) === 0);
  } finally {
    await pool.close();
  }
  const closed = await pool.convert(job).then(() => undefined, (e: Error) => e.message);
  assert.match(String(closed), /closed/);
});

test('progress line: tensor i/N, bytes written and MB/s on a terminal, redrawn under each log line, cleared at the end', () => {
  let text = '';
  const tty = { columns: 100, write: (s: string) => { text += s; return true; } };
  const p = new QuantizeProgressLine(tty);
  const total = 3 << 20;
  p.tensor(1, 21, total, '[ 1/21] token_embd.weight ...\n');
  p.bytes(1 << 20);
  p.tensor(2, 21, total, '[ 2/21] blk.0.attn_q.weight ...\n');
  p.bytes(2 << 20); // the end: drawn whatever the time
  p.finish();
  const frames = text.split('\r').filter((f) => f.startsWith('['));
  assert.ok(frames.some((f) => /^\[ 2\/21\] \[=+ *\] 100% 3\.0 MB\/3\.0 MB [\d.]+ MB\/s/.test(f)), JSON.stringify(frames));
  assert.ok(frames.some((f) => /^\[ 1\/21\] .* 0% 0 B\/3\.0 MB/.test(f)), JSON.stringify(frames));
  // each log line starts on a cleared line, never after a half-drawn bar
  assert.match(text, /\r\x1b\[K\[ 2\/21\] blk\.0\.attn_q\.weight \.\.\.\n/);
  assert.ok(text.endsWith('\r\x1b[K'), 'the progress line is left on screen');
  assert.ok(frames.every((f) => f.replace(/\x1b\[K.*$/s, '').length < 100), 'a frame is wider than the terminal');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
