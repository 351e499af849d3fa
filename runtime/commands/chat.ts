// run-gguf [chat] <model.gguf>: an interactive chat in the terminal, in the
// spirit of llama.cpp's llama-cli conversation mode.
//
// Three ways to run: a terminal (line editing, streaming, Ctrl+C stops a
// reply), -p TEXT (one reply, then exit), or stdin piped (each line is one
// user turn, replies on stdout). Replies go to stdout; everything else
// (summary, progress, notices, stats) to stderr, so pipes get only replies.
import { loraUsage, numberFlag, SAMPLING_OPTIONS, samplingFlags, samplingUsage, seedUsage, takeLoraArgs } from './args.js';
import { GRAMMAR_OPTIONS, GRAMMAR_USAGE, readGrammarFlags, type GrammarFlags } from './grammar-args.js';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';
import { fileTypeOf } from '../../formats/gguf/index.js';
import { modelFiles, writeOutput } from '../../formats/output-file.js';
import { ChatSession, ChatTemplateError, resolveChatTemplate, templateNames, type ChatTemplate, type ReplyStats } from '../chat/index.js';
import type { Context } from '../context.js';
import { loadModel, type Model } from '../model.js';
import { styles, type Styles } from '../terminal/colors.js';
import { errorLine, printable } from '../terminal/printable.js';
import { ProgressBar } from '../terminal/progress.js';
import { modelTotals } from './info.js';
import { modelArgument } from './pull.js';
import { loadChatState, saveChatState, stateFileOf } from './chat-state.js';

/** Words joined with ", " in lines of at most `width` columns, each indented by `indent`. */
function wrapList(words: readonly string[], indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    const piece = line ? `, ${w}` : w;
    if (indent + line.length + piece.length + 1 > width) {
      lines.push(`${line},`);
      line = w;
    } else {
      line += piece;
    }
  }
  if (line) lines.push(line);
  return lines.map((l) => ' '.repeat(indent) + l).join('\n');
}

export const chatUsage = `Usage: run-gguf [chat] <model.gguf> [options]

Chats with a model in the terminal, using the chat template in its file.
Without a terminal on stdin, each input line is one user message and the
replies go to stdout.

Options:
      --system TEXT        system prompt
  -p, --prompt TEXT        answer this one message and exit
      --chat-template T    overrides the file's template: a Jinja FILE, Jinja text,
                           or a built-in name:
${wrapList(templateNames(), 27, 78)}
      --chat-template-fallback  when the model's Jinja template runs into its
                           rendering limit (steps, time, output size), use the
                           built-in format it resembles instead of stopping
  -n, --n-predict N        tokens per reply at most (default -1: until the model stops)
${samplingUsage}
      --ignore-eos         never end a reply on an end-of-generation token
${seedUsage}
  -c, --ctx-size N         context size (default: min(4096, the model's))
  -t, --threads N          threads (default: all cores)
${loraUsage}
${GRAMMAR_USAGE}
                           (every reply follows it)
      --verbose            stack traces and loader warnings
  -h, --help               this text

In the chat: /help lists the commands; Ctrl+C stops a reply; Ctrl+C on an
empty line or Ctrl+D exits.`;

const COMMAND_HELP: ReadonlyArray<[string, string]> = [
  ['/help', 'this list'],
  ['/reset', 'forget the conversation (the system prompt stays)'],
  ['/system [TEXT]', 'set the system prompt (without TEXT: show it)'],
  ['/save FILE', 'save the conversation as JSON'],
  ['/load FILE', 'load a conversation saved with /save'],
  ['/stats', 'context use, token counts and speeds'],
  ['/exit', 'quit (also Ctrl+D, or Ctrl+C on an empty line)'],
];
const COMMAND_NAMES = new Set(['help', 'reset', 'system', 'save', 'load', 'stats', 'exit', 'quit']);

function oneLine(err: unknown): string {
  // messages quote keys, names and template text from the file
  return errorLine(err);
}

