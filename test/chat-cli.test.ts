// The chat CLI without a terminal: piped stdin (one turn per line, replies
// on stdout), -p, /save and /load, load failures, `run-gguf models`, and the
// terminal helpers (progress line, colors).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileRange, readGGUF, specFromHeader, writeGGUF } from '../formats/gguf/index.js';
import { formatParams } from '../runtime/commands/chat.js';
import { displayPath } from '../runtime/commands/pick.js';
import { styles } from '../runtime/terminal/colors.js';
import { ProgressBar } from '../runtime/terminal/progress.js';
import { MISTRAL_7B_INSTRUCT_V02 } from './helpers/chat-templates.js';
import { REPO_ROOT, sharedDir } from './helpers/shared.js';

const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'chat-cli-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], input = '', env: Record<string, string> = {}, cwd = REPO_ROOT) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input, encoding: 'utf8', timeout: 20_000, cwd, env: { ...process.env, NO_COLOR: '1', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const models = sharedDir('models');

if (models) {
  const stories = join(models, 'stories260K.gguf');

  test('piped stdin: one reply per line on stdout, the second turn reuses the cache; -p answers once', () => {
    const r = run([stories, '--temp', '0', '-n', '20'], 'Once upon a time\nThe dog\n');
    assert.is(r.code, 0, r.stderr);
    const replies = r.stdout.trimEnd().split('\n');
    assert.is(replies.length, 2, r.stdout);
    // the first turn is the raw completion of the same prompt (plain completion: no template in this file)
    const complete = run(['complete', stories, '-p', 'Once upon a time', '--temp', '0', '-n', '20']);
    assert.is(replies[0], complete.stdout.trimEnd());
    assert.match(r.stderr, /stories260K\.gguf · llama · 292\.8K params · .*F32 · context 2048 · \d+ threads?/);
    assert.match(r.stderr, 'no chat template: plain completion');
    const stats = r.stderr.split('\n').filter((l) => l.includes('tokens/s'));
    assert.is(stats.length, 2);
    const cached = Number(/ \+ (\d+) cached/.exec(stats[1])?.[1]);
    assert.ok(cached >= 20, `turn 2 reused the cache: ${stats[1]}`);
    assert.not.ok(r.stderr.includes('\r'), 'no progress bar without a terminal');

    const once = run(['chat', stories, '-p', 'Once upon a time', '--temp', '0', '-n', '20']);
    assert.is(once.code, 0, once.stderr);
    assert.is(once.stdout.trimEnd(), replies[0]);
  });

  test('--chat-template and --system: the rendered conversation is what the model sees', () => {
    const r = run([stories, '--temp', '0', '-n', '8', '--chat-template', 'chatml', '--system', 'Be kind.'], 'Hi\n/stats\n');
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, 'chat template: chatml (built-in; --chat-template chatml)');
    assert.match(r.stderr, '3 messages');
    const file = join(tmp, 'tmpl.jinja');
    writeFileSync(file, "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}");
    const j = run([stories, '--temp', '0', '-n', '8', '--chat-template', file], 'Hi\n');
    assert.is(j.code, 0, j.stderr);
    assert.match(j.stderr, 'chat template: template file tmpl.jinja (Jinja)');
    const bad = run([stories, '--chat-template', 'nonsense'], 'Hi\n');
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /unknown chat template "nonsense"/);
    assert.not.match(bad.stderr, 'stories260K.gguf ·', 'reported before loading');
  });

  test("the file's own Jinja template is used, and said so", async () => {
    const h = await readGGUF(stories);
    const spec = specFromHeader(h, (t) => fileRange(t.file, t.absoluteOffset, t.nBytes));
    const withTemplate = join(tmp, 'stories-chat.gguf');
    await writeGGUF(withTemplate, { ...spec, kv: [...spec.kv, { key: 'tokenizer.chat_template', value: MISTRAL_7B_INSTRUCT_V02 }] });
    const r = run([withTemplate, '--temp', '0', '-n', '8'], 'Hi\nAgain\n/help\n');
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, "chat template: the model's template (Jinja)");
    assert.is(r.stdout.trimEnd().split('\n').length, 2, r.stdout);
    assert.match(r.stderr, /\/reset\s+forget the conversation/);
  });

  test('/save and /load carry a conversation between runs', () => {
    const file = join(tmp, 'conv.json');
    const a = run([stories, '--temp', '0', '-n', '12', '--system', 'Stories.'], `Once upon a time\n/save ${file}\n`);
    assert.is(a.code, 0, a.stderr);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    assert.is(saved.format, 'run-gguf-chat');
    assert.equal(saved.messages.map((m: { role: string }) => m.role), ['system', 'user', 'assistant']);
    const b = run([stories, '--temp', '0', '-n', '12'], `/load ${file}\n/stats\n/system\n`);
    assert.is(b.code, 0, b.stderr);
    assert.match(b.stderr, `loaded 3 messages from ${file}`);
    assert.match(b.stderr, 'system prompt: Stories.');
    const bad = run([stories], `/load ${join(tmp, 'missing.json')}\n`);
    assert.is(bad.code, 0, 'a failed command is reported, the chat goes on');
    assert.match(bad.stderr, '/load: ');
  });
}

