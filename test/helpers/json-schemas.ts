// The table of JSON schemas the grammar tests run: each with documents that
// are valid under it and documents that are not. `strict` marks schemas
// where llama.cpp's converter forbids properties the schema does not list
// (additionalProperties absent means false there), so an extra key counts as
// invalid for the grammar even though JSON Schema would allow it.
export interface SchemaCase {
  name: string;
  schema: Record<string, unknown> | boolean;
  valid: string[];
  invalid: string[];
  /** The language is finite or every string/array is bounded: a random model finishes it quickly. */
  bounded?: boolean;
}

const person = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0, maximum: 150 } },
  required: ['name'],
};

export const SCHEMA_CASES: SchemaCase[] = [
  { name: 'boolean', schema: { type: 'boolean' }, valid: ['true', 'false'], invalid: ['1', '"true"', 'tru'], bounded: true },
  { name: 'null', schema: { type: 'null' }, valid: ['null'], invalid: ['0', '"null"'], bounded: true },
  { name: 'integer', schema: { type: 'integer' }, valid: ['0', '-12', '1234567'], invalid: ['1.5', '01', '-', '"3"'] },
  { name: 'number', schema: { type: 'number' }, valid: ['0', '-1.25', '3e10', '2.5E-3'], invalid: ['.5', '1.', '+1', 'NaN'] },
  { name: 'string', schema: { type: 'string' }, valid: ['"hi"', '""', '"a\\"b\\\\c\\u00e9"', '"日本"'], invalid: ['hi', '"a\nb"', '"\\x"'] },
  { name: 'empty schema (any value)', schema: {}, valid: ['{}', '{"a": [1, "x", null]}'], invalid: ['{a: 1}', '[1,]'] },
  { name: 'const string', schema: { const: 'yes' }, valid: ['"yes"'], invalid: ['"no"', 'yes'], bounded: true },
  { name: 'const object', schema: { const: { a: 1, b: [true] } }, valid: ['{"a":1,"b":[true]}'], invalid: ['{"a":1}', '{"b":[true],"a":1}'], bounded: true },
  { name: 'enum mixed', schema: { enum: ['red', 'green', 1, null, true] }, valid: ['"red"', '"green"', '1', 'null', 'true'], invalid: ['"blue"', '2', 'false'], bounded: true },
  { name: 'type list', schema: { type: ['string', 'null'], maxLength: 4 }, valid: ['"ab"', 'null'], invalid: ['1', '"abcde"'], bounded: true },
  { name: 'string minLength/maxLength', schema: { type: 'string', minLength: 2, maxLength: 5 }, valid: ['"ab"', '"abcde"', '"\\n\\t"'], invalid: ['"a"', '"abcdef"'], bounded: true },
  { name: 'string maxLength 0', schema: { type: 'string', maxLength: 0 }, valid: ['""'], invalid: ['"a"'], bounded: true },
  { name: 'format date', schema: { type: 'string', format: 'date' }, valid: ['"2024-02-29"', '"1999-12-31"'], invalid: ['"2024-13-01"', '"2024-1-01"', '"24-01-01"'], bounded: true },
  { name: 'format time', schema: { type: 'string', format: 'time' }, valid: ['"23:59:59Z"', '"01:02:03.456+05:30"'], invalid: ['"24:00:00Z"', '"12:00:00"'], bounded: true },
  { name: 'format date-time', schema: { type: 'string', format: 'date-time' }, valid: ['"2024-05-06T07:08:09Z"'], invalid: ['"2024-05-06 07:08:09Z"', '"2024-05-06"'], bounded: true },
  { name: 'format uuid', schema: { type: 'string', format: 'uuid' }, valid: ['"123e4567-e89b-12d3-a456-426614174000"'], invalid: ['"123e4567e89b12d3a456426614174000"', '"123e4567-e89b-12d3-a456-42661417400g"'], bounded: true },
  { name: 'pattern phone', schema: { type: 'string', pattern: '^\\(\\d{3}\\) \\d{3}-\\d{4}$' }, valid: ['"(555) 123-4567"'], invalid: ['"555-123-4567"', '"(555) 123-456"'], bounded: true },
  { name: 'pattern alternation and classes', schema: { type: 'string', pattern: '^(ab|c[d-f]+)x?[^0-9]$' }, valid: ['"abz"', '"cdefx!"', '"ce-"'], invalid: ['"ab1"', '"cx"', '"abxx1"'] },
  { name: 'pattern with quote and dot', schema: { type: 'string', pattern: '^say "[a-z]{1,3}".$' }, valid: ['"say \\"hi\\"!"'], invalid: ['"say hi!"', '"say \\"hello\\"!"'], bounded: true },
  { name: 'integer minimum', schema: { type: 'integer', minimum: 10 }, valid: ['10', '99', '12345'], invalid: ['9', '-10', '010'] },
  { name: 'integer maximum', schema: { type: 'integer', maximum: 42 }, valid: ['42', '0', '-100000'], invalid: ['43', '100'] },
  { name: 'integer range', schema: { type: 'integer', minimum: -5, maximum: 120 }, valid: ['-5', '0', '7', '99', '120'], invalid: ['-6', '121', '-0', '200'], bounded: true },
  { name: 'integer exclusive range', schema: { type: 'integer', exclusiveMinimum: 0, exclusiveMaximum: 10 }, valid: ['1', '9'], invalid: ['0', '10'], bounded: true },
  { name: 'integer negative range', schema: { type: 'integer', minimum: -300, maximum: -20 }, valid: ['-20', '-299', '-300'], invalid: ['-19', '-301', '20'], bounded: true },
  { name: 'array of integers', schema: { type: 'array', items: { type: 'integer' } }, valid: ['[]', '[1, 2, 3]'], invalid: ['[1,]', '["a"]', '[1 2]'] },
  { name: 'array minItems/maxItems', schema: { type: 'array', items: { type: 'boolean' }, minItems: 1, maxItems: 3 }, valid: ['[true]', '[true,false,true]'], invalid: ['[]', '[true,true,true,true]'], bounded: true },
  { name: 'array exactly 2', schema: { type: 'array', items: { enum: ['a', 'b'] }, minItems: 2, maxItems: 2 }, valid: ['["a","b"]'], invalid: ['["a"]', '["a","b","a"]'], bounded: true },
  { name: 'tuple prefixItems', schema: { type: 'array', prefixItems: [{ type: 'integer', minimum: 0, maximum: 9 }, { enum: ['x', 'y'] }] }, valid: ['[3,"x"]', '[ 0 , "y" ]'], invalid: ['[3]', '["x",3]', '[3,"x",1]'], bounded: true },
  { name: 'object required', schema: person, valid: ['{"name": "Ann", "age": 31}', '{"name": "Bo"}'], invalid: ['{"age": 31}', '{"name": "Ann", "age": 200}', '{"name": "Ann", "x": 1}'] },
  { name: 'object optional only', schema: { type: 'object', properties: { a: { type: 'integer', minimum: 0, maximum: 9 }, b: { type: 'boolean' } } }, valid: ['{}', '{"a": 1}', '{"b": true}', '{"a": 1, "b": false}'], invalid: ['{"b": true, "a": 1}', '{"a": 1,}'], bounded: true },
  { name: 'object additionalProperties false', schema: { type: 'object', properties: { id: { type: 'integer', minimum: 0, maximum: 99 } }, required: ['id'], additionalProperties: false }, valid: ['{"id": 7}'], invalid: ['{"id": 7, "x": 1}', '{}'], bounded: true },
  { name: 'object additionalProperties schema', schema: { type: 'object', properties: { id: { type: 'integer' } }, additionalProperties: { type: 'boolean' } }, valid: ['{"id": 1, "ok": true}', '{"x": false, "y": true}', '{}'], invalid: ['{"id": 1, "ok": 3}', '{"id": true}'] },
  { name: 'object additionalProperties true', schema: { type: 'object', properties: { a: { type: 'integer' } }, additionalProperties: true }, valid: ['{"a": 1, "b": [null]}', '{"ab": "x"}'], invalid: ['{"a": "x"}'] },
  { name: 'map of strings', schema: { type: 'object', additionalProperties: { type: 'string', maxLength: 3 } }, valid: ['{}', '{"k": "v", "k2": ""}'], invalid: ['{"k": 1}', '{"k": "long"}'] },
  { name: 'anyOf', schema: { anyOf: [{ type: 'integer', minimum: 0, maximum: 5 }, { type: 'string', maxLength: 2 }] }, valid: ['3', '"ab"'], invalid: ['9', '"abc"', 'null'], bounded: true },
  { name: 'oneOf objects', schema: { oneOf: [{ type: 'object', properties: { cat: { const: true } }, required: ['cat'] }, { type: 'object', properties: { dog: { const: true } }, required: ['dog'] }] }, valid: ['{"cat": true}', '{"dog": true}'], invalid: ['{"cat": false}', '{}'], bounded: true },
  { name: 'allOf merge', schema: { allOf: [{ type: 'object', properties: { a: { type: 'boolean' } }, required: ['a'] }, { type: 'object', properties: { b: { type: 'null' } }, required: ['b'] }] }, valid: ['{"a": true, "b": null}'], invalid: ['{"a": true}', '{"b": null, "a": true}'], bounded: true },
  { name: '$ref to $defs', schema: { $defs: { pt: { type: 'object', properties: { x: { type: 'integer', minimum: 0, maximum: 9 }, y: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['x', 'y'] } }, type: 'array', items: { $ref: '#/$defs/pt' }, maxItems: 3 }, valid: ['[{"x": 1, "y": 2}]', '[]'], invalid: ['[{"x": 1}]', '[{"x": 1, "y": 10}]'], bounded: true },
  { name: 'nested $ref chain', schema: { definitions: { a: { $ref: '#/definitions/b' }, b: { type: 'object', properties: { v: { enum: [1, 2] } }, required: ['v'] } }, type: 'object', properties: { first: { $ref: '#/definitions/a' }, second: { $ref: '#/definitions/b' } }, required: ['first', 'second'] }, valid: ['{"first": {"v": 1}, "second": {"v": 2}}'], invalid: ['{"first": {"v": 3}, "second": {"v": 2}}', '{"second": {"v": 2}, "first": {"v": 1}}'], bounded: true },
  { name: 'recursive $ref tree', schema: { $defs: { node: { type: 'object', properties: { v: { type: 'integer', minimum: 0, maximum: 9 }, kids: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } }, required: ['v'] } }, $ref: '#/$defs/node' }, valid: ['{"v": 1}', '{"v": 1, "kids": [{"v": 2}, {"v": 3, "kids": []}]}'], invalid: ['{"v": 1, "kids": [{}]}', '{"kids": []}'] },
  { name: 'anyOf with $ref and null', schema: { $defs: { tag: { type: 'string', enum: ['a', 'b'] } }, type: 'object', properties: { t: { anyOf: [{ $ref: '#/$defs/tag' }, { type: 'null' }] } }, required: ['t'] }, valid: ['{"t": "a"}', '{"t": null}'], invalid: ['{"t": "c"}', '{"t": 1}'], bounded: true },
  { name: 'nested objects and arrays', schema: { type: 'object', properties: { user: person, tags: { type: 'array', items: { type: 'string', maxLength: 8 }, maxItems: 4 }, when: { type: 'string', format: 'date' } }, required: ['user', 'tags'] }, valid: ['{"user": {"name": "A"}, "tags": ["x", "y"], "when": "2020-01-02"}', '{"user": {"name": "A", "age": 3}, "tags": []}'], invalid: ['{"user": {"name": "A"}}', '{"user": {"name": "A"}, "tags": [], "when": "2020-1-2"}'] },
  { name: 'escaped property names', schema: { type: 'object', properties: { 'a"b': { type: 'integer', minimum: 0, maximum: 1 }, 'c\\d': { type: 'boolean' }, 'new\nline': { type: 'null' } }, required: ['a"b', 'c\\d', 'new\nline'] }, valid: ['{"a\\"b": 1, "c\\\\d": true, "new\\nline": null}'], invalid: ['{"ab": 1, "c\\\\d": true, "new\\nline": null}'], bounded: true },
  { name: 'additional keys must differ from declared', schema: { type: 'object', properties: { and: { type: 'integer' }, also: { type: 'integer' } }, additionalProperties: { type: 'null' } }, valid: ['{"and": 1, "x": null}', '{"an": null, "alsox": null, "a": null}'], invalid: ['{"x": null, "and": null}', '{"also": null}'] },
  { name: 'tool call shape', schema: { type: 'object', properties: { name: { const: 'get_weather' }, arguments: { type: 'object', properties: { city: { type: 'string', minLength: 1, maxLength: 20 }, unit: { enum: ['c', 'f'] } }, required: ['city', 'unit'] } }, required: ['name', 'arguments'] }, valid: ['{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}'], invalid: ['{"name": "get_weather", "arguments": {"city": "", "unit": "c"}}', '{"name": "other", "arguments": {"city": "P", "unit": "c"}}'], bounded: true },
  { name: 'string with unicode pattern class', schema: { type: 'string', pattern: '^[α-ω]{2}\\s[A-Z]$' }, valid: ['"αβ X"', '"ωω\\tZ"'], invalid: ['"ab X"', '"αβ x"'], bounded: true },
];
