// Mixture-of-experts models (Mixtral, qwen2moe, qwen3moe, granitemoe) with
// random weights: next-token distributions here and in llama.cpp
// (node-llama-cpp) on the very same GGUF file, in F16, Q8_0 and Q4_K. Also:
// the router really routes (tokens pick different experts, read from our
// graph), broken routing fails the comparison by far, and decoding token by
// token gives what one batch gives.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { MOE_SHAPES, moeModelSpec, type MoeShape } from '../formats/synthetic/moe.js';
import type { BuildContext, BuildGraph } from '../runtime/arch/context.js';
import { ROPE_NEOX, ropeParams } from '../runtime/arch/blocks.js';
import { buildDecoder } from '../runtime/arch/decoder.js';
import { moeOrDense, sharedExpert } from '../runtime/arch/ffn.js';
import { buildMixtral } from '../runtime/arch/llama.js';
import { bindPlan, runPhases } from '../runtime/graph/exec.js';
import { Graph, type Tensor } from '../runtime/graph/graph.js';
import { Ops, type LayerCache } from '../runtime/graph/ops.js';
import { Plan } from '../runtime/graph/plan.js';
import { loadModel } from '../runtime/index.js';
import { assertBroken, assertMatches, batchVsTokenByToken, compareFile, OUR_BATCH, randomSequences, statsRow, withLlamaCpp } from './helpers/arch-oracle.js';

// Peaked distributions, and blocks that move the residual stream by a
// quarter of the embedding's scale: a little less than llama-oracle's 0.35,
// because a token whose router sits on the edge between two experts turns
// the requantization noise of quantized types into a larger difference.
const SYNTH = { logitStd: 9, blockOutScale: 0.25 };
const TYPES = [GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_K];
const ARCHS = ['mixtral-tiny', 'qwen2moe-tiny', 'qwen3moe-tiny', 'granitemoe-tiny'];

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-moe-'));
// A 64-token sequence and two longer than our n_batch (several batches):
// 264 positions, so that two or three near-tie flips do not decide the test.
const SEQUENCES = randomSequences(20261127, [64, 100, 100], 512);
const rows: string[] = [];
const paths = new Map<string, string>();

async function write(shapeName: string, type: GGMLType, shape: MoeShape = MOE_SHAPES[shapeName]!): Promise<string> {
  const path = join(dir, `${shapeName}-${ggmlTypeInfo(type)!.name}.gguf`);
  await writeGGUF(path, moeModelSpec(shape, type, { seed: 11, ...SYNTH }));
  paths.set(`${shapeName}:${type}`, path);
  return path;
}

for (const shapeName of ARCHS) {
  for (const type of TYPES) {
    const label = `${MOE_SHAPES[shapeName]!.arch} ${ggmlTypeInfo(type)!.name.toUpperCase()}`;
    test(`${label}: next-token distributions match llama.cpp`, async () => {
      const path = await write(shapeName, type);
      const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
      const sh = MOE_SHAPES[shapeName]!;
      rows.push(statsRow(label, s, `${sh.n_expert_used} of ${sh.n_expert} experts${sh.arch === 'qwen2moe' || sh.n_ff_shexp ? ' + shared' : ''}`));
      assertMatches(label, s);
      // F16 weights leave only float rounding between the two: any routing or weighting mistake shows
      if (type === GGMLType.F16) assert.ok(s.meanKL < 1e-5, `${label}: mean KL ${s.meanKL} is above rounding level`);
    });
  }
}

test('granitemoe with a shared expert (GraniteMoeShared) matches llama.cpp', async () => {
  const shape: MoeShape = { ...MOE_SHAPES['granitemoe-tiny']!, n_ff_shexp: 512 };
  const path = await write('granitemoe-shared', GGMLType.F16, shape);
  const s = await withLlamaCpp(path, (llama) => compareFile(path, llama, SEQUENCES));
  rows.push(statsRow('granitemoe+sh F16', s, 'shared expert'));
  assertMatches('granitemoe shared F16', s);
  assert.ok(s.meanKL < 1e-5, `F16: mean KL ${s.meanKL} is above rounding level`);
});

// ---- the router routes ----

/**
 * Runs `build` over `tokens` on one thread and returns, per MoE layer, the
 * experts our graph selected ([n_expert_used] per token), read from the
 * top-k op's output.
 */
