// The LayerNorm decoders (phi2, gpt2, stablelm, gptneox, starcoder2, falcon)
// with random weights: next-token distributions here and in llama.cpp
// (node-llama-cpp) on the very same GGUF file, in F16, Q8_0 and Q4_K, plus
// each architecture's layout variants. Broken graphs, each missing one
// architecture-specific step, must miss by far.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LAYERNORM_SHAPES, layerNormModelSpec, type LayerNormShape } from '../formats/synthetic/layernorm.js';
import { bpeEndOfText } from '../formats/synthetic/vocab-bpe.js';
import type { BuildContext, BuildGraph } from '../runtime/arch/context.js';
import { buildFalcon } from '../runtime/arch/falcon.js';
import { buildGpt2 } from '../runtime/arch/gpt2.js';
import { buildGptneox } from '../runtime/arch/gptneox.js';
import { buildPhi2 } from '../runtime/arch/phi2.js';
import { buildStablelm } from '../runtime/arch/stablelm.js';
import { buildStarcoder2 } from '../runtime/arch/starcoder2.js';
import type { Ops } from '../runtime/graph/ops.js';
import { loadModel } from '../runtime/index.js';
import { oracle } from './helpers/oracle.js';
import { assertBroken, assertMatches, compareFile, OUR_BATCH, randomSequences, statsRow, withLlamaCpp } from './helpers/arch-oracle.js';

// As in llama-oracle: peaked distributions, blocks moving the residual
// stream by a fraction of the embedding's scale.
const SYNTH = { logitStd: 4, blockOutScale: 0.35 };
// A tied head: the blocks must outweigh each token's own embedding.
const TIED = { logitStd: 3, blockOutScale: 4 };
const TYPES = [GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_K];
const N_VOCAB = 512;
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-layernorm-'));
// A 64-token sequence and one longer than our n_batch, starting with <|endoftext|> as BOS.
const SEQUENCES = randomSequences(20261130, [64, 100], N_VOCAB, bpeEndOfText(N_VOCAB));
const rows: string[] = [];
const paths = new Map<string, string>();

interface Case { model: string; variant?: string; shape: LayerNormShape; types: GGMLType[]; synth?: Partial<typeof SYNTH> }

const base = (name: string) => LAYERNORM_SHAPES[name]!;
const CASES: Case[] = [
  ...['phi2-tiny', 'gpt2-tiny', 'stablelm-tiny', 'gptneox-tiny', 'starcoder2-tiny', 'falcon-tiny']
    .map((model): Case => ({ model, shape: base(model), types: TYPES })),
  // Phi-2 files from the older converter: one fused Wqkv with bias
  { model: 'phi2-tiny', variant: 'fused qkv', shape: { ...base('phi2-tiny'), fusedQkv: true }, types: [GGMLType.Q8_0] },
  // GPT-2's real head is token_embd
  { model: 'gpt2-tiny', variant: 'tied output', shape: { ...base('gpt2-tiny'), tied: true }, types: [GGMLType.Q8_0], synth: TIED },
  // StableLM 2 12B: per-head q/k LayerNorm, no ffn_norm (the MLP reads attn_norm's output), no qkv biases
  { model: 'stablelm-tiny', variant: '12B layout', shape: { ...base('stablelm-tiny'), stablelm12B: true, n_head_kv: 2 }, types: [GGMLType.Q8_0] },
  // GPT-NeoX 20B style: sequential residual
  { model: 'gptneox-tiny', variant: 'sequential', shape: { ...base('gptneox-tiny'), parallelResidual: false }, types: [GGMLType.Q8_0] },
  // Falcon-40B: GQA 8 kv heads (2 here), attention with its own LayerNorm
  { model: 'falcon-tiny', variant: '40B layout', shape: { ...base('falcon-tiny'), n_head_kv: 2, attnNorm2: true }, types: [GGMLType.Q8_0] },
];

function label(c: Case, type: GGMLType): string {
  return `${c.shape.arch}${c.variant ? ` ${c.variant}` : ''} ${ggmlTypeInfo(type)!.name.toUpperCase()}`;
}

