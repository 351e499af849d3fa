// The chat CLI without a terminal: piped stdin (one turn per line, replies
// on stdout), -p, /save and /load, load failures, `run-gguf models`, --help
// for every command and flag, and the terminal helpers (progress line,
// colors, control characters made inert).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType } from '../formats/ggml-types.js';
import { fileRange, readGGUF, specFromHeader, writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { formatParams } from '../runtime/commands/chat.js';
import { COMMANDS } from '../runtime/commands/index.js';
import { displayPath } from '../runtime/commands/pick.js';
import { styles } from '../runtime/terminal/colors.js';
import { printable } from '../runtime/terminal/printable.js';
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

test('a generated model with its own template, stdin piped: the replies alone on stdout, the rest on stderr; -p gives the first reply', async () => {
  const gen = join(tmp, 'gen-chat.gguf');
  await writeGGUF(gen, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q8_0, {
    seed: 3, extraKV: [{ key: 'tokenizer.chat_template', value: MISTRAL_7B_INSTRUCT_V02 }],
  }));
  const args = [gen, '--seed', '1', '-n', '12', '--ignore-eos'];
  const r = run(args, 'Hello\n\n/stats\nHow are you\n');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /gen-chat\.gguf · llama · [\d.]+M params · Q8_0 · context 512 · \d+ threads?\n/);
  assert.match(r.stderr, "chat template: the model's template (Jinja)");
  const stats = r.stderr.split('\n').filter((l) => / tokens\/s · prompt /.test(l));
  assert.is(stats.length, 2, r.stderr);
  const [, fresh1, used1] = /^12 tokens · .* prompt (\d+) new \+ 0 cached.* · context (\d+)\/512 · -n reached$/.exec(stats[0]) ?? [];
  assert.ok(used1, stats[0]);
  assert.is(Number(used1), Number(fresh1) + 11, 'the prompt and the reply but its last token');
  assert.match(r.stderr, `context: ${used1}/512 tokens · 2 messages`, '/stats after one reply');
  assert.match(stats[1], ` + ${used1} cached`, 'turn 2 reuses all of turn 1');
  assert.not.match(r.stdout, /tokens\/s|gen-chat|template/, 'nothing but replies on stdout');
  const once = run([...args, '-p', 'Hello']);
  assert.is(once.code, 0, once.stderr);
  assert.ok(once.stdout.length > 1 && r.stdout.startsWith(once.stdout), `the first reply is -p's:\n${once.stdout}\n${r.stdout}`);
});

if (!models) test('stories260K chats', () => console.log('  skip: ../shared/models is absent, the stories260K chat CLI tests do not run'));
else {
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

test('a model that fails to load: one line, exit 1, a stack trace only with --verbose', async () => {
  const notGguf = join(tmp, 'notes.gguf');
  writeFileSync(notGguf, 'these are not the weights you are looking for');
  // an architecture nobody implements: the same file with its keys renamed
  const alien = llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.F32, { seed: 1 });
  alien.kv = alien.kv.map((e) => (e.key === 'general.architecture' ? { ...e, value: 'frobnicator' } : { ...e, key: e.key.replace(/^llama\./, 'frobnicator.') }));
  const alienPath = join(tmp, 'alien.gguf');
  await writeGGUF(alienPath, alien);
  // a download cut short
  const cut = join(tmp, 'cut.gguf');
  await writeGGUF(cut, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.F32, { seed: 1 }));
  truncateSync(cut, statSync(cut).size - 4096);
  const cases: Array<[string[], RegExp | string]> = [
    [[notGguf], 'not a GGUF'],
    [[join(tmp, 'missing.gguf')], 'no such file'],
    [[alienPath], 'architecture "frobnicator" is not supported'],
    [[cut], 'lies outside the file'],
  ];
  // too big: a KV cache past the machine's memory (512 GB)
  const tiny = join(tmp, 'tiny.gguf');
  await writeGGUF(tiny, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q8_0, { seed: 1 }));
  cases.push([[tiny, '-c', '500000000'], /model needs \d+ MiB .* but this machine has \d+ MiB of memory; try a smaller context/]);
  for (const [args, why] of cases) {
    const r = run(args, 'hi\n');
    assert.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, `run-gguf: cannot load ${args[0]}: `);
    assert.match(r.stderr, why);
    assert.not.match(r.stderr, /\n\s+at /);
    assert.is(r.stdout, '');
  }
  const v = run([notGguf, '--verbose'], 'hi\n');
  assert.is(v.code, 1);
  assert.match(v.stderr, /\n\s+at /);
  const usage = run(['chat']);
  assert.is(usage.code, 2);
  assert.match(usage.stderr, 'Usage: run-gguf [chat] <model.gguf>');
});

test('--help: the bin lists every command; each command documents every flag it parses', () => {
  const top = run(['--help']);
  assert.is(top.code, 0);
  for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`\\n {2}${c.name} +${c.summary.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), c.name);
  assert.match(top.stdout, 'run-gguf <model.gguf>');
  for (const c of COMMANDS) {
    // the flags a command accepts are the options of its parseArgs call, in its source file
    const file = /import\(['"]\.\/([\w-]+)\.js['"]\)/.exec(c.run.toString())?.[1];
    assert.ok(file, `${c.name}: its module`);
    const src = readFileSync(join(REPO_ROOT, 'runtime', 'commands', `${file}.ts`), 'utf8');
    const flags = [...src.matchAll(/(?:^|[{,])\s*'?([a-z][\w-]*)'?: \{ type: '(?:string|boolean)'(?:, short: '(\w)')?/gm)];
    assert.ok(flags.some((f) => f[1] === 'help'), `${c.name}: parses --help`);
    const r = run([c.name, '--help']);
    assert.is(r.code, 0, `${c.name} --help: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: run-gguf /, c.name);
    for (const [, long, short] of flags) {
      assert.match(r.stdout, new RegExp(`(^|[\\s,\\[])--${long}\\b`, 'm'), `${c.name} --help documents --${long}`);
      if (short) assert.match(r.stdout, new RegExp(`(^|[\\s,\\[])-${short}\\b`, 'm'), `${c.name} --help documents -${short}`);
    }
    console.log(`  ${c.name} --help: ${flags.length} flags, all documented`);
  }
  // the chat's help also names its in-chat commands' keys
  assert.match(run(['chat', '--help']).stdout, 'Ctrl+C on an\nempty line or Ctrl+D exits');
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
  const j = run(['models', '--json'], '', { HOME: home, HF_HOME: '', HF_HUB_CACHE: '', LLAMA_CACHE: '' }, cwd);
  assert.is(j.code, 0, j.stderr);
  const json = JSON.parse(j.stdout);
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
  // a reply's ESC P would open a device-control string that swallows the rest of the session
  assert.is(printable('a\x1bPq\r\x07\x7f\u009b1m\tb\n'), 'a\u241bPq\u240d\u2407\u2421\ufffd1m\tb\n');
  assert.is(printable('plain, ünïcödé ✓ 😀'), 'plain, ünïcödé ✓ 😀');
});

test.run();
