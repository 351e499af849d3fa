// Model names and the quant choice: the forms llama.cpp's -hf and
// node-llama-cpp's hf: URIs take, and llama.cpp's rules for which files of a
// repository a name means (common/download.cpp: find_best_model,
// get_split_files, gguf_filename_is_model), on listings shaped like real repos.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DownloadError } from '../runtime/errors.js';
import { hubEnv } from '../runtime/hub/env.js';
import { looksLikeModelName, parseModelName } from '../runtime/hub/names.js';
import { selectFiles, type RepoFile } from '../runtime/hub/select.js';

test('names: hf:user/repo[:QUANT], hf:user/repo/file.gguf, user/repo:QUANT, URLs; paths stay paths', () => {
  assert.equal(parseModelName('hf:bartowski/Qwen2.5-0.5B-Instruct-GGUF'), { kind: 'hf', repo: 'bartowski/Qwen2.5-0.5B-Instruct-GGUF', tag: undefined, text: 'hf:bartowski/Qwen2.5-0.5B-Instruct-GGUF' });
  assert.equal(parseModelName('hf:unsloth/Qwen3-8B-GGUF:UD-Q4_K_XL'), { kind: 'hf', repo: 'unsloth/Qwen3-8B-GGUF', tag: 'UD-Q4_K_XL', text: 'hf:unsloth/Qwen3-8B-GGUF:UD-Q4_K_XL' });
  assert.equal(parseModelName('hf:user/repo/sub/dir/model-Q8_0.gguf'), { kind: 'hf', repo: 'user/repo', file: 'sub/dir/model-Q8_0.gguf', text: 'hf:user/repo/sub/dir/model-Q8_0.gguf' });
  assert.equal(parseModelName('ggml-org/gemma-3-1b-it-GGUF:q4_k_m'), { kind: 'hf', repo: 'ggml-org/gemma-3-1b-it-GGUF', tag: 'q4_k_m', text: 'ggml-org/gemma-3-1b-it-GGUF:q4_k_m' });
  assert.is(parseModelName('https://example.com/m.gguf')?.kind, 'url');
  // paths: a relative file, a folder/file without a quant, an absolute path
  for (const p of ['model.gguf', 'models/model.gguf', 'user/repo', '/abs/x.gguf', './a/b:c/d.gguf']) {
    assert.is(parseModelName(p), null, p);
    assert.not.ok(looksLikeModelName(p), p);
  }
  // a malformed hf: name is an error naming the problem, not a missing file
  for (const [bad, why] of [['hf:justone', /no repository/], ['hf:user/re po', /not a repository id/], ['hf:user/repo:Q4 K', /not a quant/],
    ['hf:user/repo/README.md', /not a \.gguf file/], ['hf:user/repo/../x.gguf', /not a \.gguf file|not a repository/], ['hf:-user/repo', /not a repository id/]] as const) {
    try {
      parseModelName(bad);
      assert.unreachable(bad);
    } catch (err) {
      assert.instance(err, DownloadError, bad);
      assert.match((err as Error).message, why, bad);
    }
  }
});

const files = (paths: string[]): RepoFile[] => paths.map((path) => ({ path }));
const pick = (listing: RepoFile[], sel: { file?: string; tag?: string }) => selectFiles(listing, 'u/r', sel).map((f) => f.path);

// the shape of a bartowski/unsloth repo: quants side by side, big ones split in folders, an mmproj, an imatrix
const REPO = files([
  'Model-IQ4_XS.gguf',
  'Model-Q4_K_M.gguf',
  'Model-Q4_K_S.gguf',
  'Model-Q8_0.gguf',
  'Model-f16/Model-f16-00001-of-00002.gguf',
  'Model-f16/Model-f16-00002-of-00002.gguf',
  'Model.imatrix',
  'README.md',
  'mmproj-Model-f16.gguf',
]);

