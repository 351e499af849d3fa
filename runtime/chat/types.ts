// The conversation data the chat layer passes around. Messages carry tool
// calls and tool results in OpenAI's shape, which is also what HF
// transformers and llama.cpp hand chat templates.

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

/** A function call the assistant made (OpenAI's shape; arguments as the parsed JSON object). */
export interface ChatToolCall {
  /** 9 alphanumeric characters (Mistral's templates require exactly that). */
  id: string;
  type: 'function';
  function: { name: string; arguments: Record<string, unknown> };
}

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** An assistant message's function calls. */
  tool_calls?: ChatToolCall[];
  /** A tool message: the call it answers. */
  tool_call_id?: string;
  /** A tool message: the function's name. */
  name?: string;
}

export function isChatMessage(v: unknown): v is ChatMessage {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  if (typeof m.content !== 'string') return false;
  if (m.role === 'tool') return typeof m.tool_call_id === 'string';
  if (m.role === 'assistant' && m.tool_calls !== undefined) return Array.isArray(m.tool_calls);
  return m.role === 'system' || m.role === 'user' || m.role === 'assistant';
}

/** A copy holding only the keys that are set (templates test `'tool_calls' in message`). */
export function templateMessage(m: ChatMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: m.content };
  if (m.tool_calls) {
    out.tool_calls = m.tool_calls.map((c) => ({ id: c.id, type: c.type, function: { name: c.function.name, arguments: c.function.arguments } }));
  }
  if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
  if (m.name !== undefined) out.name = m.name;
  return out;
}
