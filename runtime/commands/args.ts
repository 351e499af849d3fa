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
