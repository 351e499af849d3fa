// What a grammar costs during generation (issue #17's target: at most 10% of
// tg on a 128k-token vocabulary), here and in llama.cpp (node-llama-cpp's
// grammar option) on the same file, runs alternating.
//
//   node dist/bench/grammar.js --synthetic qwen2.5-0.5b:Q4_K_M [-n 64] [-r 3] [-t 2]
//
// The grammar keeps generation going for all n tokens: the start of a JSON
// object whose one string value takes any character but a quote or a
// backslash and never closes, so nearly every token stays allowed, no run
// ends early, and the cost measured is the grammar's own (checking the
// sampled token, masking when it is refused, advancing the stacks).
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ensureSyntheticModel, parseSyntheticSpec } from '../formats/synthetic/cache.js';
import { loadModel } from '../runtime/index.js';
import { median } from '../runtime/bench/index.js';

const GBNF = 'root ::= "{\\"text\\": \\"" [^"\\\\]*';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { synthetic: { type: 'string' }, 'n-gen': { type: 'string', short: 'n' }, repetitions: { type: 'string', short: 'r' }, threads: { type: 'string', short: 't' } },
  });
  let path = positionals[0];
  if (values.synthetic) path = (await ensureSyntheticModel(parseSyntheticSpec(values.synthetic))).path;
  if (!path) throw new Error('usage: node dist/bench/grammar.js <model.gguf> | --synthetic SHAPE:TYPE [-n 64] [-r 3] [-t 2]');
  const n = Number(values['n-gen'] ?? 64);
  const reps = Number(values.repetitions ?? 3);
  const threads = Number(values.threads ?? 2);
  const prompt = 'Write a JSON object:';
  const load0 = loadavg();

  const ours = await loadModel(path, { contextSize: 256 });
  const ctx = ours.createContext({ contextSize: 256, threads });
  const { getLlama, LlamaLogLevel, LlamaCompletion, LlamaGrammar } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  const theirModel = await llama.loadModel({ modelPath: path });
  const theirCtx = await theirModel.createContext({ contextSize: 256, threads: { ideal: threads, min: threads }, flashAttention: false });
  const theirSeq = theirCtx.getSequence();
  const theirGrammar = new LlamaGrammar(llama, { grammar: GBNF });

  /** tokens per second of one generation; `tokens` returned to check the grammar did not end it early. */
  const runOurs = async (grammar: boolean) => {
    ctx.reset();
    let count = 0;
    const t0 = process.hrtime.bigint();
    for await (const _ of ctx.generate(prompt, { temp: 0, maxTokens: n, ...(grammar ? { grammar: GBNF } : {}) })) count++;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return { ts: count / s, count };
  };
  const runTheirs = async (grammar: boolean) => {
    await theirSeq.clearHistory();
    const completion = new LlamaCompletion({ contextSequence: theirSeq });
    let count = 0;
    const t0 = process.hrtime.bigint();
    await completion.generateCompletion(prompt, {
      maxTokens: n, temperature: 0, ...(grammar ? { grammar: theirGrammar } : {}), onToken: (t) => { count += t.length; },
    });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return { ts: count / s, count };
  };

  const rows: Record<string, { ts: number[]; count: number[] }> = {};
  const add = (k: string, r: { ts: number; count: number }) => {
    rows[k] ??= { ts: [], count: [] };
    rows[k]!.ts.push(r.ts);
    rows[k]!.count.push(r.count);
  };
  // warm-up, then alternate
  await runOurs(false); await runOurs(true); await runTheirs(false); await runTheirs(true);
  for (let r = 0; r < reps; r++) {
    add('run-gguf', await runOurs(false));
    add('run-gguf + grammar', await runOurs(true));
    add('llama.cpp', await runTheirs(false));
    add('llama.cpp + grammar', await runTheirs(true));
  }
  const load1 = loadavg();
  console.log(`model: ${path}, n_vocab ${ours.hparams.n_vocab}, tg${n}, ${threads} threads, ${reps} repetitions alternating`);
  for (const [k, v] of Object.entries(rows)) console.log(`${k.padEnd(22)} median ${median(v.ts).toFixed(2)} t/s  (tokens per run: ${v.count.join(', ')})`);
  const cost = (a: string, b: string) => `${((1 - median(rows[b]!.ts) / median(rows[a]!.ts)) * 100).toFixed(1)}%`;
  console.log(`grammar cost: run-gguf ${cost('run-gguf', 'run-gguf + grammar')}, llama.cpp ${cost('llama.cpp', 'llama.cpp + grammar')}`);
  console.log(`load average: before ${load0.map((x) => x.toFixed(2)).join(', ')}; after ${load1.map((x) => x.toFixed(2)).join(', ')}`);
  ctx.dispose();
  ours.dispose();
  await theirCtx.dispose();
  await theirModel.dispose();
  await llama.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
