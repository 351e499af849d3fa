// run-gguf pull against a local server that answers as the Hugging Face hub
// does (test/helpers/fake-hub.ts): the listing, redirects to a CDN on another
// origin, ranges, checksums, split files, a dropped connection that must
// resume, an interrupted pull resumed by the next one, a corrupted body that
// must be rejected and not kept, a gated repository and its token.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { writeGGUF, writeSplitGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { DownloadError } from '../runtime/errors.js';
import { pullModel, type PullProgress } from '../runtime/hub/index.js';
import { downloadInto } from '../runtime/hub/download.js';
import { FolderStore } from '../runtime/hub/store-node.js';
import type { StoreWriter } from '../runtime/hub/store.js';
import { loadModel } from '../runtime/index.js';
import { DownloadError as ApiDownloadError, loadModel as loadHosted, type DownloadProgress } from '../runtime/api/index.js';
import { FakeHub, sha256, type HubFile } from './helpers/fake-hub.js';
import { REPO_ROOT, sharedDir } from './helpers/shared.js';

const CLI = join(REPO_ROOT, 'dist', 'runtime', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'run-gguf-hub-'));
const TOKEN = 'hf_' + 'x'.repeat(34);
const shape = LLAMA_SHAPES['test-tiny']!;
const models = sharedDir('models');
const STORIES = models ? join(models, 'stories260K.gguf') : null;

// the repository's files: a Q4_K model, a Q8_0 one split in three, a projector that must not be picked, a readme in git
const q4Path = join(tmp, 'src', 'tiny-Q4_K_M.gguf');
mkdirSync(join(tmp, 'src'));
await writeGGUF(q4Path, llamaModelSpec(shape, GGMLType.Q4_K, { seed: 11 }));
const splitPaths = await writeSplitGGUF(join(tmp, 'src', 'tiny-Q8_0'), llamaModelSpec(shape, GGMLType.Q8_0, { seed: 12 }), 3);
const q4 = readFileSync(q4Path);
const shards = splitPaths.map((p) => readFileSync(p));
const junk = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 255);

const tinyFiles = new Map<string, HubFile>([
  ['README.md', { bytes: new TextEncoder().encode('# tiny\n') }],
  ['Tiny-mmproj-Q4_K_M.gguf', { bytes: junk(5000, 1) }],
  ['tiny-Q4_K_M.gguf', { bytes: q4 }],
  ...shards.map((b, i) => [`Q8_0/tiny-Q8_0-0000${i + 1}-of-00003.gguf`, { bytes: b }] as [string, HubFile]),
]);
if (STORIES) tinyFiles.set('stories260K-F32.gguf', { bytes: readFileSync(STORIES) });
const hub = await new FakeHub(new Map([
  ['test/tiny-GGUF', { commit: 'a'.repeat(40), files: tinyFiles }],
  ['test/faults-GGUF', {
    commit: 'b'.repeat(40),
    files: new Map<string, HubFile>([
      ['drop-Q8_0.gguf', { bytes: junk(1_000_000, 6) }],
      ['slow-Q8_0.gguf', { bytes: junk(1_000_000, 7) }],
      ['hang-Q8_0.gguf', { bytes: junk(100_000, 8) }],
      ['corrupt-Q8_0.gguf', { bytes: junk(300_000, 2) }],
      ['git-Q8_0.gguf', { bytes: junk(2000, 3), lfs: false }],
      ['gitcorrupt-Q8_0.gguf', { bytes: junk(2000, 4), lfs: false }],
    ]),
  }],
  ['test/gated-GGUF', { commit: 'c'.repeat(40), files: new Map([['gated-Q8_0.gguf', { bytes: junk(10_000, 5) }]]) }],
])).start();
hub.gated.set('test/gated-GGUF', TOKEN);

const cache = join(tmp, 'xdg');
const env = { XDG_CACHE_HOME: cache, HF_ENDPOINT: hub.endpoint, HF_TOKEN: TOKEN, HOME: join(tmp, 'home') } as NodeJS.ProcessEnv;
const repoDir = (repo: string) => join(cache, 'run-gguf', 'hub', 'hf', ...repo.split('/'));
const fast = { env, retryDelayMs: 0 };

