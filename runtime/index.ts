// run-gguf/core: the in-thread engine (the CLI and the worker-hosted API in
// runtime/api/ run it).
export { loadModel, Model, type LoadModelOptions, type ModelSource } from './model.js';
export { Context, type BatchItem, type ContextOptions, type EvaluateOptions, type GenerateOptions } from './context.js';
export { Sequence, type SequenceEvaluation } from './sequence.js';
export { grammarFromOptions, tokenLoop, type StopReason, type TokenLoopOptions, type LoopToken, type LoopEnd } from './generate.js';
export { ChatTemplateError, DownloadError, StateError, ModelError, ModelTooLargeError, ThreadError, UnsupportedError } from './errors.js';
export type { PullProgress } from './hub/index.js';
export type { LoadProgress, TensorByteSource } from './load.js';
export type { HParams } from './hparams.js';
export type { SamplerOptions } from './sample/index.js';
export { Tokenizer } from './tokenizer/index.js';
export { ChatSession, type ChatSessionOptions, type ChatMessage, type ReplyOptions, type ReplyStats } from './chat/index.js';
export {
  resolveChatTemplate, DEFAULT_TEMPLATE_LIMITS, type ChatTemplate, type ResolveOptions, type TemplateLimits,
} from './chat/index.js';
export { Ranker, type RankOptions, type RankerOptions, type RankedDocument } from './rank.js';
export { Embedder, POOLING_TYPES, type PoolingType, type EmbedOptions, type EmbedderOptions } from './embed.js';
export { createServer, ApiError, evaluateStep, type ServerOptions, type RunGgufServer } from './server/index.js';
export {
  gbnfLiteral, GrammarError, GrammarMatcher, JSON_GRAMMAR, JsonSchemaError, jsonSchemaToGrammar, parseGrammar,
  type Grammar, type JsonSchemaToGrammarOptions, type ParseGrammarOptions,
} from '../formats/grammar/index.js';
export { createGrammarConstraint, GrammarConstraint, grammarMatcher, type GrammarInput, type TokenConstraint } from './sample/index.js';
