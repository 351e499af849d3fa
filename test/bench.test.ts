// `run-gguf bench`: llama-bench's output formats on fixed numbers, the
// model-type string, llama-quantize's type mixes, the synthetic-model cache,
// and a tiny end-to-end run of the CLI. No timing is asserted.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { LlamaFileType, readGGUF } from '../formats/gguf/index.js';
import { ensureSyntheticModel, parseSyntheticSpec, syntheticCacheDir } from '../formats/synthetic/cache.js';
import { LLAMA_SHAPES } from '../formats/synthetic/llama.js';
import { quantMix } from '../formats/synthetic/mix.js';
import {
  benchParams, formatResults, modelDesc, parseIntList, sizeClassFromParams, testInstances, testName,
  TestRunner, type BenchResult, type BuildInfo,
} from '../runtime/bench/index.js';
import { loadModel } from '../runtime/index.js';
import { WasmQuantizer } from '../runtime/quantize/wasm-quantizer.js';
import { REPO_ROOT } from './helpers/shared.js';

const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'run-gguf-bench-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const BUILD: BuildInfo = { build_commit: 'run-gguf 0.1.0', build_number: 0, cpu_info: 'Test CPU', gpu_info: '', backends: 'WASM', runtime: 'node 20' };

// pp512 in 1.0 s and 0.8 s: 512 and 640 t/s, mean 576, sample sd sqrt(2 * 64^2) = 90.5097
const PP: BenchResult = {
  model_filename: '/m/tiny "q".gguf', model_type: 'llama 1B Q4_K - Medium', model_size: 667078656, model_n_params: 1100048384,
  n_batch: 2048, n_ubatch: 512, n_threads: 2, n_prompt: 512, n_gen: 0, n_depth: 0, test_time: '2026-11-26T12:00:00Z',
  samples_ns: [1_000_000_000, 800_000_000],
};
// tg128 in 4 s: 32 t/s; one sample, so sd 0
const TG: BenchResult = { ...PP, model_size: 97755136, model_n_params: 162417408, model_type: 'llama 160M Q4_0', n_prompt: 0, n_gen: 128, samples_ns: [4_000_000_000] };

test('markdown table: llama-bench columns, widths and alignment', () => {
  const md = formatResults('md', [PP, TG], { build: BUILD, nBatch: 2048, nUBatch: 512 });
  assert.is(md, [
    '| model                          |       size |     params | backend    | threads |            test |                  t/s |',
    '| ------------------------------ | ---------: | ---------: | ---------- | ------: | --------------: | -------------------: |',
    '| llama 1B Q4_K - Medium         | 636.18 MiB |     1.10 B | WASM       |       2 |           pp512 |       576.00 ± 90.51 |',
    '| llama 160M Q4_0                |  93.23 MiB |   162.42 M | WASM       |       2 |           tg128 |         32.00 ± 0.00 |',
    '',
    'build: run-gguf 0.1.0 (node 20)',
    '',
  ].join('\n'));
});

test('markdown table: n_ubatch column when not the default; GiB above 1 GiB', () => {
  const big = { ...PP, model_size: 2 * 1024 ** 3, n_ubatch: 64 };
  const lines = formatResults('md', [big], { build: BUILD, nBatch: 2048, nUBatch: 64 }).split('\n');
  assert.is(lines[0], '| model                          |       size |     params | backend    | threads | n_ubatch |            test |                  t/s |');
  assert.is(lines[2], '| llama 1B Q4_K - Medium         |   2.00 GiB |     1.10 B | WASM       |       2 |       64 |           pp512 |       576.00 ± 90.51 |');
});

