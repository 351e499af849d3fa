// general.architecture -> graph builder. Adding an architecture is one file
// in this folder and one line here.
import type { BuildGraph } from './context.js';
import { buildLlama } from './llama.js';

export const ARCHITECTURES: Readonly<Record<string, BuildGraph>> = {
  llama: buildLlama,
};

export function supportedArchitectures(): string[] {
  return Object.keys(ARCHITECTURES).sort();
}
