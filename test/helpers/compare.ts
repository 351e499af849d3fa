// Comparing our next-token distributions with llama.cpp's (node-llama-cpp).
import type { ControlledEvaluateInputItem, LlamaContextOptions, LlamaModel, Token } from 'node-llama-cpp';

/** llama.cpp's next-token probabilities after each token of `tokens` (flash attention off). */
export async function llamaCppProbabilities(
  model: LlamaModel, tokens: number[], contextSize = 512, options: Omit<LlamaContextOptions, 'contextSize' | 'threads'> = {}, from = 0,
): Promise<Map<number, number>[]> {
  // Flash attention rounds differently from the non-flash path our kernels follow (see
  // kernels/ops-attention.c): off unless a test asks for it (to measure llama.cpp's own spread).
  const ctx = await model.createContext({ flashAttention: false, ...options, contextSize, threads: 1 });
  try {
    // positions before `from` are evaluated without output
    const res = await ctx.getSequence().controlledEvaluate(tokens.map((t, i): ControlledEvaluateInputItem => (i < from ? t as Token : [t as Token, { generateNext: { probabilities: true } }])));
    return res.slice(from).map((r, j) => {
      const i = j + from;
      const p = r?.next?.probabilities;
      if (!p) throw new Error(`llama.cpp gave no probabilities at position ${i}`);
      return p;
    });
  } finally {
    await ctx.dispose();
  }
}

export interface DistributionStats {
  positions: number;
  meanKL: number;
  maxKL: number;
  argmaxAgreement: number;
  /** Mean entropy (nats) of llama.cpp's distributions: how peaked they are. */
  meanEntropy: number;
}

/** KL(llama.cpp || ours) per position from our logits rows (n_vocab each) and llama.cpp's probabilities. */
export function compareDistributions(ours: Float32Array, nVocab: number, theirs: Map<number, number>[]): DistributionStats {
  let kl = 0, maxKL = 0, agree = 0, ent = 0;
  const n = theirs.length;
  if (ours.length !== n * nVocab) throw new Error(`expected ${n} rows of ${nVocab} logits, got ${ours.length} values`);
  for (let i = 0; i < n; i++) {
    const row = ours.subarray(i * nVocab, (i + 1) * nVocab);
    let mx = -Infinity;
    for (const l of row) mx = Math.max(mx, l);
    let sum = 0;
    for (const l of row) sum += Math.exp(l - mx);
    const logSum = Math.log(sum);
    let k = 0, e = 0, pBest = -1, pId = -1, qBest = -Infinity, qId = -1;
    for (let j = 0; j < nVocab; j++) {
      const logq = row[j]! - mx - logSum;
      const p = theirs[i]!.get(j) ?? 0;
      if (p > 0) {
        k += p * (Math.log(p) - logq);
        e -= p * Math.log(p);
      }
      if (p > pBest) { pBest = p; pId = j; }
      if (logq > qBest) { qBest = logq; qId = j; }
    }
    kl += k;
    maxKL = Math.max(maxKL, k);
    ent += e;
    if (pId === qId) agree++;
    else if (process.env.RUN_GGUF_DEBUG_FLIPS) {
      const sorted = [...theirs[i]!.values()].sort((a, b) => b - a);
      console.log(`    flip at ${i}: llama.cpp top ${pId} p=${pBest.toFixed(4)} (2nd p=${sorted[1]?.toFixed(4)}), ours ${qId} p(ours top)=${Math.exp(qBest).toFixed(4)}`);
    }
  }
  return { positions: n, meanKL: kl / n, maxKL, argmaxAgreement: agree / n, meanEntropy: ent / n };
}

/** Pools stats of several sequences, weighting by positions. */
export function poolStats(list: DistributionStats[]): DistributionStats {
  const n = list.reduce((s, x) => s + x.positions, 0);
  const w = (f: (x: DistributionStats) => number) => list.reduce((s, x) => s + f(x) * x.positions, 0) / n;
  return {
    positions: n,
    meanKL: w((x) => x.meanKL),
    maxKL: Math.max(...list.map((x) => x.maxKL)),
    argmaxAgreement: w((x) => x.argmaxAgreement),
    meanEntropy: w((x) => x.meanEntropy),
  };
}
