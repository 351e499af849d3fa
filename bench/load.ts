// Load time and peak memory against the bounds: loading a model may
// take at most 1.5x the time to read its file, and a process that loads it
// and runs a context may peak at file + KV cache + 100 MB.
//
//   node dist/bench/load.js <model.gguf> [-r 5] [-c 4096]
//   node dist/bench/load.js --synthetic tinyllama-1.1b:Q4_K_M
//
// Read time: the file read once with the loader's own method (16 MiB
// positioned reads into one buffer), from the page cache like the load that
// follows. Both are medians of alternating runs. Peak RSS comes from a child
// process (its maxRSS) that loads the model, creates a context of -c tokens
// and evaluates 32 tokens, so earlier runs in this process do not count.
import { execFileSync } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureSyntheticModel, parseSyntheticSpec } from '../formats/synthetic/cache.js';
import { Context } from '../runtime/context.js';
import { median } from '../runtime/bench/format.js';
import { loadModel } from '../runtime/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    synthetic: { type: 'string' },
    repetitions: { type: 'string', short: 'r', default: '5' },
    'ctx-size': { type: 'string', short: 'c', default: '4096' },
    child: { type: 'boolean', default: false },
  },
});
const path = values.synthetic ? (await ensureSyntheticModel(parseSyntheticSpec(values.synthetic))).path : positionals[0];
if (!path) throw new Error('usage: load <model.gguf> [-r N] [-c N] | --synthetic SHAPE:TYPE');
const nCtx = Number(values['ctx-size']);

if (values.child) {
  const model = await loadModel(path, { contextSize: nCtx });
  const ctx = model.createContext({ contextSize: nCtx, threads: 1 });
  ctx.evaluate(Array.from({ length: 32 }, (_, i) => 1 + i));
  const kv = Context.kvBytes(model.hparams, nCtx, { recurrent: model.recurrent });
  console.log(JSON.stringify({ maxRSS: process.resourceUsage().maxRSS * 1024, kv }));
  process.exit(0);
}

async function readFile(): Promise<number> {
  const t0 = performance.now();
  const fh = await open(path!, 'r');
  const size = (await fh.stat()).size;
  // into memory the size of the file, in 1 GiB buffers (one typed array stops at 4 GiB)
  const CHUNK = 16 * 1024 * 1024, PART = 1024 ** 3;
  const parts = Array.from({ length: Math.ceil(size / PART) }, (_, i) => new Uint8Array(Math.min(PART, size - i * PART)));
  for (let done = 0; done < size;) {
    const part = parts[Math.floor(done / PART)]!, at = done % PART;
    done += (await fh.read(part, at, Math.min(CHUNK, part.length - at), done)).bytesRead;
  }
  await fh.close();
  return performance.now() - t0;
}

async function load(): Promise<number> {
  const t0 = performance.now();
  const model = await loadModel(path!, { contextSize: nCtx });
  const ms = performance.now() - t0;
  model.dispose();
  return ms;
}

const reads: number[] = [];
const loads: number[] = [];
await readFile();
await load();
for (let i = 0; i < Number(values.repetitions); i++) {
  reads.push(await readFile());
  loads.push(await load());
}
const fileBytes = (await stat(path)).size;
const child = JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), path, '--child', '-c', String(nCtx)], { encoding: 'utf8' })) as { maxRSS: number; kv: number };
const mb = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;
const bound = fileBytes + child.kv + 100 * 1024 ** 2;
console.log(`model: ${path} (${mb(fileBytes)})`);
console.log(`read the file: ${median(reads).toFixed(0)} ms; load the model: ${median(loads).toFixed(0)} ms; ratio ${(median(loads) / median(reads)).toFixed(2)}x (bound 1.5x); medians of ${reads.length}`);
console.log(`peak RSS (load, context of ${nCtx}, 32 tokens): ${mb(child.maxRSS)}; file + KV cache (${mb(child.kv)}) + 100 MiB = ${mb(bound)}: ${child.maxRSS <= bound ? 'within' : 'OVER'} by ${mb(Math.abs(bound - child.maxRSS))}`);