test('JSON: llama-bench field names and values, samples', () => {
  const text = formatResults('json', [PP, TG], { build: BUILD });
  assert.ok(text.startsWith('[\n  {\n    "build_commit": "run-gguf 0.1.0",\n'));
  assert.ok(text.includes('\n    "avg_ts": 576.000000,\n    "stddev_ts": 90.509668,\n'));
  assert.ok(text.includes('\n    "samples_ns": [ 1000000000, 800000000 ],\n    "samples_ts": [ 512, 640 ]\n  },\n  {\n'));
  assert.ok(text.endsWith('  }\n]\n'));
  const rows = JSON.parse(text) as Record<string, unknown>[];
  assert.is(rows.length, 2);
  assert.equal(rows[0], {
    build_commit: 'run-gguf 0.1.0', build_number: 0, cpu_info: 'Test CPU', gpu_info: '', backends: 'WASM',
    model_filename: '/m/tiny "q".gguf', model_type: 'llama 1B Q4_K - Medium', model_size: 667078656, model_n_params: 1100048384,
    n_batch: 2048, n_ubatch: 512, n_threads: 2, type_k: 'f16', type_v: 'f16', n_prompt: 512, n_gen: 0, n_depth: 0,
    test_time: '2026-11-26T12:00:00Z', avg_ns: 900000000, stddev_ns: 141421356, avg_ts: 576, stddev_ts: 90.509668,
    samples_ns: [1000000000, 800000000], samples_ts: [512, 640],
  });
  assert.is(rows[1]!.avg_ts, 32);
  assert.is(rows[1]!.stddev_ts, 0);
  // JSONL: one object a line, the same fields
  const lines = formatResults('jsonl', [PP, TG], { build: BUILD }).trimEnd().split('\n');
  assert.is(lines.length, 2);
  assert.equal(JSON.parse(lines[0]!), rows[0]);
});

test('CSV: header of field names, every value quoted, quotes doubled', () => {
  const [header, row, tg, end] = formatResults('csv', [PP, TG], { build: BUILD }).split('\n');
  assert.is(header, 'build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,model_size,model_n_params,'
    + 'n_batch,n_ubatch,n_threads,type_k,type_v,n_prompt,n_gen,n_depth,test_time,avg_ns,stddev_ns,avg_ts,stddev_ts');
  assert.is(row, '"run-gguf 0.1.0","0","Test CPU","","WASM","/m/tiny ""q"".gguf","llama 1B Q4_K - Medium","667078656","1100048384",'
    + '"2048","512","2","f16","f16","512","0","0","2026-11-26T12:00:00Z","900000000","141421356","576.000000","90.509668"');
  assert.ok(tg!.endsWith('"0","128","0","2026-11-26T12:00:00Z","4000000000","0","32.000000","0.000000"'));
  assert.is(end, '');
});

test('model type: llama.cpp size class by layer count, else from the parameter count', () => {
  const d = (name: string, nParams: number, ft: string) => {
    const s = LLAMA_SHAPES[name]!;
    return modelDesc({ arch: 'llama', n_layer: s.n_layer, n_head: s.n_head, n_head_kv: s.n_head_kv, n_vocab: s.n_vocab, nParams, fileTypeName: ft });
  };
  assert.is(d('tinyllama-1.1b', 1100048384, 'Q4_K - Medium'), 'llama 1B Q4_K - Medium');
  assert.is(d('llama-160m', 162417408, 'Q4_0'), 'llama 160M Q4_0');
  assert.is(d('qwen2.5-0.5b', 494032768, 'Q8_0'), 'llama 490M Q8_0');
  const big = { arch: 'llama', n_head: 64, n_head_kv: 8, nParams: 7e10, fileTypeName: 'F16' };
  assert.is(modelDesc({ ...big, n_layer: 80, n_vocab: 32000 }), 'llama 70B F16');
  assert.is(modelDesc({ ...big, n_layer: 80, n_head_kv: 64, n_vocab: 32000 }), 'llama 65B F16');
  assert.is(modelDesc({ ...big, n_layer: 32, n_vocab: 32000, nParams: 6.7e9 }), 'llama 7B F16');
  assert.is(modelDesc({ ...big, n_layer: 32, n_vocab: 128256, nParams: 8e9 }), 'llama 8B F16');
  assert.is(modelDesc({ ...big, arch: 'qwen2', n_layer: 24, n_vocab: 151936, nParams: 494032768 }), 'qwen2 490M F16');
  assert.is(sizeClassFromParams(1_440_000), '1.4M');
  assert.is(sizeClassFromParams(1.1e9), '1.1B');
  assert.is(sizeClassFromParams(13.02e9), '13B');
});