/** 292.4K, 1.10B: parameter counts as model cards write them. */
export function formatParams(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** The one-line model summary: architecture, parameters, file type, context, threads. */
export function modelSummary(model: Model, ctx: Context): string {
  const totals = modelTotals(model.gguf);
  const ft = fileTypeOf(model.gguf);
  const hp = model.hparams;
  return [
    basename(model.path),
    hp.arch,
    `${formatParams(totals.nParams)} params`,
    ft.name,
    `context ${ctx.contextSize}${ctx.contextSize !== hp.n_ctx_train ? ` of ${hp.n_ctx_train}` : ''}`,
    `${ctx.threads} thread${ctx.threads === 1 ? '' : 's'}`,
  ].join(' · ');
}

export function templateSummary(t: ChatTemplate): string {
  // the origin may quote the file's template or its error
  const origin = printable(t.origin.replace(/\r?\n/g, '\\n'));
  if (t.kind === 'completion') return `no chat template: plain completion (${origin})`;
  if (t.kind === 'jinja') return `chat template: ${origin} (Jinja)`;
  return `chat template: ${t.name} (built-in; ${origin})`;
}

export function statsLine(s: ReplyStats, used: number, size: number): string {
  const secs = s.generateMs / 1000;
  const tps = secs > 0 ? (s.generatedTokens / secs).toFixed(1) : '-';
  const ppTps = s.promptMs > 0 && s.promptTokens > 0 ? `, ${(s.promptTokens / (s.promptMs / 1000)).toFixed(0)} tokens/s` : '';
  const stop = s.stop === 'aborted' ? ' · stopped' : s.stop === 'max-tokens' ? ' · -n reached' : s.stop === 'context-full' ? ' · context full' : '';
  return `${s.generatedTokens} tokens · ${tps} tokens/s · prompt ${s.promptTokens} new + ${s.reusedTokens} cached${ppTps} · context ${used}/${size}${stop}`;
}

interface ChatIO {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  ui: Styles;
  /** Files /save may not write: the model's. */
  inputs: string[];
}

export async function runChat(argv: string[]): Promise<number> {
  const { args, lora } = takeLoraArgs(argv);
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      system: { type: 'string' },
      prompt: { type: 'string', short: 'p' },
      'chat-template': { type: 'string' },
      'chat-template-fallback': { type: 'boolean' },
      'n-predict': { type: 'string', short: 'n' },
      ...SAMPLING_OPTIONS,
      'ignore-eos': { type: 'boolean' },
      'ctx-size': { type: 'string', short: 'c' },
      threads: { type: 'string', short: 't' },
      ...GRAMMAR_OPTIONS,
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(chatUsage);
    return 0;
  }
  const io: ChatIO = { out: process.stdout, err: process.stderr, ui: styles(process.stderr), inputs: [] };
  const { ui } = io;
  const verbose = values.verbose === true;
  const sampling = samplingFlags(values);
  const maxTokens = numberFlag('n-predict', values['n-predict']);
  const contextSize = numberFlag('ctx-size', values['ctx-size']);
  const threads = numberFlag('threads', values.threads);

  let path = positionals[0];
  if (path === undefined) {
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      console.error(chatUsage);
      return 2;
    }
    const { pickModel } = await import('./pick.js');
    const picked = await pickModel();
    if (picked === undefined) return 0;
    path = picked;
  }
  // hf:user/repo:QUANT and the other model names: fetched into the cache first
  path = await modelArgument(path);

  let constraint: GrammarFlags;
  try {
    constraint = readGrammarFlags(values);
  } catch (e) {
    process.stderr.write(`run-gguf: ${oneLine(e)}\n`);
    return 2;
  }

  io.inputs = modelFiles(path);
  // a mistyped --chat-template is reported before the (possibly long) load
  let override: string | undefined;
  let overrideLabel: string | undefined;
  const ct = values['chat-template'];
  if (ct !== undefined) {
    if (existsSync(ct) && !templateNames().includes(ct)) {
      override = readFileSync(ct, 'utf8');
      overrideLabel = `template file ${basename(ct)}`;
    } else if (templateNames().includes(ct) || ct.includes('{{') || ct.includes('{%')) {
      override = ct;
      overrideLabel = `--chat-template ${ct.length > 40 ? 'text' : ct}`;
    } else {
      io.err.write(`run-gguf: unknown chat template "${ct}": not a file, not Jinja, not one of ${templateNames().join(', ')}\n`);
      return 2;
    }
  }

  let model: Model;
  const bar = io.err.isTTY ? new ProgressBar(io.err, `loading ${basename(path)}`) : undefined;
  try {
    model = await loadModel(path, {
      contextSize,
      lora,
      onProgress: bar ? (p) => bar.update(p.loadedBytes, p.totalBytes) : undefined,
      onWarning: verbose ? (w) => io.err.write(ui.yellow(`warning: ${w}\n`)) : undefined,
    });
  } catch (err) {
    bar?.done();
    // errors from the reader already name the file
    const msg = oneLine(err);
    io.err.write(`run-gguf: cannot load ${path}: ${msg.startsWith(`${path}: `) ? msg.slice(path.length + 2) : msg}\n`);
    if (verbose && err instanceof Error && err.stack) io.err.write(`${err.stack}\n`);
    return 1;
  }
  bar?.done();

  let ctx: Context | undefined;
  try {
    ctx = model.createContext({ contextSize, threads });
    let template: ChatTemplate;
    try {
      template = resolveChatTemplate(
        { get: (k) => model.gguf.metadata.get(k), tokenizer: model.tokenizer, fileName: basename(path) },
        { override, overrideLabel, fallback: values['chat-template-fallback'] === true },
      );
    } catch (err) {
      io.err.write(`run-gguf: ${oneLine(err)}\n`);
      return 1;
    }
    io.err.write(`${ui.bold(modelSummary(model, ctx))}\n`);
    io.err.write(`${ui.dim(templateSummary(template))}\n`);

    const session = new ChatSession(model, ctx, {
      template, system: values.system, maxTokens, ignoreEos: values['ignore-eos'], ...sampling, ...constraint,
    });
    if (values.prompt !== undefined) return await oneShot(session, values.prompt, io);
    if (!process.stdin.isTTY) return await piped(session, io);
    return await interactive(session, io);
  } finally {
    ctx?.dispose();
    model.dispose();
  }
}

