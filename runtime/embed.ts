// Text embeddings from encoder models (bert, nomic-bert): texts are
// tokenized ([CLS] ... [SEP] for WordPiece vocabularies), packed several to a
// batch (each sequence sees only itself), run through the architecture's
// graph to the last hidden states, pooled per sequence as the file's
// pooling_type says (or as asked) and L2-normalised. Like llama.cpp, a
// sequence is evaluated whole in one batch, with positions from 0.
import { GGMLType } from '../formats/ggml-types.js';
import type { EncoderBuildContext } from './arch/bert.js';
import { defaultThreads, weightLookup, type ContextModel } from './context.js';
import { ModelError } from './errors.js';
import type { Tensor } from './graph/graph.js';
import { GraphRunner } from './graph/runner.js';
import { MAX_THREADS } from './graph/ops.js';
import { intOption } from './options.js';
import type { HParams } from './hparams.js';

/** How a sequence's token vectors become one vector; the order is llama.cpp's enum (0 none ... 3 last). */
export const POOLING_TYPES = ['none', 'mean', 'cls', 'last'] as const;
export type PoolingType = (typeof POOLING_TYPES)[number];

export interface EmbedOptions {
  /**
   * Default: the file's `<arch>.pooling_type`. 'none' returns every token's
   * vector, concatenated ([n_tokens * n_embd]).
   */
  pooling?: PoolingType;
  /** Divide each vector by its L2 norm. Default true. */
  normalize?: boolean;
}

export interface EmbedderOptions {
  /** Tokens per graph run, the longest sequence allowed (llama.cpp's n_ubatch for encoders). Default 512. */
  batchSize?: number;
  /** Threads sharing every op. Default: the number of cores. */
  threads?: number;
}

/** Architectures whose graph ends in hidden states, not logits. */
export const ENCODER_ARCHITECTURES: ReadonlySet<string> = new Set(['bert', 'nomic-bert']);

/** The file's pooling (llama.cpp: pooling_type, none when absent). */
export function modelPooling(hp: HParams, file?: string): PoolingType {
  const t = hp.pooling_type ?? 0;
  const p = POOLING_TYPES[t];
  if (!p) {
    const why = t === 4 ? 'this is a reranker: use model.rank(), or give a pooling to embed with' : `not one of ${POOLING_TYPES.map((n, i) => `${i} ${n}`).join(', ')}, 4 rank`;
    throw new ModelError(`${hp.arch}.pooling_type = ${t}: ${why}`, file, `${hp.arch}.pooling_type`);
  }
  return p;
}

export function parsePooling(s: string): PoolingType {
  const p = POOLING_TYPES.find((n) => n === s);
  if (!p) throw new RangeError(`pooling must be one of ${POOLING_TYPES.join(', ')}, got "${s}"`);
  return p;
}

/**
 * Builds a classifier head over hidden states [n_embd, n_tokens], given the
 * row of each sequence (int32 [n_seqs]); returns [n_cls_out, n_seqs].
 */
export type ClassifierHead = (c: EncoderBuildContext, hidden: Tensor, rows: Tensor) => Tensor;

/** Row counts graphs are built for: batches are padded up to a multiple of this, so few shapes occur. */
const PAD_TO = 16;

interface Batch {
  /** Indices into the caller's sequences. */
  seqs: number[];
  nTokens: number;
}

export class Embedder {
  readonly batchSize: number;
  readonly threads: number;
  private readonly capacity: number;
  private readonly allocations: number[] = [];
  private readonly idsPtr: number;
  private readonly posPtr: number;
  private readonly typesPtr: number;
  private readonly rangePtr: number;
  /** int32: each sequence's row for a classifier head. */
  private readonly rowsPtr: number;
  private readonly runner: GraphRunner;
  private disposed = false;

  constructor(private readonly model: ContextModel, options: EmbedderOptions = {}) {
    const hp = model.hparams;
    if (!ENCODER_ARCHITECTURES.has(hp.arch)) {
      throw new ModelError(`embeddings need an encoder architecture (${[...ENCODER_ARCHITECTURES].join(', ')}); this model is ${hp.arch}`, model.path, 'general.architecture');
    }
    if (model.disposed) throw new RangeError('the model is disposed');
    // a batch's buffers are sized from batchSize: bounded like llama.cpp's n_batch (int32)
    this.batchSize = intOption('batchSize', options.batchSize, 1, 1 << 20) ?? 512;
    this.threads = intOption('threads', options.threads, 1, MAX_THREADS) ?? defaultThreads();
    this.runner = new GraphRunner(model.memories, { threads: this.threads });
    this.capacity = Math.ceil(this.batchSize / PAD_TO) * PAD_TO;
    this.idsPtr = this.alloc(this.capacity * 4);
    this.posPtr = this.alloc(this.capacity * 4);
    this.typesPtr = this.alloc(this.capacity * 4);
    this.rangePtr = this.alloc(this.capacity * 8);
    this.rowsPtr = this.alloc(this.capacity * 4);
  }

