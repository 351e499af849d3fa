import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  applyMinP,
  applyPenalties,
  applyTemp,
  applyTopK,
  applyTopP,
  argmaxLogits,
  argmaxSlot,
  candidatesFrom,
  createCandidates,
  loadTopK,
  countRecent,
  createSampler,
  LLAMA_DEFAULT_SEED,
  sampleSlot,
  SAMPLER_DEFAULTS,
  softmax,
  sortCandidates,
  sortTop,
  TokenWindow,
  Xoshiro128,
  type Candidates,
} from '../runtime/sample/index.js';
import { gaussian, mulberry32 } from './helpers/rng.js';

const ln = Math.log;
const kept = (c: Candidates): number[] => Array.from(c.ids.subarray(0, c.size));
const close = (a: number, b: number, eps = 1e-5): boolean => Math.abs(a - b) <= eps;

// Ground truth written the slow, obvious way: full sort by (logit desc, id asc).
function referenceOrder(logits: ArrayLike<number>): number[] {
  const ids = Array.from({ length: logits.length }, (_, i) => i);
  ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  return ids;
}

test('defaults are llama.cpp common_params_sampling', () => {
  assert.equal({ ...SAMPLER_DEFAULTS }, {
    temp: 0.8,
    top_k: 40,
    top_p: 0.95,
    min_p: 0.05,
    min_keep: 1,
    penalty_last_n: 64,
    penalty_repeat: 1,
    penalty_freq: 0,
    penalty_present: 0,
    seed: 0xffffffff,
  });
  assert.equal(createSampler().options, SAMPLER_DEFAULTS);
  assert.is(createSampler({ top_k: 7 }).options.top_k, 7);
  assert.throws(() => createSampler({ penalty_last_n: -1 }), /context size/);
  assert.throws(() => createSampler({ seed: 2 ** 32 }), /seed/);
  assert.throws(() => createSampler({ temp: NaN }), /temp/);
});

test('softmax: known probabilities', () => {
  const c = candidatesFrom([ln(1), ln(2), ln(3), ln(4)]);
  softmax(c);
  [0.1, 0.2, 0.3, 0.4].forEach((p, i) => assert.ok(close(c.probs[i]!, p), `p[${i}] = ${c.probs[i]}`));
  const big = candidatesFrom([1000, 1000]); // would overflow exp() without the max shift
  softmax(big);
  assert.ok(close(big.probs[0]!, 0.5) && close(big.probs[1]!, 0.5));
});

test('top_k: keeps the k best, sorted; ties to the lower id; <= 0 disables', () => {
  const c = candidatesFrom([1, 2, 3, 4]);
  applyTopK(c, 2);
  assert.equal(kept(c), [3, 2]);
  assert.ok(c.sorted);

  const all = candidatesFrom([1, 2, 3, 4]);
  applyTopK(all, 10);
  assert.equal(kept(all), [3, 2, 1, 0]);

  const off = candidatesFrom([1, 2, 3, 4]);
  applyTopK(off, 0);
  assert.equal(kept(off), [0, 1, 2, 3]);

  const ties = candidatesFrom([5, 5, 1, 5]);
  applyTopK(ties, 2);
  assert.equal(kept(ties), [0, 1]);
});

test('partial ordering matches a full sort (ties, -Infinity, many k)', () => {
  const rand = mulberry32(7);
  const n = 5000;
  const logits = new Float32Array(n);
  // Few distinct values so ties are everywhere, plus masked tokens.
  for (let i = 0; i < n; i++) logits[i] = rand() < 0.1 ? -Infinity : Math.floor(rand() * 20) / 4;
  const ref = referenceOrder(logits);
  for (const k of [1, 2, 17, 40, 256, 1000, n - 5, n]) {
    const c = candidatesFrom(logits);
    applyTopK(c, k);
    assert.equal(kept(c), ref.slice(0, k), `k = ${k}`);
  }
  const c = candidatesFrom(logits);
  sortTop(c, 100);
  assert.equal(Array.from(c.ids.subarray(0, 100)), ref.slice(0, 100));
  assert.is(c.size, n); // sortTop orders, never cuts
  // Already-sorted input must not go quadratic or wrong.
  const asc = Float32Array.from({ length: 20000 }, (_, i) => i);
  const s = candidatesFrom(asc);
  sortCandidates(s);
  assert.is(s.ids[0], 19999);
  assert.is(s.ids[19999], 0);
});

