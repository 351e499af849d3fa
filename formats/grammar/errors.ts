// Errors of the grammar layer: a GBNF text that does not parse (with the line
// and column of the problem) and a JSON schema that cannot be converted (with
// the JSON pointer of the offending part).

/** A GBNF grammar llama.cpp would refuse: where (1-based line and column) and why. */
export class GrammarError extends Error {
  override name = 'GrammarError';
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
    readonly source?: string,
  ) {
    super(`${source ? `${source}:` : 'grammar '}${line}:${column}: ${reason}`);
  }
}

/** A JSON schema the converter cannot turn into a grammar: the schema path and why. */
export class JsonSchemaError extends Error {
  override name = 'JsonSchemaError';
  constructor(readonly reason: string, readonly path: string) {
    super(`JSON schema at ${path || '#'}: ${reason}`);
  }
}
