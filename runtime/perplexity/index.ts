// Perplexity as llama-perplexity computes it (tools/perplexity/perplexity.cpp):
// the whole text tokenized with BOS, cut into chunks of n_ctx tokens, each
// chunk evaluated from an empty cache with its first token replaced by BOS
// when the model adds one, and the loss taken over the second half of each
// chunk only, so every scored token has at least n_ctx/2 tokens of context.
import { modelFiles } from '../../formats/output-file.js';
import type { Model } from '../model.js';
import { LogitsFileWriter } from './kld.js';

export interface PerplexityOptions {
  /** n_ctx: tokens per chunk. Default 512. */
  contextSize?: number;
  /** n_batch: tokens per graph run. Default 2048 (llama.cpp's), capped at contextSize. */
  batchSize?: number;
  /** Chunks to evaluate at most (--chunks). Default: all. */
  chunks?: number;
  threads?: number;
  /**
   * --kl-divergence-base: save the scored positions' log-probabilities in
   * llama.cpp's format, for klDivergence against another model later.
   */
  logitsFile?: string;
  /** Files logitsFile may not be, besides the model's (the text's file). */
  inputs?: readonly string[];
  /** Before the first chunk: how many there are and how many tokens the text has. */
  onStart?: (nChunks: number, nTokens: number) => void;
  /** After each chunk: its 1-based number and the running estimate, as llama.cpp prints [1]12.3456. */
  onChunk?: (chunk: number, nChunks: number, ppl: number) => void;
}

export interface PerplexityResult {
  ppl: number;
  /** The uncertainty llama.cpp prints after +/-. */
  pplError: number;
  nChunks: number;
  /** Tokens scored. */
  count: number;
  /** Running estimate after each chunk. */
  chunkPPL: number[];
  /** The text's tokens (BOS first when the model adds one). */
  tokens: number[];
}

/** -log p(token) under a row of logits; llama.cpp's log_softmax (float exps summed in double). */
export function negLogProb(logits: Float32Array, token: number): number {
  let max = logits[0]!;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.fround(Math.exp(Math.fround(logits[i]! - max)));
  return -(Math.fround(logits[token]! - max) - Math.log(sum));
}

/** The tokens of each chunk as evaluated: BOS in place of the first token when the model adds BOS. */
export function perplexityChunks(tokens: readonly number[], nCtx: number, addBos: boolean, bos: number | undefined, maxChunks = -1): number[][] {
  if (tokens.length < 2 * nCtx) {
    throw new RangeError(`you need at least ${2 * nCtx} tokens to evaluate perplexity with a context of ${nCtx}; the text tokenizes to only ${tokens.length} tokens`);
  }
  const nMax = Math.floor(tokens.length / nCtx);
  const n = maxChunks < 0 ? nMax : Math.min(maxChunks, nMax);
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const chunk = tokens.slice(i * nCtx, (i + 1) * nCtx);
    if (addBos && bos !== undefined) chunk[0] = bos;
    out.push(chunk);
  }
  return out;
}

/** Accumulates -log p over chunks and gives llama.cpp's estimate and uncertainty. */
export class PerplexityAccumulator {
  private nll = 0;
  private nll2 = 0;
  count = 0;

  add(nlp: number): void {
    this.addSums(nlp, nlp * nlp, 1);
  }

  addSums(nll: number, nll2: number, count: number): void {
    this.nll += nll;
    this.nll2 += nll2;
    this.count += count;
  }

  get ppl(): number {
    return Math.exp(this.nll / this.count);
  }

  /** sqrt(var(-log p) / (count - 1)) * ppl: the standard error of the mean, carried through exp. */
  get error(): number {
    const mean = this.nll / this.count;
    const variance = this.nll2 / this.count - mean * mean;
    return variance > 0 ? Math.sqrt(variance / (this.count - 1)) * this.ppl : NaN;
  }
}

export async function perplexity(model: Model, text: string, options: PerplexityOptions = {}): Promise<PerplexityResult> {
  const nCtx = options.contextSize ?? 512;
  const tok = model.tokenizer;
  const tokens = model.tokenize(text, { addSpecial: true });
  const chunks = perplexityChunks(tokens, nCtx, tok.addBos, tok.bosId, options.chunks ?? -1);
  const nBatch = Math.min(options.batchSize ?? 2048, nCtx);
  // llama.cpp packs n_batch / n_ctx whole chunks per batch and asserts they fit exactly
  if (options.batchSize !== undefined && options.batchSize > nCtx && options.batchSize % nCtx !== 0) {
    throw new RangeError(`the batch size (${options.batchSize}) must be below the context (${nCtx}) or a multiple of it, as in llama-perplexity`);
  }
  options.onStart?.(chunks.length, tokens.length);
  const first = Math.floor(nCtx / 2);
  const nVocab = model.hparams.n_vocab;
  const ctx = model.createContext({ contextSize: nCtx, batchSize: nBatch, threads: options.threads });
  const acc = new PerplexityAccumulator();
  const chunkPPL: number[] = [];
  const inputs = [...modelFiles(model.path), ...(options.inputs ?? [])];
  const writer = options.logitsFile === undefined ? undefined : new LogitsFileWriter(options.logitsFile, nCtx, nVocab, chunks.length, tokens, inputs);
  let complete = false;
  try {
    for (let c = 0; c < chunks.length; c++) {
      const chunk = chunks[c]!;
      ctx.reset();
      const logits = ctx.evaluate(chunk, { allLogits: true });
      // position j predicts the original token j+1 (only the first token was replaced)
      const original = tokens.slice(c * nCtx, (c + 1) * nCtx);
      if (writer) {
        const rows = [];
        for (let j = first; j < nCtx - 1; j++) rows.push(logits.subarray(j * nVocab, (j + 1) * nVocab));
        const { nll, nll2 } = writer.writeChunk(rows, original.slice(first + 1));
        acc.addSums(nll, nll2, rows.length);
      } else {
        for (let j = first; j < nCtx - 1; j++) acc.add(negLogProb(logits.subarray(j * nVocab, (j + 1) * nVocab), original[j + 1]!));
      }
      chunkPPL.push(acc.ppl);
      options.onChunk?.(c + 1, chunks.length, acc.ppl);
      // SIGINT/SIGTERM land here, and remove the unfinished logits file
      await new Promise((r) => setImmediate(r));
    }
    complete = true;
  } finally {
    ctx.dispose();
    writer?.close(complete);
  }
  return { ppl: acc.ppl, pplError: acc.error, nChunks: chunks.length, count: acc.count, chunkPPL, tokens };
}
