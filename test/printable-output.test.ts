// Text from a model file reaches the terminal inert (runtime/terminal/printable.ts):
// a key, a name, an architecture or a template holding ESC sequences can
// neither retitle the terminal nor clear it, in `info` (text and --json),
// in error messages quoting them (complete, chat) and in the chat's
// template line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { errorLine, inertJSON } from '../runtime/terminal/printable.js';
import { REPO_ROOT } from './helpers/shared.js';

const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'printable-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const TITLE = '\x1b]0;pwned\x07';
const CLEAR = '\x1b[2J';
const CSI8 = '\u009b2J';
// eslint-disable-next-line no-control-regex
const RAW = /[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]/;

const run = (args: string[], input = '') => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });

async function model(name: string, extraKV: { key: string; value: string }[], arch?: string): Promise<string> {
  const path = join(dir, name);
  const spec = llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q8_0, { seed: 1, extraKV });
  if (arch) spec.kv.find((e) => e.key === 'general.architecture')!.value = arch;
  await writeGGUF(path, spec);
  return path;
}

test('errorLine and inertJSON', () => {
  assert.is(errorLine(new Error(`bad key "a${CLEAR}b"\nnext`)), 'bad key "a␛[2Jb"\\nnext');
  assert.is(errorLine(`x${TITLE}`), 'x␛]0;pwned␇');
  const json = inertJSON(JSON.stringify({ v: `a${CSI8}\x7f` }));
  assert.not.match(json, RAW);
  assert.equal(JSON.parse(json), { v: `a${CSI8}\x7f` }, 'the same value for a parser');
});

test('info: keys, values and the name from the file are inert, in text and --json', async () => {
  const path = await model('keys.gguf', [
    { key: `evil${TITLE}.key`, value: `v${CLEAR}` },
    { key: 'general.name', value: `name${CSI8}` },
  ]);
  const text = run(['info', path]);
  assert.is(text.status, 0, text.stderr);
  assert.not.match(text.stdout, RAW);
  assert.match(text.stdout, 'evil');
  const json = run(['info', path, '--json']);
  assert.is(json.status, 0, json.stderr);
  assert.not.match(json.stdout, RAW);
  assert.ok(JSON.stringify(JSON.parse(json.stdout)).includes(`name${CSI8}`), 'the JSON still holds the exact value');
});

test('errors quoting the architecture or the template are inert (complete, chat)', async () => {
  const arch = await model('arch.gguf', [], `llama${CLEAR}`);
  for (const args of [['complete', arch, '-p', 'x', '-n', '1'], [arch, '-p', 'x', '-n', '1']]) {
    const r = run(args);
    assert.is(r.status, 1, r.stderr);
    // shown (as a picture or an escape), never acted on
    assert.match(r.stderr, /llama(␛|\\u001b)\[2J/);
    assert.not.match(r.stderr, RAW);
  }
  const tmpl = await model('template.gguf', [{ key: 'tokenizer.chat_template', value: `{{ raise_exception('no${TITLE}') }}` }]);
  const r = run([tmpl, '-p', 'x', '-n', '1']);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, 'no␛]0;pwned␇');
  assert.not.match(r.stderr, RAW);
});

test.run();
