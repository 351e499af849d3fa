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
