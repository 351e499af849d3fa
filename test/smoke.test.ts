import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, ggmlTypeInfo, rowSize } from '../formats/ggml-types.js';

test('type table: block sizes as ggml.h defines them', () => {
  assert.is(ggmlTypeInfo(GGMLType.Q4_0)?.typeSize, 18);
  assert.is(ggmlTypeInfo(GGMLType.Q6_K)?.typeSize, 210);
  assert.is(rowSize(GGMLType.Q8_K, 512), 584);
  assert.throws(() => rowSize(GGMLType.Q4_K, 100), /multiple of the block size/);
  assert.is(ggmlTypeInfo(4), undefined);
});

test.run();
