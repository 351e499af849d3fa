// run-gguf models: the GGUF files on this machine, where people keep them
// (the working directory, ~/models, llama.cpp's download cache, the Hugging
// Face hub cache, LM Studio's folders), with size, architecture and file type
// from each header. Bare `run-gguf` in a terminal lists them and asks which
// one to chat with.
import { realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, sep } from 'node:path';
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';
import fg from 'fast-glob';
import { fileTypeOf, parseSplitPath, readGGUF } from '../../formats/gguf/index.js';
import { styles } from '../terminal/colors.js';
import { formatBytes } from '../terminal/progress.js';
import { modelTotals } from './info.js';
import { hubCacheDir } from '../hub/env.js';

export const modelsUsage = `Usage: run-gguf models [--json] [--pick]

Lists GGUF files in the working directory, run-gguf's download cache
($XDG_CACHE_HOME/run-gguf/hub or ~/.cache/run-gguf/hub), ~/models, the llama.cpp cache
(~/.cache/llama.cpp or $LLAMA_CACHE), the Hugging Face hub cache
(~/.cache/huggingface/hub or $HF_HUB_CACHE) and LM Studio's folders
(~/.lmstudio/models, ~/.cache/lm-studio/models), with size, architecture and
file type. Split models are listed once, by their first shard.

Options:
      --json   one JSON array instead of the table
      --pick   ask for a number and chat with that model (a terminal is needed)
  -h, --help   this text`;

export interface SearchRoot {
  dir: string;
  /** Folder levels searched below dir. */
  deep: number;
}

/** Where to look, in the order listed. */
export function searchRoots(cwd = process.cwd(), home = homedir(), env: NodeJS.ProcessEnv = process.env): SearchRoot[] {
  const roots: SearchRoot[] = [
    { dir: cwd, deep: 3 },
    // what `run-gguf pull` fetched: hf/<user>/<repo>/<path in the repo>, url/<host>/<path>
    { dir: hubCacheDir(env, home), deep: 8 },
    { dir: join(home, 'models'), deep: 5 },
    { dir: env.LLAMA_CACHE || join(home, '.cache', 'llama.cpp'), deep: 3 },
    { dir: env.HF_HUB_CACHE || (env.HF_HOME ? join(env.HF_HOME, 'hub') : join(home, '.cache', 'huggingface', 'hub')), deep: 5 },
    { dir: join(home, '.lmstudio', 'models'), deep: 4 },
    { dir: join(home, '.cache', 'lm-studio', 'models'), deep: 4 },
  ];
  if (process.platform === 'darwin') roots.push({ dir: join(home, 'Library', 'Caches', 'llama.cpp'), deep: 3 });
  return roots;
}

/** GGUF paths under the roots: each file once (symlinks resolved), split models by their first shard. */
export async function findGGUFFiles(roots: readonly SearchRoot[]): Promise<string[]> {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const root of roots) {
    let found: string[];
    try {
      if (!statSync(root.dir).isDirectory()) continue;
      found = await fg('**/*.gguf', {
        cwd: root.dir, absolute: true, deep: root.deep, onlyFiles: true, suppressErrors: true,
        followSymbolicLinks: true, caseSensitiveMatch: false,
        ignore: ['**/node_modules/**', '**/.git/**', '**/.Trash/**'],
      });
    } catch {
      continue;
    }
    for (const p of found.sort()) {
      const split = parseSplitPath(p);
      if (split && split.index !== 0) continue;
      let real: string;
      try {
        real = realpathSync(p);
      } catch {
        continue; // a dangling link (an incomplete download)
      }
      if (seen.has(real)) continue;
      seen.add(real);
      out.push(p);
    }
  }
  return out;
}

export interface FoundModel {
  path: string;
  /** Bytes of all shards. */
  size: number;
  arch?: string;
  name?: string;
  fileType?: string;
  nParams?: number;
  /** Why the header could not be read. */
  error?: string;
}

