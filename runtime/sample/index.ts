// Token sampling: logits in, next token id out (llama.cpp's default chain).
export { createSampler, SAMPLER_DEFAULTS, type Sampler, type SamplerOptions } from './sampler.js';
export {
  argmaxLogits,
  argmaxSlot,
  candidatesFrom,
  createCandidates,
  loadLogits,
  loadTopK,
  softmax,
  type Candidates,
} from './candidates.js';
export { applyMinP, applyPenalties, applyTemp, applyTopK, applyTopP, sampleSlot } from './filters.js';
export { sortCandidates, sortTop } from './order.js';
export { countRecent, TokenWindow } from './history.js';
export { LLAMA_DEFAULT_SEED, resolveSeed, Xoshiro128 } from './rng.js';
export {
  createGrammarConstraint,
  grammarMatcher,
  GrammarConstraint,
  type GrammarConstraintOptions,
  type GrammarInput,
  type TokenConstraint,
} from './grammar.js';
