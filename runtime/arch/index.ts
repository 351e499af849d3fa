// general.architecture -> graph builder. Adding an architecture is one file
// in this folder and one line here.
import type { BuildGraph } from './context.js';
import { buildBert } from './bert.js';
import { buildGemma, buildGemma2, buildGemma3 } from './gemma.js';
import { buildGranite } from './granite.js';
import { buildGraniteMoe, buildLlamaOrMixtral, buildQwen2Moe, buildQwen3Moe } from './moe.js';
import { buildOlmo2 } from './olmo2.js';
import { buildPhi3 } from './phi3.js';
import { buildFalcon } from './falcon.js';
import { buildGpt2 } from './gpt2.js';
import { buildGptneox } from './gptneox.js';
import { buildPhi2 } from './phi2.js';
import { buildStablelm } from './stablelm.js';
import { buildStarcoder2 } from './starcoder2.js';
import { buildQwen2, buildQwen3 } from './qwen2.js';

export const ARCHITECTURES: Readonly<Record<string, BuildGraph>> = {
  llama: buildLlamaOrMixtral, // Mixtral too: a llama file with expert_count
  qwen2: buildQwen2,
  qwen3: buildQwen3,
  qwen2moe: buildQwen2Moe,
  qwen3moe: buildQwen3Moe,
  granitemoe: buildGraniteMoe,
  gemma: buildGemma,
  gemma2: buildGemma2,
  gemma3: buildGemma3,
  olmo2: buildOlmo2,
  granite: buildGranite,
  phi3: buildPhi3,
  phi2: buildPhi2,
  gpt2: buildGpt2,
  stablelm: buildStablelm,
  gptneox: buildGptneox,
  starcoder2: buildStarcoder2,
  falcon: buildFalcon,
  bert: buildBert, // encoders: model.embed(), no LM head
  'nomic-bert': buildBert,
};

export function supportedArchitectures(): string[] {
  return Object.keys(ARCHITECTURES).sort();
}
