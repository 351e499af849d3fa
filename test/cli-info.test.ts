// `run-gguf info`, run as users run it: the compiled bin in a child process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGGUF, GGMLType, GGUFValueType, writeSplitGGUF } from '../formats/index.js';
import { GGMLType as GT } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { llamaModelSpec, LLAMA_SHAPES } from '../formats/synthetic/llama.js';
import { MOE_SHAPES, moeModelSpec, type MoeShape } from '../formats/synthetic/moe.js';
import { supportedArchitectures } from '../runtime/arch/index.js';
import { REPO_ROOT, sharedDir } from './helpers/shared.js';

const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'cli-info-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function builtModel(): string {
  const path = join(tmp, 'built.gguf');
  writeFileSync(path, encodeGGUF({
    kv: [
      { key: 'general.architecture', value: 'llama' },
      { key: 'general.file_type', type: GGUFValueType.UINT32, value: 15 },
      { key: 'big.count', type: GGUFValueType.UINT64, value: 2n ** 60n },
      { key: 'small.count', type: GGUFValueType.UINT64, value: 5n },
      { key: 'tokenizer.ggml.tokens', value: Array.from({ length: 20 }, (_, i) => `t${i}`) },
      { key: 'short', value: new Int32Array([1, -2, 3]) },
      { key: 'eps', type: GGUFValueType.FLOAT32, value: 1e-5 },
    ],
    tensors: [
      { name: 'blk.0.ffn_up.weight', type: GGMLType.Q4_K, shape: [256, 2], data: new Uint8Array(288) },
      { name: 'output_norm.weight', type: GGMLType.F32, shape: [256], data: new Uint8Array(1024) },
    ],
  }));
  return path;
}

test('--help for the bin and for info', () => {
  const top = run('--help');
  assert.is(top.code, 0);
  assert.match(top.stdout, 'Usage: run-gguf <command>');
  assert.match(top.stdout, /\n {2}info {2,}show a GGUF file/);
  const info = run('info', '--help');
  assert.is(info.code, 0);
  assert.match(info.stdout, 'Usage: run-gguf info <model.gguf> [--json]');
  const none = run();
  assert.is(none.code, 2);
  assert.match(none.stderr, 'Usage: run-gguf');
  const unknown = run('frobnicate');
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, 'unknown command "frobnicate"');
});

test('text output: header facts, metadata with summarised arrays, the tensor table, the file type', () => {
  const path = builtModel();
  const r = run('info', path);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, '');
  assert.match(r.stdout, `file:         ${path}`);
  assert.match(r.stdout, /format: +GGUF v3, alignment 32/);
  assert.match(r.stdout, /file type: +Q4_K - Medium\n/);
  assert.match(r.stdout, /parameters: +768 \(768\)/);
  assert.match(r.stdout, /bits\/weight: +13\.67/); // (288 + 1024) * 8 / 768
  assert.match(r.stdout, /tokenizer\.ggml\.tokens +arr\[str\] +\[string x 20\]/);
  assert.match(r.stdout, /short +arr\[i32\] +\[1, -2, 3\]/);
  assert.match(r.stdout, /eps +f32 +0\.00001\n/);
  assert.match(r.stdout, /big\.count +u64 +1152921504606846976/);
  assert.match(r.stdout, /#  name +type +shape +bytes +offset/);
  assert.match(r.stdout, /0  blk\.0\.ffn_up\.weight +Q4_K +\[256, 2\] +288 +\d+/);
  assert.match(r.stdout, /1  output_norm\.weight +F32 +\[256\] +1024 +\d+/);
});

