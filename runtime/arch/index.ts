// general.architecture -> graph builder. Adding an architecture is one file
// in this folder and one line here.
import type { BuildGraph } from './context.js';
import { buildGraniteMoe, buildLlamaOrMixtral, buildQwen2Moe, buildQwen3Moe } from './moe.js';
import { buildQwen2, buildQwen3 } from './qwen2.js';

export const ARCHITECTURES: Readonly<Record<string, BuildGraph>> = {
  llama: buildLlamaOrMixtral, // Mixtral too: a llama file with expert_count
  qwen2: buildQwen2,
  qwen3: buildQwen3,
  qwen2moe: buildQwen2Moe,
  qwen3moe: buildQwen3Moe,
  granitemoe: buildGraniteMoe,
};

export function supportedArchitectures(): string[] {
  return Object.keys(ARCHITECTURES).sort();
}
