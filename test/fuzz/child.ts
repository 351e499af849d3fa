// The fuzz campaign's worker process: builds the corpus, then runs the
// cases it is sent (corpus index + case seed) one at a time and reports each.
// A case that hangs, crashes the process or takes too much memory is seen
// and counted by the parent (campaign.ts), which starts a new worker.
import { runCase, buildCorpus, type CaseResult } from './case.js';
import { mutate } from './mutate.js';

// RUN_GGUF_FUZZ_INJECT="hang@3,crash@5": misbehave on those cases instead of
// running them, so a test can prove the campaign sees each kind of failure
const inject = new Map((process.env.RUN_GGUF_FUZZ_INJECT ?? '').split(',').filter(Boolean).map((x) => {
  const [what, at] = x.split('@');
  return [Number(at), what!] as const;
}));

function misbehave(what: string): CaseResult {
  if (what === 'hang') for (;;);
  if (what === 'crash') process.abort();
  if (what === 'memory') {
    const hold: Buffer[] = [];
    for (;;) hold.push(Buffer.alloc(64 * 1024 * 1024, 1));
  }
  return { outcome: 'untyped', stage: 'evaluate', error: 'TypeError', message: 'injected', ms: 0 };
}

const corpus = await buildCorpus();
process.send!({ type: 'ready', corpus: corpus.map((s) => s.name) });
process.on('message', async (m: { id: number; index: number; seed: number }) => {
  const seed = corpus[m.index]!;
  const mutated = mutate(seed, m.seed);
  // said first, so a case that never returns is still described
  process.send!({ type: 'start', id: m.id, level: mutated.level, what: mutated.what });
  const bad = inject.get(m.id);
  const r = bad ? misbehave(bad) : await runCase(mutated.bytes, `${seed.name}#${m.seed}`);
  process.send!({ type: 'done', id: m.id, level: mutated.level, what: mutated.what, result: r, rss: process.memoryUsage().rss });
});