test('llama-bench lists, test order, -p 0 / -n 0 skip', () => {
  assert.equal(parseIntList('1,2'), [1, 2]);
  assert.equal(parseIntList('1-4'), [1, 2, 3, 4]);
  assert.equal(parseIntList('64-512*2'), [64, 128, 256, 512]);
  assert.equal(parseIntList('1-7+3,16'), [1, 4, 7, 16]);
  assert.throws(() => parseIntList('1,x'), /not a list of integers/);
  assert.throws(() => parseIntList('2-8*1'), /never reaches/);
  const names = (p: Parameters<typeof benchParams>[0]) => testInstances(benchParams(p)).map((t) => `${testName(t)}/t${t.nThreads}`);
  assert.equal(names({ nPrompt: [512, 64], nGen: [128], nThreads: [1, 2] }), ['pp512/t1', 'pp64/t1', 'tg128/t1', 'pp512/t2', 'pp64/t2', 'tg128/t2']);
  assert.equal(names({ nPrompt: [0], nGen: [16], nThreads: [1] }), ['tg16/t1']);
  assert.equal(names({ nPrompt: [8], nGen: [0], nThreads: [1] }), ['pp8/t1']);
  // llama-bench -d: depth loops inside threads, outside the tests; named "pp8 @ d16"
  assert.equal(names({ nPrompt: [8], nGen: [4], nDepth: [0, 16], nThreads: [1] }), ['pp8/t1', 'tg4/t1', 'pp8 @ d16/t1', 'tg4 @ d16/t1']);
  const par = testInstances(benchParams({ nPrompt: [8], nGen: [4], nThreads: [1], nParallel: [1, 4] })).map((t) => `${testName(t)}x${t.nParallel}`);
  assert.equal(par, ['pp8x1', 'pp8x4', 'tg4x1', 'tg4x4']);
});

test('llama-quantize mixes: Q4_K_M upgrades, tied output, fallbacks for 896-wide rows', () => {
  const tl = quantMix('q4_k_m', LLAMA_SHAPES['tinyllama-1.1b']!); // 22 layers: more bits for 0,1, 4,7,10,13,16, 19,20,21
  assert.is(tl.name, 'Q4_K_M');
  const t = (n: string, nIn = 2048) => tl.matrixType(n, nIn, 0);
  assert.is(t('token_embd.weight'), GGMLType.Q4_K);
  assert.is(t('output.weight'), GGMLType.Q6_K);
  assert.equal([0, 1, 2, 3, 4, 7, 18, 19, 21].map((l) => t(`blk.${l}.attn_v.weight`)),
    [GGMLType.Q6_K, GGMLType.Q6_K, GGMLType.Q4_K, GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.Q6_K, GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.Q6_K]);
  assert.is(t('blk.4.ffn_down.weight', 5632), GGMLType.Q6_K);
  assert.is(t('blk.5.ffn_down.weight', 5632), GGMLType.Q4_K);
  assert.is(t('blk.4.attn_q.weight'), GGMLType.Q4_K);
  assert.is(t('blk.4.ffn_up.weight'), GGMLType.Q4_K);
  const q3 = quantMix('Q3_K_M', LLAMA_SHAPES['tinyllama-1.1b']!);
  assert.equal(['blk.0.attn_v.weight', 'blk.2.attn_v.weight', 'blk.0.ffn_down.weight', 'blk.1.ffn_down.weight', 'blk.1.attn_output.weight', 'blk.1.attn_q.weight']
    .map((n) => q3.matrixType(n, 2048, 0)), [GGMLType.Q5_K, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q4_K, GGMLType.Q4_K, GGMLType.Q3_K]);
  // Qwen2.5-0.5B: tied head in Q8_0 (896 is not whole Q6_K blocks), Q4_K falls back to Q5_0
  const qw = quantMix('Q4_K_M', LLAMA_SHAPES['qwen2.5-0.5b']!);
  assert.is(qw.matrixType('token_embd.weight', 896, 151936), GGMLType.Q8_0);
  assert.is(qw.matrixType('blk.3.attn_q.weight', 896, 896), GGMLType.Q5_0);
  assert.is(qw.matrixType('blk.0.attn_v.weight', 896, 128), GGMLType.Q8_0);
  assert.is(qw.matrixType('blk.3.ffn_down.weight', 4864, 896), GGMLType.Q4_K);
  // legacy file types still get a Q6_K head; :pure and bare ggml names do not
  const q40 = LLAMA_SHAPES['llama-160m']!;
  assert.is(quantMix('Q4_0', q40).matrixType('output.weight', 768, 32000), GGMLType.Q6_K);
  assert.is(quantMix('Q4_0:pure', q40).matrixType('output.weight', 768, 32000), GGMLType.Q4_0);
  assert.is(quantMix('Q4_K', q40).matrixType('output.weight', 768, 32000), GGMLType.Q4_K);
  assert.is(quantMix('F16', q40).matrixType('output.weight', 768, 32000), GGMLType.F16);
  assert.throws(() => quantMix('Q9_X', q40), /unknown weight type/);
  assert.throws(() => parseSyntheticSpec('nope:Q4_0'), /unknown synthetic shape/);
});

