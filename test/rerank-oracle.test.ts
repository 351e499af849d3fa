// Reranking against llama.cpp: node-llama-cpp 3.21.1's ranking context
// (createRankingContext, flash attention off) and model.rank on the very same
// random-weight reranker files (formats/synthetic/reranker.ts):
//   bert F16       bge-reranker style, [CLS] q [SEP] d, sigmoid of the head's score
//   bert+eos F16   the RoBERTa join (bge-reranker-v2-m3): [CLS] q [SEP] [SEP] d [SEP]
//   bert xlm-r ugm F16  the same join over XLM-R's unigram vocabulary (t5 tokenizer, charsmap)
//   qwen3 F16      Qwen3-Reranker style: the file's rerank template, last token, softmax
//   qwen3 no template  BOS q EOS d EOS
// Every score within SCORE_BOUND of llama.cpp's, and rankAndSort's order the
// same. Broken variants must miss: the bert head over the last token instead
// of [CLS], the qwen3 prompt with another template, the XLM-R pair tokenized
// with the dummy space node-llama-cpp cuts. A model that is not a
// reranker gets a ModelError saying so.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF, type GGUFWriteSpec } from '../formats/gguf/index.js';
import { BERT_SHAPES, bertModelSpec } from '../formats/synthetic/bert.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { bertRerankerSpec, QWEN3_RERANK_TEMPLATE, qwen3RerankerSpec } from '../formats/synthetic/reranker.js';
import { ModelError } from '../runtime/errors.js';
import { loadModel as loadWorkerModel } from '../runtime/api/index.js';
import { loadModel, type RankOptions } from '../runtime/index.js';
import { Ranker } from '../runtime/rank.js';
import { createServer } from '../runtime/server/index.js';
import { oracle } from './helpers/oracle.js';

/** |ours - llama.cpp's| for a 0..1 score (F16 weights; measured up to 6.3e-4, qwen3 without a template). */
const SCORE_BOUND = 1e-3;
/**
 * Q8_0 weights: the activations are rounded to 8 bits before every matmul, and
 * an input that differs in its last bits can round the other way, so the
 * encoder's states differ by about 1% (the bert embedding test's cosine
 * >= 0.999) and the scores by a few 1e-3.
 */
const SCORE_BOUND_Q8_0 = 1e-2;
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-rerank-'));
const rows: string[] = [];

const QUERY = 'what is a fox?';
const DOCS = [
  'the quick brown fox jumps over the lazy dog',
  'hello world',
  'a fox is an animal',
  'search passage about vectors and text',
  'cats',
  'The lazy dog sleeps. The quick fox runs.',
  'Café naïve résumé 12345',
  'what is a text embedding model?',
];

interface Case { name: string; spec: () => GGUFWriteSpec; bound?: number }
const CASES: Case[] = [
  { name: 'bert F16', spec: () => bertRerankerSpec(GGMLType.F16, { seed: 3 }) },
  { name: 'bert+eos F16', spec: () => bertRerankerSpec(GGMLType.F16, { seed: 5, eos: true }) },
  // XLM-R (bge-reranker-v2-m3): the unigram "t5" vocabulary, <s> q </s></s> d </s>
  { name: 'bert xlm-r ugm F16', spec: () => bertRerankerSpec(GGMLType.F16, { seed: 9, vocab: 'ugm' }) },
  // blocks that add more to the residual stream: the last token's state depends more on the document
  { name: 'qwen3 F16', spec: () => qwen3RerankerSpec(GGMLType.F16, { seed: 3, blockOutScale: 4 }) },
  { name: 'qwen3 no template F16', spec: () => qwen3RerankerSpec(GGMLType.F16, { seed: 7, blockOutScale: 4, noTemplate: true }) },
  { name: 'bert Q8_0', spec: () => bertRerankerSpec(GGMLType.Q8_0, { seed: 13 }), bound: SCORE_BOUND_Q8_0 },
];

const paths = new Map<string, string>();
const reference = new Map<string, number[]>();

async function theirScores(path: string): Promise<{ scores: number[]; sorted: string[] }> {
  const llama = await (await oracle()).loadModel({ modelPath: path, defaultContextFlashAttention: false });
  try {
    const ctx = await llama.createRankingContext({ contextSize: 512, batchSize: 512, threads: 1 });
    try {
      return { scores: await ctx.rankAll(QUERY, DOCS), sorted: (await ctx.rankAndSort(QUERY, DOCS)).map((r) => r.document) };
    } finally {
      await ctx.dispose();
    }
  } finally {
    await llama.dispose();
  }
}

async function ourScores(path: string, options: RankOptions = {}): Promise<{ scores: number[]; sorted: string[] }> {
  const model = await loadModel(path);
  try {
    const scores = model.rank(QUERY, DOCS, { threads: 1, ...options });
    return { scores, sorted: model.rankAndSort(QUERY, DOCS, { threads: 1, ...options }).map((r) => r.document) };
  } finally {
    model.dispose();
  }
}

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));

