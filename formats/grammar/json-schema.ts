// JSON Schema to GBNF, covering what llama.cpp's converter
// (common/json-schema-to-grammar) covers: type (and type lists), properties,
// required, additionalProperties, enum, const, anyOf/oneOf, allOf (merged
// object components), items / prefixItems, minItems/maxItems, string
// minLength/maxLength, formats date, time, date-time and uuid, pattern
// (a regular expression anchored with ^...$), $ref into $defs/definitions (or
// any JSON pointer of the document) and integer minimum/maximum (exclusive
// too). Like llama.cpp's: properties come in schema order, required ones
// first; an object without additionalProperties allows no other keys; the
// whitespace between tokens is bounded (a model that emits newlines forever
// cannot loop inside one).
//
// Every sentence of the grammar is valid JSON that validates against the
// schema for these keywords (string patterns are kept to characters that
// need no JSON escape, so the text between the quotes is the string itself).
import { JsonSchemaError } from './errors.js';
import { regexToGbnf } from './regex.js';

export interface JsonSchemaToGrammarOptions {
  /** Name of the grammar's start rule. Default 'root'. */
  root?: string;
  /**
   * Put before the name of every rule made for this schema (not the shared
   * primitives: space, string, value...), so the grammars of several schemas
   * can be joined into one (a rule per tool, say) without their rules
   * colliding. Letters, digits and '-'. Default ''.
   */
  prefix?: string;
}

type Schema = Record<string, unknown>;

const SPACE = '| " " | "\\n"{1,2} [ \\t]{0,20}';

/** Building blocks, each a rule body and the rules it needs. */
const PRIMITIVES: Record<string, [string, string[]]> = {
  boolean: ['("true" | "false") space', []],
  'decimal-part': ['[0-9]{1,16}', []],
  'integral-part': ['[0] | [1-9] [0-9]{0,15}', []],
  number: ['("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space', ['integral-part', 'decimal-part']],
  integer: ['("-"? integral-part) space', ['integral-part']],
  value: ['object | array | string | number | boolean | null', ['object', 'array', 'string', 'number', 'boolean', 'null']],
  object: ['"{" space ( string ":" space value ("," space string ":" space value)* )? "}" space', ['string', 'value']],
  array: ['"[" space ( value ("," space value)* )? "]" space', ['value']],
  uuid: ['"\\"" [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12} "\\"" space', []],
  char: ['[^"\\\\\\x7F\\x00-\\x1F] | [\\\\] (["\\\\bfnrt] | "u" [0-9a-fA-F]{4})', []],
  string: ['"\\"" char* "\\"" space', ['char']],
  null: ['"null" space', []],
  date: ['[0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [0-1] )', []],
  time: ['([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{3} )? ( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )', []],
  'date-time': ['date "T" time', ['date', 'time']],
  'date-string': ['"\\"" date "\\"" space', ['date']],
  'time-string': ['"\\"" time "\\"" space', ['time']],
  'date-time-string': ['"\\"" date-time "\\"" space', ['date-time']],
};

const RESERVED = new Set(['root', 'space', ...Object.keys(PRIMITIVES)]);

