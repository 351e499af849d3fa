// Gemma 1, 2 and 3 with random weights: next-token distributions here and in
// llama.cpp (node-llama-cpp) on the very same GGUF file, in F16, Q8_0 and
// Q4_K, over sequences longer than the sliding window (gemma2/3). Broken
// graphs (each missing one Gemma-specific step) must miss by far.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { GEMMA_SHAPES, gemmaModelSpec, type GemmaShape } from '../formats/synthetic/gemma.js';
import type { BuildContext, BuildGraph } from '../runtime/arch/context.js';
import { buildGemma, buildGemma2, buildGemma3 } from '../runtime/arch/gemma.js';
import type { Ops } from '../runtime/graph/ops.js';
import { loadModel } from '../runtime/index.js';
import { assertBroken, assertMatches, compareFile, OUR_BATCH, randomSequences, statsRow, withLlamaCpp } from './helpers/arch-oracle.js';

// Every Gemma head is tied to token_embd, so (as in llama-oracle's tied
// cases) the blocks must outweigh each token's own embedding in the residual
// stream, or its own logit would dominate whatever the graph computes.
// gemma3 (no soft-caps to compress its scores and logits) is more sensitive
// to rounding, so its blocks weigh a little less.
const SYNTH: Record<string, { logitStd: number; blockOutScale: number }> = {
  gemma: { logitStd: 4, blockOutScale: 3 },
  gemma2: { logitStd: 4, blockOutScale: 3 },
  gemma3: { logitStd: 4, blockOutScale: 1.75 },
};
const TYPES = [GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_K];
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-gemma-'));
// 64 and 100 tokens: longer than the tiny models' window (24) and than our
// n_batch; three sequences, so that one or two near-tie flips in the
// quantized cases do not decide the argmax bound.
const SEQUENCES = randomSequences(20261128, [64, 100, 100], 512);
const rows: string[] = [];
const paths = new Map<string, string>();

async function write(name: string, type: GGMLType): Promise<string> {
  const shape = GEMMA_SHAPES[name]!;
  const path = join(dir, `${name}-${ggmlTypeInfo(type)!.name}.gguf`);
  await writeGGUF(path, gemmaModelSpec(shape, type, { seed: 13, ...SYNTH[shape.arch] }));
  paths.set(`${name}:${type}`, path);
  return path;
}

function note(s: GemmaShape): string {
  const parts: string[] = [`${s.n_layer} layers`];
  if (s.n_swa) parts.push(`window ${s.n_swa}${s.swaPattern ? ` every ${s.swaPattern}` : ''}`);
  if (s.attnSoftcap) parts.push(`caps ${s.attnSoftcap}/${s.finalSoftcap}`);
  if (s.arch === 'gemma3') parts.push('QK norm, rope 1e6/1e4');
  return parts.join(', ');
}

const CASES: { model: string; type: GGMLType }[] = [
  ...['gemma-tiny', 'gemma2-tiny', 'gemma3-tiny'].flatMap((model) => TYPES.map((type) => ({ model, type }))),
  // llama.cpp's default gemma3 pattern: 5 sliding layers, then a global one
  { model: 'gemma3-6layer', type: GGMLType.F16 },
];
for (const { model, type } of CASES) {
  const shape = GEMMA_SHAPES[model]!;
  const label = `${shape.arch} ${ggmlTypeInfo(type)!.name.toUpperCase()}`;
  test(`${label} (${note(shape)}): next-token distributions match llama.cpp`, async () => {
    const path = await write(model, type);
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(label, s, note(shape)));
    assertMatches(label, s);
  });
}

/** The graph built over ops with some methods replaced (to break one step). */
function withOps(build: BuildGraph, patch: (ops: Ops, base: Ops) => void): BuildGraph {
  return (c: BuildContext) => {
    const ops: Ops = Object.create(c.ops);
    patch(ops, c.ops);
    return build({ ...c, ops });
  };
}
const noEmbeddingScale = withOps(buildGemma, (ops, base) => {
  ops.scale = (x, s, name) => (name === 'inp_scaled' ? x : base.scale(x, s, name));
});
const siluForGelu = withOps(buildGemma, (ops, base) => {
  ops.glu = (_kind, gate, up, name) => base.glu('silu', gate, up, name);
});

const hp = (build: BuildGraph, change: (c: BuildContext) => Partial<BuildContext['hp']>): BuildGraph =>
  (c) => build({ ...c, hp: { ...c.hp, ...change(c) } });

const BROKEN: { model: string; type: GGMLType; what: string; build: BuildGraph }[] = [
  { model: 'gemma-tiny', type: GGMLType.Q8_0, what: 'embeddings not scaled by sqrt(n_embd)', build: noEmbeddingScale },
  { model: 'gemma-tiny', type: GGMLType.Q8_0, what: 'SwiGLU in place of GeGLU', build: siluForGelu },
  { model: 'gemma2-tiny', type: GGMLType.Q8_0, what: 'no sliding window', build: hp(buildGemma2, () => ({ n_swa: 1 << 30 })) },
  { model: 'gemma2-tiny', type: GGMLType.Q8_0, what: 'no soft-capping', build: hp(buildGemma2, () => ({ f_attn_logit_softcapping: 1e9, f_final_logit_softcapping: 1e9 })) },
  { model: 'gemma3-6layer', type: GGMLType.F16, what: 'no sliding window', build: hp(buildGemma3, () => ({ n_swa: 1 << 30 })) },
  { model: 'gemma3-6layer', type: GGMLType.F16, what: 'local layers at the global rope base', build: hp(buildGemma3, (c) => ({ rope_freq_base_swa: c.hp.rope_freq_base })) },
];
for (const b of BROKEN) {
  test(`broken ${b.model} (${b.what}) exceeds the KL bound at least tenfold`, async () => {
    const path = paths.get(`${b.model}:${b.type}`);
    assert.ok(path, `the ${b.model} model was written by the tests above`);
    const s = await withLlamaCpp(path!, (llama) => compareFile(path!, llama, SEQUENCES, b.build));
    rows.push(statsRow(`broken ${GEMMA_SHAPES[b.model]!.arch}`, s, b.what));
    assertBroken(b.what, s);
  });
}

// Decoding one token at a time (the generation path: a 1-token graph over
// the cache) must give what batches give, window and soft-caps included.
test('gemma2 Q8_0: token-by-token decoding gives the batched logits', async () => {
  const path = paths.get(`gemma2-tiny:${GGMLType.Q8_0}`);
  assert.ok(path, 'the gemma2 Q8_0 model was written by the tests above');
  const tokens = SEQUENCES[1]!;
  const model = await loadModel(path!);
  try {
    const run = (batchSize: number) => {
      const ctx = model.createContext({ contextSize: 512, batchSize, threads: 1 });
      const logits = ctx.evaluate(tokens, { allLogits: true });
      ctx.dispose();
      return logits;
    };
    const batched = run(OUR_BATCH);
    const single = run(1);
    let maxDiff = 0;
    for (let i = 0; i < batched.length; i++) maxDiff = Math.max(maxDiff, Math.abs(batched[i]! - single[i]!));
    rows.push(`  gemma2 Q8_0 decode   max |logit difference| token by token vs batches of ${OUR_BATCH}: ${maxDiff.toExponential(2)}`);
    assert.ok(maxDiff < 1e-3, `token-by-token logits differ from batched ones by ${maxDiff}`);
  } finally {
    model.dispose();
  }
});

test.after(() => {
  console.log(`\n  gemma next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join('- and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