  private alloc(bytes: number): number {
    const p = this.model.memories[0]!.malloc(bytes + 64);
    this.allocations.push(p);
    return Math.ceil(p / 64) * 64;
  }

  /** Tokenizes each text as llama.cpp does for embeddings (special tokens added) and embeds it. */
  embed(texts: readonly string[], options: EmbedOptions = {}): Float32Array[] {
    const tok = this.model.tokenizer;
    return this.embedTokens(texts.map((t) => tok.tokenize(t, { addSpecial: true })), options);
  }

  /** One vector per token sequence (an empty sequence gives an empty vector, as in node-llama-cpp). */
  embedTokens(sequences: readonly (readonly number[])[], options: EmbedOptions = {}): Float32Array[] {
    this.checkSequences(sequences);
    const hp = this.model.hparams;
    const pooling = options.pooling ?? modelPooling(hp, this.model.path);
    const normalize = options.normalize ?? true;
    const results: Float32Array[] = sequences.map(() => new Float32Array(0));
    for (const batch of this.pack(sequences)) {
      const hidden = this.run(sequences, batch);
      let row = 0;
      for (const si of batch.seqs) {
        const n = sequences[si]!.length;
        results[si] = poolRows(hidden, hp.n_embd, row, n, pooling, normalize);
        row += n;
      }
    }
    return results;
  }

  /** Consecutive sequences while they fit in one batch. */
  private pack(sequences: readonly (readonly number[])[]): Batch[] {
    const batches: Batch[] = [];
    let cur: Batch = { seqs: [], nTokens: 0 };
    sequences.forEach((s, i) => {
      if (s.length === 0) return;
      if (cur.nTokens + s.length > this.batchSize) {
        batches.push(cur);
        cur = { seqs: [], nTokens: 0 };
      }
      cur.seqs.push(i);
      cur.nTokens += s.length;
    });
    if (cur.seqs.length) batches.push(cur);
    return batches;
  }

  /**
   * The classifier head's raw outputs ([n_cls_out]) for each token sequence:
   * the hidden state of its first token ('cls', bert rerankers) or last
   * ('last') through cls and cls.output (runtime/rank.ts builds the head).
   * An empty sequence gives an empty array.
   */
  classifyTokens(sequences: readonly (readonly number[])[], row: 'cls' | 'last', head: ClassifierHead): Float32Array[] {
    this.checkSequences(sequences);
    const nOut = this.model.hparams.n_cls_out;
    const results: Float32Array[] = sequences.map(() => new Float32Array(0));
    for (const batch of this.pack(sequences)) {
      // one row per sequence in the batch, padded (to row 0) like the tokens
      const nSeqs = Math.ceil(batch.seqs.length / PAD_TO) * PAD_TO;
      const i32 = this.model.memories[0]!.i32();
      let first = 0;
      batch.seqs.forEach((si, j) => {
        const n = sequences[si]!.length;
        i32[(this.rowsPtr >>> 2) + j] = row === 'cls' ? first : first + n - 1;
        first += n;
      });
      i32.fill(0, (this.rowsPtr >>> 2) + batch.seqs.length, (this.rowsPtr >>> 2) + nSeqs);
      const out = this.run(sequences, batch, { nSeqs, head });
      batch.seqs.forEach((si, j) => (results[si] = out.slice(j * nOut, (j + 1) * nOut)));
    }
    return results;
  }

  private checkSequences(sequences: readonly (readonly number[])[]): void {
    if (this.disposed) throw new RangeError('embedder is disposed');
    if (this.model.disposed) throw new RangeError('the model of this embedder is disposed');
    const hp = this.model.hparams;
    // bert's learned positions cover n_ctx_train tokens
    const maxLen = Math.min(this.batchSize, hp.arch === 'bert' ? hp.n_ctx_train : Infinity);
    sequences.forEach((s, i) => {
      if (s.length > maxLen) {
        throw new RangeError(`text ${i} has ${s.length} tokens, more than ${maxLen} (${s.length > this.batchSize ? 'the batch size: raise batchSize' : "the model's training context"})`);
      }
      for (const id of s) {
        if (!Number.isInteger(id) || id < 0 || id >= hp.n_vocab) throw new RangeError(`text ${i}: token id ${id} is outside the vocabulary (0..${hp.n_vocab - 1})`);
      }
    });
  }