test('hf:user/repo: the default quant through the listing and a CDN redirect, the token to the hub only, verified, then cached', async () => {
  hub.log.length = 0;
  const seen: PullProgress[] = [];
  const pulled = await pullModel('hf:test/tiny-GGUF', { ...fast, onProgress: (p) => seen.push(p) });
  const dest = join(repoDir('test/tiny-GGUF'), 'tiny-Q4_K_M.gguf');
  assert.is(pulled.path, dest);
  assert.equal(pulled.files, [dest]);
  assert.is(pulled.commit, 'a'.repeat(40));
  assert.ok(readFileSync(dest).equals(q4), 'the bytes are the repository\'s');
  assert.is(pulled.downloadedBytes, q4.length);
  // the calls llama.cpp makes: refs, the tree at that commit (paged), resolve at that commit, then the CDN
  const hubPaths = hub.requests('hub').map((r) => r.path);
  assert.is(hubPaths[0], '/api/models/test/tiny-GGUF/refs');
  assert.ok(hubPaths[1]!.startsWith(`/api/models/test/tiny-GGUF/tree/${'a'.repeat(40)}?recursive=true`), hubPaths[1]);
  assert.ok(hubPaths.filter((p) => p.includes('/tree/')).length >= 2, 'the listing is followed over its pages');
  assert.ok(hubPaths.includes(`/test/tiny-GGUF/resolve/${'a'.repeat(40)}/tiny-Q4_K_M.gguf`), hubPaths.join(' '));
  assert.ok(hub.requests('hub').every((r) => r.authorization === `Bearer ${TOKEN}`), 'HF_TOKEN goes to the hub');
  assert.is(hub.requests('cdn').length, 1);
  assert.is(hub.requests('cdn')[0]!.authorization, undefined, 'and never to the CDN a redirect leads to');
  // progress: monotonic, ends at the total
  assert.ok(seen.length >= 2);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.downloadedBytes >= seen[i - 1]!.downloadedBytes);
  assert.equal(seen.at(-1), { file: 'tiny-Q4_K_M.gguf', fileIndex: 0, fileCount: 1, downloadedBytes: q4.length, totalBytes: q4.length });
  assert.not.ok(existsSync(dest + '.partial'));
  // again: the listing only, nothing fetched
  hub.log.length = 0;
  const again = await pullModel('test/tiny-GGUF:Q4_K_M', fast);
  assert.is(again.path, dest);
  assert.is(again.downloadedBytes, 0);
  assert.is(hub.requests('cdn').length, 0);
  assert.not.ok(hub.requests('hub').some((r) => r.path.includes('/resolve/')));
  // a cached file that no longer matches the hub's checksum is fetched again
  const damaged = readFileSync(dest);
  damaged[100] ^= 1;
  writeFileSync(dest, damaged);
  rmSync(dest + '.etag');
  const repaired = await pullModel('hf:test/tiny-GGUF', fast);
  assert.is(repaired.downloadedBytes, q4.length);
  assert.ok(readFileSync(dest).equals(q4));
});

test('a split quant brings every shard; loadModel(\'hf:...\') loads it with the bits of the local files', async () => {
  const pulled = await pullModel('hf:test/tiny-GGUF:q8_0', fast);
  assert.is(pulled.files.length, 3);
  pulled.files.forEach((f, i) => assert.ok(readFileSync(f).equals(shards[i]!), `shard ${i + 1}`));
  Object.assign(process.env, env);
  const downloads: PullProgress[] = [];
  const fromHub = await loadModel('hf:test/tiny-GGUF:Q8_0', { onDownload: (p) => downloads.push(p) });
  const local = await loadModel(splitPaths[0]!);
  try {
    assert.is(fromHub.path, pulled.path);
    const tokens = local.tokenize('Once upon a time');
    const a = fromHub.createContext({ contextSize: 64 }).evaluate(tokens);
    const b = local.createContext({ contextSize: 64 }).evaluate(tokens);
    assert.ok(a.length > 0 && a.every((v, i) => Object.is(v, b[i])), 'same logits, bit for bit');
  } finally {
    fromHub.dispose();
    local.dispose();
  }
  assert.ok(downloads.length > 0 && downloads.at(-1)!.fileCount === 3, 'onDownload reports the three shards');
});

