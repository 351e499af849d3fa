// The barriers a plan leaves out (runtime/graph/barriers.ts): phases that
// touch nothing another thread may still be writing run on without waiting.
// Unit cases for the rule, then whole plans of several architectures run as
// the barriers allow in the worst orders: within each barrier group, one
// thread runs all its phases before the next thread starts (threads in
// ascending order, then descending), with the arena and the states filled
// with garbage first. A phase that read a row another thread writes later
// in its group, or overwrote bytes another still reads, would change the
// logits; they must be the bits of the normal run. A plan with every barrier
// dropped must fail the same check.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF, type GGUFWriteSpec } from '../formats/gguf/index.js';
import { GEMMA_SHAPES, gemmaModelSpec } from '../formats/synthetic/gemma.js';
import { GRANITE_HYBRID_SHAPES, graniteHybridModelSpec } from '../formats/synthetic/granitehybrid.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { MOE_SHAPES, moeModelSpec } from '../formats/synthetic/moe.js';
import { QWEN3NEXT_SHAPES, qwen3nextModelSpec } from '../formats/synthetic/qwen3next.js';
import { barriersAfter, type Access, type PhaseAccesses } from '../runtime/graph/barriers.js';
import { bindPlan, type BoundPhase } from '../runtime/graph/exec.js';
import type { Tensor } from '../runtime/graph/graph.js';
import { loadModel, type Model } from '../runtime/index.js';
import type { Context } from '../runtime/context.js';

const T1 = {}, T2 = {};
const rd = (lo: number, hi: number, whole?: object): Access => ({ mem: 0, lo, hi, write: false, whole });
const wr = (lo: number, hi: number, whole?: object): Access => ({ mem: 0, lo, hi, write: true, whole });
const ph = (accesses: Access[], rows?: number): PhaseAccesses => ({ accesses, rows });

test('barriersAfter: a barrier exactly where a phase touches what its group writes, or writes what it reads', () => {
  // two matmuls of one input, each writing its own output: one group
  assert.equal(barriersAfter([ph([rd(0, 64), wr(64, 128)]), ph([rd(0, 64), wr(128, 192)])]), [false, true]);
  // read after write
  assert.equal(barriersAfter([ph([rd(0, 64), wr(64, 128)]), ph([rd(100, 110), wr(128, 192)])]), [true, true]);
  // write after read (the second writes bytes the first still reads)
  assert.equal(barriersAfter([ph([rd(0, 64), wr(64, 128)]), ph([wr(32, 40)])]), [true, true]);
  // write after write
  assert.equal(barriersAfter([ph([wr(0, 64)]), ph([wr(63, 65)])]), [true, true]);
  // other memory: no overlap
  assert.equal(barriersAfter([ph([wr(0, 64)]), ph([{ mem: 1, lo: 0, hi: 64, write: true }])]), [false, true]);
  // a hazard with an earlier member of the group, not only the last
  assert.equal(barriersAfter([ph([wr(0, 64)]), ph([wr(64, 128)]), ph([rd(0, 8)])]), [false, true, true]);
  // after a barrier the group starts afresh
  assert.equal(barriersAfter([ph([wr(0, 64)]), ph([rd(0, 64), wr(64, 128)]), ph([rd(256, 300)])]), [true, false, true]);
  // the same tensor split into the same rows by both: each thread reads its own rows
  assert.equal(barriersAfter([ph([rd(0, 64), wr(64, 128, T1)], 4), ph([rd(64, 128, T1), wr(128, 192, T2)], 4)]), [false, true]);
  // different row counts, a tensor not passed whole, or another tensor over the same bytes: a barrier
  assert.equal(barriersAfter([ph([wr(64, 128, T1)], 4), ph([rd(64, 128, T1)], 8)]), [true, true]);
  assert.equal(barriersAfter([ph([wr(64, 128, T1)], 4), ph([rd(64, 128)], 4)]), [true, true]);
  assert.equal(barriersAfter([ph([wr(64, 128, T1)], 4), ph([wr(64, 128, T2)], 4)]), [true, true]);
  assert.equal(barriersAfter([ph([wr(64, 128, T1)], 4), ph([rd(64, 128, T1)])]), [true, true]);
  // one row: thread 0 does both, whatever they touch
  assert.equal(barriersAfter([ph([wr(64, 128)], 1), ph([rd(64, 128), wr(0, 64)], 1)]), [false, true]);
  assert.equal(barriersAfter([ph([wr(64, 128)], 1), ph([rd(64, 128)], 2)]), [true, true]);
});

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-barriers-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const MODELS: { name: string; spec: GGUFWriteSpec; memories?: boolean }[] = [
  { name: 'llama Q4_K', spec: llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q4_K, { seed: 5 }) },
  { name: 'gemma2 Q8_0', spec: gemmaModelSpec(GEMMA_SHAPES['gemma2-tiny']!, GGMLType.Q8_0, { seed: 14 }) },
  { name: 'mixtral Q4_K', spec: moeModelSpec(MOE_SHAPES['mixtral-tiny']!, GGMLType.Q4_K, { seed: 12 }) },
  { name: 'granitehybrid F32 (Mamba-2)', spec: graniteHybridModelSpec(GRANITE_HYBRID_SHAPES['test-granitehybrid']!, GGMLType.F32, { seed: 32 }) },
  { name: 'qwen3next Q8_0 (gated delta net)', spec: qwen3nextModelSpec(QWEN3NEXT_SHAPES['test-qwen3next']!, GGMLType.Q8_0, { seed: 33 }) },
  { name: 'llama F16 over 3 memories', spec: llamaModelSpec({ ...LLAMA_SHAPES['test-tiny']!, n_layer: 4, tied: true }, GGMLType.F16, { seed: 7 }), memories: true },
];

