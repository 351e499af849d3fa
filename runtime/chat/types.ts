// The conversation data the chat layer passes around.

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export function isChatMessage(v: unknown): v is ChatMessage {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return (m.role === 'system' || m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string';
}