test('the worker API: loadModel(\'hf:...\') downloads in the host worker with onDownload; a DownloadError keeps its class', async () => {
  Object.assign(process.env, env);
  rmSync(join(repoDir('test/tiny-GGUF'), 'tiny-Q4_K_M.gguf'));
  const seen: DownloadProgress[] = [];
  const model = await loadHosted('hf:test/tiny-GGUF', { threads: 1, onDownload: (p) => seen.push(p) });
  try {
    assert.is(model.info.architecture, 'llama');
    assert.is(model.info.layerCount, shape.n_layer);
  } finally {
    await model.dispose();
  }
  assert.ok(seen.length >= 1, 'onDownload was called');
  assert.equal(seen.at(-1), { file: 'tiny-Q4_K_M.gguf', fileIndex: 0, fileCount: 1, downloadedBytes: q4.length, totalBytes: q4.length });
  let err: unknown;
  await loadHosted('hf:test/none-GGUF', { threads: 1 }).catch((e: unknown) => (err = e));
  assert.instance(err, ApiDownloadError, String(err));
  assert.is((err as ApiDownloadError).status, 404);
});

test('a connection dropped mid-file resumes with a Range request where it stopped', async () => {
  hub.log.length = 0;
  hub.faults.drop.set('drop-Q8_0.gguf', { bytes: 200_000, times: 2 });
  const pulled = await pullModel('hf:test/faults-GGUF/drop-Q8_0.gguf', fast);
  assert.ok(readFileSync(pulled.path).equals(Buffer.from(junk(1_000_000, 6))));
  // whole, then resumed twice, each time where the bytes received so far end
  const ranges = hub.requests('cdn').map((r) => r.range);
  assert.is(ranges.length, 3, String(ranges));
  assert.is(ranges[0], undefined);
  const [a, b] = ranges.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r ?? '')?.[1]));
  assert.ok(a! > 0 && a! <= 200_000 && b! > a! && b! <= a! + 200_000, String(ranges));
});

test('a server that stops answering (no headers, or no more bytes) is dropped after the idle timeout and tried again', async () => {
  hub.log.length = 0;
  hub.faults.hang.set('hang-Q8_0.gguf', 1);
  hub.faults.slow.set('hang-Q8_0.gguf', 2000);
  const pulled = await pullModel('hf:test/faults-GGUF/hang-Q8_0.gguf', { ...fast, idleTimeoutMs: 300, attempts: 10 });
  assert.ok(readFileSync(pulled.path).equals(Buffer.from(junk(100_000, 8))));
  const ranges = hub.requests('cdn').map((r) => r.range);
  // no answer; then 16 KiB pieces 2 s apart: each attempt gets one piece and resumes after it
  assert.is(ranges[0], undefined);
  const starts = ranges.slice(2).map((r) => Number(/^bytes=(\d+)-$/.exec(r ?? '')?.[1]));
  assert.ok(ranges[1] === undefined && starts.length >= 2 && starts.every((n, i) => n > (i ? starts[i - 1]! : 0) && n <= 100_000), String(ranges));
  hub.faults.slow.delete('hang-Q8_0.gguf');
});

test('an interrupted pull leaves a .partial file that the next pull resumes', async () => {
  hub.faults.slow.set('slow-Q8_0.gguf', 20);
  const stop = new AbortController();
  let err: unknown;
  await pullModel('hf:test/faults-GGUF/slow-Q8_0.gguf', {
    ...fast, signal: stop.signal,
    onProgress: (p) => { if (p.downloadedBytes > 100_000) stop.abort(new Error('stopped by the test')); },
  }).catch((e: unknown) => (err = e));
  assert.match(String(err), /stopped by the test/);
  const partial = join(repoDir('test/faults-GGUF'), 'slow-Q8_0.gguf.partial');
  const kept = statSync(partial).size;
  assert.ok(kept > 100_000 && kept < 1_000_000, `kept ${kept} bytes`);
  hub.faults.slow.delete('slow-Q8_0.gguf');
  hub.log.length = 0;
  const pulled = await pullModel('hf:test/faults-GGUF/slow-Q8_0.gguf', fast);
  assert.equal(hub.requests('cdn').map((r) => r.range), [`bytes=${kept}-`]);
  assert.ok(readFileSync(pulled.path).equals(Buffer.from(junk(1_000_000, 7))), 'the resumed file is whole and verified');
  assert.not.ok(existsSync(partial));
});

