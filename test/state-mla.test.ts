// Saved state of an MLA model (deepseek2): its cache is one tensor (V inside
// K's rows), saved once; save, load in a new context, continue: same bits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureSyntheticModel, parseSyntheticSpec } from '../formats/synthetic/cache.js';
import { loadModel } from '../runtime/index.js';

test('deepseek2 (MLA): saveState / loadState continue with the same logits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'run-gguf-mla-state-'));
  try {
    const m = await ensureSyntheticModel(parseSyntheticSpec('test-deepseek2:F16'), { dir });
    const model = await loadModel(m.path);
    try {
      const toks = Array.from({ length: 20 }, (_, i) => 3 + ((i * 7) % 100));
      const a = model.createContext({ contextSize: 64, threads: 1 }).createSequence();
      a.evaluate(toks.slice(0, 15));
      const file = join(dir, 'mla.state');
      await a.saveState(file);
      const want = a.append(toks.slice(15));
      const b = model.createContext({ contextSize: 64, threads: 1 }).createSequence();
      await b.loadState(file);
      const got = b.append(toks.slice(15));
      assert.ok(want.length > 0 && want.every((x, i) => Object.is(x, got[i])), 'logits differ after loadState');
    } finally {
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