/** Runs one reply, Ctrl+C (SIGINT) aborting it. */
async function replyTo(session: ChatSession, text: string, io: ChatIO, ac: AbortController): Promise<ReplyStats> {
  let last = '';
  // a reply's control characters would drive the terminal (see printable.ts)
  const show = io.out.isTTY ? printable : (s: string) => s;
  const stats = await session.reply(text, {
    signal: ac.signal,
    onText: (piece) => {
      io.out.write(show(piece));
      last = piece;
    },
    onNotice: (msg) => io.err.write(`${last && !last.endsWith('\n') ? '\n' : ''}${io.ui.yellow(`[${msg}]`)}\n`),
  });
  // one reply, one line at least: scripts reading the pipe can count on it
  if (!stats.text.endsWith('\n')) io.out.write('\n');
  return stats;
}

/**
 * One turn of a conversation that goes on (piped or at the terminal): a chat
 * template that fails on this conversation (say, one that runs into its limits
 * only once the conversation is long) costs this message, not the chat; the
 * session has already put the conversation back as it was.
 */
async function turn(session: ChatSession, text: string, io: ChatIO, ac: AbortController): Promise<ReplyStats | undefined> {
  try {
    return await replyTo(session, text, io, ac);
  } catch (err) {
    if (!(err instanceof ChatTemplateError)) throw err;
    io.err.write(io.ui.red(`message not sent: ${oneLine(err)} (the conversation so far is kept; /reset or /save still work)\n`));
    return undefined;
  }
}

