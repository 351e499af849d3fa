// Unigram ("t5", llama.cpp's UGM) tokenization against node-llama-cpp on the
// same synthetic vocab-only files (formats/synthetic/vocab-ugm.ts): a T5-style
// vocabulary with a precompiled charsmap (full-width letters, ligatures, odd
// spaces, a two-character key, a key hidden by a user-defined token), the same
// without a charsmap, with whitespace kept as it is (no dummy prefix, no
// merging), and XLM-R's layout (BOS <s> and EOS </s> added). Ids must be
// identical over hand-picked and seeded random texts, with and without special
// parsing (add_special is not reachable through node-llama-cpp: only its
// BOS/EOS flags are compared); the text back from ids too (whole and
// streamed), the special ids, the newline token and every token's attributes.
// Broken variants must miss: ignoring the charsmap, and greedy longest-match
// segmentation instead of the best-scoring one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Llama, LlamaModel, Token } from 'node-llama-cpp';
import { writeGGUF, type GGUFKVInput } from '../formats/gguf/index.js';
import { ugmVocabKV, type UgmVocabOptions } from '../formats/synthetic/vocab-ugm.js';
import { Tokenizer, TokenizerError } from '../runtime/tokenizer/index.js';
import { UgmTokenizer, Charsmap } from '../runtime/tokenizer/ugm.js';
import { TokenAttr } from '../runtime/tokenizer/vocab.js';
import { mulberry32 } from './helpers/rng.js';
import { oracle } from './helpers/oracle.js';
import { randomText } from './tokenizer-helpers.js';

const RANDOM_TEXTS = 150;
const dir = mkdtempSync(join(tmpdir(), 'run-gguf-ugm-'));

// What llama.cpp reads for a t5 file even when it only wants the vocabulary.
const T5_HPARAMS: GGUFKVInput[] = [
  ['t5.context_length', 512], ['t5.embedding_length', 8], ['t5.block_count', 1], ['t5.feed_forward_length', 16],
  ['t5.attention.head_count', 1], ['t5.attention.key_length', 8], ['t5.attention.value_length', 8],
  ['t5.attention.layer_norm_rms_epsilon', 1e-6], ['t5.attention.relative_buckets_count', 32], ['t5.decoder_start_token_id', 0],
].map(([key, value]) => ({ key: key as string, value: value as number }));

const FULLWIDTH = 'ＨＥＬＬＯ ｗｏｒｌｄ';
const TEXTS = [
  '', ' ', '   ', 'hello world', ' hello', '  hello   world  ', 'hello\nworld', '\n\nhello\n', 'a\tb\t\tc', 'x \n y',
  'The quick brown fox jumps over the lazy dog.', 'HELLO World', "don't stop", 'token tokenizer tokenizing',
  FULLWIDTH, 'Ａ ｂ Ｃ', 'ﬁne ﬂow ﬁ', 'café cafe\u0301 e\u0301', 'e\u0301\u0301', 'a\u3000b\u00a0c\u200bd', '\u200b', '\u200b \u200b',
  '①②③', '<x> <x <<a <<x>>', '<x><x>', '</s> <pad> <unk> <s>', '日本語 русский 🚀', '\u{1F600}x\u{1F600}', 'zzzz qqqq', '...!!??',
  '12345 6.7', 'a  \u3000  b', '\t\tlead', 'trail\t\t',
];

interface Variant { name: string; options: UgmVocabOptions }
const VARIANTS: Variant[] = [
  { name: 't5 + charsmap', options: {} },
  { name: 't5, no charsmap', options: { charsmap: null, seed: 2 } },
  { name: 't5, spaces kept (no dummy prefix, no merging)', options: { addSpacePrefix: false, removeExtraWhitespaces: false, seed: 3 } },
  { name: 't5, dummy prefix, no merging', options: { removeExtraWhitespaces: false, seed: 4 } },
  { name: 'xlm-r layout (<s> ... </s>)', options: { layout: 'xlmr', seed: 5 } },
];

let llama: Llama | null = null;
let problem = '';
try {
  llama = await oracle();
} catch (e) {
  problem = `node-llama-cpp could not start (${(e as Error).message})`;
}

