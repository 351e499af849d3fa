// The recurrent layers' kernels (kernels/ops-ssm.c) against their scalar
// references (formats/ssm.ts): bit for bit, for every thread split, and a
// batch split into pieces (the state carried between them) gives the bits of
// the whole batch. Each row's state block is picked by its slot in the kv
// rows input: rows of two sequences in one call (interleaved) give each
// sequence the bits it gets alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gatedDeltaNetRef, l2NormHeadsRef, ssmConvRef, ssmScanRef } from '../formats/ssm.js';
import type { Ptr } from '../wasm/loader.js';
import { bits, kernelCalls, type KernelFn as Fn } from './helpers/kernel-calls.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const { K, alloc, put, get, free } = await kernelCalls();
test.after(free);

const randn = (rand: () => number, n: number) => gaussian(rand, n, 1);

/** int32 kv rows [2, n]: each row's slot (the cells-in-use column is not read by these kernels). */
function kvRows(slots: readonly number[]): Ptr {
  const p = alloc(slots.length * 8 + 8);
  K.i32().set(slots.flatMap((s) => [s, 0]), p >> 2);
  return p;
}
/** All rows in slot 0: one sequence. */
const slot0 = (n: number) => kvRows(new Array<number>(n).fill(0));

/**
 * Two sequences' rows in one batch, interleaved: A's first rows, then B's
 * first, the rest of A, the rest of B (a and b: rowLen floats per token);
 * returns the mixed buffer, the slots, and each mixed row's [sequence, token].
 */
function mix(a: Float32Array, b: Float32Array, rowLen: number, nA: number, nB: number) {
  const order: [number, number][] = [];
  const ha = Math.ceil(nA / 2), hb = Math.ceil(nB / 2);
  for (let t = 0; t < ha; t++) order.push([0, t]);
  for (let t = 0; t < hb; t++) order.push([1, t]);
  for (let t = ha; t < nA; t++) order.push([0, t]);
  for (let t = hb; t < nB; t++) order.push([1, t]);
  const mixed = new Float32Array(order.length * rowLen);
  order.forEach(([s, t], i) => mixed.set((s === 0 ? a : b).subarray(t * rowLen, (t + 1) * rowLen), i * rowLen));
  return { mixed, slots: order.map(([s]) => s), order };
}

/** A mixed batch's output rows back per sequence. */
function unmix(out: Float32Array, rowLen: number, order: readonly [number, number][], nA: number, nB: number): [Float32Array, Float32Array] {
  const res: [Float32Array, Float32Array] = [new Float32Array(nA * rowLen), new Float32Array(nB * rowLen)];
  order.forEach(([s, t], i) => res[s]!.set(out.subarray(i * rowLen, (i + 1) * rowLen), t * rowLen));
  return res;
}

