// `run-gguf serve` as users run it: the compiled bin in a child process on a
// random-weight model; -np and -c split the context as llama-server does
// (each slot gets -c / -np cells), it answers, and SIGTERM stops it cleanly.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from './helpers/shared.js';
import { writeTinyModel } from './helpers/browser-model.js';
import { raw } from './helpers/server.js';

const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');

test('--help, and serve is listed', () => {
  const top = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
  assert.match(top.stdout, /\n {2}serve {2,}an OpenAI-compatible HTTP server/);
  const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' });
  assert.is(help.status, 0);
  assert.match(help.stdout, 'Usage: run-gguf serve <model.gguf>');
  assert.match(help.stdout, '-np, --parallel N');
  const bare = spawnSync(process.execPath, [CLI, 'serve'], { encoding: 'utf8' });
  assert.is(bare.status, 2);
  const badPort = spawnSync(process.execPath, [CLI, 'serve', 'x.gguf', '--port', 'eighty'], { encoding: 'utf8' });
  assert.is(badPort.status, 1);
  assert.match(badPort.stderr, '--port');
});

test('-np 2 -c 512: two slots of 256, serves on 127.0.0.1, an over-long prompt is a 400, SIGTERM exits 0', async () => {
  const tiny = await writeTinyModel();
  const child = spawn(process.execPath, [CLI, 'serve', tiny.path, '--port', '0', '-np', '2', '-c', '512', '-t', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let err = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
        const m = err.match(/on (http:\/\/[^ ]+) \((.*)\)/);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(err, '2 slots of 256 tokens');
    assert.equal((await raw(`${url}/health`)).json(), { status: 'ok' });
    const ok = await raw(`${url}/v1/completions`, { body: JSON.stringify({ prompt: 'Hello', max_tokens: 4, temperature: 0 }) });
    assert.is(ok.status, 200, ok.text);
    assert.is(ok.json().usage.completion_tokens, 4);
    const over = await raw(`${url}/v1/completions`, { body: JSON.stringify({ prompt: Array.from({ length: 257 }, () => 5) }) });
    assert.is(over.status, 400);
    assert.match(over.json().error.message, 'exceeds the available context size (256 tokens)');
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.is(code, 0, err);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    tiny.cleanup();
  }
});

test.run();
