// quantize's progress on a terminal: one line under llama-quantize's
// per-tensor log, "[ i/N] [====  ]  40% 12.0 MB/30.0 MB 8.1 MB/s" (tensor i
// of N, output bytes written, write rate), redrawn in place at most ~10 times
// a second. Callers make one only for a terminal, so logs and pipes get the
// per-tensor lines alone.
import { ProgressBar, type ProgressStream } from '../terminal/progress.js';

export class QuantizeProgressLine {
  private readonly start = performance.now();
  private lastDraw = -Infinity;
  private drawn = false;
  private index = 0;
  private total = 0;
  private done = 0;
  private totalBytes = 0;

  constructor(private readonly out: ProgressStream) {}

  /** A tensor starts: `line` (its log line) goes above the progress line. */
  tensor(index: number, total: number, totalBytes: number, line?: string): void {
    this.index = index;
    this.total = total;
    this.totalBytes = totalBytes;
    if (line !== undefined) this.log(line);
    this.draw(true);
  }

  /** Writes a line of log text (ending in a newline) above the progress line. */
  log(text: string): void {
    this.clear();
    this.out.write(text);
  }

  bytes(n: number): void {
    this.done += n;
    this.draw(this.done >= this.totalBytes);
  }

  /** Clears the line so what follows starts clean. */
  finish(): void {
    this.clear();
  }

  private clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }

  private draw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = this.out.columns || 80; // 0 when the pty has no size
    const w = String(this.total).length;
    const label = `[${String(this.index).padStart(w)}/${this.total}]`;
    const text = ProgressBar.line(label, this.done, this.totalBytes, (now - this.start) / 1000, width).slice(0, width - 1);
    this.out.write(`\r${text}\x1b[K`);
    this.drawn = true;
  }
}