for (const [nCh, nTok, dConv] of [[7, 5, 3], [64, 33, 4], [256, 1, 3], [13, 9, 2], [20, 4, 1]] as const) {
  test(`ssm_conv_f32: ${nCh} channels, ${nTok} tokens, ${dConv} taps equal the reference for nth 1..3, and in pieces`, () => {
    const rand = mulberry32(nCh * 131 + nTok * 7 + dConv);
    // x as a strided view: rows of 3*nCh with the inputs in the middle third (lfm2's b, c, x)
    const stride = 3 * nCh;
    const rows = randn(rand, nTok * stride);
    const x = new Float32Array(nTok * nCh);
    for (let t = 0; t < nTok; t++) x.set(rows.subarray(t * stride + nCh, t * stride + 2 * nCh), t * nCh);
    const state0 = randn(rand, (dConv - 1) * nCh);
    const w = randn(rand, dConv * nCh);
    const want = ssmConvRef(x, state0, w, nCh, nTok, dConv);
    const px = put(rows), pw = put(w), py = alloc(nTok * nCh * 4), ps = alloc(Math.max(state0.byteLength, 4));
    const conv = K.lookup<Fn>('ssm_conv_f32')!;
    const perSeq = (dConv - 1) * nCh, rows0 = slot0(nTok);
    for (const nth of [1, 2, 3]) {
      K.write(ps, state0);
      K.u8().fill(0xff, py, py + nTok * nCh * 4);
      for (let ith = 0; ith < nth; ith++) conv(px + nCh * 4, stride, ps, perSeq, rows0, pw, py, nCh, nTok, dConv, ith, nth);
      assert.ok(bits(get(py, nTok * nCh)).equals(bits(want.y)), `nth ${nth}: outputs differ from the reference`);
      assert.ok(bits(get(ps, state0.length)).equals(bits(want.state)), `nth ${nth}: the state differs from the reference`);
    }
    // one token at a time through the state: the same bits
    K.write(ps, state0);
    const pieces = new Float32Array(nTok * nCh);
    for (let t = 0; t < nTok; t++) {
      conv(px + (t * stride + nCh) * 4, stride, ps, perSeq, rows0, pw, py, nCh, 1, dConv, 0, 1);
      pieces.set(get(py, nCh), t * nCh);
    }
    assert.ok(bits(pieces).equals(bits(want.y)), 'token by token differs from the batch');
    // with a second sequence (its own state block, slot 1) interleaved in the batch: each gets its own bits
    const nB = nTok + 2;
    const xB = randn(rand, nB * nCh), stateB = randn(rand, perSeq);
    const wantB = ssmConvRef(xB, stateB, w, nCh, nB, dConv);
    const m = mix(x, xB, nCh, nTok, nB);
    const pm = put(m.mixed), pym = alloc(m.mixed.byteLength), ps2 = alloc(Math.max(2 * perSeq * 4, 4));
    for (const nth of [1, 2]) {
      K.write(ps2, state0);
      K.write(ps2 + perSeq * 4, stateB);
      for (let ith = 0; ith < nth; ith++) conv(pm, nCh, ps2, perSeq, kvRows(m.slots), pw, pym, nCh, m.slots.length, dConv, ith, nth);
      const [yA, yB] = unmix(get(pym, m.mixed.length), nCh, m.order, nTok, nB);
      assert.ok(bits(yA).equals(bits(want.y)), `two sequences, nth ${nth}: A's outputs differ`);
      assert.ok(bits(yB).equals(bits(wantB.y)), `two sequences, nth ${nth}: B's outputs differ`);
      assert.ok(bits(get(ps2, perSeq)).equals(bits(want.state)), `two sequences, nth ${nth}: A's state differs`);
      assert.ok(bits(get(ps2 + perSeq * 4, perSeq)).equals(bits(wantB.state)), `two sequences, nth ${nth}: B's state differs`);
    }
  });
}

