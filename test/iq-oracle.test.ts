// End to end for iq4_nl, iq4_xs, mxfp4, tq1_0 and tq2_0: random-weight
// llama models whose every matrix (token embeddings and output head
// included) is one of these types, written with our reference quantizers,
// and a Mixtral-shaped MoE with MXFP4 experts (the rest Q8_0, file type
// MOSTLY_MXFP4_MOE as llama-quantize names it): next-token distributions here
// and in llama.cpp (node-llama-cpp) on the very same file, within the bounds
// of test/helpers/arch-oracle.ts (llama-oracle.test.ts for the other types).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import { GGMLType, ggmlTypeInfo } from '../formats/ggml-types.js';
import { LlamaFileType, writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { MOE_SHAPES, moeModelSpec } from '../formats/synthetic/moe.js';
import { assertMatches, compareFile, OUR_BATCH, randomSequences, statsRow, withLlamaCpp } from './helpers/arch-oracle.js';

// As llama-oracle.test.ts: peaked distributions, blocks at a third of the embedding's scale.
const SYNTH = { logitStd: 9, blockOutScale: 0.35 };
const TYPES = [GGMLType.IQ4_NL, GGMLType.IQ4_XS, GGMLType.MXFP4, GGMLType.TQ1_0, GGMLType.TQ2_0];
const base = LLAMA_SHAPES['test-tiny']!; // n_embd 256, 2 layers, n_ff 512, 512 tokens

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-iq-'));
// a 64-token sequence and a prompt longer than our n_batch
const SEQUENCES = randomSequences(20261128, [64, 100], base.n_vocab);
const rows: string[] = [];

for (const type of TYPES) {
  const name = ggmlTypeInfo(type)!.name.toUpperCase();
  test(`llama ${name} (every matrix, embeddings and head too): next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `llama-${name}.gguf`);
    await writeGGUF(path, llamaModelSpec(base, type, { seed: 7, ...SYNTH }));
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`llama ${name}`, s));
    assertMatches(`llama ${name}`, s);
  });
}

test('mixtral with MXFP4 experts: next-token distributions match llama.cpp', async () => {
  const shape = MOE_SHAPES['mixtral-tiny']!;
  const path = join(dir, 'mixtral-mxfp4.gguf');
  await writeGGUF(path, moeModelSpec(shape, GGMLType.Q8_0, {
    seed: 11, logitStd: 9, blockOutScale: 0.25, fileType: LlamaFileType.MOSTLY_MXFP4_MOE,
    matrixType: (n) => (n.includes('_exps.') ? GGMLType.MXFP4 : GGMLType.Q8_0),
  }));
  const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
  rows.push(statsRow('mixtral MXFP4 experts', s, `${shape.n_expert_used} of ${shape.n_expert} experts, rest Q8_0`));
  assertMatches('mixtral MXFP4 experts', s);
});

test.after(() => {
  console.log(`\n  next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join('- and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
