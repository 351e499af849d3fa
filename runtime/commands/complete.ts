// run-gguf complete <model> -p TEXT: a raw completion streamed to stdout,
// the prompt tokenized as llama.cpp's llama-cli does (BOS per metadata).
import { parseArgs } from 'node:util';
import { loadModel } from '../model.js';
import { loraUsage, takeLoraArgs } from './args.js';
import { GRAMMAR_OPTIONS, GRAMMAR_USAGE, readGrammarFlags } from './grammar-args.js';
import { modelArgument } from './pull.js';

export const completeUsage = `Usage: run-gguf complete <model.gguf> -p TEXT [options]

Streams a raw completion of TEXT (no chat template).

Options:
  -p, --prompt TEXT        the prompt (required)
  -n, --n-predict N        tokens to generate (default 128; -1 until the context is full)
      --temp T             temperature (default 0.8; 0 = greedy)
      --top-k K            top-k (default 40; 0 = off)
      --top-p P            top-p (default 0.95; 1 = off)
      --min-p M            min-p (default 0.05; 0 = off)
      --repeat-penalty R   repetition penalty over the last 64 tokens (default 1 = off)
      --seed S             random seed (default: random)
  -c, --ctx-size N         context size (default: min(4096, the model's))
  -t, --threads N          threads (default: all cores)
${loraUsage}
${GRAMMAR_USAGE}
  -h, --help               this text`;

function numberOpt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} expects a number, got "${v}"`);
  return n;
}

export async function runComplete(argv: string[]): Promise<number> {
  const { args, lora } = takeLoraArgs(argv);
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      prompt: { type: 'string', short: 'p' },
      'n-predict': { type: 'string', short: 'n' },
      temp: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'min-p': { type: 'string' },
      'repeat-penalty': { type: 'string' },
      seed: { type: 'string' },
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
  const model = await loadModel(await modelArgument(path), { lora });
  try {
    const ctx = model.createContext({
      contextSize: numberOpt(values['ctx-size'], 'ctx-size'),
      threads: numberOpt(values.threads, 'threads'),
    });
    for await (const piece of ctx.generate(values.prompt, {
      maxTokens: numberOpt(values['n-predict'], 'n-predict') ?? 128,
      temp: numberOpt(values.temp, 'temp'),
      top_k: numberOpt(values['top-k'], 'top-k'),
      top_p: numberOpt(values['top-p'], 'top-p'),
      min_p: numberOpt(values['min-p'], 'min-p'),
      penalty_repeat: numberOpt(values['repeat-penalty'], 'repeat-penalty'),
      seed: numberOpt(values.seed, 'seed'),
      ...constraint,
    })) {
      process.stdout.write(piece);
    }
    process.stdout.write('\n');
    ctx.dispose();
  } finally {
    model.dispose();
  }
  return 0;
}