test('top_p: smallest prefix reaching p, at least min_keep', () => {
  // p(id) = 0.15, 0.5, 0.05, 0.3 -> order 1, 3, 0, 2 with cumulative 0.5, 0.8, 0.95, 1.
  const probs = [0.15, 0.5, 0.05, 0.3];
  const make = (): Candidates => candidatesFrom(probs.map(ln));
  const run = (p: number, min_keep = 1): number[] => {
    const c = make();
    applyTopP(c, p, min_keep);
    return kept(c);
  };
  assert.equal(run(0.9), [1, 3, 0]);
  assert.equal(run(0.75), [1, 3]);
  assert.equal(run(0.4), [1]);
  assert.equal(run(0), [1]); // never empty
  assert.equal(run(0.1, 3), [1, 3, 0]);
  assert.equal(run(1), [0, 1, 2, 3]); // disabled: untouched, unsorted
  // After top_k the candidates are sorted and fewer: top_p renormalises over them.
  const c = make();
  applyTopK(c, 2); // 0.5 and 0.3 -> 0.625, 0.375
  applyTopP(c, 0.6);
  assert.equal(kept(c), [1]);
});

test('top_p: unsorted and flat enough to need more than the first 256', () => {
  const n = 5000;
  const rand = mulberry32(11);
  const logits = new Float32Array(n).fill(-20);
  const zeros: number[] = [];
  while (zeros.length < 600) {
    const i = Math.floor(rand() * n);
    if (logits[i] !== 0) {
      logits[i] = 0;
      zeros.push(i);
    }
  }
  zeros.sort((a, b) => a - b);
  // 600 equal tokens hold ~all the mass: 0.9025 of it needs 542 of them (541.5 rounded up).
  const c = candidatesFrom(logits);
  applyTopP(c, 0.9025);
  assert.equal(kept(c), zeros.slice(0, 542));
});

test('min_p: relative to the max probability, sorted or not', () => {
  // p = 0.3, 0.04, 0.5, 0.01, 0.15; min_p 0.1 -> threshold 0.05 keeps 0.3, 0.5, 0.15.
  const probs = [0.3, 0.04, 0.5, 0.01, 0.15];
  const unsorted = candidatesFrom(probs.map(ln));
  applyMinP(unsorted, 0.1);
  assert.equal(kept(unsorted), [0, 2, 4]); // order kept, no sort needed
  const sorted = candidatesFrom(probs.map(ln));
  sortCandidates(sorted);
  applyMinP(sorted, 0.1);
  assert.equal(kept(sorted), [2, 0, 4]);
  // 0.5 * 0.7 = 0.35: only the max passes.
  const strict = candidatesFrom(probs.map(ln));
  applyMinP(strict, 0.7);
  assert.equal(kept(strict), [2]);
  // min_keep overrides the threshold with the next best.
  const keep = candidatesFrom(probs.map(ln));
  applyMinP(keep, 0.7, 3);
  assert.equal(kept(keep), [2, 0, 4]);
  // Relative: shifting every logit changes nothing.
  const shifted = candidatesFrom(probs.map((p) => ln(p) + 7));
  applyMinP(shifted, 0.1);
  assert.equal(kept(shifted), [0, 2, 4]);
  const off = candidatesFrom(probs.map(ln));
  applyMinP(off, 0);
  assert.is(off.size, 5);
});

