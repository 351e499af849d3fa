// Continuous batching (context.evaluateBatch): tokens of several sequences in
// one graph run give each sequence the bits it gets evaluated alone, for
// prompts of different lengths split across runs, decode steps mixing
// sequences at different positions, prefix reuse, sequence slots other than
// the reference's, 1 and 2 threads; on a dense llama, a sliding-window model
// with soft-caps (gemma2), a mixture of experts (Mixtral), a llama spread
// over several memories, and hybrid models whose recurrent layers keep a
// state per sequence (lfm2, granitehybrid, qwen3next). A wrong row -> sequence map must be caught. Against
// llama.cpp: three sequences of one node-llama-cpp context evaluated together.
import type { ControlledEvaluateInputItem, Token } from 'node-llama-cpp';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF, type GGUFWriteSpec } from '../formats/gguf/index.js';
import { GEMMA_SHAPES, gemmaModelSpec } from '../formats/synthetic/gemma.js';
import { GRANITE_HYBRID_SHAPES, graniteHybridModelSpec } from '../formats/synthetic/granitehybrid.js';
import { LFM2_SHAPES, lfm2ModelSpec } from '../formats/synthetic/lfm2.js';
import { QWEN3NEXT_SHAPES, qwen3nextModelSpec } from '../formats/synthetic/qwen3next.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { MOE_SHAPES, moeModelSpec } from '../formats/synthetic/moe.js';
import type { BatchRows } from '../runtime/batch.js';
import { loadModel, type Context, type Model, type Sequence } from '../runtime/index.js';
import { assertBroken, assertMatches, randomSequences, statsRow, withLlamaCpp } from './helpers/arch-oracle.js';
import { compareDistributions } from './helpers/compare.js';
import { oracle } from './helpers/oracle.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-batch-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const CONTEXT = 96;
const BATCH = 32;
const NAMES = ['A', 'B', 'C'] as const;
type Name = (typeof NAMES)[number];

/** One step: what each named sequence does in it (absent: idle). `prompt` brings the sequence to exactly those tokens (prefix reuse). */
type Step = Partial<Record<Name, { append?: number[]; prompt?: number[]; allLogits?: boolean }>>;

/**
 * A script over sequences of different lengths: prompts of 37, 11 and 45
 * tokens in one step (batches of 32: parts continue across runs), decode
 * steps with all three and with two, B re-prompted with a shared prefix
 * (reuse, then truncation) beside decodes, then more decode. Positions reach
 * past gemma2-tiny's window of 24.
 */
function script(nVocab: number): Step[] {
  const [pa, pb, pc, pb2] = randomSequences(4242, [37, 11, 45, 20], nVocab);
  const tok = (i: number) => 3 + ((i * 97) % (nVocab - 3));
  return [
    { A: { append: pa!, allLogits: true }, B: { append: pb! }, C: { append: pc!, allLogits: true } },
    { A: { append: [tok(1)] }, B: { append: [tok(2)] }, C: { append: [tok(3)] } },
    { A: { append: [tok(4)] }, C: { append: [tok(5)] } },
    // B: its first 6 tokens, then new ones (keeps 6 cells, drops the rest)
    { C: { append: [tok(6)] }, B: { prompt: [...pb!.slice(0, 6), ...pb2!.slice(1)], allLogits: true }, A: { append: [tok(7)] } },
    { A: { append: [tok(8)] }, B: { append: [tok(9)] }, C: { append: [tok(10)] } },
    { B: { append: [tok(11), tok(12), tok(13)] }, A: { append: [tok(14)] } },
    { A: { append: [tok(15)] }, B: { append: [tok(16)] }, C: { append: [tok(17)] } },
  ];
}

type Outputs = Map<string, Float32Array>;

/** Each sequence alone in its own context (slot 0), step by step: the reference. */
function runAlone(model: Model, steps: Step[], threads: number): Outputs {
  const out: Outputs = new Map();
  for (const name of NAMES) {
    const ctx = model.createContext({ contextSize: CONTEXT, batchSize: BATCH, threads });
    try {
      steps.forEach((s, i) => {
        const w = s[name];
        if (!w) return;
        const opts = { allLogits: w.allLogits };
        const logits = w.prompt ? ctx.sequence.evaluate(w.prompt, opts).logits : ctx.evaluate(w.append!, opts);
        out.set(`${name}@${i}`, logits);
      });
    } finally {
      ctx.dispose();
    }
  }
  return out;
}