const THREADS = 3;

/** The bytes of every state (KV cache, recurrent state) a plan's graph touches. */
function stateSpans(graph: { ops: readonly { inputs: readonly Tensor[]; output: Tensor }[] }): { mem: number; ptr: number; bytes: number }[] {
  const owner = (t: Tensor): Tensor => (t.kind === 'view' ? owner(t.base!) : t);
  const seen = new Set<Tensor>();
  for (const op of graph.ops) for (const t of [...op.inputs, op.output].map(owner)) if (t.kind === 'state') seen.add(t);
  return [...seen].map((t) => {
    const bytes = t.type === GGMLType.F32 ? 4 * t.ne.reduce((a, b) => a * b, 1) : t.type === GGMLType.F16 ? 2 * t.ne.reduce((a, b) => a * b, 1) : NaN;
    if (!Number.isFinite(bytes)) throw new Error(`state ${t.name} of type ${t.type}`);
    return { mem: t.mem ?? 0, ptr: t.ptr!, bytes };
  });
}

/**
 * Runs a plan's phases in one thread as `nth` threads would be allowed to by
 * its barriers: per barrier group, each thread in `order` runs all of the
 * group's phases before the next thread starts.
 */
function runGroups(phases: readonly BoundPhase[], nth: number, order: 'up' | 'down'): void {
  const threads = Array.from({ length: nth }, (_, i) => (order === 'up' ? i : nth - 1 - i));
  for (let start = 0; start < phases.length;) {
    let end = start;
    while (end < phases.length - 1 && !phases[end]!.sync) end++;
    for (const ith of threads) {
      for (let i = start; i <= end; i++) {
        const p = phases[i]!;
        if (p.solo && ith !== 0) continue;
        p.argv[p.argv.length - 2] = p.solo ? 0 : ith;
        p.argv[p.argv.length - 1] = p.solo ? 1 : nth;
        p.f.apply(null, p.argv);
      }
    }
    start = end + 1;
  }
}

/**
 * Evaluates `tokens` after `prefix` (the reference logits), then runs the same
 * plan again on the same inputs in the worst orders the barriers allow,
 * states restored and arena filled with garbage first. Returns the runs
 * whose logits differ from the reference, and the plan's barrier count.
 */
function check(model: Model, ctx: Context, prefix: number[], tokens: number[], dropAll = false): { bad: string[]; phases: number; barriers: number } {
  if (prefix.length > 0) ctx.evaluate(prefix);
  const planned = ctx.plannedGraph(tokens.length, 1);
  const states = stateSpans(planned.plan.graph);
  const saved = states.map((s) => model.memories[s.mem]!.bytes(s.ptr, s.bytes).slice());
  const want = ctx.evaluate(tokens).slice();
  const phases = bindPlan(planned.plan.encoded, model.memories);
  if (dropAll) for (const p of phases) p.sync = false;
  const bad: string[] = [];
  for (const nth of [2, THREADS]) {
    for (const order of ['up', 'down'] as const) {
      states.forEach((s, i) => model.memories[s.mem]!.bytes(s.ptr, s.bytes).set(saved[i]!));
      for (const a of planned.plan.arenaSpans) model.memories[a.mem]!.bytes(a.ptr, a.bytes).fill(0xff);
      try {
        runGroups(phases, nth, order);
      } catch (e) {
        // a plan without barriers may read garbage expert ids and trap: that differs too
        if (!dropAll || !(e instanceof WebAssembly.RuntimeError)) throw e;
        bad.push(`${nth} threads ${order}: ${(e as Error).message}`);
        continue;
      }
      const got = model.memories[planned.plan.outputMem(planned.output)]!.floats(planned.plan.ptr(planned.output), want.length);
      let same = true;
      for (let i = 0; i < want.length && same; i++) same = Object.is(got[i], want[i]);
      if (!same) bad.push(`${nth} threads ${order}`);
    }
  }
  const barriers = phases.filter((p, i) => p.sync && i < phases.length - 1).length;
  return { bad, phases: phases.length, barriers };
}

