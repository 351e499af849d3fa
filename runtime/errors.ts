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
