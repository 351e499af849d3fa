// Split (sharded) models as llama.cpp's gguf-split writes them:
// <prefix>-00001-of-00003.gguf ... with split.no (0-based, uint16),
// split.count (uint16) and, in the first shard, split.tensors.count (int32).
// The first shard holds the model's metadata; every shard holds its own
// tensor infos and data.
import { GGUFError } from './errors.js';
import type { GGUFFile, GGUFHeader } from './header.js';
import type { GGUFValue } from './value-types.js';

export const LLM_KV_SPLIT_NO = 'split.no';
export const LLM_KV_SPLIT_COUNT = 'split.count';
export const LLM_KV_SPLIT_TENSORS_COUNT = 'split.tensors.count';

const SPLIT_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

/** The path of shard `index` (0-based) of `count`, as llama_split_path names it. */
export function splitPath(prefix: string, index: number, count: number): string {
  const n = (v: number) => String(v).padStart(5, '0');
  return `${prefix}-${n(index + 1)}-of-${n(count)}.gguf`;
}

/** prefix, 0-based index and count from a shard's path, or null when it is not named like one. */
export function parseSplitPath(path: string): { prefix: string; index: number; count: number } | null {
  const m = SPLIT_NAME.exec(path);
  if (!m) return null;
  return { prefix: m[1], index: Number(m[2]) - 1, count: Number(m[3]) };
}

function asInt(v: GGUFValue | undefined): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return undefined;
}

/** split.count of a header (undefined when absent, so the file is whole). */
export function splitCount(h: GGUFHeader): number | undefined {
  return asInt(h.metadata.get(LLM_KV_SPLIT_COUNT));
}

function kvOffset(h: GGUFHeader, key: string): number | undefined {
  for (let i = h.kv.length - 1; i >= 0; i--) if (h.kv[i].key === key) return h.kv[i].offset;
  return undefined;
}

function splitError(h: GGUFHeader, key: string | undefined, problem: string, expected?: string): GGUFError {
  return new GGUFError({ code: 'split', file: h.file, offset: key ? kvOffset(h, key) : undefined, key, problem, expected });
}

/**
 * The shard paths of the split model `path` belongs to, given split.count
 * read from it. Throws when the name does not say the same as the metadata.
 */
export function shardPaths(h: GGUFHeader, count: number): string[] {
  const named = parseSplitPath(h.file);
  if (!named) {
    throw splitError(h, LLM_KV_SPLIT_COUNT,
      `split.count is ${count} but the file name does not follow <name>-00001-of-${String(count).padStart(5, '0')}.gguf, so the other shards cannot be found`);
  }
  if (named.count !== count) {
    throw splitError(h, LLM_KV_SPLIT_COUNT, `split.count is ${count} but the file name says ${named.count} shards`, String(named.count));
  }
  const no = asInt(h.metadata.get(LLM_KV_SPLIT_NO));
  if (no !== named.index) {
    throw splitError(h, LLM_KV_SPLIT_NO, `split.no is ${no} but the file name says shard ${named.index + 1} (split.no ${named.index})`, String(named.index));
  }
  return Array.from({ length: count }, (_, i) => splitPath(named.prefix, i, count));
}

/** The model as one: checks that the shards belong together and gathers their tensors. */
export function mergeShards(shards: GGUFHeader[]): GGUFFile {
  const count = shards.length;
  const owner = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const h = shards[i];
    const c = splitCount(h);
    if (c !== count) {
      throw splitError(h, c === undefined ? undefined : LLM_KV_SPLIT_COUNT,
        c === undefined ? `shard ${i + 1} of ${count} has no split.count` : `split.count is ${c} but the first shard says ${count}`, String(count));
    }
    const no = asInt(h.metadata.get(LLM_KV_SPLIT_NO));
    if (no !== i) {
      throw splitError(h, no === undefined ? undefined : LLM_KV_SPLIT_NO, `split.no is ${no ?? 'absent'}, expected ${i} for shard ${i + 1}`, String(i));
    }
    for (const t of h.tensors) {
      const prev = owner.get(t.name);
      if (prev !== undefined) {
        throw new GGUFError({
          code: 'duplicate-tensor', file: h.file, offset: t.infoOffset, key: t.name, keyIsTensor: true,
          problem: `tensor also in shard ${prev}`, expected: 'unique tensor names across shards',
        });
      }
      owner.set(t.name, h.file);
    }
  }
  const first = shards[0];
  const tensors = shards.flatMap((h) => h.tensors);
  const expected = asInt(first.metadata.get(LLM_KV_SPLIT_TENSORS_COUNT));
  if (expected !== undefined && expected !== tensors.length) {
    throw splitError(first, LLM_KV_SPLIT_TENSORS_COUNT,
      `split.tensors.count is ${expected} but the ${count} shards hold ${tensors.length} tensors`, String(tensors.length));
  }
  return { ...first, tensors, warnings: shards.flatMap((h) => h.warnings), shards };
}
