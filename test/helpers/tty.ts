// Driving the CLI in a pseudo-terminal as a user would: tmux on a private
// socket (its own server, nothing shared with the user's), send-keys to type
// and capture-pane to read the screen.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './shared.js';

export const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');

/** Why terminal tests cannot run here, or undefined when tmux is installed. */
export function noTmuxReason(): string | undefined {
  return spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0
    ? undefined
    : 'tmux is not installed (apt-get install -y tmux), so the terminal chat tests do not run';
}

/** Single quotes for sh. */
export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface StartOptions {
  cwd?: string;
  /** HOME for the CLI (and the model caches' variables emptied): the picker searches only there. */
  home?: string;
  /** Lines piped to the CLI's stdin instead of the terminal. */
  stdin?: string[];
}

/** One reply's stats line: "24 tokens · 512.3 tokens/s · prompt 5 new + 0 cached, 90 tokens/s · context 28/2048 · -n reached". */
export interface ReplyLine {
  line: string;
  generated: number;
  fresh: number;
  cached: number;
  used: number;
  size: number;
  /** "stopped", "-n reached", "context full", or '' (the model ended its reply). */
  stop: string;
}

const STATS = /^(\d+) tokens · \S+ tokens\/s · prompt (\d+) new \+ (\d+) cached(?:, \d+ tokens\/s)? · context (\d+)\/(\d+)(?: · (.+))?$/;

/** Every stats line on the screen, in order. */
export function replyLines(screen: string): ReplyLine[] {
  const out: ReplyLine[] = [];
  for (const line of screen.split('\n')) {
    const m = STATS.exec(line);
    if (m) out.push({ line, generated: +m[1], fresh: +m[2], cached: +m[3], used: +m[4], size: +m[5], stop: m[6] ?? '' });
  }
  return out;
}

/** capture-pane drops trailing spaces: the prompt "> " reads as ">". */
export const atPrompt = (s: string) => /^> ?$/.test(s.split('\n').at(-1) ?? '');

/** Shown after the CLI exits: its exit code and the terminal's line mode and echo. */
export const exited = /EXIT=\d+ TTY=\S*/;

/** A clean exit that gave the terminal back as it found it (a raw mode left on reads "-icanon,-echo,"). */
export const RESTORED = 'EXIT=0 TTY=icanon,echo,';

export class Tty {
  private readonly dir = mkdtempSync(join(tmpdir(), 'chat-tty-'));
  private readonly socket = join(this.dir, 'tmux.sock');
  private readonly conf = join(this.dir, 'tmux.conf');

  constructor() {
    // the whole of a long reply stays readable
    writeFileSync(this.conf, 'set -g history-limit 50000\n');
  }

  /** A scratch folder removed by close(). */
  get tmp(): string {
    return this.dir;
  }

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, '-f', this.conf, ...args], { encoding: 'utf8' });
  }

  /**
   * `run-gguf ARGS` in a new 160x50 session, then a line with its exit code
   * and the terminal's modes (RESTORED when the CLI gave the terminal back as
   * it found it); the pane stays open until close().
   */
  start(name: string, args: string[], opts: StartOptions = {}): void {
    const env = `NO_COLOR=1${opts.home ? ` HOME=${shq(opts.home)} HF_HOME= HF_HUB_CACHE= LLAMA_CACHE=` : ''}`;
    const pipe = opts.stdin ? `printf '%s\\n' ${opts.stdin.map(shq).join(' ')} | ` : '';
    const cmd = `${pipe}env ${env} ${shq(process.execPath)} ${shq(CLI)} ${args.map(shq).join(' ')}; `
      + `echo "EXIT=$? TTY=$(stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?\\(icanon\\|echo\\)' | tr '\\n' ,)"; sleep 60`;
    this.tmux('new-session', '-d', '-s', name, '-x', '160', '-y', '50', '-c', opts.cwd ?? REPO_ROOT, cmd);
  }

  /** Keys for tmux send-keys: text, or names such as Enter, C-c, C-d. */
  send(name: string, ...keys: string[]): void {
    this.tmux('send-keys', '-t', `=${name}:`, ...keys);
  }

  /** Types text as it is (no key names), without Enter. */
  text(name: string, text: string): void {
    this.tmux('send-keys', '-t', `=${name}:`, '-l', text);
  }

  /** Types a line and presses Enter. */
  type(name: string, line: string): void {
    this.text(name, line);
    this.send(name, 'Enter');
  }

  /** The pane's text from the start of its history, wrapped lines joined, trailing blank lines dropped. */
  screen(name: string): string {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-', '-t', `=${name}:`).replace(/\n+$/, '');
  }

  /**
   * Polls the screen until `what` holds. The timeouts are generous (a loaded
   * 2-core machine runs several sessions at once); a passing wait returns as
   * soon as the screen shows it.
   */
  async waitFor(name: string, what: RegExp | ((s: string) => boolean), timeoutMs = 30_000): Promise<string> {
    const ok = typeof what === 'function' ? what : (s: string) => what.test(s);
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen(name);
      if (ok(s)) return s;
      if (Date.now() > end) throw new Error(`${name}: timed out waiting for ${String(what)} in:\n${s.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits for the prompt after the n-th reply; returns the screen and the replies' stats lines. */
  async replies(name: string, n: number, timeoutMs = 30_000): Promise<{ screen: string; stats: ReplyLine[] }> {
    const screen = await this.waitFor(name, (s) => replyLines(s).length >= n && atPrompt(s), timeoutMs);
    const stats = replyLines(screen);
    if (stats.length !== n) throw new Error(`${name}: ${stats.length} replies, expected ${n}:\n${screen.slice(-4000)}`);
    return { screen, stats };
  }

  /** Ends a session and what runs in it (nothing when it is gone already). */
  kill(name: string): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-session', '-t', `=${name}`]);
  }

  /** Kills the tmux server (and with it every process it started) and removes the scratch folder. */
  close(): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-server']);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
