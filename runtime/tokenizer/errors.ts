// Errors raised by the tokenizer. `context` says which vocabulary and input
// were involved, so a report from a user can be reproduced.

export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
  constructor(message: string, readonly context: Record<string, unknown> = {}) {
    super(message);
  }
}