async function oneShot(session: ChatSession, text: string, io: ChatIO): Promise<number> {
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.on('SIGINT', onSig);
  try {
    const stats = await replyTo(session, text, io, ac);
    io.err.write(`${io.ui.dim(statsLine(stats, session.contextUsed, session.contextSize))}\n`);
    return stats.stop === 'aborted' ? 130 : 0;
  } finally {
    process.off('SIGINT', onSig);
  }
}

/** stdin is a pipe or file: one user turn per line; known /commands still work. */
async function piped(session: ChatSession, io: ChatIO): Promise<number> {
  const ac = new AbortController();
  let interrupted = false;
  const onSig = () => {
    interrupted = true;
    ac.abort();
  };
  process.on('SIGINT', onSig);
  const rl = readline.createInterface({ input: process.stdin, terminal: false, crlfDelay: Infinity });
  try {
    for await (const raw of rl) {
      if (interrupted) break;
      const line = raw.trim();
      if (!line) continue;
      const cmd = parseCommand(line);
      if (cmd) {
        if (await runCommand(cmd, session, io) === 'exit') break;
        continue;
      }
      const stats = await turn(session, line, io, ac);
      if (stats) io.err.write(`${io.ui.dim(statsLine(stats, session.contextUsed, session.contextSize))}\n`);
    }
  } finally {
    rl.close();
    process.off('SIGINT', onSig);
  }
  return interrupted ? 130 : 0;
}

interface ParsedCommand {
  name: string;
  arg: string;
}

/** A known /command, or undefined (unknown /words are sent as text when piped). */
function parseCommand(line: string): ParsedCommand | undefined {
  const m = /^\/(\w+)(?:\s+([\s\S]*))?$/.exec(line);
  if (!m || !COMMAND_NAMES.has(m[1])) return undefined;
  return { name: m[1], arg: (m[2] ?? '').trim() };
}

async function runCommand(cmd: ParsedCommand, session: ChatSession, io: ChatIO): Promise<'exit' | 'ok'> {
  const { ui } = io;
  const say = (s: string) => io.err.write(`${s}\n`);
  try {
    switch (cmd.name) {
      case 'help': {
        const w = Math.max(...COMMAND_HELP.map(([c]) => c.length));
        for (const [c, d] of COMMAND_HELP) say(`  ${ui.bold(c.padEnd(w))}  ${d}`);
        say(ui.dim('  Ctrl+C stops a reply; Ctrl+C on an empty line or Ctrl+D exits.'));
        break;
      }
      case 'reset':
        session.reset();
        say(ui.dim('conversation cleared'));
        break;
      case 'system':
        if (cmd.arg) {
          session.setSystem(cmd.arg);
          say(ui.dim('system prompt set'));
        } else {
          say(session.systemPrompt !== undefined ? `system prompt: ${session.systemPrompt}` : ui.dim('no system prompt'));
        }
        break;
      case 'save': {
        if (!cmd.arg) {
          say('usage: /save FILE');
          break;
        }
        const saved = session.toJSON();
        // never onto the model (any path or link to it); a complete file or none
        await writeOutput(cmd.arg, io.inputs, (tmp) => writeFile(tmp, `${JSON.stringify(saved, null, 2)}\n`));
        const cached = await saveChatState(session, cmd.arg, io.inputs);
        say(ui.dim(`saved ${saved.messages.length} messages to ${cmd.arg} (and ${cached} cached tokens to ${stateFileOf(cmd.arg)})`));
        break;
      }
      case 'load': {
        if (!cmd.arg) {
          say('usage: /load FILE');
          break;
        }
        const json: unknown = JSON.parse(await readFile(cmd.arg, 'utf8'));
        session.load(json); // validates before the cache is touched
        const state = await loadChatState(session, cmd.arg);
        if (state.tokens > 0) session.load(json, { seen: true });
        if (state.refused) say(ui.yellow(`not using the saved cache: ${state.refused}`));
        say(ui.dim(`loaded ${session.messages.length} messages from ${cmd.arg}${state.tokens > 0 ? ` and ${state.tokens} cached tokens (not evaluated again)` : ''}`));
        break;
      }
      case 'stats': {
        const t = session.totals;
        const tps = t.generateMs > 0 ? (t.generatedTokens / (t.generateMs / 1000)).toFixed(1) : '-';
        say(`context: ${session.contextUsed}/${session.contextSize} tokens · ${session.messages.length} messages`);
        say(`replies: ${t.replies} · generated ${t.generatedTokens} tokens at ${tps} tokens/s`);
        say(`prompt: ${t.promptTokens} tokens evaluated, ${t.reusedTokens} reused from the cache · ${t.droppedMessages} messages dropped by context shifts`);
        say(`template: ${session.template.kind === 'jinja' ? session.template.origin : session.template.name} · seed ${session.seed}`);
        break;
      }
      case 'exit':
      case 'quit':
        return 'exit';
    }
  } catch (err) {
    say(ui.red(`/${cmd.name}: ${oneLine(err)}`));
  }
  return 'ok';
}

