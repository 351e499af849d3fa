// Granite 4.0 hybrid with random weights: Mamba-2 layers (a convolution
// state and an SSM state per sequence) beside attention, with Granite's
// multipliers. Next-token distributions here and in llama.cpp
// (node-llama-cpp) on the same GGUF, in F16, Q8_0 and Q4_K_M, beside
// llama.cpp's own batch vs token-by-token spread; our batch gives the bits of
// token by token and of 1, 2 and 3 threads; two sequences keep their states
// apart (truncation and prefix reuse: lfm2- and qwen3next-oracle); graphs
// with the layers' SSM states shared or without the D skip miss the bound.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeGGUF } from '../formats/gguf/index.js';
import { GRANITE_HYBRID_SHAPES, graniteHybridModelSpec, type GraniteHybridShape } from '../formats/synthetic/granitehybrid.js';
import type { BuildContext, BuildGraph } from '../runtime/arch/context.js';
import { buildGraniteHybrid } from '../runtime/arch/granitehybrid.js';
import {
  assertBroken, assertMatches, batchVsTokenByToken, compareFile, mixSpec, OUR_BATCH, randomSequences, statsRow, withLlamaCpp,
} from './helpers/arch-oracle.js';
import { assertSequencesApart, assertThreadsAgree, llamaCppSpread } from './helpers/recurrent-oracle.js';

const SYNTH = { seed: 41, logitStd: 6, blockOutScale: 0.25 };
const MIXES = ['F16', 'Q8_0', 'Q4_K_M'];
const shape: GraniteHybridShape = GRANITE_HYBRID_SHAPES['test-granitehybrid']!;
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-granitehybrid-'));
const SEQUENCES = randomSequences(20261207, [48, 80], shape.n_vocab);
const rows: string[] = [];
const paths = new Map<string, string>();

for (const mix of MIXES) {
  test(`granitehybrid ${mix}: next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `granitehybrid-${mix}.gguf`);
    await writeGGUF(path, mixSpec((t, o) => graniteHybridModelSpec(shape, t, o), mix, SYNTH));
    paths.set(mix, path);
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`granitehybrid ${mix}`, s, 'mamba2, attention, mamba2, mamba2'));
    assertMatches(`granitehybrid ${mix}`, s);
    if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
  });
}

test('granitehybrid F16 with a tied head and no rope (Granite 4.0-H\'s): matches llama.cpp', async () => {
  const path = join(dir, 'granitehybrid-nope-F16.gguf');
  await writeGGUF(path, mixSpec((t, o) => graniteHybridModelSpec({ ...shape, tied: true, noRope: true }, t, o), 'F16', { seed: 43, logitStd: 1, blockOutScale: 1 }));
  const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
  rows.push(statsRow('granitehybrid F16', s, 'tied head, no rope'));
  assertMatches('granitehybrid tied no rope', s);
});

test("llama.cpp's own spread: its batch against its token by token (Q4_K_M)", async () => {
  const kl = await llamaCppSpread(paths.get('Q4_K_M')!, SEQUENCES[0]!);
  rows.push(`  llama.cpp batch vs token by token (Q4_K_M, ${SEQUENCES[0]!.length} tokens): mean KL ${kl.toExponential(2)}`);
  assert.ok(kl < 1e-3, `llama.cpp's own spread ${kl}`);
});

test('granitehybrid: a batch gives the bits of token by token; 1, 2 and 3 threads give the same bits (Q4_K_M)', async () => {
  const path = paths.get('Q4_K_M')!;
  const diff = await batchVsTokenByToken(path, SEQUENCES[1]!.slice(0, 70));
  rows.push(`  batch (n_batch ${OUR_BATCH}) vs token by token, 70 tokens: max |logit difference| ${diff}`);
  assert.is(diff, 0);
  await assertThreadsAgree(path, SEQUENCES[1]!);
});

test('granitehybrid: two sequences in one context keep their own states, interleaved in batches', async () => {
  await assertSequencesApart(paths.get('Q8_0')!, SEQUENCES[0]!, SEQUENCES[1]!);
});

/** The graph with a context whose recurrent states are rewired by `edit` before each layer reads them. */
function broken(edit: (c: BuildContext) => BuildContext): BuildGraph {
  return (c) => buildGraniteHybrid(edit(c));
}

/** Every Mamba-2 layer scanning one shared SSM state (the first layer's) instead of its own. */
const sharedState: BuildGraph = broken((c) => {
  const first = c.state.find((s) => s !== undefined)!;
  return { ...c, state: c.state.map((s) => (s ? { r: s.r, s: first.s } : s)) };
});

/** Without the D skip (ssm_d): y is the scan alone. */
const noSkip: BuildGraph = broken((c) => ({
  ...c,
  w: (name) => {
    const t = c.w(name);
    // D read from a vector of zeros
    return name.endsWith('.ssm_d') ? { ...t, ptr: zeroPtr(c, t) } : t;
  },
}));

const zeros = new Map<number, number>();
/** A pointer to zeros as long as t (allocated once per memory, never freed: a test). */
function zeroPtr(c: BuildContext, t: { ne: readonly number[]; mem?: number }): number {
  const n = t.ne.reduce((a, b) => a * b, 1) * 4;
  const key = (t.mem ?? 0) * 1e6 + n;
  let p = zeros.get(key);
  if (p === undefined) {
    p = c.ops.k.malloc(n);
    c.ops.k.u8().fill(0, p, p + n);
    zeros.set(key, p);
  }
  return p;
}

test('broken granitehybrid (one SSM state shared by the layers; no D skip) exceeds the KL bound at least tenfold', async () => {
  const path = paths.get('Q8_0')!;
  await withLlamaCpp(path, async (llama) => {
    for (const [what, build] of [['layers share one SSM state', sharedState], ['no D skip', noSkip]] as const) {
      const s = await compareFile(path, llama, SEQUENCES, build);
      rows.push(statsRow('broken', s, what));
      assertBroken(what, s);
    }
  });
});

test.after(() => {
  console.log(`\n  granitehybrid next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join(' and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
