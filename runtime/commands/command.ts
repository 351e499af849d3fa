// What a run-gguf subcommand is. Commands load lazily, so `run-gguf info`
// does not pay for compiling WebAssembly it never uses.

export interface Command {
  /** The word after run-gguf. */
  name: string;
  /** One line for `run-gguf --help`. */
  summary: string;
  /** Runs with the arguments after the name; resolves to the exit code. Handles its own --help. */
  run(args: string[]): Promise<number>;
}
