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
