// What of a reply with tools reaches the listener as it is generated.

/**
 * What of a reply reaches onText: everything (no tools), nothing until the
 * end (a call from the first token: the content is known only once read), or
 * text up to the first trigger of a lazy call grammar, holding back a tail
 * that may be the start of one.
 */
export class ReplyStream {
  text = '';
  private sent = 0;
  private stopped = false;

  constructor(private readonly onText: ((t: string) => void) | undefined, private readonly triggers: readonly string[] | null) {}

  push(piece: string): void {
    if (!piece) return;
    this.text += piece;
    if (this.triggers === null || this.stopped) return;
    let upTo = this.text.length;
    for (const t of this.triggers) {
      const at = this.text.indexOf(t);
      if (at >= 0) {
        this.stopped = true;
        upTo = Math.min(upTo, at);
      } else {
        // the longest tail that begins the trigger
        for (let k = Math.min(t.length - 1, this.text.length); k > 0; k--) {
          if (t.startsWith(this.text.slice(-k))) {
            upTo = Math.min(upTo, this.text.length - k);
            break;
          }
        }
      }
    }
    this.emit(upTo);
  }

  /** Sends what was held back (the reply was no call). */
  flush(): void {
    if (this.triggers !== null && !this.stopped) this.emit(this.text.length);
  }

  private emit(upTo: number): void {
    if (upTo > this.sent) {
      this.onText?.(this.text.slice(this.sent, upTo));
      this.sent = upTo;
    }
  }
}

