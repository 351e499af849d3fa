// GBNF, the grammar format of llama.cpp (grammars/README.md there): rules
// `name ::= alternatives`, literals "..." with escapes, character classes
// [a-z] and [^...], `.`, grouping ( ), repetition * + ? {m} {m,} {m,n},
// `#` comments, and token elements <[id]> / !<[id]> / <text>.
//
// The parser accepts and rejects what llama.cpp's does, and produces the same
// flat element form: each rule is a list of elements, alternatives separated
// by ALT and closed by END; a character class is a CHAR (or CHAR_NOT) followed
// by CHAR_ALT / CHAR_RNG_UPPER elements. Groups and repetitions are rewritten
// into generated rules the way llama.cpp rewrites them (S{m,n} becomes m
// copies of S followed by n-m nested optional rules), so the same repetition
// limits hold. Errors are GrammarErrors with the line and column.
import { GrammarError } from './errors.js';

/** Element kinds; the names are llama.cpp's llama_gretype. */
export const enum GType {
  END = 0,
  ALT = 1,
  RULE_REF = 2,
  CHAR = 3,
  CHAR_NOT = 4,
  CHAR_RNG_UPPER = 5,
  CHAR_ALT = 6,
  CHAR_ANY = 7,
  TOKEN = 8,
  TOKEN_NOT = 9,
}

/** A parsed grammar: every rule's elements in one flat array. */
export interface Grammar {
  /** Element kinds (GType), all rules concatenated. */
  readonly types: Uint8Array;
  /** Element values: a code point, a rule id or a token id. */
  readonly values: Uint32Array;
  /** Index of each rule's first element in types/values. */
  readonly ruleStart: Int32Array;
  /** Rule names by rule id (generated rules are named base_N, as llama.cpp names them). */
  readonly names: readonly string[];
  /** The start rule's id. */
  readonly root: number;
  /** The GBNF text it was parsed from. */
  readonly source: string;
}

export interface ParseGrammarOptions {
  /** The start rule. Default 'root'. */
  root?: string;
  /**
   * Resolves a `<text>` token element to a token id (the text must tokenize,
   * special tokens parsed, to exactly one token). Without it `<text>` is an
   * error, as in llama.cpp without a vocabulary; `<[id]>` needs nothing.
   */
  resolveToken?: (text: string) => number | undefined;
  /** Named in error messages (a file name). */
  sourceName?: string;
}

/** llama.cpp's MAX_REPETITION_THRESHOLD: bigger repetition counts are refused or read as unbounded. */
const MAX_REPETITION = 2000;

type Rule = number[]; // pairs: type, value

class Parser {
  private readonly src: string;
  private readonly symbols = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly rules: (Rule | undefined)[] = [];
  /** Where each symbol was first referenced or defined, for errors. */
  private readonly firstSeen: number[] = [];

  constructor(src: string, private readonly options: ParseGrammarOptions) {
    this.src = src;
  }

  fail(message: string, at: number): never {
    const before = this.src.slice(0, at);
    const line = before.split('\n').length;
    const column = Array.from(before.slice(before.lastIndexOf('\n') + 1)).length + 1;
    throw new GrammarError(message, line, column, this.options.sourceName);
  }

  /** Code unit at i ('' past the end). */
  private c(i: number): string {
    return i < this.src.length ? this.src[i]! : '';
  }

