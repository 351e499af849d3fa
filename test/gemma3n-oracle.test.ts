// gemma3n with random weights: every position's next-token distribution here
// and in llama.cpp (node-llama-cpp, flash attention off) on the same file, in
// F16, Q8_0 and Q4_K_M, over two sequences longer than the 16-token window
// (AltUp's four streams, Laurel, per-layer embeddings, q/k/v norms without
// score scaling, activation sparsity on layers 0..9, layers 20 and 21
// reading layer 18's cache, final soft-cap). Broken variants miss the bound
// tenfold: no per-layer embeddings, AltUp's correction coefficients dropped,
// no KV sharing (the last layers project and store their own K and V), no
// activation sparsity. A batch gives the bits of token by token and 1, 2 and
// 3 threads the same bits; the shared layers cost no cache of their own, and
// a saved state (the 20 caches) continues with the same bits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeGGUF } from '../formats/gguf/index.js';
import { GEMMA3N_SHAPES, gemma3nModelSpec } from '../formats/synthetic/gemma3n.js';
import type { SyntheticOptions } from '../formats/synthetic/tensors.js';
import { GEMMA3N, gemma3nGraph, type Gemma3nOptions } from '../runtime/arch/gemma3n.js';
import { GGMLType } from '../formats/ggml-types.js';
import { Context } from '../runtime/context.js';
import { ModelError } from '../runtime/errors.js';
import { loadModel } from '../runtime/index.js';
import {
  assertBroken, assertBitExact, assertMatches, compareFile, mixSpec, randomSequences, statsRow, withLlamaCpp,
} from './helpers/arch-oracle.js';

const SHAPE = GEMMA3N_SHAPES['test-gemma3n']!;
// rows drawn from pools of 256 per matrix kind: 22 layers of reference-quantized Q4_K rows would take most of a minute
// and quiet layers (blockOutScale 0.25), so that rounding differences do not grow through 22 of them
const SYNTH: SyntheticOptions = { seed: 53, logitStd: 8, blockOutScale: 0.25, distinctRows: 256 };
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-gemma3n-'));
const SEQUENCES = randomSequences(20261210, [24, 40], SHAPE.n_vocab);
const rows: string[] = [];
const paths = new Map<string, string>();

for (const mix of ['F16', 'Q8_0', 'Q4_K_M']) {
  test(`gemma3n ${mix}: next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `gemma3n-${mix}.gguf`);
    await writeGGUF(path, mixSpec((t, o) => gemma3nModelSpec(SHAPE, t, o), mix, SYNTH));
    paths.set(mix, path);
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`gemma3n ${mix}`, s, `${SHAPE.n_layer} layers, window ${SHAPE.n_swa}`));
    assertMatches(`gemma3n ${mix}`, s);
    if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
  });
}

const BROKEN: { what: string; off: Partial<Gemma3nOptions> }[] = [
  { what: 'no per-layer embeddings', off: { perLayerInputs: false } },
  { what: 'no AltUp correction', off: { altupCorrect: false } },
  { what: 'no KV sharing', off: { kvSharing: false } },
  { what: 'no activation sparsity', off: { sparsity: false } },
];

test('broken variants (each defining feature removed) exceed the KL bound at least tenfold', async () => {
  const path = paths.get('F16')!;
  await withLlamaCpp(path, async (llama) => {
    for (const b of BROKEN) {
      const s = await compareFile(path, llama, SEQUENCES, gemma3nGraph({ ...GEMMA3N, ...b.off }));
      rows.push(statsRow(`broken: ${b.what}`, s));
      assertBroken(b.what, s);
    }
  });
});

test('a batch gives the bits of token by token; 1, 2 and 3 threads give the same bits (Q4_K_M)', async () => {
  const tokens = SEQUENCES[1]!;
  await assertBitExact(paths.get('Q4_K_M')!, tokens);
  rows.push(`  batch vs token by token and 1/2/3 threads, ${tokens.length} tokens: identical bits`);
});

test('layers 20 and 21 have no KV cache of their own; a saved state holds the 20 caches and continues with the same bits', async () => {
  const model = await loadModel(paths.get('Q4_K_M')!);
  try {
    const hp = model.hparams;
    assert.equal(model.kvSource, [...Array.from({ length: 20 }, (_, il) => il), 18, 18]);
    assert.is(Context.kvBytes(hp, 100, { kvSource: model.kvSource }) * SHAPE.n_layer, Context.kvBytes(hp, 100) * 20);
    const tokens = SEQUENCES[1]!;
    const a = model.createContext({ contextSize: 64, threads: 1 }).createSequence();
    a.evaluate(tokens.slice(0, 30));
    const file = join(dir, 'gemma3n.state');
    await a.saveState(file);
    const want = a.append(tokens.slice(30));
    const b = model.createContext({ contextSize: 64, threads: 1 }).createSequence();
    await b.loadState(file);
    const got = b.append(tokens.slice(30));
    assert.ok(want.length > 0 && want.every((x, i) => Object.is(x, got[i])), 'logits differ after loadState');
    rows.push('  KV caches on 20 of 22 layers; saveState / loadState continue with the same bits');
  } finally {
    model.dispose();
  }
});

test('a gemma3n file without attention.sliding_window is refused, naming the key (llama.cpp requires it)', async () => {
  const path = join(dir, 'gemma3n-no-window.gguf');
  const spec = gemma3nModelSpec({ ...SHAPE, n_layer: 2 }, GGMLType.F16, SYNTH);
  await writeGGUF(path, { ...spec, kv: spec.kv!.filter((e) => e.key !== 'gemma3n.attention.sliding_window') });
  try {
    await loadModel(path);
    assert.unreachable('loaded');
  } catch (e) {
    assert.instance(e, ModelError);
    assert.is((e as ModelError).key, 'gemma3n.attention.sliding_window');
  }
});

test.after(() => {
  console.log(`\n  gemma3n next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join(' and ')}-token sequences):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
