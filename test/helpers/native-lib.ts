// node-llama-cpp's prebuilt native libraries (libllama, libggml-base) opened
// with the koffi FFI, for tests that use llama.cpp's own code as the oracle.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './shared.js';

/** The library `base` (e.g. 'llama', 'ggml-base') for this platform in node-llama-cpp's prebuilt packages, or undefined. */
export function findNodeLlamaCppLibrary(base: string): string | undefined {
  const dir = join(REPO_ROOT, 'node_modules', '@node-llama-cpp', `${process.platform}-${process.arch}`, 'bins');
  if (!existsSync(dir)) return undefined;
  const name = new RegExp(`^(lib)?${base.replace(/[.-]/g, '\\$&')}(\\.v[\\d.]+)?\\.(so|dylib|dll)$`);
  for (const sub of readdirSync(dir).sort()) {
    const d = join(dir, sub);
    const f = existsSync(d) ? readdirSync(d).find((x) => name.test(x)) : undefined;
    if (f) return join(d, f);
  }
  return undefined;
}

/** koffi and the library `base`, or why they cannot be had here (the caller skips with that message). */
export async function openNodeLlamaCppLibrary(base: string): Promise<{ koffi: typeof import('koffi'); library: string } | string> {
  const library = findNodeLlamaCppLibrary(base);
  if (!library) return `no prebuilt lib${base} for ${process.platform}-${process.arch} under node_modules/@node-llama-cpp`;
  try {
    const mod = await import('koffi');
    return { koffi: ((mod as { default?: unknown }).default ?? mod) as typeof import('koffi'), library };
  } catch (e) {
    return `the koffi FFI package cannot be loaded (${(e as Error).message.split('\n')[0]})`;
  }
}