test('quant choice: Q4_K_M by default, then Q8_0, then the first model file; case-insensitive; tag then [.-]', () => {
  assert.equal(pick(REPO, {}), ['Model-Q4_K_M.gguf']);
  assert.equal(pick(REPO, { tag: 'q8_0' }), ['Model-Q8_0.gguf']);
  assert.equal(pick(REPO, { tag: 'IQ4_XS' }), ['Model-IQ4_XS.gguf']);
  // "Q4_K" is not "Q4_K_M" or "Q4_K_S": the tag must end at '.' or '-'
  assert.throws(() => pick(REPO, { tag: 'Q4_K' }), (e: Error) => e instanceof DownloadError && /no GGUF model file for quant Q4_K \(available: Model-IQ4_XS.gguf/.test(e.message));
  // no Q4_K_M: Q8_0
  assert.equal(pick(files(['a-Q2_K.gguf', 'a-Q8_0.gguf', 'a-Q6_K.gguf']), {}), ['a-Q8_0.gguf']);
  // neither: the first model file in listing order, never the projector or a draft head
  assert.equal(pick(files(['mmproj-a-F16.gguf', 'mtp-a-Q6_K.gguf', 'a-Q6_K.gguf', 'a-Q2_K.gguf']), {}), ['a-Q6_K.gguf']);
  // an mmproj of the same quant listed first is skipped
  assert.equal(pick(files(['Tiny-mmproj-Q4_K_M.gguf', 'tiny-Q4_K_M.gguf']), {}), ['tiny-Q4_K_M.gguf']);
  // a dot after the tag matches too (model.Q4_K_M.gguf, TheBloke's style)
  assert.equal(pick(files(['llama-2-7b.Q4_0.gguf', 'llama-2-7b.Q4_K_M.gguf']), {}), ['llama-2-7b.Q4_K_M.gguf']);
});

test('split models: named by the first shard, every shard fetched in order; a missing shard is an error', () => {
  assert.equal(pick(REPO, { tag: 'F16' }), ['Model-f16/Model-f16-00001-of-00002.gguf', 'Model-f16/Model-f16-00002-of-00002.gguf']);
  // listed out of order, and a second shard named explicitly: the set from the first
  const shuffled = files(['b/x-Q8_0-00003-of-00003.gguf', 'b/x-Q8_0-00001-of-00003.gguf', 'b/x-Q8_0-00002-of-00003.gguf']);
  const three = ['b/x-Q8_0-00001-of-00003.gguf', 'b/x-Q8_0-00002-of-00003.gguf', 'b/x-Q8_0-00003-of-00003.gguf'];
  assert.equal(pick(shuffled, {}), three);
  assert.equal(pick(shuffled, { file: 'B/X-Q8_0-00002-OF-00003.GGUF' }), three);
  assert.throws(() => pick(files(['x-Q8_0-00001-of-00003.gguf', 'x-Q8_0-00003-of-00003.gguf']), {}), /shard 2 of 3/);
});

test('an explicit file is matched case-insensitively; a missing one lists what there is', () => {
  assert.equal(pick(REPO, { file: 'model-q8_0.GGUF' }), ['Model-Q8_0.gguf']);
  assert.throws(() => pick(REPO, { file: 'Model-Q5_K_M.gguf' }), /u\/r has no file Model-Q5_K_M\.gguf \(available: .*mmproj-Model-f16\.gguf\)/);
  assert.throws(() => pick(files(['README.md']), {}), /no GGUF model file \(it has no \.gguf files\)/);
});

test('environment: HF_ENDPOINT, HF_TOKEN (or its file), HF_HUB_OFFLINE and the cache folder as Hugging Face\'s tools read them', () => {
  const e = hubEnv({ HF_ENDPOINT: 'https://mirror.example/', HF_TOKEN: ' hf_abc ', XDG_CACHE_HOME: '/x/c' }, '/home/u');
  assert.is(e.endpoint, 'https://mirror.example');
  assert.is(e.token, 'hf_abc');
  assert.is(e.cacheDir, '/x/c/run-gguf/hub');
  assert.is(e.offline, false);
  const d = hubEnv({ HF_TOKEN_PATH: '/nonexistent/token', HF_HUB_OFFLINE: '1' }, '/home/u');
  assert.is(d.endpoint, 'https://huggingface.co');
  assert.is(d.token, undefined);
  assert.is(d.cacheDir, '/home/u/.cache/run-gguf/hub');
  assert.is(d.offline, true);
  // a relative XDG_CACHE_HOME is ignored (the XDG spec), and the synthetic models' folder stays apart
  assert.is(hubEnv({ XDG_CACHE_HOME: 'rel' }, '/h').cacheDir, '/h/.cache/run-gguf/hub');
  assert.is(hubEnv({ HF_TOKEN: 'hf_x', HF_HUB_DISABLE_IMPLICIT_TOKEN: '1' }, '/h').token, undefined);
});

test.run();
