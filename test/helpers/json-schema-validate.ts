// A small JSON Schema validator for the tests (no validator package is a
// dependency): the keywords the converter supports, checked the plain way on
// parsed values, independent of the grammar code. Returns the first problem
// found, or '' when the value is valid.

type Schema = Record<string, unknown> | boolean;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (isObj(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
  return v;
}

const FORMATS: Record<string, RegExp> = {
  date: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/,
  time: /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/,
  'date-time': /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/,
  uuid: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
};

/** '' when `value` is valid under `schema` (root = the whole document, for $ref). */
export function validate(schema: Schema, value: unknown, root: Schema = schema, at = '$'): string {
  if (schema === true) return '';
  if (schema === false) return `${at}: no value is allowed`;
  const s = schema;
  if (typeof s.$ref === 'string') {
    let target: unknown = root;
    for (const part of s.$ref.replace(/^#\/?/, '').split('/').filter(Boolean)) target = (target as Record<string, unknown>)[part];
    return validate(target as Schema, value, root, at);
  }
  if (Array.isArray(s.anyOf) && !s.anyOf.some((x) => validate(x as Schema, value, root, at) === '')) return `${at}: matches no anyOf branch`;
  if (Array.isArray(s.oneOf)) {
    const n = s.oneOf.filter((x) => validate(x as Schema, value, root, at) === '').length;
    if (n !== 1) return `${at}: matches ${n} oneOf branches`;
  }
  if (Array.isArray(s.allOf)) for (const x of s.allOf) {
    const e = validate(x as Schema, value, root, at);
    if (e) return e;
  }
  const t = typeOf(value);
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) return `${at}: ${t} is not ${types.join('|')}`;
  }
  if ('const' in s && !deepEqual(s.const, value)) return `${at}: not the const`;
  if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(e, value))) return `${at}: not in the enum`;
  if (typeof value === 'string') {
    const len = [...value].length;
    if (typeof s.minLength === 'number' && len < s.minLength) return `${at}: shorter than ${s.minLength}`;
    if (typeof s.maxLength === 'number' && len > s.maxLength) return `${at}: longer than ${s.maxLength}`;
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) return `${at}: does not match ${s.pattern}`;
    if (typeof s.format === 'string' && FORMATS[s.format.replace(/^uuid\d$/, 'uuid')] && !FORMATS[s.format.replace(/^uuid\d$/, 'uuid')]!.test(value)) return `${at}: not a ${s.format}`;
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) return `${at}: < minimum`;
    if (typeof s.maximum === 'number' && value > s.maximum) return `${at}: > maximum`;
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) return `${at}: <= exclusiveMinimum`;
    if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) return `${at}: >= exclusiveMaximum`;
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) return `${at}: fewer than ${s.minItems} items`;
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) return `${at}: more than ${s.maxItems} items`;
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : undefined;
    if (prefix) {
      if (value.length !== prefix.length) return `${at}: tuple of ${value.length}, expected ${prefix.length}`;
      for (let i = 0; i < prefix.length; i++) {
        const e = validate(prefix[i] as Schema, value[i], root, `${at}[${i}]`);
        if (e) return e;
      }
    } else if (s.items !== undefined) {
      for (let i = 0; i < value.length; i++) {
        const e = validate(s.items as Schema, value[i], root, `${at}[${i}]`);
        if (e) return e;
      }
    }
  }
  if (isObj(value)) {
    const props = isObj(s.properties) ? s.properties : {};
    if (Array.isArray(s.required)) for (const k of s.required) if (!(k in value)) return `${at}: missing ${k}`;
    for (const [k, v] of Object.entries(value)) {
      if (k in props) {
        const e = validate(props[k] as Schema, v, root, `${at}.${k}`);
        if (e) return e;
      } else if (s.additionalProperties === false) return `${at}: unexpected property ${k}`;
      else if (isObj(s.additionalProperties)) {
        const e = validate(s.additionalProperties, v, root, `${at}.${k}`);
        if (e) return e;
      }
    }
  }
  return '';
}
