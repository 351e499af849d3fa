// run-gguf quantize <in.gguf> <out.gguf> <TYPE>: llama-quantize's file types
// and per-tensor choices, with ggml's reference quantizers (formats/quantize).
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { allGGMLTypes, ggmlTypeInfo, ggmlTypeName, type GGMLType } from '../../formats/ggml-types.js';
import { llamaFileTypeName } from '../../formats/gguf/index.js';
import { importanceOf, readIMatrix, type Importance } from '../../formats/imatrix/index.js';
import { GRID_PRESETS, quantizeTypeNames } from '../../formats/quantize/index.js';
import { quantizeModel, QuantizeProgressLine } from '../quantize/index.js';
import { errorLine } from '../terminal/printable.js';
import { positiveInt } from './args.js';
import { modelArgument } from './pull.js';

export const quantizeUsage = `Usage: run-gguf quantize <in.gguf> <out.gguf> <TYPE> [options]

Writes a copy of a model with its weights in TYPE, choosing each tensor's type
as llama-quantize does from the model's metadata (Q4_K_M: Q6_K for the output
and for some attn_v and ffn_down matrices; Q8_0 attn_k/attn_v in an 8-expert
model...). Norms, routers and other vectors are copied; rows that are not
whole blocks of a type fall back as llama.cpp does. The output is written
beside out.gguf under a temporary name and renamed when complete; the input is
never overwritten. The rows of each tensor are split over THREADS worker
threads; the output is the same for any thread count. On a terminal a
progress line shows the tensor, the data written and the rate.

TYPE: ${quantizeTypeNames().join(' ')}
(IQ4_NL / IQ4_XS: Q5_K for attn_v with GQA and for the first ffn_down layers
without an imatrix; TQ1_0 / TQ2_0: a Q4_K token embedding; MXFP4_MOE: MXFP4
stacked experts, Q8_0 for everything else. Q2_K_S needs --imatrix, and so
do the grid i-quant types ${Object.keys(GRID_PRESETS).join(' ')}
but IQ3_S and IQ3_M, as in llama-quantize.)

Options:
      --pure                      every weight in TYPE's base type (no per-tensor mix)
      --leave-output-tensor       copy output.weight as it is
      --imatrix FILE              importance matrix (run-gguf imatrix / llama-imatrix, GGUF or
                                  .dat form): weights the k-quant, IQ4_NL/IQ4_XS,
                                  Q4_0/Q4_1/Q5_0/Q5_1 scale searches and the IQ1/IQ2/IQ3
                                  grid searches by each column's mean squared activation
      --output-tensor-type T      type of output.weight (a ggml type name: Q8_0, F16...)
      --token-embedding-type T    type of token_embd.weight
  -t, --threads N                 threads converting rows (default: the number of cores, ${availableParallelism()} here)
  -h, --help                      this text`;

function typeByName(flag: string, name: string): GGMLType {
  const t = allGGMLTypes().find((i) => i.name.toUpperCase() === name.toUpperCase());
  if (!t) throw new RangeError(`${flag}: unknown ggml type "${name}"`);
  return t.id;
}

export async function runQuantize(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      pure: { type: 'boolean' },
      'leave-output-tensor': { type: 'boolean' },
      imatrix: { type: 'string' },
      'output-tensor-type': { type: 'string' },
      'token-embedding-type': { type: 'string' },
      threads: { type: 'string', short: 't' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(quantizeUsage);
    return 0;
  }
  if (positionals.length !== 3) {
    console.error(quantizeUsage);
    return 2;
  }
  const [inName, outPath, type] = positionals as [string, string, string];
  const inPath = await modelArgument(inName);
  const ott = values['output-tensor-type'];
  const tet = values['token-embedding-type'];
  const started = Date.now();
  let warnedRequantize = false;
  // the progress line goes where the log goes, and only to a terminal
  const progress = process.stderr.isTTY ? new QuantizeProgressLine(process.stderr) : undefined;
  const log = (text: string) => (progress ? progress.log(text) : process.stderr.write(text));
  try {
    const threads = positiveInt('-t', values.threads, availableParallelism());
    let imatrix: Importance | undefined;
    if (values.imatrix !== undefined) {
      imatrix = importanceOf(await readIMatrix(values.imatrix));
      if (imatrix.datasets.length > 0) process.stderr.write(`load_imatrix: imatrix datasets=[${imatrix.datasets.map((d) => `'${d}'`).join(', ')}]\n`);
      process.stderr.write(`load_imatrix: loaded ${imatrix.weights.size} importance matrix entries from ${values.imatrix} computed on ${imatrix.chunkCount} chunks\n`);
    }
    const res = await quantizeModel(inPath, outPath, type, {
      threads,
      pure: values.pure,
      leaveOutputTensor: values['leave-output-tensor'],
      imatrix,
      imatrixFile: values.imatrix,
      onWarning: (m) => log(`\n${m}\n`),
      onData: (n) => progress?.bytes(n),
      outputTensorType: ott === undefined ? undefined : typeByName('--output-tensor-type', ott),
      tokenEmbeddingType: tet === undefined ? undefined : typeByName('--token-embedding-type', tet),
      onTensor: ({ index, total, tensor, type: to, nBytes, totalBytes }) => {
        const w = String(total).length;
        if (!warnedRequantize && to !== tensor.type && ggmlTypeInfo(tensor.type)?.isQuantized) {
          // llama-quantize refuses this without --allow-requantize: the rounding errors of both types add up
          log(`warning: requantizing from ${ggmlTypeName(tensor.type)}: quality is lower than quantizing the F32/F16/BF16 model\n`);
          warnedRequantize = true;
        }
        const what = to === tensor.type ? '' : `converting to ${ggmlTypeName(to)} .. `;
        const line = `[${String(index).padStart(w)}/${total}] ${tensor.name.padEnd(36)} - [${tensor.shape.join(', ')}], type = ${ggmlTypeName(tensor.type).padStart(6)}, ${what}size = ${mib(tensor.nBytes)} MiB -> ${mib(nBytes)} MiB\n`;
        if (progress) progress.tensor(index, total, totalBytes, line);
        else process.stderr.write(line);
      },
    });
    progress?.finish();
    process.stderr.write(`model size  = ${mib(res.inBytes)} MiB\nquant size  = ${mib(res.outBytes)} MiB\n`);
    // rows that are not whole blocks of the chosen type cost bits or quality: llama-quantize says how many
    if (res.plan.nFallback > 0) process.stderr.write(`warning: ${res.plan.nFallback} of ${res.plan.tensors.length} tensor(s) required fallback quantization\n`);
    process.stderr.write(`wrote ${outPath} (${llamaFileTypeName(res.plan.fileType)}) in ${((Date.now() - started) / 1000).toFixed(1)} s on ${threads} thread${threads === 1 ? '' : 's'}\n`);
    return 0;
  } catch (e) {
    progress?.finish();
    console.error(`error: ${errorLine(e)}`);
    return 1;
  }
}

function mib(n: number): string {
  return (n / 1024 / 1024).toFixed(2);
}