test('penalties: right tokens, right amounts, both code paths', () => {
  const logits = [2, -1, 0.5, 3, 0];
  const history = [3, 1, 3, 2];
  const counts = countRecent(history, 4); // 3 twice, 1 and 2 once
  // repeat 2, freq 0.5, present 0.25:
  //   id1: -1 * 2 - (0.5 + 0.25) = -2.75 (negative: multiplied, not divided)
  //   id2: 0.5 / 2 - 0.75 = -0.5
  //   id3: 3 / 2 - (2 * 0.5 + 0.25) = 0.25
  const expected = [2, -2.75, -0.5, 0.25, 0];
  const byId = candidatesFrom(logits);
  applyPenalties(byId, counts, 2, 0.5, 0.25);
  expected.forEach((v, i) => assert.ok(close(byId.logits[i]!, v), `id ${i}: ${byId.logits[i]}`));

  const shuffled = candidatesFrom(logits);
  sortCandidates(shuffled); // slot != id now
  applyPenalties(shuffled, counts, 2, 0.5, 0.25);
  for (let s = 0; s < shuffled.size; s++) {
    const id = shuffled.ids[s]!;
    assert.ok(close(shuffled.logits[s]!, expected[id]!), `id ${id}: ${shuffled.logits[s]}`);
  }

  // last_n = 3 sees [1, 3, 2]: id3 counted once.
  const recent = candidatesFrom(logits);
  applyPenalties(recent, countRecent(history, 3), 1, 1, 0);
  assert.ok(close(recent.logits[3]!, 2) && close(recent.logits[0]!, 2));

  // Parameters act as C floats, as in llama.cpp: 1.1 is 1.10000002.
  const f = candidatesFrom([3]);
  applyPenalties(f, new Map([[0, 1]]), 1.1, 0, 0);
  assert.is(f.logits[0], Math.fround(3 / Math.fround(1.1)));

  const neutral = candidatesFrom(logits);
  applyPenalties(neutral, counts, 1, 0, 0);
  assert.equal(Array.from(neutral.logits), Array.from(Float32Array.from(logits)));
});

test('token window: counts follow evictions', () => {
  const w = new TokenWindow(3);
  for (const t of [5, 6, 5, 7, 5]) w.push(t);
  assert.equal(w.tokens(), [5, 7, 5]);
  assert.equal([...w.counts].sort((a, b) => a[0] - b[0]), [[5, 2], [7, 1]]);
  w.clear();
  assert.is(w.size, 0);
  assert.is(w.counts.size, 0);
  const none = new TokenWindow(0);
  none.push(1);
  assert.is(none.counts.size, 0);
});

test('sampler: penalties see only the last penalty_last_n accepted tokens', () => {
  const s = createSampler({ temp: 0, penalty_last_n: 2, penalty_repeat: 10 });
  const logits = Float32Array.from([5, 4.9, 1]);
  assert.is(s.sample(logits), 0);
  s.accept(0); // 0 -> 0.5
  assert.is(s.sample(logits), 1);
  s.accept(1); // 0 -> 0.5, 1 -> 0.49
  assert.is(s.sample(logits), 2);
  s.accept(2); // window [1, 2]: 0 is free again
  assert.is(s.sample(logits), 0);
  s.reset();
  s.accept(2);
  assert.is(s.sample(logits), 0);
});

test('temperature and greedy: ties go to the lowest id', () => {
  const c = candidatesFrom([1, 2]);
  applyTemp(c, 0.5);
  assert.equal(Array.from(c.logits.subarray(0, 2)), [2, 4]);
  const g = candidatesFrom([1, 3, 3, 2]);
  applyTemp(g, 0);
  assert.equal(kept(g), [1]);
  const logits = Float32Array.from([1, 3, 3, 2]);
  assert.is(createSampler({ temp: 0 }).sample(logits), 1);
  assert.is(createSampler({ temp: -1, top_k: 0, top_p: 1, min_p: 0 }).sample(logits), 1);
  assert.is(createSampler({ temp: 0 }).sample(Float32Array.from([-Infinity, -Infinity])), 0);
});

test('sampleSlot: cumulative walk, never a zero-probability slot', () => {
  const c = (): Candidates => candidatesFrom([ln(1), ln(2), ln(3), ln(4)]);
  assert.is(sampleSlot(c(), 0), 0);
  assert.is(sampleSlot(c(), 0.05), 0);
  assert.is(sampleSlot(c(), 0.15), 1);
  assert.is(sampleSlot(c(), 0.55), 2);
  assert.is(sampleSlot(c(), 0.999999), 3);
  assert.is(sampleSlot(candidatesFrom([-Infinity, 0]), 0), 1);
  assert.is(sampleSlot(candidatesFrom([0, -Infinity]), 0.9999999), 0);
});

test('xoshiro128**: deterministic, uniform-looking, seeds unrelated', () => {
  const a = new Xoshiro128(1);
  const b = new Xoshiro128(1);
  const c = new Xoshiro128(2);
  let same = 0;
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const x = a.nextDouble();
    assert.is(x, b.nextDouble());
    if (x === c.nextDouble()) same++;
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.is(same, 0);
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.01, `mean ${sum / 10000}`);
});

