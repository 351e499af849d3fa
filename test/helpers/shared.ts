// Locating ../shared (tiny real GGUF files and llama.cpp tokenizer vectors).
// Tests that need it skip, saying why, when it is absent: it lives beside the
// repository, never inside it.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file compiles to dist/test/helpers/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SHARED_DIR = resolve(REPO_ROOT, '..', 'shared');

/** Absolute path of ../shared/<sub>, or null (with the reason printed once) when absent. */
export function sharedDir(sub: 'models' | 'vocab'): string | null {
  const dir = join(SHARED_DIR, sub);
  if (!existsSync(dir)) {
    console.log(`  skip: ${dir} is absent, so tests on real GGUF files do not run`);
    return null;
  }
  return dir;
}

/** Every .gguf file under ../shared/models and ../shared/vocab (empty when absent). */
export function sharedGGUFFiles(): string[] {
  const out: string[] = [];
  for (const sub of ['models', 'vocab'] as const) {
    const dir = sharedDir(sub);
    if (!dir) continue;
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.gguf')) out.push(join(dir, f));
  }
  return out;
}
