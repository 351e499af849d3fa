// Options are checked where they are given, so that a NaN, negative or
// fractional count fails at once with the option's name instead of sizing
// an allocation, spawning workers or corrupting a context later.

/** `value` when it is undefined or an integer in min..max; else a RangeError naming the option. */
export function intOption(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

/** `value` when it is undefined or a finite number; else a RangeError naming the option. */
export function numberOption(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${describe(value)}`);
  return value;
}

/** The KV cache types, by llama.cpp's --cache-type-k/-v names (runtime/graph/ops/attention.ts maps them to ggml types). */
export const KV_CACHE_TYPE_NAMES = ['f16', 'q8_0'] as const;
export type KvCacheType = (typeof KV_CACHE_TYPE_NAMES)[number];

/** `value` when it is undefined or a KV cache type name; else a RangeError naming the option. */
export function kvCacheTypeOption(name: string, value: unknown): KvCacheType | undefined {
  if (value === undefined) return undefined;
  if (!(KV_CACHE_TYPE_NAMES as readonly unknown[]).includes(value)) throw new RangeError(`${name} must be one of ${KV_CACHE_TYPE_NAMES.join(', ')}, got ${describe(value)}`);
  return value as KvCacheType;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v == null) return String(v);
  return Object.prototype.toString.call(v);
}

/** The largest count an option takes (contextSize, batchSize, sequences...): int32, as llama.cpp's. */
export const MAX_INT32 = 2 ** 31 - 1;

/** The most threads a pool runs (kernels split work by ith/nth; more only adds barriers). */
export const MAX_THREADS = 256;
