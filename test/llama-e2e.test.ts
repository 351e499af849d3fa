// Llama end to end: a real trained model (stories260K) generates the same
// greedy text as llama.cpp; the generation API, batching, the memory check
// and the CLI behave as documented.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Token } from 'node-llama-cpp';
import { GGMLType } from '../formats/ggml-types.js';
import { planGGUF, writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { quantMix } from '../formats/synthetic/mix.js';
import { spmVocabKV } from '../formats/synthetic/vocab.js';
import { loadModel, ModelTooLargeError } from '../runtime/index.js';
import { oracle } from './helpers/oracle.js';
import { REPO_ROOT, sharedDir } from './helpers/shared.js';

const models = sharedDir('models');
const STORIES = models ? join(models, 'stories260K.gguf') : null;
const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-e2e-'));

if (STORIES) {
  test('stories260K: greedy completion of "Once upon a time" (100 tokens) equals llama.cpp\'s', async () => {
    const model = await loadModel(STORIES);
    const prompt = model.tokenize('Once upon a time');
    const ctx = model.createContext({ contextSize: 256 });
    const ours: number[] = [];
    let logits = ctx.evaluate(prompt);
    for (let i = 0; i < 100; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
      ours.push(best);
      logits = ctx.evaluate([best]);
    }
    model.dispose();

    const llama = await (await oracle()).loadModel({ modelPath: STORIES });
    const lctx = await llama.createContext({ contextSize: 256, flashAttention: false, threads: 1 });
    const theirs: number[] = [];
    for await (const t of lctx.getSequence().evaluate(prompt as Token[], { temperature: 0 })) {
      theirs.push(t);
      if (theirs.length === 100) break;
    }
    const text = llama.detokenize(theirs as Token[]);
    await lctx.dispose();
    await llama.dispose();
    assert.equal(ours, theirs);
    assert.ok(text.includes('Lily'), 'a TinyStories completion');
  });

  test('generate(): same seed, same text; greedy streams whole UTF-8; abort stops early', async () => {
    const model = await loadModel(STORIES);
    const run = async (opts: Parameters<ReturnType<typeof model.createContext>['generate']>[1]) => {
      const ctx = model.createContext({ contextSize: 256 });
      let text = '';
      for await (const piece of ctx.generate('Once upon a time', opts)) text += piece;
      ctx.dispose();
      return text;
    };
    const a = await run({ seed: 42, temp: 0.9, maxTokens: 40 });
    const b = await run({ seed: 42, temp: 0.9, maxTokens: 40 });
    const c = await run({ seed: 43, temp: 0.9, maxTokens: 40 });
    assert.is(a, b);
    assert.is.not(a, c);
    assert.not.match(a, /\uFFFD/);
    const ac = new AbortController();
    const ctx = model.createContext({ contextSize: 256 });
    let pieces = 0;
    for await (const _ of ctx.generate('Once upon a time', { temp: 0, maxTokens: 50, signal: ac.signal })) {
      if (++pieces === 3) ac.abort();
    }
    assert.ok(ctx.position < 4 + 5 + 3, `stopped after the abort (position ${ctx.position})`);
    ctx.dispose();
    model.dispose();
  });

  test('CLI: complete --temp 0 prints the greedy text; tokenize --ids prints llama-tokenize\'s list', () => {
    const done = spawnSync(process.execPath, [CLI, 'complete', STORIES, '-p', 'Once upon a time', '-n', '20', '--temp', '0'], { encoding: 'utf8' });
    assert.is(done.status, 0, done.stderr);
    assert.match(done.stdout, /^, there was a little girl/);
    const tok = spawnSync(process.execPath, [CLI, 'tokenize', STORIES, '-p', 'Once upon a time', '--ids'], { encoding: 'utf8' });
    assert.is(tok.status, 0, tok.stderr);
    assert.is(tok.stdout.trim(), '[1, 403, 407, 261, 378]');
    const noSpecial = spawnSync(process.execPath, [CLI, 'tokenize', STORIES, '-p', 'Once upon a time', '--ids', '--no-special'], { encoding: 'utf8' });
    assert.is(noSpecial.stdout.trim(), '[403, 407, 261, 378]');
  });
}

/**
 * Tiny models in the mixes the benchmarks run (llama-quantize's: Q4_K_M has
 * Q4_K, Q6_K and F32 matrices), loaded as users get them: repacked weights
 * (runtime/repack.ts) where the kernels have a layout for the type.
 */
const MIXES = ['Q4_0', 'Q4_K_M', 'Q8_0'] as const;
async function tinyModel(mixName: string, seed: number) {
  const shape = LLAMA_SHAPES['test-tiny']!;
  const mix = quantMix(mixName, shape);
  const path = join(dir, `tiny-${mixName}-${seed}.gguf`);
  await writeGGUF(path, llamaModelSpec(shape, mix.base, { seed, matrixType: mix.matrixType, fileType: mix.fileType }));
  return loadModel(path);
}

for (const mixName of MIXES) {
  test(`${mixName}: a prompt evaluated in batches of 16 gives the same logits as token by token (bit-identical)`, async () => {
    const model = await tinyModel(mixName, 5);
    // the relaxed kernels read these through repacked layouts: the comparison covers them
    const layout = { Q4_0: 'q4_0x4', Q4_K_M: 'q4_Kx4', Q8_0: 'q8_0x4' }[mixName];
    if (model.kernels.simd === 'relaxed' && layout) assert.is(model.weight('blk.0.attn_q.weight')!.layout, layout);
    const tokens = Array.from({ length: 40 }, (_, i) => 1 + ((i * 37) % 500));
    const batched = model.createContext({ contextSize: 64, batchSize: 16 }).evaluate(tokens, { allLogits: true });
    const one = model.createContext({ contextSize: 64 });
    const V = model.hparams.n_vocab;
    for (let i = 0; i < tokens.length; i++) {
      const l = one.evaluate([tokens[i]!]);
      for (let j = 0; j < V; j++) if (l[j] !== batched[i * V + j]) assert.unreachable(`position ${i}, token ${j}: ${l[j]} vs ${batched[i * V + j]}`);
    }
    model.dispose();
  });

  test(`${mixName}: 1, 2 and 3 threads give bit-identical logits (prompt batch and decode)`, async () => {
    const model = await tinyModel(mixName, 9);
    const tokens = Array.from({ length: 24 }, (_, i) => 1 + ((i * 53) % 500));
    const runWith = (threads: number) => {
      const ctx = model.createContext({ contextSize: 64, batchSize: 8, threads });
      const prompt = ctx.evaluate(tokens, { allLogits: true });
      const next = ctx.evaluate([7]);
      ctx.dispose();
      return [prompt, next] as const;
    };
    const [p1, n1] = runWith(1);
    for (const t of [2, 3]) {
      const [p, n] = runWith(t);
      assert.ok(p.every((v, i) => Object.is(v, p1[i])), `${t} threads: prompt logits differ from 1 thread`);
      assert.ok(n.every((v, i) => Object.is(v, n1[i])), `${t} threads: decode logits differ from 1 thread`);
    }
    model.dispose();
  });
}

test('loading reports progress; a tensor bigger than one 4 GiB memory, or a model bigger than the machine, is refused before reading tensor data', async () => {
  const small = join(dir, 'tiny-q8_0.gguf');
  await writeGGUF(small, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q8_0, { seed: 5 }));
  const seen: number[] = [];
  const m = await loadModel(small, { onProgress: (p) => seen.push(p.loadedBytes / p.totalBytes) });
  m.dispose();
  assert.ok(seen.length > 0 && Math.abs(seen.at(-1)! - 1) < 0.05, `progress ends near 100% (${seen.at(-1)})`);

  // A 5 GiB F16 embedding in a sparse file: no disk used, and never read. The file is a
  // well-formed one-layer llama (the tensor and hyper-parameter checks that precede the
  // size check pass: n_vocab is the tokenizer's, as llama.cpp takes it).
  const big = join(dir, 'huge.gguf');
  const nEmbd = 4096, nVocab = 655360; // 4096 * 655360 * 2 bytes = 5 GiB
  const kvFor = (vocab: number, nLayer: number, nFF: number) => [
    { key: 'general.architecture', value: 'llama' },
    { key: 'llama.context_length', value: 2048 },
    { key: 'llama.embedding_length', value: nEmbd },
    { key: 'llama.block_count', value: nLayer },
    { key: 'llama.feed_forward_length', value: nFF },
    { key: 'llama.attention.head_count', value: 32 },
    { key: 'llama.vocab_size', value: vocab },
    ...spmVocabKV(vocab),
  ];
  const layersOf = (nLayer: number, nFF: number) => Array.from({ length: nLayer }, (_, il) => [
    { name: `blk.${il}.attn_norm.weight`, type: GGMLType.F32, shape: [nEmbd] },
    ...['attn_q', 'attn_k', 'attn_v', 'attn_output'].map((t) => ({ name: `blk.${il}.${t}.weight`, type: GGMLType.F16, shape: [nEmbd, nEmbd] })),
    { name: `blk.${il}.ffn_norm.weight`, type: GGMLType.F32, shape: [nEmbd] },
    { name: `blk.${il}.ffn_gate.weight`, type: GGMLType.F16, shape: [nEmbd, nFF] },
    { name: `blk.${il}.ffn_up.weight`, type: GGMLType.F16, shape: [nEmbd, nFF] },
    { name: `blk.${il}.ffn_down.weight`, type: GGMLType.F16, shape: [nFF, nEmbd] },
  ]).flat();
  const kv = kvFor(nVocab, 1, 128);
  const tensors = [
    { name: 'token_embd.weight', type: GGMLType.F16, shape: [nEmbd, nVocab] },
    ...layersOf(1, 128),
    { name: 'output_norm.weight', type: GGMLType.F32, shape: [nEmbd] },
  ];
  const bigPlan = planGGUF({ kv, tensors });
  // only the header is written; the tensor data is a hole
  const fd = openSync(big, 'w');
  writeSync(fd, bigPlan.header.subarray(0, bigPlan.header.length));
  closeSync(fd);
  truncateSync(big, bigPlan.fileSize);
  try {
    await loadModel(big);
    assert.unreachable('a 5 GiB tensor must be refused');
  } catch (e) {
    assert.instance(e, ModelTooLargeError);
    assert.match((e as Error).message, /huge\.gguf.*the input tensors needs 5120 MiB, more than one WebAssembly memory of 4096 MiB holds/);
  }

  // 16 layers of 3 GiB of F16 feed-forward: spread over memories this would load, but not on this machine
  const nFF = 65536, nLayer = 16;
  const wide = join(dir, 'wide.gguf');
  const wideKV = kvFor(512, nLayer, nFF);
  const wideTensors = [{ name: 'token_embd.weight', type: GGMLType.F16, shape: [nEmbd, 512] }, ...layersOf(nLayer, nFF), tensors.at(-1)!];
  const plan = planGGUF({ kv: wideKV, tensors: wideTensors });
  const fd3 = openSync(wide, 'w');
  writeSync(fd3, plan.header.subarray(0, plan.header.length));
  closeSync(fd3);
  truncateSync(wide, plan.fileSize);
  const total = totalmem();
  let read = 0;
  const err = await loadModel(wide, { onProgress: (p) => (read = p.loadedBytes) }).then(() => null, (e: unknown) => e);
  assert.instance(err, ModelTooLargeError);
  assert.match((err as Error).message, new RegExp(`wide\\.gguf: model needs \\d+ MiB .*but this machine has ${Math.round(total / 2 ** 20)} MiB of memory`));
  assert.is(read, 0, 'nothing read');
});

test.after(() => {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
});

test.run();
