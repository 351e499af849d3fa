// Stop strings, as OpenAI and llama-server apply them: the reply ends before
// the first occurrence of any stop string, which is not sent. Text that could
// be the start of a stop string is held back until the next piece decides.

export class StopFilter {
  private held = '';
  constructor(private readonly stops: readonly string[]) {}

  /** The text that can be sent now, and whether a stop string ended the reply. */
  push(text: string): { text: string; stopped: boolean } {
    if (this.stops.length === 0) return { text, stopped: false };
    this.held += text;
    let at = -1;
    for (const s of this.stops) {
      const i = this.held.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      const out = this.held.slice(0, at);
      this.held = '';
      return { text: out, stopped: true };
    }
    let keep = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.held.length); k > keep; k--) {
        if (this.held.endsWith(s.slice(0, k))) {
          keep = k;
          break;
        }
      }
    }
    const out = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return { text: out, stopped: false };
  }

  /** At the end of the reply: `rest` pushed, then whatever was held back. */
  flush(rest = ''): { text: string; stopped: boolean } {
    const r = this.push(rest);
    if (r.stopped) return r;
    const text = r.text + this.held;
    this.held = '';
    return { text, stopped: false };
  }
}
