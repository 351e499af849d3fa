// run-gguf imatrix <model> -f calib.txt [-o imatrix.gguf]: llama-imatrix's
// statistics (runtime/imatrix) saved in llama.cpp's GGUF or .dat form
// (formats/imatrix), for quantize --imatrix.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { writeIMatrix, type IMatrixFormat } from '../../formats/imatrix/index.js';
import { computeIMatrix } from '../imatrix/index.js';
import { positiveInt } from './args.js';
import { modelArgument } from './pull.js';

export const imatrixUsage = `Usage: run-gguf imatrix <model.gguf> -f FILE [-o imatrix.gguf] [options]

Runs the model over the calibration text in FILE as llama-imatrix does
(chunks of N tokens, BOS first) and saves, for every matmul weight of the
transformer blocks, the sum of each input column's squared activations and
the number of tokens: the importance matrix quantize --imatrix uses.
Prints the perplexity of the chunks' second halves as it goes.

Options:
  -f, --file FILE          the calibration text (a final newline is dropped)
  -o, --output FILE        where to save (default imatrix.gguf)
      --output-format F    gguf (default; what llama.cpp writes now) or dat (the legacy form)
  -c, --ctx-size N         tokens per chunk (default 512)
      --chunks N           evaluate at most N chunks (default all)
      --process-output     also collect output.weight
      --no-ppl             do not compute the perplexity
  -t, --threads N          threads (default: the number of cores)
  -h, --help               this text`;

export async function runIMatrix(args: string[]): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        file: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o' },
        'output-format': { type: 'string' },
        'ctx-size': { type: 'string', short: 'c' },
        chunks: { type: 'string' },
        'process-output': { type: 'boolean' },
        'no-ppl': { type: 'boolean' },
        threads: { type: 'string', short: 't' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${imatrixUsage}`);
    return 2;
  }
  if (values.help) {
    console.log(imatrixUsage);
    return 0;
  }
  if (positionals.length !== 1 || values.file === undefined) {
    console.error(imatrixUsage);
    return 2;
  }
  const fmt = values['output-format'];
  if (fmt !== undefined && fmt !== 'gguf' && fmt !== 'dat') {
    console.error(`error: --output-format: expected gguf or dat, got "${fmt}"`);
    return 2;
  }
  const out = values.output ?? 'imatrix.gguf';
  const format: IMatrixFormat = fmt === 'dat' ? 'dat' : 'gguf';
  if (fmt === undefined && !out.endsWith('.gguf')) {
    process.stderr.write('warning: saving the imatrix in GGUF form with a name that does not end in .gguf; use --output-format dat for the legacy form\n');
  }
  try {
    let text = await readFile(values.file, 'utf8');
    if (text.endsWith('\n')) text = text.slice(0, -1);
    const nCtx = positiveInt('-c', values['ctx-size'], 512);
    const started = Date.now();
    const res = await computeIMatrix(await modelArgument(positionals[0]!), text, {
      contextSize: nCtx,
      chunks: positiveInt('--chunks', values.chunks, undefined),
      threads: positiveInt('-t', values.threads, undefined),
      processOutput: values['process-output'],
      computePPL: !values['no-ppl'],
      dataset: values.file,
      onStart: (n, nTokens) => process.stderr.write(`compute_imatrix: ${nTokens} tokens; computing over ${n} chunks, n_ctx=${nCtx}\n`),
      onChunk: (i, n, ppl) => {
        if (i === 1) {
          const s = (Date.now() - started) / 1000;
          process.stderr.write(`compute_imatrix: ${s.toFixed(2)} seconds per pass - ETA ${((s * n) / 60).toFixed(2)} minutes\n`);
        }
        if (!Number.isNaN(ppl)) process.stdout.write(`[${i}]${ppl.toFixed(4)},`);
      },
    });
    if (!Number.isNaN(res.ppl)) {
      process.stdout.write('\n');
      console.log(`Final estimate: PPL = ${res.ppl.toFixed(4)} +/- ${res.pplError.toFixed(5)}`);
    }
    await writeIMatrix(out, res.imatrix, format);
    process.stderr.write(`save_imatrix: stored collected data after ${res.imatrix.chunkCount} chunks (${res.imatrix.entries.length} entries) in ${out}\n`);
    return 0;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
}

