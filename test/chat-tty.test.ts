// The interactive chat as a user sees it: the real CLI in a pseudo-terminal
// (tmux), driven with send-keys and read back with capture-pane. Three run
// side by side: a two-turn conversation with /reset and Ctrl+D; a long reply
// stopped with Ctrl+C, then Ctrl+C on the empty prompt to quit; and bare
// `run-gguf`, which lists the models it finds and chats with the one picked.
// After each exit the shell checks the terminal is back in canonical mode.
// Skips, saying why, without tmux (apt-get install tmux).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, sharedDir } from './helpers/shared.js';

const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
const hasTmux = spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
// a private server on a socket in our own temp dir: nothing shared, nothing left behind
const sockDir = hasTmux ? mkdtempSync(join(tmpdir(), 'chat-tty-')) : '';
const SOCKET = join(sockDir, 'tmux.sock');
const models = sharedDir('models');

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-S', SOCKET, ...args], { encoding: 'utf8' });
}

/** The pane's text, wrapped lines joined, trailing blank lines dropped. */
function screen(session: string): string {
  return tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', `=${session}:`).replace(/\n+$/, '');
}

async function waitFor(session: string, what: RegExp | ((s: string) => boolean), timeoutMs = 8000): Promise<string> {
  const ok = typeof what === 'function' ? what : (s: string) => what.test(s);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = screen(session);
    if (ok(s)) return s;
    if (Date.now() > end) throw new Error(`timed out waiting for ${String(what)} in:\n${s}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// capture-pane drops trailing spaces: the prompt "> " reads as ">"
const atPrompt = (s: string) => /^> ?$/.test(s.split('\n').at(-1) ?? '');
const statsLines = (s: string) => s.split('\n').filter((l) => /^\d+ tokens · /.test(l));

function start(name: string, args: string[], opts: { cwd?: string; home?: string } = {}): void {
  // the shell line after the chat reports its exit code and whether the tty is canonical again
  const env = `NO_COLOR=1${opts.home ? ` HOME=${JSON.stringify(opts.home)} HF_HOME= HF_HUB_CACHE= LLAMA_CACHE=` : ''}`;
  const cmd = `${env} ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} ${args.map((a) => JSON.stringify(a)).join(' ')}; `
    + `echo "EXIT=$? TTY=$(stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon')"; sleep 30`;
  tmux('new-session', '-d', '-s', name, '-x', '160', '-y', '50', '-c', opts.cwd ?? REPO_ROOT, cmd);
}

if (hasTmux) {
  test.after(() => {
    spawnSync('tmux', ['-S', SOCKET, 'kill-server']);
    rmSync(sockDir, { recursive: true, force: true });
  });
}

if (!hasTmux) {
  test('interactive chat in a terminal (tmux)', () => {
    console.log('  skip: tmux is not installed (apt-get install -y tmux), so the terminal chat tests do not run');
  });
} else if (models) {
  test('two turns, /reset, Ctrl+C clears a typed line, Ctrl+D exits; Ctrl+C stops a reply, Ctrl+C on an empty prompt exits', async () => {
    start('a', [join(models, 'stories260K.gguf'), '--temp', '0', '-n', '24']);
    start('b', [join(models, 'llama-2-tiny-random.gguf'), '--seed', '1', '-c', '4096']);
    // c: bare run-gguf lists the models under HOME and the working directory and asks for one
    const home = join(sockDir, 'home');
    mkdirSync(join(home, 'models'), { recursive: true });
    copyFileSync(join(models, 'stories260K.gguf'), join(home, 'models', 'stories260K.gguf'));
    start('c', [], { cwd: home, home });

    // a: the summary, then the prompt
    let a = await waitFor('a', atPrompt);
    assert.match(a, /stories260K\.gguf · llama · 292\.8K params/);
    tmux('send-keys', '-t', '=a:', 'Once upon a time', 'Enter');
    a = await waitFor('a', (s) => statsLines(s).length === 1 && atPrompt(s));
    assert.match(a, /> Once upon a time\n, there was/);
    tmux('send-keys', '-t', '=a:', 'The dog', 'Enter');
    a = await waitFor('a', (s) => statsLines(s).length === 2 && atPrompt(s));
    const turn2 = statsLines(a)[1];
    assert.ok(Number(/\+ (\d+) cached/.exec(turn2)?.[1]) >= 24, `turn 2 reused the KV cache: ${turn2}`);
    tmux('send-keys', '-t', '=a:', '/reset', 'Enter');
    await waitFor('a', /conversation cleared\n> ?$/);
    tmux('send-keys', '-t', '=a:', 'typed but not sent');
    await waitFor('a', /> typed but not sent$/);
    tmux('send-keys', '-t', '=a:', 'C-c');
    a = await waitFor('a', /conversation cleared\n> ?$/);
    tmux('send-keys', '-t', '=a:', 'C-d');
    a = await waitFor('a', /EXIT=\d+ TTY=/);
    assert.match(a, 'EXIT=0 TTY=icanon');

    // b: a random model never stops by itself; Ctrl+C does
    await waitFor('b', atPrompt);
    tmux('send-keys', '-t', '=b:', 'Hello', 'Enter');
    await waitFor('b', (s) => (s.split('> Hello\n')[1] ?? '').length > 40);
    tmux('send-keys', '-t', '=b:', 'C-c');
    let b = await waitFor('b', /· stopped\n> ?$/);
    const stats = statsLines(b)[0] ?? '';
    assert.ok(Number(stats.split(' ')[0]) < 4000, `stopped well before the context filled: ${stats}`);
    tmux('send-keys', '-t', '=b:', 'C-c');
    b = await waitFor('b', /EXIT=\d+ TTY=/);
    assert.match(b, 'EXIT=0 TTY=icanon');

    let c = await waitFor('c', /Model number \[1-1\], Enter for 1, q to quit: ?$/);
    assert.match(c, /#\s+size\s+arch\s+type\s+file\n1\s+1\.1 MB\s+llama\s+\(guessed\) all F32\s+models\/stories260K\.gguf/);
    tmux('send-keys', '-t', '=c:', '1', 'Enter');
    c = await waitFor('c', (s) => s.includes('stories260K.gguf · llama') && atPrompt(s));
    tmux('send-keys', '-t', '=c:', 'C-d');
    c = await waitFor('c', /EXIT=\d+ TTY=/);
    assert.match(c, 'EXIT=0 TTY=icanon');
  });
}

test.run();