for (const c of CASES) {
  const bound = c.bound ?? SCORE_BOUND;
  test(`${c.name}: rank scores match llama.cpp's ranking context (|diff| <= ${bound}), same order`, async () => {
    const path = join(dir, `${c.name.replaceAll(' ', '-')}.gguf`);
    await writeGGUF(path, c.spec());
    paths.set(c.name, path);
    const theirs = await theirScores(path);
    reference.set(c.name, theirs.scores);
    const ours = await ourScores(path);
    const d = maxDiff(ours.scores, theirs.scores);
    const sortedTheirs = [...theirs.scores].sort((a, b) => b - a);
    const minGap = Math.min(...sortedTheirs.slice(1).map((s, i) => sortedTheirs[i]! - s));
    rows.push(`  ${c.name.padEnd(24)} max |diff| ${d.toExponential(2)}  scores ${Math.min(...theirs.scores).toFixed(3)}..${Math.max(...theirs.scores).toFixed(3)}  min gap ${minGap.toExponential(1)}`);
    for (const s of ours.scores) assert.ok(s > 0 && s < 1, `score ${s} is not a probability`);
    assert.ok(d <= bound, `${c.name}: scores differ by ${d} (ours ${ours.scores}, llama.cpp ${theirs.scores})`);
    // the same order; the documents' scores lie further apart than ours are from llama.cpp's
    assert.ok(minGap > 2 * d, `${c.name}: two documents score within ${minGap} in llama.cpp; the order says little`);
    assert.equal(ours.sorted, theirs.sorted, `${c.name}: rankAndSort order`);
  });
}

test('broken variants miss: bert ranked from the last token, qwen3 with another template', async () => {
  const bert = paths.get('bert F16'), qwen = paths.get('qwen3 F16');
  assert.ok(bert && qwen, 'the files were not written by the tests above');
  const last = maxDiff((await ourScores(bert, { pooling: 'last' })).scores, reference.get('bert F16')!);
  const swapped = QWEN3_RERANK_TEMPLATE.replace('<Query>: {query}\n<Document>: {document}', '<Query>: {document}\n<Document>: {query}');
  const tmpl = maxDiff((await ourScores(qwen, { template: swapped })).scores, reference.get('qwen3 F16')!);
  rows.push(`  BROKEN bert last token     max |diff| ${last.toExponential(2)}`, `  BROKEN qwen3 other template max |diff| ${tmpl.toExponential(2)}`);
  assert.ok(last > 10 * SCORE_BOUND, `bert from the last token: only ${last} off`);
  assert.ok(tmpl > 10 * SCORE_BOUND, `qwen3 with another template: only ${tmpl} off`);
});

test('broken variant misses: the XLM-R reranker with its text tokenized plainly (dummy space kept)', async () => {
  const path = paths.get('bert xlm-r ugm F16');
  assert.ok(path, 'the file was not written by the tests above');
  // node-llama-cpp cuts the dummy space; llama-server's plain tokenization keeps it
  class PlainRanker extends Ranker {
    override inputTokens(query: string, document: string): number[] {
      const tok = model.tokenizer;
      const q = tok.tokenize(query, { addSpecial: false }), d = tok.tokenize(document, { addSpecial: false });
      return [tok.bosId!, ...q, tok.eosId!, tok.sepId!, ...d, tok.eosId!];
    }
  }
  const model = await loadModel(path);
  try {
    const ranker = new PlainRanker(model, { threads: 1 });
    try {
      const plain = maxDiff(ranker.rankAll(QUERY, DOCS), reference.get('bert xlm-r ugm F16')!);
      rows.push(`  BROKEN xlm-r plain tokens  max |diff| ${plain.toExponential(2)}`);
      assert.ok(plain > 10 * SCORE_BOUND, `plain tokenization: only ${plain} off`);
    } finally {
      ranker.dispose();
    }
  } finally {
    model.dispose();
  }
});

test('rank on a model that is not a reranker: a ModelError saying so', async () => {
  const files: [string, GGUFWriteSpec][] = [
    ['bert embedding', bertModelSpec(BERT_SHAPES['bert-tiny']!, GGMLType.Q8_0, { seed: 1 })],
    ['bert rank pooling, no head', bertRerankerSpec(GGMLType.Q8_0, { seed: 1, noHead: true })],
    ['llama', llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q8_0, { seed: 1 })],
  ];
  for (const [name, spec] of files) {
    const path = join(dir, `${name.replaceAll(' ', '-')}.gguf`);
    await writeGGUF(path, spec);
    const model = await loadModel(path);
    try {
      let err: unknown;
      try {
        model.rank(QUERY, DOCS, { threads: 1 });
      } catch (e) {
        err = e;
      }
      assert.instance(err, ModelError, `${name}: ${String(err)}`);
      assert.match((err as Error).message, /not a reranker: .* without a classifier head \(cls\.weight or cls\.output\.weight\)/, name);
      assert.match((err as Error).message, path, name);
    } finally {
      model.dispose();
    }
  }
  // llama.cpp loads no classifier head for nomic-bert (its loader refuses the file): neither do we
  const nomic = join(dir, 'nomic-bert-head.gguf');
  await writeGGUF(nomic, bertRerankerSpec(GGMLType.Q8_0, { seed: 1 }, BERT_SHAPES['nomic-bert-tiny']!));
  const refused = await loadModel(nomic).then((m) => (m.dispose(), null), (e: unknown) => e);
  assert.instance(refused, ModelError);
  assert.match((refused as Error).message, /unexpected tensor cls\.weight: nomic-bert declares no such tensor/);
  // pooling_type rank without a head cannot embed either, and says why
  const noHead = await loadModel(join(dir, 'bert-rank-pooling,-no-head.gguf'));
  try {
    assert.throws(() => noHead.embed(['x'], { threads: 1 }), /pooling_type = 4: this is a reranker: use model\.rank\(\)/);
    assert.is(noHead.embed(['x'], { threads: 1, pooling: 'cls' })[0]!.length, 256);
  } finally {
    noHead.dispose();
  }
});