for (const c of CASES) {
  for (const type of c.types) {
    const name = label(c, type);
    test(`${name}: next-token distributions match llama.cpp`, async () => {
      const path = join(dir, `${name.replaceAll(' ', '-')}.gguf`);
      await writeGGUF(path, layerNormModelSpec(c.shape, type, { seed: 17, ...SYNTH, ...c.synth }));
      paths.set(name, path);
      const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
      rows.push(statsRow(name, s, c.shape.n_rot ? `rope ${c.shape.n_rot}/${c.shape.n_embd / c.shape.n_head}` : ''));
      assertMatches(name, s);
    });
  }
}

// The synthetic BPE vocabulary with each architecture's pre-tokenizer: our
// tokenizer and llama.cpp's split text the same way.
const TEXT = 'the quick brown fox jumps over 12345 lazy dogs!\n  Hello, W\u00f6rld\t;) don\'t   stop';
test('the BPE vocabularies tokenize text as llama.cpp does, with each pre-tokenizer', async () => {
  const llama = await oracle();
  for (const model of ['phi2-tiny', 'gpt2-tiny', 'stablelm-tiny', 'gptneox-tiny', 'starcoder2-tiny', 'falcon-tiny']) {
    const name = `${base(model).arch} F16`;
    const path = paths.get(name);
    assert.ok(path, `the ${name} model was written by the tests above`);
    const theirs = await llama.loadModel({ modelPath: path!, vocabOnly: true });
    const ours = await loadModel(path!);
    try {
      const expected = [...theirs.tokenize(TEXT, false)].map(Number);
      assert.ok(expected.length > 10, `${name}: llama.cpp gave ${expected.length} tokens`);
      assert.equal(ours.tokenize(TEXT, { addSpecial: false }), expected, name);
      assert.is(ours.detokenize(expected), TEXT, name);
    } finally {
      ours.dispose();
      await theirs.dispose();
    }
  }
});

/** The graph with the ops named `names` (of kind `kind`) replaced by their first input. */
function skipping(build: BuildGraph, kind: 'scale' | 'gelu', names: (n: string) => boolean): BuildGraph {
  return (c: BuildContext) => {
    const ops: Ops = Object.create(c.ops);
    if (kind === 'scale') ops.scale = (x, s, name) => (names(name) ? x : c.ops.scale(x, s, name));
    else ops.gelu = (x, name) => (names(name) ? x : c.ops.gelu(x, name));
    return build({ ...c, ops });
  };
}

const hp = (build: BuildGraph, change: (c: BuildContext) => Partial<BuildContext['hp']>): BuildGraph =>
  (c) => build({ ...c, hp: { ...c.hp, ...change(c) } });

/** The graph as if the file lacked the optional tensors whose names match. */
const without = (build: BuildGraph, names: RegExp): BuildGraph => (c) => build({ ...c, wOpt: (n) => (names.test(n) ? undefined : c.wOpt(n)) });

const BROKEN: { model: string; what: string; build: BuildGraph }[] = [
  { model: 'phi2 Q8_0', what: 'q not scaled', build: skipping(buildPhi2, 'scale', (n) => n.startsWith('Qcur_scaled')) },
  { model: 'gpt2 Q8_0', what: 'GELU left out', build: skipping(buildGpt2, 'gelu', () => true) },
  { model: 'stablelm Q8_0', what: 'rope on the whole head', build: hp(buildStablelm, (c) => ({ n_rot: c.hp.n_embd_head_k })) },
  { model: 'gptneox Q8_0', what: 'sequential residual', build: hp(buildGptneox, () => ({ use_par_res: false })) },
  { model: 'starcoder2 Q8_0', what: 'last layer skipped', build: hp(buildStarcoder2, (c) => ({ n_layer: c.hp.n_layer - 1 })) },
  { model: 'stablelm 12B layout Q8_0', what: 'no per-head q/k LayerNorm', build: without(buildStablelm, /attn_[qk]_norm/) },
  { model: 'falcon 40B layout Q8_0', what: 'attn_norm_2 ignored', build: without(buildFalcon, /attn_norm_2/) },
];
for (const b of BROKEN) {
  test(`broken ${b.model} (${b.what}) exceeds the KL bound at least tenfold`, async () => {
    const path = paths.get(b.model);
    assert.ok(path, `the ${b.model} model was written by the tests above`);
    const s = await withLlamaCpp(path!, (llama) => compareFile(path!, llama, SEQUENCES, b.build));
    rows.push(statsRow(`broken ${b.model}`, s, b.what));
    assertBroken(b.what, s);
  });
}

test.after(() => {
  console.log(`\n  LayerNorm-family next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join('- and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
