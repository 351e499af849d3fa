// Every BPE pre-tokenizer we implement, checked against llama.cpp: the
// deepseek-coder vocab is rewritten with each `tokenizer.ggml.pre` name (one
// name per distinct pattern list) and both tokenizers must give identical ids
// on seeded random texts. Only the word splitting changes between runs, so
// this isolates the pre-tokenizers (including the ones with no vocab file of
// their own here: llama3, qwen2, deepseek-llm, falcon, tekken, gpt-4o, ...).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Llama } from 'node-llama-cpp';
import { Tokenizer } from '../runtime/tokenizer/index.js';
import { mulberry32 } from './helpers/rng.js';
import { oracle } from './helpers/oracle.js';
import { loadOracleVocab, randomText, readMetadata, vocabDir, vocabPath } from './tokenizer-helpers.js';

const TEXTS_PER_PRE = 120;
// One name for each pattern list in runtime/tokenizer/pre-tokenizers.ts.
const PRE_NAMES = ['default', 'gpt-2', 'llama-bpe', 'jais-2', 'deepseek-llm', 'deepseek-v3', 'youtu', 'deepseek-coder',
  'falcon', 'starcoder', 'qwen2', 'qwen35', 'bloom', 'viking', 'tekken', 'chameleon', 'gpt-4o', 'granite-embed-multi-97m',
  'bailingmoe', 'seed-coder', 'laguna', 'exaone-moe', 'minicpm5', 'sarvam-moe', 'command-r', 'chatglm-bpe',
  // the names deepseek2 (GLM-4.7-Flash), glm4moe and llama4 files carry, aliases of the above here
  'glm4', 'llama4'];

const dir = vocabDir();
let llama: Llama | null = null;
let problem = dir ? '' : '../shared/vocab is absent';
if (dir) {
  try {
    llama = await oracle();
  } catch (e) {
    problem = `node-llama-cpp could not start (${(e as Error).message})`;
  }
}

if (!dir || !llama) {
  test(`pre-tokenizers vs node-llama-cpp (skipped: ${problem})`, () => {});
} else {
  const base = vocabPath(dir, 'deepseek-coder');
  const meta = readMetadata(base);
  for (const pre of PRE_NAMES) {
    test(`pre-tokenizer '${pre}': same ids as llama.cpp`, async () => {
      const tok = Tokenizer.fromMetadata((k) => (k === 'tokenizer.ggml.pre' ? pre : meta.get(k)), { warn: () => {} });
      const model = await loadOracleVocab(llama!, base, { 'tokenizer.ggml.pre': pre });
      try {
        assert.is(tok.addBos && tok.bosId !== undefined, model.tokens.shouldPrependBosToken, 'add_bos');
        assert.is(tok.bosId ?? null, model.tokens.bos, 'bos');
        const rand = mulberry32(0xb0e + pre.length);
        const failures: string[] = [];
        for (let i = 0; i < TEXTS_PER_PRE; i++) {
          const text = randomText(rand, 16);
          const special = i % 4 === 0;
          const expected = Array.from(model.tokenize(text, special));
          const got = tok.tokenize(text, { addSpecial: false, special });
          if (got.join(' ') !== expected.join(' ')) {
            failures.push(`${JSON.stringify(text)}\n    llama.cpp ${expected.join(' ')}\n    ours      ${got.join(' ')}`);
          } else if (i % 8 === 1) {
            const want = model.detokenize(expected, false);
            const have = tok.detokenize(expected);
            if (want !== have) failures.push(`text of ${JSON.stringify(text)}: llama.cpp ${JSON.stringify(want)}, ours ${JSON.stringify(have)}`);
          }
        }
        console.log(`  ${pre}: ${TEXTS_PER_PRE - failures.length}/${TEXTS_PER_PRE} identical`);
        assert.is(failures.length, 0, `${failures.length} differences:\n  ${failures.slice(0, 4).join('\n  ')}`);
      } finally {
        await model.dispose();
      }
    });
  }
}

test.run();
