// llama-imatrix (tools/imatrix/imatrix.cpp): the calibration text tokenized
// with BOS, cut into chunks of n_ctx tokens, each chunk evaluated from an
// empty cache with its first token replaced by BOS (when the model adds one)
// and logits for every position; while it runs, every "blk." matmul adds its
// inputs' squared activations per column (collector.ts). llama.cpp packs
// several chunks per batch and splits batches into ubatches; per column the
// rows still arrive chunk after chunk, token after token, so the float sums
// are accumulated in the same order. Like llama-imatrix it also reports the
// perplexity of the second half of each chunk.
import { readGGUF } from '../../formats/gguf/index.js';
import type { IMatrix } from '../../formats/imatrix/index.js';
import { architectureOf, supportedArchitectures } from '../arch/index.js';
import { ModelError } from '../errors.js';
import { loadModel } from '../model.js';
import { negLogProb, perplexityChunks, PerplexityAccumulator } from '../perplexity/index.js';
import { IMatrixCollector } from './collector.js';

export { IMatrixCollector, type CollectorOptions } from './collector.js';

export interface IMatrixOptions {
  /** n_ctx: tokens per chunk (imatrix.chunk_size). Default 512. */
  contextSize?: number;
  /** Chunks to evaluate at most (--chunks). Default: all. */
  chunks?: number;
  threads?: number;
  /** Also collect output.weight (--process-output). */
  processOutput?: boolean;
  /** The name recorded in imatrix.datasets (llama.cpp records the -f path as given). */
  dataset?: string;
  /** Score the chunks' second halves as llama-imatrix does (its [1]12.34 lines). Default true. */
  computePPL?: boolean;
  onStart?: (nChunks: number, nTokens: number) => void;
  /** After each chunk: its 1-based number and the running perplexity (NaN with computePPL false). */
  onChunk?: (chunk: number, nChunks: number, ppl: number) => void;
}

export interface IMatrixResult {
  imatrix: IMatrix;
  /** Final perplexity estimate and its uncertainty (NaN without computePPL). */
  ppl: number;
  pplError: number;
  tokens: number;
}

/** Runs the model over `text` and returns the importance matrix llama-imatrix would save. */
export async function computeIMatrix(modelPath: string, text: string, options: IMatrixOptions = {}): Promise<IMatrixResult> {
  const nCtx = options.contextSize ?? 512;
  if (!Number.isInteger(nCtx) || nCtx < 1) throw new RangeError(`contextSize must be a positive integer, got ${nCtx}`);
  const arch = (await readGGUF(modelPath)).metadata.get('general.architecture');
  const build = architectureOf(arch)?.build;
  if (!build) {
    throw new ModelError(`architecture "${String(arch)}" is not supported (supported: ${supportedArchitectures().join(', ')})`, modelPath, 'general.architecture');
  }
  const collector = new IMatrixCollector({ processOutput: options.processOutput });
  const model = await loadModel(modelPath, { buildGraph: collector.wrap(build), contextSize: nCtx });
  try {
    const tok = model.tokenizer;
    if (tok.addEos) throw new ModelError('the tokenizer adds EOS, which llama-imatrix does not support', modelPath, 'tokenizer.ggml.add_eos_token');
    const tokens = model.tokenize(text, { addSpecial: true });
    const chunks = perplexityChunks(tokens, nCtx, tok.addBos, tok.bosId, options.chunks ?? -1);
    options.onStart?.(chunks.length, tokens.length);
    const computePPL = options.computePPL ?? true;
    const nVocab = model.hparams.n_vocab;
    const first = Math.floor(nCtx / 2);
    const acc = new PerplexityAccumulator();
    const ctx = model.createContext({ contextSize: nCtx, batchSize: nCtx, threads: options.threads });
    try {
      for (let c = 0; c < chunks.length; c++) {
        ctx.reset();
        // every position's logits, as llama-imatrix asks: no row of the last layer is skipped
        const logits = ctx.evaluate(chunks[c]!, { allLogits: true });
        if (computePPL) {
          for (let j = first; j < nCtx - 1; j++) acc.add(negLogProb(logits.subarray(j * nVocab, (j + 1) * nVocab), tokens[c * nCtx + j + 1]!));
        }
        options.onChunk?.(c + 1, chunks.length, computePPL ? acc.ppl : NaN);
      }
    } finally {
      ctx.dispose();
    }
    const entries = collector.entries();
    const maxCount = Math.max(0, ...entries.flatMap((e) => e.counts));
    return {
      imatrix: {
        datasets: options.dataset === undefined ? [] : [options.dataset],
        chunkCount: Math.floor(maxCount / nCtx),
        chunkSize: nCtx,
        entries,
      },
      ppl: computePPL ? acc.ppl : NaN,
      pplError: computePPL ? acc.error : NaN,
      tokens: tokens.length,
    };
  } finally {
    collector.dispose();
    model.dispose();
  }
}