/**
 * All three in one context, one evaluateBatch per step. The sequences get
 * slots other than the reference's (a fourth, D, takes slot 0 and runs its
 * own tokens in the first steps), and the items of a step come in the
 * step's own order. `tamper` may alter a run's rows (the broken variants).
 */
function runBatched(model: Model, steps: Step[], threads: number, tamper?: (rows: BatchRows, slots: Record<string, number>) => void): Outputs {
  const ctx: Context = model.createContext({ contextSize: CONTEXT, batchSize: BATCH, threads, sequences: 4, maxPlans: 8 });
  const out: Outputs = new Map();
  try {
    const d = ctx.createSequence();
    const seqs: Record<string, Sequence> = { C: ctx.createSequence(), A: ctx.createSequence(), B: ctx.createSequence() };
    const slots = Object.fromEntries(Object.entries(seqs).map(([k, s]) => [k, s.slot]));
    if (tamper) {
      const host = ctx as unknown as { runRows(rows: BatchRows): Float32Array };
      const runRows = host.runRows.bind(ctx);
      host.runRows = (rows) => {
        tamper(rows, slots);
        return runRows(rows);
      };
    }
    steps.forEach((s, i) => {
      const items = Object.entries(s).map(([name, w]) => {
        const sequence = seqs[name]!;
        const tokens = w.prompt ? w.prompt.slice(sequence.keepPrefix(w.prompt)) : w.append!;
        return { name, item: { sequence, tokens, allLogits: w.allLogits } };
      });
      if (i < 2) items.splice(1, 0, { name: 'D', item: { sequence: d, tokens: [5, 6, 7, 8, 9].slice(0, 5 - 3 * i), allLogits: false } });
      const logits = ctx.evaluateBatch(items.map((x) => x.item));
      items.forEach((x, k) => {
        if (x.name !== 'D') out.set(`${x.name}@${i}`, logits[k]!);
      });
    });
  } finally {
    ctx.dispose();
  }
  return out;
}

/** Keys whose logits differ in any bit, with the first difference. */
function differences(want: Outputs, got: Outputs): string[] {
  const bad: string[] = [];
  for (const [key, w] of want) {
    const g = got.get(key);
    if (!g || g.length !== w.length) {
      bad.push(`${key}: ${g?.length} values, want ${w.length}`);
      continue;
    }
    const a = new Uint32Array(w.buffer, w.byteOffset, w.length), b = new Uint32Array(g.buffer, g.byteOffset, g.length);
    const at = a.findIndex((x, i) => x !== b[i]);
    if (at >= 0) bad.push(`${key}: element ${at} ${g[at]} vs ${w[at]} alone`);
  }
  return bad;
}

const MODELS: { name: string; spec: GGUFWriteSpec; memories?: boolean }[] = [
  { name: 'llama Q4_K', spec: llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q4_K, { seed: 5 }) },
  { name: 'gemma2 Q8_0 (window 24, soft-caps)', spec: gemmaModelSpec(GEMMA_SHAPES['gemma2-tiny']!, GGMLType.Q8_0, { seed: 14 }) },
  { name: 'mixtral Q4_K (8 experts, 2 used)', spec: moeModelSpec(MOE_SHAPES['mixtral-tiny']!, GGMLType.Q4_K, { seed: 12 }) },
  { name: 'lfm2 Q8_0 (short convolutions)', spec: lfm2ModelSpec(LFM2_SHAPES['test-lfm2']!, GGMLType.Q8_0, { seed: 31 }) },
  { name: 'granitehybrid F32 (Mamba-2)', spec: graniteHybridModelSpec(GRANITE_HYBRID_SHAPES['test-granitehybrid']!, GGMLType.F32, { seed: 32 }) },
  { name: 'qwen3next Q8_0 (gated delta net)', spec: qwen3nextModelSpec(QWEN3NEXT_SHAPES['test-qwen3next']!, GGMLType.Q8_0, { seed: 33 }) },
  { name: 'llama F16 over 3+ memories', spec: llamaModelSpec({ ...LLAMA_SHAPES['test-tiny']!, n_layer: 4, tied: true }, GGMLType.F16, { seed: 7 }), memories: true },
];