test('synthetic cache: XDG location, written once then reused, a stale file is rewritten', async () => {
  assert.is(syntheticCacheDir({ XDG_CACHE_HOME: '/x/cache' }), '/x/cache/run-gguf/synthetic');
  assert.ok(syntheticCacheDir({}).endsWith('/.cache/run-gguf/synthetic'));
  const dir = join(tmp, 'cache');
  const spec = parseSyntheticSpec('test-tiny:Q8_0');
  const first = await ensureSyntheticModel(spec, { dir });
  assert.ok(first.written);
  assert.is(first.path, join(dir, 'test-tiny-Q8_0.gguf'));
  const mtime = statSync(first.path).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));
  let wrote = false;
  const second = await ensureSyntheticModel(spec, { dir, onWrite: () => { wrote = true; } });
  assert.is(second.written, false);
  assert.is(wrote, false);
  assert.is(statSync(first.path).mtimeMs, mtime);
  // what an interrupted writer of an older version might have left: not taken as finished
  writeFileSync(first.path, new Uint8Array(100));
  // and the partial file of a writer that was killed: removed
  const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
  const partial = `${first.path}.partial-${deadPid}`;
  writeFileSync(partial, new Uint8Array(10));
  const third = await ensureSyntheticModel(spec, { dir });
  assert.ok(third.written);
  assert.not.ok(existsSync(partial));
  assert.is(statSync(third.path).size, statSync(join(dir, 'test-tiny-Q8_0.gguf')).size);
  assert.ok(statSync(third.path).size > 100);
});

test('synthetic grid i-quant file types: typed as with an imatrix, the C quantizers write formats/quant\'s file', async () => {
  const spec = parseSyntheticSpec('test-tiny:IQ2_XXS');
  const withC = await ensureSyntheticModel(spec, { dir: join(tmp, 'iq-c'), quantizer: await WasmQuantizer.load() });
  const withTs = await ensureSyntheticModel(spec, { dir: join(tmp, 'iq-ts') });
  assert.ok(readFileSync(withC.path).equals(readFileSync(withTs.path)), 'the C quantizers wrote another file');
  const f = await readGGUF(withC.path);
  assert.is(f.metadata.get('general.file_type'), LlamaFileType.MOSTLY_IQ2_XXS);
  const types = new Set(f.tensors.map((t) => t.type));
  // llama-quantize's IQ2_XXS with an imatrix: most matrices IQ2_XXS, the head and some others more bits
  assert.ok(types.has(GGMLType.IQ2_XXS) && types.size > 2, [...types].join(' '));
});

function bench(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'bench', ...args], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, XDG_CACHE_HOME: join(tmp, 'xdg') },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('run-gguf bench on a synthetic model: table rows pp16 and tg4', () => {
  const r = bench('--synthetic', 'test-tiny:Q4_0', '-p', '16', '-n', '4', '-r', '1', '-t', '1');
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, /^\| model +\| +size \| +params \| backend +\| threads \| +test \| +t\/s \|$/);
  assert.match(lines[2]!, /^\| llama 1\.4M Q4_0 +\| +[\d.]+ MiB \| +1\.44 M \| WASM +\| +1 \| +pp16 \| +[\d.]+ ± 0\.00 \|$/);
  assert.match(lines[3]!, /^\| llama 1\.4M Q4_0 +\| .* \| +tg4 \| +[\d.]+ ± 0\.00 \|$/);
  assert.match(r.stdout, /\nbuild: run-gguf /);
  assert.match(r.stderr, /wrote .*test-tiny-Q4_0\.gguf/);
});

