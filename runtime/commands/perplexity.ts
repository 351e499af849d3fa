// run-gguf perplexity <model> -f text.txt [-c 512] [-b N]: llama-perplexity's
// method and output (runtime/perplexity).
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadModel } from '../model.js';
import { perplexity } from '../perplexity/index.js';
import { KLD_CHUNK_HEADER, kldChunkLine, klDivergence, kldReport } from '../perplexity/kld.js';
import { positiveInt } from './args.js';
import { modelArgument } from './pull.js';

export const perplexityUsage = `Usage: run-gguf perplexity <model.gguf> -f FILE [-c N] [-b N] [--chunks N] [-t N] [--kl-divergence-base BASE]
       run-gguf perplexity <model.gguf> --kl-divergence --kl-divergence-base BASE [-b N] [-t N]

Perplexity of the model over the text in FILE, computed as llama-perplexity
does: chunks of N tokens, each scored on its second half, the running
estimate after each chunk ([1]12.3456,[2]...) and the final line
"Final estimate: PPL = ... +/- ...".

Options:
  -f, --file FILE     the text (a final newline is dropped, as llama.cpp does)
  -c, --ctx-size N    tokens per chunk (default 512)
  -b, --batch-size N  tokens per evaluation (default 2048, at most N of -c)
      --chunks N      evaluate at most N chunks (default all)
  -t, --threads N     threads (default: the number of cores)
      --kl-divergence-base BASE
                      with -f: also save the scored log-probabilities to BASE
                      (llama-perplexity's file format)
      --kl-divergence with --kl-divergence-base: evaluate BASE's tokens and print
                      llama.cpp's KL-divergence, PPL-ratio and top-token statistics
  -h, --help          this text`;

export async function runPerplexity(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      file: { type: 'string', short: 'f' },
      'ctx-size': { type: 'string', short: 'c' },
      'batch-size': { type: 'string', short: 'b' },
      chunks: { type: 'string' },
      threads: { type: 'string', short: 't' },
      'kl-divergence-base': { type: 'string' },
      'kl-divergence': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(perplexityUsage);
    return 0;
  }
  const base = values['kl-divergence-base'];
  if (values['kl-divergence']) {
    if (positionals.length !== 1 || base === undefined) {
      console.error(perplexityUsage);
      return 2;
    }
    return runKLD(await modelArgument(positionals[0]!), base, values['batch-size'], values.threads);
  }
  if (positionals.length !== 1 || values.file === undefined) {
    console.error(perplexityUsage);
    return 2;
  }
  let text = await readFile(values.file, 'utf8');
  if (text.endsWith('\n')) text = text.slice(0, -1);
  try {
    const nCtx = positiveInt('-c', values['ctx-size'], 512);
    const model = await loadModel(await modelArgument(positionals[0]!), { contextSize: nCtx });
    try {
      const started = Date.now();
      const res = perplexity(model, text, {
        contextSize: nCtx,
        batchSize: positiveInt('-b', values['batch-size'], 2048),
        chunks: positiveInt('--chunks', values.chunks, undefined),
        threads: positiveInt('-t', values.threads, undefined),
        logitsFile: base,
        onStart: (n, nTokens) => process.stderr.write(`perplexity: ${nTokens} tokens; calculating perplexity over ${n} chunks, n_ctx=${nCtx}\n`),
        onChunk: (i, n, ppl) => {
          if (i === 1) {
            const s = (Date.now() - started) / 1000;
            process.stderr.write(`perplexity: ${s.toFixed(2)} seconds per pass - ETA ${((s * n) / 60).toFixed(2)} minutes\n`);
          }
          process.stdout.write(`[${i}]${ppl.toFixed(4)},`);
        },
      });
      process.stdout.write('\n');
      console.log(Number.isFinite(res.pplError)
        ? `Final estimate: PPL = ${res.ppl.toFixed(4)} +/- ${res.pplError.toFixed(5)}`
        : `Final estimate: PPL = ${res.ppl.toFixed(4)} (no uncertainty: the log-probabilities do not vary)`);
    } finally {
      model.dispose();
    }
    return 0;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
}


async function runKLD(modelPath: string, baseFile: string, batch: string | undefined, threads: string | undefined): Promise<number> {
  try {
    const model = await loadModel(modelPath);
    try {
      const acc = klDivergence(model, baseFile, {
        batchSize: positiveInt('-b', batch, 2048),
        threads: positiveInt('-t', threads, undefined),
        onChunk: (i, _n, stats) => {
          if (i === 1) console.log(`\n${KLD_CHUNK_HEADER}`);
          console.log(kldChunkLine(i, stats));
        },
      });
      console.log('');
      for (const line of kldReport(acc)) console.log(line);
    } finally {
      model.dispose();
    }
    return 0;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
}
