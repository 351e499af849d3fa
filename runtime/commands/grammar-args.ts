// The grammar flags `complete` and `chat` share, with llama.cpp's names:
// --grammar GBNF, --grammar-file FILE, --json-schema SCHEMA (JSON text),
// --json-schema-file FILE. Read and checked before the model loads, so a typo
// in a grammar is reported at once, with its file, line and column.
import { readFileSync } from 'node:fs';
import { jsonSchemaToGrammar, parseGrammar } from '../../formats/grammar/index.js';

export const GRAMMAR_OPTIONS = {
  grammar: { type: 'string' },
  'grammar-file': { type: 'string' },
  'json-schema': { type: 'string', short: 'j' },
  'json-schema-file': { type: 'string' },
} as const;

export const GRAMMAR_USAGE = `      --grammar GBNF       constrain the output to a GBNF grammar (llama.cpp's format)
      --grammar-file FILE  the same, read from FILE
  -j, --json-schema JSON   constrain the output to JSON valid under this JSON schema
      --json-schema-file FILE  the same, read from FILE`;

export interface GrammarFlags {
  grammar?: string;
  jsonSchema?: unknown;
}

/** The grammar or schema the flags give (at most one), checked; throws with a message naming the flag. */
export function readGrammarFlags(values: Partial<Record<keyof typeof GRAMMAR_OPTIONS, string>>): GrammarFlags {
  const given = (Object.keys(GRAMMAR_OPTIONS) as (keyof typeof GRAMMAR_OPTIONS)[]).filter((k) => values[k] !== undefined);
  if (given.length > 1) throw new Error(`give one of --${given.join(', --')}, not several`);
  const flag = given[0];
  if (!flag) return {};
  const value = values[flag]!;
  const file = flag.endsWith('-file');
  let text: string;
  try {
    text = file ? readFileSync(value, 'utf8') : value;
  } catch (e) {
    throw new Error(`--${flag}: cannot read ${value}: ${(e as Error).message}`);
  }
  if (flag.startsWith('grammar')) {
    // <token> elements resolve against the vocabulary later; here only the syntax is checked
    parseGrammar(text, { sourceName: file ? value : '--grammar', resolveToken: () => 0 });
    return { grammar: text };
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (e) {
    throw new Error(`--${flag}: not JSON: ${(e as Error).message}`);
  }
  jsonSchemaToGrammar(schema); // throws JsonSchemaError naming the part it cannot convert
  return { jsonSchema: schema };
}