for (const [dState, headDim, nHead, nGroup, nTok] of [[128, 8, 4, 2, 5], [16, 4, 6, 1, 3], [40, 3, 2, 2, 7], [64, 16, 8, 8, 2]] as const) {
  test(`ssm_scan_f32: d_state ${dState}, ${nHead} heads of ${headDim}, ${nGroup} groups, ${nTok} tokens: the reference, nth 1..3, token by token`, () => {
    const rand = mulberry32(dState + headDim * 17 + nHead * 101 + nTok);
    const dInner = headDim * nHead;
    const stride = dInner + 2 * nGroup * dState + 5; // a wider row, as the views of a fused projection
    const xbc = randn(rand, nTok * stride);
    const dtStride = nHead + 3;
    // dt around 0 with some past softplus's threshold of 20
    const dt = randn(rand, nTok * dtStride).map((v, i) => (i % 7 === 0 ? 21 + v : v));
    const dtBias = randn(rand, nHead);
    const A = randn(rand, nHead).map((v) => -Math.exp(v));
    const D = randn(rand, nHead);
    const state0 = randn(rand, nHead * headDim * dState);
    const stateRef = state0.slice();
    const want = ssmScanRef({ state: stateRef, xbc, xbcStride: stride, dt, dtStride, dtBias, A, D, dState, headDim, nHead, nGroup, nTok });
    const scan = K.lookup<Fn>('ssm_scan_f32')!;
    const perSeq = state0.length, rows0 = slot0(nTok);
    const [pxbc, pdt, pb, pa, pd] = [put(xbc), put(dt), put(dtBias), put(A), put(D)];
    const ps = alloc(state0.byteLength), py = alloc(nTok * dInner * 4);
    const close = (got: Float32Array, ref: Float32Array, what: string) => {
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i]! - ref[i]!) / (1 + Math.abs(ref[i]!)));
      // exp and log of the engine's libm against the reference's (both within an ulp or so of exact)
      assert.ok(worst < 1e-5, `${what}: relative difference ${worst}`);
    };
    let first: Buffer | undefined;
    for (const nth of [1, 2, 3]) {
      K.write(ps, state0);
      for (let ith = 0; ith < nth; ith++) scan(ps, perSeq, rows0, pxbc, stride, pdt, dtStride, pb, pa, pd, py, dState, headDim, nHead, nGroup, nTok, ith, nth);
      const y = get(py, nTok * dInner);
      close(y, want, `nth ${nth} y`);
      close(get(ps, state0.length), stateRef, `nth ${nth} state`);
      if (!first) first = Buffer.from(bits(y));
      else assert.ok(bits(y).equals(first), `nth ${nth} differs from nth 1`);
    }
    // token by token through the state: the bits of the batch
    K.write(ps, state0);
    const pieces = new Float32Array(nTok * dInner);
    for (let t = 0; t < nTok; t++) {
      scan(ps, perSeq, rows0, pxbc + t * stride * 4, stride, pdt + t * dtStride * 4, dtStride, pb, pa, pd, py, dState, headDim, nHead, nGroup, 1, 0, 1);
      pieces.set(get(py, dInner), t * dInner);
    }
    assert.ok(bits(pieces).equals(first!), 'token by token differs from the batch');
    // a second sequence interleaved (slot 1, its own state and inputs): each gets the bits it gets alone
    const nB = nTok + 1;
    const xbcB = randn(rand, nB * stride), dtB = randn(rand, nB * dtStride), stateB = randn(rand, perSeq);
    const aloneB = (() => {
      const pyB = alloc(nB * dInner * 4);
      K.write(ps, stateB);
      scan(ps, perSeq, slot0(nB), put(xbcB), stride, put(dtB), dtStride, pb, pa, pd, pyB, dState, headDim, nHead, nGroup, nB, 0, 1);
      return { y: get(pyB, nB * dInner), state: get(ps, perSeq) };
    })();
    K.write(ps, state0);
    scan(ps, perSeq, rows0, pxbc, stride, pdt, dtStride, pb, pa, pd, py, dState, headDim, nHead, nGroup, nTok, 0, 1);
    const stateA = get(ps, perSeq);
    const mx = mix(xbc, xbcB, stride, nTok, nB), md = mix(dt, dtB, dtStride, nTok, nB);
    const ps2 = alloc(2 * perSeq * 4), pym = alloc(mx.slots.length * dInner * 4), rows = kvRows(mx.slots);
    const [pmx, pmd] = [put(mx.mixed), put(md.mixed)];
    for (const nth of [1, 3]) {
      K.write(ps2, state0);
      K.write(ps2 + perSeq * 4, stateB);
      for (let ith = 0; ith < nth; ith++) scan(ps2, perSeq, rows, pmx, stride, pmd, dtStride, pb, pa, pd, pym, dState, headDim, nHead, nGroup, mx.slots.length, ith, nth);
      const [yA, yB] = unmix(get(pym, mx.slots.length * dInner), dInner, mx.order, nTok, nB);
      assert.ok(bits(yA).equals(first!) && bits(yB).equals(bits(aloneB.y)), `two sequences, nth ${nth}: outputs differ from each alone`);
      assert.ok(bits(get(ps2, perSeq)).equals(bits(stateA)) && bits(get(ps2 + perSeq * 4, perSeq)).equals(bits(aloneB.state)), `two sequences, nth ${nth}: states differ`);
    }
  });
}

/** Max relative difference, |a - b| / (1 + |b|). */
function relDiff(got: Float32Array, ref: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i]! - ref[i]!) / (1 + Math.abs(ref[i]!)));
  return worst;
}

