// The grammar's pushdown recognizer, as llama.cpp runs it: the state is a set
// of stacks of element positions; every stack's top is a terminal (a character
// class or a token element) or the stack is empty (the grammar may end there).
// Accepting a code point advances each stack whose top matches it and expands
// the result again until the tops are terminals.
//
// Stacks are interned persistent lists (a node is its top position and the id
// of the stack below), so a stack is one integer, equality is integer
// equality and stacks share their bottoms. Sets of stacks are interned too,
// and stepping a set by a code point is memoised: while generating, the same
// (set, character) pairs come back constantly (every character inside a JSON
// string leads to the same set), and checking a whole vocabulary walks each
// token's bytes through these steps.
import { GType, type Grammar } from './parse.js';

/** An interned set of grammar stacks: the whole state between code points. */
export type StackSet = number;

const CP_BITS = 2 ** 21; // code points are < 0x110000 < 2^21
const MAX_STEPS = 1 << 20;

/** Decoding state of a UTF-8 sequence cut by a token boundary, as llama.cpp's llama_partial_utf8. */
export interface PartialUtf8 {
  value: number;
  /** Bytes still expected; 0: none pending; -1: the bytes were invalid. */
  nRemain: number;
}

export class GrammarMatcher {
  readonly grammar: Grammar;
  private readonly types: Uint8Array;
  private readonly values: Uint32Array;
  // stack nodes: id 0 is the empty stack
  private nodeTop: number[] = [-1];
  private nodeNext: number[] = [0];
  private readonly nodeIds = new Map<number, number>();
  private readonly expanded = new Map<number, readonly number[]>();
  // stack sets: id 0 is the empty set (no way on)
  private readonly sets: Int32Array[] = [new Int32Array(0)];
  private readonly setIds = new Map<string, number>([['', 0]]);
  private readonly steps = new Map<number, number>();
  /** The set the grammar starts in. */
  readonly initial: StackSet;
  /** The set holding only the empty stack: the grammar has ended and accepts nothing more. */
  readonly finished: StackSet;

  constructor(grammar: Grammar) {
    this.grammar = grammar;
    this.types = grammar.types;
    this.values = grammar.values;
    const start: number[] = [];
    for (const alt of this.alternatives(grammar.root)) this.expand(alt === -1 ? 0 : this.push(alt, 0), start);
    this.initial = this.internSet(start);
    this.finished = this.internSet([0]);
  }

  /** The stacks of a set (stack ids; 0 is the empty stack). */
  stacks(set: StackSet): Int32Array {
    return this.sets[set]!;
  }

  /** The element position on top of a stack (-1 for the empty stack). */
  top(stack: number): number {
    return this.nodeTop[stack]!;
  }

  /** True when the set holds the empty stack: the input so far is a whole sentence of the grammar. */
  canEnd(set: StackSet): boolean {
    const s = this.sets[set]!;
    return s.length > 0 && s[0] === 0;
  }

  /** The set after one code point (0 when no stack accepts it). */
  step(set: StackSet, cp: number): StackSet {
    const key = set * CP_BITS + cp;
    const hit = this.steps.get(key);
    if (hit !== undefined) return hit;
    const out: number[] = [];
    for (const stack of this.sets[set]!) this.advance(stack, cp, out);
    const id = this.internSet(out);
    // a cache, not state: bounded so a long-lived grammar cannot grow without end
    if (this.steps.size >= MAX_STEPS) this.steps.clear();
    this.steps.set(key, id);
    return id;
  }

  /**
   * Whether some continuation of a partial UTF-8 sequence could match the top
   * of a stack of the set (llama.cpp's llama_grammar_match_partial_char).
   */
  matchesPartial(set: StackSet, partial: PartialUtf8): boolean {
    for (const stack of this.sets[set]!) {
      const pos = this.nodeTop[stack]!;
      if (pos < 0) continue;
      const t = this.types[pos]!;
      if (t === GType.CHAR || t === GType.CHAR_NOT || t === GType.CHAR_ANY) {
        if (this.matchPartialAt(pos, partial)) return true;
      }
    }
    return false;
  }

  /** Feeds a string's code points; returns the set after them (0 once nothing matches). */
  stepString(set: StackSet, text: string): StackSet {
    for (const ch of text) {
      if (set === 0) return 0;
      set = this.step(set, ch.codePointAt(0)!);
    }
    return set;
  }

  /** Whether the whole string is a sentence of the grammar. */
  accepts(text: string): boolean {
    return this.canEnd(this.stepString(this.initial, text));
  }

  /** Whether the string can be continued into a sentence (a viable prefix). */
  acceptsPrefix(text: string): boolean {
    return this.stepString(this.initial, text) !== 0;
  }