test('same seed -> same 200 tokens; different seed -> different', () => {
  const logits = gaussian(mulberry32(3), 1000, 2);
  const run = (seed: number): number[] => {
    const s = createSampler({ seed, temp: 1.5, top_k: 0, penalty_repeat: 1.1 });
    const out: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = s.sample(logits);
      s.accept(t);
      out.push(t);
    }
    return out;
  };
  const a = run(42);
  assert.equal(run(42), a);
  assert.not.equal(run(43), a);
  // reset() replays the sequence from the start.
  const s = createSampler({ seed: 42, temp: 1.5, top_k: 0, penalty_repeat: 1.1 });
  for (let i = 0; i < 50; i++) s.accept(s.sample(logits));
  s.reset();
  const replay: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = s.sample(logits);
    s.accept(t);
    replay.push(t);
  }
  assert.equal(replay, a);
  // A random seed is reported, and two random samplers differ.
  const r1 = createSampler({ seed: LLAMA_DEFAULT_SEED });
  const r2 = createSampler();
  assert.ok(Number.isInteger(r1.seed) && r1.seed >= 0);
  assert.is.not(r1.seed, r2.seed);
  assert.is(createSampler({ seed: 9 }).seed, 9);
});

// Pearson chi-square of observed counts against expected probabilities.
function chiSquare(counts: number[], probs: number[], draws: number): number {
  let chi = 0;
  for (let i = 0; i < probs.length; i++) {
    const e = probs[i]! * draws;
    chi += (counts[i]! - e) ** 2 / e;
  }
  return chi;
}

test('20,000 draws at temp 1 match softmax (chi-square)', () => {
  const logits = Float32Array.from([0.5, -1, 2, 0, 1.2, -0.3, 0.8, -2]);
  const max = Math.max(...logits);
  const e = Array.from(logits, (l) => Math.exp(l - max));
  const z = e.reduce((a, b) => a + b, 0);
  const probs = e.map((x) => x / z);
  const draws = 20000;
  const s = createSampler({ seed: 1234, temp: 1, top_k: 0, top_p: 1, min_p: 0 });
  const counts = new Array<number>(8).fill(0);
  for (let i = 0; i < draws; i++) counts[s.sample(logits)]!++;
  // 7 degrees of freedom: P(chi2 > 24.32) = 0.001.
  const chi = chiSquare(counts, probs, draws);
  assert.ok(chi < 24.32, `chi2 = ${chi.toFixed(2)}, counts ${counts}`);

  // With the default filters: top_k 3 leaves ids 2, 4, 6, renormalised, tempered by 0.5.
  const t = createSampler({ seed: 99, temp: 0.5, top_k: 3, top_p: 1, min_p: 0 });
  const ids = [2, 4, 6];
  const te = ids.map((i) => Math.exp((logits[i]! - max) / 0.5));
  const tz = te.reduce((a, b) => a + b, 0);
  const tc = [0, 0, 0];
  for (let i = 0; i < draws; i++) {
    const k = ids.indexOf(t.sample(logits));
    assert.ok(k >= 0);
    tc[k]!++;
  }
  // 2 degrees of freedom: P(chi2 > 13.82) = 0.001.
  const chi2 = chiSquare(tc, te.map((x) => x / tz), draws);
  assert.ok(chi2 < 13.82, `chi2 = ${chi2.toFixed(2)}, counts ${tc}`);
});

// Reference chain on a full sort: top_k, then top_p over what is left, then min_p.
const orderCache = new WeakMap<Float32Array, number[]>();
function referenceChain(logits: Float32Array, top_k: number, top_p: number, min_p: number): number[] {
  let order = orderCache.get(logits);
  if (!order) orderCache.set(logits, (order = referenceOrder(logits)));
  const max = logits[order[0]!]!;
  let ids = top_k > 0 ? order.slice(0, top_k) : order;
  const z = ids.reduce((a, id) => a + Math.exp(logits[id]! - max), 0);
  let cum = 0;
  for (let i = 0; i < ids.length && top_p < 1; i++) {
    cum += Math.exp(logits[ids[i]!]! - max) * (1 / z);
    if (cum >= top_p) {
      ids = ids.slice(0, i + 1);
      break;
    }
  }
  const threshold = max + Math.log(min_p);
  return ids.filter((id, i) => i === 0 || logits[id]! >= threshold);
}

