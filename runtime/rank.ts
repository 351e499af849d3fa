// Reranking: how relevant each document is to a query, from a reranker GGUF
// (a model with a classifier head), scored as node-llama-cpp's ranking
// context scores them:
//   - the input is the file's tokenizer.chat_template.rerank with {query} and
//     {document} filled in (Qwen3-Reranker), else BOS query EOS SEP document
//     EOS with whichever of those tokens the vocabulary has (bge-reranker:
//     <s> q </s> </s> d </s>; a WordPiece vocabulary: [CLS] q [SEP] d), the
//     query and document tokenized without a leading dummy space (see
//     tokenizeNoLeadingSpace);
//   - encoders (bert; llama.cpp loads no head for nomic-bert) run the batch through the encoder, take each
//     sequence's [CLS] row through cls (dense + tanh) and cls.output, and the
//     score is the sigmoid of the first output;
//   - decoders (qwen3) evaluate the input in a ranking context whose last row
//     goes through cls.output and a softmax (runtime/arch/blocks.ts); the
//     first output ("yes" against "no") is the score as it is.
// These are llama.cpp's build_pooling for pooling_type rank; the file's
// pooling_type itself is not required, as node-llama-cpp asks for rank.
import type { Tensor } from './graph/graph.js';
import type { EncoderBuildContext } from './arch/bert.js';
import type { Context, ContextModel, ContextOptions } from './context.js';
import { Embedder, ENCODER_ARCHITECTURES, type EmbedderOptions } from './embed.js';
import { ModelError } from './errors.js';
import { intOption, MAX_INT32 } from './options.js';
import type { Tokenizer } from './tokenizer/index.js';

/** Architectures whose rank pooling reads the last token and ends in a softmax (llama.cpp: qwen3, qwen3vl). */
const LAST_TOKEN_SOFTMAX: ReadonlySet<string> = new Set(['qwen3']);

export interface RankOptions {
  /**
   * The input for a query and a document: text with {query} and {document}
   * (node-llama-cpp's {{query}} and {{document}} are taken too), special
   * tokens written as text. Default: the file's tokenizer.chat_template.rerank,
   * else BOS query EOS SEP document EOS.
   */
  template?: string;
  /**
   * Which token's hidden state the head reads: default llama.cpp's choice,
   * the last for qwen3, the first ([CLS]) for the encoders. Only the
   * encoders can read another.
   */
  pooling?: 'cls' | 'last';
}

export interface RankerOptions extends EmbedderOptions {
  /** Decoder rerankers: the KV cells of the ranking context, the longest input. Default min(4096, n_ctx_train). */
  contextSize?: number;
}

export interface RankedDocument {
  document: string;
  /** Its place in the documents given. */
  index: number;
  /** 0..1: the probability that the document is relevant to the query. */
  score: number;
}

/** What ranking needs of a model (runtime/model.ts's Model). */
export interface RankModel extends ContextModel {
  createContext(options: ContextOptions): Context;
}

/** True for a model with a classifier head (node-llama-cpp's test: cls.weight or cls.output.weight). */
export function isReranker(model: Pick<RankModel, 'weight'>): boolean {
  return model.weight('cls.weight') !== undefined || model.weight('cls.output.weight') !== undefined;
}

/** The file's classifier head, or a ModelError saying the model is not a reranker. */
function checkReranker(model: RankModel): void {
  const hp = model.hparams;
  if (!isReranker(model)) {
    throw new ModelError(`not a reranker: ${hp.arch} model without a classifier head (cls.weight or cls.output.weight); rerankers are bge-reranker (bert) or Qwen3-Reranker (qwen3) style files`, model.path, 'cls.output.weight');
  }
}

