// run-gguf: GGUF models in Node, Electron and browsers, computed in workers.
//
//   const model = await loadModel('model.gguf' | url | file, { onProgress });
//   const chat = await model.createChat({ systemPrompt: 'Be brief.' });
//   for await (const text of chat.send('Hello')) process.stdout.write(text);
//
// The calling thread only exchanges messages with a host worker that runs the
// engine (run-gguf/core, the in-thread API this is built on).
export { loadModel } from './client.js';
// the model cache: the cache folder in Node, the Origin Private File System (or Cache API) in browsers
export { cachedModels, deleteCachedModel, pullModel, type CachedModel, type ModelCacheOptions, type PulledModel, type PullModelOptions } from './models.js';
// the OpenAI-compatible server (Node only; loaded on first call)
export { createServer, type RunGgufServer, type ServerOptions } from './server.js';
// errors thrown in the host worker arrive as these classes (instanceof holds)
export { ChatTemplateError, DownloadError, StateError, ModelError, ModelTooLargeError, ThreadError, ToolCallError, UnsupportedError } from '../errors.js';
export { GGUFError, GGUFIncompleteError } from '../../formats/gguf/errors.js';
export { IMatrixError } from '../../formats/imatrix/errors.js';
export { GrammarError, JsonSchemaError } from '../../formats/grammar/errors.js';
export { TokenizerError } from '../tokenizer/errors.js';
export { KernelArgsError, KernelTableError } from '../../wasm/kernel-table.js';
export type {
  Chat, ChatFunction, ChatMessage, ChatOptions, ChatReply, ChatResult, ChatRole, ChatToolCall, ChatUsage, DownloadProgress, EmbedOptions, RankOptions, RankedDocument, SavedChatState,
  LoadModelOptions, LoadProgress, Model, ModelFile, ModelInfo, ModelSource, SamplingOptions, SendOptions, StopReason, ToolCallResult, ToolChoice,
} from './types.js';
