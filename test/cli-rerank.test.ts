// `run-gguf rerank`, run as users run it: the compiled bin in a child process,
// on a random-weight bge-reranker-style file; its scores and order checked
// against node-llama-cpp's ranking context.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { BERT_SHAPES, bertModelSpec } from '../formats/synthetic/bert.js';
import { bertRerankerSpec } from '../formats/synthetic/reranker.js';
import { oracle } from './helpers/oracle.js';
import { REPO_ROOT } from './helpers/shared.js';

const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'cli-rerank-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const QUERY = 'what is a fox?';
const DOCS = ['the quick brown fox jumps over the lazy dog', 'hello world', 'a fox is an animal', 'search passage about vectors'];
const path = join(tmp, 'reranker-f16.gguf');

interface RerankJson { query: string; results: { index: number; score: number; document: string }[] }

test('--help, and rerank is listed', () => {
  const top = run(['--help']);
  assert.is(top.code, 0);
  assert.match(top.stdout, /\n {2}rerank {2,}score documents against a query/);
  const help = run(['rerank', '--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, 'Usage: run-gguf rerank <model.gguf> -q QUERY [DOC...]');
  const bare = run(['rerank']);
  assert.is(bare.code, 2);
  assert.match(bare.stderr, 'Usage: run-gguf rerank');
});

test('--json scores and order match llama.cpp\'s ranking context; text output; stdin; --top-n', async () => {
  await writeGGUF(path, bertRerankerSpec(GGMLType.F16, { seed: 11 }));
  const r = run(['rerank', path, '-q', QUERY, ...DOCS, '--json', '-t', '1']);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as RerankJson;
  assert.is(out.query, QUERY);
  const llama = await (await oracle()).loadModel({ modelPath: path, defaultContextFlashAttention: false });
  try {
    const ctx = await llama.createRankingContext({ contextSize: 512, batchSize: 512, threads: 1 });
    const theirs = await ctx.rankAndSort(QUERY, DOCS);
    await ctx.dispose();
    assert.equal(out.results.map((x) => x.document), theirs.map((x) => x.document), 'order');
    out.results.forEach((x, i) => {
      assert.is(x.document, DOCS[x.index]);
      assert.ok(Math.abs(x.score - theirs[i]!.score) <= 1e-3, `${x.document}: ${x.score} vs ${theirs[i]!.score}`);
    });
  } finally {
    await llama.dispose();
  }

  const text = run(['rerank', path, '-q', QUERY, ...DOCS, '-t', '1']);
  assert.is(text.code, 0, text.stderr);
  const lines = text.stdout.trim().split('\n');
  assert.is(lines.length, DOCS.length);
  lines.forEach((l, i) => {
    const best = out.results[i]!;
    assert.is(l, `${i + 1}  ${best.score.toFixed(6)}  [${best.index}]  ${best.document}`);
  });

  // documents from stdin (blank lines skipped), the best two
  const piped = run(['rerank', path, '-q', QUERY, '-f', '-', '--top-n', '2', '--json', '-t', '1'], `${DOCS.join('\n\n')}\n`);
  assert.is(piped.code, 0, piped.stderr);
  const top = JSON.parse(piped.stdout) as RerankJson;
  assert.equal(top.results.map((x) => x.index), out.results.slice(0, 2).map((x) => x.index));
});

test('errors: an embedding model is not a reranker; a bad --top-n', async () => {
  const embedding = join(tmp, 'bert-embedding.gguf');
  await writeGGUF(embedding, bertModelSpec(BERT_SHAPES['bert-tiny']!, GGMLType.Q8_0, { seed: 1 }));
  const r = run(['rerank', embedding, '-q', 'x', 'doc']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /not a reranker: bert model without a classifier head/);
  const bad = run(['rerank', path, '-q', 'x', 'doc', '--top-n', '0']);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /--top-n: expected a positive integer/);
});

test.run();