  /** Token ids a stack set's token elements (<[id]>, !<[id]>) accept; see GrammarMatcher.tokenTops. */
  tokenTops(set: StackSet): { type: GType.TOKEN | GType.TOKEN_NOT; id: number; stack: number }[] {
    const out: { type: GType.TOKEN | GType.TOKEN_NOT; id: number; stack: number }[] = [];
    for (const stack of this.sets[set]!) {
      const pos = this.nodeTop[stack]!;
      if (pos < 0) continue;
      const t = this.types[pos]!;
      if (t === GType.TOKEN || t === GType.TOKEN_NOT) out.push({ type: t, id: this.values[pos]!, stack });
    }
    return out;
  }

  /** Whether the set has any stack whose top is a token element. */
  hasTokenTops(set: StackSet): boolean {
    for (const stack of this.sets[set]!) {
      const pos = this.nodeTop[stack]!;
      if (pos >= 0 && this.types[pos]! >= GType.TOKEN) return true;
    }
    return false;
  }

  /** The set after a whole token matched by token elements (only those stacks move). */
  stepToken(set: StackSet, token: number): StackSet {
    const out: number[] = [];
    for (const stack of this.sets[set]!) {
      const pos = this.nodeTop[stack]!;
      if (pos < 0) continue;
      const t = this.types[pos]!;
      const v = this.values[pos]!;
      if ((t === GType.TOKEN && v === token) || (t === GType.TOKEN_NOT && v !== token)) {
        this.expand(this.after(pos + 1, this.nodeNext[stack]!), out);
      }
    }
    return this.internSet(out);
  }

  /** The set without the empty stack (what llama.cpp keeps after a token that completed no character). */
  withoutEnd(set: StackSet): StackSet {
    const s = this.sets[set]!;
    return s.length > 0 && s[0] === 0 ? this.internSet(Array.from(s.subarray(1))) : set;
  }

  /** The set of the stacks of both sets. */
  union(a: StackSet, b: StackSet): StackSet {
    return this.internSet([...this.sets[a]!, ...this.sets[b]!]);
  }

  /**
   * The fewest code points (a token element counts as one) that complete the
   * input so far into a sentence: 0 where the grammar may end, Infinity for
   * the empty set. A sampler that must finish within a budget can steer by it.
   */
  minCompletion(set: StackSet): number {
    let best = Infinity;
    for (const stack of this.sets[set]!) best = Math.min(best, this.stackMin(stack));
    return best;
  }

  /** Interned stacks and sets so far (for tests of memory use). */
  get size(): { stacks: number; sets: number; steps: number } {
    return { stacks: this.nodeTop.length, sets: this.sets.length, steps: this.steps.size };
  }

  // -- internals --

  private minMemo?: { rule: Float64Array; suffix: Float64Array; stack: Map<number, number> };

  /** Shortest completion of one stack: each frame's rest of its alternative. */
  private stackMin(stack: number): number {
    const memo = (this.minMemo ??= this.minTables());
    const hit = memo.stack.get(stack);
    if (hit !== undefined) return hit;
    let sum = 0;
    for (let s = stack; s !== 0; s = this.nodeNext[s]!) sum += memo.suffix[this.nodeTop[s]!]!;
    memo.stack.set(stack, sum);
    return sum;
  }

  /**
   * Each rule's shortest expansion (a fixed point: rules refer to each other)
   * and, from it, each position's shortest rest of its alternative.
   */
  private minTables(): { rule: Float64Array; suffix: Float64Array; stack: Map<number, number> } {
    const { types, values } = this;
    const nRules = this.grammar.ruleStart.length;
    const rule = new Float64Array(nRules).fill(Infinity);
    const suffix = new Float64Array(types.length).fill(Infinity);
    // one pass fills suffix[] right to left within each alternative from the current rule[]
    const pass = (): boolean => {
      let changed = false;
      for (let r = 0; r < nRules; r++) {
        const start = this.grammar.ruleStart[r]!;
        if (start < 0) continue;
        let end = start;
        while (types[end] !== GType.END) end++;
        let best = Infinity;
        let rest = 0;
        for (let pos = end; pos >= start; pos--) {
          const t = types[pos]!;
          if (t === GType.END || t === GType.ALT) {
            if (pos < end) best = Math.min(best, rest);
            rest = 0;
          } else if (t === GType.RULE_REF) {
            rest += rule[values[pos]!]!;
          } else if (t === GType.CHAR || t === GType.CHAR_NOT || t === GType.CHAR_ANY || t === GType.TOKEN || t === GType.TOKEN_NOT) {
            rest += 1; // one code point or token; CHAR_ALT / CHAR_RNG_UPPER continue the class
          }
          suffix[pos] = rest;
        }
        best = Math.min(best, rest);
        if (best < rule[r]!) {
          rule[r] = best;
          changed = true;
        }
      }
      return changed;
    };
    while (pass());
    return { rule, suffix, stack: new Map() };
  }

