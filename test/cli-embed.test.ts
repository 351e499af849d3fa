// `run-gguf embed`, run as users run it: the compiled bin in a child process,
// on a random-weight bert file; its vectors checked against llama.cpp's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { BERT_SHAPES, bertModelSpec } from '../formats/synthetic/bert.js';
import { llamaModelSpec } from '../formats/synthetic/llama.js';
import { oracle } from './helpers/oracle.js';
import { REPO_ROOT } from './helpers/shared.js';

const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'cli-embed-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const TEXTS = ['Hello, World!', 'the quick brown fox jumps over the lazy dog', 'What is a text embedding?'];
const bertPath = join(tmp, 'bert-q8_0.gguf');

function cosine(a: number[], b: number[]): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

interface EmbedJson { object: string; data: { object: string; index: number; embedding: number[] }[]; cosineSimilarity?: number[][] }

test('--help, and embed is listed', () => {
  const top = run('--help');
  assert.is(top.code, 0);
  assert.match(top.stdout, /\n {2}embed {2,}text embeddings/);
  const help = run('embed', '--help');
  assert.is(help.code, 0);
  assert.match(help.stdout, 'Usage: run-gguf embed <model.gguf> -p TEXT');
  assert.match(help.stdout, '--pooling P');
  const bare = run('embed');
  assert.is(bare.code, 2);
  assert.match(bare.stderr, 'Usage: run-gguf embed');
});

test('--json vectors match llama.cpp\'s embeddings of the same texts', async () => {
  await writeGGUF(bertPath, bertModelSpec(BERT_SHAPES['bert-tiny']!, GGMLType.Q8_0, { seed: 5 }));
  const r = run('embed', bertPath, ...TEXTS.flatMap((t) => ['-p', t]), '--json', '-t', '1');
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as EmbedJson;
  assert.is(out.object, 'list');
  assert.equal(out.data.map((d) => d.index), [0, 1, 2]);
  const llama = await (await oracle()).loadModel({ modelPath: bertPath, defaultContextFlashAttention: false });
  try {
    const ctx = await llama.createEmbeddingContext({ contextSize: 512, batchSize: 512, threads: 1 });
    for (let i = 0; i < TEXTS.length; i++) {
      const theirs = [...(await ctx.getEmbeddingFor(TEXTS[i]!)).vector];
      const ours = out.data[i]!.embedding;
      assert.is(ours.length, 256);
      const c = cosine(ours, theirs);
      assert.ok(c >= 0.999, `text ${i}: cosine ${c}`);
      const norm = ours.reduce((s, x) => s + x * x, 0);
      assert.ok(Math.abs(norm - 1) < 1e-5, `text ${i} is normalised: |v|^2 = ${norm}`);
    }
    await ctx.dispose();
  } finally {
    await llama.dispose();
  }
  const sim = out.cosineSimilarity!;
  assert.is(sim.length, 3);
  assert.ok(Math.abs(sim[1]![1]! - 1) < 1e-6);
  assert.ok(Math.abs(sim[0]![2]! - cosine(out.data[0]!.embedding, out.data[2]!.embedding)) < 1e-9);
});

test('text output, --pooling, --no-normalize, -f', () => {
  const r = run('embed', bertPath, '-p', TEXTS[0]!, '-p', TEXTS[1]!, '-t', '1');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^embedding 0: +-?\d\.\d{6} +-?\d\.\d{6} +-?\d\.\d{6} \.\.\. /m);
  assert.match(r.stdout, /^embedding 1: /m);
  assert.match(r.stdout, 'cosine similarity matrix:');

  const json = (...a: string[]) => {
    const x = run('embed', bertPath, '-p', TEXTS[0]!, '--json', '-t', '1', ...a);
    assert.is(x.code, 0, x.stderr);
    return (JSON.parse(x.stdout) as EmbedJson).data[0]!.embedding;
  };
  const cls = json();
  const raw = json('--no-normalize');
  assert.ok(Math.abs(raw.reduce((s, x) => s + x * x, 0) - 1) > 0.01, 'unnormalised vector has norm 1');
  assert.ok(cosine(raw, cls) > 0.999999);
  const mean = json('--pooling', 'mean');
  assert.ok(cosine(mean, cls) < 0.99, 'mean pooling equals the file\'s cls pooling');
  // none: one vector per token ([CLS] hello , world ! [SEP])
  assert.is(json('--pooling', 'none').length, 6 * 256);

  const file = join(tmp, 'texts.txt');
  writeFileSync(file, `${TEXTS[0]}\n\n${TEXTS[2]}\n`);
  const f = run('embed', bertPath, '-f', file, '--json', '-t', '1');
  assert.is(f.code, 0, f.stderr);
  const fromFile = JSON.parse(f.stdout) as EmbedJson;
  assert.is(fromFile.data.length, 2);
  assert.ok(cosine(fromFile.data[0]!.embedding, cls) > 0.999999);
});

test('errors: a bad pooling name, a decoder model', async () => {
  const bad = run('embed', bertPath, '-p', 'x', '--pooling', 'max');
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /pooling must be one of none, mean, cls, last/);
  const llamaPath = join(tmp, 'llama.gguf');
  await writeGGUF(llamaPath, llamaModelSpec({ n_vocab: 512, n_embd: 256, n_layer: 1, n_head: 4, n_head_kv: 4, n_ff: 512, n_ctx_train: 256 }, GGMLType.Q8_0, { seed: 1 }));
  const dec = run('embed', llamaPath, '-p', 'x');
  assert.is(dec.code, 1);
  assert.match(dec.stderr, /embeddings need an encoder architecture \(bert, nomic-bert\); this model is llama/);
});

test.run();
