// run-gguf pull: fetch a model by name into the cache (runtime/hub), and the
// one place every command turns its model argument into a local path, with a
// progress bar on a terminal.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { looksLikeModelName, pullModel, type PullProgress } from '../hub/index.js';
import { hubEnv } from '../hub/env.js';
import { ProgressBar } from '../terminal/progress.js';

export const pullUsage = `Usage: run-gguf pull <name> [--quiet]

Downloads a model into the cache ($XDG_CACHE_HOME/run-gguf/hub, else
~/.cache/run-gguf/hub) and prints its path. Names, as llama.cpp's -hf and
node-llama-cpp take them:
  hf:user/repo              the repo's Q4_K_M (else Q8_0, else its first model file)
  hf:user/repo:QUANT        that quant, e.g. hf:user/repo:Q8_0 (case-insensitive)
  hf:user/repo/file.gguf    that file
  user/repo:QUANT           the same as hf:user/repo:QUANT
  https://host/file.gguf    any URL
Split models (-00001-of-0000N.gguf) come with all their shards. An interrupted
download resumes where it stopped; every file is checked against the hub's
sha256. The same names work wherever a model path does (run-gguf hf:user/repo,
run-gguf complete hf:user/repo:Q8_0 ...). HF_ENDPOINT, HF_TOKEN (or the token
file of huggingface-cli login) and HF_HUB_OFFLINE are honoured.

Options:
  -q, --quiet   no progress bar
  -h, --help    this text`;

/** Progress of a pull drawn on stderr, when it is a terminal. */
export function pullProgress(quiet = false): { onProgress?: (p: PullProgress) => void; done(): void } {
  if (quiet || !process.stderr.isTTY) return { done() {} };
  let bar: ProgressBar | undefined;
  let file = '';
  return {
    onProgress(p) {
      if (p.file !== file) {
        bar?.done();
        file = p.file;
        const label = p.fileCount > 1 ? `${p.file} (${p.fileIndex + 1}/${p.fileCount})` : p.file;
        bar = new ProgressBar(process.stderr, label);
      }
      bar!.update(p.downloadedBytes, p.totalBytes || p.downloadedBytes);
    },
    done() {
      bar?.done();
    },
  };
}

/**
 * A command's model argument as a local path: a path that exists is itself;
 * a model name is pulled (or found in the cache) first.
 */
export async function modelArgument(text: string): Promise<string> {
  if (existsSync(text) || !looksLikeModelName(text)) return text;
  const progress = pullProgress();
  try {
    const pulled = await pullModel(text, { onProgress: progress.onProgress, onNotice: (m) => process.stderr.write(`${m}\n`) });
    return pulled.path;
  } finally {
    progress.done();
  }
}

export async function runPull(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(pullUsage);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(pullUsage);
    return 2;
  }
  const progress = pullProgress(values.quiet);
  try {
    const pulled = await pullModel(positionals[0]!, { onProgress: progress.onProgress, onNotice: (m) => process.stderr.write(`${m}\n`) });
    progress.done();
    if (!values.quiet) {
      process.stderr.write(pulled.downloadedBytes > 0
        ? `downloaded ${pulled.files.length === 1 ? '1 file' : `${pulled.files.length} files`} into ${hubEnv().cacheDir}\n`
        : 'already in the cache\n');
    }
    for (const f of pulled.files) console.log(f);
    return 0;
  } finally {
    progress.done();
  }
}
