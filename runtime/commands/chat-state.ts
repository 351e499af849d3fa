// The chat's /save and /load beyond the conversation's JSON: the sequence's
// saved state (runtime/state.ts) in FILE.state beside it, so a conversation
// reloaded later, or in another process, skips evaluating its prompt again.
// Kept apart from the command glue in chat.ts.
import { existsSync } from 'node:fs';
import type { ChatSession } from '../chat/session.js';
import { StateError } from '../errors.js';

/** Where /save puts the KV state of the conversation saved in `file`. */
export const stateFileOf = (file: string): string => `${file}.state`;

/** Writes the session's sequence state beside its conversation file; returns the tokens saved. */
export async function saveChatState(session: ChatSession, file: string): Promise<number> {
  await session.sequence.saveState(stateFileOf(file));
  return session.sequence.position;
}

/**
 * Restores the state saved beside `file`, when there is one this model and
 * context can take. Returns the tokens restored (0: none, the next turn
 * evaluates the conversation) and why not, when it was refused.
 */
export async function loadChatState(session: ChatSession, file: string): Promise<{ tokens: number; refused?: string }> {
  const stateFile = stateFileOf(file);
  if (!existsSync(stateFile)) return { tokens: 0 };
  try {
    await session.sequence.loadState(stateFile);
    return { tokens: session.sequence.position };
  } catch (err) {
    if (err instanceof StateError) return { tokens: 0, refused: err.message };
    throw err;
  }
}
