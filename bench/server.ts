// The OpenAI server's two targets (issue #18), on this machine, runs alternating:
// - aggregate generation speed of 4 concurrent streams against 1 stream
//   (continuous batching: one graph run per step for every busy slot);
// - time to first token of a 500-token prompt against `run-gguf bench`'s
//   pp500 time on the same model and threads.
//
//   node dist/bench/server.js --synthetic llama-160m:Q4_K_M [-t 2] [-r 3] [-n 32]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ensureSyntheticModel, parseSyntheticSpec } from '../formats/synthetic/cache.js';
import { median, TestRunner } from '../runtime/bench/index.js';
import { loadModel } from '../runtime/index.js';
import { createServer } from '../runtime/server/index.js';
import { Xoshiro128 } from '../runtime/sample/rng.js';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { synthetic: { type: 'string' }, threads: { type: 'string', short: 't' }, repetitions: { type: 'string', short: 'r' }, 'n-gen': { type: 'string', short: 'n' } },
  });
  let path = positionals[0];
  if (values.synthetic) path = (await ensureSyntheticModel(parseSyntheticSpec(values.synthetic))).path;
  if (!path) throw new Error('usage: node dist/bench/server.js <model.gguf> | --synthetic SHAPE:TYPE [-t 2] [-r 3] [-n 32]');
  const threads = Number(values.threads ?? 2);
  const reps = Number(values.repetitions ?? 3);
  const nGen = Number(values['n-gen'] ?? 32);
  const load0 = loadavg();

  const model = await loadModel(path, { contextSize: 4096 });
  const server = await createServer(model, { slots: 4, threads, contextSize: 4 * 1024 });
  const { url } = await server.listen(0);
  const rng = new Xoshiro128(7);
  const nVocab = model.hparams.n_vocab;
  const tokens = (n: number) => Array.from({ length: n }, () => 3 + (rng.nextU32() % (nVocab - 3)));
  // generation never ends early: end-of-generation is banned (OpenAI's logit_bias -100)
  const logitBias = Object.fromEntries([model.tokenizer.eosId].filter((id) => id !== undefined).map((id) => [String(id), -100]));

  const complete = async (prompt: number[], maxTokens: number, stream: boolean): Promise<{ ms: number; firstMs: number; generated: number }> => {
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt, max_tokens: maxTokens, temperature: 0, stream, logit_bias: logitBias }),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    if (!stream) {
      const body = await res.json() as { usage: { completion_tokens: number } };
      const ms = performance.now() - t0;
      return { ms, firstMs: ms, generated: body.usage.completion_tokens };
    }
    const reader = res.body!.getReader();
    let firstMs = -1;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (firstMs < 0 && new TextDecoder().decode(value).includes('"text"')) firstMs = performance.now() - t0;
    }
    return { ms: performance.now() - t0, firstMs, generated: maxTokens };
  };

  const one: number[] = [];
  const four: number[] = [];
  const ttft: number[] = [];
  const pp: number[] = [];
  const runner = new TestRunner(model, { nPrompt: 500, nGen: 0, nDepth: 0, nThreads: threads, nParallel: 1, nBatch: 2048, nUBatch: 512 }, 1);
  await complete(tokens(8), 4, false); // warm-up: plans built
  runner.warmup();
  for (let r = 0; r < reps; r++) {
    const a = await complete(tokens(8), nGen, false);
    one.push(a.generated / (a.ms / 1000));
    const t0 = performance.now();
    const all = await Promise.all([0, 1, 2, 3].map(() => complete(tokens(8), nGen, false)));
    four.push(all.reduce((s, x) => s + x.generated, 0) / ((performance.now() - t0) / 1000));
    ttft.push((await complete(tokens(500), 1, true)).firstMs);
    pp.push(runner.run() / 1e6);
  }
  runner.dispose();
  await server.close();
  model.dispose();
  const load1 = loadavg();
  console.log(`model: ${path}, ${threads} threads, 4 slots, ${reps} repetitions alternating`);
  console.log(`1 stream: ${median(one).toFixed(2)} t/s; 4 streams: ${median(four).toFixed(2)} t/s in all (${(median(four) / median(one)).toFixed(2)}x; target >= 2x)`);
  console.log(`time to first token, 500-token prompt: ${median(ttft).toFixed(0)} ms; bench pp500: ${median(pp).toFixed(0)} ms (${(median(ttft) / median(pp)).toFixed(3)}x; target <= 1.1x)`);
  console.log(`load average: before ${load0.map((x) => x.toFixed(2)).join(', ')}; after ${load1.map((x) => x.toFixed(2)).join(', ')}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exitCode = 1;
});