test('a corrupted body is rejected and not kept (LFS sha256, git blob sha1, and a plain URL with X-Linked-Etag)', async () => {
  const dir = repoDir('test/faults-GGUF');
  hub.faults.corrupt.add('corrupt-Q8_0.gguf');
  hub.faults.corrupt.add('gitcorrupt-Q8_0.gguf');
  const reject = async (name: string, file: string, re: RegExp) => {
    let err: unknown;
    await pullModel(name, fast).catch((e: unknown) => (err = e));
    assert.instance(err, DownloadError, String(err));
    assert.match((err as Error).message, re);
    assert.not.ok(existsSync(file), `${file} not kept`);
    assert.not.ok(existsSync(file + '.partial'), `${file}.partial not kept`);
  };
  await reject('hf:test/faults-GGUF/corrupt-Q8_0.gguf', join(dir, 'corrupt-Q8_0.gguf'), /checksum mismatch: the body's sha256 is [0-9a-f]{64}, the server published [0-9a-f]{64}; the download was deleted/);
  await reject('hf:test/faults-GGUF/gitcorrupt-Q8_0.gguf', join(dir, 'gitcorrupt-Q8_0.gguf'), /checksum mismatch: the body's git sha1/);
  const url = `${hub.endpoint}/test/faults-GGUF/resolve/main/corrupt-Q8_0.gguf`;
  await reject(url, join(cache, 'run-gguf', 'hub', 'url', hub.endpoint.slice(7).replace(':', '_'), 'test', 'faults-GGUF', 'resolve', 'main', 'corrupt-Q8_0.gguf'), /checksum mismatch/);
  // the same files served intact pass
  hub.faults.corrupt.clear();
  const git = await pullModel('hf:test/faults-GGUF/git-Q8_0.gguf', fast);
  assert.ok(readFileSync(git.path).equals(Buffer.from(junk(2000, 3))), 'a git-stored file, checked by its blob sha1');
  const plain = await pullModel(url, fast);
  assert.is(sha256(readFileSync(plain.path)), sha256(junk(300_000, 2)));
});

test('one writer per .partial: a live process\'s lock is refused, a dead one\'s is taken over', async () => {
  const dest = join(repoDir('test/faults-GGUF'), 'git-Q8_0.gguf');
  rmSync(dest, { force: true });
  mkdirSync(repoDir('test/faults-GGUF'), { recursive: true });
  writeFileSync(`${dest}.partial.lock`, `${process.pid}\n`);
  let err: unknown;
  await pullModel('hf:test/faults-GGUF/git-Q8_0.gguf', fast).catch((e: unknown) => (err = e));
  assert.instance(err, DownloadError);
  assert.match((err as Error).message, new RegExp(`process ${process.pid} is already downloading it`));
  // a pid nobody has (above the kernel's pid_max)
  writeFileSync(`${dest}.partial.lock`, '4194399\n');
  const pulled = await pullModel('hf:test/faults-GGUF/git-Q8_0.gguf', fast);
  assert.ok(readFileSync(pulled.path).equals(Buffer.from(junk(2000, 3))));
  assert.not.ok(existsSync(`${dest}.partial.lock`), 'the lock is released');
});

test('a gated repository: 401 names HF_TOKEN; the token from the environment or the token file opens it', async () => {
  let err: unknown;
  await pullModel('hf:test/gated-GGUF', { ...fast, env: { ...env, HF_TOKEN: '' , HF_TOKEN_PATH: join(tmp, 'none') } }).catch((e: unknown) => (err = e));
  assert.instance(err, DownloadError);
  assert.is((err as DownloadError).status, 401);
  assert.match((err as Error).message, /HTTP 401.*needs HF_TOKEN.*Access to this repository is restricted/);
  writeFileSync(join(tmp, 'token'), `${TOKEN}\n`);
  const pulled = await pullModel('hf:test/gated-GGUF', { ...fast, env: { ...env, HF_TOKEN: '', HF_TOKEN_PATH: join(tmp, 'token') } });
  assert.ok(readFileSync(pulled.path).equals(Buffer.from(junk(10_000, 5))));
  // a repository or quant that does not exist
  await pullModel('hf:test/none-GGUF', fast).catch((e: unknown) => (err = e));
  assert.match(String(err), /HTTP 404.*no such repository/);
  await pullModel('hf:test/tiny-GGUF:Q2_K', fast).catch((e: unknown) => (err = e));
  assert.match(String(err), /test\/tiny-GGUF has no GGUF model file for quant Q2_K \(available: Q8_0\/tiny-Q8_0-00001-of-00003\.gguf/);
});

// the server lives in this process: the CLI runs asynchronously so it can answer
function run(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env, ...extra }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

test('the CLI: run-gguf pull prints the path; models lists the cache; commands take the name, offline from the cache too', async () => {
  const pulled = await run(['pull', 'test/tiny-GGUF:Q4_K_M']);
  assert.is(pulled.status, 0, pulled.stderr);
  assert.is(pulled.stdout.trim(), join(repoDir('test/tiny-GGUF'), 'tiny-Q4_K_M.gguf'));
  assert.match(pulled.stderr, /already in the cache/);
  const listed = await run(['models', '--json']);
  assert.is(listed.status, 0, listed.stderr);
  const paths = (JSON.parse(listed.stdout) as { path: string }[]).map((m) => m.path);
  assert.ok(paths.includes(join(repoDir('test/tiny-GGUF'), 'tiny-Q4_K_M.gguf')), paths.join('\n'));
  assert.ok(paths.includes(join(repoDir('test/tiny-GGUF'), 'Q8_0', 'tiny-Q8_0-00001-of-00003.gguf')));
  assert.not.ok(paths.some((p) => p.endsWith('-00002-of-00003.gguf')), 'a split model once');
  // offline (HF_HUB_OFFLINE, or an endpoint nobody answers): the cached file by the same rules
  for (const extra of [{ HF_HUB_OFFLINE: '1' }, { HF_ENDPOINT: 'http://127.0.0.1:9' }]) {
    const info = await run(['info', 'hf:test/tiny-GGUF:q8_0', '--json'], extra);
    assert.is(info.status, 0, info.stderr);
    assert.is(JSON.parse(info.stdout).metadata['split.count'], 3);
  }
  if (!STORIES) return;
  // a real model: the same completion from the name as from the file
  const a = await run(['complete', 'hf:test/tiny-GGUF/stories260K-F32.gguf', '-p', 'Once upon a time', '-n', '12', '--temp', '0']);
  const b = await run(['complete', STORIES, '-p', 'Once upon a time', '-n', '12', '--temp', '0']);
  assert.is(a.status, 0, a.stderr);
  assert.is(a.stdout, b.stdout);
  assert.ok(a.stdout.length > 20, a.stdout);
});

test('the API\'s cachedModels lists the cache folder (a split model once) and deleteCachedModel deletes by name', async () => {
  const { cachedModels, deleteCachedModel } = await import('../runtime/api/index.js');
  const listed = await cachedModels({ hubEnv: env });
  const split = listed.find((m) => m.name === 'hf:test/tiny-GGUF/Q8_0/tiny-Q8_0-00001-of-00003.gguf');
  assert.ok(split, listed.map((m) => m.name).join('\n'));
  assert.equal([split!.files.length, split!.size, split!.partial], [3, shards.reduce((n, b) => n + b.length, 0), false]);
  assert.is(split!.path, join(repoDir('test/tiny-GGUF'), 'Q8_0', 'tiny-Q8_0-00001-of-00003.gguf'));
  const deleted = await deleteCachedModel('hf:test/tiny-GGUF:Q8_0', { hubEnv: env });
  assert.is(deleted.filter((f) => f.endsWith('.gguf')).length, 3);
  assert.ok(deleted.every((f) => !existsSync(f)), 'gone from the disk');
  assert.not.ok((await cachedModels({ hubEnv: env })).some((m) => m.name === split!.name));
  assert.equal(await deleteCachedModel('hf:test/tiny-GGUF:Q8_0', { hubEnv: env }), [], 'nothing left to delete');
});

test('a store that refuses a write (a full disk, a used-up quota) fails at once with DownloadError, not as a dropped connection', async () => {
  class Full extends FolderStore {
    override async writer(key: string, append: boolean): Promise<StoreWriter> {
      const w = await super.writer(key, append);
      let n = 0;
      return {
        write: async (c) => {
          if ((n += c.length) > 100_000) throw new Error('QuotaExceededError: the quota is used up');
          await w.write(c);
        },
        close: () => w.close(),
      };
    }
  }
  const before = hub.log.length;
  const url = `${hub.endpoint}/test/faults-GGUF/resolve/${'b'.repeat(40)}/corrupt-Q8_0.gguf`;
  const err = await downloadInto(new Full(join(tmp, 'full')), url, 'x.gguf', { retryDelayMs: 0 }).catch((e: unknown) => e);
  assert.instance(err, DownloadError);
  assert.match((err as Error).message, /could not write .*x\.gguf\.partial.*quota/);
  assert.is(hub.log.slice(before).filter((r) => r.server === 'cdn').length, 1, 'not retried');
});

test.after(async () => {
  await hub.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test.run();