  /**
   * Runs one batch; returns a copy of its hidden states, [n_tokens * n_embd],
   * or with a head, of the head's [n_cls_out] per sequence (rowsPtr names
   * each sequence's row).
   */
  private run(sequences: readonly (readonly number[])[], batch: Batch, classify?: { nSeqs: number; head: ClassifierHead }): Float32Array {
    const k = this.model.memories[0]!;
    const nPadded = Math.ceil(batch.nTokens / PAD_TO) * PAD_TO;
    const i32 = k.i32();
    const ids = this.idsPtr >>> 2, pos = this.posPtr >>> 2, types = this.typesPtr >>> 2, range = this.rangePtr >>> 2;
    let row = 0;
    const put = (tokens: readonly number[] | null, n: number) => {
      for (let j = 0; j < n; j++, row++) {
        i32[ids + row] = tokens ? tokens[j]! : 0;
        i32[pos + row] = j;
        i32[types + row] = 0;
        i32[range + 2 * row] = row - j;
        i32[range + 2 * row + 1] = row - j + n - 1;
      }
    };
    for (const si of batch.seqs) put(sequences[si]!, sequences[si]!.length);
    // padding rows form a sequence of their own, never seen by the others
    put(null, nPadded - batch.nTokens);

    const hp = this.model.hparams;
    const key = classify ? `${nPadded}:${classify.nSeqs}` : String(nPadded);
    const p = this.runner.planFor(key, (ops) => {
      const input = (name: string, ne: number[], ptr: number) => ops.g.tensor({ name, type: GGMLType.I32, ne, kind: 'input', ptr });
      const c: EncoderBuildContext = {
        ops, hp, nTokens: nPadded, nOutputs: nPadded, cache: [], state: [],
        inpTokens: input('inp_tokens', [nPadded], this.idsPtr),
        inpPos: input('inp_pos', [nPadded], this.posPtr),
        inpTokenTypes: input('inp_token_types', [nPadded], this.typesPtr),
        inpSeqRange: input('inp_seq_range', [2, nPadded], this.rangePtr),
        ...weightLookup(this.model),
      };
      const out = this.model.build(c);
      if (out.ne[0] !== hp.n_embd || out.ne[1] !== nPadded) {
        throw new ModelError(`the ${hp.arch} graph gave [${out.ne}], not hidden states [${hp.n_embd}, ${nPadded}]`, this.model.path);
      }
      return classify ? classify.head(c, out, input('inp_cls', [classify.nSeqs], this.rowsPtr)) : out;
    });
    this.runner.run(p);
    return this.runner.output(p, classify ? batch.seqs.length * hp.n_cls_out : batch.nTokens * hp.n_embd).slice();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runner.dispose();
    for (const p of this.allocations) this.model.memories[0]!.free(p);
  }
}

/**
 * Pools rows [first, first + n) of `hidden` (rows of nEmbd): llama.cpp's
 * mean (sum of each row times 1/n), cls (the first row), last, or none (all
 * rows); then L2-normalises each resulting vector when asked.
 */
export function poolRows(hidden: Float32Array, nEmbd: number, first: number, n: number, pooling: PoolingType, normalize: boolean): Float32Array {
  const rows = hidden.subarray(first * nEmbd, (first + n) * nEmbd);
  let out: Float32Array;
  switch (pooling) {
    case 'none': out = rows.slice(); break;
    case 'cls': out = rows.slice(0, nEmbd); break;
    case 'last': out = rows.slice((n - 1) * nEmbd); break;
    case 'mean': {
      const w = Math.fround(1 / n);
      const acc = new Float64Array(nEmbd);
      for (let t = 0; t < n; t++) {
        for (let e = 0; e < nEmbd; e++) acc[e]! += Math.fround(rows[t * nEmbd + e]! * w);
      }
      out = Float32Array.from(acc);
      break;
    }
  }
  if (normalize) {
    for (let r = 0; r < out.length; r += nEmbd) l2Normalize(out.subarray(r, r + nEmbd));
  }
  return out;
}

/** v / |v| in place (sum of squares in double, as llama.cpp's common_embd_normalize); a zero vector stays zero. */
export function l2Normalize(v: Float32Array): void {
  let sum = 0;
  for (const x of v) sum += x * x;
  if (sum <= 0) return;
  const inv = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * inv;
}