async function open(m: (typeof MODELS)[number], path: string): Promise<Model> {
  if (!m.memories) return loadModel(path);
  // about one layer per memory (as test/shards.test.ts)
  const one = await loadModel(path, { contextSize: 64 });
  const layer0 = one.gguf.tensors.filter((t) => t.name.startsWith('blk.0.')).reduce((n, t) => n + t.nBytes + 64, 0);
  const hp = one.hparams;
  one.dispose();
  const kv = hp.n_head_kv * 64 * (hp.n_embd_head_k + hp.n_embd_head_v) * 2;
  const model = await loadModel(path, { contextSize: 64, memoryBytes: Math.ceil(((layer0 + kv) * 4) / 3) + 4096 });
  assert.ok(model.memories.length >= 3, `${model.memories.length} memories`);
  return model;
}

for (const m of MODELS) {
  test(`${m.name}: decode and prefill plans give their bits in any order their barriers allow`, async () => {
    const path = join(dir, `${MODELS.indexOf(m)}.gguf`);
    await writeGGUF(path, m.spec);
    const model = await open(m, path);
    const ctx = model.createContext({ contextSize: 64, threads: THREADS, adaptiveThreads: false });
    try {
      const n = model.hparams.n_vocab;
      const tok = (i: number) => 3 + ((i * 7919) % (n - 3));
      const prompt = Array.from({ length: 9 }, (_, i) => tok(i));
      const prefill = check(model, ctx, [], prompt);
      assert.equal(prefill.bad, [], 'prefill');
      const decode = check(model, ctx, [], [tok(20)]);
      assert.equal(decode.bad, [], 'decode');
      assert.ok(decode.barriers < decode.phases - 1, `decode: ${decode.barriers} barriers for ${decode.phases} phases`);
      // the check sees missing barriers: with none at all, the orders give other bits (not where
      // garbage could reach the allocator of a memory the test then frees)
      let broken = '';
      if (!m.memories) {
        ctx.reset();
        const { bad } = check(model, ctx, [], prompt, true);
        assert.ok(bad.length > 0, 'a plan without barriers passed');
        broken = `; without barriers: ${bad.length}/4 orders differ`;
      }
      console.log(`  ${m.name}: decode ${decode.barriers} barriers for ${decode.phases} phases, prefill ${prefill.barriers} for ${prefill.phases}${broken}`);
    } finally {
      ctx.dispose();
      model.dispose();
    }
  });
}

test('llama decode: attn_q, attn_k and attn_v share a group, and the residual add, the norm and its conversion another', async () => {
  const path = join(dir, 'groups.gguf');
  await writeGGUF(path, MODELS[0]!.spec);
  const model = await loadModel(path);
  const ctx = model.createContext({ contextSize: 64, threads: 2, adaptiveThreads: false });
  try {
    const { plan } = ctx.plannedGraph(1, 1);
    const enc = plan.encoded;
    const groups: string[][] = [[]];
    enc.phases.forEach((p, i) => {
      groups[groups.length - 1]!.push(enc.fns[p.fn]!);
      if (p.sync !== false && i < enc.phases.length - 1) groups.push([]);
    });
    const text = groups.map((g) => g.join('+'));
    assert.ok(text.some((g) => /^mat_rows_\w+\+mat_rows_\w+\+mat_rows_\w+$/.test(g)), text.join(' | '));
    assert.ok(text.includes('add_f32+rms_norm_f32+convert_rows_q8_K'), text.join(' | '));
    assert.ok(text.includes('rope_f32+rope_f32+kv_store_f16+kv_store_f16'), text.join(' | '));
  } finally {
    ctx.dispose();
    model.dispose();
  }
});

test.run();
