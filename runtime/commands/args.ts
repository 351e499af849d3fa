// Parsing shared by the subcommands' numeric flags.

/** A flag's value as a positive integer; `dflt` when the flag is absent. Names the flag when it is not one. */
export function positiveInt(flag: string, v: string | undefined, dflt: number): number;
export function positiveInt(flag: string, v: string | undefined, dflt?: number): number | undefined;
export function positiveInt(flag: string, v: string | undefined, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${flag}: expected a positive integer, got "${v}"`);
  return n;
}

/** The LoRA flags llama.cpp's tools take. */
export const loraUsage = `      --lora FILE          apply a LoRA adapter (repeatable)
      --lora-scaled FILE SCALE
                           apply a LoRA adapter at a scale (repeatable)`;

/**
 * Takes llama.cpp's `--lora FILE` and `--lora-scaled FILE SCALE` out of argv
 * (node:util's parseArgs has no two-value options) in the order given.
 */
export function takeLoraArgs(args: readonly string[]): { args: string[]; lora: { path: string; scale: number }[] } {
  const rest: string[] = [];
  const lora: { path: string; scale: number }[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--lora' || a.startsWith('--lora=')) {
      const path = a === '--lora' ? args[++i] : a.slice('--lora='.length);
      if (path === undefined || path === '') throw new RangeError('--lora: expected an adapter file');
      lora.push({ path, scale: 1 });
    } else if (a === '--lora-scaled') {
      const path = args[++i];
      const s = args[++i];
      const scale = Number(s);
      if (path === undefined || s === undefined || s.trim() === '' || !Number.isFinite(scale)) {
        throw new RangeError(`--lora-scaled: expected FILE SCALE (a number), got ${JSON.stringify([path, s].filter((x) => x !== undefined).join(' '))}`);
      }
      lora.push({ path, scale });
    } else {
      rest.push(a);
    }
  }
  return { args: rest, lora };
}

/**
 * A flag's value as a finite number; undefined when the flag is absent. A
 * value that is not one is a usage mistake (exit code 2, as parseArgs' own).
 */
export function numberFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw Object.assign(new Error(`--${name} expects a number, got "${v}"`), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
  return n;
}

/** The sampling flags `complete` and `chat` share, with llama.cpp's names. */
export const SAMPLING_OPTIONS = {
  temp: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repeat-penalty': { type: 'string' },
  seed: { type: 'string' },
} as const;

export const samplingUsage = `      --temp T             temperature (default 0.8; 0 = greedy)
      --top-k K            top-k (default 40; 0 = off)
      --top-p P            top-p (default 0.95; 1 = off)
      --min-p M            min-p (default 0.05; 0 = off)
      --repeat-penalty R   repetition penalty over the last 64 tokens (default 1 = off)`;

export const seedUsage = `      --seed S             random seed (default: random)`;

/** The sampler settings the flags give (absent ones stay undefined: the sampler's defaults). */
export function samplingFlags(values: Partial<Record<keyof typeof SAMPLING_OPTIONS, string>>) {
  return {
    temp: numberFlag('temp', values.temp),
    top_k: numberFlag('top-k', values['top-k']),
    top_p: numberFlag('top-p', values['top-p']),
    min_p: numberFlag('min-p', values['min-p']),
    penalty_repeat: numberFlag('repeat-penalty', values['repeat-penalty']),
    seed: numberFlag('seed', values.seed),
  };
}
