// No command writes over its own input, and none leaves a partial output
// (formats/output-file.ts): the same file through another path, a symlink or
// a hard link is refused (device + inode); outputs go to a temporary beside
// them, renamed when complete; SIGINT/SIGTERM remove the temporary, and the
// next run removes one a SIGKILL left.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { beginOutput, checkNotInput, removeStaleTemporaries, SameFileError, writeOutput } from '../formats/output-file.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { REPO_ROOT } from './helpers/shared.js';

const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
const OUTPUT_FILE = join(REPO_ROOT, 'dist', 'formats', 'output-file.js');
const dir = mkdtempSync(join(tmpdir(), 'output-files-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const model = join(dir, 'model.gguf');
await writeGGUF(model, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.F16, { seed: 7 }));
const text = join(dir, 'text.txt');
writeFileSync(text, 'the cat sat on the mat and then the dog ran far away. '.repeat(120));

const hash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const temporaries = (d = dir) => readdirSync(d).filter((f) => f.endsWith('.run-gguf-tmp'));
const cli = (args: string[], input = '') => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });

/** A pid no process has now: a child that ran and ended. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' });
  const pid = Number(r.stdout?.trim());
  assert.ok(Number.isInteger(pid) && pid > 0, `a child's pid: ${r.stdout} ${r.error}`);
  return pid;
}

test('the same file by its name, another path, a symlink or a hard link is refused; another file is not', () => {
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  const sym = join(dir, 'link.gguf');
  const hard = join(sub, 'hard.gguf');
  symlinkSync(model, sym);
  linkSync(model, hard);
  for (const out of [model, join(sub, '..', 'model.gguf'), sym, hard]) {
    assert.throws(() => checkNotInput(out, [model]), (e: unknown) => e instanceof SameFileError && e.input === model, out);
  }
  assert.throws(() => checkNotInput(model, [hard]), (e: unknown) => e instanceof SameFileError, 'either way round');
  checkNotInput(text, [model]);
  checkNotInput(join(dir, 'new.gguf'), [model]);
  rmSync(sym);
  rmSync(hard);
});

test('an output is written beside itself and renamed when complete; a failed write leaves the old file and no temporary', async () => {
  const out = join(dir, 'out.txt');
  writeFileSync(out, 'old');
  const pending = beginOutput(out, [model]);
  assert.match(pending.tmp, new RegExp(`/\\.out\\.txt\\.${process.pid}-\\d+\\.run-gguf-tmp$`));
  writeFileSync(pending.tmp, 'new');
  assert.is(readFileSync(out, 'utf8'), 'old', 'untouched until the commit');
  pending.commit();
  assert.is(readFileSync(out, 'utf8'), 'new');
  await writeOutput(out, [], () => {
    throw new Error('disk full');
  }).then(() => assert.unreachable(), (e: Error) => assert.is(e.message, 'disk full'));
  assert.is(readFileSync(out, 'utf8'), 'new');
  assert.equal(temporaries(), []);
});

test('a temporary of an ended process is removed by the next output to that name; a live one\'s stays', () => {
  const out = join(dir, 'base.kld');
  const stale = join(dir, `.base.kld.${deadPid()}-0.run-gguf-tmp`);
  const live = join(dir, `.base.kld.${process.ppid}-0.run-gguf-tmp`);
  const other = join(dir, `.other.kld.${deadPid()}-0.run-gguf-tmp`);
  for (const f of [stale, live, other]) writeFileSync(f, 'partial');
  assert.equal(removeStaleTemporaries(out).length, 1);
  assert.not.ok(existsSync(stale));
  assert.ok(existsSync(live), 'a running process\'s temporary is left alone');
  assert.ok(existsSync(other), 'another output\'s temporary is not ours to judge');
  for (const f of [live, other]) rmSync(f);
});

/** A child that starts an output, writes to its temporary and waits to be killed. */
async function killWriter(signal: NodeJS.Signals): Promise<{ signal: NodeJS.Signals | null; tmp: string }> {
  const out = join(dir, `killed-${signal}.bin`);
  writeFileSync(out, 'good');
  const script = `
    import { beginOutput } from ${JSON.stringify(OUTPUT_FILE)};
    import { writeFileSync } from 'node:fs';
    const p = beginOutput(${JSON.stringify(out)}, []);
    writeFileSync(p.tmp, 'partial');
    console.log(p.tmp);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const tmp = await new Promise<string>((res) => child.stdout.once('data', (d: Buffer) => res(d.toString().trim())));
  assert.ok(existsSync(tmp));
  child.kill(signal);
  const sig = await new Promise<NodeJS.Signals | null>((res) => child.once('exit', (_c, s) => res(s)));
  assert.is(readFileSync(out, 'utf8'), 'good', `${signal}: the output is as it was`);
  return { signal: sig, tmp };
}

test('SIGINT and SIGTERM remove the temporary (and still end the process); after SIGKILL the next run does', async () => {
  for (const s of ['SIGINT', 'SIGTERM'] as const) {
    const r = await killWriter(s);
    assert.is(r.signal, s, 'ended by the signal');
    assert.not.ok(existsSync(r.tmp), `${s}: temporary removed`);
  }
  const k = await killWriter('SIGKILL');
  assert.ok(existsSync(k.tmp), 'SIGKILL: nothing could run');
  await writeOutput(join(dir, 'killed-SIGKILL.bin'), [], (tmp) => writeFileSync(tmp, 'next'));
  assert.not.ok(existsSync(k.tmp), 'the next run removed it');
  assert.equal(temporaries(), []);
});

test('imatrix -o, perplexity --kl-divergence-base, quantize --imatrix and chat /save refuse their inputs by any path', () => {
  const before = hash(model);
  const hard = join(dir, 'hard-model.gguf');
  const sym = join(dir, 'sym-text.txt');
  linkSync(model, hard);
  symlinkSync(text, sym);
  const textBefore = hash(text);
  try {
    for (const [what, args] of [
      ['imatrix -o the model (hard link)', ['imatrix', model, '-f', text, '-o', hard, '-c', '64', '-t', '1']],
      ['imatrix -o the text (symlink)', ['imatrix', model, '-f', text, '-o', sym, '-c', '64', '-t', '1']],
      ['perplexity --kl-divergence-base the model', ['perplexity', model, '-f', text, '-c', '64', '-t', '1', '--kl-divergence-base', hard]],
      ['perplexity --kl-divergence-base the text', ['perplexity', model, '-f', text, '-c', '64', '-t', '1', '--kl-divergence-base', sym]],
    ] as const) {
      const r = cli([...args]);
      assert.is(r.status, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /refusing to overwrite the input: .* is the same file as /, what);
    }
    // quantize: the imatrix named as the output
    const im = join(dir, 'im.gguf');
    const made = cli(['imatrix', model, '-f', text, '-o', im, '-c', '64', '-t', '1', '--chunks', '1']);
    assert.is(made.status, 0, made.stderr);
    const imBefore = hash(im);
    const q = cli(['quantize', model, im, 'Q8_0', '--imatrix', im, '-t', '1']);
    assert.is(q.status, 1, q.stderr);
    assert.match(q.stderr, /refusing to overwrite the input: .*im\.gguf is an input of this command/);
    assert.is(hash(im), imBefore, 'the imatrix is intact');
    // chat /save onto the model through a hard link
    const chat = cli([model, '--temp', '0', '-n', '2', '-t', '1'], `Hello\n/save ${hard}\n`);
    assert.match(chat.stderr, /\/save: refusing to overwrite the input: .*hard-model\.gguf is the same file as .*model\.gguf/);
    assert.is(hash(model), before, 'the model is intact');
    assert.is(hash(text), textBefore, 'the text is intact');
    assert.equal(temporaries(), []);
  } finally {
    rmSync(hard);
    rmSync(sym);
  }
});

test('a killed perplexity --kl-divergence-base run leaves the previous base file and no temporary', async () => {
  const base = join(dir, 'prev.kld');
  writeFileSync(base, 'a good base file');
  const child = spawn(process.execPath, [CLI, 'perplexity', model, '-f', text, '-c', '32', '-b', '32', '-t', '1', '--kl-divergence-base', base], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // after the first chunk's [1]... the temporary exists and is being written
  await new Promise<void>((res) => child.stdout.on('data', (d: Buffer) => d.toString().includes('[1]') && res()));
  assert.equal(temporaries().length, 1);
  child.kill('SIGTERM');
  const sig = await new Promise<NodeJS.Signals | null>((res) => child.once('exit', (_c, s) => res(s)));
  assert.is(sig, 'SIGTERM');
  assert.is(readFileSync(base, 'utf8'), 'a good base file');
  assert.equal(temporaries(), []);
  // and a complete run replaces it
  const r = cli(['perplexity', model, '-f', text, '-c', '32', '-t', '1', '--chunks', '2', '--kl-divergence-base', base]);
  assert.is(r.status, 0, r.stderr);
  assert.ok(readFileSync(base).length > 100);
});

test('a quantize stopped by Ctrl+C (SIGINT) leaves no temporary and no partial output', async () => {
  const out = join(dir, 'q.gguf');
  const child = spawn(process.execPath, [CLI, 'quantize', model, out, 'Q4_K_M', '-t', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // the first tensor line: the temporary is being written
  await new Promise<void>((res) => child.stderr.on('data', (d: Buffer) => d.toString().includes('[') && res()));
  const during = temporaries();
  child.kill('SIGINT');
  const sig = await new Promise<NodeJS.Signals | null>((res) => child.once('exit', (_c, s) => res(s)));
  if (sig === null) {
    console.log('  quantize finished before the signal arrived: nothing to check');
    return;
  }
  assert.equal(during.length, 1, 'a temporary existed while it ran');
  assert.is(sig, 'SIGINT');
  assert.equal(temporaries(), []);
  assert.not.ok(existsSync(out));
});

test.run();
