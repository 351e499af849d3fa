// The interactive chat as a user sees it: the real CLI in a pseudo-terminal
// (tmux), driven with send-keys and read back with capture-pane. Sessions of
// one test run side by side.
//
// With stories260K (../shared): three turns, each after the first evaluating
// only its new tokens; /reset, after which the same message gets the same
// reply from an empty cache; Ctrl+C clears a typed line; Ctrl+D exits.
// With a random-weight llama written to a temp dir (runs anywhere), Mistral's
// published chat template in its metadata: three turns through that template
// with the same prefix reuse, then /reset; Ctrl+C in the middle of a long
// reply, then a turn that completes, then Ctrl+C on the empty prompt exits; a
// small context (-c 128) that overflows and keeps going; piped stdin; bare
// `run-gguf`, which lists the models in a temporary HOME and working
// directory and chats with the one picked by number.
// After each exit the shell checks the exit code and that the terminal is
// back in canonical mode with echo. Skips, saying why, without tmux.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { MISTRAL_7B_INSTRUCT_V02 } from './helpers/chat-templates.js';
import { sharedDir } from './helpers/shared.js';
import { atPrompt, exited, noTmuxReason, replyLines, RESTORED, Tty, type ReplyLine } from './helpers/tty.js';

const why = noTmuxReason();
const tty = why ? undefined : new Tty();
if (tty) test.after(() => tty.close());

/**
 * Turn k > 1 evaluated only its new tokens: everything the cache held after
 * turn k-1 was reused, what was evaluated is less than that, and the context
 * holds exactly reused + evaluated + the reply (whose last token waits
 * unevaluated when -n ends it).
 */
function assertPrefixReuse(stats: ReplyLine[], label: string): void {
  for (const s of stats) console.log(`  ${label}: ${s.line}`);
  assert.is(stats[0].cached, 0, `${label}: turn 1 starts from an empty cache: ${stats[0].line}`);
  for (const [k, s] of stats.entries()) {
    const pending = s.stop === '-n reached' ? 1 : 0;
    assert.is(s.used, s.cached + s.fresh + s.generated - pending, `${label} turn ${k + 1}: context = reused + evaluated + reply: ${s.line}`);
    if (k === 0) continue;
    assert.is(s.cached, stats[k - 1].used, `${label} turn ${k + 1} reused all ${stats[k - 1].used} cached tokens: ${s.line}`);
    assert.ok(s.fresh > 0 && s.fresh < s.cached, `${label} turn ${k + 1}: only the new tokens evaluated: ${s.line}`);
  }
}

/** The text between the "> line" echo of a message and the stats line of its reply. */
function replyText(screen: string, message: string, nth = 1): string {
  const lines = (screen.split(`> ${message}\n`)[nth] ?? '').split('\n');
  const end = lines.findIndex((l) => /^\d+ tokens · /.test(l));
  return (end < 0 ? lines : lines.slice(0, end)).join('\n');
}

