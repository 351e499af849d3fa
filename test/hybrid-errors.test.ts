// Hybrid files with wrong recurrent metadata are refused at load, before any
// tensor data is read, with a ModelError naming the file and the key.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF, type GGUFWriteSpec } from '../formats/gguf/index.js';
import { GRANITE_HYBRID_SHAPES, graniteHybridModelSpec } from '../formats/synthetic/granitehybrid.js';
import { LFM2_SHAPES, lfm2ModelSpec } from '../formats/synthetic/lfm2.js';
import { QWEN3NEXT_SHAPES, qwen3nextModelSpec } from '../formats/synthetic/qwen3next.js';
import { loadModel, ModelError } from '../runtime/index.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-hybrid-errors-'));
const F32 = GGMLType.F32;

/** The spec with metadata key `key` replaced by `value` (removed when undefined). */
function withKey(spec: GGUFWriteSpec, key: string, value: unknown): GGUFWriteSpec {
  const kv = spec.kv.filter((e) => e.key !== key);
  if (value !== undefined) {
    const old = spec.kv.find((e) => e.key === key);
    kv.push({ ...(old ?? { key }), key, value } as (typeof kv)[number]);
  }
  return { ...spec, kv };
}

const CASES: { what: string; spec: () => GGUFWriteSpec; key: string; says: RegExp }[] = [
  { what: 'lfm2 without shortconv.l_cache', spec: () => withKey(lfm2ModelSpec(LFM2_SHAPES['test-lfm2']!, F32), 'lfm2.shortconv.l_cache', undefined), key: 'lfm2.shortconv.l_cache', says: /l_cache = 0/ },
  { what: 'lfm2 with a head_count_kv array of the wrong length', spec: () => withKey(lfm2ModelSpec(LFM2_SHAPES['test-lfm2']!, F32), 'lfm2.attention.head_count_kv', [0, 2]), key: 'lfm2.attention.head_count_kv', says: /2 entries for 4 layers/ },
  { what: 'granitehybrid with heads that do not split into its groups', spec: () => withKey(graniteHybridModelSpec(GRANITE_HYBRID_SHAPES['test-granitehybrid']!, F32), 'granitehybrid.ssm.group_count', 3), key: 'granitehybrid.ssm.group_count', says: /3 groups/ },
  { what: 'qwen3next whose inner size is not state size times value heads', spec: () => withKey(qwen3nextModelSpec(QWEN3NEXT_SHAPES['test-qwen3next']!, F32), 'qwen3next.ssm.inner_size', 100), key: 'qwen3next.ssm.inner_size', says: /inner_size = 100/ },
];

for (const c of CASES) {
  test(`${c.what}: a ModelError naming the file and ${c.key}`, async () => {
    const path = join(dir, `${c.what.replace(/\W+/g, '-')}.gguf`);
    await writeGGUF(path, c.spec());
    try {
      (await loadModel(path)).dispose();
      assert.unreachable('loaded');
    } catch (e) {
      assert.instance(e, ModelError, String(e));
      const err = e as ModelError;
      assert.is(err.key, c.key, err.message);
      assert.is(err.file, path, err.message);
      assert.match(err.message, c.says);
    }
  });
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