test('rank details: empty pair, one document, limits', async () => {
  const model = await loadModel(paths.get('bert F16')!);
  try {
    assert.equal(model.rank('', [''], { threads: 1 }), [0]);
    assert.equal(model.rank(QUERY, [], { threads: 1 }), []);
    const all = model.rank(QUERY, DOCS, { threads: 1 });
    assert.is(model.rank(QUERY, [DOCS[2]!], { threads: 1 })[0], all[2], 'a document alone scores as in a batch');
    const long = Array.from({ length: 80 }, () => 'the quick brown fox').join(' ');
    assert.throws(() => model.rank(QUERY, [long], { threads: 1, batchSize: 64 }), /document 0: the query and document are \d+ tokens, more than 64/);
    assert.throws(() => model.rank(QUERY, DOCS, { threads: 1, template: 'no placeholders' }), /template must contain both \{query\} and \{document\}/);
  } finally {
    model.dispose();
  }
});

test('the worker API (run-gguf) ranks as the core does; a non-reranker rejects with a ModelError', async () => {
  const path = paths.get('qwen3 F16');
  assert.ok(path, 'qwen3 F16 was not written');
  const expected = (await ourScores(path)).scores;
  const model = await loadWorkerModel(path, { threads: 1 });
  try {
    assert.equal(await model.rank(QUERY, DOCS), expected, 'the core\'s scores');
    const sorted = await model.rankAndSort(QUERY, DOCS);
    assert.equal(sorted.map((r) => r.score), [...expected].sort((a, b) => b - a));
    assert.equal(sorted.map((r) => r.document), sorted.map((r) => DOCS[r.index]));
  } finally {
    await model.dispose();
  }
  const llama = await loadWorkerModel(join(dir, 'llama.gguf'), { threads: 1 });
  try {
    const err = await llama.rank(QUERY, DOCS).then(() => null, (e: unknown) => e);
    assert.instance(err, ModelError);
    assert.match((err as Error).message, /not a reranker/);
  } finally {
    await llama.dispose();
  }
});

test('run-gguf serve: /v1/rerank (Jina and TEI forms) gives model.rank\'s scores, highest first; 501 for other models', async () => {
  const path = paths.get('bert F16');
  assert.ok(path, 'bert F16 was not written');
  const expected = (await ourScores(path)).scores;
  const order = expected.map((score, index) => ({ score, index })).sort((a, b) => b.score - a.score);
  const server = await createServer(path, { threads: 1 });
  const { url } = await server.listen(0);
  const post = async (route: string, body: unknown) => {
    const r = await fetch(`${url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> & unknown[] };
  };
  try {
    const jina = await post('/v1/rerank', { query: QUERY, documents: DOCS, top_n: 3 });
    assert.is(jina.status, 200, JSON.stringify(jina.body));
    assert.equal(jina.body.results, order.slice(0, 3).map(({ index, score }) => ({ index, relevance_score: score })));
    const tei = await post('/rerank', { query: QUERY, texts: DOCS, return_text: true });
    assert.equal(tei.body, order.map(({ index, score }) => ({ index, score, text: DOCS[index] })));
    const bad = await post('/v1/rerank', { query: QUERY, documents: [] });
    assert.is(bad.status, 400);
    const emb = await post('/v1/embeddings', { input: 'x' });
    assert.is(emb.status, 501);
  } finally {
    await server.close();
  }
  const other = await createServer(join(dir, 'bert-embedding.gguf'), { threads: 1 });
  const o = await other.listen(0);
  try {
    const r = await fetch(`${o.url}/v1/rerank`, { method: 'POST', body: JSON.stringify({ query: 'q', documents: ['d'] }) });
    assert.is(r.status, 501);
    assert.match(JSON.stringify(await r.json()), /not a reranker/);
  } finally {
    await other.close();
  }
});

test.after(() => {
  if (rows.length) console.log(`\n  rerank scores vs llama.cpp (${DOCS.length} documents)\n${rows.join('\n')}`);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
