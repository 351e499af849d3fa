// `run-gguf info`, run as users run it: the compiled bin in a child process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGGUF, GGMLType, GGUFValueType, writeSplitGGUF } from '../formats/index.js';
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

test.run();