async function build(v: Variant): Promise<{ kv: GGUFKVInput[]; tok: Tokenizer; model: LlamaModel }> {
  const kv = [{ key: 'general.architecture', value: 't5' }, ...T5_HPARAMS, ...ugmVocabKV(v.options)];
  const path = join(dir, v.name.replace(/[^a-z0-9]+/gi, '_') + '.gguf');
  await writeGGUF(path, { kv, tensors: [] });
  const meta = new Map(kv.map((e) => [e.key, e.value as unknown]));
  const tok = Tokenizer.fromMetadata(meta, { warn: () => {} });
  // Quiet: node-llama-cpp first tries a full load to size memory, and logs the missing tensors as errors.
  const { LlamaLogLevel } = await import('node-llama-cpp');
  const level = llama!.logLevel;
  llama!.logLevel = LlamaLogLevel.disabled;
  try {
    const model = await llama!.loadModel({ modelPath: path, vocabOnly: true });
    return { kv, tok, model };
  } finally {
    llama!.logLevel = level;
  }
}

const short = (s: string) => JSON.stringify(s.length > 100 ? s.slice(0, 100) + '…' : s);

/** Greedy longest match over the normalized text: the broken segmentation. */
function greedy(tok: Tokenizer, text: string): number[] {
  const v = tok.vocab;
  const s = new TextDecoder().decode(new UgmTokenizer(v).normalize(text));
  const out: number[] = [];
  for (let at = 0; at < s.length;) {
    let len = Math.min(s.length - at, v.maxTokenLength);
    for (; len > 0; len--) {
      const id = v.tokenToId.get(s.slice(at, at + len));
      if (id !== undefined && v.attrs[id] & (TokenAttr.Normal | TokenAttr.UserDefined)) break;
    }
    if (len === 0) {
      if (out[out.length - 1] !== v.special.unk) out.push(v.special.unk);
      len = s.codePointAt(at)! > 0xffff ? 2 : 1;
    } else {
      out.push(v.tokenToId.get(s.slice(at, at + len))!);
    }
    at += len;
  }
  return out;
}

