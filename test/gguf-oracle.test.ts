// A random-weight Llama GGUF written by our writer and quantizers loads in
// llama.cpp (node-llama-cpp), which reads back the same metadata.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../formats/ggml-types.js';
import { readGGUF, writeGGUF } from '../formats/gguf/index.js';
import { LLAMA_SHAPES, llamaModelSpec } from '../formats/synthetic/llama.js';
import { Tokenizer } from '../runtime/tokenizer/index.js';
import { oracle } from './helpers/oracle.js';

const dir = mkdtempSync(join(tmpdir(), 'run-gguf-oracle-'));
const path = join(dir, 'llama-q4_k.gguf');

/** node-llama-cpp's metadata is nested ({llama: {block_count}}); ours is flat ("llama.block_count"). */
function lookupNested(meta: unknown, key: string): unknown {
  let cur: unknown = meta;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function normalize(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (typeof v === 'number') return Math.fround(v);
  if (Array.isArray(v)) return v.map(normalize);
  return v;
}

test('our random Q4_K llama loads in llama.cpp and its metadata reads back the same', async () => {
  await writeGGUF(path, llamaModelSpec(LLAMA_SHAPES['test-tiny']!, GGMLType.Q4_K, { seed: 11 }));
  const ours = await readGGUF(path);
  const llama = await (await oracle()).loadModel({ modelPath: path });
  try {
    let compared = 0;
    for (const [key, value] of ours.metadata) {
      const theirs = lookupNested(llama.fileInfo.metadata, key);
      assert.equal(normalize(theirs), normalize(value), `metadata ${key}`);
      compared++;
    }
    assert.ok(compared >= 20, `compared ${compared} keys`);
    // what llama.cpp itself made of the file
    const s = LLAMA_SHAPES['test-tiny']!;
    assert.is(llama.trainContextSize, s.n_ctx_train);
    assert.is(llama.embeddingVectorSize, s.n_embd);
    assert.is(llama.fileInfo.tensorInfo?.length, ours.tensors.length);
    const tok = Tokenizer.fromMetadata((k) => ours.metadata.get(k));
    for (const text of ['the quick brown fox', ' hello  world\n', 'ünïcödé 漢字 🙂']) {
      // node-llama-cpp's tokenize adds no BOS
      assert.equal(tok.tokenize(text, { addSpecial: false }), Array.from(llama.tokenize(text, false)), `tokens of ${JSON.stringify(text)}`);
    }
  } finally {
    await llama.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