export async function describeModel(path: string): Promise<FoundModel> {
  try {
    const file = await readGGUF(path);
    const arch = file.metadata.get('general.architecture');
    const name = file.metadata.get('general.name');
    const totals = modelTotals(file);
    return {
      path, size: totals.fileBytes, arch: typeof arch === 'string' ? arch : undefined,
      name: typeof name === 'string' ? name : undefined, fileType: fileTypeOf(file).name, nParams: totals.nParams,
    };
  } catch (err) {
    let size = 0;
    try {
      size = statSync(path).size;
    } catch { /* listed anyway, with the reason */ }
    return { path, size, error: (err as Error).message.split('\n')[0] };
  }
}

/** Headers of many files, a few at a time. */
export async function describeModels(paths: readonly string[]): Promise<FoundModel[]> {
  const out: FoundModel[] = new Array(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      out[i] = await describeModel(paths[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, paths.length) }, worker));
  return out;
}

/** A path as short as it can be told: relative below the working directory, ~ below home. */
export function displayPath(p: string, cwd = process.cwd(), home = homedir()): string {
  if (p.startsWith(cwd + sep)) return relative(cwd, p);
  if (home && p.startsWith(home + sep)) return `~${sep}${relative(home, p)}`;
  return p;
}

export function modelTable(models: readonly FoundModel[], cwd = process.cwd(), home = homedir()): string {
  const rows = models.map((m, i) => [
    String(i + 1), formatBytes(m.size), m.error ? '?' : (m.arch ?? '?'), m.error ? 'unreadable' : (m.fileType ?? '?'),
    displayPath(m.path, cwd, home) + (m.error ? `  (${m.error})` : ''),
  ]);
  const head = ['#', 'size', 'arch', 'type', 'file'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const fmt = (r: string[]) => r.map((v, c) => (c === r.length - 1 ? v : c === 0 ? v.padStart(widths[c]) : v.padEnd(widths[c]))).join('  ');
  return [fmt(head), ...rows.map(fmt)].join('\n');
}

/** Lists the models and asks for one by number (a terminal); undefined when there is none or the user quits. */
export async function pickModel(): Promise<string | undefined> {
  const err = process.stderr;
  const ui = styles(err);
  const roots = searchRoots();
  const models = (await describeModels(await findGGUFFiles(roots))).filter((m) => !m.error);
  if (models.length === 0) {
    err.write(`No GGUF models found in ${roots.map((r) => displayPath(r.dir)).join(', ')}.\n`);
    err.write('Run `run-gguf <model.gguf>` with a path, or put models in ~/models.\n');
    return undefined;
  }
  err.write(`${modelTable(models)}\n`);
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  let answered: ((a: string | null) => void) | undefined;
  rl.on('close', () => answered?.(null));
  rl.on('SIGINT', () => answered?.(null));
  try {
    for (;;) {
      const answer = await new Promise<string | null>((resolve) => {
        answered = resolve;
        rl.question(ui.bold(`Model number [1-${models.length}], Enter for 1, q to quit: `), resolve);
      });
      if (answer === null || /^q(uit)?$/i.test(answer.trim())) return undefined;
      const n = answer.trim() === '' ? 1 : Number(answer.trim());
      if (Number.isInteger(n) && n >= 1 && n <= models.length) return models[n - 1].path;
      err.write(ui.red(`pick a number from 1 to ${models.length}\n`));
    }
  } finally {
    answered = undefined;
    rl.close();
  }
}

export async function runModels(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { json: { type: 'boolean' }, pick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(modelsUsage);
    return 0;
  }
  if (values.pick) {
    if (!process.stdin.isTTY) {
      console.error('run-gguf models --pick needs a terminal');
      return 2;
    }
    const path = await pickModel();
    if (path === undefined) return 0;
    const { runChat } = await import('./chat.js');
    return runChat([path]);
  }
  const models = await describeModels(await findGGUFFiles(searchRoots()));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(models, null, 2)}\n`);
  } else if (models.length === 0) {
    console.log('No GGUF models found.');
  } else {
    console.log(modelTable(models));
  }
  return 0;
}
