// The mixture-of-experts kernels (kernels/moe.c) through their graph ops:
// the expert matmul (ggml_mul_mat_id) must give, for every token and slot,
// exactly the bits a dense matmul by that expert's matrix gives, for every
// weight type, whichever thread count splits it; top-k, the expert weights
// and their weighted sum are checked against plain JavaScript.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';
import { quantizeRow } from '../formats/quant/index.js';
import { Graph, type Tensor } from '../runtime/graph/graph.js';
import { Ops } from '../runtime/graph/ops.js';
import type { Plan } from '../runtime/graph/plan.js';
import { loadKernels, type Kernels } from '../wasm/loader.js';
import { gaussian, mulberry32 } from './helpers/rng.js';
import { runAsThreads, wasmArena } from './helpers/run-graph.js';

const T = GGMLType;
const TYPES = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K,
  T.IQ4_NL, T.IQ4_XS, T.MXFP4, T.TQ1_0, T.TQ2_0];
const k: Kernels = await loadKernels();

const N_IN = 512, N_OUT = 37, N_EXPERT = 5, K = 2, N_TOK = 11;
// experts per token: repeats across tokens, expert 4 never chosen, order not sorted
const IDS = [[3, 0], [0, 3], [1, 2], [2, 0], [3, 1], [0, 1], [2, 3], [1, 0], [3, 2], [0, 2], [1, 3]];

const arena = wasmArena(k);
const put = arena.put;
test.after(arena.free);

function gaussians(rand: () => number, n: number, sigma = 1): Float32Array {
  return gaussian(rand, n, sigma);
}

const run = (g: Graph, nth: number): Plan => runAsThreads(k, g, nth);

const bits = (p: Plan, t: Tensor, n: number) => new Uint32Array(k.floats(p.ptr(t), n).slice().buffer);

for (const type of TYPES) {
  test(`mat_rows_id_${ggmlTypeInfo(type)!.name}: each (token, slot) equals the dense matmul by its expert, 1 and 3 threads`, () => {
    const rand = mulberry32(1000 + type);
    const rb = rowSize(type, N_IN);
    const wBytes = new Uint8Array(rb * N_OUT * N_EXPERT);
    for (let r = 0; r < N_OUT * N_EXPERT; r++) wBytes.set(quantizeRow(type, gaussians(rand, N_IN, 0.05)), r * rb);
    const wPtr = put(wBytes);
    const xTok = put(gaussians(rand, N_IN * N_TOK));
    const xPair = put(gaussians(rand, N_IN * N_TOK * K));
    const idsPtr = put(Int32Array.from(IDS.flat()));
    for (const nth of [1, 3]) {
      const g = new Graph();
      const ops = new Ops(g, k);
      const w = g.tensor({ name: 'w', type, ne: [N_IN, N_OUT, N_EXPERT], kind: 'weight', ptr: wPtr });
      const ids = g.tensor({ name: 'ids', type: T.I32, ne: [K, N_TOK], kind: 'input', ptr: idsPtr });
      const x1 = g.tensor({ name: 'x1', type: T.F32, ne: [N_IN, N_TOK], kind: 'input', ptr: xTok });
      const x2 = g.tensor({ name: 'x2', type: T.F32, ne: [N_IN, K, N_TOK], kind: 'input', ptr: xPair });
      const outs = [ops.matmulId(w, x1, ids, 'per_token'), ops.matmulId(w, x2, ids, 'per_pair')];
      // dense references: every expert's matrix times all rows
      const ref = (x: Tensor, rows: number) => Array.from({ length: N_EXPERT }, (_, e) => ops.matmul(
        { id: -1, name: `w${e}`, type, ne: [N_IN, N_OUT], kind: 'weight', ptr: wPtr + e * rb * N_OUT },
        g.view(x, `x-${x.name}-${e}`, [N_IN, rows], 0, N_IN * 4), `ref-${x.name}-${e}`));
      const refs = [ref(x1, N_TOK), ref(x2, N_TOK * K)];
      [...outs, ...refs.flat()].forEach((t) => g.markOutput(t));
      const plan = run(g, nth);
      outs.forEach((out, which) => {
        const got = bits(plan, out, N_OUT * K * N_TOK);
        for (let t = 0; t < N_TOK; t++) {
          for (let s = 0; s < K; s++) {
            const e = IDS[t]![s]!;
            const row = which === 0 ? t : t * K + s;
            const want = bits(plan, refs[which]![e]!, N_OUT * (which === 0 ? N_TOK : N_TOK * K)).subarray(row * N_OUT, (row + 1) * N_OUT);
            const pair = got.subarray((t * K + s) * N_OUT, (t * K + s + 1) * N_OUT);
            assert.equal(Array.from(pair), Array.from(want), `${out.name} token ${t} slot ${s} (expert ${e}), ${nth} threads`);
          }
        }
      });
      plan.dispose();
    }
  });
}