test('--json: one object with the header, metadata and tensors', () => {
  const path = builtModel();
  const r = run('info', path, '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.version, 3);
  assert.is(j.tensor_count, 2);
  assert.is(j.kv_count, 7);
  assert.is(j.n_params, 768);
  assert.is(j.file_type, 'Q4_K - Medium');
  assert.is(j.file_type_id, 15);
  assert.equal(j.metadata['tokenizer.ggml.tokens'], { type: 'string', length: 20 });
  assert.equal(j.metadata.short, [1, -2, 3]);
  assert.is(j.metadata.eps, 0.00001);
  assert.is(j.metadata['small.count'], 5, 'a safe bigint becomes a number');
  assert.is(j.metadata['big.count'], '1152921504606846976', 'an unsafe one a string of its digits');
  assert.equal(j.tensors[0], { name: 'blk.0.ffn_up.weight', type: 'Q4_K', shape: [256, 2], offset: j.data_offset, bytes: 288 });
  assert.is(j.tensors[1].offset, j.data_offset + 288); // 288 is already a multiple of 32
});

test('a shared model: text table and JSON fields', () => {
  const dir = sharedDir('models');
  if (!dir) return;
  const path = join(dir, 'llama-2-tiny-random.gguf');
  const text = run('info', path);
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /file type: +F16\n/);
  assert.match(text.stdout, /tokenizer\.ggml\.tokens +arr\[str\] +\[string x 32000\]/);
  assert.match(text.stdout, /0  token_embd\.weight +F16 +\[8, 32000\] +512000 +724416/);
  const j = JSON.parse(run('info', path, '--json').stdout);
  assert.is(j.version, 3);
  assert.is(j.tensor_count, 12);
  assert.is(j.kv_count, 18);
  assert.is(j.n_params, 513048);
  assert.is(j.file_type, 'F16');
  assert.equal(j.metadata['tokenizer.ggml.scores'], { type: 'float32', length: 32000 });
  assert.is(j.metadata['llama.embedding_length'], 8);
  assert.equal(j.tensors[11], { name: 'output.weight', type: 'F16', shape: [8, 32000], offset: 1238560, bytes: 512000 });

  const guessed = JSON.parse(run('info', join(dir, 'stories260K.gguf'), '--json').stdout);
  assert.is(guessed.file_type, '(guessed) all F32');
});

test('warnings go to stderr; the output stays clean', () => {
  const dir = sharedDir('vocab');
  if (!dir) return;
  const r = run('info', join(dir, 'ggml-vocab-dbrx.gguf'), '--json');
  assert.is(r.code, 0);
  assert.match(r.stderr, /^warning: .*key "general\.file_type" is repeated/);
  assert.is(JSON.parse(r.stdout).tensor_count, 0);
});

test('a split model is shown as one', async () => {
  const paths = await writeSplitGGUF(join(tmp, 'split'), {
    kv: [{ key: 'general.architecture', value: 'llama' }],
    tensors: [0, 1, 2].map((i) => ({ name: `t${i}`, type: GGMLType.F32, shape: [4], data: new Uint8Array(16) })),
  }, 3);
  const j = JSON.parse(run('info', paths[0], '--json').stdout);
  assert.is(j.tensor_count, 3);
  assert.equal(j.shards, paths);
  assert.equal(j.tensors.map((t: { file: string }) => t.file), paths);
});

test('not GGUF, missing, truncated: exit 1 and one line on stderr naming the file', () => {
  const notGGUF = join(tmp, 'notes.gguf');
  writeFileSync(notGGUF, 'hello, this is text\n');
  const truncated = join(tmp, 'truncated.gguf');
  writeFileSync(truncated, readFileSync(builtModel()).subarray(0, 100));
  const cases: [string, RegExp][] = [
    [notGGUF, /not a GGUF file \(magic "hell", expected "GGUF"\)/],
    [join(tmp, 'absent.gguf'), /cannot read: no such file/],
    [truncated, /at byte \d+/],
    [tmp, /not a regular file/],
  ];
  for (const [path, re] of cases) {
    const r = run('info', path);
    assert.is(r.code, 1, `${path}: exit code`);
    assert.is(r.stdout, '');
    const lines = r.stderr.split('\n').filter((l) => l.length > 0);
    assert.is(lines.length, 1, `${path}: stderr was ${JSON.stringify(r.stderr)}`);
    assert.ok(lines[0].includes(path), lines[0]);
    assert.match(lines[0], re);
    assert.not.match(lines[0], /\bat .*\.js:\d+/);
  }
});

// ---- architecture and hyper-parameters ----

