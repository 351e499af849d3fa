// A grammar state that leans toward finishing: for schemas whose language is
// unbounded (a plain string, an integer, an array without maxItems, a
// recursive $ref), a random-weight model wanders on for as long as it is let
// (an untrained model has no reason to close a string). The grammar is the
// schema's own, unchanged: every token is still one the grammar allows. Only
// the choice among allowed tokens is tilted: each allowed token's logit is
// lowered by lambda * (1 + the fewest characters the grammar then needs to
// end), with lambda growing with the tokens generated, so the first tokens
// are the model's own and, later, the shortest way out wins. The output is
// therefore still a sentence of the schema's grammar, reached in a bounded
// number of tokens; a test asserts that it parses and validates.
import type { GrammarConstraint } from '../../runtime/sample/index.js';
import type { Candidates } from '../../runtime/sample/index.js';
import type { Tokenizer } from '../../runtime/tokenizer/index.js';

const SEQ_LEN = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 3, 4];

interface At {
  set: number;
  value: number;
  rem: number;
}

export class ClosingPressure {
  private at: At;
  private steps = 0;

  /** rampTokens: after this many tokens lambda is 1 (a logit per missing character). */
  constructor(readonly inner: GrammarConstraint, private readonly tokenizer: Tokenizer, private readonly rampTokens = 8) {
    this.at = { set: inner.matcher.initial, value: 0, rem: 0 };
  }

  get finished(): boolean {
    return this.inner.finished;
  }

  /** Never "allowed as drawn": the sampler then masks, and mask() is where the tilt happens. */
  allows(): boolean {
    return false;
  }

  mask(c: Candidates): number {
    const n = this.inner.mask(c);
    const lambda = ++this.steps / this.rampTokens;
    for (let i = 0; i < c.size; i++) {
      if (c.logits[i] === -Infinity) continue;
      const id = c.ids[i]!;
      const cost = this.tokenizer.isEog(id) ? 0 : 1 + this.remainingAfter(id);
      if (Number.isFinite(cost)) c.logits[i]! -= lambda * cost;
    }
    return n;
  }

  accept(id: number): void {
    this.inner.accept(id);
    if (!this.tokenizer.isEog(id)) this.at = this.feed(this.at, id);
  }

  /** The fewest characters that end the grammar after this token. */
  private remainingAfter(id: number): number {
    const at = this.feed(this.at, id);
    return at.set === 0 ? Infinity : this.inner.matcher.minCompletion(at.set);
  }

  /** The grammar's set after a token's bytes (a character cut by the token boundary waits in value/rem). */
  private feed(at: At, id: number): At {
    const m = this.inner.matcher;
    let { set, value, rem } = at;
    for (const b of this.tokenizer.tokenToPieceBytes(id, { special: true })) {
      if (set === 0) break;
      if (rem > 0) {
        value = value * 64 + (b & 0x3f);
        rem--;
      } else {
        rem = Math.max(SEQ_LEN[b >> 4]! - 1, 0);
        value = b & ((1 << (7 - rem)) - 1);
      }
      if (rem === 0) set = m.step(set, value);
    }
    return { set, value, rem };
  }
}
