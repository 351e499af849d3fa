// The browsers' incremental sha256 / sha1 (runtime/hub/sha.ts) against
// node:crypto, over lengths around the 64-byte block and padding edges, fed
// whole and in uneven pieces.
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSha1, createSha256 } from '../runtime/hub/sha.js';

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 197 + 13) & 255);

test('sha256 and sha1 equal node:crypto whole and in pieces', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 70_001]) {
    const b = bytes(n);
    for (const [make, alg] of [[createSha256, 'sha256'], [createSha1, 'sha1']] as const) {
      const want = createHash(alg).update(b).digest('hex');
      const whole = make();
      whole.update(b);
      assert.is(whole.digest(), want, `${alg} of ${n} bytes`);
      const pieces = make();
      for (let at = 0, step = 1; at < n; at += step, step = (step * 7 + 3) % 200 + 1) pieces.update(b.subarray(at, at + step));
      assert.is(pieces.digest(), want, `${alg} of ${n} bytes in pieces`);
    }
  }
});

test.run();