/** A memory size that holds about one layer with its KV cache for 4 sequences (as test/shards.test.ts). */
async function spreadModel(path: string): Promise<Model> {
  const one = await loadModel(path, { contextSize: 4 * CONTEXT });
  const layer0 = one.gguf.tensors.filter((t) => t.name.startsWith('blk.0.')).reduce((n, t) => n + t.nBytes + 64, 0);
  const hp = one.hparams;
  one.dispose();
  const kv = hp.n_head_kv * 4 * CONTEXT * (hp.n_embd_head_k + hp.n_embd_head_v) * 2;
  const model = await loadModel(path, { contextSize: 4 * CONTEXT, memoryBytes: Math.ceil(((layer0 + kv) * 4) / 3) + 4096 });
  assert.ok(model.memories.length >= 3, `${model.memories.length} memories`);
  return model;
}

for (const m of MODELS) {
  test(`${m.name}: A, B, C batched together give each its logits alone, bit for bit, on 1 and 2 threads`, async () => {
    const path = join(dir, `${m.name.split(' ')[0]}-${MODELS.indexOf(m)}.gguf`);
    await writeGGUF(path, m.spec);
    const model = m.memories ? await spreadModel(path) : await loadModel(path);
    try {
      const steps = script(model.hparams.n_vocab);
      const alone = runAlone(model, steps, 1);
      const nOutputs = steps.reduce((n, s) => n + Object.keys(s).length, 0);
      assert.is(alone.size, nOutputs);
      for (const threads of [1, 2]) {
        const bad = differences(alone, runBatched(model, steps, threads));
        assert.equal(bad, [], `${threads} threads: batched differs from alone`);
      }
      // broken: A's rows read and write C's block. Both would pass a check that looked only at
      // shapes or at the last step; the comparison must catch them.
      const wrongSeq = differences(alone, runBatched(model, steps, 1, (rows, slots) => {
        for (let r = 0; r < rows.tokens.length; r++) if (rows.kvRows[2 * r] === slots.A) rows.kvRows[2 * r] = slots.C!;
      }));
      assert.ok(wrongSeq.length >= 6, `a wrong row -> sequence map changed only ${wrongSeq.length} outputs`);
      // broken: every logit row but the first is taken from the row before (the wrong token's logits)
      const wrongOut = differences(alone, runBatched(model, steps, 1, (rows) => {
        for (let k = 1; k < rows.outIds.length; k++) rows.outIds[k] = Math.max(0, rows.outIds[k]! - 1);
      }));
      assert.ok(wrongOut.length >= 6, `wrong logit rows changed only ${wrongOut.length} outputs`);
      console.log(`  ${m.name}: ${nOutputs} outputs identical (1 and 2 threads); broken map: ${wrongSeq.length} differ, broken logit rows: ${wrongOut.length} differ${m.memories ? `; ${model.memories.length} memories` : ''}`);
    } finally {
      model.dispose();
    }
  });
}

test('evaluateBatch refuses a foreign or disposed sequence, a sequence twice, an empty part, before evaluating anything', async () => {
  const path = join(dir, 'llama-0.gguf');
  const model = await loadModel(path);
  const ctx = model.createContext({ contextSize: 32, sequences: 3, threads: 1 });
  const other = model.createContext({ contextSize: 32, threads: 1 });
  try {
    const [a, b, c] = [ctx.createSequence(), ctx.createSequence(), ctx.createSequence()];
    c.dispose();
    const bad: [string, () => unknown, RegExp][] = [
      ['foreign', () => ctx.evaluateBatch([{ sequence: a, tokens: [1] }, { sequence: other.sequence, tokens: [2] }]), /not a live sequence/],
      ['disposed', () => ctx.evaluateBatch([{ sequence: a, tokens: [1] }, { sequence: c, tokens: [2] }]), /not a live sequence/],
      ['twice', () => ctx.evaluateBatch([{ sequence: a, tokens: [1] }, { sequence: a, tokens: [2] }]), /appears twice/],
      ['empty', () => ctx.evaluateBatch([{ sequence: a, tokens: [1] }, { sequence: b, tokens: [] }]), /no tokens/],
      ['too long', () => ctx.evaluateBatch([{ sequence: a, tokens: [1] }, { sequence: b, tokens: new Array(33).fill(1) }]), /exceed the context size/],
      ['bad id', () => ctx.evaluateBatch([{ sequence: a, tokens: [1] }, { sequence: b, tokens: [1e6] }]), /outside the vocabulary/],
    ];
    for (const [what, f, re] of bad) {
      assert.throws(f, (e: unknown) => e instanceof RangeError && re.test((e as Error).message), what);
      assert.is(a.position, 0, `${what}: nothing evaluated`);
    }
    assert.equal(ctx.evaluateBatch([]), []);
  } finally {
    other.dispose();
    ctx.dispose();
    model.dispose();
  }
});

