// run-gguf complete <model> -p TEXT: a raw completion streamed to stdout,
// the prompt tokenized as llama.cpp's llama-cli does (BOS per metadata).
import { parseArgs } from 'node:util';
import { loadModel } from '../model.js';
import { loraUsage, numberFlag, SAMPLING_OPTIONS, samplingFlags, samplingUsage, seedUsage, takeLoraArgs } from './args.js';
import { GRAMMAR_OPTIONS, GRAMMAR_USAGE, readGrammarFlags } from './grammar-args.js';
import { modelArgument } from './pull.js';

export const completeUsage = `Usage: run-gguf complete <model.gguf> -p TEXT [options]

Streams a raw completion of TEXT (no chat template).

Options:
  -p, --prompt TEXT        the prompt (required)
  -n, --n-predict N        tokens to generate (default 128; -1 until the context is full)
${samplingUsage}
${seedUsage}
  -c, --ctx-size N         context size (default: min(4096, the model's))
  -t, --threads N          threads (default: all cores)
${loraUsage}
${GRAMMAR_USAGE}
  -h, --help               this text`;

export async function runComplete(argv: string[]): Promise<number> {
  const { args, lora } = takeLoraArgs(argv);
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      prompt: { type: 'string', short: 'p' },
      'n-predict': { type: 'string', short: 'n' },
      ...SAMPLING_OPTIONS,
      'ctx-size': { type: 'string', short: 'c' },
      threads: { type: 'string', short: 't' },
      ...GRAMMAR_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(completeUsage);
    return 0;
  }
  const path = positionals[0];
  if (!path || values.prompt === undefined) {
    console.error(completeUsage);
    return 2;
  }
  let constraint;
  try {
    constraint = readGrammarFlags(values);
  } catch (e) {
    console.error(`run-gguf: ${(e as Error).message}`);
    return 2;
  }
  // every flag is read before the model loads, so a typo costs no load
  const contextSize = numberFlag('ctx-size', values['ctx-size']);
  const threads = numberFlag('threads', values.threads);
  const maxTokens = numberFlag('n-predict', values['n-predict']) ?? 128;
  const sampling = samplingFlags(values);
  const model = await loadModel(await modelArgument(path), { lora });
  try {
    const ctx = model.createContext({ contextSize, threads });
    for await (const piece of ctx.generate(values.prompt, { maxTokens, ...sampling, ...constraint })) {
      process.stdout.write(piece);
    }
    process.stdout.write('\n');
    ctx.dispose();
  } finally {
    model.dispose();
  }
  return 0;
}