if (!tty) {
  test('interactive chat in a terminal (tmux)', () => {
    console.log(`  skip: ${why}`);
  });
} else {
  const models = sharedDir('models');
  if (!models) test('stories260K in a terminal', () => console.log('  skip: ../shared/models is absent, the stories260K terminal chat does not run'));
  else {
    test('stories260K: three turns reuse the cache, /reset empties it (same message, same reply), Ctrl+C clears a typed line, Ctrl+D exits', async () => {
      tty.start('s', [join(models, 'stories260K.gguf'), '--temp', '0', '-n', '24']);
      try {
        let s = await tty.waitFor('s', atPrompt);
        assert.match(s, /stories260K\.gguf · llama · 292\.8K params/);
        const turns = ['Once upon a time', 'The dog', 'The cat'];
        for (const [i, t] of turns.entries()) {
          tty.type('s', t);
          s = (await tty.replies('s', i + 1)).screen;
        }
        assert.match(s, /> Once upon a time\n, there was/);
        const { stats } = await tty.replies('s', 3);
        for (const t of turns) assert.ok(replyText(s, t).trim().length > 0, `a reply to "${t}"`);
        assertPrefixReuse(stats, 'stories260K');

        tty.type('s', '/reset');
        await tty.waitFor('s', /conversation cleared\n> ?$/);
        tty.type('s', 'Once upon a time');
        const after = await tty.replies('s', 4);
        const again = after.stats[3];
        assert.is(again.cached, 0, `nothing cached after /reset: ${again.line}`);
        assert.is(again.fresh, stats[0].fresh, 'the whole prompt evaluated again');
        assert.is(again.used, stats[0].used);
        assert.is(replyText(after.screen, 'Once upon a time', 2), replyText(after.screen, 'Once upon a time', 1), 'greedy: the same reply as the first time');

        tty.text('s', 'typed but not sent');
        await tty.waitFor('s', /> typed but not sent$/);
        tty.send('s', 'C-c');
        await tty.waitFor('s', (x) => atPrompt(x) && !x.endsWith('typed but not sent'));
        tty.send('s', 'C-d');
        s = await tty.waitFor('s', exited);
        assert.match(s, RESTORED);
        assert.is(replyLines(s).length, 4, 'the typed line was dropped, not sent');
      } finally {
        tty.kill('s');
      }
    });
  }

  test('a generated model: three turns (its own template), Ctrl+C mid-reply then a turn, -c 128 overflow, piped stdin, the picker', async () => {
    // test-tiny's sizes with a 4096-token context and a chat template that writes the
    // vocabulary's own <s> and </s>
    const dir = join(tty.tmp, 'gen');
    const home = join(tty.tmp, 'home');
    const work = join(tty.tmp, 'work');
    for (const d of [dir, join(home, 'models', 'org'), work]) mkdirSync(d, { recursive: true });
    const gen = join(dir, 'gen.gguf');
    await writeGGUF(gen, llamaModelSpec({ ...LLAMA_SHAPES['test-tiny']!, n_ctx_train: 4096 }, GGMLType.Q8_0, {
      seed: 3, extraKV: [{ key: 'tokenizer.chat_template', value: MISTRAL_7B_INSTRUCT_V02 }],
    }));
    // the picker's folders: the working directory first, then ~/models
    await writeGGUF(join(work, 'local.gguf'), llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.F32, { seed: 4 }));
    await writeGGUF(join(home, 'models', 'org', 'tiny.gguf'), llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q8_0, { seed: 5 }));

    try {
      // random weights sample the template's </s> early and often: --ignore-eos keeps replies whole
      tty.start('g', [gen, '--seed', '1', '-n', '24', '--ignore-eos']);
      // and this reply must still be going when Ctrl+C comes
      tty.start('k', [gen, '--temp', '0', '--ignore-eos', '-n', '2000']);
      tty.start('o', [gen, '-c', '128', '-n', '40', '--seed', '2', '--ignore-eos']);
      tty.start('p', [gen, '--seed', '1', '-n', '8', '--ignore-eos'], { stdin: ['Hello', 'How are you', '/stats'] });
      tty.start('c', [], { cwd: work, home });

      const threeTurns = async () => {
        let s = await tty.waitFor('g', atPrompt);
        assert.match(s, /gen\.gguf · llama · .* · Q8_0 · context 4096 · /);
        assert.match(s, "chat template: the model's template (Jinja)");
        const turns = ['Hello there', 'How are you', 'Tell me more'];
        for (const [i, t] of turns.entries()) {
          tty.type('g', t);
          s = (await tty.replies('g', i + 1)).screen;
        }
        const { stats } = await tty.replies('g', 3);
        for (const t of turns) assert.ok(replyText(s, t).length > 0, `a reply to "${t}"`);
        for (const st of stats) assert.is(st.generated, 24, st.line);
        assertPrefixReuse(stats, 'generated');
        // /reset: an empty cache, and (the sampler seeded again) the first reply again
        tty.type('g', '/reset');
        await tty.waitFor('g', /conversation cleared\n> ?$/);
        tty.type('g', 'Hello there');
        const after = await tty.replies('g', 4);
        const again = after.stats[3];
        assert.is(again.cached, 0, `nothing cached after /reset: ${again.line}`);
        assert.is(again.fresh, stats[0].fresh, `the whole prompt evaluated again: ${again.line}`);
        assert.is(again.used, stats[0].used);
        assert.is(replyText(after.screen, 'Hello there', 2), replyText(after.screen, 'Hello there', 1), 'seed 1 again: the same reply');
        tty.type('g', '/exit');
        s = await tty.waitFor('g', exited);
        assert.match(s, RESTORED);
      };

      const interrupt = async () => {
        await tty.waitFor('k', atPrompt);
        tty.type('k', 'Tell me a long story');
        // as soon as the reply shows: a fast machine streams this tiny model's 2000 tokens in about a second
        await tty.waitFor('k', (s) => replyText(s, 'Tell me a long story').length > 8);
        tty.send('k', 'C-c');
        let { stats } = await tty.replies('k', 1);
        assert.is(stats[0].stop, 'stopped', stats[0].line);
        assert.ok(stats[0].generated > 0 && stats[0].generated < 2000, `stopped in mid-reply: ${stats[0].line}`);
        tty.type('k', 'Go on');
        ({ stats } = await tty.replies('k', 2, 60_000));
        assert.is(stats[1].stop, '-n reached', `the next turn completes: ${stats[1].line}`);
        assert.is(stats[1].generated, 2000, stats[1].line);
        assert.is(stats[1].cached, stats[0].used, `the stopped reply stays in the cache: ${stats[1].line}`);
        for (const st of stats) console.log(`  Ctrl+C, then a turn: ${st.line}`);
        tty.send('k', 'C-c');
        const s = await tty.waitFor('k', exited);
        assert.match(s, RESTORED);
      };

      const overflow = async () => {
        await tty.waitFor('o', atPrompt);
        const turns = ['Hello', 'How are you', 'Tell me more', 'And then', 'The end'];
        let s = '';
        for (const [i, t] of turns.entries()) {
          tty.type('o', t);
          s = (await tty.replies('o', i + 1)).screen;
        }
        const stats = replyLines(s);
        assert.match(s, /\[context full: dropped the \d+ oldest messages?\]/);
        const shifted = s.split('\n').findIndex((l) => l.startsWith('[context full: dropped'));
        assert.ok(s.split('\n').slice(shifted).some((l) => /^\d+ tokens · /.test(l) && !l.endsWith('· context full')), 'a later turn replies');
        for (const st of stats) {
          assert.is(st.size, 128, st.line);
          assert.ok(st.used <= 128, st.line);
        }
        assert.ok(stats.at(-1)!.generated > 0, stats.at(-1)!.line);
        for (const l of s.split('\n').filter((x) => x.startsWith('[context full') || replyLines(x).length)) console.log(`  -c 128: ${l}`);
        tty.type('o', '/stats');
        s = await tty.waitFor('o', (x) => /messages dropped by context shifts\n.*· seed 2\n> ?$/.test(x));
        assert.ok(Number(/(\d+) messages dropped by context shifts/.exec(s)![1]) > 0);
        tty.send('o', 'C-d');
        s = await tty.waitFor('o', exited);
        assert.match(s, RESTORED);
      };

      const piped = async () => {
        const s = await tty.waitFor('p', exited);
        assert.match(s, RESTORED);
        assert.not.match(s, /^> ?Hello/m, 'no prompt, no echo without a terminal on stdin');
        const stats = replyLines(s);
        assert.is(stats.length, 2, s);
        assertPrefixReuse(stats, 'piped');
        assert.match(s, /replies: 2 · generated 16 tokens/);
      };

      const picker = async () => {
        let s = await tty.waitFor('c', /Model number \[1-2\], Enter for 1, q to quit: ?$/);
        assert.match(s, /#\s+size\s+arch\s+type\s+file\n1\s+\S+ \S+\s+llama\s+all F32\s+local\.gguf\n2\s+\S+ \S+\s+llama\s+Q8_0\s+~\/models\/org\/tiny\.gguf/);
        tty.type('c', '3');
        await tty.waitFor('c', /pick a number from 1 to 2\n.*Model number \[1-2\]/);
        tty.type('c', '2');
        s = await tty.waitFor('c', (x) => x.includes('tiny.gguf · llama') && atPrompt(x));
        assert.match(s, 'context 512');
        tty.type('c', 'Hello');
        await tty.replies('c', 1);
        tty.send('c', 'C-d');
        s = await tty.waitFor('c', exited);
        assert.match(s, RESTORED);
      };

      // every session to its end, then the first failure
      const failed = (await Promise.allSettled([threeTurns(), interrupt(), overflow(), piped(), picker()]))
        .find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      for (const name of ['g', 'k', 'o', 'p', 'c']) tty.kill(name);
    }
  });
}

test.run();