function chain(logits: Float32Array, top_k: number, top_p: number, min_p: number): number[] {
  const c = candidatesFrom(logits);
  applyTopK(c, top_k);
  applyTopP(c, top_p);
  applyMinP(c, min_p);
  return kept(c);
}

// Same survivors, in any order (unsorted paths keep whatever order is cheapest).
// Compared by hand: uvu's diff of two 200K-element arrays would take minutes.
function sameSet(got: number[], want: number[], what: string): void {
  assert.is(got.length, want.length, `${what}: kept ${got.length}, want ${want.length}`);
  const a = Int32Array.from(got).sort();
  const b = Int32Array.from(want).sort();
  assert.is(a.findIndex((v, i) => v !== b[i]), -1, `${what}: different tokens`);
}

test('loadTopK and argmaxLogits: what loadLogits then applyTopK / argmaxSlot give, without the copy', () => {
  const rnd = mulberry32(77);
  const vectors: Float32Array[] = [];
  for (const n of [1, 2, 7, 300, 32000]) {
    // few distinct values: ties everywhere, also across the k-th place
    vectors.push(Float32Array.from({ length: n }, () => Math.round(rnd() * 8) / 2));
    vectors.push(gaussian(rnd, n, 3));
    const odd = gaussian(rnd, n, 1);
    for (let i = 0; i < n; i += 5) odd[i] = i % 3 === 0 ? NaN : -Infinity;
    vectors.push(odd);
  }
  vectors.push(Float32Array.from([NaN, NaN, NaN]), Float32Array.from([-Infinity, NaN, -Infinity]));
  // rising with the id: every logit would enter the heap (the selection path)
  vectors.push(Float32Array.from({ length: 32000 }, (_, i) => Math.floor(i / 3)));
  const reused = createCandidates();
  for (const v of vectors) {
    const best = argmaxSlot(candidatesFrom(v));
    assert.is(argmaxLogits(v), best, `argmax of ${v.length}`);
    for (const k of [1, 2, 3, 40, 299, 1024, v.length, v.length + 5]) {
      const want = candidatesFrom(v);
      applyTopK(want, k);
      const got = loadTopK(reused, v, k);
      assert.is(got.size, want.size, `k ${k} of ${v.length}: size`);
      assert.ok(got.sorted);
      for (let i = 0; i < want.size; i++) {
        if (got.ids[i] !== want.ids[i] || !Object.is(got.logits[i], want.logits[i])) {
          assert.unreachable(`k ${k} of ${v.length}: slot ${i} holds ${got.ids[i]} (${got.logits[i]}), want ${want.ids[i]} (${want.logits[i]})`);
        }
      }
    }
  }
  // ties at the k-th place go to the lower ids
  const tied = Float32Array.from([1, 3, 2, 3, 2, 2, 3, 2]);
  assert.equal(Array.from(loadTopK(createCandidates(), tied, 5).ids.subarray(0, 5)), [1, 3, 6, 2, 4]);
});

test('sampler: draws without penalties or grammar give the tokens of the whole chain', () => {
  const rnd = mulberry32(21);
  const logits = gaussian(rnd, 32000, 4);
  for (const o of [{}, { top_k: 1 }, { top_k: 1024 }, { top_k: 5, top_p: 1, min_p: 0 }, { temp: 0 }, { temp: 0, top_k: 0 }]) {
    const s = createSampler({ seed: 5, ...o });
    const opts = s.options;
    const rng = new Xoshiro128(5);
    for (let i = 0; i < 100; i++) {
      // the chain written out over a full copy of the logits
      const c = candidatesFrom(logits);
      let want: number;
      if (opts.temp <= 0) want = c.ids[argmaxSlot(c)]!;
      else {
        applyTopK(c, opts.top_k);
        applyTopP(c, opts.top_p, opts.min_keep);
        applyMinP(c, opts.min_p, opts.min_keep);
        applyTemp(c, opts.temp);
        want = c.ids[c.size > 1 ? sampleSlot(c, rng.nextDouble()) : 0]!;
      }
      const got = s.sample(logits);
      assert.is(got, want, `${JSON.stringify(o)}: token ${i}`);
      s.accept(got); // penalty_repeat 1: the window is kept but changes nothing
      logits[got] = logits[got]! - 0.5;
    }
  }
});

