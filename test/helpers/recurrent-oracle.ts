// The checks every recurrent (hybrid) architecture's oracle test makes
// beyond the distributions: llama.cpp's own spread between a batch and token
// by token, our threads and batches giving the same bits, two sequences in
// one context keeping their states apart, and prefix reuse / truncation
// doing what a state that cannot be cut back allows.
import * as assert from 'uvu/assert';
import { loadModel } from '../../runtime/index.js';
import { llamaCppProbabilities } from './compare.js';
import { oracle } from './oracle.js';
import { OUR_BATCH, withLlamaCpp } from './arch-oracle.js';

// the threads check is every architecture's (arch-oracle.ts); the hybrids' tests import it from here
export { assertThreadsAgree } from './arch-oracle.js';

const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Mean KL(a || b) between two lists of llama.cpp's probability maps. */
function meanKL(a: Map<number, number>[], b: Map<number, number>[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    for (const [id, p] of a[i]!) if (p > 0) sum += p * Math.log(p / Math.max(b[i]!.get(id) ?? 0, 1e-30));
  }
  return sum / a.length;
}

/** Mean KL between llama.cpp's distributions of `tokens` evaluated in one batch and one token at a time. */
export async function llamaCppSpread(path: string, tokens: number[]): Promise<number> {
  const batch = await withLlamaCpp(path, (llama) => llamaCppProbabilities(llama, tokens));
  const llama = await (await oracle()).loadModel({ modelPath: path });
  try {
    const ctx = await llama.createContext({ contextSize: 512, flashAttention: false, threads: 1, batchSize: 1 });
    const seq = ctx.getSequence();
    const one: Map<number, number>[] = [];
    for (const t of tokens) {
      const [r] = await seq.controlledEvaluate([[t as never, { generateNext: { probabilities: true } }]]);
      one.push(r!.next!.probabilities!);
    }
    await ctx.dispose();
    return meanKL(batch, one);
  } finally {
    await llama.dispose();
  }
}

/**
 * Two sequences of one context, fed 5 tokens at a time in turn (batches of
 * 8), give the bits each gives alone in its own context: each run leaves the
 * other sequence's state as it was.
 */
export async function assertSequencesApart(path: string, a: number[], b: number[]): Promise<void> {
  const model = await loadModel(path);
  try {
    const n = Math.min(a.length, b.length);
    const alone = (tokens: number[]) => {
      const ctx = model.createContext({ contextSize: 128, batchSize: 8, threads: 2 });
      const l = ctx.evaluate(tokens.slice(0, n), { allLogits: true });
      ctx.dispose();
      return l;
    };
    const [wantA, wantB] = [alone(a), alone(b)];
    const ctx = model.createContext({ contextSize: 128, batchSize: 8, sequences: 2, threads: 2 });
    const [sa, sb] = [ctx.createSequence(), ctx.createSequence()];
    const nV = model.hparams.n_vocab;
    for (let i = 0; i < n; i += 5) {
      const m = Math.min(5, n - i);
      const la = sa.append(a.slice(i, i + m), { allLogits: true });
      const lb = sb.append(b.slice(i, i + m), { allLogits: true });
      assert.ok(same(la, wantA.subarray(i * nV, (i + m) * nV)), `sequence a at ${i}`);
      assert.ok(same(lb, wantB.subarray(i * nV, (i + m) * nV)), `sequence b at ${i}`);
    }
    ctx.dispose();
  } finally {
    model.dispose();
  }
}

/**
 * A recurrent state cannot be cut back: continuing what a sequence holds
 * reuses it all; a branch after a shorter common prefix is evaluated from
 * the start, or from the checkpoint (the end of the last multi-token append)
 * when the common prefix reaches it; truncate(n) goes back to the checkpoint
 * or the start and evaluates up to n again. Each result equals a fresh
 * context's bits.
 */
export async function assertRecurrentReuse(path: string, a: number[], other: number[]): Promise<void> {
  const model = await loadModel(path);
  try {
    const fresh = (tokens: number[]) => {
      const ctx = model.createContext({ contextSize: 128, batchSize: 16 });
      const l = ctx.evaluate(tokens);
      ctx.dispose();
      return l;
    };
    const ctx = model.createContext({ contextSize: 128, batchSize: 16 });
    const s = ctx.sequence;
    s.evaluate(a);
    let r = s.evaluate([...a, ...other]);
    assert.is(r.reused, a.length);
    assert.ok(same(r.logits, fresh([...a, ...other])), 'continuing a held sequence');
    const branch = [...a.slice(0, 30), ...other];
    r = s.evaluate(branch);
    assert.is(r.reused, 0);
    assert.ok(same(r.logits, fresh(branch)), 'a branch after 30 tokens');
    // the branch's evaluation left a checkpoint at its end: a continuation that differs after it
    // (a reply tokenized otherwise) starts from there
    s.append([other[0]!]);
    s.append([other[1]!]);
    const cont = [...branch, other[0]!, other[2]!, other[3]!];
    r = s.evaluate(cont);
    assert.is(r.reused, branch.length);
    assert.ok(same(r.logits, fresh(cont)), 'a continuation from the checkpoint');
    // truncate below the checkpoint: from the start; above it: from the checkpoint
    s.truncate(25);
    assert.is(s.position, 25);
    assert.equal(s.tokens, branch.slice(0, 25));
    let l = s.append(other);
    assert.ok(same(l, fresh([...branch.slice(0, 25), ...other])), 'append after truncate(25)');
    const held = s.tokens;
    s.append([other[4]!]);
    s.append([other[5]!]);
    s.truncate(held.length + 1);
    l = s.append([other[6]!]);
    assert.ok(same(l, fresh([...held, other[4]!, other[6]!])), 'append after a truncate past the checkpoint');
    ctx.dispose();
  } finally {
    model.dispose();
  }
}
