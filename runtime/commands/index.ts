// The run-gguf subcommands. Adding one is one line here: its name, a summary,
// and a lazy import of its run function (runtime/commands/<name>.ts).
import type { Command } from './command.js';

export type { Command } from './command.js';

export const COMMANDS: readonly Command[] = [
  { name: 'info', summary: 'show a GGUF file: metadata, tensors, parameters, file type', run: async (a) => (await import('./info.js')).runInfo(a) },
  { name: 'complete', summary: 'stream a raw completion of a prompt', run: async (a) => (await import('./complete.js')).runComplete(a) },
  { name: 'tokenize', summary: 'print the tokens of a text as llama-tokenize does', run: async (a) => (await import('./tokenize.js')).runTokenize(a) },
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