  private symbolId(name: string, at: number): number {
    let id = this.symbols.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.symbols.set(name, id);
      this.names.push(name);
      this.firstSeen.push(at);
    }
    return id;
  }

  private generateSymbol(base: string, at: number): number {
    const id = this.names.length;
    const name = `${base}_${id}`;
    this.symbols.set(name, id);
    this.names.push(name);
    this.firstSeen.push(at);
    return id;
  }

  private addRule(id: number, rule: Rule): void {
    while (this.rules.length <= id) this.rules.push(undefined);
    this.rules[id] = rule;
  }

  private space(i: number, newlineOk: boolean): number {
    for (;;) {
      const ch = this.c(i);
      if (ch === ' ' || ch === '\t' || (newlineOk && (ch === '\r' || ch === '\n'))) i++;
      else if (ch === '#') {
        while (i < this.src.length && this.src[i] !== '\r' && this.src[i] !== '\n') i++;
      } else return i;
    }
  }

  private static isWord(ch: string): boolean {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch === '-';
  }

  private nameEnd(i: number): number {
    let j = i;
    while (Parser.isWord(this.c(j))) j++;
    if (j === i) this.fail('expecting a rule name', i);
    return j;
  }

  private intEnd(i: number): number {
    let j = i;
    while (this.c(j) >= '0' && this.c(j) <= '9' && this.c(j) !== '') j++;
    if (j === i) this.fail('expecting an integer', i);
    return j;
  }

  private hex(i: number, size: number): [number, number] {
    let v = 0;
    let j = i;
    for (; j < i + size; j++) {
      const d = parseInt(this.c(j), 16);
      if (!/^[0-9a-fA-F]$/.test(this.c(j))) break;
      v = v * 16 + d;
    }
    if (j !== i + size) this.fail(`expecting ${size} hex digits`, i);
    return [v, j];
  }

  /** One character of a literal or class: [code point, next index]. */
  private char(i: number): [number, number] {
    if (i >= this.src.length) this.fail('unexpected end of input', i);
    if (this.src[i] === '\\') {
      const e = this.c(i + 1);
      switch (e) {
        case 'x': return this.hex(i + 2, 2);
        case 'u': return this.hex(i + 2, 4);
        case 'U': return this.hex(i + 2, 8);
        case 't': return [9, i + 2];
        case 'r': return [13, i + 2];
        case 'n': return [10, i + 2];
        case '\\': case '"': case '[': case ']': case '-':
          return [e.charCodeAt(0), i + 2];
        default:
          this.fail(`unknown escape \\${e}`, i);
      }
    }
    const cp = this.src.codePointAt(i)!;
    return [cp, i + (cp > 0xffff ? 2 : 1)];
  }

  private token(i: number): [number, number] {
    // at '<'
    let j = i + 1;
    if (this.c(j) === '[') {
      j++;
      const end = this.intEnd(j);
      const id = Number(this.src.slice(j, end));
      j = end;
      if (this.c(j) !== ']') this.fail("expecting ']'", j);
      j++;
      if (this.c(j) !== '>') this.fail("expecting '>'", j);
      return [id, j + 1];
    }
    const resolve = this.options.resolveToken;
    if (!resolve) this.fail('a <token> element needs a vocabulary (use <[id]> or give resolveToken)', i);
    while (j < this.src.length && this.src[j] !== '>') j++;
    if (this.c(j) !== '>') this.fail("expecting '>'", j);
    const text = this.src.slice(i, j + 1);
    const id = resolve(text);
    if (id === undefined) this.fail(`invalid token ${text}: it is not exactly one token`, i);
    return [id, j + 1];
  }

  parseAlternates(i: number, ruleName: string, ruleId: number, nested: boolean): number {
    const rule: Rule = [];
    i = this.parseSequence(i, ruleName, rule, nested);
    while (this.c(i) === '|') {
      rule.push(GType.ALT, 0);
      i = this.space(i + 1, true);
      i = this.parseSequence(i, ruleName, rule, nested);
    }
    rule.push(GType.END, 0);
    this.addRule(ruleId, rule);
    return i;
  }

  private parseSequence(i: number, ruleName: string, rule: Rule, nested: boolean): number {
    let lastSymStart = rule.length;
    let nPrevRules = 1;

    const repeat = (at: number, min: number, max: number): void => {
      const noMax = max === Infinity;
      if (lastSymStart === rule.length) this.fail('expecting an item before */+/?/{', at);
      const prev = rule.slice(lastSymStart);
      const total = !noMax && max > 0 ? max : min > 0 ? min : 1;
      if (nPrevRules * total >= MAX_REPETITION) {
        this.fail(`this repetition makes ${nPrevRules * total} copies of rules; at most ${MAX_REPETITION - 1} are allowed`, at);
      }
      if (min === 0) rule.length = lastSymStart;
      else for (let k = 1; k < min; k++) rule.push(...prev);
      let lastRec = 0;
      const nOpt = noMax ? 1 : max - min;
      for (let k = 0; k < nOpt; k++) {
        const rec = prev.slice();
        const recId = this.generateSymbol(ruleName, at);
        if (k > 0 || noMax) rec.push(GType.RULE_REF, noMax ? recId : lastRec);
        rec.push(GType.ALT, 0, GType.END, 0);
        this.addRule(recId, rec);
        lastRec = recId;
      }
      if (nOpt > 0) rule.push(GType.RULE_REF, lastRec);
      nPrevRules *= total;
    };

    while (i < this.src.length) {
      const ch = this.src[i]!;
      if (ch === '"') {
        i++;
        lastSymStart = rule.length;
        nPrevRules = 1;
        while (this.c(i) !== '"') {
          if (i >= this.src.length) this.fail('unexpected end of input: unterminated literal', i);
          const [cp, next] = this.char(i);
          rule.push(GType.CHAR, cp);
          i = next;
        }
        i = this.space(i + 1, nested);
      } else if (ch === '[') {
        i++;
        let startType = GType.CHAR;
        if (this.c(i) === '^') {
          i++;
          startType = GType.CHAR_NOT;
        }
        lastSymStart = rule.length;
        nPrevRules = 1;
        while (this.c(i) !== ']') {
          if (i >= this.src.length) this.fail('unexpected end of input: unterminated character class', i);
          const [cp, next] = this.char(i);
          i = next;
          rule.push(lastSymStart < rule.length ? GType.CHAR_ALT : startType, cp);
          if (this.c(i) === '-' && this.c(i + 1) !== ']') {
            if (i + 1 >= this.src.length) this.fail('unexpected end of input in a range', i + 1);
            const [hi, after] = this.char(i + 1);
            i = after;
            rule.push(GType.CHAR_RNG_UPPER, hi);
          }
        }
        i = this.space(i + 1, nested);
      } else if (ch === '<' || ch === '!') {
        let type = GType.TOKEN;
        if (ch === '!') {
          type = GType.TOKEN_NOT;
          i++;
        }
        if (this.c(i) !== '<') this.fail("expecting '<'", i);
        const [id, end] = this.token(i);
        lastSymStart = rule.length;
        nPrevRules = 1;
        rule.push(type, id);
        i = this.space(end, nested);
      } else if (Parser.isWord(ch)) {
        const end = this.nameEnd(i);
        const ref = this.symbolId(this.src.slice(i, end), i);
        i = this.space(end, nested);
        lastSymStart = rule.length;
        nPrevRules = 1;
        rule.push(GType.RULE_REF, ref);
      } else if (ch === '(') {
        const open = i;
        i = this.space(i + 1, true);
        const before = this.names.length;
        const sub = this.generateSymbol(ruleName, open);
        i = this.parseAlternates(i, ruleName, sub, true);
        nPrevRules = Math.max(1, this.names.length - before);
        lastSymStart = rule.length;
        rule.push(GType.RULE_REF, sub);
        if (this.c(i) !== ')') this.fail("expecting ')'", i);
        i = this.space(i + 1, nested);
      } else if (ch === '.') {
        lastSymStart = rule.length;
        nPrevRules = 1;
        rule.push(GType.CHAR_ANY, 0);
        i = this.space(i + 1, nested);
      } else if (ch === '*' || ch === '+' || ch === '?') {
        const at = i;
        i = this.space(i + 1, nested);
        if (ch === '*') repeat(at, 0, Infinity);
        else if (ch === '+') repeat(at, 1, Infinity);
        else repeat(at, 0, 1);
      } else if (ch === '{') {
        const at = i;
        i = this.space(i + 1, nested);
        if (!(this.c(i) >= '0' && this.c(i) <= '9' && this.c(i) !== '')) this.fail('expecting an integer', i);
        let end = this.intEnd(i);
        const min = Number(this.src.slice(i, end));
        i = this.space(end, nested);
        let max = Infinity;
        if (this.c(i) === '}') {
          max = min;
          i = this.space(i + 1, nested);
        } else if (this.c(i) === ',') {
          i = this.space(i + 1, nested);
          if (this.c(i) >= '0' && this.c(i) <= '9' && this.c(i) !== '') {
            end = this.intEnd(i);
            max = Number(this.src.slice(i, end));
            i = this.space(end, nested);
          }
          if (this.c(i) !== '}') this.fail("expecting '}'", i);
          i = this.space(i + 1, nested);
        } else {
          this.fail("expecting ',' or '}'", i);
        }
        if (min > MAX_REPETITION) this.fail(`${min} repetitions: at most ${MAX_REPETITION} are allowed`, at);
        if (max !== Infinity && max > MAX_REPETITION) max = Infinity;
        repeat(at, min, max);
      } else {
        break;
      }
    }
    return i;
  }

  private parseRule(i: number): number {
    const end = this.nameEnd(i);
    let pos = this.space(end, false);
    const name = this.src.slice(i, end);
    const id = this.symbolId(name, i);
    this.firstSeen[id] = Math.min(this.firstSeen[id]!, i);
    if (this.src.slice(pos, pos + 3) !== '::=') this.fail("expecting '::='", pos);
    pos = this.space(pos + 3, true);
    pos = this.parseAlternates(pos, name, id, false);
    if (this.c(pos) === '\r') pos += this.c(pos + 1) === '\n' ? 2 : 1;
    else if (this.c(pos) === '\n') pos++;
    else if (pos < this.src.length) this.fail('expecting a newline or the end of the grammar', pos);
    return this.space(pos, true);
  }

  parse(): Grammar {
    let i = this.space(0, true);
    while (i < this.src.length) i = this.parseRule(i);
    if (this.rules.length === 0) this.fail('the grammar has no rules', 0);
    for (let id = 0; id < this.names.length; id++) {
      if (!this.rules[id]) this.fail(`undefined rule '${this.names[id]}'`, this.firstSeen[id]!);
    }
    const rootName = this.options.root ?? 'root';
    const root = this.symbols.get(rootName);
    if (root === undefined) this.fail(`the grammar has no '${rootName}' rule`, 0);
    const rules = this.rules as Rule[];
    const left = leftRecursive(rules);
    if (left !== undefined) this.fail(`left recursion in rule '${this.names[left]}' (not supported)`, this.firstSeen[left]!);
    let n = 0;
    for (const r of rules) n += r.length / 2;
    const types = new Uint8Array(n);
    const values = new Uint32Array(n);
    const ruleStart = new Int32Array(rules.length);
    let k = 0;
    rules.forEach((r, id) => {
      ruleStart[id] = k;
      for (let j = 0; j < r.length; j += 2, k++) {
        types[k] = r[j]!;
        values[k] = r[j + 1]! >>> 0;
      }
    });
    return { types, values, ruleStart, names: this.names, root, source: this.src };
  }
}

