// The BERT-family encoders (bert: BGE/MiniLM/E5, nomic-bert) with random
// weights: text embeddings here (model.embed, several texts per batch) and in
// llama.cpp (node-llama-cpp's embedding context) on the very same GGUF file,
// in F16, Q8_0 and Q4_K, for 20 texts of different lengths. Every text's
// cosine similarity must reach 0.999; a causal encoder and the wrong pooling
// must fall below it. The WordPiece tokens must equal llama.cpp's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaModel } from 'node-llama-cpp';
import { GGMLType, ggmlTypeInfo } from '../formats/ggml-types.js';
import { readGGUF, writeGGUF } from '../formats/gguf/index.js';
import { BERT_SHAPES, bertModelSpec, type BertShape } from '../formats/synthetic/bert.js';
import { bertGraph } from '../runtime/arch/bert.js';
import type { EmbedOptions } from '../runtime/embed.js';
import { loadModel, type LoadModelOptions } from '../runtime/index.js';
import { Tokenizer } from '../runtime/tokenizer/index.js';
import { oracle } from './helpers/oracle.js';
import { sharedDir } from './helpers/shared.js';
import { loadOracleVocab } from './tokenizer-helpers.js';

const COS_BOUND = 0.999;
const TYPES = [GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_K];
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-bert-'));
const rows: string[] = [];

// 20 texts from one word to ~150 tokens: case, accents, punctuation, digits,
// CJK, words the vocabulary lacks ([UNK]), continuation pieces.
const LONG = Array.from({ length: 12 }, (_, i) => `The quick brown fox ${i} jumps over the lazy dog, again!`).join(' ');
const TEXTS = [
  'hello',
  'Hello, World!',
  'the quick brown fox jumps over the lazy dog',
  'What is a text embedding model?',
  'query: how do vectors help search?',
  'passage: Similar sentences get similar vectors; dissimilar ones do not.',
  'Café naïve résumé — accents are stripped.',
  'UNBELIEVABLE walkers played and jumped quickly',
  '12345 + 67 = 12412',
  '中文 and 日本 characters split one by one',
  'xyzzy qwop blorft',
  "don't stop: it's (almost) done...",
  'a',
  'tokens, tokens and more tokens in a sentence of moderate length for the model',
  '  leading and trailing spaces   \t\n',
  'search_query: what is the capital of the moon',
  'embedding embeddings embedded embedder',
  'The lazy dog sleeps. The quick fox runs. The brown cat watches them both from the tree.',
  LONG,
  `${LONG} ${LONG.slice(0, 200)}`,
];

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`vectors of ${a.length} and ${b.length}`);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** llama.cpp's embedding of each text ([CLS] text [SEP], the file's pooling, non-flash attention, one thread). */
async function theirEmbeddings(llama: LlamaModel, texts: string[]): Promise<number[][]> {
  const ctx = await llama.createEmbeddingContext({ contextSize: 512, batchSize: 512, threads: 1 });
  try {
    const out: number[][] = [];
    for (const t of texts) out.push([...(await ctx.getEmbeddingFor(t)).vector]);
    return out;
  } finally {
    await ctx.dispose();
  }
}

async function ourEmbeddings(path: string, texts: string[], options: EmbedOptions = {}, load: LoadModelOptions = {}): Promise<Float32Array[]> {
  const model = await loadModel(path, load);
  try {
    return model.embed(texts, { threads: 1, ...options });
  } finally {
    model.dispose();
  }
}

async function withLlamaCpp<T>(path: string, fn: (llama: LlamaModel) => Promise<T>): Promise<T> {
  // The embedding context takes the model's default; flash attention rounds otherwise (kernels/ops-attention.c).
  const llama = await (await oracle()).loadModel({ modelPath: path, defaultContextFlashAttention: false });
  try {
    return await fn(llama);
  } finally {
    await llama.dispose();
  }
}

