// GBNF grammars (llama.cpp's format): the parser, the recognizer the sampler
// stage runs, and JSON Schema to GBNF. Pure: no runtime/ imports; the token
// level (which vocabulary entries may come next) is runtime/sample/grammar.ts.
export { GrammarError, JsonSchemaError } from './errors.js';
export { GType, parseGrammar, type Grammar, type ParseGrammarOptions } from './parse.js';
export { GrammarMatcher, type PartialUtf8, type StackSet } from './matcher.js';
export { gbnfLiteral, jsonSchemaToGrammar, JSON_GRAMMAR, type JsonSchemaToGrammarOptions } from './json-schema.js';
