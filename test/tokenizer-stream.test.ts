// The streaming decoder on real vocabularies: a character split across byte
// tokens comes out whole (never as U+FFFD), and the streamed pieces always
// concatenate to exactly what detokenize() gives for all the ids at once,
// space cleaning and leading-space removal included.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Tokenizer } from '../runtime/tokenizer/index.js';
import { mulberry32 } from './helpers/rng.js';
import { loadTokenizer, randomText, VOCAB_NAMES, vocabDir, vocabPath } from './tokenizer-helpers.js';

const dir = vocabDir();

function stream(tok: Tokenizer, ids: number[], special = false): string[] {
  const dec = tok.createStreamDecoder({ special });
  const chunks = ids.map((id) => dec.push(id));
  chunks.push(dec.flush());
  return chunks;
}

if (!dir) {
  test('stream decoder on real vocabularies (skipped: ../shared/vocab is absent)', () => {});
} else {
  test('llama-spm: an emoji spelled as four <0xNN> byte tokens streams as one whole character', () => {
    const tok = loadTokenizer(vocabPath(dir, 'llama-spm'));
    const ids = tok.tokenize('🦙', { addSpecial: false });
    const bytes = ids.filter((id) => /^<0x[0-9A-F]{2}>$/.test(tok.tokenText(id)));
    assert.is(bytes.length, 4, `expected byte fallback, got ${ids.map((i) => tok.tokenText(i)).join(' ')}`);
    const chunks = stream(tok, ids);
    assert.ok(chunks.every((c) => !c.includes('\ufffd')), JSON.stringify(chunks));
    assert.is(chunks.join(''), '🦙');
    assert.ok(chunks.includes('🦙'), 'the character arrives in one piece');
    // The same ids one by one, decoded without the stream, do show the damage the stream avoids.
    assert.ok(bytes.map((id) => tok.tokenToPiece(id)).join('').includes('\ufffd'));
  });

  test('gpt-2: a character split across byte-level tokens streams whole', () => {
    const tok = loadTokenizer(vocabPath(dir, 'gpt-2'));
    const text = 'I 🦙 ѧ';
    const ids = tok.tokenize(text, { addSpecial: false });
    const partial = ids.filter((id) => tok.tokenToPiece(id).includes('\ufffd'));
    assert.ok(partial.length >= 2, 'the text must contain tokens holding part of a character');
    const chunks = stream(tok, ids);
    assert.ok(chunks.every((c) => !c.includes('\ufffd')), JSON.stringify(chunks));
    assert.is(chunks.join(''), text);
  });

  test('gpt-2: space cleaning (" ," " \'s") is applied across token boundaries while streaming', () => {
    const tok = loadTokenizer(vocabPath(dir, 'gpt-2'));
    const ids = tok.tokenize("Hello , world ' s he 's done . They 're here , aren 't they ?", { addSpecial: false });
    const whole = tok.detokenize(ids);
    assert.is(whole, "Hello, world's he's done. They're here, aren 't they?");
    assert.is(stream(tok, ids).join(''), whole);
  });

  test('llama-spm: the leading space is dropped once, after a BOS rendered as nothing too', () => {
    const tok = loadTokenizer(vocabPath(dir, 'llama-spm'));
    const ids = tok.tokenize('Hello world');
    assert.is(ids[0], tok.bosId);
    // llama.cpp: BOS consumes the "first token" slot, so the space of "▁Hello" stays.
    assert.is(tok.detokenize(ids), ' Hello world');
    assert.is(tok.detokenize(ids.slice(1)), 'Hello world');
    assert.is(tok.detokenize(ids, { removeSpecial: true }), ' Hello world');
    assert.is(tok.detokenize(ids, { special: true }), '<s> Hello world');
    assert.is(stream(tok, ids).join(''), ' Hello world');
    assert.is(stream(tok, ids.slice(1)).join(''), 'Hello world');
  });

  for (const name of VOCAB_NAMES) {
    test(`${name}: streamed text equals detokenize() for 150 random texts`, () => {
      const tok = loadTokenizer(vocabPath(dir, name));
      const rand = mulberry32(0x5eed + name.length);
      let checked = 0;
      for (let i = 0; i < 150; i++) {
        const text = randomText(rand, 20);
        const special = i % 3 === 0;
        const ids = tok.tokenize(text, { addSpecial: i % 2 === 0, special });
        const whole = tok.detokenize(ids, { special });
        const chunks = stream(tok, ids, special);
        assert.is(chunks.join(''), whole, `text ${JSON.stringify(text)}`);
        if (!whole.includes('\ufffd')) {
          assert.ok(chunks.every((c) => !c.includes('\ufffd')), `U+FFFD in a chunk for ${JSON.stringify(text)}`);
        }
        checked++;
      }
      assert.is(checked, 150);
    });
  }
}

test.run();
