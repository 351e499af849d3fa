// Errors the runtime raises, typed so callers (the CLI, apps) can tell a
// bad model file from a misuse of the API.

/** The model file is readable GGUF but not something we can run (missing key or tensor, bad shape). */
export class ModelError extends Error {
  constructor(message: string, readonly file?: string, readonly key?: string) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'ModelError';
  }
}

/** The model cannot fit in WebAssembly's 4 GiB memory. */
export class ModelTooLargeError extends ModelError {
  constructor(message: string, file: string, readonly neededBytes: number, readonly limitBytes: number) {
    super(message, file);
    this.name = 'ModelTooLargeError';
  }
}

/** A compute thread (a worker of the pool, or the host worker) failed or never started. */
export class ThreadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ThreadError';
  }
}

/** A chat template that cannot be parsed or rendered (tokenizer.chat_template or --chat-template). */
export class ChatTemplateError extends Error {
  override name = 'ChatTemplateError';
}

/**
 * The model needs something run-gguf has no kernels for, such as a weight
 * type (IQ4_XS): not a broken file nor a stale build, so rebuilding will not help.
 */
export class UnsupportedError extends ModelError {
  constructor(message: string, readonly tensor?: string, readonly type?: string) {
    super(message, undefined, tensor);
    this.name = 'UnsupportedError';
  }
}

/**
 * A model name that could not be fetched: a malformed hf: name, a repository
 * or file the hub does not have, an HTTP failure, or a body that does not
 * match the server's checksum (it is deleted, never kept).
 */
export class DownloadError extends Error {
  constructor(message: string, readonly url?: string, readonly status?: number) {
    super(message);
    this.name = 'DownloadError';
  }
}

/**
 * A saved sequence state that cannot be loaded here: written for another
 * model or another context size, or not a state file (truncated, corrupted).
 */
export class StateError extends Error {
  constructor(message: string, readonly file?: string) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'StateError';
  }
}

/**
 * A function call in the model's reply that cannot be read: not the JSON its
 * template's format needs, or a function that was not offered. `format` names
 * the template family, `text` holds the part of the reply that failed.
 */
export class ToolCallError extends Error {
  override name = 'ToolCallError';
  constructor(message: string, readonly format: string, readonly text: string) {
    super(`${format} tool call: ${message}`);
  }
}