test('l2_norm_heads_f32: the reference, bit for bit, for nth 1..3 (a strided view)', () => {
  const rand = mulberry32(77);
  const [nTok, nHead, hd, stride] = [5, 3, 40, 3 * 40 + 7];
  const x = randn(rand, nTok * stride);
  x.fill(0, 0, hd); // one all-zero head: eps keeps it finite
  const want = l2NormHeadsRef(x, stride, nTok, nHead, hd, 1e-6);
  const px = put(x), py = alloc(want.byteLength);
  for (const nth of [1, 2, 3]) {
    for (let ith = 0; ith < nth; ith++) K.lookup<Fn>('l2_norm_heads_f32')!(px, stride, py, nTok, nHead, hd, 1e-6, ith, nth);
    assert.ok(bits(get(py, want.length)).equals(bits(want)), `nth ${nth}`);
  }
});

for (const [S, nK, nV, nTok, grouped] of [[64, 2, 4, 5, true], [40, 1, 3, 3, true], [128, 2, 2, 2, true], [64, 2, 4, 4, false], [32, 1, 2, 3, false]] as const) {
  test(`gated_delta_net_f32: S ${S}, ${nK} key heads, ${nV} value heads, ${nTok} tokens, ${grouped ? 'grouped (qwen3next)' : 'tiled (qwen35)'}: the reference, nth 1..3, token by token`, () => {
    const rand = mulberry32(S * 3 + nK * 5 + nV * 7 + nTok);
    const q = l2NormHeadsRef(randn(rand, nTok * nK * S), nK * S, nTok, nK, S, 1e-6);
    const k = l2NormHeadsRef(randn(rand, nTok * nK * S), nK * S, nTok, nK, S, 1e-6);
    const vStride = nV * S + 9, baStride = grouped ? 2 * nV : nV;
    const v = randn(rand, nTok * vStride);
    const ba = randn(rand, nTok * baStride).map((x, i) => (i % 11 === 3 ? 22 + x : x));
    const aSep = randn(rand, nTok * baStride).map((x, i) => (i % 7 === 2 ? 21 + x : x));
    const dtBias = randn(rand, nV);
    const A = randn(rand, nV).map((x) => -Math.exp(x));
    const state0 = randn(rand, nV * S * S).map((x) => 0.1 * x);
    const stateRef = state0.slice();
    const want = gatedDeltaNetRef({ state: stateRef, q, k, v, vStride, b: ba, a: aSep, abStride: baStride, grouped, dtBias, A, S, nKHead: nK, nVHead: nV, nTok });
    const gdn = K.lookup<Fn>('gated_delta_net_f32')!;
    const [pq, pk, pv, pba, pb, pa] = [put(q), put(k), put(v), put(ba), put(dtBias), put(A)];
    const pas = grouped ? pba + (nV / nK) * 4 : put(aSep);
    const g = grouped ? 1 : 0;
    const ps = alloc(state0.byteLength), po = alloc(want.byteLength);
    const perSeq = state0.length, rows0 = slot0(nTok);
    let first: Buffer | undefined;
    for (const nth of [1, 2, 3]) {
      K.write(ps, state0);
      for (let ith = 0; ith < nth; ith++) gdn(ps, perSeq, rows0, pq, pk, pv, vStride, pba, pas, baStride, g, pb, pa, po, S, nK, nV, nTok, ith, nth);
      const out = get(po, want.length);
      // exp and log of the engine's libm against the reference's
      assert.ok(relDiff(out, want) < 1e-5, `nth ${nth} out: ${relDiff(out, want)}`);
      assert.ok(relDiff(get(ps, state0.length), stateRef) < 1e-5, `nth ${nth} state`);
      if (!first) first = Buffer.from(bits(out));
      else assert.ok(bits(out).equals(first), `nth ${nth} differs from nth 1`);
    }
    K.write(ps, state0);
    const pieces = new Float32Array(want.length);
    const row = nV * S;
    for (let t = 0; t < nTok; t++) {
      gdn(ps, perSeq, rows0, pq + t * nK * S * 4, pk + t * nK * S * 4, pv + t * vStride * 4, vStride, pba + t * baStride * 4, pas + t * baStride * 4, baStride, g, pb, pa, po, S, nK, nV, 1, 0, 1);
      pieces.set(get(po, row), t * row);
    }
    assert.ok(bits(pieces).equals(first!), 'token by token differs from the batch');
    // a second sequence interleaved (slot 1): each gets the bits it gets alone
    const nB = nTok + 1;
    const B = {
      q: l2NormHeadsRef(randn(rand, nB * nK * S), nK * S, nB, nK, S, 1e-6), k: l2NormHeadsRef(randn(rand, nB * nK * S), nK * S, nB, nK, S, 1e-6),
      v: randn(rand, nB * vStride), ba: randn(rand, nB * baStride), a: randn(rand, nB * baStride), state: randn(rand, perSeq).map((x) => 0.1 * x),
    };
    const pB = { q: put(B.q), k: put(B.k), v: put(B.v), ba: put(B.ba), a: put(B.a) };
    const pasB = grouped ? pB.ba + (nV / nK) * 4 : pB.a;
    const poB = alloc(nB * nV * S * 4);
    K.write(ps, B.state);
    gdn(ps, perSeq, slot0(nB), pB.q, pB.k, pB.v, vStride, pB.ba, pasB, baStride, g, pb, pa, poB, S, nK, nV, nB, 0, 1);
    const aloneB = { out: get(poB, nB * nV * S), state: get(ps, perSeq) };
    K.write(ps, state0);
    gdn(ps, perSeq, rows0, pq, pk, pv, vStride, pba, pas, baStride, g, pb, pa, po, S, nK, nV, nTok, 0, 1);
    const stateA = get(ps, perSeq);
    const mq = mix(q, B.q, nK * S, nTok, nB), mk = mix(k, B.k, nK * S, nTok, nB), mv = mix(v, B.v, vStride, nTok, nB);
    const mba = mix(ba, B.ba, baStride, nTok, nB), ma = mix(aSep, B.a, baStride, nTok, nB);
    const pm = { q: put(mq.mixed), k: put(mk.mixed), v: put(mv.mixed), ba: put(mba.mixed), a: put(ma.mixed) };
    const pasM = grouped ? pm.ba + (nV / nK) * 4 : pm.a;
    const nM = mq.slots.length, ps2 = alloc(2 * perSeq * 4), pom = alloc(nM * nV * S * 4), rows = kvRows(mq.slots);
    for (const nth of [1, 3]) {
      K.write(ps2, state0);
      K.write(ps2 + perSeq * 4, B.state);
      for (let ith = 0; ith < nth; ith++) gdn(ps2, perSeq, rows, pm.q, pm.k, pm.v, vStride, pm.ba, pasM, baStride, g, pb, pa, pom, S, nK, nV, nM, ith, nth);
      const [oA, oB] = unmix(get(pom, nM * nV * S), nV * S, mq.order, nTok, nB);
      assert.ok(bits(oA).equals(first!) && bits(oB).equals(bits(aloneB.out)), `two sequences, nth ${nth}: outputs differ from each alone`);
      assert.ok(bits(get(ps2, perSeq)).equals(bits(stateA)) && bits(get(ps2 + perSeq * 4, perSeq)).equals(bits(aloneB.state)), `two sequences, nth ${nth}: states differ`);
    }
  });
}