test('256K vocab: the chain matches a brute-force reference', () => {
  const n = 262144;
  // sigma 1 is flat: the top-p nucleus is most of the vocab (the bucketed path).
  const flat = gaussian(mulberry32(5), n, 1);
  assert.equal(chain(flat, 40, 0.95, 0.05), referenceChain(flat, 40, 0.95, 0.05)); // same order too
  const wide = chain(flat, 0, 0.95, 0);
  assert.ok(wide.length > 100000, `kept ${wide.length}`);
  sameSet(wide, referenceChain(flat, 0, 0.95, 0), 'flat, top_p 0.95');
  sameSet(chain(flat, 0, 0.3, 0.2), referenceChain(flat, 0, 0.3, 0.2), 'flat, top_p 0.3, min_p 0.2');
  sameSet(chain(flat, 0, 1, 0.5), referenceChain(flat, 0, 1, 0.5), 'flat, min_p 0.5');
  // sigma 6 is peaked: the nucleus lies within the first 256 ordered (the cheap path).
  const peaked = gaussian(mulberry32(8), n, 6);
  const nucleus = chain(peaked, 0, 0.95, 0);
  assert.ok(nucleus.length < 256, `kept ${nucleus.length}`);
  assert.equal(nucleus, referenceChain(peaked, 0, 0.95, 0));
  assert.equal(chain(peaked, 0, 0.95, 0.05), referenceChain(peaked, 0, 0.95, 0.05));
});

test('top_p bucketed path: min_keep past the crossing, -Infinity, equal logits', () => {
  const n = 4096;
  const logits = new Float32Array(n); // all equal: one bucket holds everything
  for (let i = 0; i < n; i += 3) logits[i] = -Infinity;
  const finite = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 !== 0);
  const c = candidatesFrom(logits);
  applyTopP(c, 0.3001); // 0.3001 of 2730 equal tokens is 819.27: 820, ties by id
  sameSet(kept(c), finite.slice(0, 820), 'equal logits');
  // One far outlier must not collapse the histogram (nor change the answer).
  const outlier = Float32Array.from(gaussian(mulberry32(12), n, 1));
  outlier[7] = -1e30;
  const o = candidatesFrom(outlier);
  applyTopP(o, 0.9);
  sameSet(kept(o), referenceChain(outlier, 0, 0.9, 0), 'outlier');
  const keep = candidatesFrom(logits);
  applyTopP(keep, 0.5, 3000); // min_keep beyond every finite token reaches into -Infinity
  assert.is(keep.size, 3000);
  sameSet(kept(keep).filter((id) => id % 3 !== 0), finite, 'min_keep');
});

// gc() is hidden unless node runs with --expose-gc; this flips the flag at run time.
function getGc(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}

test('256K vocab: repeated sampling does not grow memory', () => {
  const n = 262144;
  const logits = gaussian(mulberry32(6), n, 1);
  const gc = getGc();
  // Default chain with penalties, and top_k off (the bucketed top-p path).
  for (const options of [{ penalty_repeat: 1.1, penalty_freq: 0.1 }, { top_k: 0 }]) {
    const s = createSampler({ seed: 7, ...options });
    const go = (): void => {
      const t = s.sample(logits);
      assert.ok(t >= 0 && t < n);
      s.accept(t);
    };
    for (let i = 0; i < 3; i++) go(); // first call sizes the buffers; let the JIT settle
    if (!gc) {
      console.log('  skip memory check: gc() unavailable');
      return;
    }
    gc();
    const before = process.memoryUsage();
    // No gc between calls: a fresh 1 MB typed array per call would show here even
    // if it were garbage right after.
    for (let i = 0; i < 8; i++) go();
    const during = process.memoryUsage();
    gc();
    const after = process.memoryUsage();
    const perCall = during.arrayBuffers - before.arrayBuffers;
    const kept = after.heapUsed - before.heapUsed;
    assert.ok(perCall < 64 * 1024, `${JSON.stringify(options)}: array buffers grew ${perCall} bytes`);
    assert.ok(kept < 1024 * 1024, `${JSON.stringify(options)}: heap kept ${kept} bytes`);
  }
  // Greedy on the same logits is the plain argmax (no penalties accepted yet).
  assert.is(createSampler({ temp: 0 }).sample(logits), referenceOrder(logits)[0]);
});

test.run();