/** Our `hyper-parameters` lines as name -> value text. */
function ourHParams(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  const start = stdout.indexOf('hyper-parameters (');
  if (start < 0) return m;
  for (const line of stdout.slice(start).split('\n').slice(1)) {
    const r = /^ {2}(\S.*?)\s*= (.*)$/.exec(line);
    if (!r) break;
    m.set(r[1]!, r[2]!);
  }
  return m;
}

// node-llama-cpp's log level and logger belong to the process's one llama.cpp
// binding: when the suite's other files already made the oracle instance
// (errors only), an instance asking for info logs here would get none. So
// print_info is collected in a child process of its own.
const PRINT_INFO_SCRIPT = `
const { getLlama, LlamaLogLevel } = await import(${JSON.stringify(import.meta.resolve('node-llama-cpp'))});
const log = [];
const llama = await getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: LlamaLogLevel.info, logger: (_l, m) => log.push(m) });
const model = await llama.loadModel({ modelPath: process.argv[2] });
await model.dispose();
process.stdout.write(JSON.stringify(log.join('')));
`;
let printInfoScript: string | undefined;

/** llama.cpp's print_info lines (name -> value text) when it loads `path`. */
async function llamaCppPrintInfo(path: string): Promise<Map<string, string>> {
  // a file, not node -e: node-llama-cpp tests its binary in a child started with our exec arguments
  if (!printInfoScript) writeFileSync((printInfoScript = join(tmp, 'print-info.mjs')), PRINT_INFO_SCRIPT);
  const child = spawnSync(process.execPath, [printInfoScript, path], {
    cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 1 << 26,
  });
  if (child.status !== 0) throw new Error(`llama.cpp could not load ${path}: ${child.stderr}`);
  const text = JSON.parse(child.stdout) as string;
  const m = new Map<string, string>();
  for (const line of text.split(/\n|(?=print_info:)/)) {
    const r = /^print_info: (\S.*?)\s*= (.*?)\s*$/.exec(line);
    if (r) m.set(r[1]!, r[2]!);
  }
  return m;
}

// One file per MoE architecture plus llama with yarn scaling: every
// hyper-parameter we name that llama.cpp's print_info also names must read
// the same there.
const small = (s: MoeShape): MoeShape => ({ ...s, n_ff_exp: 256, n_expert: 4, n_expert_used: 2, ...(s.n_ff_shexp ? { n_ff_shexp: 256 } : {}) });
const HPARAM_FILES: { name: string; write: (path: string) => Promise<unknown> }[] = [
  { name: 'mixtral', write: (p) => writeGGUF(p, moeModelSpec(small(MOE_SHAPES['mixtral-tiny']!), GT.F16)) },
  { name: 'qwen2moe', write: (p) => writeGGUF(p, moeModelSpec(small(MOE_SHAPES['qwen2moe-tiny']!), GT.F16)) },
  { name: 'qwen3moe', write: (p) => writeGGUF(p, moeModelSpec(small(MOE_SHAPES['qwen3moe-tiny']!), GT.F16)) },
  { name: 'granitemoe', write: (p) => writeGGUF(p, moeModelSpec({ ...small(MOE_SHAPES['granitemoe-tiny']!), n_ff_shexp: 256 }, GT.F16)) },
  {
    name: 'llama (yarn)',
    write: (p) => writeGGUF(p, llamaModelSpec({ ...LLAMA_SHAPES['test-tiny']!, ropeScaling: { type: 'yarn', factor: 4, originalContext: 128 } }, GT.F16)),
  },
];

for (const f of HPARAM_FILES) {
  test(`${f.name}: the hyper-parameters read as llama.cpp's print_info prints them`, async () => {
    const path = join(tmp, `hp-${f.name.replace(/\W+/g, '_')}.gguf`);
    await f.write(path);
    const r = run('info', path);
    assert.is(r.code, 0, r.stderr);
    const ours = ourHParams(r.stdout);
    const theirs = await llamaCppPrintInfo(path);
    assert.ok(theirs.size > 20, `llama.cpp printed ${theirs.size} print_info lines`);
    let compared = 0;
    for (const [name, value] of ours) {
      if (!theirs.has(name)) continue;
      assert.is(value, theirs.get(name), `${name}: ours ${value}, llama.cpp ${theirs.get(name)}`);
      compared++;
    }
    assert.ok(compared >= 25, `only ${compared} of our ${ours.size} rows are in llama.cpp's print_info`);
    assert.match(r.stdout, new RegExp(`architecture: ${theirs.get('arch')}\n`));
    const j = JSON.parse(run('info', path, '--json').stdout);
    assert.is(j.architecture.name, theirs.get('arch'));
    assert.is(j.architecture.supported, true);
    assert.is(j.architecture.hparams.n_embd, Number(theirs.get('n_embd')));
    assert.is(j.architecture.hparams.n_expert, Number(theirs.get('n_expert')));
  });
}