async function selectedExperts(path: string, tokens: number[], build: BuildGraph): Promise<Int32Array[]> {
  const model = await loadModel(path);
  const k = model.kernels;
  const hp = model.hparams;
  const allocs: number[] = [];
  const alloc = (bytes: number) => {
    const p = k.malloc(bytes + 64);
    allocs.push(p);
    return Math.ceil(p / 64) * 64;
  };
  let plan: Plan | undefined;
  try {
    const g = new Graph();
    const ops = new Ops(g, k);
    const n = tokens.length;
    const idsPtr = alloc(n * 4);
    const posPtr = alloc(n * 4);
    const kvRowsPtr = alloc(n * 8);
    const outIdsPtr = alloc(4);
    k.i32().set(tokens, idsPtr >> 2);
    k.i32().set(tokens.map((_, i) => i), posPtr >> 2);
    // every row in sequence 0, whose n cells are all in use; logits of the last row
    k.i32().set(tokens.flatMap(() => [0, n]), kvRowsPtr >> 2);
    k.i32()[outIdsPtr >> 2] = n - 1;
    const cache: LayerCache[] = [];
    for (let il = 0; il < hp.n_layer; il++) {
      const mk = (name: string, hd: number): Tensor =>
        ({ id: -1, name, type: GGMLType.F16, ne: [hd, n, hp.n_head_kv], kind: 'state', ptr: alloc(hd * n * hp.n_head_kv * 2) });
      cache.push({ k: mk(`k${il}`, hp.n_embd_head_k), v: mk(`v${il}`, hp.n_embd_head_v), nCtx: n });
    }
    const picked: Tensor[] = [];
    const topK = ops.topK.bind(ops);
    ops.topK = (x, kk, name) => {
      const t = topK(x, kk, name);
      picked.push(t);
      g.markOutput(t);
      return t;
    };
    const c: BuildContext = {
      ops, hp, nTokens: n, nOutputs: 1, cache, state: [],
      inpTokens: g.tensor({ name: 'inp_tokens', type: GGMLType.I32, ne: [n], kind: 'input', ptr: idsPtr }),
      inpPos: g.tensor({ name: 'inp_pos', type: GGMLType.I32, ne: [n], kind: 'input', ptr: posPtr }),
      inpKvRows: g.tensor({ name: 'inp_kv_rows', type: GGMLType.I32, ne: [2, n], kind: 'input', ptr: kvRowsPtr }),
      inpOutIds: g.tensor({ name: 'inp_out_ids', type: GGMLType.I32, ne: [1], kind: 'input', ptr: outIdsPtr }),
      w: (name) => {
        const t = model.weight(name);
        if (!t) throw new Error(`${path} has no ${name}`);
        return t;
      },
      wOpt: (name) => model.weight(name),
    };
    g.markOutput(build(c));
    plan = new Plan(g, k);
    runPhases(bindPlan(plan.encoded, [k]), 0, 1, () => {});
    return picked.map((t) => k.i32().slice(plan!.ptr(t) >> 2, (plan!.ptr(t) >> 2) + t.ne[0]! * t.ne[1]!));
  } finally {
    plan?.dispose();
    for (const p of allocs) k.free(p);
    model.dispose();
  }
}

test('different tokens pick different experts (Mixtral Q8_0, 64 positions, both layers)', async () => {
  const path = paths.get(`mixtral-tiny:${GGMLType.Q8_0}`);
  assert.ok(path, 'the Mixtral Q8_0 model was written above');
  const shape = MOE_SHAPES['mixtral-tiny']!;
  const tokens = SEQUENCES[0]!;
  const layers = await selectedExperts(path!, tokens, buildMixtral);
  assert.is(layers.length, shape.n_layer);
  const notes: string[] = [];
  layers.forEach((ids, il) => {
    const sets = new Set<string>();
    const used = new Set<number>();
    for (let t = 0; t < tokens.length; t++) {
      const chosen = Array.from(ids.subarray(t * shape.n_expert_used, (t + 1) * shape.n_expert_used));
      assert.is(new Set(chosen).size, shape.n_expert_used, `layer ${il} token ${t}: experts ${chosen} are not distinct`);
      for (const e of chosen) assert.ok(e >= 0 && e < shape.n_expert, `layer ${il}: expert ${e}`);
      sets.add([...chosen].sort((a, b) => a - b).join(','));
      chosen.forEach((e) => used.add(e));
    }
    notes.push(`layer ${il}: ${sets.size} distinct expert pairs, ${used.size}/${shape.n_expert} experts used`);
    // 28 possible pairs; random tokens spread over many of them
    assert.ok(sets.size >= 10, `layer ${il}: only ${sets.size} distinct expert sets over ${tokens.length} tokens`);
    assert.is(used.size, shape.n_expert, `layer ${il}: some experts are never chosen`);
  });
  rows.push(`  routing (ours, 64 tokens): ${notes.join('; ')}`);
});

// ---- broken routing must fail ----

const withHp = (build: BuildGraph, hp: Partial<BuildContext['hp']>): BuildGraph => (c) => build({ ...c, hp: { ...c.hp, ...hp } });
const BROKEN: { what: string; model: string; build: BuildGraph }[] = [
  { what: 'Mixtral top-1 instead of top-2', model: 'mixtral-tiny', build: withHp(buildMixtral, { n_expert_used: 1 }) },
  {
    what: 'qwen2moe shared expert ungated', model: 'qwen2moe-tiny',
    build: (c) => buildDecoder(c, {
      attention: () => ({ rope: ropeParams(c, ROPE_NEOX) }),
      ffn: moeOrDense({ normWeights: false }, sharedExpert),
    }),
  },
];

for (const b of BROKEN) {
  test(`broken variant (${b.what}) exceeds the KL bound at least tenfold`, async () => {
    const path = paths.get(`${b.model}:${GGMLType.Q8_0}`);
    assert.ok(path, `the ${b.model} Q8_0 model was written above`);
    const s = await withLlamaCpp(path!, (llama) => compareFile(path!, llama, SEQUENCES, b.build));
    rows.push(statsRow(`broken: ${b.what}`, s));
    assertBroken(b.what, s);
  });
}

test('decoding token by token gives the logits of one batch (qwen3moe Q4_K)', async () => {
  const path = paths.get(`qwen3moe-tiny:${GGMLType.Q4_K}`);
  assert.ok(path);
  const maxDiff = await batchVsTokenByToken(path!, SEQUENCES[0]!.slice(0, 12));
  assert.ok(maxDiff < 1e-3, `token-by-token logits differ from the batch's by ${maxDiff}`);
});

test.after(() => {
  console.log(`\n  MoE next-token distributions vs llama.cpp (${SEQUENCES.map((q) => q.length).join('- and ')}-token sequences, n_batch ${OUR_BATCH}):`);
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