  private push(pos: number, next: number): number {
    const key = next * CP_BITS * 16 + pos; // positions < 2^25 in any grammar we build
    let id = this.nodeIds.get(key);
    if (id === undefined) {
      id = this.nodeTop.length;
      this.nodeTop.push(pos);
      this.nodeNext.push(next);
      this.nodeIds.set(key, id);
    }
    return id;
  }

  private isEndOfSequence(pos: number): boolean {
    const t = this.types[pos]!;
    return t === GType.END || t === GType.ALT;
  }

  /** The stack `next` with `pos` pushed, unless pos ends its alternative. */
  private after(pos: number, next: number): number {
    return this.isEndOfSequence(pos) ? next : this.push(pos, next);
  }

  /** First element of each alternative of a rule (-1 for an empty alternative). */
  private alternatives(rule: number): number[] {
    const out: number[] = [];
    let pos = this.grammar.ruleStart[rule]!;
    for (;;) {
      out.push(this.isEndOfSequence(pos) ? -1 : pos);
      while (!this.isEndOfSequence(pos)) pos++;
      if (this.types[pos] === GType.ALT) pos++;
      else return out;
    }
  }

  /** Adds to `out` the stacks with terminal tops that `stack` expands into (llama_grammar_advance_stack). */
  private expand(stack: number, out: number[]): void {
    let list = this.expanded.get(stack);
    if (!list) {
      const result: number[] = [];
      const seen = new Set<number>();
      const todo = [stack];
      while (todo.length) {
        const s = todo.pop()!;
        if (seen.has(s)) continue;
        seen.add(s);
        const pos = this.nodeTop[s]!;
        if (pos < 0 || this.types[pos] !== GType.RULE_REF) {
          result.push(s);
          continue;
        }
        const below = this.after(pos + 1, this.nodeNext[s]!);
        for (const alt of this.alternatives(this.values[pos]!)) todo.push(alt === -1 ? below : this.push(alt, below));
      }
      list = result;
      this.expanded.set(stack, list);
    }
    for (const s of list) out.push(s);
  }

  private advance(stack: number, cp: number, out: number[]): void {
    const pos = this.nodeTop[stack]!;
    if (pos < 0) return;
    const t = this.types[pos]!;
    if (t !== GType.CHAR && t !== GType.CHAR_NOT && t !== GType.CHAR_ANY) return;
    const [ok, end] = this.matchChar(pos, cp);
    if (ok) this.expand(this.after(end, this.nodeNext[stack]!), out);
  }

  /** Whether cp matches the class at pos, and the position after the class. */
  private matchChar(pos: number, cp: number): [boolean, number] {
    const types = this.types;
    const values = this.values;
    const positive = types[pos] !== GType.CHAR_NOT;
    let found = false;
    do {
      if (types[pos + 1] === GType.CHAR_RNG_UPPER) {
        found = found || (values[pos]! <= cp && cp <= values[pos + 1]!);
        pos += 2;
      } else if (types[pos] === GType.CHAR_ANY) {
        found = true;
        pos += 1;
      } else {
        found = found || values[pos] === cp;
        pos += 1;
      }
    } while (types[pos] === GType.CHAR_ALT);
    return [found === positive, pos];
  }

  private matchPartialAt(pos: number, partial: PartialUtf8): boolean {
    const types = this.types;
    const values = this.values;
    const positive = types[pos] !== GType.CHAR_NOT;
    const n = partial.nRemain;
    // invalid bytes, or a 7-bit character spread over two bytes (overlong)
    if (n < 0 || (n === 1 && partial.value < 2)) return false;
    let low = partial.value * 2 ** (n * 6);
    const high = low + 2 ** (n * 6) - 1;
    if (low === 0) {
      if (n === 2) low = 1 << 11;
      else if (n === 3) low = 1 << 16;
    }
    do {
      if (types[pos + 1] === GType.CHAR_RNG_UPPER) {
        if (values[pos]! <= high && low <= values[pos + 1]!) return positive;
        pos += 2;
      } else if (types[pos] === GType.CHAR_ANY) {
        return true;
      } else {
        if (low <= values[pos]! && values[pos]! <= high) return positive;
        pos += 1;
      }
    } while (types[pos] === GType.CHAR_ALT);
    return !positive;
  }

  private internSet(stacks: number[]): StackSet {
    if (stacks.length === 0) return 0;
    stacks.sort((a, b) => a - b);
    let n = 1;
    for (let i = 1; i < stacks.length; i++) if (stacks[i] !== stacks[n - 1]) stacks[n++] = stacks[i]!;
    stacks.length = n;
    const key = stacks.join(',');
    let id = this.setIds.get(key);
    if (id === undefined) {
      id = this.sets.length;
      this.sets.push(Int32Array.from(stacks));
      this.setIds.set(key, id);
    }
    return id;
  }
}