if (!llama) {
  test(`UGM tokenizer vs node-llama-cpp (skipped: ${problem})`, () => {});
} else {
  for (const v of VARIANTS) {
    test(`${v.name}: same ids and text as llama.cpp`, async () => {
      const { kv, tok, model } = await build(v);
      try {
        const t = model.tokens;
        // node-llama-cpp reports add_bos/add_eos only when a BOS exists, and
        // hides a newline token that is the unknown token (no dummy prefix: "\n" alone is <unk>).
        const hasBos = tok.bosId !== undefined;
        const nl = tok.nlId !== undefined && !(tok.tokenAttr(tok.nlId) & TokenAttr.Unknown) ? tok.nlId : null;
        assert.equal(
          { bos: tok.bosId ?? null, eos: tok.eosId ?? null, nl, addBos: tok.addBos && hasBos, addEos: tok.addEos && hasBos },
          { bos: t.bos, eos: t.eos, nl: t.nl, addBos: t.shouldPrependBosToken, addEos: t.shouldAppendEosToken },
          'special ids and flags',
        );
        let attrDiffs = 0;
        for (let id = 0; id < tok.vocabSize; id++) {
          const a = model.getTokenAttributes(id as Token);
          const flags = [a.unknown, a.unused, a.normal, a.control, a.userDefined, a.byte, a.normalized, a.lstrip, a.rstrip, a.singleWord];
          if (flags.reduce((bits, on, i) => (on ? bits | (1 << i) : bits), 0) !== tok.tokenAttr(id)) attrDiffs++;
          if (tok.isEog(id) !== model.isEogToken(id as Token)) attrDiffs++;
        }
        assert.is(attrDiffs, 0, 'tokens whose attributes or end-of-generation flag differ');
        const rand = mulberry32(0x0960 + v.name.length);
        const texts = [...TEXTS, ...Array.from({ length: RANDOM_TEXTS }, () => randomText(rand))];
        const failures: string[] = [];
        let unknowns = 0;
        for (const text of texts) {
          for (const special of [false, true]) {
            const want = Array.from(model.tokenize(text, special));
            const got = tok.tokenize(text, { addSpecial: false, special });
            if (want.join(' ') !== got.join(' ')) {
              failures.push(`ids (special=${special}) of ${short(text)}\n    llama.cpp ${want.join(' ')}\n    ours      ${got.join(' ')}`);
            }
            if (want.includes(tok.unkId! as Token)) unknowns++;
            // streaming gives the same text as a whole detokenize
            const stream = tok.createStreamDecoder();
            const streamed = want.map((id) => stream.push(id)).join('') + stream.flush();
            if (streamed !== tok.detokenize(want)) failures.push(`stream of ${short(text)}: ${short(streamed)}`);
            for (const render of [false, true]) {
              const a = model.detokenize(want as Token[], render);
              const b = tok.detokenize(want, { special: render });
              if (a !== b) failures.push(`text (special=${render}) of ${short(text)}\n    llama.cpp ${short(a)}\n    ours      ${short(b)}`);
            }
          }
        }
        // add_special: node-llama-cpp adds BOS itself when the model asks, llama.cpp's tokenizer adds EOS.
        const withSpecial = tok.tokenize('hello world');
        const plain = tok.tokenize('hello world', { addSpecial: false });
        assert.equal(withSpecial, [...(tok.addBos ? [tok.bosId!] : []), ...plain, ...(tok.addEos ? [tok.eosId!] : [])]);
        for (let i = 0; i < 100; i++) {
          const ids = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * tok.vocabSize));
          const render = rand() < 0.5;
          const a = model.detokenize(ids as Token[], render);
          const b = tok.detokenize(ids, { special: render });
          if (a !== b) failures.push(`text (special=${render}) of ids ${ids.join(' ')}\n    llama.cpp ${short(a)}\n    ours      ${short(b)}`);
        }
        assert.is(failures.length, 0, `${failures.length} differences:\n  ${failures.slice(0, 6).join('\n  ')}`);
        assert.ok(unknowns > 0, 'no text reached the unknown token');

        if (v.name === 't5 + charsmap') {
          // Broken: the same vocabulary without its charsmap.
          const meta = new Map(kv.map((e) => [e.key, e.value as unknown]));
          meta.delete('tokenizer.ggml.precompiled_charsmap');
          const bare = Tokenizer.fromMetadata(meta, { warn: () => {} });
          const missed = TEXTS.filter((s) => bare.tokenize(s, { addSpecial: false }).join() !== Array.from(model.tokenize(s)).join());
          assert.ok(missed.includes(FULLWIDTH) && missed.length >= 4, `no charsmap: only ${missed.length} texts differ`);
          // Broken: greedy longest match instead of the best-scoring segmentation.
          const greedyMissed = texts.filter((s) => greedy(tok, s).join() !== Array.from(model.tokenize(s)).join());
          assert.ok(greedyMissed.length >= 10, `greedy: only ${greedyMissed.length} texts differ`);
          console.log(`  broken variants differ from llama.cpp on: no charsmap ${missed.length}/${TEXTS.length}, greedy ${greedyMissed.length}/${texts.length} texts`);
        }
      } finally {
        await model.dispose();
      }
    });
  }
}

test('bad precompiled_charsmap blobs give TokenizerErrors', () => {
  const kv = ugmVocabKV();
  const meta = new Map(kv.map((e) => [e.key, e.value as unknown]));
  const blob = meta.get('tokenizer.ggml.precompiled_charsmap') as Uint8Array;
  const tokenize = (b: unknown) => Tokenizer.fromMetadata(new Map([...meta, ['tokenizer.ggml.precompiled_charsmap', b]]), { warn: () => {} })
    .tokenize('ＨＥＬＬＯ');
  assert.throws(() => tokenize(Uint8Array.of(1, 2)), (e: unknown) => e instanceof TokenizerError && /4-byte length header/.test((e as Error).message));
  const tooBig = blob.slice();
  new DataView(tooBig.buffer).setUint32(0, blob.length, true);
  assert.throws(() => tokenize(tooBig), (e: unknown) => e instanceof TokenizerError && /double array/.test((e as Error).message));
  assert.throws(() => tokenize(['x']), (e: unknown) => e instanceof TokenizerError && /uint8 or int8/.test((e as Error).message));
  // A double array cut short: the walk runs off its end.
  const units = new DataView(blob.buffer, blob.byteOffset).getUint32(0, true);
  const cut = blob.slice();
  new DataView(cut.buffer).setUint32(0, 8, true); // two units, then the rest read as strings
  assert.throws(() => tokenize(cut), (e: unknown) => e instanceof TokenizerError);
  // Replacement strings without their final NUL.
  const unterminated = blob.slice(0, blob.length - 1);
  assert.ok(units > 0);
  assert.throws(() => new Charsmap(unterminated).longestMatch(new TextEncoder().encode('<<'), 0),
    (e: unknown) => e instanceof TokenizerError && /NUL/.test((e as Error).message));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