test('run-gguf bench -o json: llama-bench fields; -p 0 skips pp', () => {
  const r = bench('--synthetic', 'test-tiny:Q4_0', '-p', '0', '-n', '4', '-r', '2', '-t', '1', '-o', 'json');
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.stderr, /wrote/); // the cached file from the previous test
  const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.is(rows.length, 1);
  const row = rows[0]!;
  for (const f of ['model_filename', 'model_type', 'model_size', 'model_n_params', 'n_batch', 'n_ubatch', 'n_threads',
    'n_prompt', 'n_gen', 'test_time', 'avg_ns', 'stddev_ns', 'avg_ts', 'stddev_ts', 'samples_ns', 'samples_ts', 'backends']) {
    assert.ok(f in row, `field ${f}`);
  }
  assert.is(row.model_type, 'llama 1.4M Q4_0');
  assert.is(row.backends, 'WASM');
  assert.is(row.n_prompt, 0);
  assert.is(row.n_gen, 4);
  assert.is(row.n_threads, 1);
  assert.is((row.samples_ns as number[]).length, 2);
  assert.ok((row.avg_ts as number) > 0);
  assert.match(String(row.model_filename), /test-tiny-Q4_0\.gguf$/);
});

test('run-gguf bench -d: the cache holds the depth before the timed part', async () => {
  const r = bench('--synthetic', 'test-tiny:Q4_0', '-p', '8', '-n', '0', '-d', '16', '-r', '1', '-t', '1', '-o', 'json');
  assert.is(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.is(rows.length, 1);
  assert.is(rows[0]!.n_depth, 16);
  assert.is(rows[0]!.n_prompt, 8);
  // the runner itself: after one timed run the cache holds depth + prompt (+ generated) tokens
  const m = await ensureSyntheticModel(parseSyntheticSpec('test-tiny:Q4_0'), { dir: join(tmp, 'xdg', 'run-gguf', 'synthetic') });
  assert.not.ok(m.written); // the file the CLI just used
  const model = await loadModel(m.path, { contextSize: 64 });
  try {
    for (const [nPrompt, nGen, nParallel] of [[8, 0, 1], [0, 3, 1], [0, 3, 2]] as const) {
      const runner = new TestRunner(model, { nPrompt, nGen, nDepth: 16, nThreads: 1, nParallel, nBatch: 2048, nUBatch: 512 }, 1);
      runner.run();
      assert.is(runner.position, 16 + nPrompt + nGen);
      runner.dispose();
    }
  } finally {
    model.dispose();
  }
});

test('--parallel: n_parallel sequences evaluated together; t/s counts the tokens of all', () => {
  const r = bench('--synthetic', 'test-tiny:Q4_0', '-p', '8', '-n', '4', '-r', '1', '-t', '1', '-np', '1,3', '-o', 'json');
  assert.is(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.equal(rows.map((x) => [x.n_prompt, x.n_gen, x.n_parallel]), [[8, 0, undefined], [8, 0, 3], [0, 4, undefined], [0, 4, 3]]);
  for (const x of rows) {
    const tokens = ((x.n_prompt as number) + (x.n_gen as number)) * ((x.n_parallel as number | undefined) ?? 1);
    const ns = (x.samples_ns as number[])[0]!;
    assert.ok(Math.abs((x.samples_ts as number[])[0]! - (1e9 * tokens) / ns) < 1e-3 * (1e9 * tokens) / ns, 'samples_ts: tokens of every sequence per second');
  }
  const md = bench('--synthetic', 'test-tiny:Q4_0', '-p', '0', '-n', '2', '-r', '1', '-t', '1', '--parallel', '2');
  assert.is(md.code, 0, md.stderr);
  assert.match(md.stdout, /\| threads \| n_parallel \| +test \|/);
  assert.match(md.stdout, /\| +1 \| +2 \| +tg2 \|/);
  assert.match(bench('--synthetic', 'test-tiny:Q4_0', '-np', '0').stderr, /--parallel/);
});

test('run-gguf bench: usage errors', () => {
  assert.is(bench().code, 2);
  const bad = bench('--synthetic', 'test-tiny:Q4_0', '-o', 'xml');
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /--output/);
  assert.match(bench('--help').stdout, /Usage: run-gguf bench/);
});

test.run();