test('top-k, expert weights (raw, renormalised, scaled) and their weighted sum match JavaScript', () => {
  const rand = mulberry32(77);
  const nExp = 12, nTok = 7, kk = 4, n = 9;
  const logits = gaussians(rand, nExp * nTok, 2);
  const experts = gaussians(rand, n * kk * nTok);
  const g = new Graph();
  const ops = new Ops(g, k);
  const lx = g.tensor({ name: 'logits', type: T.F32, ne: [nExp, nTok], kind: 'input', ptr: put(logits) });
  const ex = g.tensor({ name: 'experts', type: T.F32, ne: [n, kk, nTok], kind: 'input', ptr: put(experts) });
  const probs = ops.softMax(lx, 'probs');
  const ids = ops.topK(probs, kk, 'ids');
  const raw = ops.moeWeights(probs, ids, false, 0, 'raw');
  const normed = ops.moeWeights(probs, ids, true, 2.5, 'normed');
  const sum = ops.moeCombine(ex, normed, 'sum');
  [probs, ids, raw, normed, sum].forEach((t) => g.markOutput(t));
  const plan = run(g, 2);
  const P = k.floats(plan.ptr(probs), nExp * nTok).slice();
  const I = k.i32().slice(plan.ptr(ids) >> 2, (plan.ptr(ids) >> 2) + kk * nTok);
  const R = k.floats(plan.ptr(raw), kk * nTok).slice();
  const W = k.floats(plan.ptr(normed), kk * nTok).slice();
  const S = k.floats(plan.ptr(sum), n * nTok).slice();
  for (let t = 0; t < nTok; t++) {
    const l = logits.subarray(t * nExp, (t + 1) * nExp);
    const m = Math.max(...l);
    const z = l.reduce((a, x) => a + Math.exp(x - m), 0);
    for (let e = 0; e < nExp; e++) assert.ok(Math.abs(P[t * nExp + e]! - Math.exp(l[e]! - m) / z) < 1e-6, 'softmax');
    const order = [...Array(nExp).keys()].sort((a, b) => l[b]! - l[a]!).slice(0, kk);
    assert.equal(Array.from(I.subarray(t * kk, (t + 1) * kk)), order, `token ${t}: top ${kk}`);
    const p = order.map((e) => P[t * nExp + e]!);
    const total = Math.fround(p.reduce((a, x) => a + x, 0));
    for (let s = 0; s < kk; s++) {
      assert.is(R[t * kk + s], p[s], 'raw weight is the probability');
      assert.is(W[t * kk + s], Math.fround(Math.fround(p[s]! / total) * 2.5), 'renormalised, then scaled');
    }
    for (let i = 0; i < n; i++) {
      let acc = Math.fround(experts[(t * kk) * n + i]! * W[t * kk]!);
      for (let s = 1; s < kk; s++) acc = Math.fround(acc + Math.fround(experts[(t * kk + s) * n + i]! * W[t * kk + s]!));
      assert.is(S[t * n + i], acc, `weighted sum, token ${t} element ${i}`);
    }
  }
  plan.dispose();
});

test.run();
