// OLMo 2, Granite (dense) and Phi-3 with random weights: next-token
// distributions here and in llama.cpp (node-llama-cpp) on the very same GGUF
// file, in F16, Q8_0 and Q4_K, plus variants (Granite tied with biases and
// no rope, Phi-4-mini's partial rope, Phi-3's long rope factors). Broken
// graphs, each missing one architecture-specific step, must miss by far.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo } from '../formats/ggml-types.js';
import { writeGGUF, type GGUFWriteSpec } from '../formats/gguf/index.js';
import { GRANITE_SHAPES, graniteModelSpec } from '../formats/synthetic/granite.js';
import { OLMO2_SHAPES, olmo2ModelSpec } from '../formats/synthetic/olmo2.js';
import { PHI3_SHAPES, phi3ModelSpec } from '../formats/synthetic/phi3.js';
import type { SyntheticOptions } from '../formats/synthetic/tensors.js';
import type { BuildContext, BuildGraph } from '../runtime/arch/context.js';
import { buildGranite } from '../runtime/arch/granite.js';
import { buildOlmo2 } from '../runtime/arch/olmo2.js';
import { buildPhi3 } from '../runtime/arch/phi3.js';
import { ROPE_NEOX, ropeParams } from '../runtime/arch/blocks.js';
import { buildDecoder, sequential } from '../runtime/arch/decoder.js';
import { assertBroken, assertMatches, compareFile, OUR_BATCH, randomSequences, statsRow, withLlamaCpp } from './helpers/arch-oracle.js';

// Peaked distributions, blocks moving the residual stream by about a third
// of the embedding's scale (as in llama-oracle); tied heads need the blocks
// to outweigh each token's own embedding instead.
const SYNTH = { logitStd: 9, blockOutScale: 0.35 };
const TIED = { logitStd: 3, blockOutScale: 4 };
const TYPES = [GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_K];
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-olmo2-granite-phi3-'));
// 64 and 100 tokens (the latter in several of our batches), and a third
// sequence so one or two near-tie flips in quantized cases do not decide.
const SEQUENCES = randomSequences(20261129, [64, 100, 100], 512);
const rows: string[] = [];
const paths = new Map<string, string>();

interface Case {
  /** Key of the written file, for the broken variants. */
  id: string;
  label: string;
  note: string;
  spec: (type: GGMLType, o: SyntheticOptions) => GGUFWriteSpec;
  types: GGMLType[];
  synth?: SyntheticOptions;
}

const granite = GRANITE_SHAPES['granite-tiny']!;
const phi3 = PHI3_SHAPES['phi3-tiny']!;
const CASES: Case[] = [
  { id: 'olmo2', label: 'olmo2', note: 'post-norms, full-row QK norm, GQA', spec: (t, o) => olmo2ModelSpec(OLMO2_SHAPES['olmo2-tiny']!, t, o), types: TYPES },
  {
    id: 'olmo3', label: 'olmo2', note: 'OLMo 3: window 24 on 3 of 4 layers, yarn x8 on the global one',
    // F16: with 4 layers, quantized weights' rounding flips alone come near the bound
    spec: (t, o) => olmo2ModelSpec(OLMO2_SHAPES['olmo3-tiny']!, t, o), types: [GGMLType.F16],
  },
  { id: 'granite', label: 'granite', note: 'multipliers 12/0.22/0.1875/8', spec: (t, o) => graniteModelSpec(granite, t, o), types: TYPES },
  {
    id: 'granite-norope', label: 'granite', note: 'tied, biases, rope.scaling.finetuned false (no rope)',
    spec: (t, o) => graniteModelSpec({ ...granite, tied: true, biases: true, ropeFinetuned: false }, t, o), types: [GGMLType.Q8_0], synth: TIED,
  },
  { id: 'phi3', label: 'phi3', note: 'fused qkv/up, short rope factors, window ignored', spec: (t, o) => phi3ModelSpec(phi3, t, o), types: TYPES },
  {
    id: 'phi3-long', label: 'phi3', note: 'long rope factors (n_ctx 512 > original 256)',
    spec: (t, o) => phi3ModelSpec({ ...phi3, longRope: { originalContext: 256 } }, t, o), types: [GGMLType.Q8_0],
  },
  {
    id: 'phi4-mini', label: 'phi3', note: 'phi-4-mini: GQA, rope on 3/4 of each head, tied',
    spec: (t, o) => phi3ModelSpec(PHI3_SHAPES['phi4-mini-tiny']!, t, o), types: [GGMLType.Q8_0], synth: TIED,
  },
];

for (const c of CASES) {
  for (const type of c.types) {
    const label = `${c.label} ${ggmlTypeInfo(type)!.name.toUpperCase()}`;
    test(`${label} (${c.note}): next-token distributions match llama.cpp`, async () => {
      const path = join(dir, `${c.id}-${ggmlTypeInfo(type)!.name}.gguf`);
      await writeGGUF(path, c.spec(type, { seed: 17, ...(c.synth ?? SYNTH) }));
      paths.set(`${c.id}:${type}`, path);
      const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
      rows.push(statsRow(label, s, c.note));
      assertMatches(label, s);
    });
  }
}

/** OLMo 2 without its q/k norms. */
const olmo2NoQKNorm: BuildGraph = (c: BuildContext) => {
  const rope = ropeParams(c, ROPE_NEOX);
  return buildDecoder(c, { layer: sequential({ preNorms: false }), postNorms: true, attention: () => ({ rope, qkNorm: 'none' }) });
};

const hp = (build: BuildGraph, change: Partial<BuildContext['hp']>): BuildGraph => (c) => build({ ...c, hp: { ...c.hp, ...change } });

const BROKEN: { id: string; what: string; build: BuildGraph }[] = [
  { id: 'olmo2', what: 'no q/k norm', build: olmo2NoQKNorm },
  { id: 'olmo2', what: 'rope off', build: hp(buildOlmo2, { n_rot: 0 }) },
  { id: 'olmo3', what: 'no sliding window', build: hp(buildOlmo2, { n_swa: 0 }) },
  { id: 'granite', what: 'multipliers ignored', build: hp(buildGranite, { f_embedding_scale: 0, f_residual_scale: 0, f_attention_scale: 0, f_logit_scale: 0 }) },
  { id: 'granite', what: 'residual_scale ignored', build: hp(buildGranite, { f_residual_scale: 0 }) },
  { id: 'granite', what: 'attention.scale ignored', build: hp(buildGranite, { f_attention_scale: 0 }) },
  { id: 'phi3', what: 'long rope factors within n_ctx_orig', build: hp(buildPhi3, { n_ctx_orig_yarn: 1 }) },
  { id: 'phi3-long', what: 'short rope factors beyond n_ctx_orig', build: hp(buildPhi3, { n_ctx_orig_yarn: 1 << 20 }) },
  { id: 'phi3', what: 'rope.scaling.attn_factor ignored', build: hp(buildPhi3, { yarn_attn_factor: 1 }) },
];
for (const b of BROKEN) {
  test(`broken ${b.id} (${b.what}) exceeds the KL bound at least tenfold`, async () => {
    const path = paths.get(`${b.id}:${GGMLType.Q8_0}`) ?? paths.get(`${b.id}:${GGMLType.F16}`);
    assert.ok(path, `the ${b.id} model was written by the tests above`);
    const s = await withLlamaCpp(path!, (llama) => compareFile(path!, llama, SEQUENCES, b.build));
    rows.push(statsRow(`broken ${b.id}`, s, b.what));
    assertBroken(b.what, s);
  });
}

test.after(() => {
  console.log(`\n  olmo2 / granite / phi3 next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join(', ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