test('a model that fails to load: one line, exit 1, a stack trace only with --verbose', () => {
  const notGguf = join(tmp, 'notes.gguf');
  writeFileSync(notGguf, 'these are not the weights you are looking for');
  for (const path of [notGguf, join(tmp, 'missing.gguf')]) {
    const r = run([path], 'hi\n');
    assert.is(r.code, 1, path);
    assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, `run-gguf: cannot load ${path}: `);
    assert.not.match(r.stderr, /\n\s+at /);
  }
  const v = run([notGguf, '--verbose'], 'hi\n');
  assert.is(v.code, 1);
  assert.match(v.stderr, /\n\s+at /);
  const usage = run(['chat']);
  assert.is(usage.code, 2);
  assert.match(usage.stderr, 'Usage: run-gguf [chat] <model.gguf>');
});

test('run-gguf models: GGUF files in the working directory, ~/models and the caches, with header facts', () => {
  const home = join(tmp, 'home');
  const cwd = join(tmp, 'work');
  const hfSnap = join(home, '.cache', 'huggingface', 'hub', 'models--org--tiny', 'snapshots', 'abc123');
  const hfBlobs = join(home, '.cache', 'huggingface', 'hub', 'models--org--tiny', 'blobs');
  for (const d of [join(home, 'models', 'org'), hfSnap, hfBlobs, join(home, '.lmstudio', 'models', 'pub', 'repo'), cwd]) mkdirSync(d, { recursive: true });
  const src = models ? join(models, 'stories260K.gguf') : undefined;
  const put = (dst: string) => (src ? copyFileSync(src, dst) : writeFileSync(dst, 'GGUF'));
  put(join(home, 'models', 'org', 'stories.gguf'));
  put(join(hfBlobs, 'sha256-deadbeef'));
  symlinkSync(join(hfBlobs, 'sha256-deadbeef'), join(hfSnap, 'tiny-F32.gguf'));
  put(join(home, '.lmstudio', 'models', 'pub', 'repo', 'model-00001-of-00002.gguf'));
  put(join(home, '.lmstudio', 'models', 'pub', 'repo', 'model-00002-of-00002.gguf'));
  writeFileSync(join(cwd, 'broken.gguf'), 'nope');
  writeFileSync(join(cwd, 'readme.txt'), 'not a model');
  const r = run(['models'], '', { HOME: home, HF_HOME: '', HF_HUB_CACHE: '', LLAMA_CACHE: '' }, cwd);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0], /#\s+size\s+arch\s+type\s+file/);
  assert.is(lines.length, 5, r.stdout);
  assert.match(r.stdout, /1\s+4 B\s+\?\s+unreadable\s+broken\.gguf/);
  assert.match(r.stdout, join('~', 'models', 'org', 'stories.gguf'));
  assert.match(r.stdout, 'models--org--tiny');
  assert.match(r.stdout, 'model-00001-of-00002.gguf');
  assert.not.match(r.stdout, 'model-00002-of-00002.gguf');
  if (src) assert.match(r.stdout, /1\.1 MB\s+llama\s+\(guessed\) all F32\s+~\/models\/org\/stories\.gguf/);
  const json = JSON.parse(run(['models', '--json'], '', { HOME: home }, cwd).stdout);
  assert.is(json.length, 4);
});

test('terminal helpers: progress line, parameter counts, paths, colors only on terminals', () => {
  const line = ProgressBar.line('loading m.gguf', 512 * 1024 * 1024, 1024 * 1024 * 1024, 2, 100);
  assert.match(line, /^loading m\.gguf \[=+ +\]  50% 512\.0 MB\/1\.00 GB 256\.0 MB\/s$/);
  assert.ok(line.length <= 100);
  // a narrow terminal and a long name: the name gives way, the numbers stay whole
  const narrow = ProgressBar.line(`loading ${'x'.repeat(60)}.gguf`, 16 * 1024 * 1024, 177 * 1024 * 1024, 0.1, 80);
  assert.ok(narrow.length <= 79, `${narrow.length}: ${narrow}`);
  assert.match(narrow, /…\s\[=* *\]   9% 16\.0 MB\/177\.0 MB 160\.0 MB\/s$/);
  assert.is(formatParams(292_800), '292.8K');
  assert.is(formatParams(1_100_048_384), '1.10B');
  assert.is(displayPath('/h/u/models/a.gguf', '/w', '/h/u'), '~/models/a.gguf');
  assert.is(displayPath('/w/sub/a.gguf', '/w', '/h/u'), 'sub/a.gguf');
  assert.is(styles({ isTTY: false }, {}).dim('x'), 'x');
  assert.is(styles({ isTTY: true }, { TERM: 'xterm' }).dim('x'), '\x1b[2mx\x1b[22m');
  assert.is(styles({ isTTY: true }, { NO_COLOR: '1' }).bold('x'), 'x');
});

test.run();