/**
 * A terminal. Each prompt gets its own readline interface (sharing one
 * history); while a reply streams, stdin is in raw mode with only a Ctrl+C
 * watcher, so keys typed meanwhile neither echo into the reply nor queue up.
 */
async function interactive(session: ChatSession, io: ChatIO): Promise<number> {
  const { ui } = io;
  const stdin = process.stdin;
  const history: string[] = [];
  const restore = () => {
    if (stdin.isTTY) stdin.setRawMode(false);
  };
  process.on('exit', restore);
  // Ctrl+C as a signal (the moments the terminal is not raw) stops the reply, never the process
  let current: AbortController | undefined;
  const onSig = () => current?.abort();
  process.on('SIGINT', onSig);
  io.err.write(ui.dim('Type a message, /help for commands, Ctrl+D to exit.\n'));

  const ask = () => new Promise<string | null>((resolve) => {
    const rl = readline.createInterface({
      input: stdin, output: io.out, terminal: true, history, historySize: 500, removeHistoryDuplicates: true,
    });
    let settled = false;
    const done = (v: string | null) => {
      if (settled) return;
      settled = true;
      rl.close();
      resolve(v);
    };
    rl.on('line', (l) => done(l));
    rl.on('close', () => {
      if (!settled) io.out.write('\n');
      done(null);
    });
    rl.on('SIGINT', () => {
      if (rl.line === '') {
        io.out.write('\n');
        done(null);
      } else {
        // like a shell: drop the line, stay at the prompt
        rl.write(null, { ctrl: true, name: 'e' });
        rl.write(null, { ctrl: true, name: 'u' });
      }
    });
    rl.setPrompt(ui.enabled ? `${ui.green(ui.bold('>'))} ` : '> ');
    rl.prompt();
  });

  try {
    for (;;) {
      const raw = await ask();
      if (raw === null) break;
      const line = raw.trim();
      if (!line) continue;
      if (line.startsWith('/')) {
        const cmd = parseCommand(line);
        if (!cmd) {
          io.err.write(ui.red(`unknown command ${line.split(/\s/)[0]} (see /help)\n`));
          continue;
        }
        if (await runCommand(cmd, session, io) === 'exit') break;
        continue;
      }
      const ac = new AbortController();
      current = ac;
      const onData = (buf: Buffer) => {
        if (buf.includes(3)) ac.abort();
      };
      stdin.setRawMode(true);
      stdin.on('data', onData);
      stdin.resume();
      let stats: ReplyStats | undefined;
      try {
        stats = await turn(session, line, io, ac);
      } finally {
        current = undefined;
        stdin.off('data', onData);
        stdin.pause();
        restore();
      }
      if (stats) io.err.write(`${ui.dim(statsLine(stats, session.contextUsed, session.contextSize))}\n`);
    }
  } finally {
    restore();
    process.off('exit', restore);
    process.off('SIGINT', onSig);
  }
  return 0;
}