interface CosStats { min: number; mean: number; below: number }
function cosStats(ours: ArrayLike<number>[], theirs: ArrayLike<number>[]): CosStats {
  const c = ours.map((v, i) => cosine(v, theirs[i]!));
  return { min: Math.min(...c), mean: c.reduce((a, b) => a + b, 0) / c.length, below: c.filter((x) => x < COS_BOUND).length };
}
const row = (label: string, s: CosStats) =>
  `  ${label.padEnd(32)} cos min ${s.min.toFixed(6)} (1-cos ${(1 - s.min).toExponential(1)}) mean ${s.mean.toFixed(6)}  below ${COS_BOUND}: ${s.below}/${TEXTS.length}`;

const paths = new Map<string, string>();
const reference = new Map<string, number[][]>();

for (const model of ['bert-tiny', 'nomic-bert-tiny']) {
  const shape: BertShape = BERT_SHAPES[model]!;
  for (const type of TYPES) {
    const name = `${shape.arch} ${ggmlTypeInfo(type)!.name.toUpperCase()}`;
    test(`${name}: embeddings of 20 texts match llama.cpp (cosine >= ${COS_BOUND})`, async () => {
      const path = join(dir, `${name.replaceAll(' ', '-')}.gguf`);
      await writeGGUF(path, bertModelSpec(shape, type, { seed: 29 }));
      paths.set(name, path);
      const theirs = await withLlamaCpp(path, async (llama) => {
        if (type === GGMLType.F16) {
          // the WordPiece tokens first: [CLS] ... [SEP] exactly as llama.cpp gives them
          const ours = await loadModel(path);
          try {
            for (const t of TEXTS) {
              const theirs = [...llama.tokenize(t)];
              assert.equal(ours.tokenize(t, { addSpecial: false }), theirs, `tokens of ${JSON.stringify(t)}`);
              // what getEmbeddingFor evaluates
              assert.equal(ours.tokenize(t), [llama.tokens.bos, ...theirs, llama.tokens.sep], `tokens with [CLS]/[SEP] of ${JSON.stringify(t)}`);
            }
          } finally {
            ours.dispose();
          }
        }
        return theirEmbeddings(llama, TEXTS);
      });
      reference.set(name, theirs);
      const ours = await ourEmbeddings(path, TEXTS);
      const s = cosStats(ours, theirs);
      rows.push(row(`${name} (pooling ${['none', 'mean', 'cls', 'last'][shape.pooling_type]})`, s));
      assert.equal(s.below, 0, `${name}: ${s.below} texts below cosine ${COS_BOUND} (min ${s.min})`);
    });
  }
}

// Broken variants must miss: bidirectional attention made causal, and the
// other pooling than the file's.
for (const [name, wrongPooling] of [['bert Q8_0', 'mean'], ['nomic-bert Q8_0', 'cls']] as const) {
  test(`${name}: a causal encoder and ${wrongPooling} pooling miss llama.cpp's embeddings`, async () => {
    const path = paths.get(name), theirs = reference.get(name);
    assert.ok(path && theirs, `${name} was not written by the test above`);
    const causal = cosStats(await ourEmbeddings(path, TEXTS, {}, { buildGraph: bertGraph({ causal: true }) }), theirs);
    rows.push(row(`${name} BROKEN causal`, causal));
    const pooled = cosStats(await ourEmbeddings(path, TEXTS, { pooling: wrongPooling }), theirs);
    rows.push(row(`${name} BROKEN ${wrongPooling}`, pooled));
    // one-token-wide texts ([CLS] x [SEP]) barely change; most must
    assert.ok(causal.below >= TEXTS.length / 2, `causal attention: only ${causal.below} texts below ${COS_BOUND}`);
    assert.ok(pooled.below >= TEXTS.length / 2, `${wrongPooling} pooling: only ${pooled.below} texts below ${COS_BOUND}`);
  });
}