test('complete and chat: a sampling flag that is not a number is a usage mistake, told before the model loads', () => {
  // the model path does not exist: a flag read after the load would report the file instead
  const absent = join(tmp, 'absent.gguf');
  for (const cmd of ['complete', 'chat']) {
    for (const [flag, value] of [['--temp', 'abc'], ['--top-k', ''], ['--seed', '1e999']]) {
      const r = run(cmd, absent, '-p', 'hi', flag!, value!);
      assert.is(r.code, 2, `${cmd} ${flag} ${JSON.stringify(value)}: exit code (stderr ${JSON.stringify(r.stderr)})`);
      assert.match(r.stderr, `${flag} expects a number, got "${value}"`);
    }
  }
});

test('an unsupported architecture: info still shows the file and says so; loading it fails in one line', () => {
  const path = join(tmp, 'mamba.gguf');
  writeFileSync(path, encodeGGUF({
    kv: [
      { key: 'general.architecture', value: 'mamba' },
      { key: 'mamba.context_length', type: GGUFValueType.UINT32, value: 1024 },
      { key: 'mamba.embedding_length', type: GGUFValueType.UINT32, value: 256 },
      { key: 'mamba.block_count', type: GGUFValueType.UINT32, value: 2 },
      { key: 'mamba.ssm.conv_kernel', type: GGUFValueType.UINT32, value: 4 },
      { key: 'tokenizer.ggml.model', value: 'gpt2' },
    ],
    tensors: [{ name: 'token_embd.weight', type: GGMLType.F32, shape: [256, 4], data: new Uint8Array(4096) }],
  }));
  const supported = supportedArchitectures();
  for (const arch of ['llama', 'qwen2moe', 'qwen3moe', 'granitemoe']) assert.ok(supported.includes(arch), arch);
  const r = run('info', path);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, `file:         ${path}`);
  assert.match(r.stdout, /parameters: +1\.02 K \(1024\)/);
  assert.match(r.stdout, `architecture: mamba (not supported by run-gguf; supported: ${supported.join(', ')})\n`);
  assert.match(r.stdout, /n_embd += 256\n/);
  assert.match(r.stdout, /mamba\.ssm\.conv_kernel +u32 +4/);
  const j = JSON.parse(run('info', path, '--json').stdout);
  assert.equal({ name: j.architecture.name, supported: j.architecture.supported }, { name: 'mamba', supported: false });
  assert.equal(j.architecture.supported_architectures, supported);

  const load = run('complete', path, '-p', 'hello');
  assert.is(load.code, 1);
  assert.is(load.stdout, '');
  const lines = load.stderr.split('\n').filter((l) => l.length > 0);
  assert.is(lines.length, 1, `stderr was ${JSON.stringify(load.stderr)}`);
  assert.ok(lines[0]!.includes(path), lines[0]);
  assert.ok(lines[0]!.includes(`architecture "mamba" is not supported (supported: ${supported.join(', ')})`), lines[0]);
});

test('a file without general.architecture or hyper-parameters: no hyper-parameter section', () => {
  const path = join(tmp, 'bare.gguf');
  writeFileSync(path, encodeGGUF({ kv: [{ key: 'x', value: 1 }], tensors: [] }));
  const r = run('info', path);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, 'architecture: (none: no general.architecture)');
  assert.not.match(r.stdout, 'hyper-parameters');
  assert.is(JSON.parse(run('info', path, '--json').stdout).architecture.name, null);
});

test.run();
