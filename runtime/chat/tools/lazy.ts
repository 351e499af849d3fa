// A lazy grammar (llama.cpp's grammar_lazy): the reply is free until one of
// the trigger strings appears in it; from there on the grammar constrains it,
// starting with the text from the trigger (already sampled) fed to it. A
// model that answers in plain text is never constrained; one that opens a
// function call can only finish it with arguments its schema allows.
import type { LoopConstraint } from '../../generate.js';
import { createGrammarConstraint, type Candidates, type GrammarConstraint, type GrammarInput } from '../../sample/index.js';
import type { Tokenizer } from '../../tokenizer/index.js';

export class LazyGrammar implements LoopConstraint {
  private text = '';
  /** The tokens so far and where each one's text starts. */
  private readonly ids: number[] = [];
  private readonly starts: number[] = [];
  private active: GrammarConstraint | undefined;
  /** Where in the reply's text the grammar took over (-1: not yet). */
  triggeredAt = -1;

  constructor(private readonly grammar: GrammarInput, private readonly tokenizer: Tokenizer, private readonly triggers: readonly string[]) {}

  get triggered(): boolean {
    return this.active !== undefined;
  }

  get finished(): boolean {
    return this.active?.finished ?? false;
  }

  allows(id: number): boolean {
    return this.active ? this.active.allows(id) : true;
  }

  mask(c: Candidates): number {
    if (this.active) return this.active.mask(c);
    let n = 0;
    for (let i = 0; i < c.size; i++) if (c.logits[i]! > -Infinity) n++;
    return n;
  }

  accept(id: number): void {
    if (this.active) return this.active.accept(id);
    if (this.tokenizer.isEog(id)) return;
    const before = this.text.length;
    this.ids.push(id);
    this.starts.push(before);
    this.text += this.tokenizer.tokenToPiece(id, { special: true });
    // the earliest trigger that ends in this token
    let at = -1;
    for (const t of this.triggers) {
      const i = this.text.indexOf(t, Math.max(0, before - t.length + 1));
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at < 0) return;
    this.active = createGrammarConstraint(this.grammar, this.tokenizer);
    this.triggeredAt = at;
    // from a token boundary, the tokens themselves (a control-token marker is a token element);
    // from inside a token, the text
    const k = this.starts.indexOf(at);
    if (k >= 0) for (const t of this.ids.slice(k)) this.active.accept(t);
    else this.active.acceptText(this.text.slice(at));
  }
}