// The file's pooling_type last, and none (llama.cpp then returns the last token's vector).
for (const [pooling, label] of [[3, 'last'], [0, 'none']] as const) {
  test(`bert F16 with pooling_type ${label}: embeddings match llama.cpp`, async () => {
    const name = `bert F16 (pooling ${label})`;
    const path = join(dir, `bert-f16-${label}.gguf`);
    await writeGGUF(path, bertModelSpec({ ...BERT_SHAPES['bert-tiny']!, pooling_type: pooling }, GGMLType.F16, { seed: 31 }));
    const theirs = await withLlamaCpp(path, (llama) => theirEmbeddings(llama, TEXTS));
    let ours = await ourEmbeddings(path, TEXTS);
    if (label === 'none') ours = ours.map((v) => v.subarray(v.length - 256));
    const s = cosStats(ours, theirs);
    rows.push(row(name, s));
    assert.equal(s.below, 0, `${name}: ${s.below} texts below cosine ${COS_BOUND} (min ${s.min})`);
  });
}

// The real BGE vocabulary (../shared): our WordPiece tokens of the 20 texts are llama.cpp's.
test('bge vocabulary: tokens of the 20 texts equal llama.cpp\'s', async () => {
  const vocabDir = sharedDir('vocab');
  if (!vocabDir) return;
  const path = join(vocabDir, 'ggml-vocab-bert-bge.gguf');
  const gguf = await readGGUF(path);
  const tok = Tokenizer.fromMetadata((k: string) => gguf.metadata.get(k));
  const llama = await loadOracleVocab(await oracle(), path);
  try {
    for (const t of TEXTS) assert.equal(tok.tokenize(t, { addSpecial: false }), [...llama.tokenize(t)], `tokens of ${JSON.stringify(t)}`);
  } finally {
    await llama.dispose();
  }
});

test('batching does not change a text\'s embedding; normalize and none pooling', async () => {
  const path = paths.get('bert Q8_0');
  assert.ok(path, 'bert Q8_0 was not written');
  const model = await loadModel(path);
  try {
    const together = model.embed(TEXTS, { threads: 1 });
    const small = model.embed(TEXTS, { threads: 1, batchSize: 300 });
    for (let i = 0; i < TEXTS.length; i++) {
      const alone = model.embed([TEXTS[i]!], { threads: 1 })[0]!;
      assert.ok(cosine(alone, together[i]!) > 0.999999, `text ${i}: batched ${cosine(alone, together[i]!)}`);
      assert.ok(cosine(small[i]!, together[i]!) > 0.999999, `text ${i}: batch size 300`);
      let norm = 0;
      for (const x of together[i]!) norm += x * x;
      assert.ok(Math.abs(norm - 1) < 1e-5, `text ${i}: |v|^2 = ${norm}`);
    }
    // the same bits on two threads
    const two = model.embed(TEXTS.slice(0, 4), { threads: 2 });
    for (let i = 0; i < 4; i++) assert.equal([...two[i]!], [...together[i]!], `text ${i} on two threads`);
    const raw = model.embed([TEXTS[3]!], { threads: 1, normalize: false })[0]!;
    assert.ok(cosine(raw, together[3]!) > 0.999999);
    const nTok = model.tokenize(TEXTS[3]!).length;
    const perToken = model.embed([TEXTS[3]!], { threads: 1, pooling: 'none', normalize: false })[0]!;
    assert.is(perToken.length, nTok * model.hparams.n_embd);
    // the file's pooling is cls: the first token's vector
    assert.equal([...perToken.subarray(0, model.hparams.n_embd)], [...raw]);
    assert.throws(() => model.embed([LONG], { threads: 1, batchSize: 64 }), /more than 64/);
  } finally {
    model.dispose();
  }
});

test('a decoder-only context on an encoder file explains itself', async () => {
  const path = paths.get('bert Q8_0');
  assert.ok(path, 'bert Q8_0 was not written');
  const model = await loadModel(path);
  try {
    const ctx = model.createContext({ contextSize: 64, threads: 1 });
    assert.throws(() => ctx.evaluate([101, 200, 102]), /embedding model.*model\.embed/);
    ctx.dispose();
  } finally {
    model.dispose();
  }
});

test.after(() => {
  if (rows.length) console.log(`\n  encoder embeddings vs llama.cpp (${TEXTS.length} texts)\n${rows.join('\n')}`);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