test('against llama.cpp: three sequences of one context evaluated together there and here', async () => {
  await oracle();
  const path = join(dir, 'llama-oracle.gguf');
  // F16, with llama-oracle's spread: peaked distributions that a wrong graph moves far
  await writeGGUF(path, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.F16, { seed: 21, logitStd: 9, blockOutScale: 0.35 }));
  const prompts = randomSequences(777, [40, 23, 57], LLAMA_SHAPES['test-tiny']!.n_vocab);
  const reference = () => withLlamaCpp(path, async (llama) => {
    const ctx = await llama.createContext({ contextSize: 512, sequences: 3, flashAttention: false, threads: 1 });
    try {
      const seqs = prompts.map(() => ctx.getSequence());
      // started together: node-llama-cpp puts evaluations of one tick in one batch
      const res = await Promise.all(prompts.map((p, i) => seqs[i]!.controlledEvaluate(p.map((t): ControlledEvaluateInputItem => [t as Token, { generateNext: { probabilities: true } }]))));
      return res.map((r) => r.map((x, i) => {
        const p = x?.next?.probabilities;
        if (!p) throw new Error(`llama.cpp gave no probabilities at position ${i}`);
        return p;
      }));
    } finally {
      await ctx.dispose();
    }
  });
  const model = await loadModel(path);
  try {
    const nVocab = model.hparams.n_vocab;
    const ours = (tamper?: (rows: BatchRows, slots: number[]) => void) => {
      const ctx = model.createContext({ contextSize: 64, sequences: 3, batchSize: BATCH, threads: 2 });
      try {
        const seqs = prompts.map(() => ctx.createSequence());
        if (tamper) {
          const host = ctx as unknown as { runRows(rows: BatchRows): Float32Array };
          const runRows = host.runRows.bind(ctx);
          host.runRows = (rows) => {
            tamper(rows, seqs.map((s) => s.slot));
            return runRows(rows);
          };
        }
        // each prompt but its last 8 tokens in one step, then the last 8 of each in another:
        // the second step's rows attend to what the first left in their own sequence's cells
        const head = ctx.evaluateBatch(prompts.map((p, i) => ({ sequence: seqs[i]!, tokens: p.slice(0, -8), allLogits: true })));
        const tail = ctx.evaluateBatch(prompts.map((p, i) => ({ sequence: seqs[i]!, tokens: p.slice(-8), allLogits: true })));
        return head.map((h, i) => {
          const all = new Float32Array(h.length + tail[i]!.length);
          all.set(h);
          all.set(tail[i]!, h.length);
          return all;
        });
      } finally {
        ctx.dispose();
      }
    };
    const good = ours();
    // Ours are deterministic; llama.cpp's evaluation of three sequences together once (in one full
    // suite run of many, on a loaded machine) gave sequence 0 other distributions: their entropy
    // 0.69 where every other run has 0.86, and a mean KL of 12 from ours. So a sequence that misses
    // is checked again against a second llama.cpp run, and must match that one.
    let theirs = await reference();
    const check = (i: number, note = '') => {
      const s = compareDistributions(good[i]!, nVocab, theirs[i]!);
      console.log(statsRow(`sequence ${i} (${prompts[i]!.length})`, s, note));
      assertMatches(`sequence ${i}`, s);
    };
    for (let i = 0; i < prompts.length; i++) {
      try {
        check(i);
      } catch {
        theirs = await reference();
        check(i, '(against a second llama.cpp run: the first differed)');
      }
    }
    // broken: sequence 0's rows read and write sequence 2's cells (harmless while a sequence's
    // first rows write every cell they read; the second step reads cells of the first)
    const broken = ours((rows, slots) => {
      for (let r = 0; r < rows.tokens.length; r++) if (rows.kvRows[2 * r] === slots[0]) rows.kvRows[2 * r] = slots[2]!;
    });
    const s = compareDistributions(broken[0]!, nVocab, theirs[0]!);
    console.log(statsRow('broken map', s));
    assertBroken('a wrong row -> sequence map', s);
  } finally {
    model.dispose();
  }
});

test.run();
