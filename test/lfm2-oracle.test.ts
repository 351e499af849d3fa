// LFM2 with random weights: gated short-convolution layers (a recurrent
// state per sequence) beside attention layers. Next-token distributions here
// and in llama.cpp (node-llama-cpp) on the same GGUF, in F16, Q8_0 and
// Q4_K_M, beside llama.cpp's own spread between a batch and token by token;
// our batch gives the bits of token by token and of 1, 2 and 3 threads; two
// sequences in one context keep their states apart; truncation and prefix
// reuse evaluate again what a recurrent state cannot give back; a graph
// without the convolution misses the bound by far.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeGGUF } from '../formats/gguf/index.js';
import { LFM2_SHAPES, lfm2ModelSpec, type Lfm2Shape } from '../formats/synthetic/lfm2.js';
import { ROPE_NEOX, ropeParams } from '../runtime/arch/blocks.js';
import type { BuildGraph } from '../runtime/arch/context.js';
import { buildDecoder, sequential } from '../runtime/arch/decoder.js';
import {
  assertBroken, assertMatches, batchVsTokenByToken, compareFile, mixSpec, OUR_BATCH, randomSequences, statsRow, withLlamaCpp,
} from './helpers/arch-oracle.js';
import { assertRecurrentReuse, assertSequencesApart, assertThreadsAgree, llamaCppSpread } from './helpers/recurrent-oracle.js';

// An untied head and blocks that move the residual stream by half the
// embedding's scale: peaked distributions without the amplification of
// rounding differences a tied head needs (as smollm3-oracle's SYNTH).
const SYNTH = { seed: 31, logitStd: 6, blockOutScale: 0.5 };
const MIXES = ['F16', 'Q8_0', 'Q4_K_M'];
const shape: Lfm2Shape = { ...LFM2_SHAPES['test-lfm2']!, tied: false };
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-lfm2-'));
const SEQUENCES = randomSequences(20261206, [48, 80], shape.n_vocab);
const rows: string[] = [];
const paths = new Map<string, string>();

for (const mix of MIXES) {
  test(`lfm2 ${mix}: next-token distributions match llama.cpp`, async () => {
    const path = join(dir, `lfm2-${mix}.gguf`);
    await writeGGUF(path, mixSpec((t, o) => lfm2ModelSpec(shape, t, o), mix, SYNTH));
    paths.set(mix, path);
    const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
    rows.push(statsRow(`lfm2 ${mix}`, s, 'conv, conv, attention, conv'));
    assertMatches(`lfm2 ${mix}`, s);
    if (mix === 'F16') assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
  });
}

test("llama.cpp's own spread: its batch against its token by token (Q4_K_M)", async () => {
  const kl = await llamaCppSpread(paths.get('Q4_K_M')!, SEQUENCES[0]!);
  rows.push(`  llama.cpp batch vs token by token (Q4_K_M, ${SEQUENCES[0]!.length} tokens): mean KL ${kl.toExponential(2)}`);
  assert.ok(kl < 1e-3, `llama.cpp's own spread ${kl}`);
});

test('lfm2: a batch gives the bits of token by token; 1, 2 and 3 threads give the same bits (Q4_K_M)', async () => {
  const path = paths.get('Q4_K_M')!;
  const diff = await batchVsTokenByToken(path, SEQUENCES[1]!.slice(0, 70));
  rows.push(`  batch (n_batch ${OUR_BATCH}) vs token by token, 70 tokens: max |logit difference| ${diff}`);
  assert.is(diff, 0);
  await assertThreadsAgree(path, SEQUENCES[1]!);
});

test('lfm2: two sequences in one context keep their own states, interleaved in batches', async () => {
  await assertSequencesApart(paths.get('Q8_0')!, SEQUENCES[0]!, SEQUENCES[1]!);
});

test('lfm2: prefix reuse only of everything held; truncation evaluates the kept tokens again', async () => {
  await assertRecurrentReuse(paths.get('Q8_0')!, SEQUENCES[0]!, SEQUENCES[1]!.slice(1, 20));
});

/** LFM2 without its convolution: the gated product c * b * x of each token alone. */
const noConvolution: BuildGraph = (c) => {
  const rope = ropeParams(c, ROPE_NEOX);
  return buildDecoder(c, {
    attention: () => ({ rope }),
    layer: sequential({
      mixer: (c, il, h, attend) => {
        if (c.hp.n_head_kv_arr[il] !== 0) return attend(h);
        const { ops } = c;
        const bcx = ops.matmul(c.w(`blk.${il}.shortconv.in_proj.weight`), h, `bcx-${il}`);
        const n = bcx.ne[0]! / 3;
        const row = bcx.ne[0]! * 4;
        const v = (k: number) => ops.g.view(bcx, `chunk${k}-${il}`, [n, c.nTokens], k * n * 4, row);
        const y = ops.mul(v(1), ops.mul(v(0), v(2), `bx-${il}`), `y-${il}`);
        return ops.matmul(c.w(`blk.${il}.shortconv.out_proj.weight`), y, `out-${il}`);
      },
    }),
    outputNorm: 'token_embd_norm',
  });
};

test('broken lfm2 (no convolution over past tokens) exceeds the KL bound at least tenfold', async () => {
  const path = paths.get('Q8_0')!;
  const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES, noConvolution));
  rows.push(statsRow('broken lfm2', s, 'no short convolution'));
  assertBroken('no convolution', s);
});

test.after(() => {
  console.log(`\n  lfm2 next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join(' and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
