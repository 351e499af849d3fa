// Chat: templates (Jinja, llama.cpp's built-in formats, plain completion),
// prompt tokenization with llama.cpp's BOS rule, and multi-turn sessions that
// reuse the KV cache.
export type { ChatMessage, ChatRole } from './types.js';
export { BUILTIN_TEMPLATES, detectTemplate } from './builtin.js';
export {
  BuiltinChatTemplate, ChatTemplateError, CompletionTemplate, JinjaChatTemplate, familyFallback, foldSystem,
  resolveChatTemplate, templateNames, templateTokens,
  type ChatTemplate, type RenderOptions, type ResolveOptions, type TemplateModelInfo, type TemplateTokens,
} from './template.js';
export { DEFAULT_TEMPLATE_LIMITS, renderLimited, type TemplateLimits } from './jinja-limits.js';
export { chatPromptText, tokenizeChat } from './prompt.js';
export {
  ChatSession, parseSavedChat,
  type ChatModel, type ChatSessionOptions, type ReplyOptions, type ReplyStats, type SavedChat, type StopReason,
} from './session.js';
