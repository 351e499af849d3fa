// A one-line progress bar for loading a model: bytes, percent and MB/s,
// redrawn in place at most ~10 times a second. Only for terminals: callers
// skip it when the stream is not a TTY, so logs and pipes stay clean.

export interface ProgressStream {
  write(s: string): unknown;
  columns?: number;
}

const MB = 1024 * 1024;

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GB`;
  if (n >= MB) return `${(n / MB).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} B`;
}

export class ProgressBar {
  private readonly start = performance.now();
  private lastDraw = -Infinity;
  private drawn = false;

  constructor(private readonly out: ProgressStream, private readonly label = 'loading') {}

  /** The line for `done` of `total` bytes after `seconds`. */
  static line(label: string, done: number, total: number, seconds: number, width: number): string {
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const pct = `${Math.floor(frac * 100)}%`.padStart(4);
    const rate = seconds > 0 ? `${(done / MB / seconds).toFixed(1)} MB/s` : '';
    const tail = ` ${pct} ${formatBytes(done)}/${formatBytes(total)} ${rate}`.trimEnd();
    // the numbers matter most, then the bar; a long file name gives way first
    const room = width - 1 - tail.length - 3;
    const barWidth = Math.max(10, Math.min(40, room - Math.min(label.length, 24)));
    const labelRoom = Math.max(0, room - barWidth);
    const shown = label.length <= labelRoom ? label : labelRoom > 1 ? `${label.slice(0, labelRoom - 1)}…` : '';
    const full = Math.round(frac * barWidth);
    return `${shown}${shown ? ' ' : ''}[${'='.repeat(full)}${' '.repeat(barWidth - full)}]${tail}`;
  }

  update(done: number, total: number): void {
    const now = performance.now();
    if (done < total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = this.out.columns || 80; // 0 when the pty has no size
    const text = ProgressBar.line(this.label, done, total, (now - this.start) / 1000, width).slice(0, width - 1);
    this.out.write(`\r${text}\x1b[K`);
    this.drawn = true;
  }

  /** Clears the line so what follows starts clean. */
  done(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