/** The first rule (by id) that can reach itself without consuming input, as llama.cpp checks; or undefined. */
function leftRecursive(rules: Rule[]): number | undefined {
  const n = rules.length;
  const visited = new Uint8Array(n);
  const inProgress = new Uint8Array(n);
  const mayBeEmpty = new Uint8Array(n);
  const isEnd = (t: number) => t === GType.END || t === GType.ALT;
  const detect = (id: number): boolean => {
    if (inProgress[id]) return true;
    inProgress[id] = 1;
    const r = rules[id]!;
    let atStart = true;
    for (let j = 0; j < r.length; j += 2) {
      if (isEnd(r[j]!)) {
        if (atStart) {
          mayBeEmpty[id] = 1;
          break;
        }
        atStart = true;
      } else atStart = false;
    }
    let recurse = true;
    for (let j = 0; j < r.length; j += 2) {
      const t = r[j]!;
      if (t === GType.RULE_REF && recurse) {
        if (detect(r[j + 1]!)) return true;
        if (!mayBeEmpty[r[j + 1]!]) recurse = false;
      } else if (isEnd(t)) recurse = true;
      else recurse = false;
    }
    inProgress[id] = 0;
    visited[id] = 1;
    return false;
  };
  for (let id = 0; id < n; id++) {
    if (!visited[id] && detect(id)) return id;
  }
  return undefined;
}

/** Parses GBNF text; throws GrammarError (with line and column) where llama.cpp's parser fails. */
export function parseGrammar(text: string, options: ParseGrammarOptions = {}): Grammar {
  if (typeof text !== 'string') throw new TypeError('parseGrammar: the grammar must be a string');
  // llama.cpp reads a C string: the text ends at the first NUL
  const nul = text.indexOf('\0');
  return new Parser(nul >= 0 ? text.slice(0, nul) : text, options).parse();
}
