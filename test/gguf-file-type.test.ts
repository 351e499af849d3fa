// general.file_type names as llama.cpp prints them, and llama.cpp's guess
// when the key is absent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileTypeOf, GGMLType, guessFileType, LlamaFileType, llamaFileTypeName, parseGGUF } from '../formats/index.js';
import { sharedDir } from './helpers/shared.js';

test('names follow llama_ftype_name', () => {
  assert.is(llamaFileTypeName(LlamaFileType.ALL_F32), 'all F32');
  assert.is(llamaFileTypeName(LlamaFileType.MOSTLY_F16), 'F16');
  assert.is(llamaFileTypeName(LlamaFileType.MOSTLY_Q4_0), 'Q4_0');
  assert.is(llamaFileTypeName(LlamaFileType.MOSTLY_Q8_0), 'Q8_0');
  assert.is(llamaFileTypeName(15), 'Q4_K - Medium');
  assert.is(llamaFileTypeName(14), 'Q4_K - Small');
  assert.is(llamaFileTypeName(21), 'Q2_K - Small');
  assert.is(llamaFileTypeName(27), 'IQ3_S mix - 3.66 bpw');
  assert.is(llamaFileTypeName(32), 'BF16');
  assert.is(llamaFileTypeName(38), 'MXFP4 MoE');
  assert.is(llamaFileTypeName(LlamaFileType.MOSTLY_F16 | LlamaFileType.GUESSED), '(guessed) F16');
  // removed ids and unknown ones
  assert.is(llamaFileTypeName(4), 'unknown, may not work');
  assert.is(llamaFileTypeName(34), 'unknown, may not work');
  assert.is(llamaFileTypeName(999), 'unknown, may not work');
});

test('the guess: most common tensor type, k-quants as M, ties to the alphabetically first tensor', () => {
  const t = (name: string, type: GGMLType) => ({ name, type });
  const mostlyQ4K = [t('a', GGMLType.Q4_K), t('b', GGMLType.Q4_K), t('c', GGMLType.F32), t('d', GGMLType.Q6_K)];
  assert.is(guessFileType(mostlyQ4K), LlamaFileType.MOSTLY_Q4_K_M | LlamaFileType.GUESSED);
  assert.is(guessFileType([t('x', GGMLType.Q8_0), t('y', GGMLType.F32), t('z', GGMLType.F32)]), LlamaFileType.ALL_F32 | LlamaFileType.GUESSED);
  // One each: std::map order puts "a" first, and a later type must be strictly more common.
  assert.is(guessFileType([t('b', GGMLType.F16), t('a', GGMLType.Q8_0)]), LlamaFileType.MOSTLY_Q8_0 | LlamaFileType.GUESSED);
  // Types llama.cpp has no file type for fall back to all F32.
  assert.is(guessFileType([t('a', GGMLType.I32)]), LlamaFileType.ALL_F32 | LlamaFileType.GUESSED);
});

test('shared files: stored, guessed, and unknown file types', () => {
  const models = sharedDir('models');
  const vocab = sharedDir('vocab');
  if (!models || !vocab) return;
  const read = (p: string) => parseGGUF(readFileSync(p));
  assert.equal(fileTypeOf(read(join(models, 'llama-2-tiny-random.gguf'))), { id: 1, name: 'F16', guessed: false });
  assert.equal(fileTypeOf(read(join(models, 'stories260K.gguf'))), { id: 0, name: '(guessed) all F32', guessed: true });
  assert.equal(fileTypeOf(read(join(vocab, 'ggml-vocab-gpt-neox.gguf'))), { id: null, name: 'unknown', guessed: false });
});

test.run();