/** The file's rerank template in llama.cpp's placeholders, or undefined. */
function fileTemplate(model: RankModel): string | undefined {
  const t = model.gguf?.metadata.get('tokenizer.chat_template.rerank');
  if (t === undefined) return undefined;
  if (typeof t !== 'string') throw new ModelError('tokenizer.chat_template.rerank must be a string', model.path, 'tokenizer.chat_template.rerank');
  return t;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Scores query/document pairs with one reranker model. Keeps its threads,
 * graphs (and for decoders its KV cache) for the next call; dispose() frees them.
 */
export class Ranker {
  readonly threads: number;
  readonly batchSize: number;
  /** The ranking context's cells (decoders); the longest input for encoders. */
  readonly contextSize: number;
  private readonly encoder?: Embedder;
  private readonly context?: Context;
  private readonly softmaxed: boolean;
  private disposed = false;

  constructor(private readonly model: RankModel, options: RankerOptions = {}) {
    if (model.disposed) throw new RangeError('the model is disposed');
    checkReranker(model);
    const hp = model.hparams;
    this.softmaxed = LAST_TOKEN_SOFTMAX.has(hp.arch);
    if (ENCODER_ARCHITECTURES.has(hp.arch)) {
      this.encoder = new Embedder(model, options);
      this.threads = this.encoder.threads;
      this.batchSize = this.encoder.batchSize;
      this.contextSize = Math.min(this.batchSize, hp.arch === 'bert' ? hp.n_ctx_train : Infinity);
    } else if (this.softmaxed) {
      if (!model.weight('cls.output.weight')) throw new ModelError(`a ${hp.arch} reranker needs cls.output.weight`, model.path, 'cls.output.weight');
      const contextSize = intOption('contextSize', options.contextSize, 1, MAX_INT32) ?? Math.min(4096, hp.n_ctx_train);
      this.context = model.createContext({ contextSize, batchSize: options.batchSize ?? Math.min(512, contextSize), threads: options.threads, ranking: true });
      this.threads = this.context.threads;
      this.batchSize = this.context.batchSize;
      this.contextSize = contextSize;
    } else {
      throw new ModelError(`ranking with ${hp.arch} is not supported (encoders: ${[...ENCODER_ARCHITECTURES].join(', ')}; decoders: ${[...LAST_TOKEN_SOFTMAX].join(', ')})`, model.path, 'general.architecture');
    }
  }

  /** The token ids evaluated for a query and a document (empty when both are empty: score 0). */
  inputTokens(query: string, document: string, options: RankOptions = {}): number[] {
    this.check();
    const tok = this.model.tokenizer;
    const text = (s: string) => tokenizeNoLeadingSpace(tok, s);
    const template = options.template ?? fileTemplate(this.model);
    if (template !== undefined) return this.fromTemplate(template, text(query), text(document), options.template === undefined);
    const { bosId: bos, eosId: eos, sepId: sep } = tok;
    if (eos === undefined && sep === undefined) {
      throw new ModelError('ranking needs an EOS or SEP token to join query and document, or a tokenizer.chat_template.rerank; this vocabulary has neither', this.model.path, 'tokenizer.ggml.eos_token_id');
    }
    const q = text(query), d = text(document);
    if (q.length === 0 && d.length === 0) return [];
    const opt = (id: number | undefined) => (id === undefined ? [] : [id]);
    return [...opt(bos), ...q, ...opt(eos), ...opt(sep), ...d, ...opt(eos)];
  }

  /**
   * The template's text pieces tokenized on their own (special tokens
   * parsed), the query's and document's tokens between them, BOS first when
   * the vocabulary adds one, as node-llama-cpp builds it. (llama-server
   * instead tokenizes the filled-in text whole, so a query or document that
   * spells a special token becomes that token there. node-llama-cpp 3.21.1
   * also puts the EOS a vocabulary appends at the front of the input, which
   * looks like a slip and is not copied; rerank templates come with vocabularies
   * that append none.)
   */
  private fromTemplate(template: string, q: number[], d: number[], fromFile: boolean): number[] {
    const t = template.replaceAll('{{query}}', '{query}').replaceAll('{{document}}', '{document}');
    if (!t.includes('{query}') || !t.includes('{document}')) {
      const what = 'must contain both {query} and {document}';
      if (fromFile) throw new ModelError(`tokenizer.chat_template.rerank ${what}`, this.model.path, 'tokenizer.chat_template.rerank');
      throw new RangeError(`template ${what}`);
    }
    const tok = this.model.tokenizer;
    const out: number[] = [];
    for (const piece of t.split(/(\{query\}|\{document\})/)) {
      if (piece === '{query}') out.push(...q);
      else if (piece === '{document}') out.push(...d);
      else if (piece) out.push(...tok.tokenize(piece, { addSpecial: false, special: true }));
    }
    const bos = tok.bosId;
    if (bos !== undefined && (tok.addBos || tok.type === 'wpm') && out[0] !== bos) out.unshift(bos);
    return out;
  }

  /** The score of each document for the query (0..1), in the documents' order. */
  rankAll(query: string, documents: readonly string[], options: RankOptions = {}): number[] {
    this.check();
    const inputs = documents.map((d) => this.inputTokens(query, d, options));
    const limit = this.contextSize;
    inputs.forEach((t, i) => {
      if (t.length > limit) {
        throw new RangeError(`document ${i}: the query and document are ${t.length} tokens, more than ${limit} (${this.encoder ? "the batch size or the model's training context" : 'the context size: raise contextSize'})`);
      }
    });
    const raw = this.encoder ? this.encoderScores(inputs, options) : this.decoderScores(inputs, options);
    return raw.map((r) => (r.length === 0 ? 0 : this.softmaxed ? r[0]! : sigmoid(r[0]!)));
  }

  /** One document's score. */
  rank(query: string, document: string, options: RankOptions = {}): number {
    return this.rankAll(query, [document], options)[0]!;
  }

  /** The documents with their scores, highest first (ties keep their order). */
  rankAndSort(query: string, documents: readonly string[], options: RankOptions = {}): RankedDocument[] {
    const scores = this.rankAll(query, documents, options);
    return documents.map((document, index) => ({ document, index, score: scores[index]! })).sort((a, b) => b.score - a.score);
  }

  private encoderScores(inputs: number[][], options: RankOptions): Float32Array[] {
    return this.encoder!.classifyTokens(inputs, options.pooling ?? 'cls', encoderHead);
  }

  private decoderScores(inputs: number[][], options: RankOptions): Float32Array[] {
    if (options.pooling === 'cls') throw new RangeError(`pooling 'cls' needs an encoder; ${this.model.hparams.arch} ranks with its last token`);
    const seq = this.context!.sequence;
    // the query (and the template's preamble) come first: a common prefix is kept
    return inputs.map((t) => (t.length === 0 ? new Float32Array(0) : seq.evaluate(t).logits.slice()));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.encoder?.dispose();
    this.context?.dispose();
  }

  private check(): void {
    if (this.disposed) throw new RangeError('the ranker is disposed');
    if (this.model.disposed) throw new RangeError('the model of this ranker is disposed');
  }
}

/**
 * The encoders' classifier head (llama.cpp's build_pooling, rank): each
 * sequence's row, then cls with its bias and tanh, then cls.output with its
 * bias, each when the file has it.
 */
function encoderHead(c: EncoderBuildContext, hidden: Tensor, rows: Tensor): Tensor {
  const { ops } = c;
  let x = ops.selectRows(hidden, rows, 'inp_cls');
  const dense = c.wOpt('cls.weight');
  if (dense) {
    x = ops.matmul(dense, x, 'cls');
    const b = c.wOpt('cls.bias');
    if (b) x = ops.add(x, b, 'cls_b');
    // tanh(x) is gemma's soft-cap with cap 1
    x = ops.softcap(x, 1, 'cls_tanh');
  }
  const out = c.wOpt('cls.output.weight');
  if (out) {
    x = ops.matmul(out, x, 'cls_out');
    const b = c.wOpt('cls.output.bias');
    if (b) x = ops.add(x, b, 'cls_out_b');
  }
  return x;
}

/**
 * The query's or document's tokens as node-llama-cpp's ranking context makes
 * them (its "trimLeadingSpace" tokenization): the text is tokenized after a
 * "\n" whose tokens are then cut off, so a vocabulary that adds a dummy
 * space (SPM, UGM: XLM-R rerankers) gets none before the first word. A text
 * that starts with "\n" itself is tokenized as it is, and so is any text where
 * the cut does not fall on the "\n"'s own tokens. (llama-server tokenizes the
 * plain text, with the dummy space.)
 */
function tokenizeNoLeadingSpace(tok: Tokenizer, s: string): number[] {
  if (s === '') return [];
  const nl = tok.tokenize('\n', { addSpecial: false });
  if (s.startsWith('\n')) {
    const ids = tok.tokenize(s, { addSpecial: false });
    if (tok.detokenize(ids).startsWith('\n')) return ids;
  }
  const ids = tok.tokenize('\n' + s, { addSpecial: false });
  if (nl.length > 0 && nl.every((id, i) => ids[i] === id)) return ids.slice(nl.length);
  return tok.tokenize(s, { addSpecial: false });
}
