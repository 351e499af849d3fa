// The OpenAI error object, {error: {message, type, param, code}}, and the
// statuses the server answers with. OpenAI answers a bad body or a field of
// the wrong type with 400 invalid_request_error naming the field in `param`;
// llama-server answers a prompt longer than the slot's context with 400
// exceed_context_size_error. A body past the size limit is 413.

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra fields beside the four (llama-server adds n_prompt_tokens and n_ctx to exceed_context_size_error). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code, ...this.extra } };
  }
}

/** 400 for a field: missing, of the wrong type, or out of range. */
export function badField(param: string, message: string): ApiError {
  return new ApiError(400, message, 'invalid_request_error', param, 'invalid_value');
}

/** 400 for what the API names but this server does not do yet. */
export function notSupported(param: string, what: string): ApiError {
  return new ApiError(400, `${what} is not supported yet by run-gguf serve`, 'invalid_request_error', param, 'not_supported');
}
