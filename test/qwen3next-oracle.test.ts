// Qwen3-Next with random weights: gated delta net layers (a convolution
// state and an [S, S] state per value head, per sequence) beside gated
// attention, routed experts and a gated shared expert in every layer.
// Next-token distributions here and in llama.cpp (node-llama-cpp) on the
// same GGUF, in F16, Q8_0 and Q4_K_M, beside llama.cpp's own batch vs
// token-by-token spread; our batch gives the bits of token by token and of
// 1, 2 and 3 threads; two sequences keep their states apart; truncation and
// prefix reuse evaluate again what the state cannot give back; a graph
// whose linear layers forget their state between tokens misses the bound.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeGGUF } from '../formats/gguf/index.js';
import { QWEN3NEXT_SHAPES, qwen3nextModelSpec, type Qwen3NextShape } from '../formats/synthetic/qwen3next.js';
import type { BuildGraph } from '../runtime/arch/context.js';
import { buildQwen3Next } from '../runtime/arch/qwen3next.js';
import {
  assertBroken, assertMatches, batchVsTokenByToken, compareFile, mixSpec, OUR_BATCH, randomSequences, statsRow, withLlamaCpp,
} from './helpers/arch-oracle.js';
import { assertRecurrentReuse, assertSequencesApart, assertThreadsAgree, llamaCppSpread } from './helpers/recurrent-oracle.js';

const SYNTH = { seed: 51, logitStd: 6, blockOutScale: 0.5 };
const MIXES = ['F16', 'Q8_0', 'Q4_K_M'];
// Every token takes all four experts: which experts a token picks flips on
// near ties under rounding (moe-oracle tests the choice), and a flip here
// would linger in the recurrent state for many positions; the weights still
// come from the router's softmax, renormalised.
const shape: Qwen3NextShape = { ...QWEN3NEXT_SHAPES['test-qwen3next']!, n_expert: 4, n_expert_used: 4 };
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-qwen3next-'));
const SEQUENCES = randomSequences(20261208, [48, 80], shape.n_vocab);
const rows: string[] = [];
const paths = new Map<string, string>();

for (const mix of MIXES) {
  test(`qwen3next ${mix}: next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `qwen3next-${mix}.gguf`);
    await writeGGUF(path, mixSpec((t, o) => qwen3nextModelSpec(shape, t, o), mix, SYNTH));
    paths.set(mix, path);
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`qwen3next ${mix}`, s, 'delta net, delta net, attention, delta net'));
    assertMatches(`qwen3next ${mix}`, s);
    if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
  });
}

test("llama.cpp's own spread: its batch against its token by token (Q4_K_M)", async () => {
  const kl = await llamaCppSpread(paths.get('Q4_K_M')!, SEQUENCES[0]!);
  rows.push(`  llama.cpp batch vs token by token (Q4_K_M, ${SEQUENCES[0]!.length} tokens): mean KL ${kl.toExponential(2)}`);
  assert.ok(kl < 1e-3, `llama.cpp's own spread ${kl}`);
});

test('qwen3next: a batch gives the bits of token by token; 1, 2 and 3 threads give the same bits (Q4_K_M)', async () => {
  const path = paths.get('Q4_K_M')!;
  const diff = await batchVsTokenByToken(path, SEQUENCES[1]!.slice(0, 70));
  rows.push(`  batch (n_batch ${OUR_BATCH}) vs token by token, 70 tokens: max |logit difference| ${diff}`);
  assert.is(diff, 0);
  await assertThreadsAgree(path, SEQUENCES[1]!);
});

test('qwen3next: two sequences in one context keep their own states, interleaved in batches', async () => {
  await assertSequencesApart(paths.get('Q8_0')!, SEQUENCES[0]!, SEQUENCES[1]!);
});

test('qwen3next: prefix reuse only of everything held; truncation evaluates the kept tokens again', async () => {
  await assertRecurrentReuse(paths.get('Q8_0')!, SEQUENCES[0]!, SEQUENCES[1]!.slice(1, 20));
});

/** Every linear layer scanning the first one's delta-net state instead of its own. */
const sharedState: BuildGraph = (c) => {
  const first = c.state.find((s) => s !== undefined)!;
  return buildQwen3Next({ ...c, state: c.state.map((s) => (s ? { r: s.r, s: first.s } : s)) });
};

test('broken qwen3next (the linear layers share one delta-net state) exceeds the KL bound at least tenfold', async () => {
  const path = paths.get('Q8_0')!;
  const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES, sharedState));
  rows.push(statsRow('broken', s, 'linear layers share one state'));
  assertBroken('shared state', s);
});

test.after(() => {
  console.log(`\n  qwen3next next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join(' and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
