// general.architecture -> graph builder. Adding an architecture is one file
// in this folder and one line here.
import type { BuildGraph } from './context.js';
import { buildLlama } from './llama.js';
import { buildQwen2, buildQwen3 } from './qwen2.js';

export const ARCHITECTURES: Readonly<Record<string, BuildGraph>> = {
  llama: buildLlama,
  qwen2: buildQwen2,
  qwen3: buildQwen3,
};

export function supportedArchitectures(): string[] {
  return Object.keys(ARCHITECTURES).sort();
}
