// Writing a command's output without losing anything: the one place every
// writer (quantize, imatrix -o, perplexity --kl-divergence-base, chat /save)
// goes through.
//
// - An output may not be one of the command's inputs. "The same file" is the
//   same device and inode, so another path, a symlink or a hard link to an
//   input is refused as well as the input's own name.
// - The data goes to a temporary file beside the output, renamed over it only
//   when complete: a failure or a kill never leaves a partial file under the
//   output's name nor destroys the file that was there.
// - The temporary is removed on failure, on SIGINT/SIGTERM and at exit; after
//   a SIGKILL the next output to the same name removes it. Its name says
//   whose it is, `.<name>.<pid>-<n>.run-gguf-tmp`, so a later run removes
//   only temporaries of processes that no longer exist.
import { readdirSync, renameSync, statSync, unlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseSplitPath, splitPath } from './gguf/split.js';

/** An output path names one of the command's inputs (the same device and inode). */
export class SameFileError extends Error {
  override name = 'SameFileError';
  constructor(readonly output: string, readonly input: string) {
    super(output === input
      ? `refusing to overwrite the input: ${output} is an input of this command`
      : `refusing to overwrite the input: ${output} is the same file as ${input}`);
  }
}

/** Throws a SameFileError when `output` exists and is the same file as one of `inputs` (missing inputs are skipped). */
export function checkNotInput(output: string, inputs: readonly string[]): void {
  let out;
  try {
    out = statSync(output);
  } catch {
    return; // nothing there yet: it cannot be an input
  }
  for (const input of inputs) {
    let st;
    try {
      st = statSync(input);
    } catch {
      continue;
    }
    if (st.dev === out.dev && st.ino === out.ino) throw new SameFileError(output, input);
  }
}

const TMP_SUFFIX = '.run-gguf-tmp';

/** Temporaries alive in this process, removed on SIGINT/SIGTERM/exit. */
const live = new Set<string>();
let hooked = false;
let serial = 0;

function removeLive(): void {
  for (const tmp of live) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  removeLive();
  // alone on this signal, end the process as the signal would have
  if (process.listenerCount(sig) === 1) {
    unhook();
    process.kill(process.pid, sig);
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', removeLive);
}

function unhook(): void {
  if (!hooked) return;
  hooked = false;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('exit', removeLive);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `.<name>.<pid>-<n>.run-gguf-tmp` files beside `finalPath` whose process has ended (a SIGKILL's leftovers). */
export function removeStaleTemporaries(finalPath: string): string[] {
  const dir = dirname(finalPath);
  const prefix = `.${basename(finalPath)}.`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(TMP_SUFFIX)) continue;
    const owner = /^(\d+)(?:-\d+)?$/.exec(name.slice(prefix.length, -TMP_SUFFIX.length));
    const pid = owner ? Number(owner[1]) : NaN;
    if (!owner || pid === process.pid || alive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      // another run removed it first
    }
  }
  return removed;
}

/** An output being written: write `tmp`, then commit() (rename onto `path`) or discard(). */
export interface PendingOutput {
  /** Where the output ends up (the real path when the output is a symlink: the link stays). */
  readonly path: string;
  /** The temporary to write. */
  readonly tmp: string;
  /** Renames the temporary over the output. */
  commit(): void;
  /** Removes the temporary (safe to call after commit: it does nothing then). */
  discard(): void;
}

/**
 * Starts writing `output`: refuses it when it is one of `inputs`, removes
 * stale temporaries of earlier killed runs, and names the temporary to
 * write, which SIGINT, SIGTERM and exit remove until commit or discard.
 */
export function beginOutput(output: string, inputs: readonly string[]): PendingOutput {
  checkNotInput(output, inputs);
  let path: string;
  try {
    path = realpathSync(output);
  } catch {
    path = join(realpathSync(dirname(resolve(output))), basename(output));
  }
  removeStaleTemporaries(path);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}-${serial++}${TMP_SUFFIX}`);
  live.add(tmp);
  hook();
  let done = false;
  const finish = () => {
    done = true;
    live.delete(tmp);
    if (live.size === 0) unhook();
  };
  return {
    path,
    tmp,
    commit() {
      if (done) throw new Error(`${output}: already committed or discarded`);
      // the inputs are checked again: one may have been linked to the output meanwhile
      checkNotInput(output, inputs);
      renameSync(tmp, path);
      finish();
    },
    discard() {
      if (done) return;
      try {
        unlinkSync(tmp);
      } catch {
        // never written
      }
      finish();
    },
  };
}

/** Writes a whole output: beginOutput, `write(tmp)`, commit; the temporary is removed when write fails. */
export async function writeOutput(output: string, inputs: readonly string[], write: (tmp: string) => Promise<unknown> | unknown): Promise<string> {
  const pending = beginOutput(output, inputs);
  try {
    await write(pending.tmp);
    pending.commit();
    return pending.path;
  } finally {
    pending.discard();
  }
}

/** A model's files as inputs: the path, and every shard when it is named as one of a split model. */
export function modelFiles(path: string): string[] {
  const split = parseSplitPath(path);
  if (!split) return [path];
  return [path, ...Array.from({ length: split.count }, (_, i) => splitPath(split.prefix, i, split.count))];
}