/** A GBNF literal for a string (escapes what GBNF literals need escaped). */
export function gbnfLiteral(s: string): string {
  return '"' + s.replace(/[\r\n"\\]/g, (c) => ({ '\r': '\\r', '\n': '\\n', '"': '\\"', '\\': '\\\\' })[c]!) + '"';
}

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

class Converter {
  private readonly rules = new Map<string, string>([['space', SPACE]]);
  private readonly refNames = new Map<string, string>();
  private readonly resolving = new Set<string>();

  constructor(private readonly doc: unknown, private readonly prefix: string, private readonly rootName: string) {}

  grammar(): string {
    const rootName = this.rootName;
    const root = this.visit(this.doc, '', '#');
    if (root !== rootName) this.rules.set(rootName, root);
    // the start rule first, the rest in name order
    const names = [...this.rules.keys()].filter((n) => n !== rootName).sort();
    return [rootName, ...names].map((n) => `${n} ::= ${this.rules.get(n)}`).join('\n') + '\n';
  }

  private addRule(name: string, body: string): string {
    const base = name === this.rootName ? name : this.prefix + (name.replace(/[^a-zA-Z0-9-]+/g, '-') || 'rule');
    const have = this.rules.get(base);
    if (have === undefined || have === body) {
      this.rules.set(base, body);
      return base;
    }
    for (let i = 0; ; i++) {
      const n = `${base}${i}`;
      const h = this.rules.get(n);
      if (h === undefined || h === body) {
        this.rules.set(n, body);
        return n;
      }
    }
  }

  private primitive(name: string): string {
    const [body, deps] = PRIMITIVES[name]!;
    if (!this.rules.has(name)) {
      this.rules.set(name, body);
      for (const d of deps) this.primitive(d);
    }
    return name;
  }

  private resolvePointer(ref: string, path: string): unknown {
    if (!ref.startsWith('#')) throw new JsonSchemaError(`only local references (#/...) are supported, got ${JSON.stringify(ref)}`, path);
    let target: unknown = this.doc;
    const pointer = ref.slice(1);
    if (pointer === '') return target;
    if (!pointer.startsWith('/')) throw new JsonSchemaError(`unsupported reference ${JSON.stringify(ref)}`, path);
    for (const raw of pointer.slice(1).split('/')) {
      const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      if (Array.isArray(target) && /^\d+$/.test(key) && Number(key) < target.length) target = target[Number(key)];
      else if (isObject(target) && key in target) target = target[key];
      else throw new JsonSchemaError(`reference ${JSON.stringify(ref)} does not resolve (no ${JSON.stringify(key)})`, path);
    }
    return target;
  }

  private ref(ref: string, path: string): string {
    const known = this.refNames.get(ref);
    if (known) return known;
    const name = this.prefix + 'ref' + ref.slice(1).replace(/[^a-zA-Z0-9-]+/g, '-');
    if (this.resolving.has(ref)) return name; // recursive: the rule is being written under this name
    this.resolving.add(ref);
    const target = this.resolvePointer(ref, path);
    // reserve the name so a recursive reference points at this rule
    const body = this.visitBody(target, name, ref);
    this.rules.set(name, body);
    this.resolving.delete(ref);
    this.refNames.set(ref, name);
    return name;
  }

  /** Visits a schema and returns the name of the rule that matches it. */
  visit(schema: unknown, name: string, path: string): string {
    const ruleName = RESERVED.has(name) || name === this.rootName ? `${name}-` : name || this.rootName;
    if (isObject(schema) && typeof schema.$ref === 'string') return this.ref(schema.$ref, path);
    const prim = isObject(schema) ? this.primitiveOnly(schema) : undefined;
    if (prim) return ruleName === this.rootName ? this.addRule(this.rootName, this.primitive(prim)) : this.primitive(prim);
    return this.addRule(ruleName, this.visitBody(schema, name, path));
  }

  /** The primitive a schema is exactly (type only, no constraints), or undefined. */
  private primitiveOnly(s: Schema): string | undefined {
    if (Object.keys(s).length === 0) return 'object'; // llama.cpp reads {} as "an object"
    const keys = Object.keys(s).filter((k) => !['description', 'title', '$schema', '$id', 'examples', 'default', '$comment', '$defs', 'definitions'].includes(k));
    if (keys.length === 0) return 'value';
    if (keys.length !== 1 || typeof s.type !== 'string') return undefined;
    const t = s.type;
    return ['boolean', 'number', 'integer', 'string', 'null', 'array', 'object'].includes(t) ? t : undefined;
  }

  /** The rule body for a schema. */
  private visitBody(schema: unknown, name: string, path: string): string {
    if (schema === true || (isObject(schema) && this.primitiveOnly(schema) === 'value')) return this.primitive('value');
    if (isObject(schema) && Object.keys(schema).length === 0) return this.primitive('object');
    if (schema === false) throw new JsonSchemaError('the schema `false` allows nothing', path);
    if (!isObject(schema)) throw new JsonSchemaError(`expected a schema object, got ${JSON.stringify(schema)}`, path);
    const s = schema;
    const sub = (suffix: string) => (name ? `${name}-${suffix}` : suffix);
    const type = s.type;

    if (typeof s.$ref === 'string') return this.ref(s.$ref, path);
    for (const key of ['oneOf', 'anyOf'] as const) {
      if (key in s) {
        const alts = s[key];
        if (!Array.isArray(alts) || alts.length === 0) throw new JsonSchemaError(`${key} must be a non-empty array`, `${path}/${key}`);
        return alts.map((a, i) => this.visit(a, sub(`${key === 'oneOf' ? 'one' : 'any'}-${i}`).replace(/^-/, ''), `${path}/${key}/${i}`)).join(' | ');
      }
    }
    if (Array.isArray(type)) {
      if (type.length === 0) throw new JsonSchemaError('type must not be an empty list', `${path}/type`);
      return type.map((t, i) => this.visit({ ...s, type: t }, sub(`type-${i}`), `${path}/type/${i}`)).join(' | ');
    }
    if (type !== undefined && !['boolean', 'number', 'integer', 'string', 'null', 'array', 'object'].includes(type as string)) {
      throw new JsonSchemaError(`unknown type ${JSON.stringify(type)}`, `${path}/type`);
    }
    if ('const' in s) return `${gbnfLiteral(JSON.stringify(s.const))} space`;
    if ('enum' in s) {
      const values = s.enum;
      if (!Array.isArray(values) || values.length === 0) throw new JsonSchemaError('enum must be a non-empty array', `${path}/enum`);
      return `(${values.map((v) => gbnfLiteral(JSON.stringify(v))).join(' | ')}) space`;
    }
    if ((type === undefined || type === 'object') && ('properties' in s || ('additionalProperties' in s && s.additionalProperties !== true))) {
      const props = s.properties ?? {};
      if (!isObject(props)) throw new JsonSchemaError('properties must be an object', `${path}/properties`);
      const required = new Set(Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === 'string') : []);
      return this.objectRule(Object.entries(props), required, name, path, s.additionalProperties);
    }
    if ((type === undefined || type === 'object' || type === 'string') && Array.isArray(s.allOf)) {
      // llama.cpp merges the object components; an anyOf inside contributes optional properties
      const entries: [string, unknown][] = [];
      const required = new Set<string>();
      const add = (c: unknown, isRequired: boolean, at: string): void => {
        if (isObject(c) && typeof c.$ref === 'string') return add(this.resolvePointer(c.$ref, at), isRequired, at);
        if (isObject(c) && isObject(c.properties)) {
          for (const [k, v] of Object.entries(c.properties)) {
            entries.push([k, v]);
            if (isRequired && (!Array.isArray(c.required) || c.required.includes(k))) required.add(k);
          }
        }
      };
      s.allOf.forEach((c, i) => {
        if (isObject(c) && Array.isArray(c.anyOf)) c.anyOf.forEach((cc, j) => add(cc, false, `${path}/allOf/${i}/anyOf/${j}`));
        else add(c, true, `${path}/allOf/${i}`);
      });
      // later components override earlier ones' property schemas, keeping the first position
      const merged = new Map<string, unknown>();
      for (const [k, v] of entries) merged.set(k, v);
      return this.objectRule([...merged], required, name, path, false);
    }
    if ((type === undefined || type === 'array') && ('items' in s || 'prefixItems' in s)) {
      const items = 'prefixItems' in s ? s.prefixItems : s.items;
      if (Array.isArray(items)) {
        const parts = items.map((it, i) => this.visit(it, sub(`tuple-${i}`), `${path}/prefixItems/${i}`));
        return `"[" space ${parts.join(' "," space ')}${parts.length ? ' ' : ''}"]" space`;
      }
      const item = this.visit(items, sub('item'), `${path}/items`);
      const min = this.count(s, 'minItems', 0, path);
      const max = this.count(s, 'maxItems', Infinity, path);
      if (max < min) throw new JsonSchemaError(`maxItems ${max} < minItems ${min}`, path);
      return `"[" space ${repetition(item, min, max, '"," space')} "]" space`;
    }
    if ((type === undefined || type === 'string') && 'pattern' in s) {
      if (typeof s.pattern !== 'string') throw new JsonSchemaError('pattern must be a string', `${path}/pattern`);
      const body = regexToGbnf(s.pattern, `${path}/pattern`);
      return `"\\"" (${body}) "\\"" space`;
    }
    const format = typeof s.format === 'string' ? s.format : '';
    if ((type === undefined || type === 'string') && /^uuid[1-5]?$/.test(format)) return this.primitive('uuid');
    if ((type === undefined || type === 'string') && `${format}-string` in PRIMITIVES) return this.primitive(`${format}-string`);
    if (type === 'string' && ('minLength' in s || 'maxLength' in s)) {
      const min = this.count(s, 'minLength', 0, path);
      const max = this.count(s, 'maxLength', Infinity, path);
      if (max < min) throw new JsonSchemaError(`maxLength ${max} < minLength ${min}`, path);
      return `"\\"" ${repetition(this.primitive('char'), min, max, '')} "\\"" space`;
    }
    if (type === 'integer' && ('minimum' in s || 'maximum' in s || 'exclusiveMinimum' in s || 'exclusiveMaximum' in s)) {
      const bound = (key: string): number | undefined => {
        const v = s[key];
        if (v === undefined) return undefined;
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new JsonSchemaError(`${key} must be a number`, `${path}/${key}`);
        return v;
      };
      let min: number | undefined;
      let max: number | undefined;
      const mn = bound('minimum');
      const xmn = bound('exclusiveMinimum');
      const mx = bound('maximum');
      const xmx = bound('exclusiveMaximum');
      if (mn !== undefined) min = Math.ceil(mn);
      else if (xmn !== undefined) min = Math.floor(xmn) + 1;
      if (mx !== undefined) max = Math.floor(mx);
      else if (xmx !== undefined) max = Math.ceil(xmx) - 1;
      if (min !== undefined && max !== undefined && max < min) throw new JsonSchemaError(`no integer lies between ${min} and ${max}`, path);
      return `(${intRange(min, max)}) space`;
    }
    if (type === 'object' || Object.keys(s).length === 0) return this.primitive('object');
    if (type === undefined) return this.primitive('value');
    return this.primitive(type as string);
  }

  private count(s: Schema, key: string, dflt: number, path: string): number {
    const v = s[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new JsonSchemaError(`${key} must be a non-negative integer`, `${path}/${key}`);
    return v;
  }

  private objectRule(props: [string, unknown][], required: Set<string>, name: string, path: string, additional: unknown): string {
    const kv = new Map<string, string>();
    const req: string[] = [];
    const opt: string[] = [];
    const sub = (suffix: string) => (name ? `${name}-${suffix}` : suffix);
    for (const [key, schema] of props) {
      const value = this.visit(schema, sub(key), `${path}/properties/${key}`);
      kv.set(key, this.addRule(sub(`${key}-kv`), `${gbnfLiteral(JSON.stringify(key))} space ":" space ${value}`));
      (required.has(key) ? req : opt).push(key);
    }
    if (additional === true || isObject(additional)) {
      const value = isObject(additional) ? this.visit(additional, sub('additional-value'), `${path}/additionalProperties`) : this.primitive('value');
      const keyRule = props.length === 0 ? this.primitive('string') : this.addRule(sub('additional-k'), this.notStrings(props.map(([k]) => k)));
      kv.set('*', this.addRule(sub('additional-kv'), `${keyRule} ":" space ${value}`));
      opt.push('*');
    }
    let rule = '"{" space ' + req.map((k) => kv.get(k)!).join(' "," space ');
    if (opt.length) {
      // each optional property may appear, in order; "*" (other keys) repeats
      const chain = (keys: string[], firstOptional: boolean): string => {
        const k = keys[0]!;
        const r = kv.get(k)!;
        const comma = `( "," space ${r} )`;
        let out = firstOptional ? comma + (k === '*' ? '*' : '?') : r + (k === '*' ? ` ${comma}*` : '');
        if (keys.length > 1) out += ' ' + this.addRule(sub(`${k === '*' ? 'additional' : k}-rest`), chain(keys.slice(1), true));
        return out;
      };
      const alts = opt.map((_, i) => chain(opt.slice(i), false)).join(' | ');
      rule += req.length ? ` ( "," space ( ${alts} ) )?` : ` ( ${alts} )?`;
    }
    return rule + ' "}" space';
  }

  /**
   * A JSON object key that is none of the declared keys. The key is written as
   * units (a plain character or a one-character escape; no \\u escapes, which
   * could spell a declared key another way), walked along a trie of the
   * declared keys: at each node a different unit leaves the trie for good.
   */
  private notStrings(strings: string[]): string {
    interface Node { children: Map<string, Node>; end: boolean }
    const root: Node = { children: new Map(), end: false };
    for (const s of strings) {
      let n = root;
      for (const unit of JSON.stringify(s).slice(1, -1).match(/\\.|[^\\]/gsu) ?? []) {
        let c = n.children.get(unit);
        if (!c) n.children.set(unit, (c = { children: new Map(), end: false }));
        n = c;
      }
      n.end = true;
    }
    const keyChar = this.addRule('key-char', '[^"\\\\\\x7F\\x00-\\x1F] | [\\\\] ["\\\\bfnrt]');
    const visit = (n: Node): string => {
      const alts: string[] = [];
      const plain: string[] = [];
      const escaped: string[] = [];
      for (const [unit, child] of n.children) {
        if (unit.length === 2 && unit[0] === '\\') escaped.push(unit[1]!);
        else plain.push(unit);
        const lit = gbnfLiteral(unit);
        if (child.children.size === 0) alts.push(`${lit} ${keyChar}+`);
        else alts.push(`${lit} (${visit(child)})${child.end ? '' : '?'}`);
      }
      const other = [`[^"\\\\\\x7F\\x00-\\x1F${plain.map(classChar).join('')}]`];
      const escLeft = [...'"\\bfnrt'].filter((c) => !escaped.includes(c));
      if (escLeft.length) other.push(`[\\\\] [${escLeft.map(classChar).join('')}]`);
      alts.push(`(${other.join(' | ')}) ${keyChar}*`);
      return alts.join(' | ');
    };
    return `"\\"" (${visit(root)})${root.end ? '' : '?'} "\\"" space`;
  }
}

/** A character written inside a GBNF character class. */
export function classChar(c: string): string {
  if ('\\]-^"['.includes(c)) return '\\' + c;
  const cp = c.codePointAt(0)!;
  if (cp < 0x20 || cp === 0x7f) return '\\x' + cp.toString(16).padStart(2, '0');
  return c;
}

/** item repeated min..max times, separated by sep (a GBNF fragment, '' for none). */
function repetition(item: string, min: number, max: number, sep: string): string {
  if (max === 0) return '';
  if (min === 0 && max === 1) return `${item}?`;
  if (!sep) {
    if (min === 1 && max === Infinity) return `${item}+`;
    if (min === 0 && max === Infinity) return `${item}*`;
    return `${item}{${min},${max === Infinity ? '' : max}}`;
  }
  const rest = repetition(`(${sep} ${item})`, Math.max(min - 1, 0), max === Infinity ? Infinity : max - 1, '');
  const both = rest ? `${item} ${rest}` : item;
  return min === 0 ? `(${both})?` : both;
}

/** GBNF for the decimal integers in [min, max] (either bound may be absent), without leading zeros. */
export function intRange(min: number | undefined, max: number | undefined): string {
  if (min === undefined && max === undefined) return '"-"? ([0] | [1-9] [0-9]{0,15})';
  if (min !== undefined && max !== undefined) {
    if (max < 0) return `"-" (${positiveRange(-max, -min)})`;
    if (min < 0) return `"-" (${positiveRange(1, -min)}) | ${positiveRange(0, max)}`;
    return positiveRange(min, max);
  }
  if (min !== undefined) {
    if (min < 0) return `"-" (${positiveRange(1, -min)}) | ${atLeast(0)}`;
    return atLeast(min);
  }
  // only a maximum
  if (max! >= 0) return `"-" [1-9] [0-9]{0,15} | ${positiveRange(0, max!)}`;
  return `"-" (${atLeast(-max!)})`;
}

/** Decimal strings of the integers >= n (n >= 0), up to 16 digits. */
function atLeast(n: number): string {
  const s = String(n);
  const alts: string[] = [];
  // same number of digits and >= s
  alts.push(`(${positiveRange(n, Number('9'.repeat(s.length)))})`);
  // more digits
  if (s.length < 16) alts.push(`[1-9] [0-9]{${s.length},15}`);
  return alts.join(' | ');
}

/** Decimal strings of the integers in [lo, hi], 0 <= lo <= hi. */
function positiveRange(lo: number, hi: number): string {
  const alts: string[] = [];
  let from = lo;
  let digits = String(lo).length;
  const hiDigits = String(hi).length;
  for (; digits < hiDigits; digits++) {
    alts.push(sameLength(String(from), '9'.repeat(digits)));
    from = 10 ** digits;
  }
  alts.push(sameLength(String(from), String(hi)));
  return alts.join(' | ');
}

/** Strings of equal length between a and b (a <= b), digit by digit. */
function sameLength(a: string, b: string): string {
  if (a.length === 0) return '""';
  if (a === b) return `"${a}"`;
  let i = 0;
  while (a[i] === b[i]) i++;
  const prefix = i > 0 ? `"${a.slice(0, i)}" ` : '';
  const restLen = a.length - i - 1;
  const da = Number(a[i]);
  const db = Number(b[i]);
  if (restLen === 0) return `${prefix}[${da}-${db}]`;
  const aRest = a.slice(i + 1);
  const bRest = b.slice(i + 1);
  const any = `[0-9]{${restLen}}`;
  const alts: string[] = [];
  alts.push(`[${da}] (${sameLength(aRest, '9'.repeat(restLen))})`);
  if (db - da > 1) alts.push(`[${da + 1}-${db - 1}] ${any}`);
  alts.push(`[${db}] (${sameLength('0'.repeat(restLen), bRest)})`);
  return `${prefix}(${alts.join(' | ')})`;
}

/** GBNF text of a JSON schema; throws JsonSchemaError naming the part it cannot convert. */
export function jsonSchemaToGrammar(schema: unknown, options: JsonSchemaToGrammarOptions = {}): string {
  let doc = schema;
  if (typeof doc === 'string') {
    try {
      doc = JSON.parse(doc);
    } catch (e) {
      throw new JsonSchemaError(`not JSON: ${(e as Error).message}`, '');
    }
  }
  const root = options.root ?? 'root';
  const prefix = options.prefix ?? '';
  if (!/^[a-zA-Z0-9-]+$/.test(root)) throw new JsonSchemaError(`root rule name ${JSON.stringify(root)}: use letters, digits and '-'`, '');
  if (prefix && !/^[a-zA-Z0-9-]+$/.test(prefix)) throw new JsonSchemaError(`rule prefix ${JSON.stringify(prefix)}: use letters, digits and '-'`, '');
  return new Converter(doc, prefix, root).grammar();
}

/** Any JSON value with an object at the top: llama.cpp's response_format json_object (grammars/json.gbnf's language). */
export const JSON_GRAMMAR = jsonSchemaToGrammar({ type: 'object' });
