// A JSON Schema `pattern` (an ECMAScript regular expression anchored with ^
// and $, as llama.cpp's converter requires) as GBNF for the text between a
// JSON string's quotes. The grammar matches the string as written in JSON,
// so characters the regex allows that JSON must escape are written escaped:
// a literal " becomes \", a tab \t; character classes keep to characters that
// need no escape (plus the escaped forms of ", \ and the common controls when
// the class names them). Supported: literals and escapes, ., classes with
// ranges and negation, \d \w \s and their negations, groups (capturing,
// (?:...)), alternation, * + ? {m} {m,} {m,n} (lazy forms read as greedy).
// Lookarounds and backreferences are refused.
import { JsonSchemaError } from './errors.js';

/** Characters that JSON writes as a two-character escape. */
const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

/** The GBNF for one character as it is written inside a JSON string. */
function jsonChar(cp: number): string {
  const esc = SHORT_ESCAPES[cp];
  const written = esc ?? (cp < 0x20 ? `\\u${cp.toString(16).padStart(4, '0')}` : String.fromCodePoint(cp));
  return '"' + written.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

function hexEsc(cp: number): string {
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
}

type Range = [number, number];

const DIGIT: Range[] = [[0x30, 0x39]];
const WORD: Range[] = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
const SPACE: Range[] = [[0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x2028, 0x2029], [0xfeff, 0xfeff]];

function complement(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

/** GBNF for a set of characters, as written in a JSON string. */
function charSet(ranges: Range[]): string {
  const plain: Range[] = [];
  const escapes: string[] = [];
  // split off what JSON must escape: controls, " and \ (DEL passes unescaped, but the char rule keeps it out)
  const specials: number[] = [];
  for (let cp = 0; cp < 0x20; cp++) specials.push(cp);
  specials.push(0x22, 0x5c, 0x7f);
  for (const [lo, hi] of ranges) {
    let a = lo;
    for (const sp of specials) {
      if (sp < a || sp > hi) continue;
      if (sp > a) plain.push([a, sp - 1]);
      if (sp !== 0x7f) escapes.push(jsonChar(sp));
      a = sp + 1;
    }
    if (a <= hi) plain.push([a, hi]);
  }
  const alts: string[] = [];
  if (plain.length) alts.push('[' + plain.map(([lo, hi]) => (lo === hi ? hexEsc(lo) : `${hexEsc(lo)}-${hexEsc(hi)}`)).join('') + ']');
  alts.push(...escapes);
  if (alts.length === 0) throw new Error('empty set');
  return alts.length === 1 ? alts[0]! : `(${alts.join(' | ')})`;
}

class RegexParser {
  private i = 0;
  constructor(private readonly src: string, private readonly path: string) {}

  private fail(why: string): never {
    throw new JsonSchemaError(`pattern ${JSON.stringify(this.src)}: ${why} at offset ${this.i}`, this.path);
  }

  private peek(): string {
    return this.src[this.i] ?? '';
  }

  parse(): string {
    const out = this.alternation();
    if (this.i < this.src.length) this.fail(`unexpected ${JSON.stringify(this.peek())}`);
    return out;
  }

  private alternation(): string {
    const alts = [this.sequence()];
    while (this.peek() === '|') {
      this.i++;
      alts.push(this.sequence());
    }
    return alts.length === 1 ? alts[0]! : alts.map((a) => (a === '' ? '""' : a)).join(' | ');
  }

  private sequence(): string {
    const parts: string[] = [];
    while (this.i < this.src.length && this.peek() !== '|' && this.peek() !== ')') {
      const atom = this.atom();
      parts.push(this.quantified(atom));
    }
    return parts.join(' ');
  }

  private quantified(atom: string): string {
    const c = this.peek();
    let q = '';
    if (c === '*' || c === '+' || c === '?') {
      this.i++;
      q = c;
    } else if (c === '{' && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.i))) {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i))!;
      this.i += m[0].length;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? undefined : Number(m[3]);
      if (max !== undefined && max < min) this.fail('a repetition {m,n} with n < m');
      if (min > 1000 || (max ?? 0) > 1000) this.fail('repetition counts above 1000 are not supported');
      q = max === undefined ? `{${min},}` : max === min ? `{${min}}` : `{${min},${max}}`;
    } else return atom;
    if (this.peek() === '?') this.i++; // lazy: the language is the same
    if (this.peek() === '*' || this.peek() === '+' || (this.peek() === '{' && /^\{\d/.test(this.src.slice(this.i)))) this.fail('a quantifier on a quantifier');
    return `(${atom})${q}`;
  }

  private atom(): string {
    const c = this.peek();
    if (c === '(') {
      this.i++;
      if (this.src.startsWith('?:', this.i)) this.i += 2;
      else if (this.peek() === '?') {
        if (this.src.startsWith('?<', this.i) && !/^\?<[=!]/.test(this.src.slice(this.i))) {
          const end = this.src.indexOf('>', this.i);
          if (end < 0) this.fail('unterminated group name');
          this.i = end + 1;
        } else this.fail('lookarounds are not supported');
      }
      const inner = this.alternation();
      if (this.peek() !== ')') this.fail("expecting ')'");
      this.i++;
      return `(${inner === '' ? '""' : inner})`;
    }
    if (c === '[') return this.charClass();
    if (c === '.') {
      this.i++;
      return charSet(complement([[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]]));
    }
    if (c === '^' || c === '$') this.fail('anchors are only allowed at the ends of the pattern');
    if (c === '*' || c === '+' || c === '?' || c === '{' && /^\{\d/.test(this.src.slice(this.i))) this.fail('a quantifier with nothing before it');
    if (c === '\\') {
      const set = this.escape(false);
      return typeof set === 'number' ? jsonChar(set) : charSet(set);
    }
    const cp = this.src.codePointAt(this.i)!;
    this.i += cp > 0xffff ? 2 : 1;
    return jsonChar(cp);
  }

  /** After a backslash: a code point, or a class of them. */
  private escape(inClass: boolean): number | Range[] {
    this.i++;
    const e = this.peek();
    if (e === '') this.fail('a pattern ending in a backslash');
    this.i++;
    switch (e) {
      case 'd': return DIGIT;
      case 'D': return complement(DIGIT);
      case 'w': return WORD;
      case 'W': return complement(WORD);
      case 's': return SPACE;
      case 'S': return complement(SPACE);
      case 't': return 0x09;
      case 'n': return 0x0a;
      case 'r': return 0x0d;
      case 'f': return 0x0c;
      case 'v': return 0x0b;
      case '0': return 0;
      case 'b':
        if (inClass) return 0x08;
        this.fail('word boundaries are not supported');
      // falls through (fail throws)
      case 'x': {
        const h = /^[0-9a-fA-F]{2}/.exec(this.src.slice(this.i));
        if (!h) this.fail('\\x needs two hex digits');
        this.i += 2;
        return parseInt(h[0], 16);
      }
      case 'u': {
        const h = /^[0-9a-fA-F]{4}/.exec(this.src.slice(this.i)) ?? /^\{([0-9a-fA-F]{1,6})\}/.exec(this.src.slice(this.i));
        if (!h) this.fail('\\u needs four hex digits');
        this.i += h[0].length;
        return parseInt(h[1] ?? h[0], 16);
      }
      default:
        if (/[1-9kpP]/.test(e)) this.fail(`\\${e} (backreferences, named groups and Unicode properties) is not supported`);
        if (/[a-zA-Z]/.test(e) && !inClass) this.fail(`unknown escape \\${e}`);
        return this.src.codePointAt(this.i - 1)!;
    }
  }

  private charClass(): string {
    this.i++;
    let negate = false;
    if (this.peek() === '^') {
      negate = true;
      this.i++;
    }
    const ranges: Range[] = [];
    while (this.peek() !== ']') {
      if (this.i >= this.src.length) this.fail('unterminated character class');
      const lo = this.classAtom();
      if (this.peek() === '-' && this.src[this.i + 1] !== ']' && this.src[this.i + 1] !== undefined) {
        this.i++;
        const hi = this.classAtom();
        if (typeof lo !== 'number' || typeof hi !== 'number') this.fail('a range with a class at one end');
        if (hi < lo) this.fail('a range out of order');
        ranges.push([lo, hi]);
      } else if (typeof lo === 'number') ranges.push([lo, lo]);
      else ranges.push(...lo);
    }
    this.i++;
    const set = negate ? complement(ranges) : ranges;
    if (set.length === 0) this.fail('a class that matches nothing');
    return charSet(set);
  }

  private classAtom(): number | Range[] {
    if (this.peek() === '\\') return this.escape(true);
    const cp = this.src.codePointAt(this.i)!;
    this.i += cp > 0xffff ? 2 : 1;
    return cp;
  }
}

/** GBNF for the JSON-written text of the strings a pattern matches; errors name the schema path. */
export function regexToGbnf(pattern: string, path: string): string {
  if (!(pattern.startsWith('^') && pattern.endsWith('$') && pattern.length >= 2)) {
    throw new JsonSchemaError(`pattern ${JSON.stringify(pattern)} must start with ^ and end with $ (as llama.cpp requires)`, path);
  }
  const body = new RegexParser(pattern.slice(1, -1), path).parse();
  return body === '' ? '""' : body;
}
