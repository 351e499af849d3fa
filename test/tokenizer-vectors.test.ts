// llama.cpp's own tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out):
// every input must encode to exactly the expected ids, with no BOS/EOS added.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tokenizer } from '../runtime/tokenizer/index.js';
import { loadTokenizer, readMetadata, readVectors, VOCAB_NAMES, vocabDir, vocabPath } from './tokenizer-helpers.js';

const dir = vocabDir();

if (!dir) {
  test('llama.cpp test vectors (skipped: ../shared/vocab is absent)', () => {});
} else {
  for (const name of VOCAB_NAMES) {
    const path = vocabPath(dir, name);
    const vectors = readVectors(path);
    if (!vectors) continue;
    test(`${name}: every llama.cpp test vector`, () => {
      const tok = loadTokenizer(path);
      const failures: string[] = [];
      for (const [input, expected] of vectors) {
        const got = tok.tokenize(input, { addSpecial: false });
        if (got.join(' ') !== expected.join(' ')) {
          failures.push(`${JSON.stringify(input)}\n    expected ${expected.join(' ')}\n    got      ${got.join(' ')}`);
        }
      }
      console.log(`  ${name}: ${vectors.length - failures.length}/${vectors.length} vectors`);
      assert.is(failures.length, 0, `${failures.length} mismatches:\n  ${failures.slice(0, 5).join('\n  ')}`);
    });
  }

  test('gpt-neox (no vectors, no tokenizer.ggml.pre): loads with a warning and tokenizes', () => {
    const warnings: string[] = [];
    const tok = Tokenizer.fromMetadata(readMetadata(vocabPath(dir, 'gpt-neox')), { warn: (w) => warnings.push(w) });
    assert.ok(warnings.some((w) => w.includes('tokenizer.ggml.pre is missing')), warnings.join('\n'));
    const ids = tok.tokenize('Hello world, 3 spaces:   done', { addSpecial: false });
    assert.ok(ids.length >= 6);
    assert.is(tok.detokenize(ids), 'Hello world, 3 spaces:   done');
  });
}

test.run();
