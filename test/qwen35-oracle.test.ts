// Qwen3.5 (qwen35: dense; qwen35moe: experts) with random weights: the
// Qwen3-Next stack with separate ssm_beta / ssm_alpha projections, value
// heads reading key heads tiled (h % n_k_head), and M-RoPE sections (NEOX
// rope for text). Next-token distributions here and in llama.cpp
// (node-llama-cpp) on the same GGUF; our batch gives the bits of token by
// token, 1/2/3 threads give the same bits (dense and MoE) and two sequences
// keep their states apart; a graph that groups the
// value heads as qwen3next does misses the bound by far. The state handling
// shared with the other hybrids is tested in full in lfm2-, granitehybrid-
// and qwen3next-oracle.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeGGUF } from '../formats/gguf/index.js';
import { QWEN3NEXT_SHAPES, qwen3nextModelSpec, type Qwen3NextShape } from '../formats/synthetic/qwen3next.js';
import type { BuildContext } from '../runtime/arch/context.js';
import { buildQwen35 } from '../runtime/arch/qwen3next.js';
import {
  assertBroken, assertMatches, batchVsTokenByToken, compareFile, mixSpec, OUR_BATCH, randomSequences, statsRow, withLlamaCpp,
} from './helpers/arch-oracle.js';
import { assertSequencesApart, assertThreadsAgree } from './helpers/recurrent-oracle.js';

const SYNTH = { seed: 61, logitStd: 6, blockOutScale: 0.3 };
const dense: Qwen3NextShape = QWEN3NEXT_SHAPES['test-qwen35']!;
// every expert taken, as in qwen3next-oracle: no routing flips lingering in the state
const moe: Qwen3NextShape = { ...QWEN3NEXT_SHAPES['test-qwen35moe']!, n_expert: 4, n_expert_used: 4 };
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-qwen35-'));
const SEQUENCES = randomSequences(20261209, [48, 80], dense.n_vocab);
const rows: string[] = [];
const paths = new Map<string, string>();

for (const [label, shape, mix] of [['qwen35', dense, 'F16'], ['qwen35', dense, 'Q4_K_M'], ['qwen35moe', moe, 'F16'], ['qwen35moe', moe, 'Q8_0']] as const) {
  test(`${label} ${mix}: next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `${label}-${mix}.gguf`);
    await writeGGUF(path, mixSpec((t, o) => qwen3nextModelSpec(shape, t, o), mix, SYNTH));
    paths.set(`${label} ${mix}`, path);
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`${label} ${mix}`, s, 'delta net, delta net, attention, delta net'));
    assertMatches(`${label} ${mix}`, s);
    if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
  });
}

test('qwen35: a batch gives the bits of token by token; two sequences keep their states (Q4_K_M)', async () => {
  const path = paths.get('qwen35 Q4_K_M')!;
  const diff = await batchVsTokenByToken(path, SEQUENCES[1]!.slice(0, 70));
  rows.push(`  batch (n_batch ${OUR_BATCH}) vs token by token, 70 tokens: max |logit difference| ${diff}`);
  assert.is(diff, 0);
  await assertSequencesApart(path, SEQUENCES[0]!, SEQUENCES[1]!);
});

test('qwen35 (Q4_K_M) and qwen35moe (Q8_0): 1, 2 and 3 threads give the same bits', async () => {
  // 40 tokens: two batches of OUR_BATCH, so the state carried between batches is split across threads too
  for (const key of ['qwen35 Q4_K_M', 'qwen35moe Q8_0']) await assertThreadsAgree(paths.get(key)!, SEQUENCES[1]!.slice(0, 40));
  rows.push('  1/2/3 threads, 40 tokens (qwen35 Q4_K_M, qwen35moe Q8_0): identical bits');
});

/** ssm_beta and ssm_alpha swapped: the decay from beta's projection and the write strength from alpha's. */
const swappedBetaAlpha = (c: BuildContext) => buildQwen35({
  ...c,
  w: (name) => c.w(name.endsWith('.ssm_beta.weight') ? name.replace('ssm_beta', 'ssm_alpha') : name.endsWith('.ssm_alpha.weight') ? name.replace('ssm_alpha', 'ssm_beta') : name),
});

test('broken qwen35 (ssm_beta and ssm_alpha swapped) exceeds the KL bound at least tenfold', async () => {
  const path = paths.get('qwen35 F16')!;
  const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES, swappedBetaAlpha));
  rows.push(statsRow('broken', s, 'beta and alpha swapped'));
  assertBroken('beta and alpha swapped', s);
});

test.after(() => {
  console.log(`\n  qwen35 / qwen35moe next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join(' and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