test('ssm_scan reference: one head, one state value, by hand', () => {
  // dt + bias = 0: softplus = ln 2; A = -1: dA = 1/2; state 4 -> 4/2 + B*x*ln2; y = state*C + x*D
  const ln2 = Math.fround(Math.log(2));
  const state = new Float32Array([4]);
  const y = ssmScanRef({ state, xbc: new Float32Array([1, 2, 3]), xbcStride: 3, dt: new Float32Array([0]), dtStride: 1, dtBias: new Float32Array([0]),
    A: new Float32Array([-1]), D: new Float32Array([10]), dState: 1, headDim: 1, nHead: 1, nGroup: 1, nTok: 1 });
  const st = Math.fround(2 + Math.fround(2 * ln2));
  assert.is(state[0], st);
  assert.is(y[0], Math.fround(Math.fround(st * 3) + 10));
});

test('ssm_conv reference: a hand-computed case', () => {
  // one channel, taps [1, 2, 4], state [10, 20]: y0 = 10 + 40 + 4*1, y1 = 20 + 2 + 4*3
  const { y, state } = ssmConvRef(new Float32Array([1, 3]), new Float32Array([10, 20]), new Float32Array([1, 2, 4]), 1, 2, 3);
  assert.equal([...y], [54, 34]);
  assert.equal([...state], [1, 3]);
});

test.run();
