#!/usr/bin/env node
// The run-gguf command line: `run-gguf <command> [args]`. Commands live in
// runtime/commands/ and are registered in commands/index.ts. Failures print
// one line on stderr (no stack trace unless RUN_GGUF_DEBUG is set).
import { COMMANDS, findCommand } from './commands/index.js';
import { looksLikeModelName } from './hub/names.js';

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: run-gguf <command> [options]',
    '       run-gguf <model.gguf> [options]   (chat; see run-gguf chat --help)',
    '       run-gguf hf:user/repo[:QUANT]     (chat with a model from Hugging Face; see run-gguf pull --help)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `run-gguf <command> --help` for a command\'s options.',
  ].join('\n');
}

/** One line, whatever the error carries (file contents can hold newlines). */
function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\r?\n/g, '\\n');
}

// parseArgs' errors are usage mistakes, not failures of the command.
function isUsageError(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // in a terminal, bare run-gguf offers the models found on the machine
    if (process.stdin.isTTY && process.stdout.isTTY) return findCommand('models')!.run(['--pick']);
    console.error(usage());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  // run-gguf <model.gguf> [options] is a chat
  const isModelPath = !findCommand(name) && (/\.gguf$/i.test(name) || looksLikeModelName(name));
  const cmd = isModelPath ? findCommand('chat') : findCommand(name);
  if (isModelPath) rest.unshift(name);
  if (!cmd) {
    console.error(`run-gguf: unknown command "${name}" (see run-gguf --help)`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (process.env.RUN_GGUF_DEBUG) console.error(err);
    else console.error(`run-gguf ${name}: ${oneLine(err)}`);
    return isUsageError(err) ? 2 : 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`run-gguf: ${oneLine(err)}`); process.exitCode = 1; },
);
