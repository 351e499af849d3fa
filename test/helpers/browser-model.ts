// The generated model the API and browser tests load: test-tiny (n_embd 256,
// 2 layers, vocab 512) with random Q8_0 weights, written once per process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType } from '../../formats/ggml-types.js';
import { writeGGUF, writeSplitGGUF } from '../../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../../formats/synthetic/llama.js';

export const TINY = { ...LLAMA_SHAPES['test-tiny']!, n_ctx_train: 4096 };

const spec = () => llamaModelSpec(TINY, GGMLType.Q8_0, { seed: 3 });

export interface TinyModel {
  dir: string;
  /** The whole model in one file, tiny.gguf. */
  path: string;
  cleanup(): void;
}

export async function writeTinyModel(): Promise<TinyModel> {
  const dir = mkdtempSync(join(tmpdir(), 'run-gguf-api-'));
  const path = join(dir, 'tiny.gguf');
  await writeGGUF(path, spec());
  return { dir, path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The same model split in `shards` files beside it; returns their paths. */
export function writeTinySplit(dir: string, shards: number): Promise<string[]> {
  return writeSplitGGUF(join(dir, 'tiny-split'), spec(), shards);
}
